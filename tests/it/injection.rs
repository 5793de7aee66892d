//! No injection anywhere: a value from the directory, Slack or the state file is data wherever
//! scimsync puts it. A group name cannot widen the SCIM filter that looks a group up after a lost
//! create (and only the one group of exactly that name is adopted); a title, a group name or a
//! source name recorded in the state cannot write control sequences to a terminal or markdown
//! structure into a pull-request comment.

use std::time::Duration;

use scimsync::apply::{OpResult, execute};
use scimsync::emulator::{
    EmulatorConfig, Faults, GroupNames, Snapshot, Store, StoredGroup, StoredUser,
};
use scimsync::plan::{Op, Plan, PlannedOp, UserRef};
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness::{Org, org_with, plan_in_process, yaml_setup};

/// The group name of the attack: unescaped in `displayName eq "…"` it reads as
/// `displayName eq "eng" or displayName eq "admins"`.
const INJECTED: &str = r#"eng" or displayName eq "admins"#;

const SCOPE: &str = "scope: {email_domains: [example.com]}\n";

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

/// An emulator holding `users` and `groups` as given.
async fn slack(config: EmulatorConfig, users: Vec<StoredUser>, groups: Vec<StoredGroup>) -> Org {
    let store = Store::from_snapshot(Snapshot { users, groups }, 'W', 7, "test").unwrap();
    org_with(config, store).await
}

/// What the emulator does with one request under fault injection.
#[derive(Clone, Copy, PartialEq)]
enum Roll {
    /// Answered 500 or 503, nothing changed.
    Error,
    /// The connection dropped after the write: it happened, its answer is lost.
    DroppedAfter,
    /// Answered normally.
    Answered,
}

/// A fault seed whose first request meets `first` and the next `then` requests are answered,
/// replaying the emulator's rolls (an error, its status, then — unless it erred — a drop and,
/// if dropped, its side).
fn seed_for(faults: &Faults, first: Roll, then: usize) -> u64 {
    let roll = |rng: &mut fastrand::Rng| {
        let error = rng.f64() < faults.error_rate;
        let _status = rng.bool();
        let dropped = !error && rng.f64() < faults.drop_rate;
        let before = dropped && rng.bool();
        match (error, dropped, before) {
            (true, ..) => Roll::Error,
            (_, true, false) => Roll::DroppedAfter,
            (_, true, true) => Roll::Error, // never wanted here
            _ => Roll::Answered,
        }
    };
    (0..1_000_000u64)
        .find(|&seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            roll(&mut rng) == first && (0..then).all(|_| roll(&mut rng) == Roll::Answered)
        })
        .expect("a seed")
}

/// The directory of the attack: ada in the group of the crafted name, bob in `admins`; Slack
/// holds both people and `admins`. The plan is one group create.
async fn injected_group_setup() -> (Org, tempfile::TempDir, Plan, scimsync::scim::retry::Caller) {
    let o = slack(
        EmulatorConfig::default(),
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "admins", &["W2"])],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        &format!(
            "users:\n  - {{email: ada@example.com}}\n  - {{email: bob@example.com}}\n\
             groups:\n  - {{name: admins, members: [bob@example.com]}}\n\
             \x20 - {{name: '{INJECTED}', members: [ada@example.com]}}\n"
        ),
        SCOPE,
    );
    let (plan, caller) = plan_in_process(&o, Version::V2, dir.path()).await;
    assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
    assert!(
        matches!(&plan.ops[0].op, Op::CreateGroup { name, .. } if name == INJECTED),
        "{:?}",
        plan.ops
    );
    (o, dir, plan, caller)
}

/// `admins` still holds only bob, and exactly one group has the crafted name, holding ada.
fn assert_admins_untouched_and_the_group_is_whole(o: &Org) {
    o.emu.with_store(|s| {
        assert_eq!(
            s.group("S1").unwrap().members,
            ["W2"],
            "ada must not land in admins"
        );
        let named: Vec<&StoredGroup> = s.groups().filter(|g| g.display_name == INJECTED).collect();
        assert_eq!(named.len(), 1, "one group of the crafted name");
        assert_eq!(named[0].members, ["W1"]);
    });
}

/// The attack of issue 21: the create of the group with the crafted name is answered 503
/// (nothing created). Looking the group up with the name unescaped found `admins` and adopted
/// it: ada was put into `admins`, exit 0, one "adopted" note. Escaped, the lookup finds no group
/// of that name, the create is sent again and makes the right group.
#[tokio::test(flavor = "multi_thread")]
async fn a_crafted_group_name_after_a_5xx_create_never_steers_members_into_another_group() {
    let (o, _dir, plan, caller) = injected_group_setup().await;
    let mut faults = Faults {
        error_rate: 0.2,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::Error, 30);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert_eq!(
        o.emu.stats().injected_errors,
        1,
        "the create was answered 5xx"
    );
    assert_admins_untouched_and_the_group_is_whole(&o);
    assert!(out.complete(), "{}", out.render());
    assert!(!out.render().contains("adopted"), "{}", out.render());
    let made = o.emu.with_store(|s| {
        s.groups()
            .find(|g| g.display_name == INJECTED)
            .map(|g| g.id.clone())
    });
    assert_eq!(out.ops[0].resource, made);
}

/// The same name, the create applied but its answer lost: the lookup, escaped, finds the group
/// just made (and only it), adopts it, and sends the create once.
#[tokio::test(flavor = "multi_thread")]
async fn a_crafted_group_name_after_a_lost_answer_adopts_exactly_that_group() {
    let (o, _dir, plan, caller) = injected_group_setup().await;
    let mut faults = Faults {
        drop_rate: 0.5,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::DroppedAfter, 10);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    let s = o.emu.stats();
    assert_eq!(s.dropped_connections, 1, "the create's answer was lost");
    assert_eq!(s.count("POST", Endpoint::GroupCreate), 1, "sent once");
    assert_admins_untouched_and_the_group_is_whole(&o);
    assert!(out.complete(), "{}", out.render());
    let adopted = o.emu.with_store(|s| {
        s.groups()
            .find(|g| g.display_name == INJECTED)
            .map(|g| g.id.clone())
    });
    assert_eq!(out.ops[0].resource, adopted);
    assert!(
        serde_json::to_string(&out).unwrap().contains("adopted"),
        "{}",
        out.render()
    );
}

/// A Slack that accepts a second group of one name, holding `eng` already when a create of
/// `eng` (planned before it appeared) loses its answer: two groups are named `eng`, neither is
/// adopted, the create is not sent again, and the op fails saying why (so `apply` exits 4).
#[tokio::test(flavor = "multi_thread")]
async fn two_groups_of_the_name_after_a_lost_answer_are_not_adopted() {
    let config = EmulatorConfig {
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    };
    let o = slack(
        config,
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "eng", &["W2"])],
    )
    .await;
    let caller = caller(&o);
    let plan = Plan::of(vec![PlannedOp::new(Op::CreateGroup {
        name: "eng".into(),
        members: vec![UserRef::Id("W1".into())],
        source: "groups.yaml:2".into(),
    })]);
    let mut faults = Faults {
        drop_rate: 0.5,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::DroppedAfter, 10);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert_eq!(o.emu.stats().count("POST", Endpoint::GroupCreate), 1);
    assert!(!out.complete(), "{}", out.render());
    match &out.ops[0].result {
        OpResult::Failed { message, .. } => assert!(
            message.contains(r#"2 groups are named "eng""#) && message.contains("not adopted"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.ops[0].resource, None);
    o.emu.with_store(|s| {
        assert_eq!(s.group("S1").unwrap().members, ["W2"], "S1 untouched");
        assert_eq!(s.group_count(), 2);
    });
}

/// The lookup answers only with a group whose name differs in case (Slack's `eq` ignores
/// case): it is someone else's, not adopted; the group asked for is created.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_named_otherwise_is_never_adopted() {
    let config = EmulatorConfig {
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    };
    let o = slack(
        config,
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "ENG", &["W2"])],
    )
    .await;
    let caller = caller(&o);
    let plan = Plan::of(vec![PlannedOp::new(Op::CreateGroup {
        name: "eng".into(),
        members: vec![UserRef::Id("W1".into())],
        source: "groups.yaml:2".into(),
    })]);
    let mut faults = Faults {
        error_rate: 0.2,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::Error, 30);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert!(out.complete(), "{}", out.render());
    o.emu.with_store(|s| {
        assert_eq!(s.group("S1").unwrap().members, ["W2"], "ENG untouched");
        let eng: Vec<&StoredGroup> = s.groups().filter(|g| g.display_name == "eng").collect();
        assert_eq!(eng.len(), 1);
        assert_eq!(eng[0].members, ["W1"]);
    });
}

/// A caller on `o`'s v2 API whose retries wait a millisecond.
fn caller(o: &Org) -> scimsync::scim::retry::Caller {
    let client = scimsync::scim::ScimClient::new(
        &o.emu.base_url(Version::V2),
        None,
        scimsync::scim::Token::new(o.emu.token()).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let mut caller = scimsync::scim::retry::Caller::new(std::sync::Arc::new(client), 1.0, 1.0);
    caller.policy.base = Duration::from_millis(1);
    caller
}
