//! The executor alone, against the emulator: hand-made plans (so each test says exactly which
//! ops and edges it means) applied by `scimsync::apply`, and Slack's state read back. What a
//! failed write does to the ops that wait on it, lost replies to group creates, membership
//! chunking, the audit log, the stop flag, phases and per-resource locking.

use scimsync::shutdown::{Shutdown, Signal};
use std::sync::Arc;
use std::time::Duration;

use scimsync::apply::{
    AuditLog, Controls, OpResult, Outcome, Progress, execute, execute_until, execute_with,
};
use scimsync::emulator::{EmulatorConfig, Faults, Snapshot, Store, StoredGroup, StoredUser};
use scimsync::model::Attribute;
use scimsync::plan::{Change, Leaving, Op, Plan, PlannedOp, UserFields, UserRef};
use scimsync::scim::Version;
use scimsync::scim::caller::Caller;
use scimsync::scim::limits::Endpoint;

use crate::harness::{BOTH, Org, org_with};

/// An emulator holding `users` and `groups` (ids as given), and a caller with fast retries.
async fn rig(
    v: Version,
    config: EmulatorConfig,
    users: Vec<StoredUser>,
    groups: Vec<StoredGroup>,
) -> (Org, Caller) {
    let store = Store::from_snapshot(Snapshot { users, groups }, 'W', 7, "test").unwrap();
    let o = org_with(config, store).await;
    let caller = crate::harness::caller(&o, v);
    (o, caller)
}

/// [`rig`] with one account, ada (W1), and no group, on SCIM v2.
async fn rig_ada() -> (Org, Caller) {
    rig(
        Version::V2,
        EmulatorConfig::default(),
        vec![user("W1", "ada")],
        vec![],
    )
    .await
}

fn user(id: &str, name: &str) -> StoredUser {
    StoredUser {
        id: id.into(),
        ..StoredUser::new(name, &format!("{name}@example.com"))
    }
}

fn group(id: &str, name: &str, members: &[&str]) -> StoredGroup {
    StoredGroup {
        id: id.into(),
        display_name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        ..StoredGroup::default()
    }
}

fn plan(ops: Vec<PlannedOp>) -> Plan {
    Plan::of(ops)
}

fn after(op: Op, after: &[usize]) -> PlannedOp {
    PlannedOp {
        op,
        after: after.to_vec(),
    }
}

fn create_user(name: &str, manager: Option<&str>) -> Op {
    let fields = UserFields {
        manager: manager.map(|m| Some(UserRef::New(m.into()))),
        ..UserFields::default()
    };
    Op::CreateUser {
        email: format!("{name}@example.com"),
        user_name: name.into(),
        fields,
        source: "people.csv:2".into(),
    }
}

/// An update of `id` setting its title (and its manager to a user this plan creates, if
/// given).
fn update_user(id: &str, title: &str, manager: Option<&str>) -> Op {
    let mut fields = UserFields {
        manager: manager.map(|m| Some(UserRef::New(m.into()))),
        ..UserFields::default()
    };
    fields.text.insert(Attribute::Title, Some(title.into()));
    Op::UpdateUser {
        id: id.into(),
        email: format!("{id}@example.com"),
        reactivate: false,
        fields,
        changes: vec![Change {
            attribute: Attribute::Title,
            from: None,
            to: Some(title.into()),
        }],
        source: "people.csv:3".into(),
    }
}

fn results(o: &Outcome) -> Vec<&OpResult> {
    o.ops.iter().map(|op| &op.result).collect()
}

fn applied() -> OpResult {
    OpResult::Applied { note: None }
}

fn skipped_after(who: &str) -> OpResult {
    OpResult::Skipped {
        reason: format!("it depends on the change to {who}, which did not apply"),
    }
}

/// A fault seed whose successive requests meet `rolls` (`'a'`: the connection drops after the
/// write, `'b'`: before it, `'.'`: answered), with `drop_rate` 0.5 and no injected errors:
/// the emulator rolls, per request, an error, a status, a drop and (if dropped) its side.
fn seed_for(rolls: &str) -> u64 {
    (0..10_000u64)
        .find(|&seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            rolls.chars().all(|want| {
                let _error = rng.f64();
                let _status = rng.bool();
                let dropped = rng.f64() < 0.5;
                let got = if dropped {
                    if rng.bool() { 'b' } else { 'a' }
                } else {
                    '.'
                };
                got == want
            })
        })
        .expect("a seed")
}

fn drops(seed: u64) -> Faults {
    Faults {
        drop_rate: 0.5,
        seed,
        ..Faults::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dependents_of_a_failed_write_are_skipped_with_the_reason_and_the_rest_applies() {
    for v in BOTH {
        // `taken@example.com` belongs to someone else: the manager's create is rejected.
        let (o, caller) = rig(
            v,
            EmulatorConfig::default(),
            vec![
                user("W1", "ada"),
                user("W2", "bob"),
                user("W3", "cy"),
                StoredUser {
                    id: "W4".into(),
                    ..StoredUser::new("someone", "taken@example.com")
                },
            ],
            vec![group("S1", "team", &["W1"])],
        )
        .await;
        let p = plan(vec![
            PlannedOp::new(create_user("taken", None)),
            after(update_user("W1", "Report", Some("taken@example.com")), &[0]),
            PlannedOp::new(update_user("W2", "Lead", None)),
            after(
                Op::UpdateGroup {
                    id: "S1".into(),
                    name: "team".into(),
                    rename: None,
                    add: vec![UserRef::New("taken@example.com".into())],
                    remove: vec![],
                },
                &[0],
            ),
            after(
                Op::DeactivateUser {
                    id: "W3".into(),
                    email: "cy@example.com".into(),
                    reason: scimsync::plan::Leaving::Absent,
                },
                &[2],
            ),
        ]);
        let out = execute(&p, &caller, 4, None).await;
        let r = results(&out);
        assert!(
            matches!(r[0], OpResult::Failed { status: Some(409), code: Some(c), .. } if c == "email_taken"),
            "{v}: {:?}",
            r[0]
        );
        assert_eq!(*r[1], skipped_after("taken@example.com"), "{v}");
        assert_eq!(*r[2], applied(), "{v}");
        // A group op waits for a new member's create only to add them (issue 27): it goes
        // ahead without the member.
        assert!(
            matches!(r[3], OpResult::Applied { note: Some(n) } if n.contains("not added")),
            "{v}: {:?}",
            r[3]
        );
        assert_eq!(*r[4], applied(), "{v}: it waited on an op that applied");
        assert_eq!((out.applied(), out.failed(), out.skipped()), (3, 1, 1));
        assert!(
            out.render()
                .contains("skipped, it depends on the change to taken@example.com"),
            "{}",
            out.render()
        );
        o.emu.with_store(|s| {
            let ada = s.user("W1").unwrap();
            assert_eq!(
                ada.text(Attribute::Title),
                None,
                "{v}: the skipped update was not sent"
            );
            assert_eq!(ada.manager_id, None);
            assert_eq!(s.user("W2").unwrap().text(Attribute::Title), Some("Lead"));
            assert!(!s.user("W3").unwrap().active);
            assert_eq!(s.group("S1").unwrap().members, ["W1"]);
        });
        assert_eq!(o.emu.stats().count("PATCH", Endpoint::UserUpdate), 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn new_users_are_referred_to_by_the_ids_slack_gave_them_and_missing_ones_are_noted() {
    for v in BOTH {
        let (o, caller) = rig(
            v,
            EmulatorConfig::default(),
            vec![user("W1", "ada"), user("W2", "bob")],
            vec![group("S1", "team", &["W2"])],
        )
        .await;
        let ghost = "ghost@example.com"; // a user this plan was to create, but does not
        let p = plan(vec![
            PlannedOp::new(create_user("boss", None)),
            after(create_user("rep", Some("boss@example.com")), &[0]),
            after(update_user("W1", "Report", Some("boss@example.com")), &[0]),
            PlannedOp::new(create_user("lone", Some(ghost))),
            PlannedOp::new(update_user("W2", "Lead", Some(ghost))),
            after(
                Op::CreateGroup {
                    name: "new-team".into(),
                    members: vec![
                        UserRef::New("boss@example.com".into()),
                        UserRef::Id("W1".into()),
                        UserRef::New(ghost.into()),
                    ],
                    source: "groups.yaml:2".into(),
                },
                &[0],
            ),
            after(
                Op::UpdateGroup {
                    id: "S1".into(),
                    name: "team".into(),
                    rename: Some("squad".into()),
                    add: vec![
                        UserRef::New("rep@example.com".into()),
                        UserRef::New(ghost.into()),
                    ],
                    remove: vec!["W2".into()],
                },
                &[1],
            ),
            PlannedOp::new(Op::CreateGroup {
                name: "empty".into(),
                members: vec![],
                source: "groups.yaml:3".into(),
            }),
        ]);
        let out = execute(&p, &caller, 4, None).await;
        let not_created = OpResult::Applied {
            note: Some("manager not set: not created".into()),
        };
        let one_missing = OpResult::Applied {
            note: Some("1 member(s) not added: not created".into()),
        };
        let r = results(&out);
        assert_eq!(
            r,
            [
                &applied(),
                &applied(),
                &applied(),
                &not_created,
                &not_created,
                &one_missing,
                &one_missing,
                &applied(),
            ],
            "{v}"
        );
        let (boss, rep) = o.emu.with_store(|s| {
            (
                s.user_by_email("boss@example.com").unwrap().id.clone(),
                s.user_by_email("rep@example.com").unwrap().id.clone(),
            )
        });
        assert_eq!(out.ops[0].resource.as_deref(), Some(boss.as_str()));
        assert_eq!(out.ops[1].resource.as_deref(), Some(rep.as_str()));
        o.emu.with_store(|s| {
            assert_eq!(s.user(&rep).unwrap().manager_id.as_deref(), Some(&*boss));
            assert_eq!(s.user("W1").unwrap().manager_id.as_deref(), Some(&*boss));
            assert_eq!(s.user("W1").unwrap().text(Attribute::Title), Some("Report"));
            let lone = s.user_by_email("lone@example.com").unwrap();
            assert_eq!(lone.manager_id, None);
            assert_eq!(s.user("W2").unwrap().text(Attribute::Title), Some("Lead"));
            let mut members = s.group_by_name("new-team").unwrap().members.clone();
            members.sort();
            let mut want = vec![boss.clone(), "W1".to_string()];
            want.sort();
            assert_eq!(members, want, "{v}");
            let squad = s.group("S1").unwrap();
            assert_eq!(squad.display_name, "squad");
            assert_eq!(squad.members, [rep.as_str()]);
            assert!(s.group_by_name("empty").unwrap().members.is_empty());
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_create_whose_answer_was_lost_is_adopted_not_duplicated() {
    // The create is applied but its answer lost; before sending it again the group is looked
    // up by name, found, adopted, and its members made sure of.
    let seed = seed_for("a...");
    for v in BOTH {
        let (o, caller) = rig(
            v,
            EmulatorConfig::default(),
            vec![user("W1", "ada"), user("W2", "bob")],
            vec![],
        )
        .await;
        o.emu.set_faults(drops(seed));
        let p = plan(vec![PlannedOp::new(Op::CreateGroup {
            name: "lost".into(),
            members: vec![UserRef::Id("W1".into()), UserRef::Id("W2".into())],
            source: "groups.yaml:2".into(),
        })]);
        let out = execute(&p, &caller, 1, None).await;
        let s = o.emu.stats();
        assert_eq!(s.dropped_connections, 1, "{v}: the first answer was lost");
        assert!(out.complete(), "{v}: {}", out.render());
        assert_eq!(
            s.count("POST", Endpoint::GroupCreate),
            1,
            "created once: looked up by name, never sent again"
        );
        assert!(out.render().contains("Applied 1 of 1"), "{}", out.render());
        assert!(
            serde_json::to_string(&out).unwrap().contains("adopted"),
            "{v}"
        );
        let (count, id, mut members) = o.emu.with_store(|st| {
            let g = st.group_by_name("lost").unwrap();
            (st.group_count(), g.id.clone(), g.members.clone())
        });
        assert_eq!(count, 1, "{v}: exactly one group");
        assert_eq!(out.ops[0].resource.as_deref(), Some(id.as_str()));
        members.sort();
        assert_eq!(members, ["W1", "W2"]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_create_meeting_an_existing_name_or_address_fails_and_adopts_nothing() {
    // Answered at once (one attempt), a 409 is someone else's group or account: never adopted.
    for v in BOTH {
        let (o, caller) = rig(
            v,
            EmulatorConfig::default(),
            vec![user("W1", "ada"), user("W2", "held")],
            vec![group("S1", "taken", &["W2"])],
        )
        .await;
        let p = plan(vec![
            PlannedOp::new(Op::CreateGroup {
                name: "taken".into(),
                members: vec![UserRef::Id("W1".into())],
                source: "groups.yaml:2".into(),
            }),
            PlannedOp::new(create_user("held", None)),
        ]);
        let out = execute(&p, &caller, 1, None).await;
        let r = results(&out);
        assert!(
            matches!(
                r[0],
                OpResult::Failed {
                    status: Some(409),
                    ..
                }
            ),
            "{v}: {:?}",
            r[0]
        );
        assert!(
            matches!(
                r[1],
                OpResult::Failed {
                    status: Some(409),
                    ..
                }
            ),
            "{v}: {:?}",
            r[1]
        );
        assert_eq!(out.ops[0].resource, None);
        assert_eq!(out.ops[1].resource, None);
        o.emu.with_store(|s| {
            assert_eq!(s.group("S1").unwrap().members, ["W2"], "{v}: untouched");
            assert_eq!(s.group_count(), 1);
        });
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_create_that_meets_another_persons_account_fails() {
    // The first attempt never arrives; the retry finds the address held by an account with
    // another user name: not ours, so not adopted.
    let seed = seed_for("b..");
    for v in BOTH {
        let (o, caller) = rig(
            v,
            EmulatorConfig::default(),
            vec![StoredUser {
                id: "W1".into(),
                ..StoredUser::new("someone", "new@example.com")
            }],
            vec![],
        )
        .await;
        o.emu.set_faults(drops(seed));
        let p = plan(vec![PlannedOp::new(create_user("new", None))]);
        let out = execute(&p, &caller, 1, None).await;
        assert_eq!(o.emu.stats().dropped_connections, 1, "{v}");
        assert!(
            matches!(&out.ops[0].result, OpResult::Failed { status: Some(409), code: Some(c), .. } if c == "email_taken"),
            "{v}: {}",
            out.render()
        );
        assert_eq!(out.ops[0].resource, None);
    }
}

/// A create whose answer was lost, retried into `email_taken`, looks its account up while
/// Slack's reads lag the write: asking again with a doubling pause (a few lookups, not a
/// stream of them) until the account shows — then adopted — or, past the lookup's patience
/// (12 s), giving up with Slack's answer. `lag` is how long the emulator's reads lag.
async fn lost_create_looked_up_under_lag(lag: Duration) -> (Outcome, u64, Duration) {
    let (o, caller) = rig(
        Version::V2,
        EmulatorConfig {
            read_lag: lag,
            ..EmulatorConfig::default()
        },
        vec![],
        vec![],
    )
    .await;
    // The first POST applies and its answer is lost; then every request is answered.
    o.emu.set_faults(drops(seed_for("a.........")));
    let p = plan(vec![PlannedOp::new(create_user("new", None))]);
    let started = std::time::Instant::now();
    let out = execute(&p, &caller, 1, None).await;
    let took = started.elapsed();
    assert_eq!(o.emu.stats().dropped_connections, 1);
    (out, o.emu.stats().count("GET", Endpoint::UsersList), took)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_is_looked_up_patiently_while_reads_lag_and_adopted() {
    let (out, lookups, _) = lost_create_looked_up_under_lag(Duration::from_millis(1500)).await;
    assert!(
        matches!(&out.ops[0].result, OpResult::Applied { note: Some(n) } if n.contains("adopted")),
        "{}",
        out.render()
    );
    // Pauses of 0.25, 0.5, 1 s...: the account shows by the third or fourth lookup.
    assert!((2..=6).contains(&lookups), "{lookups} lookups");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lost_create_still_unseen_after_the_lookups_patience_fails_with_slacks_answer() {
    let (out, lookups, took) = lost_create_looked_up_under_lag(Duration::from_secs(60)).await;
    assert!(
        matches!(&out.ops[0].result, OpResult::Failed { status: Some(409), code: Some(c), .. } if c == "email_taken"),
        "{}",
        out.render()
    );
    assert!(
        took >= Duration::from_secs(8) && took < Duration::from_secs(30),
        "gave up after {took:?}"
    );
    assert!((4..=10).contains(&lookups), "{lookups} lookups");
}

/// A group create Slack answered with an error — here a 5xx on every try — is no lost
/// answer: it is sent again as the retry policy allows, then fails with Slack's status,
/// without a lookup for a group that may exist.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_create_slack_answered_with_an_error_fails_without_a_lookup() {
    let (o, caller) = rig(Version::V2, EmulatorConfig::default(), vec![], vec![]).await;
    o.emu.set_faults(Faults {
        error_rate: 1.0,
        ..Faults::default()
    });
    let p = plan(vec![PlannedOp::new(Op::CreateGroup {
        name: "eng".into(),
        members: vec![],
        source: "groups.yaml:1".into(),
    })]);
    let out = execute(&p, &caller, 1, None).await;
    assert!(
        matches!(&out.ops[0].result, OpResult::Failed { status: Some(s), .. } if *s >= 500),
        "{}",
        out.render()
    );
    assert_eq!(o.emu.stats().count("GET", Endpoint::GroupsList), 0);
    // A 5xx says nothing was created: the create is sent again, as often as the policy allows.
    assert_eq!(
        o.emu.stats().count("POST", Endpoint::GroupCreate),
        u64::from(caller.policy.max_attempts)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn membership_changes_over_a_thousand_members_are_sent_in_chunks() {
    let n = 1001;
    let users: Vec<StoredUser> = (0..n)
        .map(|i| user(&format!("W{i:04}"), &format!("p{i}")))
        .collect();
    let ids: Vec<String> = users.iter().map(|u| u.id.clone()).collect();
    let (o, caller) = rig(Version::V2, EmulatorConfig::default(), users, vec![]).await;
    let p = plan(vec![PlannedOp::new(Op::CreateGroup {
        name: "everyone".into(),
        members: ids.iter().map(|id| UserRef::Id(id.clone())).collect(),
        source: "groups.yaml:2".into(),
    })]);
    let out = execute(&p, &caller, 1, None).await;
    assert!(out.complete(), "{}", out.render());
    let s = o.emu.stats();
    assert_eq!(s.count("POST", Endpoint::GroupCreate), 1);
    assert_eq!(
        s.count("PATCH", Endpoint::GroupUpdate),
        1,
        "the 1001st member follows"
    );
    let (id, mut members) = o.emu.with_store(|st| {
        let g = st.group_by_name("everyone").unwrap();
        (g.id.clone(), g.members.clone())
    });
    members.sort();
    assert_eq!(members, ids);

    // Taking all of them out again is two PATCHes of at most a thousand.
    o.emu.reset_stats();
    let p = plan(vec![PlannedOp::new(Op::UpdateGroup {
        id: id.clone(),
        name: "everyone".into(),
        rename: None,
        add: vec![],
        remove: ids.clone(),
    })]);
    let out = execute(&p, &caller, 1, None).await;
    assert!(out.complete(), "{}", out.render());
    assert_eq!(o.emu.stats().count("PATCH", Endpoint::GroupUpdate), 2);
    assert!(
        o.emu
            .with_store(|st| st.group(&id).unwrap().members.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_has_one_line_per_write_sent_and_none_for_skipped_ops() {
    let (_o, caller) = rig(
        Version::V2,
        EmulatorConfig::default(),
        vec![
            user("W1", "ada"),
            StoredUser {
                id: "W2".into(),
                ..StoredUser::new("someone", "taken@example.com")
            },
        ],
        vec![],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
    let audit = Arc::new(AuditLog::open(&path).unwrap());
    let p = plan(vec![
        PlannedOp::new(create_user("new", None)),
        PlannedOp::new(update_user("W1", "Lead", None)),
        PlannedOp::new(create_user("taken", None)),
        after(update_user("W1", "Report", Some("taken@example.com")), &[2]),
    ]);
    let out = execute(&p, &caller, 1, Some(audit)).await;
    assert_eq!((out.applied(), out.failed(), out.skipped()), (2, 1, 1));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "the earlier line kept, one per write: {text}"
    );
    assert_eq!(lines[0]["earlier"], true);
    let line = |subject: &str| {
        lines
            .iter()
            .find(|l| l["subject"] == subject)
            .unwrap_or_else(|| panic!("no line for {subject}: {text}"))
    };
    let created = line("new@example.com");
    assert_eq!(created["op"], "create_user");
    assert_eq!(created["result"], "applied");
    assert_eq!(created["resource"], out.ops[0].resource.clone().unwrap());
    let updated = line("W1@example.com");
    assert_eq!(updated["op"], "update_user");
    assert_eq!(updated["resource"], "W1");
    assert_eq!(updated["changes"][0]["attribute"], "title");
    assert_eq!(updated["changes"][0]["to"], "Lead");
    let failed = line("taken@example.com");
    assert_eq!(failed["result"], "failed");
    assert_eq!(failed["code"], "email_taken");
    assert_eq!(failed["status"], 409);
    assert!(lines[1]["time"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test(flavor = "multi_thread")]
async fn once_the_stop_flag_is_set_no_op_starts() {
    let (o, caller) = rig_ada().await;
    let p = plan(vec![
        PlannedOp::new(create_user("new", None)),
        PlannedOp::new(update_user("W1", "Lead", None)),
    ]);
    let stop = Shutdown::new();
    stop.trigger(Signal::Terminate);
    let out = execute_until(&p, &caller, 2, None, stop).await;
    let shutting = OpResult::Skipped {
        reason: "scimsync is shutting down".into(),
    };
    assert_eq!(results(&out), [&shutting, &shutting]);
    assert_eq!(o.emu.stats().writes, 0);
    // Not stopping: everything applies.
    let out = execute_until(&p, &caller, 2, None, Shutdown::new()).await;
    assert!(out.complete(), "{}", out.render());
}

/// One thread: tasks run in the order they are spawned. A hand-made plan that lists a group
/// deletion before a change to the same group, with no edge between them, runs in that order:
/// the executor adds no ordering rule of its own (the planner writes every edge, issue 22), so
/// the deletion goes first and the change finds no group.
#[tokio::test(flavor = "current_thread")]
async fn the_executor_adds_no_order_the_plan_does_not_list() {
    let (o, caller) = rig(
        Version::V2,
        EmulatorConfig::default(),
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "old", &["W1"])],
    )
    .await;
    let p = plan(vec![
        PlannedOp::new(Op::DeleteGroup {
            id: "S1".into(),
            name: "old".into(),
        }),
        PlannedOp::new(Op::UpdateGroup {
            id: "S1".into(),
            name: "old".into(),
            rename: Some("older".into()),
            add: vec![UserRef::Id("W2".into())],
            remove: vec![],
        }),
    ]);
    let out = execute(&p, &caller, 1, None).await;
    assert_eq!(out.ops[0].result, applied(), "{:?}", out.ops);
    assert!(
        matches!(
            &out.ops[1].result,
            OpResult::Failed {
                status: Some(404),
                ..
            }
        ),
        "the change ran after the deletion: {:?}",
        out.ops
    );
    o.emu.with_store(|s| assert!(s.group("S1").is_none()));
}

/// Only a 400 (one value refused) is sent again unit by unit: an update Slack answers
/// otherwise — here 404, the account gone — fails with Slack's answer after one PATCH, not
/// once more per attribute.
#[tokio::test(flavor = "multi_thread")]
async fn an_update_refused_other_than_400_is_not_sent_again_unit_by_unit() {
    let (o, caller) = rig_ada().await;
    let mut op = update_user("W9", "Lead", None);
    if let Op::UpdateUser { fields, .. } = &mut op {
        fields.manager = Some(Some(UserRef::Id("W1".into())));
    }
    let out = execute(&plan(vec![PlannedOp::new(op)]), &caller, 1, None).await;
    match &out.ops[0].result {
        OpResult::Failed {
            status: Some(404),
            message,
            ..
        } => assert!(!message.contains("one at a time"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(o.emu.stats().count("PATCH", Endpoint::UserUpdate), 1);
}

/// The progress counts each op in its own lane (one per endpoint written to): the per-lane
/// totals and counts done that the time left is worked out from, and the deactivations done
/// that the progress line reports.
#[tokio::test(flavor = "multi_thread")]
async fn progress_counts_each_op_in_its_endpoints_lane() {
    let (_o, caller) = rig(
        Version::V2,
        EmulatorConfig::default(),
        (1..=6)
            .map(|i| user(&format!("W{i}"), &format!("u{i}")))
            .collect(),
        vec![
            group("S1", "one", &["W1"]),
            group("S2", "two", &[]),
            group("S3", "three", &[]),
        ],
    )
    .await;
    let deactivate = |id: &str| Op::DeactivateUser {
        id: id.into(),
        email: format!("{id}@example.com"),
        reason: Leaving::Absent,
    };
    let update_group = |id: &str, name: &str| Op::UpdateGroup {
        id: id.into(),
        name: name.into(),
        rename: None,
        add: vec![UserRef::Id("W2".into())],
        remove: vec![],
    };
    let ops = vec![
        create_user("new1", None),
        create_user("new2", None),
        update_user("W1", "Lead", None),
        deactivate("W4"),
        deactivate("W5"),
        deactivate("W6"),
        Op::CreateGroup {
            name: "four".into(),
            members: vec![],
            source: "groups.yaml:1".into(),
        },
        update_group("S1", "one"),
        update_group("S2", "two"),
        Op::DeleteGroup {
            id: "S3".into(),
            name: "three".into(),
        },
    ];
    let progress = Progress::new(ops.len());
    let controls = Controls {
        stop: Shutdown::new(),
        progress: Some(Arc::clone(&progress)),
    };
    let p = plan(ops.into_iter().map(PlannedOp::new).collect());
    let out = execute_with(&p, &caller, 2, None, controls).await;
    assert!(
        results(&out).iter().all(|r| **r == applied()),
        "{:?}",
        out.ops
    );
    let snap = progress.snapshot();
    assert_eq!(
        snap.lanes,
        [(2, 2), (1, 1), (3, 3), (1, 1), (2, 2), (1, 1)],
        "user creates, updates, deactivations, group creates, updates, deletions"
    );
    assert_eq!(snap.leavers(), (3, 3));
    assert_eq!((snap.total, snap.applied), (10, 10));
}

/// A hand-made plan whose edges close a cycle (each op waiting for the other) cannot hang the
/// apply, nor is the cycle silently dropped: an op whose `after` does not point back is
/// skipped as malformed, and what waits on it is skipped too.
#[tokio::test(flavor = "multi_thread")]
async fn an_edge_that_does_not_point_back_skips_its_op_and_never_hangs() {
    let (o, caller) = rig_ada().await;
    let p = plan(vec![
        after(update_user("W1", "Lead", None), &[1]),
        after(create_user("new", None), &[0]),
        PlannedOp::new(create_user("free", None)),
    ]);
    let out = tokio::time::timeout(Duration::from_secs(10), execute(&p, &caller, 1, None))
        .await
        .expect("the apply ends");
    assert!(
        matches!(&out.ops[0].result, OpResult::Skipped { reason } if reason.contains("malformed")),
        "{:?}",
        out.ops
    );
    assert_eq!(out.ops[1].result, skipped_after("W1@example.com"));
    assert_eq!(out.ops[2].result, applied());
    assert_eq!(o.emu.stats().writes, 1);
}

/// `ops` reordered as late as their `after` allows (each step takes the ready op that comes
/// last in the plan), with every `after` renumbered: a different order, the same edges.
fn latest_first(ops: &[PlannedOp]) -> Vec<PlannedOp> {
    let mut placed: Vec<Option<usize>> = vec![None; ops.len()];
    let mut order: Vec<usize> = Vec::with_capacity(ops.len());
    while order.len() < ops.len() {
        let next = (0..ops.len())
            .rev()
            .find(|&i| placed[i].is_none() && ops[i].after.iter().all(|&j| placed[j].is_some()))
            .expect("the plan's edges point back");
        placed[next] = Some(order.len());
        order.push(next);
    }
    order
        .iter()
        .map(|&i| {
            let mut op = ops[i].clone();
            op.after = op.after.iter().map(|&j| placed[j].unwrap()).collect();
            op
        })
        .collect()
}

/// A plan is the whole truth about order: the planner's plan for a reactivation into a group,
/// a new member, a leaver and a group deletion lists the edges across kinds
/// (issue 22), and the same plan with its ops shuffled as far as `after` allows still applies
/// in full, one op at a time on one thread, every write after the writes it waits for (the
/// audit log, in order of completion) and Slack left equal to the directory.
#[tokio::test(flavor = "current_thread")]
async fn a_plan_shuffled_within_its_edges_applies_in_a_valid_order() {
    let mut ada = user("W1", "ada");
    ada.active = false;
    let (o, _) = rig(
        Version::V2,
        EmulatorConfig::default(),
        vec![ada, user("W2", "bob"), user("W3", "cy")],
        vec![
            group("S1", "team", &["W2", "W3"]),
            group("S2", "old", &["W3"]),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    crate::harness::yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com}\n  - {email: cy@example.com, title: Lead}\n\
         \x20 - {email: dee@example.com}\n\
         groups:\n  - {name: team, members: [ada@example.com, cy@example.com, dee@example.com]}\n",
        "scope: {email_domains: [example.com]}\nunmanaged_users: deactivate\n\
         groups: {unmanaged: delete}\nsafety: {allow_group_deletion: true}\n",
    );
    let (made, caller) = crate::harness::plan_in_process(&o, Version::V2, dir.path()).await;
    let at = |kind: &str, subject: &str| {
        made.ops
            .iter()
            .position(|op| op.kind().as_str() == kind && op.subject() == subject)
            .unwrap_or_else(|| panic!("no {kind} {subject}: {:?}", made.ops))
    };
    let (reactivate, team) = (
        at("reactivate_user", "ada@example.com"),
        at("update_group", "team"),
    );
    let old = at("delete_group", "old");
    assert!(made.ops[team].after.contains(&reactivate), "{:?}", made.ops);
    assert_eq!(
        made.ops[old].after.len(),
        made.ops.len() - 1,
        "{:?}",
        made.ops
    );

    let shuffled = plan(latest_first(&made.ops));
    assert_ne!(
        shuffled.ops.iter().map(|o| o.subject()).collect::<Vec<_>>(),
        made.ops.iter().map(|o| o.subject()).collect::<Vec<_>>(),
        "the shuffle changes the order"
    );
    let log = dir.path().join("audit.jsonl");
    let audit = Arc::new(AuditLog::open(&log).unwrap());
    let out = execute(&shuffled, &caller, 1, Some(audit)).await;
    assert!(
        results(&out).iter().all(|r| **r == applied()),
        "every op applied, none with a note: {}",
        out.render()
    );
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let line = |op: &PlannedOp| {
        lines
            .iter()
            .position(|l| l["op"] == op.kind().as_str() && l["subject"] == op.subject())
            .unwrap()
    };
    for op in &shuffled.ops {
        for &j in &op.after {
            assert!(
                line(&shuffled.ops[j]) < line(op),
                "{op:?} ran before op {j}"
            );
        }
    }
    let (again, _) = crate::harness::plan_in_process(&o, Version::V2, dir.path()).await;
    assert!(
        again.ops.is_empty(),
        "Slack equals the directory: {:?}",
        again.ops
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn two_writes_to_one_resource_never_overlap() {
    // Slack locks a resource while it processes a write and answers 429 `resource_locked` to
    // a second one: the executor never sends it.
    let config = EmulatorConfig {
        write_hold: Duration::from_millis(100),
        ..EmulatorConfig::default()
    };
    let (o, caller) = rig(Version::V2, config, vec![user("W1", "ada")], vec![]).await;
    let p = plan(vec![
        PlannedOp::new(update_user("W1", "Lead", None)),
        PlannedOp::new(Op::UpdateUser {
            id: "W1".into(),
            email: "ada@example.com".into(),
            reactivate: false,
            fields: {
                let mut f = UserFields::default();
                f.text.insert(Attribute::Department, Some("R&D".into()));
                f
            },
            changes: vec![],
            source: "people.csv:4".into(),
        }),
    ]);
    let out = execute(&p, &caller, 4, None).await;
    assert!(out.complete(), "{}", out.render());
    assert_eq!(o.emu.stats().locked, 0, "no write met the lock");
    o.emu.with_store(|s| {
        let ada = s.user("W1").unwrap();
        assert_eq!(ada.text(Attribute::Title), Some("Lead"));
        assert_eq!(ada.text(Attribute::Department), Some("R&D"));
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn once_slack_stops_answering_the_remaining_ops_are_skipped_not_failed() {
    let (o, caller) = rig(
        Version::V2,
        EmulatorConfig::default(),
        vec![user("W1", "ada"), user("W2", "bob"), user("W3", "cy")],
        vec![],
    )
    .await;
    o.emu.set_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    });
    let p = plan(vec![
        PlannedOp::new(update_user("W1", "Lead", None)),
        PlannedOp::new(update_user("W2", "Lead", None)),
        PlannedOp::new(update_user("W3", "Lead", None)),
    ]);
    let out = execute(&p, &caller, 1, None).await;
    assert!(caller.breaker.is_open());
    // One at a time: what was sent (whichever op reached the lane first) failed; once the
    // breaker opened on those retries, the rest was never sent.
    assert_eq!(out.failed() + out.skipped(), 3, "{}", out.render());
    assert!(out.failed() >= 1 && out.skipped() >= 1, "{}", out.render());
    for o in out
        .ops
        .iter()
        .filter(|o| !matches!(o.result, OpResult::Failed { .. }))
    {
        assert!(
            matches!(&o.result, OpResult::Skipped { reason } if reason.starts_with("not sent: Slack did not answer")),
            "{}",
            out.render()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_pauses_are_counted_for_each_apply_alone() {
    // Someone else's write holds ada's lock when the apply's own write arrives: one 429
    // `resource_locked`, waited out. A second apply with the same caller meets none.
    let config = EmulatorConfig {
        write_hold: Duration::from_millis(400),
        ..EmulatorConfig::default()
    };
    let (o, caller) = rig(Version::V2, config, vec![user("W1", "ada")], vec![]).await;
    let other = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "title", "value": "Other"}]
    });
    let p = plan(vec![PlannedOp::new(update_user("W1", "Lead", None))]);
    let (r, out) = tokio::join!(o.patch(Version::V2, "Users/W1", other), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        execute(&p, &caller, 1, None).await
    });
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(out.complete(), "{}", out.render());
    assert_eq!(out.rate_limited, 1);
    let out = execute(&p, &caller, 1, None).await;
    assert!(out.complete(), "{}", out.render());
    assert_eq!(
        out.rate_limited, 0,
        "the first apply's pause is not counted again"
    );
}

/// Leavers first: with Slack's limits on (time-scaled), many creates and a few deactivations
/// in one plan, creates listed first. The deactivations go at the start in their own lane,
/// never behind the creates: in the audit log (one line per op, in order of completion) every
/// deactivation comes before the creates are a quarter done. The plan's own edges still hold:
/// the group change that adds new people waits for their creates.
#[tokio::test(flavor = "multi_thread")]
async fn deactivations_are_never_queued_behind_creates() {
    const CREATES: usize = 120;
    const LEAVERS: usize = 5;
    let config = EmulatorConfig {
        rate_limit_scale: Some(60.0),
        ..EmulatorConfig::default()
    };
    let leavers = (0..LEAVERS)
        .map(|i| user(&format!("W{i}"), &format!("leaver{i}")))
        .collect();
    let (o, mut caller) = rig(Version::V2, config, leavers, vec![group("S1", "team", &[])]).await;
    caller.limits = Arc::new(scimsync::scim::ratelimit::Limits::new(1.0, 60.0));
    let mut ops: Vec<PlannedOp> = (0..CREATES)
        .map(|i| PlannedOp::new(create_user(&format!("new{i:03}"), None)))
        .collect();
    ops.push(after(
        Op::UpdateGroup {
            id: "S1".into(),
            name: "team".into(),
            rename: None,
            add: vec![
                UserRef::New("new000@example.com".into()),
                UserRef::New(format!("new{:03}@example.com", CREATES - 1)),
            ],
            remove: vec![],
        },
        &[0, CREATES - 1],
    ));
    ops.extend((0..LEAVERS).map(|i| {
        PlannedOp::new(Op::DeactivateUser {
            id: format!("W{i}"),
            email: format!("leaver{i}@example.com"),
            reason: scimsync::plan::Leaving::Absent,
        })
    }));
    let p = plan(ops);
    let dir = tempfile::tempdir().unwrap();
    let audit = Arc::new(AuditLog::open(&dir.path().join("audit.jsonl")).unwrap());
    let out = execute(&p, &caller, 4, Some(audit)).await;
    assert!(out.complete(), "{}", out.render());
    assert_eq!(o.emu.stats().rate_limited, 0);
    let text = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let order: Vec<String> = lines.iter().map(|l| l["op"].to_string()).collect();
    let line_of = |subject: &str| lines.iter().position(|l| l["subject"] == subject).unwrap();
    let position = |op: &str, nth: usize| {
        order
            .iter()
            .enumerate()
            .filter(|(_, o)| o.trim_matches('"') == op)
            .nth(nth)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {op} #{nth} in {order:?}"))
    };
    let last_leaver = position("deactivate_user", LEAVERS - 1);
    let quarter_of_creates = position("create_user", CREATES / 4);
    assert!(
        last_leaver < quarter_of_creates,
        "the last deactivation completed at line {last_leaver}, after {} creates",
        order[..last_leaver]
            .iter()
            .filter(|o| o.contains("create_user"))
            .count()
    );
    let group_line = line_of("team");
    assert!(
        group_line > line_of("new000@example.com")
            && group_line > line_of(&format!("new{:03}@example.com", CREATES - 1)),
        "the group change waited for the creates of the people it adds"
    );
    o.emu.with_store(|s| {
        assert_eq!(s.group("S1").unwrap().members.len(), 2);
        assert!((0..LEAVERS).all(|i| !s.user(&format!("W{i}")).unwrap().active));
    });
}
