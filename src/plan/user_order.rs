//! The ordering of user ops: every email and userName is released before it is taken (a swap
//! becomes a conflict) and a manager is created before a report names them. The edges made
//! here are the ones an op cannot be written without; the edges across kinds of op are
//! [`super::order`]'s.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use foldhash::{HashMap, HashMapExt};

use super::index::{Index, Key, describe_account};
use super::user_ops::UserOp;
use super::{Conflict, Op, PlannedOp};
use crate::slack_rules::email_key;

/// Orders user ops (Kahn's algorithm, deterministic): an op taking a key held by an account
/// that releases it in this plan runs after that release; an op naming a new manager runs
/// after the manager's create. Keys held by anyone else, and cycles (two people swapping
/// emails), become conflicts; ops depending on a dropped op are dropped too.
pub(super) fn order_user_ops(
    ops: Vec<UserOp>,
    ix: &Index<'_>,
    conflicts: &mut Vec<Conflict>,
) -> Vec<PlannedOp> {
    let (edges, mut dropped) = user_op_edges(&ops, ix, conflicts);
    let order = topological_order(&ops, &edges, &mut dropped, conflicts);
    // Anything that depends on a dropped op is dropped as well.
    let mut queue: Vec<usize> = dropped.iter().copied().collect();
    while let Some(i) = queue.pop() {
        for &j in &edges[i] {
            if dropped.insert(j) {
                conflicts.push(Conflict {
                    subject: ops[j].subject.clone(),
                    reason: format!(
                        "depends on a change to {} that is in conflict",
                        ops[i].subject
                    ),
                    source: Some(ops[j].source.clone()),
                });
                queue.push(j);
            }
        }
    }
    let kept: Vec<usize> = order.into_iter().filter(|i| !dropped.contains(i)).collect();
    with_positions(ops, &kept, &edges)
}

/// `edges[j]` lists the ops that must wait for op `j`: takers of a key `j` releases, reports
/// of a manager `j` creates. Ops taking a key held by an account that does not release it are
/// conflicts, returned as dropped.
fn user_op_edges(
    ops: &[UserOp],
    ix: &Index<'_>,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<Vec<usize>>, BTreeSet<usize>) {
    // Who releases what, by the live account releasing it.
    let mut releaser: HashMap<&Key, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        for k in &op.releases {
            releaser.insert(k, i);
        }
    }
    let mut dropped: BTreeSet<usize> = BTreeSet::new();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for k in &op.takes {
            let Some(holder) = ix.holder(k) else { continue };
            let holder_user = ix.user(holder);
            if op.op.resource_id() == Some(holder_user.id.as_str()) {
                continue; // already its own (e.g. a secondary email promoted)
            }
            match releaser.get(k) {
                Some(&j) if ops[j].op.resource_id() == Some(holder_user.id.as_str()) => {
                    edges[j].push(i);
                }
                _ => {
                    conflicts.push(Conflict {
                        subject: op.subject.clone(),
                        reason: format!(
                            "{} is held by {}",
                            k.describe(),
                            describe_account(holder_user, ix.in_scope[holder])
                        ),
                        source: Some(op.source.clone()),
                    });
                    dropped.insert(i);
                }
            }
        }
    }
    let creator: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.creates.as_deref().map(|k| (k, i)))
        .collect();
    for (i, op) in ops.iter().enumerate() {
        for k in &op.needs {
            if let Some(&j) = creator.get(k.as_str()) {
                edges[j].push(i);
            }
        }
    }
    (edges, dropped)
}

/// Kahn's algorithm, deterministic (by rank, then email, then input order). Ops left in a
/// cycle (a swap) are conflicts, added to `dropped`.
fn topological_order(
    ops: &[UserOp],
    edges: &[Vec<usize>],
    dropped: &mut BTreeSet<usize>,
    conflicts: &mut Vec<Conflict>,
) -> Vec<usize> {
    let mut indegree = vec![0usize; ops.len()];
    for targets in edges {
        for &i in targets {
            indegree[i] += 1;
        }
    }
    let key = |i: usize| (ops[i].rank, email_key(&ops[i].subject), i);
    let mut ready: BinaryHeap<Reverse<(u8, String, usize)>> = (0..ops.len())
        .filter(|&i| indegree[i] == 0)
        .map(|i| Reverse(key(i)))
        .collect();
    let mut order = Vec::with_capacity(ops.len());
    let mut done = vec![false; ops.len()];
    while let Some(Reverse((_, _, i))) = ready.pop() {
        done[i] = true;
        order.push(i);
        for &j in &edges[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(key(j)));
            }
        }
    }
    for i in (0..ops.len()).filter(|&i| !done[i]) {
        conflicts.push(Conflict {
            subject: ops[i].subject.clone(),
            reason: "takes an email or user name that another change in this plan must \
                     release first, in a cycle (a swap): change one side by hand first"
                .into(),
            source: Some(ops[i].source.clone()),
        });
        dropped.insert(i);
    }
    order
}

/// The kept ops in order, each with the positions (in that order) of the ops it waits for.
fn with_positions(ops: Vec<UserOp>, kept: &[usize], edges: &[Vec<usize>]) -> Vec<PlannedOp> {
    let mut position = vec![usize::MAX; ops.len()];
    for (p, &i) in kept.iter().enumerate() {
        position[i] = p;
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (j, targets) in edges.iter().enumerate() {
        for &i in targets {
            after[i].push(position[j]);
        }
    }
    let mut slots: Vec<Option<Op>> = ops.into_iter().map(|o| Some(o.op)).collect();
    kept.iter()
        .filter_map(|&i| {
            let mut waits = std::mem::take(&mut after[i]);
            waits.sort_unstable();
            waits.dedup();
            slots[i].take().map(|op| PlannedOp { op, after: waits })
        })
        .collect()
}
