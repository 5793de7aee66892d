//! Users, groups and listing pages written straight as JSON bytes, with no tree of
//! `serde_json::Value`s in between: a 1000-user page is one pass over the stored records
//! into one buffer.
//!
//! The bytes are exactly those the emulator has always sent — the tree renderer's, whose
//! objects (a `BTreeMap` without serde_json's `preserve_order`) list their keys sorted — so
//! every object here writes its keys in byte order; the tests compare both renderings.

use std::borrow::Cow;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

use super::render::Site;
use super::store::{StoredAddress, StoredGroup, StoredGuest, StoredUser};
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

fn or_empty(v: &Option<String>) -> &str {
    v.as_deref().unwrap_or_default()
}

#[derive(Serialize)]
struct Meta<'a> {
    created: &'a str,
    location: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Name<'a> {
    family_name: &'a str,
    given_name: &'a str,
    /// Only for users with custom-profile data, `null` when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    honorific_prefix: Option<Option<&'a str>>,
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
#[serde(rename_all = "camelCase")]
struct Enterprise<'a> {
    cost_center: Option<&'a str>,
    department: Option<&'a str>,
    division: Option<&'a str>,
    employee_number: Option<&'a str>,
    manager: Manager<'a>,
    organization: Option<&'a str>,
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
#[serde(rename_all = "camelCase")]
struct StartDate<'a> {
    start_date: &'a str,
}

#[derive(Serialize)]
struct Member<'a> {
    display: &'a str,
    value: &'a str,
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

impl Serialize for UserJson<'_> {
    /// Keys in byte order. Users with custom-profile data (`full`) carry the whole key set
    /// with `null` placeholders, and an empty secondary email.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (u, version) = (self.user, self.version);
        let full = u.has_profile_data();
        let mut o = s.serialize_map(None)?;
        o.serialize_entry("active", &u.active)?;
        if full {
            o.serialize_entry("addresses", &[Address::of(u.address.as_ref())])?;
        }
        o.serialize_entry("displayName", or_empty(&u.display_name))?;
        o.serialize_entry("emails", &emails(u, full))?;
        o.serialize_entry("externalId", "")?;
        let groups: Vec<Member<'_>> = self
            .groups
            .iter()
            .map(|g| Member {
                display: &g.display_name,
                value: &g.id,
            })
            .collect();
        o.serialize_entry("groups", &groups)?;
        o.serialize_entry("id", &u.id)?;
        if full {
            o.serialize_entry("locale", &u.locale)?;
        }
        o.serialize_entry(
            "meta",
            &Meta {
                created: &u.created,
                location: self.site.location(version, "Users", &u.id),
            },
        )?;
        o.serialize_entry(
            "name",
            &Name {
                family_name: or_empty(&u.family_name),
                given_name: or_empty(&u.given_name),
                honorific_prefix: full.then_some(u.honorific_prefix.as_deref()),
            },
        )?;
        o.serialize_entry("nickName", &u.user_name)?;
        if full {
            let phones = (
                MobilePhone {
                    kind: "mobile",
                    value: u.mobile_phone.as_deref(),
                },
                PrimaryValue {
                    primary: true,
                    value: u.primary_phone.as_deref(),
                },
            );
            o.serialize_entry("phoneNumbers", &phones)?;
        }
        let photo = u.photo.as_deref().map_or_else(
            || Cow::Owned(format!("https://secure.gravatar.com/avatar/{}.jpg", u.id)),
            Cow::Borrowed,
        );
        o.serialize_entry(
            "photos",
            &[Photo {
                kind: "photo",
                value: photo,
            }],
        )?;
        if full {
            o.serialize_entry("preferredLanguage", &u.preferred_language)?;
        }
        o.serialize_entry(
            "profileUrl",
            &format!(
                "https://{}.slack.com/team/{}",
                self.site.workspace, u.user_name
            ),
        )?;
        if full {
            let role = PrimaryValue {
                primary: true,
                value: u.role_title.as_deref(),
            };
            o.serialize_entry("roles", &[role])?;
        }
        o.serialize_entry("schemas", &user_schemas(u, version, full))?;
        o.serialize_entry("timezone", or_empty(&u.timezone))?;
        o.serialize_entry("title", or_empty(&u.title))?;
        // The three extension URNs sort enterprise, guest, profile in both dialects.
        if full {
            o.serialize_entry(version.enterprise_urn(), &enterprise(u))?;
        }
        if let Some(g) = &u.guest {
            o.serialize_entry(version.guest_urn(), &guest(g, version))?;
        }
        if let Some(start) = &u.start_date {
            o.serialize_entry(version.profile_urn(), &StartDate { start_date: start })?;
        }
        o.serialize_entry("userName", &u.user_name)?;
        if full {
            o.serialize_entry("userType", &u.user_type)?;
        }
        o.end()
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

fn enterprise(u: &StoredUser) -> Enterprise<'_> {
    Enterprise {
        cost_center: u.cost_center.as_deref(),
        department: u.department.as_deref(),
        division: u.division.as_deref(),
        employee_number: u.employee_number.as_deref(),
        manager: Manager {
            manager_id: u.manager_id.as_deref(),
        },
        organization: u.organization.as_deref(),
    }
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
    use super::super::render::{self, Site};
    use super::super::store::{
        Snapshot, Store, StoredAddress, StoredGroup, StoredGuest, StoredUser,
    };
    use super::ListJson;
    use crate::scim::Version;

    /// The tree renderer pages were made with before: the reference the writer must equal
    /// byte for byte.
    mod reference {
        use serde_json::{Map, Value, json};

        use super::super::super::render::Site;
        use super::super::super::store::{StoredGroup, StoredUser};
        use crate::scim::Version;

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
    }

    fn organisation() -> Store {
        let plain = StoredUser::new("ada", "ada@example.com");
        let full = StoredUser {
            given_name: Some("Grace".into()),
            family_name: Some("Hopper \"Amazing\" Grace".into()),
            honorific_prefix: Some("Rear Admiral".into()),
            display_name: Some("grace ✓".into()),
            title: Some("Engineer".into()),
            timezone: Some("America/New_York".into()),
            photo: Some("https://example.com/g.png".into()),
            address: Some(StoredAddress {
                locality: Some("Arlington".into()),
                country: Some("US".into()),
                ..StoredAddress::default()
            }),
            primary_phone: Some("555-0100".into()),
            user_type: Some("Employee".into()),
            role_title: Some("Admiral".into()),
            preferred_language: Some("en".into()),
            locale: Some("en-US".into()),
            employee_number: Some("E1".into()),
            department: Some("Navy".into()),
            manager_id: Some("W1".into()),
            start_date: Some("1943-12-01T00:00:00+0000".into()),
            secondary_email: Some("grace@navy.example".into()),
            ..StoredUser::new("grace", "grace@example.com")
        };
        let department_only = StoredUser {
            department: Some("R&D".into()),
            ..StoredUser::new("lin", "lin@example.com")
        };
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
            start_date: Some("2020-01-01".into()),
            ..StoredUser::new("g2", "g2@partner.example")
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
        let users = vec![plain, full, department_only, guest, forever_guest];
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
                            u.display_name
                                .clone()
                                .unwrap_or_else(|| u.user_name.clone())
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
