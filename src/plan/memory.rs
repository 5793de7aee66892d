//! Memory across passes, applied to a fresh plan. scimsync stays level-triggered: the plan is
//! still made from the directory and Slack alone ([`super::plan`]); [`remember`] then adjusts it
//! with what earlier passes left in the state store (`pass::state`), purely (the clock is an
//! argument):
//!
//! - **grace**: a leaver absent for less than `safety.deactivation_grace` is held back and
//!   listed as [`Pending`]; once due, the deactivation is an op again and the deactivation
//!   guards count it;
//! - **drift**: an update whose new value is the value scimsync last applied (or saw in sync)
//!   means Slack was changed by hand: listed as [`Drift`], and under `report` not reverted;
//! - **stuck ops**: an op Slack refused with the same error for `stuck.after` passes waits out
//!   a doubling backoff, listed as [`Stuck`];
//! - **source shrink**: the `max_source_shrink` guard against the last successful apply.
//!
//! The memory holds Slack ids, timestamps, counts and digests only; the digests are keyed
//! ([`DigestKey`], a secret kept beside the state), so a dictionary of likely titles or names
//! cannot give a value back from the file.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Leaving, Op, OpKind, Plan, fingerprint, guards};
use crate::config::{AttributeMode, MAX_BACKOFF, Policy, StuckSettings};
use crate::directory::Directory;
use crate::model::{Attribute, LiveState};

/// What earlier passes left for this one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// When each leaver (by Slack id) was first seen absent from the directory.
    #[serde(default)]
    pub leavers: BTreeMap<String, DateTime<Utc>>,
    /// Per Slack user id, per attribute name: the digest of the value scimsync last applied or
    /// saw in sync.
    #[serde(default)]
    pub applied: BTreeMap<String, BTreeMap<String, String>>,
    /// Ops Slack refused on the last passes, by [`op_key`].
    #[serde(default)]
    pub failures: BTreeMap<String, Failure>,
    /// The last apply that ended in success.
    #[serde(default)]
    pub last_good: Option<LastGood>,
    /// The key the digests above are made with: not stored with them.
    #[serde(skip)]
    pub key: DigestKey,
}

/// The key of the memory's digests (a secret kept in the state folder, `pass::state`). A
/// digest made with it is `k1:` and 32 hex digits (HMAC-SHA256, truncated); without a key
/// (tests) a digest is the unkeyed [`fingerprint`], which is also how a state written before
/// keys existed reads until its next save rewrites it.
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
                format!("k1:{}", super::seal::hex(&tag.as_ref()[..16]))
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

/// The last apply that ended in success.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastGood {
    /// When it ended.
    pub at: DateTime<Utc>,
    /// Users per source, as [`super::Counts::source_users`].
    pub source_users: BTreeMap<String, usize>,
}

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
    /// Consecutive passes it failed.
    pub passes: u32,
    /// When it is tried again; none: this pass tries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// Its [`op_key`], under which the state remembers it.
    pub key: String,
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

/// What Slack shows in sync with the directory: per account matched to a directory user who
/// is active there (a rejoiner's still deactivated account included), the text and date
/// values equal to the directory's. Only these are learned from a listing as "last applied";
/// a value that differs keeps the digest scimsync last applied, whatever the reason no write
/// was planned for it (a row skipped as invalid, a blank cell, a conflict): the listing's
/// value there may be a hand edit, and learning it would let a later pass revert that edit
/// under `report` (issue 23).
pub fn in_sync<'l>(
    dir: &Directory,
    live: &'l LiveState,
    policy: &Policy,
) -> BTreeMap<&'l str, Vec<(Attribute, &'l str)>> {
    let mut out = BTreeMap::new();
    for (li, di) in super::planner::matched(dir, live, policy) {
        let (l, d) = (&live.users[li], &dir.users[di]);
        if !d.active {
            continue;
        }
        let same: Vec<(Attribute, &'l str)> = Attribute::TEXT
            .iter()
            .filter_map(|&a| {
                let have = l.text(a)?;
                (d.text(a) == Some(have)).then_some((a, have))
            })
            .collect();
        out.insert(l.id.as_str(), same);
    }
    out
}

/// When a stuck op that failed `passes` times may be tried again, from `now`.
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

/// Adjusts a fresh plan with the memory: grace, drift, stuck ops, then the guards again (the
/// shrink guard included) and the digest.
pub fn remember(
    mut plan: Plan,
    memory: &Memory,
    policy: &Policy,
    stuck: StuckSettings,
    now: DateTime<Utc>,
) -> Plan {
    let mut held = BTreeSet::new();
    // Nothing below changes an `after`, so who is waited on is worked out once: asking per
    // op scanned every op's `after` and made this quadratic in the plan's size.
    let waited_on = waited_on(&plan);
    if let Some(grace) = policy.safety.deactivation_grace {
        hold_leavers(&mut plan, memory, grace, now, &waited_on, &mut held);
    }
    find_drift(&mut plan, memory, policy, &waited_on, &mut held);
    hold_stuck(&mut plan, memory, stuck, now, &waited_on, &mut held);
    remove_ops(&mut plan, &held);
    plan.pending.sort();
    plan.drift.sort();
    plan.stuck.sort();
    plan.digest = super::digest(&plan);
    plan.guards = guards::all(
        &plan,
        &policy.safety,
        memory.last_good.as_ref().map(|l| &l.source_users),
    );
    plan
}

/// For each op, whether some op cannot be written without it ([`super::order::binding`]): such
/// an op is never held back (its dependents would be stranded); it runs, and is only reported.
/// An op that others only come after (a deactivation after the account's update, a deletion
/// after everything) may be held back: [`remove_ops`] drops those edges with it. One pass over
/// every `after`.
fn waited_on(plan: &Plan) -> Vec<bool> {
    let mut waited = vec![false; plan.ops.len()];
    for o in &plan.ops {
        for &j in &o.after {
            if let Some(w) = waited.get_mut(j)
                && super::order::binding(&o.op, &plan.ops[j].op)
            {
                *w = true;
            }
        }
    }
    waited
}

fn hold_leavers(
    plan: &mut Plan,
    memory: &Memory,
    grace: std::time::Duration,
    now: DateTime<Utc>,
    waited_on: &[bool],
    held: &mut BTreeSet<usize>,
) {
    let grace = chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX);
    for (i, op) in plan.ops.iter().enumerate() {
        let Op::DeactivateUser { id, email, reason } = &op.op else {
            continue;
        };
        if *reason != Leaving::Absent || waited_on[i] {
            continue;
        }
        let since = memory.leavers.get(id).copied().unwrap_or(now).min(now);
        let due = since + grace;
        if now < due {
            held.insert(i);
            plan.pending.push(Pending {
                id: id.clone(),
                email: email.clone(),
                since,
                due,
                remaining_secs: u64::try_from((due - now).num_seconds()).unwrap_or(0),
            });
        }
    }
}

fn find_drift(
    plan: &mut Plan,
    memory: &Memory,
    policy: &Policy,
    waited_on: &[bool],
    held: &mut BTreeSet<usize>,
) {
    for (i, &dependents) in waited_on.iter().enumerate() {
        let Op::UpdateUser {
            id,
            email,
            reactivate: false,
            fields,
            changes,
            ..
        } = &mut plan.ops[i].op
        else {
            continue;
        };
        let Some(last) = memory.applied.get(id.as_str()) else {
            continue;
        };
        let mut reported = Vec::new();
        for c in changes.iter() {
            if !fields.text.contains_key(&c.attribute) {
                continue; // drift is told for text and date attributes
            }
            let name = c.attribute.to_string();
            if !last
                .get(&name)
                .is_some_and(|d| memory.key.matches(d, &c.to.as_deref()))
            {
                continue; // the directory changed (or scimsync never applied it)
            }
            let report = policy.attributes.mode(c.attribute) == AttributeMode::Report;
            plan.drift.push(Drift {
                email: email.clone(),
                attribute: c.attribute,
                id: id.clone(),
                found: c.from.clone(),
                expected: c.to.clone(),
                action: if report {
                    DriftAction::Report
                } else {
                    DriftAction::Revert
                },
            });
            if report {
                reported.push(c.attribute);
            }
        }
        changes.retain(|c| !reported.contains(&c.attribute));
        for a in &reported {
            fields.text.remove(a);
        }
        if changes.is_empty() && !dependents {
            held.insert(i);
        }
    }
}

fn hold_stuck(
    plan: &mut Plan,
    memory: &Memory,
    stuck: StuckSettings,
    now: DateTime<Utc>,
    waited_on: &[bool],
    held: &mut BTreeSet<usize>,
) {
    for (i, op) in plan.ops.iter().enumerate() {
        if held.contains(&i) {
            continue;
        }
        let Some(f) = memory.failures.get(&op_key(op)) else {
            continue;
        };
        if !memory.key.matches(&f.op, &op.op) || f.passes < stuck.after {
            continue; // the directory changed the op, or it is not stuck yet
        }
        let wait = f.retry_at.filter(|at| *at > now && !waited_on[i]);
        if wait.is_some() {
            held.insert(i);
        }
        plan.stuck.push(Stuck {
            subject: op.subject().to_string(),
            kind: op.kind(),
            error: f.error.clone(),
            passes: f.passes,
            retry_at: wait,
            key: op_key(op),
        });
    }
}

/// Removes the ops at `held` and renumbers every `after`; an edge to a held op (only ever an
/// order-only one, see [`waited_on`]) goes with it.
fn remove_ops(plan: &mut Plan, held: &BTreeSet<usize>) {
    if held.is_empty() {
        return;
    }
    let mut new_index = vec![None; plan.ops.len()];
    let mut next = 0;
    for (i, slot) in new_index.iter_mut().enumerate() {
        if !held.contains(&i) {
            *slot = Some(next);
            next += 1;
        }
    }
    let ops = std::mem::take(&mut plan.ops);
    plan.ops = ops
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !held.contains(i))
        .map(|(_, mut op)| {
            op.after = op.after.iter().filter_map(|j| new_index[*j]).collect();
            op
        })
        .collect();
    // Only ops nothing waits for are held: the fingerprints of the rest stay as they are, and
    // those of held ops are dropped (a saved plan does not touch them).
    let touched: BTreeSet<&str> = plan.ops.iter().filter_map(|o| o.resource_id()).collect();
    plan.fingerprints
        .retain(|id, _| touched.contains(id.as_str()));
}

#[cfg(test)]
mod tests;
