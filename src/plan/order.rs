//! The plan's ordering edges across kinds of op: the planner's last step, so that a plan (and a
//! saved plan) lists every edge the executor honours, and the executor has no ordering rule of
//! its own. The edges between user ops (a key released before it is taken, a manager created
//! before a report names them) are made while the user ops are ordered (`user_order`); the ones here
//! are the rest:
//!
//! - [`members_after_their_updates`]: a group change waits for the updates of the existing
//!   accounts it adds or removes (a reactivation, a guest made a member);
//! - [`deactivations_last_on_their_account`]: a deactivation waits for every other op on its
//!   account (its update, the group changes naming it);
//! - [`deletions_last`]: group deletions wait for everything else.
//!
//! The plan lists user ops, then group creates and changes, then deactivations, then group
//! deletions, and each rule makes an op wait only for ops of an earlier part: every edge points
//! back, so a cycle is impossible by construction (and `plan::from_json` refuses a saved plan
//! with an edge that does not point back).
//!
//! These edges only order ops that are both in the plan: when the memory step holds an op
//! back, or a saved plan leaves one out, the edges to it go with it ([`binding`] tells them
//! from the edges an op cannot be written without).

use std::collections::HashMap;

use super::{Op, PlannedOp, UserRef};

/// Adds the edges across kinds of op (see the module doc) to `ops`, which are in plan order.
pub(super) fn add_edges(ops: &mut [PlannedOp]) {
    members_after_their_updates(ops);
    deactivations_last_on_their_account(ops);
    deletions_last(ops);
    for op in ops.iter_mut() {
        op.after.sort_unstable();
        op.after.dedup();
    }
}

/// Whether `waiter` cannot be written without `waited` (a user it refers to is created, a key
/// it takes is released), rather than only coming after it when both are in the plan. An op
/// that a binding edge points at is never held back; an order-only edge to an op that is held
/// back or left out is dropped.
pub fn binding(waiter: &Op, waited: &Op) -> bool {
    match (waiter, waited) {
        (Op::DeactivateUser { .. } | Op::DeleteGroup { .. }, _) => false,
        // A group is written with the members that exist: one whose create failed or is held
        // back is left out (and added by a later pass), never the whole group.
        (Op::CreateGroup { .. } | Op::UpdateGroup { .. }, Op::CreateUser { .. }) => false,
        (_, Op::CreateUser { .. }) => true,
        (Op::CreateUser { .. } | Op::UpdateUser { .. }, Op::UpdateUser { .. }) => true,
        _ => false,
    }
}

/// Whether `waiter` is skipped when `waited` did not apply. Every edge skips but one: a group
/// op waits for the creates of its new members only to add them, and writes the group with
/// the members that exist when one did not apply (issue 27: one failing member never blocks
/// its group).
pub fn skipped_with(waiter: &Op, waited: &Op) -> bool {
    !matches!(
        (waiter, waited),
        (
            Op::CreateGroup { .. } | Op::UpdateGroup { .. },
            Op::CreateUser { .. }
        )
    )
}

/// The existing accounts a group op adds or removes, by id.
fn group_members(op: &Op) -> Vec<&str> {
    fn id(r: &UserRef) -> Option<&str> {
        match r {
            UserRef::Id(id) => Some(id),
            UserRef::New(_) => None,
        }
    }
    match op {
        Op::CreateGroup { members, .. } => members.iter().filter_map(id).collect(),
        Op::UpdateGroup { add, remove, .. } => add
            .iter()
            .filter_map(id)
            .chain(remove.iter().map(String::as_str))
            .collect(),
        _ => Vec::new(),
    }
}

/// Each account's updates, by Slack id, as positions in `ops`.
fn updates(ops: &[PlannedOp]) -> HashMap<String, Vec<usize>> {
    let mut out: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Op::UpdateUser { id, .. } = &op.op {
            out.entry(id.clone()).or_default().push(i);
        }
    }
    out
}

/// A group change waits for the updates of the existing accounts it adds or removes: Slack
/// adds a reactivated account or a guest made a member only once the update has landed.
pub(super) fn members_after_their_updates(ops: &mut [PlannedOp]) {
    let updates = updates(ops);
    for (i, op) in ops.iter_mut().enumerate() {
        let waits: Vec<usize> = group_members(&op.op)
            .into_iter()
            .flat_map(|m| updates.get(m).into_iter().flatten().copied())
            .filter(|&j| j != i)
            .collect();
        op.after.extend(waits);
    }
}

/// A deactivation waits for every other op on its account (its update, the group changes that
/// name it), so nothing is written to an account after it is deactivated.
pub(super) fn deactivations_last_on_their_account(ops: &mut [PlannedOp]) {
    let mut on_account = updates(ops);
    for (i, op) in ops.iter().enumerate() {
        for m in group_members(&op.op) {
            on_account.entry(m.to_string()).or_default().push(i);
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        let Op::DeactivateUser { id, .. } = &op.op else {
            continue;
        };
        let waits: Vec<usize> = on_account
            .get(id.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|&j| j != i)
            .collect();
        op.after.extend(waits);
    }
}

/// Group deletions wait for everything else: a deletion is permanent, so it goes only once
/// every other change has applied.
pub(super) fn deletions_last(ops: &mut [PlannedOp]) {
    let others: Vec<usize> = (0..ops.len())
        .filter(|&j| !matches!(ops[j].op, Op::DeleteGroup { .. }))
        .collect();
    for op in ops.iter_mut() {
        if matches!(op.op, Op::DeleteGroup { .. }) {
            op.after.extend(others.iter().copied());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::UserFields;

    fn update(id: &str, reactivate: bool) -> PlannedOp {
        PlannedOp::new(Op::UpdateUser {
            id: id.into(),
            email: format!("{id}@example.com"),
            reactivate,
            fields: UserFields::default(),
            changes: vec![],
            source: "people.csv:2".into(),
        })
    }

    fn group_change(add: &[&str], remove: &[&str]) -> PlannedOp {
        PlannedOp::new(Op::UpdateGroup {
            id: "S1".into(),
            name: "team".into(),
            rename: None,
            add: add.iter().map(|a| UserRef::Id((*a).into())).collect(),
            remove: remove.iter().map(|r| (*r).to_string()).collect(),
        })
    }

    fn deactivate(id: &str) -> PlannedOp {
        PlannedOp::new(Op::DeactivateUser {
            id: id.into(),
            email: format!("{id}@example.com"),
            reason: crate::plan::Leaving::Absent,
        })
    }

    fn delete() -> PlannedOp {
        PlannedOp::new(Op::DeleteGroup {
            id: "S2".into(),
            name: "old".into(),
        })
    }

    #[test]
    fn each_rule_makes_its_edges_and_every_edge_points_back() {
        let mut ops = vec![
            update("W1", true),
            update("W2", false),
            group_change(&["W1"], &["W2"]),
            deactivate("W2"),
            deactivate("W3"),
            delete(),
            delete(),
        ];
        add_edges(&mut ops);
        let after: Vec<&[usize]> = ops.iter().map(|o| o.after.as_slice()).collect();
        assert_eq!(
            after,
            [
                &[][..],
                &[],
                &[0, 1],
                &[1, 2],
                &[],
                &[0, 1, 2, 3, 4],
                &[0, 1, 2, 3, 4],
            ]
        );
        for (i, op) in ops.iter().enumerate() {
            assert!(op.after.iter().all(|&j| j < i), "op {i} waits forward");
        }
    }

    #[test]
    fn only_refers_and_takes_are_binding() {
        let create = PlannedOp::new(Op::CreateUser {
            email: "new@example.com".into(),
            user_name: "new".into(),
            fields: UserFields::default(),
            source: "people.csv:2".into(),
        });
        let (up, group, gone, del) = (
            update("W1", false),
            group_change(&[], &[]),
            deactivate("W1"),
            delete(),
        );
        assert!(binding(&up, &create));
        assert!(
            !binding(&group, &create),
            "a group is written without a missing member"
        );
        assert!(!skipped_with(&group, &create));
        assert!(skipped_with(&up, &create));
        assert!(binding(&up, &update("W2", false)), "a key released");
        assert!(!binding(&group, &up), "a member's update only orders");
        assert!(!binding(&gone, &up));
        assert!(!binding(&gone, &group));
        assert!(!binding(&del, &create));
        assert!(!binding(&del, &gone));
    }
}
