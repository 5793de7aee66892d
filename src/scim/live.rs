//! Slack's users and groups as the planner compares them, with Slack's quirks undone (FACTS
//! TL;DR, §2.9): `""`, `null`, missing and placeholder entries all mean unset; emails and
//! userNames compare by their keys; the phone-number type swap is reversed (the directory's
//! `phone` is Slack's primaryPhone, which Slack labels `primary: true` on the way out);
//! `startDate` and guest expirations are parsed so formatting differences do not diff.

use chrono::{DateTime, NaiveDate, Utc};

use super::types::{Flag, Group, Nullable, User};
use crate::slack_rules::{email_key, user_name_key};

/// Bots' email domain: SCIM cannot deactivate them, so they are never planned against.
pub const BOT_EMAIL_DOMAIN: &str = "@slack-bots.com";

/// Groups Slack generates and SCIM cannot change (FACTS §3.7).
pub const AUTO_GENERATED_GROUPS: &[&str] = &["Team Admins", "Team Owners", "Org Admins"];

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LiveUser {
    pub id: String,
    pub user_name: String,
    pub active: bool,
    /// Primary email as Slack holds it.
    pub email: String,
    pub secondary_email: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub title: Option<String>,
    /// Slack's primaryPhone.
    pub phone: Option<String>,
    pub timezone: Option<String>,
    pub locale: Option<String>,
    pub preferred_language: Option<String>,
    pub user_type: Option<String>,
    pub employee_number: Option<String>,
    pub cost_center: Option<String>,
    pub organization: Option<String>,
    pub division: Option<String>,
    pub department: Option<String>,
    /// The manager's Slack id.
    pub manager_id: Option<String>,
    pub start_date: Option<NaiveDate>,
    /// `Some` for a multi-channel guest, holding the expiration if any.
    pub guest: Option<Option<DateTime<Utc>>>,
    pub is_bot: bool,
}

impl LiveUser {
    pub fn email_key(&self) -> String {
        email_key(&self.email)
    }

    pub fn user_name_key(&self) -> String {
        user_name_key(&self.user_name)
    }

    /// Every email the account holds (both block the address for anyone else).
    pub fn email_keys(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.email_key()).chain(self.secondary_email.iter().map(|e| email_key(e)))
    }

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

/// `2024-04-10T00:00:00+0000`, `2024-04-10T00:00:00Z` or `2024-04-10` → the date.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    NaiveDate::parse_from_str(s.get(..10)?, "%Y-%m-%d").ok()
}

/// An instant in any of the ISO-8601 forms Slack and people write.
pub fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    DateTime::parse_from_rfc3339(s)
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z"))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            parse_date(s)
                .and_then(|d| d.and_hms_opt(23, 59, 59))
                .map(|d| d.and_utc())
        })
}

#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LiveGroup {
    pub id: String,
    pub name: String,
    /// Member user ids, sorted.
    pub members: Vec<String>,
    pub auto_generated: bool,
}

impl LiveGroup {
    pub fn name_key(&self) -> String {
        self.name.trim().to_lowercase()
    }

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

/// What Slack holds, as one listing pass saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
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
