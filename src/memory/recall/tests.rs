//! The memory's adjustments of a plan, without a network: grace, drift, stuck ops, the shrink
//! guard, and the renumbering of `after` when ops are held back.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;
use crate::config::Safety;
use crate::memory::{DigestKey, Digests, Failure, LastGood, retry_at, value_digest};
use crate::model::{Change, UserFields};
use crate::plan::{Counts, Guard, PlannedOp, Sealing, fingerprint};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

fn deactivate(id: &str) -> PlannedOp {
    PlannedOp::new(Op::DeactivateUser {
        id: id.into(),
        email: format!("{id}@example.com"),
        reason: Leaving::Absent,
    })
}

fn retitle(id: &str, from: &str, to: &str) -> PlannedOp {
    let mut fields = UserFields::default();
    fields.text.insert(Attribute::Title, Some(to.into()));
    PlannedOp::new(Op::UpdateUser {
        id: id.into(),
        email: format!("{id}@example.com"),
        reactivate: false,
        fields,
        changes: vec![Change {
            attribute: Attribute::Title,
            from: Some(from.into()),
            to: Some(to.into()),
        }],
        source: "people.yaml:1".into(),
    })
}

fn plan(ops: Vec<PlannedOp>) -> Plan {
    Plan {
        counts: Counts {
            managed_users: 100,
            directory_users: 100,
            ..Counts::default()
        },
        ..Plan::of(ops)
    }
}

/// `plan` sealed as the pass seals it after the memory step: its own counts, the guards (the
/// shrink guard against `memory`'s last good apply included) and the digest.
fn sealed(plan: Plan, memory: &Memory, policy: &Policy) -> Plan {
    let counts = plan.counts.clone();
    crate::plan::finish(
        plan,
        Sealing {
            counts,
            safety: &policy.safety,
            last_good: memory.last_good.as_ref().map(|l| &l.source_users),
            rate: None,
            bound: None,
        },
    )
}

fn policy(grace: Option<u64>) -> Policy {
    Policy {
        safety: Safety {
            deactivation_grace: grace.map(Duration::from_secs),
            ..Safety::default()
        },
        ..Policy::default()
    }
}

#[test]
fn a_leaver_is_pending_until_the_grace_period_is_over_and_then_counted_by_the_guards() {
    let p = plan(vec![deactivate("W1"), deactivate("W2")]);
    let mut memory = Memory::default();
    memory
        .leavers
        .insert("W2".into(), now() - chrono::Duration::hours(2));
    let out = recall(
        p,
        &memory,
        &policy(Some(3600)),
        StuckSettings::default(),
        now(),
    );
    assert_eq!(out.ops.len(), 1, "W2 has been absent for 2h of 1h");
    assert_eq!(out.ops[0].resource_id(), Some("W2"));
    assert_eq!(out.pending.len(), 1);
    assert_eq!(out.pending[0].id, "W1");
    assert_eq!(out.pending[0].remaining_secs, 3600);
    assert_eq!(out.summary().deactivate, 1);
    assert_eq!(out.summary().pending_deactivations, 1);
    let out = sealed(out, &memory, &policy(Some(3600)));
    assert_eq!(out.digest, crate::plan::digest(&out));
    assert_eq!(
        out.pending.len(),
        1,
        "sealing keeps what the memory step found"
    );

    // A tight guard counts the due one only.
    let mut tight = policy(Some(3600));
    tight.safety.max_deactivations = 0;
    let out = recall(
        plan(vec![deactivate("W1"), deactivate("W2")]),
        &memory,
        &tight,
        StuckSettings::default(),
        now(),
    );
    let out = sealed(out, &memory, &tight);
    assert_eq!(out.guards[0].guard, Guard::MaxDeactivations);
    assert_eq!(out.guards[0].actual, 1.0);
}

#[test]
fn an_explicit_active_false_is_not_delayed() {
    let mut p = plan(vec![deactivate("W1")]);
    if let Op::DeactivateUser { reason, .. } = &mut p.ops[0].op {
        *reason = Leaving::Inactive {
            at: "people.yaml:3".into(),
        };
    }
    let out = recall(
        p,
        &Memory::default(),
        &policy(Some(3600)),
        StuckSettings::default(),
        now(),
    );
    assert_eq!(out.ops.len(), 1);
    assert!(out.pending.is_empty());
}

#[test]
fn drift_is_a_change_back_to_the_last_applied_value_and_report_holds_it_back() {
    let mut memory = Memory::default();
    memory.applied.insert(
        "W1".into(),
        Digests::from([(
            Attribute::Title,
            value_digest(&DigestKey::default(), Some("Engineer")),
        )]),
    );
    memory.applied.insert(
        "W2".into(),
        Digests::from([(
            Attribute::Title,
            value_digest(&DigestKey::default(), Some("Engineer")),
        )]),
    );
    // W1 was edited in Slack; W2's title is changed by the directory.
    let ops = || {
        vec![
            retitle("W1", "Chief", "Engineer"),
            retitle("W2", "Engineer", "Manager"),
            deactivate("W3"),
        ]
    };
    let mut after = plan(ops());
    after.ops[2].after = vec![1];
    let out = recall(
        after,
        &memory,
        &Policy::default(),
        StuckSettings::default(),
        now(),
    );
    assert_eq!(out.drift.len(), 1);
    assert_eq!(out.drift[0].id, "W1");
    assert_eq!(out.drift[0].action, DriftAction::Revert);
    assert_eq!(out.ops.len(), 3, "enforce reverts");

    let mut report = Policy::default();
    report
        .attributes
        .modes
        .insert(Attribute::Title, AttributeMode::Report);
    let mut after = plan(ops());
    after.ops[2].after = vec![1];
    let out = recall(after, &memory, &report, StuckSettings::default(), now());
    assert_eq!(out.drift[0].action, DriftAction::Report);
    assert_eq!(out.ops.len(), 2, "the revert is held back: {:?}", out.ops);
    assert_eq!(out.ops[0].resource_id(), Some("W2"));
    assert_eq!(out.ops[1].after, vec![0], "renumbered");
}

#[test]
fn a_stuck_op_waits_out_its_backoff_and_a_changed_op_is_not_stuck() {
    let op = deactivate("W1");
    let stuck = StuckSettings {
        after: 2,
        backoff: Duration::from_secs(60),
    };
    let mut memory = Memory::default();
    memory.failures.insert(
        op_key(&op),
        Failure {
            op: fingerprint(&op.op),
            error: "403 forbidden".into(),
            passes: 2,
            last: now(),
            retry_at: retry_at(stuck, 2, now()),
        },
    );
    let p = || plan(vec![deactivate("W1")]);
    let out = recall(p(), &memory, &Policy::default(), stuck, now());
    assert!(out.ops.is_empty());
    assert_eq!(out.stuck[0].passes, 2);
    assert_eq!(out.stuck[0].key, "deactivate_user:W1");
    let later = now() + chrono::Duration::seconds(61);
    let out = recall(p(), &memory, &Policy::default(), stuck, later);
    assert_eq!(out.ops.len(), 1, "tried again after the backoff");
    assert_eq!(out.stuck[0].retry_at, None);

    memory.failures.get_mut(&op_key(&op)).unwrap().op = "other".into();
    let out = recall(p(), &memory, &Policy::default(), stuck, now());
    assert_eq!(out.ops.len(), 1);
    assert!(out.stuck.is_empty());
}

#[test]
fn the_backoff_doubles_and_stops_at_a_day() {
    let s = StuckSettings {
        after: 3,
        backoff: Duration::from_secs(3600),
    };
    let wait = |passes| retry_at(s, passes, now()).map(|t| (t - now()).num_hours());
    assert_eq!(wait(2), None);
    assert_eq!(wait(3), Some(1));
    assert_eq!(wait(4), Some(2));
    assert_eq!(wait(6), Some(8));
    assert_eq!(wait(40), Some(24));
}

#[test]
fn a_source_that_shrank_past_the_ratio_trips_its_own_guard() {
    let mut p = plan(vec![]);
    p.counts.source_users = BTreeMap::from([("hr.csv".into(), 79), ("extra.yaml".into(), 5)]);
    let memory = Memory {
        last_good: Some(LastGood {
            at: now(),
            source_users: BTreeMap::from([("hr.csv".into(), 100), ("extra.yaml".into(), 5)]),
        }),
        ..Memory::default()
    };
    let mut policy = Policy::default();
    policy.safety.max_source_shrink = Some(0.2);
    let out = recall(p.clone(), &memory, &policy, StuckSettings::default(), now());
    let out = sealed(out, &memory, &policy);
    assert_eq!(out.guards.len(), 1);
    assert_eq!(out.guards[0].guard, Guard::MaxSourceShrink);
    assert!(out.guards[0].message.contains("hr.csv has 79 users, 100"));
    p.counts.source_users.insert("hr.csv".into(), 80);
    let out = recall(p, &memory, &policy, StuckSettings::default(), now());
    let out = sealed(out, &memory, &policy);
    assert!(out.guards.is_empty(), "20% is not over 20%");
}

#[test]
fn waited_on_marks_exactly_the_ops_an_op_cannot_be_written_without_in_one_pass() {
    let mut p = plan(vec![
        retitle("W0", "a", "b"),
        deactivate("W1"),
        retitle("W2", "a", "b"),
        retitle("W3", "a", "b"),
        deactivate("W4"),
    ]);
    // W2 and W3 take keys W0 and W2 release; W4's deactivation only comes after W3's update.
    p.ops[2].after = vec![0];
    p.ops[3].after = vec![0, 2];
    p.ops[4].after = vec![3];
    assert_eq!(waited_on(&p), vec![true, false, true, false, false]);
}

#[test]
fn a_leaver_that_others_only_come_after_is_held_back_and_the_edges_go_with_it() {
    let mut p = plan(vec![
        retitle("W2", "a", "b"),
        deactivate("W1"),
        PlannedOp::new(Op::DeleteGroup {
            id: "S1".into(),
            name: "old".into(),
        }),
    ]);
    // As the planner orders them: the deletion after everything.
    p.ops[2].after = vec![0, 1];
    let out = recall(
        p,
        &Memory::default(),
        &policy(Some(86_400)),
        StuckSettings::default(),
        now(),
    );
    let ids: Vec<_> = out.ops.iter().filter_map(|o| o.op.resource_id()).collect();
    assert_eq!(ids, vec!["W2", "S1"], "W1 waits out its grace");
    assert_eq!(
        out.ops[1].after,
        vec![0],
        "the edge to the held leaver went with it"
    );
    assert_eq!(out.pending.len(), 1);
    assert_eq!(out.pending[0].id, "W1");
}

/// An update of W1 making each `(attribute, from, to)` change, its fields holding `also` too
/// (the parts of the address it does not change, as the planner sends them whole).
fn update(changes: &[(Attribute, &str, &str)], also: &[(Attribute, &str)]) -> PlannedOp {
    let mut fields = UserFields::default();
    for &(a, _, to) in changes {
        fields.text.insert(a, Some(to.into()));
    }
    for &(a, v) in also {
        fields.text.insert(a, Some(v.into()));
    }
    PlannedOp::new(Op::UpdateUser {
        id: "W1".into(),
        email: "W1@example.com".into(),
        reactivate: false,
        fields,
        changes: changes
            .iter()
            .map(|&(attribute, from, to)| Change {
                attribute,
                from: Some(from.into()),
                to: Some(to.into()),
            })
            .collect(),
        source: "people.yaml:1".into(),
    })
}

/// W1's street and title as scimsync last applied them, both reported (not reverted).
fn street_and_title_reported() -> (Memory, Policy) {
    let key = DigestKey::default();
    let mut memory = Memory::default();
    memory.applied.insert(
        "W1".into(),
        Digests::from([
            (
                Attribute::AddressStreet,
                value_digest(&key, Some("1 Old St")),
            ),
            (Attribute::Title, value_digest(&key, Some("Engineer"))),
        ]),
    );
    let mut policy = Policy::default();
    for a in [Attribute::AddressStreet, Attribute::Title] {
        policy.attributes.modes.insert(a, AttributeMode::Report);
    }
    (memory, policy)
}

/// `op` after the memory step: how many drifts it told, and the update's changes and fields.
fn written(
    op: PlannedOp,
    memory: &Memory,
    policy: &Policy,
) -> (usize, Vec<Attribute>, BTreeMap<Attribute, Option<String>>) {
    let plan = recall(
        plan(vec![op]),
        memory,
        policy,
        StuckSettings::default(),
        now(),
    );
    let Op::UpdateUser {
        changes, fields, ..
    } = &plan.ops[0].op
    else {
        panic!("not an update: {:?}", plan.ops);
    };
    let changed = changes.iter().map(|c| c.attribute).collect();
    let fields = fields.text.iter().map(|(a, v)| (*a, v.clone())).collect();
    (plan.drift.len(), changed, fields)
}

#[test]
fn a_reported_address_part_is_written_as_slack_has_it_while_another_part_is_written() {
    // The street was edited by hand in Slack (reported); the directory moves the locality.
    // Slack replaces the whole address on a write, so the street goes as Slack has it. The
    // title's hand edit, also reported, is no address part: it leaves the write.
    let (memory, policy) = street_and_title_reported();
    let op = update(
        &[
            (Attribute::AddressStreet, "2 Hand St", "1 Old St"),
            (Attribute::AddressLocality, "Oldtown", "Newtown"),
            (Attribute::Title, "Chief", "Engineer"),
        ],
        &[(Attribute::AddressRegion, "CA")],
    );
    let (drifts, changed, fields) = written(op, &memory, &policy);
    assert_eq!(drifts, 2);
    assert_eq!(changed, [Attribute::AddressLocality]);
    assert_eq!(
        fields,
        BTreeMap::from([
            (Attribute::AddressStreet, Some("2 Hand St".into())),
            (Attribute::AddressLocality, Some("Newtown".into())),
            (Attribute::AddressRegion, Some("CA".into())),
        ])
    );
}

#[test]
fn a_reported_address_part_alone_writes_no_address() {
    // Only the street changed in the address, by hand (reported): no part of the address is
    // written, though the directory changes the title.
    let (memory, mut policy) = street_and_title_reported();
    policy.attributes.modes.remove(&Attribute::Title);
    let op = update(
        &[
            (Attribute::AddressStreet, "2 Hand St", "1 Old St"),
            (Attribute::Title, "Engineer", "Manager"),
        ],
        &[(Attribute::AddressLocality, "Town")],
    );
    let (drifts, changed, fields) = written(op, &memory, &policy);
    assert_eq!(drifts, 1);
    assert_eq!(changed, [Attribute::Title]);
    assert_eq!(
        fields,
        BTreeMap::from([(Attribute::Title, Some("Manager".into()))])
    );
}
