//! Slack's users and groups as the planner compares them: one listing pass, with Slack's
//! quirks already undone by the SCIM layer (`""`, `null` and placeholders are unset; the phone
//! type swap is reversed; dates are parsed).

use chrono::{DateTime, NaiveDate, Utc};

use crate::slack_rules::{email_key, user_name_key};

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
}

/// What Slack holds, as one listing pass saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    pub users: Vec<LiveUser>,
    pub groups: Vec<LiveGroup>,
}
