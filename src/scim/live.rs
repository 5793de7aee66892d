//! Slack's users and groups as the planner compares them, with Slack's quirks undone (FACTS
//! TL;DR, §2.9): `""`, `null`, missing and placeholder entries all mean unset; emails and
//! userNames compare by their keys; the phone-number type swap is reversed (the directory's
//! `phone` is Slack's primaryPhone, which Slack labels `primary: true` on the way out);
//! `startDate` and guest expirations are parsed so formatting differences do not diff.

use super::types::{Flag, Group, Nullable, User};
use crate::model::time::{parse_date, parse_instant};
pub use crate::model::{LiveGroup, LiveState, LiveUser};

/// Bots' email domain: SCIM cannot deactivate them, so they are never planned against.
pub const BOT_EMAIL_DOMAIN: &str = "@slack-bots.com";

/// Groups Slack generates and SCIM cannot change (FACTS §3.7).
pub const AUTO_GENERATED_GROUPS: &[&str] = &["Team Admins", "Team Owners", "Org Admins"];

impl LiveUser {
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
        // Slack labels its primaryPhone `primary: true` (and mobilePhone `type: mobile`).
        let phone = u
            .phone_numbers
            .value()
            .into_iter()
            .flatten()
            .find(|p| p.primary.value().is_some_and(Flag::is_true))
            .and_then(|p| text(&p.value));
        let ent = u.enterprise().value();
        let ent_text =
            |f: fn(&super::types::Enterprise) -> &Nullable<String>| ent.and_then(|e| text(f(e)));
        let name = u.name.value();
        let user_name = text(&u.user_name).unwrap_or_default();
        Some(LiveUser {
            is_bot: email.to_ascii_lowercase().ends_with(BOT_EMAIL_DOMAIN),
            id,
            user_name,
            active: u.is_active(),
            email,
            secondary_email,
            given_name: name.and_then(|n| text(&n.given_name)),
            family_name: name.and_then(|n| text(&n.family_name)),
            display_name: text(&u.display_name),
            title: text(&u.title),
            phone,
            timezone: text(&u.timezone),
            locale: text(&u.locale),
            preferred_language: text(&u.preferred_language),
            user_type: text(&u.user_type),
            employee_number: ent_text(|e| &e.employee_number),
            cost_center: ent_text(|e| &e.cost_center),
            organization: ent_text(|e| &e.organization),
            division: ent_text(|e| &e.division),
            department: ent_text(|e| &e.department),
            manager_id: ent
                .and_then(|e| e.manager.value())
                .and_then(|m| text(&m.manager_id)),
            start_date: u
                .profile()
                .value()
                .and_then(|p| p.start_date.text())
                .and_then(parse_date),
            guest: u
                .guest()
                .value()
                .map(|g| g.expiration.text().and_then(parse_instant)),
        })
    }
}

impl LiveGroup {
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
    use chrono::NaiveDate;

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
        assert_eq!(l.title, None);
        assert_eq!(l.display_name, None);
        assert_eq!(l.phone.as_deref(), Some("555-4444"));
        assert_eq!(l.department.as_deref(), Some("R&D"));
        assert_eq!(l.employee_number, None);
        assert_eq!(l.manager_id, None);
        assert_eq!(l.start_date, NaiveDate::from_ymd_opt(2024, 4, 10));
        assert!(!l.is_bot);
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
