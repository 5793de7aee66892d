//! The read side of the memory: applies what earlier passes left to a fresh plan, purely (the
//! clock is an argument). The plan's seal (`crate::plan::seal::finish`) comes after this step:
//! the guards, the shrink guard included, count what is left.
//!
//! - **grace**: a leaver absent for less than `safety.deactivation_grace` is held back and
//!   listed as [`Pending`]; once due, the deactivation is an op again;
//! - **drift**: an update whose new value is the value scimsync last applied (or saw in sync)
//!   means Slack was changed by hand: listed as [`Drift`], and under `report` not reverted;
//!   for an attribute compared by the memory ([`Attribute::compared_by_memory`], the photo,
//!   whose URL Slack rewrites) it means nothing changed, and the change leaves the plan;
//! - **stuck ops**: an op Slack refused with the same error for `stuck.after` passes waits out
//!   a doubling backoff ([`super::retry_at`]), listed as [`Stuck`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::{Memory, op_key};
use crate::config::{AttributeMode, Policy, StuckSettings};
use crate::directory::Directory;
use crate::model::{Attribute, LiveState};
use crate::plan::{Drift, DriftAction, Leaving, Op, Pending, Plan, Stuck, UserRef};

/// What Slack shows in sync with the directory: per account matched to a directory user who
/// is active there (a rejoiner's still deactivated account included), the text and date values
/// equal to the directory's. Only these values are learned from a listing as "last applied"; a
/// value that differs keeps the digest scimsync last applied, whatever the reason no write was
/// planned for it (a row skipped as invalid, a blank cell, a conflict): the listing's value
/// there may be a hand edit, and learning it would let a later pass revert that edit under
/// `report` (issue 23).
///
/// Holds only which directory user each account is matched to; the values are compared when
/// asked for, account by account (collected for every account at once they took 20 MB at
/// 100,000 users, at the pass's peak).
pub struct InSync<'a> {
    dir: &'a Directory,
    live: &'a LiveState,
    /// By live index: the index of the active directory user it is matched to, if any.
    user_of: Vec<Option<u32>>,
}

impl<'a> InSync<'a> {
    /// `matched` is the plan's own matching: the pairs [`crate::plan::draft_matched`] made the
    /// plan with.
    pub fn new(dir: &'a Directory, live: &'a LiveState, matched: &[(usize, usize)]) -> Self {
        let mut user_of = vec![None; live.users.len()];
        for &(li, di) in matched.iter().filter(|&&(_, di)| dir.users[di].active) {
            user_of[li] = Some(u32::try_from(di).expect("fewer than 2^32 directory users"));
        }
        InSync { dir, live, user_of }
    }

    /// The values of the live account `li` equal to the directory's, or `None` when it is
    /// matched to no active directory user.
    pub fn values(
        &self,
        li: usize,
    ) -> Option<impl Iterator<Item = (Attribute, &'a str)> + use<'a>> {
        let d = &self.dir.users[self.user_of[li]? as usize];
        let l = &self.live.users[li];
        Some(Attribute::TEXT.into_iter().filter_map(move |a| {
            let have = l.text(a)?;
            (d.text(a) == Some(have)).then_some((a, have))
        }))
    }
}

/// Adjusts a fresh plan (a draft: the seal comes after) with the memory: grace, drift, stuck
/// ops. Held-back ops leave the plan, and the edges to them go with them.
pub fn recall(
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
    hold_group_creates(&mut plan, memory, now, &waited_on, &mut held);
    leave_out_held_members(&mut plan, &mut held);
    remove_ops(&mut plan, &held);
    plan.pending.sort();
    plan.drift.sort();
    plan.stuck.sort();
    plan
}

/// For each op, whether some op cannot be written without it ([`crate::plan::order::binding`]): such
/// an op is never held back (its dependents would be stranded); it runs, and is only reported.
/// An op that others only come after (a deactivation after the account's update, a deletion
/// after everything) may be held back: [`remove_ops`] drops those edges with it. One pass over
/// every `after`.
fn waited_on(plan: &Plan) -> Vec<bool> {
    let mut waited = vec![false; plan.ops.len()];
    for o in &plan.ops {
        for &j in &o.after {
            if let Some(w) = waited.get_mut(j)
                && crate::plan::order::binding(&o.op, &plan.ops[j].op)
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
            if !last
                .get(&c.attribute)
                .is_some_and(|d| memory.key.matches(d, &c.to.as_deref()))
            {
                continue; // the directory changed (or scimsync never applied it)
            }
            if c.attribute.compared_by_memory() {
                // Slack answers a value of its own for what was applied (a photo's URL): the
                // directory's value is unchanged, so there is nothing to write or tell.
                reported.push(c.attribute);
                continue;
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
        // Slack replaces the whole address on a write: a part held back is written as Slack
        // has it while another part is still written, and no part is once none changes.
        let kept_address = changes
            .iter()
            .any(|c| c.attribute.is_address() && !reported.contains(&c.attribute));
        for c in changes.iter().filter(|c| reported.contains(&c.attribute)) {
            if kept_address && c.attribute.is_address() {
                fields.text.insert(c.attribute, c.from.clone());
            } else {
                fields.text.remove(&c.attribute);
            }
        }
        if !kept_address && reported.iter().any(|a| a.is_address()) {
            fields.text.retain(|a, _| !a.is_address());
        }
        changes.retain(|c| !reported.contains(&c.attribute));
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

/// A group create sent by an earlier pass that this pass's listing does not show yet is held
/// back until its hold ends ([`super::GroupCreate`]): sending it again could make a second
/// group of one name. Listed as [`Stuck`], so the plan says it falls short.
fn hold_group_creates(
    plan: &mut Plan,
    memory: &Memory,
    now: DateTime<Utc>,
    waited_on: &[bool],
    held: &mut BTreeSet<usize>,
) {
    for (i, op) in plan.ops.iter().enumerate() {
        if held.contains(&i) || waited_on[i] || !matches!(op.op, Op::CreateGroup { .. }) {
            continue;
        }
        let key = op_key(op);
        let Some(c) = memory.group_creates.get(&key).filter(|c| c.until > now) else {
            continue;
        };
        held.insert(i);
        let at = c.at.format("%Y-%m-%dT%H:%M:%SZ");
        let error = match &c.id {
            Some(id) => format!(
                "created at {at} (id {id}), and Slack's listing does not show it yet (its reads \
                 lag): not sent again, or it would be a second group of this name"
            ),
            None => format!(
                "sent at {at}, its answer lost, and Slack's listing does not show it yet: it may \
                 exist, so it is not sent again before the hold (stuck.backoff) ends"
            ),
        };
        plan.stuck.retain(|s| s.key != key);
        plan.stuck.push(Stuck {
            subject: op.subject().to_string(),
            kind: op.kind(),
            error,
            passes: 0,
            retry_at: Some(c.until),
            key,
        });
    }
}

/// A user create held back leaves the group ops it was waited on by (a group waits for its
/// new members' creates only to add them, [`crate::plan::order::binding`]): the member is left
/// out of them, and a group change left with nothing to do is held back too — so a stuck
/// create is neither sent nor reported as a member "not added" every pass.
fn leave_out_held_members(plan: &mut Plan, held: &mut BTreeSet<usize>) {
    let keys: BTreeSet<String> = held
        .iter()
        .filter_map(|&i| match &plan.ops[i].op {
            Op::CreateUser { email, .. } => Some(crate::slack_rules::email_key(email)),
            _ => None,
        })
        .collect();
    if keys.is_empty() {
        return;
    }
    let kept = |r: &UserRef| !matches!(r, UserRef::New(k) if keys.contains(k));
    for (i, op) in plan.ops.iter_mut().enumerate() {
        match &mut op.op {
            Op::CreateGroup { members, .. } => members.retain(kept),
            Op::UpdateGroup {
                rename,
                add,
                remove,
                ..
            } => {
                add.retain(kept);
                if rename.is_none() && add.is_empty() && remove.is_empty() {
                    held.insert(i);
                }
            }
            _ => {}
        }
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
