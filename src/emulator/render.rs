//! Stored users and groups → the JSON Slack sends, per dialect (FACTS §2.9, §3.1).
//!
//! Shape details are the point: placeholders (`null` phone entries, an empty secondary email)
//! appear only on users with custom-profile data; phones come back with Slack's type swap
//! (mobilePhone labelled `mobile`, primaryPhone labelled `primary: true`); `externalId` is
//! always `""`; `meta` has only `created` and `location`. Users and groups are written by
//! [`super::page`] (straight to bytes for listing pages); this module gives them as JSON
//! trees for single resources, and renders the service's own documents.

use serde_json::{Map, Value, json};

use super::page::{GroupJson, UserJson};
use super::site::Site;
use crate::scim::Version;
use crate::scim::types::urn;

/// A user as Slack renders it (FACTS §2.9), as a JSON tree (for one resource; pages are
/// written straight to bytes by [`super::page`]).
pub fn user(json: &UserJson<'_>) -> Value {
    serde_json::to_value(json).expect("a user serialises")
}

/// A group as Slack renders it, as a JSON tree.
pub fn group<'a>(json: &GroupJson<'a, impl Fn(&str) -> &'a str>) -> Value {
    serde_json::to_value(json).expect("a group serialises")
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
