//! `scimsync dump`: the live organisation written as a directory YAML, so that adopting an
//! existing Slack organisation starts from an empty plan. Every account keeps its Slack `id`
//! (the first match key); bots and Slack-generated groups are left out, as the planner
//! leaves them alone.

pub mod seed;

use std::collections::HashMap;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use crate::model::{ADDRESS, Attribute, Kind, TABLE};
use crate::scim::live::{LiveState, LiveUser};

#[derive(Serialize)]
struct DumpFile<'a> {
    users: Vec<DumpUser<'a>>,
    groups: Vec<DumpGroup<'a>>,
}

/// One account, written attribute by attribute in [`TABLE`]'s order: keys, the text and date
/// attributes Slack holds, the manager (by email), guest status, and `active: false` for a
/// deactivated account.
struct DumpUser<'a> {
    user: &'a LiveUser,
    /// The manager's email, when the manager is a person of the dump.
    manager: Option<&'a str>,
}

impl Serialize for DumpUser<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let u = self.user;
        let mut map = s.serialize_map(None)?;
        for spec in TABLE {
            let name = spec.name;
            match spec.kind {
                Kind::Key => match spec.attribute {
                    Attribute::Id => map.serialize_entry(name, &u.id)?,
                    Attribute::UserName => map.serialize_entry(name, &u.user_name)?,
                    _ => map.serialize_entry(name, &u.email)?,
                },
                // The address's parts under one `address:`, where its first part is.
                Kind::Text(_) if spec.attribute.is_address() => {
                    let first = TABLE.iter().find(|s| s.attribute.is_address());
                    if first.is_some_and(|f| f.attribute == spec.attribute)
                        && Attribute::TEXT
                            .iter()
                            .any(|a| a.is_address() && u.text(*a).is_some())
                    {
                        map.serialize_entry(ADDRESS, &DumpAddress(u))?;
                    }
                }
                Kind::Text(_) | Kind::Date(_) => {
                    if let Some(value) = u.text(spec.attribute) {
                        map.serialize_entry(name, value)?;
                    }
                }
                Kind::Manager => {
                    if let Some(manager) = self.manager {
                        map.serialize_entry(name, manager)?;
                    }
                }
                Kind::Guest => {
                    if let Some(expiration) = u.guest {
                        let guest = DumpGuest {
                            expiration: expiration
                                .map(|e| e.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
                        };
                        map.serialize_entry(name, &guest)?;
                    }
                }
                Kind::Active => {
                    if !u.active {
                        map.serialize_entry(name, &false)?;
                    }
                }
                // Memberships are written with the groups.
                Kind::Groups => {}
            }
        }
        map.end()
    }
}

/// The parts of a user's address Slack holds, by their keys under `address:`.
struct DumpAddress<'a>(&'a LiveUser);

impl Serialize for DumpAddress<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for a in Attribute::TEXT {
            if let (Some(part), Some(value)) = (a.address_part(), self.0.text(a)) {
                map.serialize_entry(part, value)?;
            }
        }
        map.end()
    }
}

#[derive(Serialize)]
struct DumpGuest {
    #[serde(skip_serializing_if = "Option::is_none")]
    expiration: Option<String>,
}

#[derive(Serialize)]
struct DumpGroup<'a> {
    name: &'a str,
    members: Vec<&'a str>,
}

/// The live state as directory YAML.
pub fn dump(live: &LiveState) -> String {
    let by_id: HashMap<&str, &LiveUser> = live.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let mut users: Vec<&LiveUser> = live.users.iter().filter(|u| !u.is_bot).collect();
    users.sort_by_key(|u| u.email_key());
    let users = users
        .into_iter()
        .map(|u| DumpUser {
            user: u,
            manager: u
                .manager_id
                .as_deref()
                .and_then(|m| by_id.get(m))
                .filter(|m| !m.is_bot)
                .map(|m| m.email.as_str()),
        })
        .collect();
    let mut groups: Vec<_> = live.groups.iter().filter(|g| !g.auto_generated).collect();
    groups.sort_by_key(|g| g.name_key());
    let groups = groups
        .into_iter()
        .map(|g| DumpGroup {
            name: &g.name,
            members: g
                .members
                .iter()
                .filter_map(|m| by_id.get(m.as_str()))
                .filter(|u| u.active && !u.is_bot)
                .map(|u| u.email.as_str())
                .collect(),
        })
        .collect();
    let yaml = serde_yaml::to_string(&DumpFile { users, groups }).expect("YAML serialises");
    format!("# Written by `scimsync dump`: the live organisation as a directory.\n{yaml}")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::TextValues;

    /// Every attribute the table has reaches the dump in the table's order, and reads back.
    #[test]
    fn dumps_every_attribute_in_table_order_and_reads_back() {
        let mut texts = TextValues::default();
        for a in Attribute::TEXT {
            let value = match a.kind() {
                Kind::Date(_) => "2024-04-10".to_string(),
                _ => format!("{a} value"),
            };
            texts.set(a, Some(value));
        }
        let boss = LiveUser {
            id: "W1".into(),
            user_name: "boss".into(),
            active: true,
            email: "boss@x.io".into(),
            ..LiveUser::default()
        };
        let ada = LiveUser {
            id: "W2".into(),
            user_name: "ada".into(),
            active: false,
            email: "ada@x.io".into(),
            texts: texts.clone(),
            manager_id: Some("W1".into()),
            guest: Some(None),
            ..LiveUser::default()
        };
        let yaml = dump(&LiveState {
            users: vec![boss, ada],
            groups: vec![],
        });
        let keys: Vec<&str> = yaml
            .lines()
            .skip_while(|l| !l.starts_with("- id: W2"))
            .take_while(|l| !l.starts_with("- id: W1"))
            .filter_map(|l| l.trim_start_matches("- ").trim().split_once(':'))
            .map(|(k, _)| k)
            .collect();
        // Every attribute but groups (written with the groups), in the table's order.
        // The address's parts are written under `address:`, by their keys there.
        let mut expected: Vec<&str> = Vec::new();
        for s in TABLE.iter().filter(|s| s.kind != Kind::Groups) {
            match s.attribute.address_part() {
                Some(part) => {
                    if !expected.contains(&ADDRESS) {
                        expected.push(ADDRESS);
                    }
                    expected.push(part);
                }
                None => expected.push(s.name),
            }
        }
        assert_eq!(keys, expected, "{yaml}");

        let content = super::super::yaml::read(&Arc::from("live.yaml"), &yaml).unwrap();
        let read = &content.people[0];
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert_eq!(read.text(Attribute::Email), Some("ada@x.io"));
        assert_eq!(read.text(Attribute::Manager), Some("boss@x.io"));
        for (a, value) in texts.iter() {
            let got = read.values.iter().find(|v| v.0 == a).map(|v| v.1.display());
            assert_eq!(got.as_deref(), Some(value), "{a}");
        }
    }
}
