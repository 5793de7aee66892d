//! The parts of a plan that come from memory across passes: leavers held inside their grace
//! period ([`Pending`]), values changed in Slack by hand ([`Drift`]) and ops Slack keeps
//! refusing ([`Stuck`]). Only the types live here, as parts of a [`super::Plan`]; the memory
//! step that fills them in is `crate::memory::recall`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::OpKind;
use crate::model::Attribute;

/// A leaver inside the grace period: not deactivated yet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Pending {
    /// The live account's Slack id.
    pub id: String,
    /// Its email, for reports.
    pub email: String,
    /// When it was first seen absent.
    pub since: DateTime<Utc>,
    /// When it will be deactivated if still absent.
    pub due: DateTime<Utc>,
    /// Seconds from the plan to `due`.
    pub remaining_secs: u64,
}

/// What happens to a value changed in Slack by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DriftAction {
    /// The plan sets the directory's value again (`enforce`).
    Revert,
    /// Shown only (`report`).
    Report,
}

/// A value changed in Slack by hand since scimsync last applied it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Drift {
    /// The account's email, for reports.
    pub email: String,
    /// The attribute.
    pub attribute: Attribute,
    /// The live account's Slack id.
    pub id: String,
    /// What Slack holds now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found: Option<String>,
    /// What the directory says (and scimsync last applied).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// Reverted or reported.
    pub action: DriftAction,
}

/// An op Slack refused with the same error pass after pass.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stuck {
    /// The email or group name the op is about.
    pub subject: String,
    /// What kind of change.
    pub kind: OpKind,
    /// Slack's error.
    pub error: String,
    /// Consecutive passes it failed; 0 for a group create that did not fail but is held back
    /// until a listing shows the group an earlier pass created (or may have created).
    pub passes: u32,
    /// When it is tried again; none: this pass tries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// The key the state remembers it under (`crate::memory::op_key`).
    pub key: String,
}
