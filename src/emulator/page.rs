//! Users, groups and listing pages written straight as JSON bytes, with no tree of
//! `serde_json::Value`s in between: a 1000-user page is one pass over the stored records
//! into one buffer.
//!
//! The bytes are exactly those the emulator has always sent — the tree renderer's, whose
//! objects (a `BTreeMap` without serde_json's `preserve_order`) list their keys sorted — so
//! every object here writes its keys in byte order; the tests compare both renderings.
//!
//! The text attributes are the attribute table's: each is written at its slot, shown as its
//! row says Slack shows it ([`Shown`]), among the emulator's own keys — the order of each
//! object's keys is worked out once from the table ([`KEYS`]).

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::site::Site;
use super::store::{STORED, StoredAddress, StoredGroup, StoredGuest, StoredUser};
use crate::model::{Attribute, ScimSlot, Shown};
use crate::scim::Version;
use crate::scim::types::urn;

/// A user as Slack renders it (FACTS §2.9), with its groups.
pub struct UserJson<'a> {
    /// The user.
    pub user: &'a StoredUser,
    /// The dialect.
    pub version: Version,
    /// Where the emulator's resources live.
    pub site: &'a Site,
    /// The user's groups, as the request's view sees them.
    pub groups: Vec<&'a StoredGroup>,
}

/// A group as Slack renders it, each member with its display name (else userName).
pub struct GroupJson<'a, F: Fn(&str) -> &'a str> {
    /// The group.
    pub group: &'a StoredGroup,
    /// The dialect.
    pub version: Version,
    /// Where the emulator's resources live.
    pub site: &'a Site,
    /// A member's display name.
    pub display_of: F,
}

/// A listing page: its resources and paging numbers.
pub struct ListJson<'a, T> {
    /// The dialect.
    pub version: Version,
    /// The page's resources.
    pub resources: &'a [T],
    /// How many resources the whole listing has.
    pub total: usize,
    /// The 1-based index of the page's first resource.
    pub start_index: usize,
}

impl<T: Serialize> ListJson<'_, T> {
    /// The page as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024 + self.resources.len() * 1024);
        serde_json::to_writer(&mut out, self).expect("a page serialises");
        out
    }
}

impl<T: Serialize> Serialize for ListJson<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let schema = match self.version {
            Version::V1 => urn::CORE_V1,
            Version::V2 => urn::LIST_V2,
        };
        let mut o = s.serialize_map(Some(5))?;
        o.serialize_entry("Resources", self.resources)?;
        o.serialize_entry("itemsPerPage", &self.resources.len())?;
        o.serialize_entry("schemas", &[schema])?;
        o.serialize_entry("startIndex", &self.start_index)?;
        o.serialize_entry("totalResults", &self.total)?;
        o.end()
    }
}

#[derive(Serialize)]
struct Meta<'a> {
    created: &'a str,
    location: String,
}

#[derive(Serialize)]
struct Email<'a> {
    primary: bool,
    value: &'a str,
}

#[derive(Serialize)]
struct Photo<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: Cow<'a, str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Address<'a> {
    country: Option<&'a str>,
    locality: Option<&'a str>,
    postal_code: Option<&'a str>,
    region: Option<&'a str>,
    street_address: Option<&'a str>,
}

impl<'a> Address<'a> {
    fn of(a: Option<&'a StoredAddress>) -> Address<'a> {
        let field =
            |f: fn(&'a StoredAddress) -> &'a Option<String>| a.and_then(|a| f(a).as_deref());
        Address {
            country: field(|a| &a.country),
            locality: field(|a| &a.locality),
            postal_code: field(|a| &a.postal_code),
            region: field(|a| &a.region),
            street_address: field(|a| &a.street_address),
        }
    }
}

/// Slack's swap: mobilePhone labelled `mobile`, primaryPhone `primary: true`.
#[derive(Serialize)]
struct MobilePhone<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    value: Option<&'a str>,
}

#[derive(Serialize)]
struct PrimaryValue<'a> {
    primary: bool,
    value: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manager<'a> {
    manager_id: Option<&'a str>,
}

#[derive(Serialize)]
struct Guest<'a> {
    /// v1 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    channels: Option<[(); 0]>,
    expiration: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
struct Member<'a> {
    display: &'a str,
    value: &'a str,
}

/// A key of a user body, of one of its objects (`name`) or of one of its extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    /// A text attribute of the table, at its slot.
    Text(Attribute),
    Active,
    Addresses,
    Emails,
    ExternalId,
    Groups,
    Id,
    Meta,
    Name,
    NickName,
    PhoneNumbers,
    Photos,
    ProfileUrl,
    Roles,
    Schemas,
    Enterprise,
    Guest,
    Profile,
    UserName,
    /// `name.honorificPrefix`.
    HonorificPrefix,
    /// The enterprise extension's `manager`.
    Manager,
}

/// Where a key sits in a user body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    User,
    Name,
    Enterprise,
    Profile,
}

/// The keys of one object of a user body, in byte order (as the tree renderer's sorted maps
/// list them): the text attributes stored there by the table, and the emulator's own.
fn sorted_keys(object: Object) -> Vec<(&'static str, Key)> {
    let own: &[(&'static str, Key)] = match object {
        Object::User => &[
            ("active", Key::Active),
            ("addresses", Key::Addresses),
            ("emails", Key::Emails),
            ("externalId", Key::ExternalId),
            ("groups", Key::Groups),
            ("id", Key::Id),
            ("meta", Key::Meta),
            ("name", Key::Name),
            ("nickName", Key::NickName),
            ("phoneNumbers", Key::PhoneNumbers),
            ("photos", Key::Photos),
            ("profileUrl", Key::ProfileUrl),
            ("roles", Key::Roles),
            ("schemas", Key::Schemas),
            // The extensions sort enterprise, guest, profile, between `t…` and `userName`,
            // under either dialect's URN (a test renders both).
            (urn::ENTERPRISE_V2, Key::Enterprise),
            (urn::GUEST_V2, Key::Guest),
            (urn::PROFILE_V2, Key::Profile),
            ("userName", Key::UserName),
        ],
        Object::Name => &[("honorificPrefix", Key::HonorificPrefix)],
        Object::Enterprise => &[("manager", Key::Manager)],
        Object::Profile => &[],
    };
    let mut keys = own.to_vec();
    for a in STORED {
        let at = match a.slot() {
            Some(ScimSlot::Core(path)) => match path.split_once('.') {
                None => (Object::User, path),
                Some(("name", key)) => (Object::Name, key),
                Some(_) => panic!("{a}: Slack's only object under the core is `name`"),
            },
            Some(ScimSlot::Enterprise(key)) => (Object::Enterprise, key),
            Some(ScimSlot::Profile(key)) => (Object::Profile, key),
            Some(
                ScimSlot::PrimaryPhone
                | ScimSlot::MobilePhone
                | ScimSlot::SecondaryEmail
                | ScimSlot::Role
                | ScimSlot::Photo
                | ScimSlot::Address(_),
            )
            | None => continue,
        };
        if at.0 == object {
            keys.push((at.1, Key::Text(a)));
        }
    }
    keys.sort_unstable_by_key(|(key, _)| *key);
    keys
}

/// Each object's keys, sorted once.
static KEYS: LazyLock<[Vec<(&'static str, Key)>; 4]> = LazyLock::new(|| {
    [
        sorted_keys(Object::User),
        sorted_keys(Object::Name),
        sorted_keys(Object::Enterprise),
        sorted_keys(Object::Profile),
    ]
});

/// A text attribute the way Slack shows it ([`Shown`]): always (`""` when unset), on users
/// with custom-profile data (`null` when unset), or when set.
fn text_entry<M: SerializeMap>(
    o: &mut M,
    key: &str,
    u: &StoredUser,
    attribute: Attribute,
    full: bool,
) -> Result<(), M::Error> {
    let value = u.text(attribute);
    match attribute.scim().map(|s| s.shown) {
        Some(Shown::Always) => o.serialize_entry(key, value.unwrap_or_default()),
        Some(Shown::WithProfileData) if full => o.serialize_entry(key, &value),
        Some(Shown::WhenSet) if value.is_some() => o.serialize_entry(key, &value),
        _ => Ok(()),
    }
}

/// An object of a user body other than the user itself (`name`, the enterprise and profile
/// extensions): its text attributes and the emulator's own keys, in byte order.
struct Part<'a> {
    object: Object,
    user: &'a StoredUser,
    /// Whether the user has custom-profile data.
    full: bool,
}

impl Serialize for Part<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (u, full) = (self.user, self.full);
        let mut o = s.serialize_map(None)?;
        for (key, k) in &KEYS[self.object as usize] {
            match k {
                Key::Text(a) => text_entry(&mut o, key, u, *a, full)?,
                // Only users with custom-profile data have it, `null` when unset.
                Key::HonorificPrefix if full => o.serialize_entry(key, &u.honorific_prefix)?,
                Key::Manager => o.serialize_entry(
                    key,
                    &Manager {
                        manager_id: u.manager_id.as_deref(),
                    },
                )?,
                _ => {}
            }
        }
        o.end()
    }
}

/// Whether the user has a value in the profile extension (which is shown only then).
fn has_profile_extension(u: &StoredUser) -> bool {
    KEYS[Object::Profile as usize].iter().any(|(_, k)| match k {
        Key::Text(a) => u.text(*a).is_some(),
        _ => false,
    })
}

/// Only the extensions that apply (FACTS §2.9): enterprise for users with custom-profile
/// data (`full`), profile with a value in it (`profile`), guest for guests.
fn user_schemas(u: &StoredUser, version: Version, full: bool, profile: bool) -> Vec<&'static str> {
    let mut schemas = vec![version.user_urn()];
    if full {
        schemas.push(version.enterprise_urn());
    }
    if profile {
        schemas.push(version.profile_urn());
    }
    if u.guest.is_some() {
        schemas.push(version.guest_urn());
    }
    schemas
}

impl Serialize for UserJson<'_> {
    /// Keys in byte order. Users with custom-profile data (`full`) carry the whole key set
    /// with `null` placeholders, and an empty secondary email.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (u, version) = (self.user, self.version);
        let full = u.has_profile_data();
        let profile = has_profile_extension(u);
        let part = |object| Part {
            object,
            user: u,
            full,
        };
        let mut o = s.serialize_map(None)?;
        for (key, k) in &KEYS[Object::User as usize] {
            match k {
                Key::Text(a) => text_entry(&mut o, key, u, *a, full)?,
                Key::Active => o.serialize_entry(key, &u.active)?,
                Key::Addresses if full => {
                    o.serialize_entry(key, &[Address::of(u.address.as_ref())])?;
                }
                Key::Emails => o.serialize_entry(key, &emails(u, full))?,
                Key::ExternalId => o.serialize_entry(key, "")?,
                Key::Groups => {
                    let groups: Vec<Member<'_>> = self
                        .groups
                        .iter()
                        .map(|g| Member {
                            display: &g.display_name,
                            value: &g.id,
                        })
                        .collect();
                    o.serialize_entry(key, &groups)?;
                }
                Key::Id => o.serialize_entry(key, &u.id)?,
                Key::Meta => o.serialize_entry(
                    key,
                    &Meta {
                        created: &u.created,
                        location: self.site.location(version, "Users", &u.id),
                    },
                )?,
                Key::Name => o.serialize_entry(key, &part(Object::Name))?,
                Key::NickName | Key::UserName => o.serialize_entry(key, &u.user_name)?,
                Key::PhoneNumbers if full => o.serialize_entry(key, &phones(u))?,
                Key::Photos => o.serialize_entry(key, &[photo(u)])?,
                Key::ProfileUrl => o.serialize_entry(
                    key,
                    &self
                        .site
                        .profile_url(&u.user_name, u.profile_url.as_deref()),
                )?,
                Key::Roles if full => {
                    let role = PrimaryValue {
                        primary: true,
                        value: u.role_title.as_deref(),
                    };
                    o.serialize_entry(key, &[role])?;
                }
                Key::Schemas => {
                    o.serialize_entry(key, &user_schemas(u, version, full, profile))?;
                }
                Key::Enterprise if full => {
                    o.serialize_entry(version.enterprise_urn(), &part(Object::Enterprise))?;
                }
                Key::Guest => {
                    if let Some(g) = &u.guest {
                        o.serialize_entry(version.guest_urn(), &guest(g, version))?;
                    }
                }
                Key::Profile if profile => {
                    o.serialize_entry(version.profile_urn(), &part(Object::Profile))?;
                }
                _ => {}
            }
        }
        o.end()
    }
}

/// Slack's swap: the mobilePhone labelled `mobile`, then the primaryPhone `primary: true`.
fn phones(u: &StoredUser) -> (MobilePhone<'_>, PrimaryValue<'_>) {
    (
        MobilePhone {
            kind: "mobile",
            value: u.mobile_phone.as_deref(),
        },
        PrimaryValue {
            primary: true,
            value: u.primary_phone.as_deref(),
        },
    )
}

/// The one photo, else a gravatar URL.
fn photo(u: &StoredUser) -> Photo<'_> {
    let value = u.photo.as_deref().map_or_else(
        || Cow::Owned(format!("https://secure.gravatar.com/avatar/{}.jpg", u.id)),
        Cow::Borrowed,
    );
    Photo {
        kind: "photo",
        value,
    }
}

/// The primary email, then the secondary or, for `full` users, an empty placeholder.
fn emails(u: &StoredUser, full: bool) -> Vec<Email<'_>> {
    let mut emails = vec![Email {
        primary: true,
        value: &u.email,
    }];
    match &u.secondary_email {
        Some(s) => emails.push(Email {
            primary: false,
            value: s,
        }),
        None if full => emails.push(Email {
            primary: false,
            value: "",
        }),
        None => {}
    }
    emails
}

/// The guest extension (v1 adds `channels`).
fn guest(g: &StoredGuest, version: Version) -> Guest<'_> {
    Guest {
        channels: (version == Version::V1).then_some([]),
        expiration: g.expiration.as_deref(),
        kind: "multi",
    }
}

impl<'a, F: Fn(&str) -> &'a str> Serialize for GroupJson<'a, F> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = self.group;
        let members: Vec<Member<'_>> = g
            .members
            .iter()
            .map(|m| Member {
                display: (self.display_of)(m),
                value: m,
            })
            .collect();
        let mut o = s.serialize_map(Some(5))?;
        o.serialize_entry("displayName", &g.display_name)?;
        o.serialize_entry("id", &g.id)?;
        o.serialize_entry("members", &members)?;
        o.serialize_entry(
            "meta",
            &Meta {
                created: &g.created,
                location: self.site.location(self.version, "Groups", &g.id),
            },
        )?;
        o.serialize_entry("schemas", &[self.version.group_urn()])?;
        o.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::super::reads::View;
    use super::super::render;
    use super::super::site::Site;
    use super::super::store::{
        STORED, Snapshot, Store, StoredAddress, StoredGroup, StoredGuest, StoredUser,
    };
    use super::ListJson;
    use crate::model::Attribute as A;
    use crate::scim::Version;

    /// The tree renderer pages were made with before: the reference the writer must equal
    /// byte for byte.
    mod reference {
        use serde_json::{Map, Value, json};

        use super::super::super::site::Site;
        use super::super::super::store::{STORED, StoredGroup, StoredUser};
        use crate::model::{Scim, ScimSlot, Shown};
        use crate::scim::Version;

        fn text(v: Option<&str>) -> Value {
            v.map_or(Value::Null, |s| Value::String(s.into()))
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
            o.insert("schemas".into(), json!([version.user_urn()]));
            o.insert("id".into(), json!(u.id));
            o.insert("externalId".into(), json!(""));
            o.insert(
                "meta".into(),
                json!({"created": u.created, "location": site.location(version, "Users", &u.id)}),
            );
            o.insert("userName".into(), json!(u.user_name));
            o.insert("nickName".into(), json!(u.user_name));
            let mut name = Map::new();
            if full {
                name.insert(
                    "honorificPrefix".into(),
                    text(u.honorific_prefix.as_deref()),
                );
            }
            o.insert("name".into(), Value::Object(name));
            o.insert(
                "profileUrl".into(),
                json!(site.profile_url(&u.user_name, u.profile_url.as_deref())),
            );
            o.insert("active".into(), json!(u.active));
            insert_emails_and_photo(&mut o, u, full);
            if full {
                insert_profile_data(&mut o, u, version);
            }
            insert_texts(&mut o, u, version, full);
            if let Some(g) = &u.guest {
                let mut guest = Map::new();
                guest.insert("type".into(), json!("multi"));
                guest.insert("expiration".into(), text(g.expiration.as_deref()));
                if version == Version::V1 {
                    guest.insert("channels".into(), json!([]));
                }
                o.insert(version.guest_urn().into(), Value::Object(guest));
            }
            let groups: Vec<Value> = groups
                .map(|(id, name)| json!({"value": id, "display": name}))
                .collect();
            o.insert("groups".into(), Value::Array(groups));
            Value::Object(o)
        }

        /// Each text attribute the emulator stores, where its slot says and as its row says
        /// Slack shows it; then the `schemas` of the extensions that apply (FACTS §2.9):
        /// enterprise for users with custom-profile data, profile when it holds a value,
        /// guest for guests.
        fn insert_texts(o: &mut Map<String, Value>, u: &StoredUser, version: Version, full: bool) {
            for a in STORED {
                let Some(Scim { slot, shown, .. }) = a.scim() else {
                    continue;
                };
                let value = match (shown, u.text(a)) {
                    (Shown::Always, v) => json!(v.unwrap_or_default()),
                    (Shown::WithProfileData, v) if full => text(v),
                    (Shown::WhenSet, Some(v)) => json!(v),
                    _ => continue,
                };
                let (object, path) = match slot {
                    ScimSlot::Core(path) => (&mut *o, path),
                    ScimSlot::Enterprise(key) => (child(o, version.enterprise_urn()), key),
                    ScimSlot::Profile(key) => (child(o, version.profile_urn()), key),
                    ScimSlot::PrimaryPhone
                    | ScimSlot::MobilePhone
                    | ScimSlot::SecondaryEmail
                    | ScimSlot::Role
                    | ScimSlot::Photo
                    | ScimSlot::Address(_) => continue,
                };
                match path.split_once('.') {
                    Some((parent, key)) => child(object, parent).insert(key.into(), value),
                    None => object.insert(path.into(), value),
                };
            }
            let mut schemas = vec![json!(version.user_urn())];
            for (urn, applies) in [
                (version.enterprise_urn(), full),
                (version.profile_urn(), o.contains_key(version.profile_urn())),
                (version.guest_urn(), u.guest.is_some()),
            ] {
                if applies {
                    schemas.push(json!(urn));
                }
            }
            o.insert("schemas".into(), Value::Array(schemas));
        }

        /// The object at `key` of `o`, made empty if absent.
        fn child<'a>(o: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
            let Value::Object(object) = o.entry(key).or_insert_with(|| json!({})) else {
                panic!("{key} is an object");
            };
            object
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

        /// The keys only users with custom-profile data have, with `null` placeholders, but
        /// the text attributes'.
        fn insert_profile_data(o: &mut Map<String, Value>, u: &StoredUser, version: Version) {
            let a = u.address.clone().unwrap_or_default();
            o.insert(
                "addresses".into(),
                json!([{
                    "streetAddress": text(a.street_address.as_deref()),
                    "locality": text(a.locality.as_deref()),
                    "region": text(a.region.as_deref()),
                    "postalCode": text(a.postal_code.as_deref()),
                    "country": text(a.country.as_deref()),
                }]),
            );
            // Slack's swap: mobilePhone is labelled "mobile", primaryPhone "primary".
            o.insert(
                "phoneNumbers".into(),
                json!([
                    {"value": text(u.mobile_phone.as_deref()), "type": "mobile"},
                    {"value": text(u.primary_phone.as_deref()), "primary": true},
                ]),
            );
            o.insert(
                "roles".into(),
                json!([{"value": text(u.role_title.as_deref()), "primary": true}]),
            );
            o.insert(
                version.enterprise_urn().into(),
                json!({"manager": {"managerId": text(u.manager_id.as_deref())}}),
            );
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
    }

    fn organisation() -> Store {
        let plain = StoredUser::new("ada", "ada@example.com");
        let full = StoredUser {
            honorific_prefix: Some("Rear Admiral".into()),
            photo: Some("https://example.com/g.png".into()),
            address: Some(StoredAddress {
                locality: Some("Arlington".into()),
                country: Some("US".into()),
                ..StoredAddress::default()
            }),
            primary_phone: Some("555-0100".into()),
            role_title: Some("Admiral".into()),
            manager_id: Some("W1".into()),
            secondary_email: Some("grace@navy.example".into()),
            ..StoredUser::new("grace", "grace@example.com")
                .with(A::GivenName, "Grace")
                .with(A::FamilyName, "Hopper \"Amazing\" Grace")
                .with(A::DisplayName, "grace ✓")
                .with(A::Title, "Engineer")
                .with(A::Timezone, "America/New_York")
                .with(A::UserType, "Employee")
                .with(A::PreferredLanguage, "en")
                .with(A::Locale, "en-US")
                .with(A::EmployeeNumber, "E1")
                .with(A::Department, "Navy")
                .with(A::StartDate, "1943-12-01T00:00:00+0000")
        };
        let department_only = StoredUser::new("lin", "lin@example.com").with(A::Department, "R&D");
        // Every attribute the table has, as the emulator stores it.
        let every = STORED
            .iter()
            .fold(StoredUser::new("every", "every@example.com"), |u, a| {
                u.with(*a, format!("{a} value"))
            });
        let guest = StoredUser {
            guest: Some(StoredGuest {
                expiration: Some("2030-01-01T00:00:00Z".into()),
                ..StoredGuest::default()
            }),
            active: false,
            ..StoredUser::new("guest", "guest@partner.example")
        };
        let forever_guest = StoredUser {
            guest: Some(StoredGuest::default()),
            ..StoredUser::new("g2", "g2@partner.example").with(A::StartDate, "2020-01-01")
        };
        let groups = vec![
            StoredGroup {
                display_name: "engineering".into(),
                members: vec!["ada@example.com".into(), "grace@example.com".into()],
                ..StoredGroup::default()
            },
            StoredGroup {
                display_name: "empty".into(),
                ..StoredGroup::default()
            },
            StoredGroup {
                display_name: "r&d \"core\"".into(),
                members: vec!["lin".into(), "grace".into()],
                ..StoredGroup::default()
            },
        ];
        let users = vec![plain, full, department_only, guest, forever_guest, every];
        Store::from_snapshot(Snapshot { users, groups }, 'W', 1, "acme").unwrap()
    }

    /// Every user, group and page is written exactly as the tree renderer wrote it, in both
    /// dialects: plain users, users with custom-profile data (placeholders), guests with and
    /// without an expiration, start dates, secondary emails, photos, escapes.
    #[test]
    fn pages_are_the_tree_renderers_bytes() {
        let store = organisation();
        let site = Site {
            base_url: "http://127.0.0.1:4000".into(),
            workspace: "acme".into(),
        };
        let view = View::current(&store);
        let users: Vec<&StoredUser> = store.users().collect();
        let groups: Vec<&StoredGroup> = store.groups().collect();
        assert!(users.iter().any(|u| u.has_profile_data()));
        assert!(groups.iter().any(|g| !g.members.is_empty()));
        for version in [Version::V1, Version::V2] {
            let mut trees = Vec::new();
            for u in &users {
                let groups = store
                    .groups_of(&u.id)
                    .map(|g| (g.id.clone(), g.display_name.clone()));
                let tree = reference::user(u, version, &site, groups);
                let written = serde_json::to_vec(&view.user_json(version, &site, u)).unwrap();
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    serde_json::to_string(&tree).unwrap(),
                    "{version} {}",
                    u.user_name
                );
                trees.push(tree);
            }
            let page: Vec<_> = users
                .iter()
                .map(|u| view.user_json(version, &site, u))
                .collect();
            let written = ListJson {
                version,
                resources: &page,
                total: 7,
                start_index: 2,
            }
            .to_vec();
            let tree = render::list(version, trees, 7, 2);
            assert_eq!(
                written,
                serde_json::to_vec(&tree).unwrap(),
                "{version} page"
            );

            let mut trees = Vec::new();
            for g in &groups {
                let tree = reference::group(g, version, &site, |m| {
                    store
                        .user(m)
                        .map(|u| {
                            u.core_text("displayName")
                                .unwrap_or(&u.user_name)
                                .to_string()
                        })
                        .unwrap_or_default()
                });
                let written = serde_json::to_vec(&view.group_json(version, &site, g)).unwrap();
                assert_eq!(
                    written,
                    serde_json::to_vec(&tree).unwrap(),
                    "{version} group"
                );
                trees.push(tree);
            }
            let page: Vec<_> = groups
                .iter()
                .map(|g| view.group_json(version, &site, g))
                .collect();
            let written = ListJson {
                version,
                resources: &page,
                total: 3,
                start_index: 1,
            }
            .to_vec();
            assert_eq!(
                written,
                serde_json::to_vec(&render::list(version, trees, 3, 1)).unwrap()
            );
        }
        let empty: [Value; 0] = [];
        let written = ListJson {
            version: Version::V2,
            resources: &empty,
            total: 0,
            start_index: 1,
        }
        .to_vec();
        assert_eq!(
            written,
            serde_json::to_vec(&render::list(Version::V2, vec![], 0, 1)).unwrap()
        );
    }
}
