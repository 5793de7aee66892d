//! Stored users and groups → the JSON Slack sends, per dialect (FACTS §2.9, §3.1).
//!
//! Shape details are the point: placeholders (`null` phone entries, an empty secondary email)
//! appear only on users with custom-profile data; phones come back with Slack's type swap
//! (mobilePhone labelled `mobile`, primaryPhone labelled `primary: true`); `externalId` is
//! always `""`; `meta` has only `created` and `location`.

use serde_json::{Map, Value, json};

use super::store::{StoredGroup, StoredUser};
use crate::scim::Version;
use crate::scim::types::urn;

/// Where the emulator's resources live, for `meta.location` and `profileUrl`.
#[derive(Debug, Clone)]
pub struct Site {
    /// e.g. `http://127.0.0.1:4000`
    pub base_url: String,
    /// e.g. `acme` → `https://acme.slack.com/team/<user>`
    pub workspace: String,
}

impl Site {
    fn location(&self, version: Version, kind: &str, id: &str) -> String {
        format!("{}/scim/{version}/{kind}/{id}", self.base_url)
    }
}

fn text(v: &Option<String>) -> Value {
    v.as_deref()
        .map_or(Value::Null, |s| Value::String(s.into()))
}

fn text_or_empty(v: &Option<String>) -> Value {
    Value::String(v.clone().unwrap_or_default())
}

/// A user as Slack renders it, keys in Slack's order (FACTS §2.9). `groups` are the user's
/// groups as `(id, name)`.
pub fn user(
    u: &StoredUser,
    version: Version,
    site: &Site,
    groups: impl Iterator<Item = (String, String)>,
) -> Value {
    let full = u.has_profile_data();
    let mut o = Map::new();
    o.insert("schemas".into(), json!(user_schemas(u, version, full)));
    o.insert("id".into(), json!(u.id));
    o.insert("externalId".into(), json!(""));
    o.insert(
        "meta".into(),
        json!({"created": u.created, "location": site.location(version, "Users", &u.id)}),
    );
    o.insert("userName".into(), json!(u.user_name));
    o.insert("nickName".into(), json!(u.user_name));
    let mut name = Map::new();
    name.insert("givenName".into(), text_or_empty(&u.given_name));
    name.insert("familyName".into(), text_or_empty(&u.family_name));
    if full {
        name.insert("honorificPrefix".into(), text(&u.honorific_prefix));
    }
    o.insert("name".into(), Value::Object(name));
    o.insert("displayName".into(), text_or_empty(&u.display_name));
    o.insert(
        "profileUrl".into(),
        json!(format!(
            "https://{}.slack.com/team/{}",
            site.workspace, u.user_name
        )),
    );
    o.insert("title".into(), text_or_empty(&u.title));
    o.insert("timezone".into(), text_or_empty(&u.timezone));
    o.insert("active".into(), json!(u.active));
    insert_emails_and_photo(&mut o, u, full);
    if full {
        insert_profile_data(&mut o, u, version);
    }
    insert_extensions(&mut o, u, version);
    let groups: Vec<Value> = groups
        .map(|(id, name)| json!({"value": id, "display": name}))
        .collect();
    o.insert("groups".into(), Value::Array(groups));
    Value::Object(o)
}

/// Only the extensions that apply (FACTS §2.9): enterprise for users with custom-profile
/// data, profile with a start date, guest for guests.
fn user_schemas(u: &StoredUser, version: Version, full: bool) -> Vec<&'static str> {
    let mut schemas = vec![version.user_urn()];
    if full {
        schemas.push(version.enterprise_urn());
    }
    if u.start_date.is_some() {
        schemas.push(version.profile_urn());
    }
    if u.guest.is_some() {
        schemas.push(version.guest_urn());
    }
    schemas
}

/// `emails` (primary, then the secondary or, for `full` users, an empty placeholder) and
/// `photos` (a gravatar URL when none is set).
fn insert_emails_and_photo(o: &mut Map<String, Value>, u: &StoredUser, full: bool) {
    let mut emails = vec![json!({"value": u.email, "primary": true})];
    match &u.secondary_email {
        Some(s) => emails.push(json!({"value": s, "primary": false})),
        None if full => emails.push(json!({"value": "", "primary": false})),
        None => {}
    }
    o.insert("emails".into(), Value::Array(emails));
    let photo = u
        .photo
        .clone()
        .unwrap_or_else(|| format!("https://secure.gravatar.com/avatar/{}.jpg", u.id));
    o.insert("photos".into(), json!([{"value": photo, "type": "photo"}]));
}

/// The keys only users with custom-profile data have, with `null` placeholders.
fn insert_profile_data(o: &mut Map<String, Value>, u: &StoredUser, version: Version) {
    let a = u.address.clone().unwrap_or_default();
    o.insert(
        "addresses".into(),
        json!([{
            "streetAddress": text(&a.street_address),
            "locality": text(&a.locality),
            "region": text(&a.region),
            "postalCode": text(&a.postal_code),
            "country": text(&a.country),
        }]),
    );
    // Slack's swap: mobilePhone is labelled "mobile", primaryPhone "primary".
    o.insert(
        "phoneNumbers".into(),
        json!([
            {"value": text(&u.mobile_phone), "type": "mobile"},
            {"value": text(&u.primary_phone), "primary": true},
        ]),
    );
    o.insert("userType".into(), text(&u.user_type));
    o.insert(
        "roles".into(),
        json!([{"value": text(&u.role_title), "primary": true}]),
    );
    o.insert("preferredLanguage".into(), text(&u.preferred_language));
    o.insert("locale".into(), text(&u.locale));
    o.insert(
        version.enterprise_urn().into(),
        json!({
            "employeeNumber": text(&u.employee_number),
            "costCenter": text(&u.cost_center),
            "organization": text(&u.organization),
            "division": text(&u.division),
            "department": text(&u.department),
            "manager": {"managerId": text(&u.manager_id)},
        }),
    );
}

/// The profile extension (start date) and the guest extension (v1 adds `channels`).
fn insert_extensions(o: &mut Map<String, Value>, u: &StoredUser, version: Version) {
    if let Some(start) = &u.start_date {
        o.insert(version.profile_urn().into(), json!({"startDate": start}));
    }
    if let Some(g) = &u.guest {
        let mut guest = Map::new();
        guest.insert("type".into(), json!("multi"));
        guest.insert("expiration".into(), text(&g.expiration));
        if version == Version::V1 {
            guest.insert("channels".into(), json!([]));
        }
        o.insert(version.guest_urn().into(), Value::Object(guest));
    }
}

/// A group as Slack renders it. `display_of` names a member (Slack shows the display name,
/// falling back to the userName).
pub fn group(
    g: &StoredGroup,
    version: Version,
    site: &Site,
    display_of: impl Fn(&str) -> String,
) -> Value {
    let members: Vec<Value> = g
        .members
        .iter()
        .map(|m| json!({"value": m, "display": display_of(m)}))
        .collect();
    json!({
        "schemas": [version.group_urn()],
        "id": g.id,
        "displayName": g.display_name,
        "members": members,
        "meta": {"created": g.created, "location": site.location(version, "Groups", &g.id)},
    })
}

/// A page of a listing.
pub fn list(version: Version, resources: Vec<Value>, total: usize, start_index: usize) -> Value {
    let schema = match version {
        Version::V1 => urn::CORE_V1,
        Version::V2 => urn::LIST_V2,
    };
    let mut o = Map::new();
    o.insert("totalResults".into(), json!(total));
    o.insert("itemsPerPage".into(), json!(resources.len()));
    o.insert("startIndex".into(), json!(start_index));
    o.insert("schemas".into(), json!([schema]));
    o.insert("Resources".into(), Value::Array(resources));
    Value::Object(o)
}

/// `ServiceProviderConfigs`, in the v1 shape on both versions as Slack's v2 sample shows, and
/// as misleading as Slack's: filtering "unsupported" though it works.
pub fn service_provider_config(version: Version) -> Value {
    let mut v = json!({
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication Scheme using the OAuth Bearer Token Standard",
            "specUrl": "http://tools.ietf.org/html/rfc6750",
            "primary": true,
        }],
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
        "filter": {"supported": false, "maxResults": 0},
        "changePassword": {"supported": false},
        "sort": {"supported": false},
        "etag": {"supported": false},
        "xmlDataFormat": {"supported": false},
    });
    if version == Version::V2 {
        v["schemas"] = json!([urn::SPC_V2]);
    }
    v
}

/// The ids of Slack's v2 resource types.
const RESOURCE_TYPES: [&str; 2] = ["User", "Group"];

/// One v2 resource type, `User` or `Group` (FACTS §1.3); `None` for any other id.
pub fn resource_type(site: &Site, id: &str) -> Option<Value> {
    let ext = |schema: &str| json!({"schema": schema, "required": false});
    let (endpoint, description, schema, extensions) = match id {
        "User" => (
            "/Users",
            "User Account",
            urn::USER_V2,
            vec![
                ext(urn::ENTERPRISE_V2),
                ext(urn::GUEST_V2),
                ext(urn::DIRECTORY_V2),
                ext(urn::PROFILE_V2),
            ],
        ),
        "Group" => ("/Groups", "Group", urn::GROUP_V2, vec![]),
        _ => return None,
    };
    let location = format!("{}/scim/v2/ResourceTypes/{id}", site.base_url);
    Some(json!({
        "schemas": [urn::RESOURCE_TYPE_V2],
        "id": id, "name": id, "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": extensions,
        "meta": {"location": location, "resourceType": "ResourceType"},
    }))
}

/// v2 `ResourceTypes`: the list of both (FACTS §1.3).
pub fn resource_types(site: &Site) -> Value {
    let resources: Vec<Value> = RESOURCE_TYPES
        .iter()
        .filter_map(|id| resource_type(site, id))
        .collect();
    let total = resources.len();
    list(Version::V2, resources, total, 1)
}

/// `Schemas/Users` and `Schemas/Groups`: Slack's attribute metadata, descriptive only.
pub fn schema(version: Version, kind: &str) -> Option<Value> {
    let attr = |name: &str, ty: &str, multi: bool, required: bool, read_only: bool| {
        json!({"name": name, "type": ty, "multiValued": multi, "required": required,
               "readOnly": read_only, "caseExact": false})
    };
    let (id, name, attributes) = match kind {
        "Users" => (
            version.user_urn(),
            "User",
            vec![
                attr("id", "string", false, true, true),
                attr("userName", "string", false, true, false),
                attr("nickName", "string", false, false, false),
                attr("name", "complex", false, false, false),
                attr("displayName", "string", false, false, false),
                attr("profileUrl", "string", false, false, false),
                attr("title", "string", false, false, false),
                attr("timezone", "string", false, false, false),
                attr("active", "boolean", false, false, false),
                attr("emails", "complex", true, true, false),
                attr("photos", "complex", true, false, false),
                attr("addresses", "complex", true, false, false),
                attr("phoneNumbers", "complex", true, false, false),
                attr("userType", "string", false, false, false),
                attr("roles", "complex", true, false, false),
                attr("preferredLanguage", "string", false, false, false),
                attr("locale", "string", false, false, false),
                attr("groups", "complex", true, false, true),
                attr("password", "string", false, false, false),
            ],
        ),
        "Groups" => (
            version.group_urn(),
            "Group",
            vec![
                attr("id", "string", false, true, true),
                attr("displayName", "string", false, true, false),
                attr("members", "complex", true, false, false),
            ],
        ),
        _ => return None,
    };
    Some(json!({"id": id, "name": name, "description": name, "attributes": attributes}))
}
