//! What a write sends: the attributes a user is created or updated with, and the users a plan
//! refers to. The planner fills these in; the SCIM layer turns them into request bodies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Attribute;

/// A user the plan refers to: an existing Slack account, or one this plan creates.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserRef {
    /// A Slack user id.
    Id(String),
    /// The email key of a user created earlier in the same plan.
    New(String),
}

/// One attribute's change, as people read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The attribute that changes (written as its name).
    pub attribute: Attribute,
    /// Slack's value now (`None`: unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value it gets (`None`: unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// The attributes a user is created or updated with, as Slack will be sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserFields {
    /// The new primary email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The new userName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Text and date attributes ([`Attribute::TEXT`]), keyed and listed by name; `None`
    /// clears.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub text: BTreeMap<Attribute, Option<String>>,
    /// `Some(None)` clears the manager.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<Option<UserRef>>,
    /// `Some(None)` makes a guest a full member; `Some(Some(expiry))` a multi-channel guest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guest: Option<Option<GuestSpec>>,
    /// `Some(true)` reactivates the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// A multi-channel guest as a write sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestSpec {
    /// RFC 3339, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<String>,
}
