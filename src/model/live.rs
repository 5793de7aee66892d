//! Slack's users and groups as the planner compares them: one listing pass, with Slack's
//! quirks already undone by the SCIM layer (`""`, `null` and placeholders are unset; the phone
//! type swap is reversed; dates are parsed).

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::{Attribute, Check, Kind, ScimSlot, TABLE, TextValues};
use crate::slack_rules::{email_key, user_name_key};

/// A Slack user as one listing saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LiveUser {
    /// Slack's user id (U… or W…).
    pub id: String,
    /// The userName as Slack holds it.
    pub user_name: String,
    /// Whether the account is active.
    pub active: bool,
    /// Primary email as Slack holds it.
    pub email: String,
    /// Another email the account holds, if any.
    pub secondary_email: Option<String>,
    /// Text and date attributes, read from their SCIM slots (dates as `YYYY-MM-DD`).
    pub texts: TextValues,
    /// The manager's Slack id.
    pub manager_id: Option<String>,
    /// `Some` for a multi-channel guest, holding the expiration if any.
    pub guest: Option<Option<DateTime<Utc>>>,
    /// Whether the account is a bot's (never planned against).
    pub is_bot: bool,
}

impl LiveUser {
    /// The value of a text or date attribute.
    pub fn text(&self, attribute: Attribute) -> Option<&str> {
        self.texts.get(attribute)
    }

    /// The enterprise employeeNumber: a match key (DESIGN §2).
    pub fn employee_number(&self) -> Option<&str> {
        self.text(Attribute::EmployeeNumber)
    }

    /// The primary email's comparison key.
    pub fn email_key(&self) -> String {
        email_key(&self.email)
    }

    /// The userName's comparison key.
    pub fn user_name_key(&self) -> String {
        user_name_key(&self.user_name)
    }

    /// Every email the account holds (both block the address for anyone else).
    pub fn email_keys(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.email_key()).chain(self.secondary_email.iter().map(|e| email_key(e)))
    }
}

/// The text and date attributes whose absence the fingerprint writes as `null`: those of the
/// first plan format. Attributes added since are written only when set, so adding one to
/// the table changes no fingerprint of an account that does not have it. Never extend this.
const NULL_WHEN_UNSET: [Attribute; 15] = [
    Attribute::GivenName,
    Attribute::FamilyName,
    Attribute::DisplayName,
    Attribute::Title,
    Attribute::Phone,
    Attribute::Timezone,
    Attribute::Locale,
    Attribute::PreferredLanguage,
    Attribute::UserType,
    Attribute::EmployeeNumber,
    Attribute::CostCenter,
    Attribute::Organization,
    Attribute::Division,
    Attribute::Department,
    Attribute::StartDate,
];

/// The canonical JSON that plan fingerprints hash: the keys, then the text, date, manager
/// and guest attributes in [`TABLE`]'s order, then `is_bot`. Its shape is part of the plan
/// format: a plan saved by one build is checked against fingerprints made by another. A text
/// attribute Slack keeps equal to the user name ([`Check::UserName`], `nickname`) is left
/// out: it says nothing the user name does not, and every account has it; the secondary email
/// is written once, under its first key.
impl Serialize for LiveUser {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("user_name", &self.user_name)?;
        map.serialize_entry("active", &self.active)?;
        map.serialize_entry("email", &self.email)?;
        map.serialize_entry("secondary_email", &self.secondary_email)?;
        for spec in TABLE {
            match spec.kind {
                Kind::Text(_) if spec.check == Check::UserName => {}
                // Written above, as the first plan format did.
                Kind::Text(scim) if scim.slot == ScimSlot::SecondaryEmail => {}
                Kind::Text(_) | Kind::Date(_) => match self.text(spec.attribute) {
                    Some(value) => map.serialize_entry(spec.name, value)?,
                    None if NULL_WHEN_UNSET.contains(&spec.attribute) => {
                        map.serialize_entry(spec.name, &None::<&str>)?;
                    }
                    None => {}
                },
                Kind::Manager => map.serialize_entry("manager_id", &self.manager_id)?,
                Kind::Guest => map.serialize_entry(spec.name, &self.guest)?,
                Kind::Key | Kind::Active | Kind::Groups => {}
            }
        }
        map.serialize_entry("is_bot", &self.is_bot)?;
        map.end()
    }
}

/// A Slack user group as one listing saw it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct LiveGroup {
    /// Slack's group id.
    pub id: String,
    /// The display name.
    pub name: String,
    /// Member user ids, sorted.
    pub members: Vec<String>,
    /// Whether Slack generates the group (SCIM cannot change it).
    pub auto_generated: bool,
}

impl LiveGroup {
    /// The name's comparison key (trimmed, lower-cased).
    pub fn name_key(&self) -> String {
        self.name.trim().to_lowercase()
    }
}

/// What Slack holds, as one listing pass saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// Every user, bots included.
    pub users: Vec<LiveUser>,
    /// Every group, Slack's own included.
    pub groups: Vec<LiveGroup>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON the fingerprints hash is the one plans have always been made with.
    #[test]
    fn fingerprint_json_keeps_the_first_plan_format() {
        let mut u = LiveUser {
            id: "W1".into(),
            user_name: "ada".into(),
            active: true,
            email: "ada@x.io".into(),
            ..LiveUser::default()
        };
        let nulls = r#""secondary_email":null,"given_name":null,"family_name":null,"display_name":null,"title":null,"phone":null,"timezone":null,"locale":null,"preferred_language":null,"user_type":null,"employee_number":null,"cost_center":null,"organization":null,"division":null,"department":null,"manager_id":null"#;
        assert_eq!(
            serde_json::to_string(&u).unwrap(),
            format!(
                r#"{{"id":"W1","user_name":"ada","active":true,"email":"ada@x.io",{nulls},"start_date":null,"guest":null,"is_bot":false}}"#
            )
        );
        // The nickname, equal to the user name at Slack, adds nothing.
        let before = serde_json::to_string(&u).unwrap();
        u.texts.set(Attribute::Nickname, Some("ada"));
        assert_eq!(serde_json::to_string(&u).unwrap(), before);
        u.texts.set(Attribute::StartDate, Some("2024-04-10"));
        u.guest = Some(DateTime::from_timestamp(0, 0));
        assert!(serde_json::to_string(&u).unwrap().ends_with(
            r#""start_date":"2024-04-10","guest":"1970-01-01T00:00:00Z","is_bot":false}"#
        ));
    }
}
