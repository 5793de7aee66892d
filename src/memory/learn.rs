//! The write side of the memory: what one pass leaves for the next ([`next_memory`]), from the
//! plan it applied and how each op ended. Leavers still absent keep the time they were first
//! seen absent; the digests of values follow what applied (and what Slack shows equal to the
//! directory), never a hand edit; refused ops count their passes and get a backoff; a complete
//! apply records the sources' sizes for the shrink guard.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{
    Digest, Digests, Failure, GroupCreate, LastGood, Memory, op_key, retry_at, value_digest,
};
use crate::apply::OUTCOME_UNKNOWN;
use crate::apply::{OpResult, Outcome};
use crate::config::{MAX_BACKOFF, Policy, StuckSettings};
use crate::directory::Directory;
use crate::model::{Attribute, LiveState};
use crate::plan::{DriftAction, Leaving, Op, Plan};

/// One pass, as the memory learns from it.
#[derive(Debug, Clone, Copy)]
pub struct Pass<'a> {
    /// The plan it applied.
    pub plan: &'a Plan,
    /// What Slack held when listed.
    pub live: &'a LiveState,
    /// The directory the plan was made from (none: unknown, nothing is learned from the
    /// listing).
    pub directory: Option<&'a Directory>,
    /// The matching the plan was made with: `(live index, directory index)` of each matched
    /// directory user ([`crate::plan::draft_matched`]).
    pub matched: &'a [(usize, usize)],
    /// How each op ended (none: there was nothing to write).
    pub outcome: Option<&'a Outcome>,
    /// The policy it ran under (its scope says which accounts are remembered).
    pub policy: &'a Policy,
    /// When a refused op becomes stuck, and its backoff.
    pub stuck: StuckSettings,
}

/// What `pass` leaves for the next one, at `now`, from the memory it started with (`before`),
/// which it is made from in place: the digests of 100,000 accounts are not held twice.
pub fn next_memory(mut before: Memory, pass: &Pass<'_>, now: DateTime<Utc>) -> Memory {
    let Pass {
        plan,
        live,
        directory,
        matched,
        outcome,
        policy,
        stuck,
    } = *pass;
    let applied = |i: usize| {
        outcome.is_some_and(|o| {
            o.ops
                .get(i)
                .is_some_and(|r| matches!(r.result, OpResult::Applied { .. }))
        })
    };
    let digests = last_applied(
        std::mem::take(&mut before.applied),
        &before.key,
        plan,
        live,
        directory.map(|d| (d, matched)),
        policy,
        outcome,
    );
    let mut next = Memory {
        leavers: leavers(&before, plan, &applied, now),
        applied: digests,
        failures: failures(&before, plan, outcome, stuck, now),
        last_good: before.last_good.clone(),
        group_creates: group_creates(&before, plan, live, outcome, stuck, now),
        key: before.key.clone(),
    };
    let complete = outcome.is_none_or(Outcome::complete);
    if complete {
        next.last_good = Some(LastGood {
            at: now,
            source_users: plan.counts.source_users.clone(),
        });
    }
    next
}

/// Leavers still absent: those pending, and those whose deactivation did not apply.
fn leavers(
    before: &Memory,
    plan: &Plan,
    applied: &dyn Fn(usize) -> bool,
    now: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    let mut out: BTreeMap<String, DateTime<Utc>> = plan
        .pending
        .iter()
        .map(|p| (p.id.clone(), p.since))
        .collect();
    for (i, op) in plan.ops.iter().enumerate() {
        if let Op::DeactivateUser { id, reason, .. } = &op.op
            && *reason == Leaving::Absent
            && !applied(i)
        {
            out.insert(id.clone(), before.leavers.get(id).copied().unwrap_or(now));
        }
    }
    out
}

/// Digests of the values scimsync last applied or saw in sync, for managed accounts after this
/// pass: what it remembered (`applied`, updated in place), with the listing's values that
/// equal the directory's ([`super::InSync`]) and with the changes that applied. A value Slack
/// shows that differs from the directory's — a hand edit, whether or not this pass planned a
/// change for it (a reported drift, a failed op, a row skipped as invalid, a blank cell) —
/// never replaces the digest scimsync last applied, so it stays drift.
fn last_applied(
    mut applied: BTreeMap<String, Digests>,
    key: &super::DigestKey,
    plan: &Plan,
    live: &LiveState,
    directory: Option<(&Directory, &[(usize, usize)])>,
    policy: &Policy,
    outcome: Option<&Outcome>,
) -> BTreeMap<String, Digests> {
    let kept = unchanged(&applied, plan, outcome);
    let keep_before = |out: &mut BTreeMap<String, Digests>, id: &str, a: Attribute| {
        let entry = out.entry(id.to_string()).or_default();
        match kept.get(&(id, a)).cloned().flatten() {
            Some(d) => entry.insert(a, d),
            None => entry.remove(a),
        }
    };
    remember_listed(&mut applied, key, live, directory, policy);
    let mut out = applied;
    for d in plan
        .drift
        .iter()
        .filter(|d| d.action == DriftAction::Report)
    {
        keep_before(&mut out, &d.id, d.attribute);
    }
    for (i, op) in plan.ops.iter().enumerate() {
        let result = outcome.and_then(|o| o.ops.get(i));
        let ok = result.is_some_and(|r| matches!(r.result, OpResult::Applied { .. }));
        match &op.op {
            Op::UpdateUser { id, changes, .. } => {
                for c in changes
                    .iter()
                    .filter(|c| Attribute::TEXT.contains(&c.attribute))
                {
                    if ok {
                        let entry = out.entry(id.clone()).or_default();
                        entry.insert(c.attribute, value_digest(key, c.to.as_deref()));
                    } else {
                        keep_before(&mut out, id, c.attribute);
                    }
                }
            }
            // A create whose custom profile Slack dropped applied the rest: the values dropped
            // were never applied, so the next pass's update of them is no drift.
            Op::CreateUser { fields, .. } if result.is_some_and(|r| r.result.exists()) => {
                let dropped = match result.map(|r| &r.result) {
                    Some(OpResult::ProfileDropped { dropped }) => dropped.as_slice(),
                    _ => &[],
                };
                if let Some(id) = result.and_then(|r| r.resource.clone()) {
                    let entry = out.entry(id).or_default();
                    for (a, v) in fields.text.iter().filter(|(a, _)| !dropped.contains(a)) {
                        entry.insert(*a, value_digest(key, v.as_deref()));
                    }
                }
            }
            Op::DeactivateUser { id, .. } if ok => {
                out.remove(id);
            }
            _ => {}
        }
    }
    out.retain(|_, m| !m.is_empty());
    out
}

/// The digests, as the pass began, of the values it leaves as they were where they differ
/// from the directory: reported drift and the changes of updates that did not apply. Read
/// before the digests are updated in place.
fn unchanged<'p>(
    applied: &BTreeMap<String, Digests>,
    plan: &'p Plan,
    outcome: Option<&Outcome>,
) -> BTreeMap<(&'p str, Attribute), Option<Digest>> {
    let ok = |i: usize| {
        outcome
            .and_then(|o| o.ops.get(i))
            .is_some_and(|r| matches!(r.result, OpResult::Applied { .. }))
    };
    let reported = plan
        .drift
        .iter()
        .filter(|d| d.action == DriftAction::Report)
        .map(|d| (d.id.as_str(), d.attribute));
    let failed = plan
        .ops
        .iter()
        .enumerate()
        .filter(|&(i, _)| !ok(i))
        .filter_map(|(_, op)| match &op.op {
            Op::UpdateUser { id, changes, .. } => Some((id, changes)),
            _ => None,
        })
        .flat_map(|(id, changes)| {
            changes
                .iter()
                .filter(|c| Attribute::TEXT.contains(&c.attribute))
                .map(move |c| (id.as_str(), c.attribute))
        });
    reported
        .chain(failed)
        .map(|(id, a)| ((id, a), applied.get(id).and_then(|m| m.get(&a)).cloned()))
        .collect()
}

/// Keeps the digests of managed accounts (a deactivated one only if a directory user brings
/// it back), updated with their values Slack shows equal to the directory's
/// ([`super::InSync`]); forgets the rest.
fn remember_listed(
    applied: &mut BTreeMap<String, Digests>,
    key: &super::DigestKey,
    live: &LiveState,
    directory: Option<(&Directory, &[(usize, usize)])>,
    policy: &Policy,
) {
    let scope = &policy.scope;
    let synced = directory.map(|(d, matched)| super::InSync::new(d, live, matched));
    let mut listed: foldhash::HashSet<&str> = foldhash::HashSet::default();
    for (i, u) in live
        .users
        .iter()
        .enumerate()
        .filter(|(_, u)| crate::plan::reaches(u, crate::plan::in_scope(scope, u)))
    {
        let same = synced.as_ref().and_then(|s| s.values(i));
        if !u.active && same.is_none() {
            continue; // deactivated, and no directory user brings it back
        }
        listed.insert(&u.id);
        let mut same = same.into_iter().flatten().peekable();
        if same.peek().is_none() {
            continue;
        }
        let values = match applied.get_mut(&u.id) {
            Some(values) => values,
            None => applied.entry(u.id.clone()).or_default(),
        };
        for (a, v) in same {
            values.insert(a, value_digest(key, Some(v)));
        }
    }
    applied.retain(|id, _| listed.contains(id.as_str()));
}

/// Refused ops, counted pass to pass; an op that applied, or that is no longer planned as it
/// was (the directory changed), is forgotten. Stuck ops held back this pass keep their count.
fn failures(
    before: &Memory,
    plan: &Plan,
    outcome: Option<&Outcome>,
    stuck: StuckSettings,
    now: DateTime<Utc>,
) -> BTreeMap<String, Failure> {
    let mut out = BTreeMap::new();
    let planned: BTreeMap<String, String> = plan
        .ops
        .iter()
        .map(|o| (op_key(o), before.key.digest(&o.op)))
        .collect();
    for s in plan.stuck.iter().filter(|s| s.retry_at.is_some()) {
        if let Some(f) = before
            .failures
            .get(&s.key)
            .filter(|_| !planned.contains_key(&s.key))
        {
            out.insert(s.key.clone(), f.clone());
        }
    }
    let Some(outcome) = outcome else {
        return out;
    };
    for (op, result) in plan.ops.iter().zip(&outcome.ops) {
        let OpResult::Failed {
            status,
            code,
            message,
        } = &result.result
        else {
            continue;
        };
        let key = op_key(op);
        let digest = before.key.digest(&op.op);
        let error = match (status, code) {
            (Some(s), Some(c)) => format!("{s} {c}"),
            (Some(s), None) => format!("{s} {message}"),
            _ => message.clone(),
        };
        let passes = match before.failures.get(&key) {
            Some(f) if before.key.matches(&f.op, &op.op) && f.error == error => {
                f.passes.saturating_add(1)
            }
            _ => 1,
        };
        out.insert(
            key,
            Failure {
                op: digest,
                error,
                passes,
                last: now,
                retry_at: retry_at(stuck, passes, now),
            },
        );
    }
    out
}

/// Group creates no listing has shown yet: those remembered whose hold has not ended and whose
/// name the listing still does not show, and this pass's creates that Slack answered (they
/// exist) or whose answer was lost ([`OUTCOME_UNKNOWN`]: they may).
fn group_creates(
    before: &Memory,
    plan: &Plan,
    live: &LiveState,
    outcome: Option<&Outcome>,
    stuck: StuckSettings,
    now: DateTime<Utc>,
) -> BTreeMap<String, GroupCreate> {
    let shown: std::collections::BTreeSet<String> = live
        .groups
        .iter()
        .map(|g| g.name.trim().to_lowercase())
        .collect();
    let mut out: BTreeMap<String, GroupCreate> = before
        .group_creates
        .iter()
        .filter(|(key, c)| {
            c.until > now
                && !key
                    .split_once(':')
                    .is_some_and(|(_, name)| shown.contains(name))
        })
        .map(|(k, c)| (k.clone(), c.clone()))
        .collect();
    let Some(outcome) = outcome else {
        return out;
    };
    let after = |wait: std::time::Duration| {
        now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::zero())
    };
    for (op, result) in plan.ops.iter().zip(&outcome.ops) {
        if !matches!(op.op, Op::CreateGroup { .. }) {
            continue;
        }
        let entry = match &result.result {
            OpResult::Applied { .. } => GroupCreate {
                at: now,
                id: result.resource.clone(),
                until: after(MAX_BACKOFF),
            },
            OpResult::Failed { code, .. } if code.as_deref() == Some(OUTCOME_UNKNOWN) => {
                GroupCreate {
                    at: now,
                    id: None,
                    until: after(stuck.backoff),
                }
            }
            _ => continue,
        };
        out.insert(op_key(op), entry);
    }
    out
}
