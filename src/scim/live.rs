//! Slack's users and groups as the planner compares them, with Slack's quirks undone (FACTS
//! TL;DR, §2.9): `""`, `null`, missing and placeholder entries all mean unset; emails and
//! userNames compare by their keys; the phone-number type swap is reversed (the directory's
//! `phone` is Slack's primaryPhone, which Slack labels `primary: true` on the way out);
//! `startDate` and guest expirations are parsed so formatting differences do not diff.

use std::borrow::Cow;

use super::listed_user::{LeanGroup, LeanUser, LeanValue, Str};
use super::types::{Flag, Group, Nullable, User};
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
        LiveUser::from_lean(&LeanUser::of(u))
    }

    /// The user as the planner compares it from its lean decoding (what a listing reads), or
    /// `None` for a body without an id.
    pub fn from_lean(u: &LeanUser<'_>) -> Option<LiveUser> {
        let id = u.id.lean_text()?.to_string();
        let text = |v: &Nullable<Str<'_>>| v.lean_text().map(|s| s.trim().to_string());
        let email = primary_email(u)
            .map(|e| e.trim().to_string())
            .unwrap_or_default();
        let secondary_email = secondary_email(u).map(|e| e.trim().to_string());
        // Each value read once, then all of them copied into one allocation.
        let values = Attribute::TEXT.map(|attribute| match attribute.kind() {
            Kind::Date(_) => text_of(u, attribute)
                .and_then(parse_date)
                .map(|d| Cow::Owned(d.to_string())),
            _ => text_of(u, attribute).map(|s| Cow::Borrowed(s.trim())),
        });
        let mut texts = TextValues::default();
        texts.reserve(
            values.iter().flatten().count(),
            values.iter().flatten().map(|v| v.len()).sum(),
        );
        for (attribute, value) in Attribute::TEXT.into_iter().zip(values) {
            texts.set(attribute, value);
        }
        let user_name = text(&u.user_name).unwrap_or_default();
        Some(LiveUser {
            is_bot: email.to_ascii_lowercase().ends_with(BOT_EMAIL_DOMAIN),
            id,
            user_name,
            active: u.active.value().is_some_and(Flag::is_true),
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
                .map(|g| g.expiration.lean_text().and_then(parse_instant)),
        })
    }
}

/// The non-blank value of a text attribute in `u`, in either dialect. The lean decoding keeps
/// exactly the keys the table's slots name (a test holds it to that).
fn text_of<'a>(u: &'a LeanUser<'_>, attribute: Attribute) -> Option<&'a str> {
    let primary = |v: &LeanValue<'_>| v.primary.value().is_some_and(Flag::is_true);
    let entries = |list: &'a Nullable<Vec<LeanValue<'_>>>| list.value().into_iter().flatten();
    match attribute.slot()? {
        // Slack labels its primaryPhone `primary: true` and its mobilePhone `type: mobile`
        // (FACTS TL;DR 1): the mobile phone is the entry with a value not marked primary.
        ScimSlot::PrimaryPhone => entries(&u.phone_numbers)
            .find(|p| primary(p))
            .and_then(|p| p.value.lean_text()),
        ScimSlot::MobilePhone => entries(&u.phone_numbers)
            .filter(|p| !primary(p))
            .find_map(|p| p.value.lean_text()),
        ScimSlot::SecondaryEmail => secondary_email(u),
        // The primary photo, else the first; Slack's default (a gravatar URL, FACTS §2.2) is
        // no photo of the directory's.
        ScimSlot::Photo => entries(&u.photos)
            .find(|p| primary(p))
            .or_else(|| entries(&u.photos).next())
            .and_then(|p| p.value.lean_text())
            .filter(|url| !is_default_photo(url)),
        ScimSlot::Role => u
            .roles
            .value()
            .into_iter()
            .flatten()
            .find_map(|r| r.value().filter(|v| !v.trim().is_empty())),
        // The one address Slack keeps: the entry marked primary, else the first.
        ScimSlot::Address(key) => {
            let addresses = || u.addresses.value().into_iter().flatten();
            addresses()
                .find(|a| a.primary.value().is_some_and(Flag::is_true))
                .or_else(|| addresses().next())
                .and_then(|a| a.part(key).lean_text())
        }
        _ => u.text(attribute),
    }
}

/// Whether `url` is Slack's default photo, a gravatar URL (FACTS §2.2).
fn is_default_photo(url: &str) -> bool {
    let rest = url
        .trim()
        .strip_prefix("https://")
        .or_else(|| url.trim().strip_prefix("http://"))
        .unwrap_or_default();
    let host = rest.split('/').next().unwrap_or_default();
    host.eq_ignore_ascii_case("gravatar.com")
        || host.to_ascii_lowercase().ends_with(".gravatar.com")
}

/// The primary email of `u`: the live entry marked primary, else the first live one not
/// marked secondary (`primary: false`: a body naming only a secondary has no primary).
fn primary_email<'a>(u: &'a LeanUser<'_>) -> Option<&'a str> {
    let emails = u.emails.value().map(Vec::as_slice).unwrap_or(&[]);
    let live = || emails.iter().filter(|e| e.value.lean_text().is_some());
    let marked = |e: &&LeanValue<'_>| e.primary.value().map(Flag::is_true);
    live()
        .find(|e| marked(e) == Some(true))
        .or_else(|| live().find(|e| marked(e) != Some(false)))
        .and_then(|e| e.value.lean_text())
}

/// The other email of `u`, if any (Slack keeps two, FACTS §2.3).
fn secondary_email<'a>(u: &'a LeanUser<'_>) -> Option<&'a str> {
    let email = primary_email(u).map(str::trim).unwrap_or_default();
    u.emails
        .value()
        .into_iter()
        .flatten()
        .filter_map(|e| e.value.lean_text())
        .find(|v| !v.trim().eq_ignore_ascii_case(email))
}

impl LiveGroup {
    /// The group as the planner compares it, or `None` for a body without an id.
    pub fn from_scim(g: &Group) -> Option<LiveGroup> {
        LiveGroup::from_lean(&LeanGroup::of(g))
    }

    /// The group as the planner compares it from its lean decoding (what a listing reads), or
    /// `None` for a body without an id.
    pub fn from_lean(g: &LeanGroup<'_>) -> Option<LiveGroup> {
        let id = g.id.lean_text()?.to_string();
        let name = g
            .display_name
            .lean_text()
            .unwrap_or_default()
            .trim()
            .to_string();
        let mut members: Vec<String> = g
            .members
            .value()
            .into_iter()
            .flatten()
            .filter_map(|m| m.value.lean_text().map(str::to_string))
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

    /// A body with `v` at `slot` (in the dialect of `urn` for an extension).
    fn body_at(slot: ScimSlot, urn: &str, v: &str) -> serde_json::Value {
        let mut body = serde_json::json!({"id": "W1"});
        let (parents, key): (Vec<&str>, &str) = match slot {
            ScimSlot::Core(path) => match path.rsplit_once('.') {
                Some((p, k)) => (p.split('.').collect(), k),
                None => (vec![], path),
            },
            ScimSlot::Enterprise(key) | ScimSlot::Profile(key) => (vec![urn], key),
            ScimSlot::PrimaryPhone => {
                body["phoneNumbers"] = serde_json::json!([{"value": v, "primary": true}]);
                return body;
            }
            ScimSlot::MobilePhone => {
                body["phoneNumbers"] = serde_json::json!([{"value": v, "type": "mobile"}]);
                return body;
            }
            ScimSlot::SecondaryEmail => {
                body["emails"] = serde_json::json!([
                    {"value": "a@example.com", "primary": true},
                    {"value": v, "primary": false}
                ]);
                return body;
            }
            ScimSlot::Role => {
                body["roles"] = serde_json::json!([{"value": v, "primary": true}]);
                return body;
            }
            ScimSlot::Photo => {
                body["photos"] = serde_json::json!([{"value": v, "primary": true}]);
                return body;
            }
            ScimSlot::Address(key) => {
                body["addresses"] = serde_json::json!([{ key: v }]);
                return body;
            }
        };
        let mut at = &mut body;
        for parent in parents {
            at = at
                .as_object_mut()
                .unwrap()
                .entry(parent)
                .or_insert_with(|| serde_json::json!({}));
        }
        at[key] = serde_json::json!(v);
        body
    }

    /// Every text attribute's slot is read by the lean decoding a listing uses, in both
    /// dialects, as from the full types: a new attribute in the table that the lean decoding
    /// does not keep fails here.
    #[test]
    fn every_text_attribute_is_read_from_the_lean_decoding_in_both_dialects() {
        for a in Attribute::TEXT {
            let slot = a.slot().unwrap();
            let urns: &[&str] = match slot {
                ScimSlot::Enterprise(_) => &[urn::ENTERPRISE_V1, urn::ENTERPRISE_V2],
                ScimSlot::Profile(_) => &[urn::PROFILE_V1, urn::PROFILE_V2],
                _ => &[""],
            };
            for urn in urns {
                let json = body_at(slot, urn, " 2024-04-10 ").to_string();
                let lean: LeanUser<'_> = serde_json::from_str(&json).unwrap();
                assert_eq!(
                    text_of(&lean, a).map(str::trim),
                    Some("2024-04-10"),
                    "{a} {urn}"
                );
                let full: User = serde_json::from_str(&json).unwrap();
                let live = LiveUser::from_lean(&lean).unwrap();
                assert_eq!(LiveUser::from_scim(&full).unwrap(), live, "{a} {urn}");
                assert_eq!(live.text(a), Some("2024-04-10"), "{a} {urn}");
            }
        }
        let blank: LeanUser<'_> = serde_json::from_str(r#"{"id": "W1", "title": " "}"#).unwrap();
        assert_eq!(text_of(&blank, Attribute::Title), None);
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
