//! Slack's users and groups as the planner compares them, with Slack's quirks undone (FACTS
//! TL;DR, §2.9): `""`, `null`, missing and placeholder entries all mean unset; emails and
//! userNames compare by their keys; the phone-number type swap is reversed (the directory's
//! `phone` is Slack's primaryPhone, which Slack labels `primary: true` on the way out);
//! `startDate` and guest expirations are parsed so formatting differences do not diff.

use serde_json::{Map, Value};

use super::types::{Enterprise, Flag, Group, Nullable, Profile, User};
use crate::model::time::{parse_date, parse_instant};
use crate::model::{Attribute, Kind, ScimSlot, TextValues};
pub use crate::model::{LiveGroup, LiveState, LiveUser};

/// Bots' email domain: SCIM cannot deactivate them, so they are never planned against.
pub const BOT_EMAIL_DOMAIN: &str = "@slack-bots.com";

/// Groups Slack generates and SCIM cannot change (FACTS §3.7).
pub const AUTO_GENERATED_GROUPS: &[&str] = &["Team Admins", "Team Owners", "Org Admins"];

impl LiveUser {
    /// The user as the planner compares it, or `None` for a body without an id.
    pub fn from_scim(u: &User) -> Option<LiveUser> {
        let id = u.id.text()?.to_string();
        let text = |v: &Nullable<String>| v.text().map(|s| s.trim().to_string());
        let emails = u.emails.value().map(Vec::as_slice).unwrap_or(&[]);
        let mut live_emails = emails.iter().filter(|e| e.value.text().is_some());
        let primary = emails
            .iter()
            .filter(|e| e.value.text().is_some())
            .find(|e| e.primary.value().is_some_and(Flag::is_true))
            .or_else(|| live_emails.next());
        let email = primary.and_then(|e| text(&e.value)).unwrap_or_default();
        let secondary_email = emails
            .iter()
            .filter_map(|e| text(&e.value))
            .find(|v| !v.eq_ignore_ascii_case(&email));
        let mut texts = TextValues::default();
        for attribute in Attribute::TEXT {
            let value = match attribute.kind() {
                Kind::Date(slot) => slot_text(u, slot)
                    .and_then(parse_date)
                    .map(|d| d.to_string()),
                kind => kind
                    .scim()
                    .and_then(|slot| slot_text(u, slot))
                    .map(|s| s.trim().to_string()),
            };
            texts.set(attribute, value);
        }
        let user_name = text(&u.user_name).unwrap_or_default();
        Some(LiveUser {
            is_bot: email.to_ascii_lowercase().ends_with(BOT_EMAIL_DOMAIN),
            id,
            user_name,
            active: u.is_active(),
            email,
            secondary_email,
            texts,
            manager_id: u
                .enterprise()
                .value()
                .and_then(|e| e.manager.value())
                .and_then(|m| text(&m.manager_id)),
            guest: u
                .guest()
                .value()
                .map(|g| g.expiration.text().and_then(parse_instant)),
        })
    }
}

/// The non-blank text at `slot` of `u`, in either dialect.
fn slot_text(u: &User, slot: ScimSlot) -> Option<&str> {
    match slot {
        ScimSlot::Core(path) => core_text(u, path),
        ScimSlot::Enterprise(key) => enterprise_text(u.enterprise().value()?, key),
        ScimSlot::Profile(key) => profile_text(u.profile().value()?, key),
        // Slack labels its primaryPhone `primary: true` (and mobilePhone `type: mobile`).
        ScimSlot::PrimaryPhone => u
            .phone_numbers
            .value()
            .into_iter()
            .flatten()
            .find(|p| p.primary.value().is_some_and(Flag::is_true))
            .and_then(|p| p.value.text()),
    }
}

/// A core attribute by dotted path: the typed field where [`User`] models it, otherwise the
/// keys it keeps unmodelled (so a new attribute needs no change here).
fn core_text<'a>(u: &'a User, path: &str) -> Option<&'a str> {
    if let Some(("name", key)) = path.split_once('.') {
        let name = u.name.value()?;
        return match key {
            "givenName" => name.given_name.text(),
            "familyName" => name.family_name.text(),
            "honorificPrefix" => name.honorific_prefix.text(),
            "formatted" => name.formatted.text(),
            _ => other_text(&name.other, key),
        };
    }
    match path {
        "userName" => u.user_name.text(),
        "nickName" => u.nick_name.text(),
        "displayName" => u.display_name.text(),
        "profileUrl" => u.profile_url.text(),
        "title" => u.title.text(),
        "timezone" => u.timezone.text(),
        "userType" => u.user_type.text(),
        "preferredLanguage" => u.preferred_language.text(),
        "locale" => u.locale.text(),
        _ => other_text(&u.other, path),
    }
}

fn enterprise_text<'a>(e: &'a Enterprise, key: &str) -> Option<&'a str> {
    match key {
        "employeeNumber" => e.employee_number.text(),
        "costCenter" => e.cost_center.text(),
        "organization" => e.organization.text(),
        "division" => e.division.text(),
        "department" => e.department.text(),
        _ => other_text(&e.other, key),
    }
}

fn profile_text<'a>(p: &'a Profile, key: &str) -> Option<&'a str> {
    match key {
        "startDate" => p.start_date.text(),
        _ => other_text(&p.other, key),
    }
}

/// A non-blank string among an object's unmodelled keys, by dotted path.
fn other_text<'a>(other: &'a Map<String, Value>, path: &str) -> Option<&'a str> {
    let value = match path.split_once('.') {
        Some((head, rest)) => return other_text(other.get(head)?.as_object()?, rest),
        None => other.get(path)?,
    };
    value.as_str().filter(|s| !s.trim().is_empty())
}

impl LiveGroup {
    /// The group as the planner compares it, or `None` for a body without an id.
    pub fn from_scim(g: &Group) -> Option<LiveGroup> {
        let id = g.id.text()?.to_string();
        let name = g.display_name.text().unwrap_or_default().trim().to_string();
        let mut members: Vec<String> = g
            .members
            .value()
            .into_iter()
            .flatten()
            .filter_map(|m| m.value.text().map(str::to_string))
            .collect();
        members.sort();
        members.dedup();
        Some(LiveGroup {
            auto_generated: AUTO_GENERATED_GROUPS
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&name)),
            id,
            name,
            members,
        })
    }
}

impl LiveState {
    /// One listing pass's users and groups.
    pub fn from_scim(users: &[User], groups: &[Group]) -> LiveState {
        LiveState {
            users: users.iter().filter_map(LiveUser::from_scim).collect(),
            groups: groups.iter().filter_map(LiveGroup::from_scim).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::types::urn;

    #[test]
    fn placeholders_and_phone_swap_are_undone() {
        let u: User = serde_json::from_value(serde_json::json!({
            "id": "W1", "userName": "Ada", "active": true, "title": "", "displayName": null,
            "emails": [{"value": "Ada@Example.com", "primary": true}, {"value": "", "primary": false}],
            "phoneNumbers": [{"value": "555-5555", "type": "mobile"}, {"value": "555-4444", "primary": true}],
            "urn:scim:schemas:extension:enterprise:1.0": {"employeeNumber": null, "department": "R&D",
                "manager": {"managerId": null}},
            "urn:ietf:params:scim:schemas:extension:slack:profile:2.0:User": {"startDate": "2024-04-10T00:00:00+0000"},
        }))
        .unwrap();
        let l = LiveUser::from_scim(&u).unwrap();
        assert_eq!(l.email_key(), "ada@example.com");
        assert_eq!(l.secondary_email, None);
        assert_eq!(l.text(Attribute::Title), None);
        assert_eq!(l.text(Attribute::DisplayName), None);
        assert_eq!(l.text(Attribute::Phone), Some("555-4444"));
        assert_eq!(l.text(Attribute::Department), Some("R&D"));
        assert_eq!(l.employee_number(), None);
        assert_eq!(l.manager_id, None);
        assert_eq!(l.text(Attribute::StartDate), Some("2024-04-10"));
        assert!(!l.is_bot);
    }

    /// Every singular text attribute of RFC 7643's User, and of the extensions Slack uses, is
    /// found whether `User` models it (a typed field) or not (its `other` keys): a new
    /// attribute at any of these paths needs no change in the SCIM layer.
    #[test]
    fn slots_read_typed_fields_and_unmodelled_keys_alike() {
        for path in [
            "userName",
            "nickName",
            "displayName",
            "profileUrl",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "name.givenName",
            "name.familyName",
            "name.middleName",
            "name.honorificPrefix",
            "name.honorificSuffix",
            "name.formatted",
            "x-custom.deep.key",
        ] {
            let mut body = serde_json::json!({"id": "W1"});
            let mut at = &mut body;
            let (parents, key) = path
                .rsplit_once('.')
                .map_or((None, path), |(p, k)| (Some(p), k));
            for parent in parents.into_iter().flat_map(|p| p.split('.')) {
                at = at
                    .as_object_mut()
                    .unwrap()
                    .entry(parent)
                    .or_insert_with(|| serde_json::json!({}));
            }
            at[key] = serde_json::json!(" v ");
            let u: User = serde_json::from_value(body).unwrap();
            assert_eq!(
                slot_text(&u, ScimSlot::Core(path)).map(str::trim),
                Some("v"),
                "{path}"
            );
        }
        for urn in [urn::ENTERPRISE_V1, urn::ENTERPRISE_V2] {
            for key in [
                "employeeNumber",
                "costCenter",
                "organization",
                "division",
                "department",
                "x-custom",
            ] {
                let u: User =
                    serde_json::from_value(serde_json::json!({"id": "W1", urn: {key: "v"}}))
                        .unwrap();
                assert_eq!(
                    slot_text(&u, ScimSlot::Enterprise(key)),
                    Some("v"),
                    "{urn} {key}"
                );
            }
        }
        for urn in [urn::PROFILE_V1, urn::PROFILE_V2] {
            for key in ["startDate", "x-custom"] {
                let u: User =
                    serde_json::from_value(serde_json::json!({"id": "W1", urn: {key: "v"}}))
                        .unwrap();
                assert_eq!(
                    slot_text(&u, ScimSlot::Profile(key)),
                    Some("v"),
                    "{urn} {key}"
                );
            }
        }
        let blank: User =
            serde_json::from_value(serde_json::json!({"id": "W1", "x-custom": " "})).unwrap();
        assert_eq!(slot_text(&blank, ScimSlot::Core("x-custom")), None);
    }

    #[test]
    fn instants() {
        let a = parse_instant("2030-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_instant("2030-01-01T00:00:00+0000"), Some(a));
        assert_eq!(parse_instant("2030-01-01T01:00:00+01:00"), Some(a));
        assert_eq!(
            parse_instant("2030-01-01").unwrap().to_rfc3339(),
            "2030-01-01T23:59:59+00:00"
        );
    }
}
