//! A saved plan held against now. `apply --plan FILE` applies what a reviewer saw, and only
//! what the plan made now — from the current directory, config, state and Slack — also calls
//! for: the saved plan is a promise that is checked, never an instruction that is followed.
//! A deactivation whose grace period has not run out, a create whose account or group
//! already exists (the plan was applied before: a replay writes nothing), an op that is stuck
//! now, or one the directory no longer wants refuses the whole plan, naming each op. Pure: the
//! caller lists Slack and plans first.

use std::collections::{HashMap, HashSet};

use super::seal::Binding;
use super::{Leaving, Notice, Op, Plan, PlannedOp, Refusal};
use crate::model::LiveState;
use crate::slack_rules::{email_key, user_name_key};

/// Why a saved plan's binding does not fit this pass, if it does not.
pub fn binding_differs(saved: &Binding, now: &Binding) -> Option<String> {
    if saved.target != now.target {
        Some(format!(
            "it was made for the target {}, and this config's target is {}; make a new plan",
            saved.target, now.target
        ))
    } else if saved.organisation != now.organisation {
        Some(format!(
            "it was made against the Slack organisation {}, and the token reaches {}; make a \
             new plan",
            saved.organisation, now.organisation
        ))
    } else if saved.config_sha256 != now.config_sha256 {
        Some(format!(
            "it was made with another config (SHA-256 {}…; {} is {}…); make a new plan with \
             this config",
            &saved.config_sha256[..saved.config_sha256.len().min(12)],
            now.config,
            &now.config_sha256[..now.config_sha256.len().min(12)]
        ))
    } else {
        None
    }
}

/// An op as a write: where it was declared does not matter, what it sends does (a
/// deactivation's reason only as absent or declared inactive, not where).
fn write_of(op: &Op) -> String {
    let mut op = op.clone();
    match &mut op {
        Op::CreateUser { source, .. }
        | Op::UpdateUser { source, .. }
        | Op::CreateGroup { source, .. } => source.clear(),
        Op::DeactivateUser {
            reason: Leaving::Inactive { at },
            ..
        } => at.clear(),
        Op::DeactivateUser {
            reason: Leaving::Absent,
            ..
        } => {}
        Op::UpdateGroup { .. } | Op::DeleteGroup { .. } => {}
    }
    serde_json::to_string(&op).expect("ops serialise")
}

/// `fresh` with only the ops `saved` also has (each matched to an equal write), their `after`
/// renumbered; the ops `fresh` has beyond them are left out and named in a notice. Every op of
/// `saved` must be matched, and what a kept op cannot be written without
/// ([`super::order::binding`]) must be kept too; otherwise the refusals, one per op. An edge
/// that only orders, to an op left out, goes with it.
pub fn reconcile(saved: &Plan, fresh: Plan, live: &LiveState) -> Result<Plan, Vec<Refusal>> {
    let mut by_write: HashMap<String, Vec<usize>> = HashMap::new();
    for (j, op) in fresh.ops.iter().enumerate() {
        by_write.entry(write_of(op)).or_default().push(j);
    }
    // fresh index → saved index
    let mut kept: HashMap<usize, usize> = HashMap::new();
    let mut refusals = Vec::new();
    for (i, op) in saved.ops.iter().enumerate() {
        match by_write.get_mut(&write_of(op)).and_then(Vec::pop) {
            Some(j) => {
                kept.insert(j, i);
            }
            None => refusals.push(Refusal {
                index: i,
                kind: op.kind(),
                subject: op.subject().to_string(),
                reason: why_not_now(op, &fresh, live),
            }),
        }
    }
    for (j, op) in fresh.ops.iter().enumerate() {
        let Some(&i) = kept.get(&j) else { continue };
        let needs = |a: &&usize| super::order::binding(&op.op, &fresh.ops[**a].op);
        if let Some(&missing) = op
            .after
            .iter()
            .filter(needs)
            .find(|a| !kept.contains_key(a))
        {
            let other = &fresh.ops[missing];
            refusals.push(Refusal {
                index: i,
                kind: op.kind(),
                subject: op.subject().to_string(),
                reason: format!(
                    "it must now wait for a change the saved plan does not have ({} {})",
                    other.kind(),
                    other.subject()
                ),
            });
        }
    }
    if !refusals.is_empty() {
        refusals.sort_by_key(|r| r.index);
        return Err(refusals);
    }
    let kept: HashSet<usize> = kept.into_keys().collect();
    Ok(restrict(fresh, &kept))
}

/// `plan` with only the ops at `kept`, `after` renumbered, and a notice for the rest.
fn restrict(mut plan: Plan, kept: &HashSet<usize>) -> Plan {
    let mut new_index = vec![None; plan.ops.len()];
    let mut ops: Vec<PlannedOp> = Vec::with_capacity(kept.len());
    let mut left_out: Vec<String> = Vec::new();
    for (j, op) in std::mem::take(&mut plan.ops).into_iter().enumerate() {
        if kept.contains(&j) {
            new_index[j] = Some(ops.len());
            ops.push(op);
        } else {
            left_out.push(format!("{} {}", op.kind(), op.subject()));
        }
    }
    for op in &mut ops {
        op.after = op.after.iter().filter_map(|&a| new_index[a]).collect();
    }
    plan.ops = ops;
    if !left_out.is_empty() {
        let shown: Vec<&str> = left_out.iter().take(5).map(String::as_str).collect();
        let more = left_out.len().saturating_sub(shown.len());
        plan.notices.push(Notice {
            subject: "saved plan".into(),
            message: format!(
                "{} change(s) called for now are not in the saved plan and are not applied: \
                 {}{}; the next plan shows them",
                left_out.len(),
                shown.join(", "),
                if more > 0 {
                    format!(", and {more} more")
                } else {
                    String::new()
                }
            ),
        });
        plan.notices.sort();
    }
    plan
}

/// Why the plan made now has no op equal to `op`, in words for the refusal.
fn why_not_now(op: &Op, fresh: &Plan, live: &LiveState) -> String {
    let held = |subject: &str| fresh.stuck.iter().find(|s| s.subject == subject);
    match op {
        Op::DeactivateUser { id, .. } => {
            if let Some(p) = fresh.pending.iter().find(|p| &p.id == id) {
                return format!(
                    "not due: its grace period runs until {}",
                    p.due.format("%Y-%m-%d %H:%M UTC")
                );
            }
            if live.users.iter().any(|u| &u.id == id && !u.active) {
                return "the account is already deactivated".into();
            }
        }
        Op::CreateUser {
            email, user_name, ..
        } => {
            let (e, n) = (email_key(email), user_name_key(user_name));
            if let Some(u) = live
                .users
                .iter()
                .find(|u| u.email_keys().any(|k| k == e) || u.user_name_key() == n)
            {
                return format!(
                    "{email} or its user name is already held by account {} (was this plan \
                     applied already?)",
                    u.id
                );
            }
        }
        Op::CreateGroup { name, .. } => {
            let key = name.trim().to_lowercase();
            if let Some(g) = live.groups.iter().find(|g| g.name_key() == key) {
                return format!(
                    "a group named {name:?} exists ({}; was this plan applied already?)",
                    g.id
                );
            }
        }
        _ => {}
    }
    if let Some(s) = held(op.subject()) {
        return format!("it is stuck ({}) and held back now", s.error);
    }
    "the directory, the state or Slack no longer call for it as saved".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{LiveUser, UserFields};
    use crate::plan::Pending;

    fn create(email: &str) -> PlannedOp {
        PlannedOp::new(Op::CreateUser {
            email: email.into(),
            user_name: email.split('@').next().unwrap().into(),
            fields: UserFields::default(),
            source: "people.csv:2".into(),
        })
    }

    fn deactivate(id: &str) -> PlannedOp {
        PlannedOp::new(Op::DeactivateUser {
            id: id.into(),
            email: format!("{id}@x.io"),
            reason: Leaving::Absent,
        })
    }

    #[test]
    fn only_ops_both_plans_have_are_kept_and_edges_renumbered() {
        let saved = Plan::of(vec![create("a@x.io"), deactivate("W1")]);
        let mut moved = create("a@x.io");
        if let Op::CreateUser { source, .. } = &mut moved.op {
            *source = "people.csv:9".into(); // the row moved: the same write
        }
        let mut waits = deactivate("W1");
        waits.after = vec![1];
        let fresh = Plan::of(vec![create("b@x.io"), moved, waits]);
        let out = reconcile(&saved, fresh, &LiveState::default()).unwrap();
        assert_eq!(out.ops.len(), 2);
        assert_eq!(out.ops[1].after, vec![0]);
        assert!(out.notices[0].message.contains("create_user b@x.io"));
    }

    #[test]
    fn a_deactivation_not_due_and_a_replayed_create_are_refused() {
        let saved = Plan::of(vec![create("a@x.io"), deactivate("W1")]);
        let mut fresh = Plan::of(vec![]);
        fresh.pending.push(Pending {
            id: "W1".into(),
            email: "W1@x.io".into(),
            since: chrono::DateTime::from_timestamp(0, 0).unwrap(),
            due: chrono::DateTime::from_timestamp(86_400, 0).unwrap(),
            remaining_secs: 86_400,
        });
        let live = LiveState {
            users: vec![LiveUser {
                id: "W9".into(),
                user_name: "a".into(),
                active: true,
                email: "A@x.io".into(),
                ..LiveUser::default()
            }],
            groups: vec![],
        };
        let refused = reconcile(&saved, fresh, &live).unwrap_err();
        assert_eq!(refused.len(), 2);
        assert!(
            refused[0].reason.contains("already held by account W9"),
            "{refused:?}"
        );
        assert!(refused[1].reason.contains("not due"), "{refused:?}");
    }

    #[test]
    fn an_op_waiting_for_a_change_outside_the_saved_plan_is_refused() {
        // a@x.io names b@x.io as manager now: b's create is binding.
        let saved = Plan::of(vec![create("a@x.io")]);
        let mut waits = create("a@x.io");
        waits.after = vec![0];
        let fresh = Plan::of(vec![create("b@x.io"), waits]);
        let refused = reconcile(&saved, fresh, &LiveState::default()).unwrap_err();
        assert!(refused[0].reason.contains("must now wait"), "{refused:?}");
    }

    #[test]
    fn an_order_only_edge_to_a_change_outside_the_saved_plan_goes_with_it() {
        let saved = Plan::of(vec![deactivate("W1")]);
        let mut last = deactivate("W1");
        last.after = vec![0]; // after the account's update, which the saved plan lacks
        let update = PlannedOp::new(Op::UpdateUser {
            id: "W1".into(),
            email: "W1@x.io".into(),
            reactivate: false,
            fields: UserFields::default(),
            changes: vec![],
            source: "people.csv:2".into(),
        });
        let fresh = Plan::of(vec![update, last]);
        let out = reconcile(&saved, fresh, &LiveState::default()).unwrap();
        assert_eq!(out.ops.len(), 1);
        assert!(out.ops[0].after.is_empty());
    }

    #[test]
    fn bindings_differ_by_target_organisation_or_config() {
        let b = Binding {
            target: "https://api.slack.com/scim/v2/".into(),
            organisation: "E1".into(),
            config: "a.yaml".into(),
            config_sha256: "aa".repeat(32),
        };
        assert_eq!(binding_differs(&b, &b), None);
        let other = |f: &dyn Fn(&mut Binding)| {
            let mut o = b.clone();
            f(&mut o);
            binding_differs(&b, &o).unwrap()
        };
        assert!(other(&|o| o.target = "embedded".into()).contains("target"));
        assert!(other(&|o| o.organisation = "E2".into()).contains("organisation E1"));
        assert!(other(&|o| o.config_sha256 = "bb".repeat(32)).contains("another config"));
    }
}
