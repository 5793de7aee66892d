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

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::diag::yaml::{Step, YamlDocument};
use crate::diag::{Problem, SourceLocation};

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

/// One person.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawUser {
    /// Slack user id (U… or W…), e.g. from `scimsync dump`; the strongest match key.
    pub id: Option<String>,
    /// Primary email; unique case-insensitively.
    #[schemars(required)]
    pub email: Option<String>,
    /// Slack username: at most 21 of a-z 0-9 . _ - (lower-cased), not reserved. Default:
    /// derived from the email the way Slack does.
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// At most 80 characters, no '@'.
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub phone: Option<String>,
    /// IANA time zone, e.g. Europe/Paris.
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub preferred_language: Option<String>,
    pub user_type: Option<String>,
    /// Enterprise employeeNumber ("Employee ID"); a stable match key. Quote it.
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    /// The manager's email; the manager must be in the directory.
    pub manager: Option<String>,
    /// YYYY-MM-DD.
    pub start_date: Option<String>,
    /// Present for a multi-channel guest.
    pub guest: Option<RawGuest>,
    /// false for a leaver: the account is deactivated (Slack never deletes users). Default: true.
    pub active: Option<bool>,
    /// Names of groups this person belongs to.
    pub groups: Option<Vec<String>>,
}

/// Multi-channel guest settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
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

/// Reads a YAML directory. Any problem with the file's syntax or shape fails it whole;
/// problems with one person's values stay with that person's record.
pub(crate) fn read(file: &Arc<str>, text: &str) -> Result<SourceContent, Vec<DirectoryProblem>> {
    let fatal =
        |location, message| vec![Problem::error(location, DirectoryIssue::Yaml { message })];
    let doc = YamlDocument::parse(file, text).map_err(|e| fatal(e.location, e.message))?;
    if doc.value.is_null() {
        return Err(vec![Problem::error(
            SourceLocation::file(file),
            DirectoryIssue::Empty,
        )]);
    }
    let shape: Shape = doc.decode(&[]).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| Problem::error(e.location, DirectoryIssue::Yaml { message: e.message }))
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
    if content.people.is_empty() && content.groups.is_empty() {
        content.warnings.push(Problem::warning(
            SourceLocation::file(file),
            DirectoryIssue::NoRows,
        ));
    }
    Ok(content)
}

fn person(doc: &YamlDocument, path: &[Step<'_>; 2], raw: RawUser) -> PersonRecord {
    let at = |key: &'static str| doc.location(&[path[0], path[1], Step::Key(key)]);
    let mut record = PersonRecord::new(doc.location(path));
    let texts = [
        (Attribute::Id, raw.id),
        (Attribute::Email, raw.email),
        (Attribute::UserName, raw.user_name),
        (Attribute::GivenName, raw.given_name),
        (Attribute::FamilyName, raw.family_name),
        (Attribute::DisplayName, raw.display_name),
        (Attribute::Title, raw.title),
        (Attribute::Phone, raw.phone),
        (Attribute::Timezone, raw.timezone),
        (Attribute::Locale, raw.locale),
        (Attribute::PreferredLanguage, raw.preferred_language),
        (Attribute::UserType, raw.user_type),
        (Attribute::EmployeeNumber, raw.employee_number),
        (Attribute::CostCenter, raw.cost_center),
        (Attribute::Organization, raw.organization),
        (Attribute::Division, raw.division),
        (Attribute::Department, raw.department),
        (Attribute::Manager, raw.manager),
    ];
    for (attribute, value) in texts {
        let Some(value) = value else { continue };
        let value = value.trim();
        let location = at(attribute.name());
        if value.is_empty() {
            match attribute {
                // Kept blank so the validator reports it where it is written.
                Attribute::Email => {}
                Attribute::GivenName | Attribute::FamilyName | Attribute::DisplayName => {
                    record.problems.push(Problem::error(
                        location,
                        DirectoryIssue::BlankName { attribute },
                    ));
                    continue;
                }
                // Blank means unset (DESIGN §3).
                _ => continue,
            }
        }
        record
            .values
            .push((attribute, AttrValue::Text(value.to_string()), location));
    }
    if let Some(start) = raw.start_date {
        let location = at("start_date");
        match parse_date(&start) {
            Some(date) => {
                record
                    .values
                    .push((Attribute::StartDate, AttrValue::Date(date), location))
            }
            None if start.trim().is_empty() => {}
            None => record.problems.push(Problem::error(
                location,
                DirectoryIssue::InvalidValue {
                    attribute: Attribute::StartDate,
                    value: start,
                    expected: "a date like 2024-04-10",
                },
            )),
        }
    }
    if let Some(guest) = raw.guest {
        let location = at("guest");
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
                doc.location(&[
                    path[0],
                    path[1],
                    Step::Key("guest"),
                    Step::Key("expiration"),
                ]),
                DirectoryIssue::InvalidValue {
                    attribute: Attribute::Guest,
                    value: guest.expiration.unwrap_or_default(),
                    expected: "a date like 2025-06-30 or an RFC 3339 time",
                },
            )),
        }
    }
    if let Some(active) = raw.active {
        record
            .values
            .push((Attribute::Active, AttrValue::Bool(active), at("active")));
    }
    for (j, name) in raw.groups.into_iter().flatten().enumerate() {
        let location = doc.location(&[path[0], path[1], Step::Key("groups"), Step::Index(j)]);
        let name = name.trim();
        if name.is_empty() {
            record
                .problems
                .push(Problem::error(location, DirectoryIssue::BlankGroupName));
        } else {
            record.groups.push((name.to_string(), location));
        }
    }
    record
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

    #[test]
    fn blank_names_and_bad_dates_stay_with_the_person() {
        let content =
            read_str("users:\n  - email: a@x.io\n    given_name: ' '\n    start_date: soon\n")
                .unwrap();
        let problems: Vec<String> = content.people[0]
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect();
        assert_eq!(
            problems,
            [
                "d.yaml:3:17: error: given_name is blank",
                "d.yaml:4:17: error: start_date \"soon\" is not a date like 2024-04-10",
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
