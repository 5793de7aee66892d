//! Memory across passes, in one place. scimsync stays level-triggered: a plan is made from the
//! directory and Slack alone (`crate::plan`); the memory only adjusts it with what earlier
//! passes left, and is then updated from what this pass did. Three sides, one file each:
//!
//! - [`recall`] (read): applies the memory to a fresh plan, purely (the clock is an argument):
//!   the grace period of leavers, drift told apart from change, stuck ops waiting out their
//!   backoff;
//! - [`learn`] (write): what this pass leaves for the next one ([`next_memory`]): the leaver
//!   clock, the digests of last-applied values, the refused ops, the last good apply;
//! - [`store`]: the versioned state file it lives in between passes, its key and its folder.
//!
//! The types below are what all three share. The memory holds Slack ids, timestamps, counts
//! and digests only; the digests are keyed ([`DigestKey`], a secret kept beside the state), so
//! a dictionary of likely titles or names cannot give a value back from the file.

pub mod learn;
pub mod recall;
pub mod store;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{MAX_BACKOFF, StuckSettings};
use crate::model::Attribute;
use crate::plan::{Op, fingerprint};

pub use learn::next_memory;
pub use recall::{in_sync, recall};
pub use store::{StateError, StateStore};

/// Per attribute, the digest of the value scimsync last applied or saw in sync. In the state
/// file an attribute is written by its name (`title`).
pub type Digests = BTreeMap<Attribute, String>;

/// What earlier passes left for this one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// When each leaver (by Slack id) was first seen absent from the directory.
    #[serde(default)]
    pub leavers: BTreeMap<String, DateTime<Utc>>,
    /// Per Slack user id: the digests of the values scimsync last applied or saw in sync.
    #[serde(default)]
    pub applied: BTreeMap<String, Digests>,
    /// Ops Slack refused on the last passes, by [`op_key`].
    #[serde(default)]
    pub failures: BTreeMap<String, Failure>,
    /// The last apply that ended in success.
    #[serde(default)]
    pub last_good: Option<LastGood>,
    /// Group creates sent that no listing has shown yet, by [`op_key`]: not sent again while
    /// held ([`GroupCreate`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub group_creates: BTreeMap<String, GroupCreate>,
    /// The key the digests above are made with: not stored with them.
    #[serde(skip)]
    pub key: DigestKey,
}

/// The key of the memory's digests (a secret kept in the state folder, [`store`]). A digest
/// made with it is `k1:` and 32 hex digits (HMAC-SHA256, truncated); without a key (tests) a
/// digest is the unkeyed [`fingerprint`], which is also how a state written before keys existed
/// reads until its next save rewrites it.
#[derive(Clone, Default)]
pub struct DigestKey(Option<std::sync::Arc<ring::hmac::Key>>);

impl DigestKey {
    /// A key from secret bytes.
    pub fn new(secret: &[u8]) -> DigestKey {
        DigestKey(Some(std::sync::Arc::new(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            secret,
        ))))
    }

    /// The digest of `value` (its JSON) under this key.
    pub fn digest(&self, value: &impl Serialize) -> String {
        match &self.0 {
            Some(key) => {
                let bytes = serde_json::to_vec(value).expect("digested values serialise");
                let tag = ring::hmac::sign(key, &bytes);
                format!("k1:{}", crate::plan::seal::hex(&tag.as_ref()[..16]))
            }
            None => fingerprint(value),
        }
    }

    /// Whether `stored` is the digest of `value`: a keyed digest under this key, or an
    /// unkeyed one of a state written before keys existed.
    pub fn matches(&self, stored: &str, value: &impl Serialize) -> bool {
        if stored.starts_with("k1:") {
            self.0.is_some() && stored == self.digest(value)
        } else {
            stored == fingerprint(value)
        }
    }
}

impl std::fmt::Debug for DigestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "DigestKey([redacted])"
        } else {
            "DigestKey(none)"
        })
    }
}

/// Two memories are equal by what they remember; the key is not part of it.
impl PartialEq for DigestKey {
    fn eq(&self, _: &DigestKey) -> bool {
        true
    }
}

impl Eq for DigestKey {}

/// An op Slack refused on consecutive passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The op's digest: a changed op (the directory changed) starts afresh.
    pub op: String,
    /// Slack's error (`409 username_taken`), compared pass to pass.
    pub error: String,
    /// Consecutive passes it failed with this error.
    pub passes: u32,
    /// When it last failed.
    pub last: DateTime<Utc>,
    /// When a stuck op may be tried again (none: not stuck yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
}

/// A group create that no listing has shown yet. Slack may hold a second group of one name,
/// and its reads lag its writes, so a create sent again because the group does not show yet
/// would make a duplicate: the create is held back until a listing shows the group (then the
/// entry is forgotten) or until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCreate {
    /// When it was sent.
    pub at: DateTime<Utc>,
    /// The group's id when Slack answered (it exists); none when the answer was lost and no
    /// listing showed it (it may exist).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// When the create may be sent again if no listing has shown the group: for a lost answer,
    /// `stuck.backoff` after it; for a create Slack answered, [`MAX_BACKOFF`] after it.
    pub until: DateTime<Utc>,
}

/// The last apply that ended in success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastGood {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Users per source, as [`crate::plan::Counts::source_users`].
    pub source_users: BTreeMap<String, usize>,
}

/// The key a failure is remembered under: the op's kind and its resource (or subject).
pub fn op_key(op: &Op) -> String {
    let what = op
        .resource_id()
        .map_or_else(|| op.subject().trim().to_lowercase(), str::to_string);
    format!("{}:{what}", op.kind())
}

/// The digest of a value, as [`Memory::applied`] holds it.
pub fn value_digest(key: &DigestKey, value: Option<&str>) -> String {
    key.digest(&value)
}

/// When a stuck op that failed `passes` times may be tried again, from `now`: after
/// `stuck.after` failures, `stuck.backoff` doubling with each further one, at most
/// [`MAX_BACKOFF`].
pub fn retry_at(stuck: StuckSettings, passes: u32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if passes < stuck.after {
        return None;
    }
    let doublings = (passes - stuck.after).min(20);
    let wait = stuck
        .backoff
        .saturating_mul(1 << doublings)
        .min(MAX_BACKOFF);
    Some(now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero()))
}

#[cfg(test)]
mod tests;
