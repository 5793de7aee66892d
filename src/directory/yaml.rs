//! The YAML directory format: `users:` and `groups:`.
//!
//! ```yaml
//! users:
//!   - email: ada@example.com
//!     given_name: Ada
//!     family_name: Lovelace
//!     manager: grace@example.com
//!     groups: [engineering]
//!   - email: bob@example.com
//!     active: false            # a leaver: deactivated, never deleted
//! groups:
//!   - name: engineering
//!     members: [grace@example.com]
//! ```
//!
//! Every field is optional to serde (so each bad field is reported at its own line); the
//! validator then checks what is required.

use std::borrow::Cow;
use std::sync::Arc;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use crate::diag::yaml::{Step, YamlDocument, next_named_key};
use crate::diag::{Problem, SourceLocation};
use crate::model::{ADDRESS, Kind, TABLE};

use super::issue::{DirectoryIssue, DirectoryProblem};
use super::record::{
    AttrValue, GroupRecord, PersonRecord, SourceContent, parse_date, parse_expiration,
};
use super::{Attribute, Guest};

/// A scimsync directory: the people and groups Slack should have.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "scimsync directory")]
pub struct RawDirectoryFile {
    /// People. A person missing from every source is unmanaged (see `unmanaged_users`).
    pub users: Option<Vec<RawUser>>,
    /// Groups and their members (by email). Users' own `groups` lists add to these.
    pub groups: Option<Vec<RawGroup>>,
}

/// The top level only, items left for [`RawUser`] and [`RawGroup`] one by one.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Shape {
    users: Option<Vec<serde_yaml::Value>>,
    groups: Option<Vec<serde_yaml::Value>>,
}

/// One person: attributes by name, as [`TABLE`] lists them. The value's type follows the
/// attribute's kind: text for keys, text, dates and the manager; a [`RawGuest`] for `guest`;
/// a boolean for `active`; a list of names for `groups`. `null` is the same as absent.
#[derive(Debug, Default)]
pub struct RawUser {
    /// The attributes given, in [`TABLE`]'s order.
    pub values: Vec<(Attribute, RawValue)>,
}

/// One attribute's value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawValue {
    /// A key, text, date or manager attribute.
    Text(String),
    /// The guest settings.
    Guest(RawGuest),
    /// `active`.
    Bool(bool),
    /// `active` written with no value: an error of the person, never "active".
    BlankFlag,
    /// Group names.
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for RawUser {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = RawUser;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("struct RawUser")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<RawUser, M::Error> {
                let mut values = Vec::new();
                let mut address_seen = false;
                while let Some(key) = next_named_key(&mut map, &Attribute::DIRECTORY_KEYS, |k| {
                    if k == ADDRESS {
                        Some(None)
                    } else {
                        Attribute::from_name(k)
                            .filter(|a| !a.is_address())
                            .map(Some)
                    }
                })? {
                    let Some(attribute) = key else {
                        if std::mem::replace(&mut address_seen, true) {
                            return Err(de::Error::duplicate_field(ADDRESS));
                        }
                        let address = map.next_value::<Option<RawAddress>>()?.unwrap_or_default();
                        values.extend(address.parts());
                        continue;
                    };
                    if values.iter().any(|(a, _)| *a == attribute) {
                        return Err(de::Error::duplicate_field(attribute.name()));
                    }
                    let value = match attribute.kind() {
                        Kind::Guest => map.next_value::<Option<RawGuest>>()?.map(RawValue::Guest),
                        Kind::Active => Some(
                            map.next_value::<Option<bool>>()?
                                .map_or(RawValue::BlankFlag, RawValue::Bool),
                        ),
                        Kind::Groups => {
                            map.next_value::<Option<Vec<String>>>()?.map(RawValue::List)
                        }
                        // `title:` (null) is written blank, like `title: ""`.
                        Kind::Key | Kind::Text(_) | Kind::Date(_) | Kind::Manager => Some(
                            RawValue::Text(map.next_value::<Option<String>>()?.unwrap_or_default()),
                        ),
                    };
                    values.extend(value.map(|v| (attribute, v)));
                }
                values.sort_by_key(|(a, _)| *a as usize);
                Ok(RawUser { values })
            }
        }
        d.deserialize_struct("RawUser", &Attribute::DIRECTORY_KEYS, Fields)
    }
}

impl JsonSchema for RawUser {
    fn schema_name() -> Cow<'static, str> {
        "RawUser".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = serde_json::Map::new();
        for spec in TABLE {
            if spec.attribute.is_address() {
                if !properties.contains_key(ADDRESS) {
                    let schema = generator.subschema_for::<Option<RawAddress>>();
                    properties.insert(ADDRESS.into(), schema.into());
                }
                continue;
            }
            let mut schema = match spec.kind {
                Kind::Guest => generator.subschema_for::<Option<RawGuest>>(),
                Kind::Active => generator.subschema_for::<Option<bool>>(),
                Kind::Groups => generator.subschema_for::<Option<Vec<String>>>(),
                _ if spec.attribute == Attribute::Email => generator.subschema_for::<String>(),
                _ => generator.subschema_for::<Option<String>>(),
            };
            schema.insert("description".into(), spec.doc.into());
            properties.insert(spec.name.into(), schema.into());
        }
        json_schema!({
            "description": "One person.",
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
            "required": [Attribute::Email.name()],
        })
    }
}

/// The one address Slack keeps (FACTS §2.3): its parts, each optional, blank rules as any
/// text. Its keys are the address parts' names after `address.` ([`Attribute::address_part`]).
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAddress {
    /// Street and number (`address.street` in plans and the attribute policy).
    pub street: Option<String>,
    /// City (Slack's City field).
    pub locality: Option<String>,
    /// State or province.
    pub region: Option<String>,
    /// Postal or ZIP code (Slack's Zip Code field).
    pub postal_code: Option<String>,
    /// Country.
    pub country: Option<String>,
}

impl RawAddress {
    /// The parts given, as the attributes they are (a part absent or `null` is not given).
    fn parts(self) -> impl Iterator<Item = (Attribute, RawValue)> {
        [
            (Attribute::AddressStreet, self.street),
            (Attribute::AddressLocality, self.locality),
            (Attribute::AddressRegion, self.region),
            (Attribute::AddressPostalCode, self.postal_code),
            (Attribute::AddressCountry, self.country),
        ]
        .into_iter()
        .filter_map(|(a, v)| Some((a, RawValue::Text(v?))))
    }
}

/// Multi-channel guest settings.
#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGuest {
    /// When the guest account expires: YYYY-MM-DD (end of day, UTC) or an RFC 3339 time.
    pub expiration: Option<String>,
}

/// One group.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroup {
    /// The group's display name in Slack.
    #[schemars(required)]
    pub name: Option<String>,
    /// Members' emails.
    pub members: Option<Vec<String>>,
}

/// What the top level of a YAML file holds, in words, when it is not a mapping.
fn not_a_mapping(value: &serde_yaml::Value) -> Option<&'static str> {
    use serde_yaml::Value;
    match value {
        Value::Mapping(_) => None,
        Value::Null => Some("nothing"),
        Value::Bool(_) => Some("true or false"),
        Value::Number(_) => Some("a number"),
        Value::String(_) => Some("text"),
        Value::Sequence(_) => Some("a list"),
        Value::Tagged(_) => Some("a tagged value"),
    }
}

/// Reads a YAML directory. Any problem with the file's syntax or shape fails it whole;
/// problems with one person's values stay with that person's record.
///
/// Until the top level has read as a directory (YAML, a mapping of `users:` and `groups:`)
/// the problems are [`DirectoryIssue::NotADirectory`], which quote nothing of the file but a
/// key: the file may be anything a config can name.
pub(crate) fn read(file: &Arc<str>, text: &str) -> Result<SourceContent, Vec<DirectoryProblem>> {
    let not_a_directory = |location, message| {
        vec![Problem::error(
            location,
            DirectoryIssue::NotADirectory { message },
        )]
    };
    let doc =
        YamlDocument::parse(file, text).map_err(|e| not_a_directory(e.location, e.message))?;
    if doc.value.is_null() {
        return Err(vec![Problem::error(
            SourceLocation::file(file),
            DirectoryIssue::Empty,
        )]);
    }
    if let Some(holds) = not_a_mapping(&doc.value) {
        return Err(not_a_directory(
            doc.location(&[]),
            format!(
                "the file holds {holds}, not a directory (a mapping of `users:` and `groups:`)"
            ),
        ));
    }
    let shape: Shape = doc.decode(&[]).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| {
                Problem::error(
                    e.location,
                    DirectoryIssue::NotADirectory { message: e.message },
                )
            })
            .collect::<Vec<_>>()
    })?;
    let mut problems = Vec::new();
    let mut content = SourceContent::default();
    for i in 0..shape.users.as_ref().map_or(0, Vec::len) {
        let path = [Step::Key("users"), Step::Index(i)];
        match doc.decode::<RawUser>(&path) {
            Ok(raw) => content.people.push(person(&doc, &path, raw)),
            Err(errors) => {
                problems.extend(errors.into_iter().map(|e| {
                    Problem::error(e.location, DirectoryIssue::Yaml { message: e.message })
                }))
            }
        }
    }
    for i in 0..shape.groups.as_ref().map_or(0, Vec::len) {
        let path = [Step::Key("groups"), Step::Index(i)];
        match doc.decode::<RawGroup>(&path) {
            Ok(raw) => content.groups.push(group(&doc, &path, raw)),
            Err(errors) => {
                problems.extend(errors.into_iter().map(|e| {
                    Problem::error(e.location, DirectoryIssue::Yaml { message: e.message })
                }))
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    content.rows = content.people.len();
    if content.people.is_empty() && content.groups.is_empty() {
        content.warnings.push(Problem::warning(
            SourceLocation::file(file),
            DirectoryIssue::NoRows,
        ));
    }
    Ok(content)
}

fn person(doc: &YamlDocument, path: &[Step<'_>; 2], raw: RawUser) -> PersonRecord<'static> {
    let at = |key: &str| doc.location(&[path[0], path[1], Step::Key(key)]);
    let mut record = PersonRecord::new(doc.location(path));
    for (attribute, value) in raw.values {
        let location = match attribute.address_part() {
            Some(part) => doc.location(&[path[0], path[1], Step::Key(ADDRESS), Step::Key(part)]),
            None => at(attribute.name()),
        };
        match (attribute.kind(), value) {
            (Kind::Date(_), RawValue::Text(text)) => match parse_date(&text) {
                Some(date) => record
                    .values
                    .push((attribute, AttrValue::Date(date), location)),
                None if text.trim().is_empty() => {
                    record.values.push((attribute, AttrValue::Blank, location));
                }
                None => record.problems.push(Problem::error(
                    location,
                    DirectoryIssue::InvalidValue {
                        attribute,
                        value: text,
                        expected: "a date like 2024-04-10",
                    },
                )),
            },
            (_, RawValue::Text(text)) => text_value(&mut record, attribute, &text, location),
            (_, RawValue::Guest(guest)) => {
                let expiration_at = || {
                    doc.location(&[
                        path[0],
                        path[1],
                        Step::Key(attribute.name()),
                        Step::Key("expiration"),
                    ])
                };
                guest_value(&mut record, guest, location, expiration_at);
            }
            (_, RawValue::Bool(flag)) => {
                record
                    .values
                    .push((attribute, AttrValue::Bool(flag), location))
            }
            (_, RawValue::BlankFlag) => record.problems.push(Problem::error(
                location,
                DirectoryIssue::BlankFlag { attribute },
            )),
            (_, RawValue::List(names)) => {
                for (j, name) in names.into_iter().enumerate() {
                    let location = doc.location(&[
                        path[0],
                        path[1],
                        Step::Key(attribute.name()),
                        Step::Index(j),
                    ]);
                    let name = name.trim();
                    if name.is_empty() {
                        record
                            .problems
                            .push(Problem::error(location, DirectoryIssue::BlankGroupName));
                    } else {
                        record.groups.push((name.to_string().into(), location));
                    }
                }
            }
        }
    }
    record
}

/// A key, text or manager value: trimmed. A blank one is no value (as an empty CSV cell is):
/// Slack's is kept, or cleared under the attribute's `blank: clear`; except that a blank
/// email stays text, so that the validator reports it where it is written.
fn text_value(
    record: &mut PersonRecord<'_>,
    attribute: Attribute,
    text: &str,
    location: SourceLocation,
) {
    let value = text.trim();
    let value = if value.is_empty() && attribute != Attribute::Email {
        AttrValue::Blank
    } else {
        AttrValue::Text(value.to_string().into())
    };
    record.values.push((attribute, value, location));
}

/// The guest settings: a guest without an expiry, or until a parsed one.
fn guest_value(
    record: &mut PersonRecord<'_>,
    guest: RawGuest,
    location: SourceLocation,
    expiration_at: impl Fn() -> SourceLocation,
) {
    let expiration = match guest.expiration.as_deref().map(str::trim) {
        None | Some("") => Some(None),
        Some(text) => parse_expiration(text).map(Some),
    };
    match expiration {
        Some(expiration) => record.values.push((
            Attribute::Guest,
            AttrValue::Guest(Guest { expiration }),
            location,
        )),
        None => record.problems.push(Problem::error(
            expiration_at(),
            DirectoryIssue::InvalidValue {
                attribute: Attribute::Guest,
                value: guest.expiration.unwrap_or_default(),
                expected: "a date like 2025-06-30 or an RFC 3339 time",
            },
        )),
    }
}

fn group(doc: &YamlDocument, path: &[Step<'_>; 2], raw: RawGroup) -> GroupRecord {
    let members = raw
        .members
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(j, email)| {
            let at = doc.location(&[path[0], path[1], Step::Key("members"), Step::Index(j)]);
            (email.trim().to_string(), at)
        })
        .collect();
    let name = raw.name.unwrap_or_default().trim().to_string();
    let location = if name.is_empty() {
        doc.location(path)
    } else {
        doc.location(&[path[0], path[1], Step::Key("name")])
    };
    GroupRecord {
        name,
        location,
        members,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str) -> Result<SourceContent, Vec<String>> {
        read(&Arc::from("d.yaml"), text).map_err(|ps| ps.iter().map(|p| p.to_string()).collect())
    }

    #[test]
    fn reads_people_and_groups_with_locations() {
        let content = read_str(
            "users:\n  - email: ada@example.com\n    given_name: Ada\n    start_date: 2024-04-10\n    guest: {expiration: 2030-01-01}\n    active: false\n    groups: [eng]\ngroups:\n  - name: eng\n    members: [bob@example.com]\n",
        )
        .unwrap();
        let ada = &content.people[0];
        assert_eq!(ada.location.to_string(), "d.yaml:2:5");
        assert_eq!(ada.text(Attribute::Email), Some("ada@example.com"));
        let given = ada
            .values
            .iter()
            .find(|v| v.0 == Attribute::GivenName)
            .unwrap();
        assert_eq!(given.2.to_string(), "d.yaml:3:17");
        assert!(ada.values.iter().any(|v| v.1 == AttrValue::Bool(false)));
        assert_eq!(ada.groups[0].0, "eng");
        assert_eq!(ada.groups[0].1.to_string(), "d.yaml:7:14");
        let eng = &content.groups[0];
        assert_eq!(eng.location.to_string(), "d.yaml:9:11");
        assert_eq!(eng.members[0].1.to_string(), "d.yaml:10:15");
    }

    #[test]
    fn every_bad_field_is_reported() {
        let errors = read_str(
            "users:\n  - email: a@x.io\n    emial: b@x.io\n  - email: c@x.io\n    active: maybe\n",
        )
        .unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:#?}");
        assert!(errors[0].starts_with("d.yaml:3:5: error: emial: unknown field `emial`"));
        assert!(errors[1].starts_with("d.yaml:5:13: error: active: invalid type"));
    }

    /// Attributes are read by name through the table; each value's type follows its kind,
    /// and every problem is reported at once, where it is written.
    #[test]
    fn attributes_are_read_by_name_with_typed_values() {
        let errors = read_str(
            "users:\n  - email: a@x.io\n    nick: A\n    employee_number: 42\n    guest: yes\n    groups: eng\n    active: ~\n  - email: b@x.io\n    guest: {expires: 2030-01-01}\n",
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                format!(
                    "d.yaml:3:5: error: nick: unknown field `nick`, expected one of {} names: did you mean `nickname`? (`scimsync schema directory` and `scimsync schema config` list them all)",
                    Attribute::DIRECTORY_KEYS.len()
                )
                .as_str(),
                "d.yaml:4:22: error: employee_number: invalid type: integer `42`, expected a string",
                "d.yaml:5:12: error: guest: invalid type: string \"yes\", expected struct RawGuest",
                "d.yaml:6:13: error: groups: invalid type: string \"eng\", expected a sequence",
                "d.yaml:9:13: error: guest.expires: unknown field `expires`, expected `expiration`",
            ]
        );

        // Every text and date attribute of the table, by its name (an address part by its
        // key under `address:`); `null` is written blank.
        let mut text = String::from("users:\n  - email: a@x.io\n    title: ~\n    address:\n");
        for attribute in Attribute::TEXT {
            let value = match attribute.kind() {
                Kind::Date(_) => "2024-04-10".to_string(),
                _ if attribute == Attribute::Title => continue,
                _ => format!("'{attribute} value'"),
            };
            match attribute.address_part() {
                Some(part) => text.insert_str(
                    text.find("    address:\n").unwrap() + "    address:\n".len(),
                    &format!("      {part}: {value}\n"),
                ),
                None => text.push_str(&format!("    {attribute}: {value}\n")),
            }
        }
        let person = &read_str(&text).unwrap().people[0];
        assert!(person.problems.is_empty(), "{:?}", person.problems);
        for attribute in Attribute::TEXT {
            let value = person.values.iter().find(|v| v.0 == attribute);
            match attribute.kind() {
                _ if attribute == Attribute::Title => {
                    assert_eq!(value.map(|v| &v.1), Some(&AttrValue::Blank))
                }
                Kind::Date(_) => {
                    assert_eq!(value.map(|v| v.1.display()).as_deref(), Some("2024-04-10"))
                }
                _ => assert_eq!(
                    person.text(attribute),
                    Some(format!("{attribute} value").as_str())
                ),
            }
        }
    }

    #[test]
    fn blank_values_are_no_value_and_bad_dates_stay_with_the_person() {
        let content = read_str(
            "users:\n  - email: a@x.io\n    given_name: ' '\n    start_date: soon\n    title:\n    manager: ''\n    phone: \"\"\n",
        )
        .unwrap();
        let blanks: Vec<(Attribute, String)> = content.people[0]
            .values
            .iter()
            .filter(|v| v.1 == AttrValue::Blank)
            .map(|v| (v.0, v.2.to_string()))
            .collect();
        // A blank name is no value, as every blank is, in YAML as in CSV: never an error.
        assert_eq!(
            blanks,
            [
                (Attribute::GivenName, "d.yaml:3:17".to_string()),
                (Attribute::Title, "d.yaml:5:10".to_string()),
                (Attribute::Phone, "d.yaml:7:12".to_string()),
                (Attribute::Manager, "d.yaml:6:14".to_string()),
            ]
        );
        let problems: Vec<String> = content.people[0]
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            ["d.yaml:4:17: error: start_date \"soon\" is not a date like 2024-04-10"]
        );
    }

    #[test]
    fn a_blank_active_is_an_error_never_active() {
        let content = read_str("users:\n  - email: a@x.io\n    active:\n").unwrap();
        let problems: Vec<String> = content.people[0]
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "d.yaml:3:11: error: active is blank: write true or false (a blank is never read as active)"
            ]
        );
    }

    #[test]
    fn an_empty_file_is_an_error_and_an_empty_list_a_warning() {
        assert_eq!(
            read_str("# nothing here\n").unwrap_err(),
            [
                "d.yaml: error: the source is empty; an empty or broken export is never read as \"nobody works here\""
            ]
        );
        let content = read_str("users: []\n").unwrap();
        assert_eq!(content.warnings.len(), 1);
    }
}
