//! The memory's shared parts and its write side, without a network: what a pass learns from
//! a listing and an outcome ([`next_memory`]), and the digests it keeps.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::*;
use crate::apply::{OpOutcome, OpResult, Outcome};
use crate::config::{Policy, StuckSettings};
use crate::diag::SourceLocation;
use crate::directory::{DesiredUser, Directory, TextValues};
use crate::model::{Change, LiveState, LiveUser, UserFields};
use crate::plan::{Leaving, OpKind, Pending, Plan, PlannedOp, Stuck};

fn person(email: &str, line: u32) -> DesiredUser {
    let key = email.to_lowercase();
    DesiredUser {
        id: None,
        email: email.into(),
        email_key: key.clone(),
        user_name: None,
        user_name_key: key.split('@').next().unwrap().to_string(),
        texts: TextValues::default(),
        manager: None,
        guest: None,
        active: true,
        blanks: vec![],
        location: SourceLocation::new(&Arc::from("people.csv"), line, 0),
        origins: Default::default(),
    }
}

fn account(id: &str, email: &str) -> LiveUser {
    LiveUser {
        id: id.into(),
        user_name: email.split('@').next().unwrap().to_lowercase(),
        active: true,
        email: email.into(),
        ..LiveUser::default()
    }
}

fn directory(mut users: Vec<DesiredUser>) -> Directory {
    users.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    Directory {
        users,
        groups: vec![],
        skipped: vec![],
        sources: vec![Arc::from("people.csv")],
    }
}

#[test]
fn the_state_learns_only_the_values_slack_shows_equal_to_the_directorys() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("Engineer"));
    ada.texts.set(Attribute::Department, Some("R&D"));
    let mut back = person("back@example.com", 3); // a rejoiner: active in the directory
    back.texts.set(Attribute::Title, Some("Designer"));
    let mut gone = person("gone@example.com", 4);
    gone.active = false;
    gone.texts.set(Attribute::Title, Some("Designer"));
    let dir = directory(vec![ada, back, gone]);
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::Title, Some("Chief")); // a hand edit: not learned
    a.texts.set(Attribute::Department, Some("R&D"));
    let mut b = account("W2", "back@example.com");
    b.active = false;
    b.texts.set(Attribute::Title, Some("Designer"));
    let mut g = account("W3", "gone@example.com");
    g.texts.set(Attribute::Title, Some("Designer"));
    let mut other = account("W4", "other@example.com");
    other.texts.set(Attribute::Title, Some("Boss"));
    let live = LiveState {
        users: vec![a, b, g, other],
        groups: vec![],
    };
    let (_, matched) = crate::plan::draft_matched(&dir, &live, &Policy::default());
    let synced = InSync::new(&dir, &live, &matched);
    let learned: Vec<(&str, Vec<(Attribute, &str)>)> = (0..live.users.len())
        .filter_map(|i| Some((live.users[i].id.as_str(), synced.values(i)?.collect())))
        .collect();
    assert_eq!(
        learned,
        [
            ("W1", vec![(Attribute::Department, "R&D")]),
            ("W2", vec![(Attribute::Title, "Designer")]),
        ]
    );
}

fn t() -> DateTime<Utc> {
    DateTime::from_timestamp(1_772_000_000, 0).unwrap()
}

fn hours(n: i64) -> chrono::Duration {
    chrono::Duration::hours(n)
}

fn deactivate(id: &str, reason: Leaving) -> PlannedOp {
    PlannedOp::new(Op::DeactivateUser {
        id: id.into(),
        email: format!("{id}@example.com"),
        reason,
    })
}

fn retitle(id: &str, to: &str) -> PlannedOp {
    let mut fields = UserFields::default();
    fields.text.insert(Attribute::Title, Some(to.into()));
    PlannedOp::new(Op::UpdateUser {
        id: id.into(),
        email: format!("{id}@example.com"),
        reactivate: false,
        fields,
        changes: vec![Change {
            attribute: Attribute::Title,
            from: Some("Before".into()),
            to: Some(to.into()),
        }],
        source: "people.csv:2".into(),
    })
}

fn create(email: &str, title: &str) -> PlannedOp {
    let mut fields = UserFields::default();
    fields.text.insert(Attribute::Title, Some(title.into()));
    PlannedOp::new(Op::CreateUser {
        email: email.into(),
        user_name: email.split('@').next().unwrap().into(),
        fields,
        source: "people.csv:3".into(),
    })
}

fn applied(resource: Option<&str>) -> OpOutcome {
    OpOutcome {
        kind: OpKind::UpdateUser,
        subject: "s".into(),
        resource: resource.map(str::to_string),
        result: OpResult::Applied { note: None },
    }
}

fn failed(status: Option<u16>, code: Option<&str>, message: &str) -> OpOutcome {
    OpOutcome {
        kind: OpKind::UpdateUser,
        subject: "s".into(),
        resource: None,
        result: OpResult::Failed {
            status,
            code: code.map(str::to_string),
            message: message.into(),
        },
    }
}

fn outcome(ops: Vec<OpOutcome>) -> Outcome {
    Outcome {
        ops,
        ..Outcome::default()
    }
}

const STUCK: StuckSettings = StuckSettings {
    after: 2,
    backoff: std::time::Duration::from_secs(60),
};

fn learn(
    before: &Memory,
    plan: &Plan,
    live: &LiveState,
    directory: Option<&Directory>,
    outcome: Option<&Outcome>,
) -> Memory {
    let policy = Policy::default();
    let matched =
        directory.map_or_else(Vec::new, |d| crate::plan::draft_matched(d, live, &policy).1);
    let pass = learn::Pass {
        plan,
        live,
        directory,
        matched: &matched,
        outcome,
        policy: &policy,
        stuck: STUCK,
    };
    next_memory(before.clone(), &pass, t())
}

/// A failure remembered for `op`: refused `passes` times, last at [`t`], to be sent again at
/// `retry_at`.
fn stuck_failure(op: &PlannedOp, error: &str, passes: u32, retry_at: DateTime<Utc>) -> Failure {
    Failure {
        op: DigestKey::default().digest(&op.op),
        error: error.into(),
        passes,
        last: t(),
        retry_at: Some(retry_at),
    }
}

fn digest(v: &str) -> Digest {
    value_digest(&DigestKey::default(), Some(v))
}

#[test]
fn the_leaver_clock_keeps_the_first_absence_of_leavers_still_there_only() {
    let mut before = Memory::default();
    before.leavers.insert("W1".into(), t() - hours(1));
    before.leavers.insert("W2".into(), t() - hours(2));
    let inactive = Leaving::Inactive {
        at: "people.csv:4".into(),
    };
    let mut plan = Plan::of(vec![
        deactivate("W1", Leaving::Absent), // refused: still a leaver, since its first absence
        deactivate("W2", Leaving::Absent), // applied: gone
        deactivate("W3", Leaving::Absent), // refused, first seen now
        deactivate("W4", inactive),        // declared inactive: never on the clock
    ]);
    plan.pending.push(Pending {
        id: "W5".into(),
        email: "W5@example.com".into(),
        since: t() - hours(3),
        due: t() + hours(1),
        remaining_secs: 3600,
    });
    let done = outcome(vec![
        failed(Some(500), None, "boom"),
        applied(None),
        failed(Some(500), None, "boom"),
        failed(Some(500), None, "boom"),
    ]);
    let next = learn(&before, &plan, &LiveState::default(), None, Some(&done));
    assert_eq!(
        next.leavers,
        BTreeMap::from([
            ("W1".to_string(), t() - hours(1)),
            ("W3".to_string(), t()),
            ("W5".to_string(), t() - hours(3)),
        ])
    );
}

#[test]
fn the_last_applied_values_follow_what_applied_and_never_a_refused_write() {
    let live = LiveState {
        users: ["W1", "W3", "W4", "W5", "W6", "W9"]
            .into_iter()
            .map(|id| account(id, &format!("{id}@example.com")))
            .chain(std::iter::once(LiveUser {
                active: false,
                ..account("W2", "W2@example.com")
            }))
            .collect(),
        groups: vec![],
    };
    let mut before = Memory::default();
    for id in ["W1", "W2", "W3", "W4", "W5", "W9"] {
        before.applied.insert(
            id.into(),
            Digests::from([(Attribute::Title, digest("Engineer"))]),
        );
    }
    let plan = Plan::of(vec![
        retitle("W3", "Manager"),          // applied: the new value
        retitle("W5", "Manager"),          // refused: the value before
        retitle("W6", "Manager"),          // refused, nothing before: nothing
        create("new@example.com", "Chef"), // applied as W7
        create("bad@example.com", "Chef"), // refused (names an id all the same)
        deactivate("W4", Leaving::Absent), // applied: forgotten
        deactivate("W9", Leaving::Absent), // refused: kept
    ]);
    let done = outcome(vec![
        applied(Some("W3")),
        failed(Some(400), Some("invalid"), "no"),
        failed(Some(400), Some("invalid"), "no"),
        applied(Some("W7")),
        OpOutcome {
            resource: Some("W8".into()),
            ..failed(Some(409), Some("email_taken"), "no")
        },
        applied(Some("W4")),
        failed(Some(500), None, "boom"),
    ]);
    let next = learn(&before, &plan, &live, None, Some(&done));
    let title = |id: &str| next.applied.get(id).and_then(|d| d.get(&Attribute::Title));
    assert_eq!(title("W1"), Some(&digest("Engineer")), "untouched: kept");
    assert_eq!(title("W2"), None, "deactivated, nobody brings it back");
    assert_eq!(title("W3"), Some(&digest("Manager")));
    assert_eq!(title("W5"), Some(&digest("Engineer")));
    assert_eq!(title("W6"), None);
    assert_eq!(title("W7"), Some(&digest("Chef")));
    assert_eq!(title("W8"), None, "a create that did not apply");
    assert_eq!(title("W4"), None, "deactivated by this pass");
    assert_eq!(title("W9"), Some(&digest("Engineer")));
    assert!(!next.applied.contains_key("W6"), "no empty entries");
}

/// A reported drift (a hand edit the policy only reports) keeps the digest of the value
/// scimsync applied, beside an attribute of the same account learned in sync, so the next
/// pass still tells it as drift; a drift the policy reverts learns what its update applied.
#[test]
fn a_reported_drift_keeps_the_digest_of_what_scimsync_applied() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("Engineer"));
    ada.texts.set(Attribute::Department, Some("R&D"));
    let dir = directory(vec![ada]);
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::Title, Some("Chief")); // the hand edit
    a.texts.set(Attribute::Department, Some("R&D"));
    let live = LiveState {
        users: vec![a],
        groups: vec![],
    };
    let mut before = Memory::default();
    before.applied.insert(
        "W1".into(),
        Digests::from([(Attribute::Title, digest("Engineer"))]),
    );
    let drift = |action| crate::plan::Drift {
        email: "ada@example.com".into(),
        attribute: Attribute::Title,
        id: "W1".into(),
        found: Some("Chief".into()),
        expected: Some("Engineer".into()),
        action,
    };
    let mut reported = Plan::of(vec![]);
    reported.drift = vec![drift(crate::plan::DriftAction::Report)];
    let next = learn(&before, &reported, &live, Some(&dir), None);
    assert_eq!(
        next.applied["W1"],
        Digests::from([
            (Attribute::Title, digest("Engineer")),
            (Attribute::Department, digest("R&D")),
        ])
    );
    let mut reverted = Plan::of(vec![retitle("W1", "Engineer")]);
    reverted.drift = vec![drift(crate::plan::DriftAction::Revert)];
    let next = learn(
        &before,
        &reverted,
        &live,
        Some(&dir),
        Some(&outcome(vec![applied(Some("W1"))])),
    );
    assert_eq!(next.applied["W1"][&Attribute::Title], digest("Engineer"));
    let failed_revert = learn(
        &before,
        &reverted,
        &live,
        Some(&dir),
        Some(&outcome(vec![failed(Some(500), None, "boom")])),
    );
    assert_eq!(
        failed_revert.applied["W1"][&Attribute::Title],
        digest("Engineer")
    );
}

#[test]
fn a_rejoiner_s_values_are_learned_from_the_listing_and_a_leaver_s_are_dropped() {
    let mut back = person("back@example.com", 2);
    back.texts.set(Attribute::Title, Some("Designer"));
    let dir = directory(vec![back]);
    let mut w2 = account("W2", "back@example.com");
    w2.active = false;
    w2.texts.set(Attribute::Title, Some("Designer"));
    let mut w3 = account("W3", "gone@example.com");
    w3.active = false;
    let live = LiveState {
        users: vec![w2, w3],
        groups: vec![],
    };
    let mut before = Memory::default();
    before.applied.insert(
        "W3".into(),
        Digests::from([(Attribute::Title, digest("X"))]),
    );
    let next = learn(&before, &Plan::of(vec![]), &live, Some(&dir), None);
    assert_eq!(
        next.applied,
        BTreeMap::from([(
            "W2".to_string(),
            Digests::from([(Attribute::Title, digest("Designer"))])
        )])
    );
}

#[test]
fn refused_ops_count_their_passes_by_op_and_error_and_get_a_backoff() {
    let same = create("gen@example.com", "Chef");
    let mut before = Memory::default();
    let remember = |op: &PlannedOp, error: &str, digest: Option<&str>| Failure {
        op: digest.map_or_else(|| DigestKey::default().digest(&op.op), str::to_string),
        error: error.into(),
        passes: 1,
        last: t() - hours(1),
        retry_at: None,
    };
    let (w3, w4, w5) = (
        deactivate("W3", Leaving::Absent),
        retitle("W4", "Manager"),
        retitle("W5", "Manager"),
    );
    before
        .failures
        .insert(op_key(&same), remember(&same, "409 username_taken", None));
    before
        .failures
        .insert(op_key(&w3), remember(&w3, "500 boom", None));
    before.failures.insert(
        op_key(&w4),
        remember(&w4, "400 invalid", Some("another op")),
    );
    before
        .failures
        .insert(op_key(&w5), remember(&w5, "400 invalid", None));
    let held = Failure {
        passes: 4,
        ..remember(&same, "409 username_taken", None)
    };
    before
        .failures
        .insert("create_user:held@example.com".into(), held.clone());
    let mut plan = Plan::of(vec![
        same.clone(),
        retitle("W1", "Manager"),
        deactivate("W2", Leaving::Absent),
        w3,
        w4,
        w5,
    ]);
    plan.stuck.push(Stuck {
        subject: "held@example.com".into(),
        kind: OpKind::CreateUser,
        error: "409 username_taken".into(),
        passes: 4,
        retry_at: Some(t() + hours(1)),
        key: "create_user:held@example.com".into(),
    });
    let done = outcome(vec![
        failed(Some(409), Some("username_taken"), "taken"),
        failed(Some(500), None, "boom"),
        failed(None, None, "timed out"),
        failed(Some(503), None, "busy"),
        failed(Some(400), Some("invalid"), "no"),
        applied(Some("W5")),
    ]);
    let next = learn(&before, &plan, &LiveState::default(), None, Some(&done));
    let f = |key: &str| next.failures.get(key).unwrap_or_else(|| panic!("{key}"));
    let general = f(&op_key(&same));
    assert_eq!(
        (general.error.as_str(), general.passes),
        ("409 username_taken", 2)
    );
    assert_eq!(general.last, t());
    assert_eq!(general.retry_at, Some(t() + chrono::Duration::seconds(60)));
    assert_eq!(f("update_user:W1").error, "500 boom");
    assert_eq!(f("update_user:W1").retry_at, None, "once is not stuck");
    assert_eq!(f("deactivate_user:W2").error, "timed out");
    assert_eq!(
        f("deactivate_user:W3").passes,
        1,
        "another error starts afresh"
    );
    assert_eq!(f("update_user:W4").passes, 1, "another op starts afresh");
    assert!(
        !next.failures.contains_key("update_user:W5"),
        "applied: forgotten"
    );
    assert_eq!(
        f("create_user:held@example.com"),
        &held,
        "held back: kept as it was"
    );
    assert_eq!(next.failures.len(), 6);
}

#[test]
fn the_last_good_apply_is_a_complete_one() {
    let mut plan = Plan::of(vec![retitle("W1", "Manager")]);
    plan.counts.source_users = BTreeMap::from([("people.csv".to_string(), 7)]);
    let before = Memory {
        last_good: Some(LastGood {
            at: t() - hours(5),
            source_users: BTreeMap::from([("people.csv".to_string(), 9)]),
        }),
        ..Memory::default()
    };
    let live = LiveState::default();
    let partial = outcome(vec![failed(Some(500), None, "boom")]);
    let next = learn(&before, &plan, &live, None, Some(&partial));
    assert_eq!(
        next.last_good, before.last_good,
        "a partial apply is not good"
    );
    for done in [Some(outcome(vec![applied(None)])), None] {
        let next = learn(&before, &plan, &live, None, done.as_ref());
        let good = next.last_good.unwrap();
        assert_eq!(good.at, t());
        assert_eq!(good.source_users, plan.counts.source_users);
    }
}

#[test]
fn the_state_file_writes_attributes_by_name_and_reads_back() {
    let memory = Memory {
        applied: BTreeMap::from([(
            "W1".to_string(),
            Digests::from([(Attribute::Title, Digest::from("k1:00"))]),
        )]),
        ..Memory::default()
    };
    let json = serde_json::to_value(&memory).unwrap();
    assert_eq!(json["applied"]["W1"]["title"], "k1:00", "{json}");
    let back: Memory = serde_json::from_value(json).unwrap();
    assert_eq!(back, memory);
}

fn create_group(name: &str, members: Vec<crate::plan::UserRef>) -> PlannedOp {
    PlannedOp::new(Op::CreateGroup {
        name: name.into(),
        members,
        source: "people.yaml:9".into(),
    })
}

/// Issue 27: a group create Slack answered, and one whose answer was lost, are remembered
/// until a listing shows the group (or the hold ends); the next pass holds them back, so a
/// lagging listing never makes a second group of one name.
#[test]
fn group_creates_are_held_until_a_listing_shows_them() {
    let plan = Plan::of(vec![
        create_group("eng", vec![]),
        create_group("ops", vec![]),
        create_group("hr", vec![]),
    ]);
    let unknown = failed(None, Some(crate::apply::OUTCOME_UNKNOWN), "lost");
    let refused = failed(Some(409), Some("conflict"), "no");
    let done = outcome(vec![applied(Some("S1")), unknown, refused]);
    let live = LiveState::default();
    let memory = learn(&Memory::default(), &plan, &live, None, Some(&done));
    let eng = &memory.group_creates["create_group:eng"];
    assert_eq!(eng.id.as_deref(), Some("S1"));
    assert_eq!(eng.until, t() + chrono::Duration::hours(24));
    let ops = &memory.group_creates["create_group:ops"];
    assert_eq!(
        (ops.id.as_deref(), ops.until),
        (None, t() + chrono::Duration::seconds(60))
    );
    assert!(
        !memory.group_creates.contains_key("create_group:hr"),
        "refused: not held"
    );

    // The next pass, inside the lag: both held back and listed as held, `hr` sent again.
    let again = recall::recall(
        plan.clone(),
        &memory,
        &Policy::default(),
        STUCK,
        t() + chrono::Duration::seconds(30),
    );
    let kept: Vec<&str> = again.ops.iter().map(|o| o.subject()).collect();
    assert_eq!(kept, ["hr"]);
    assert_eq!(again.stuck.len(), 2);
    assert!(
        again
            .stuck
            .iter()
            .all(|s| s.passes == 0 && s.retry_at.is_some())
    );
    assert!(again.falls_short(), "not in sync while held");
    // Past the lost create's hold, it is sent again; the answered one is still held.
    let later = recall::recall(
        plan.clone(),
        &memory,
        &Policy::default(),
        STUCK,
        t() + chrono::Duration::seconds(61),
    );
    let kept: Vec<&str> = later.ops.iter().map(|o| o.subject()).collect();
    assert_eq!(kept, ["ops", "hr"]);

    // A listing that shows `eng` forgets it; `ops` stays remembered while its hold lasts.
    let live = LiveState {
        users: vec![],
        groups: vec![crate::model::LiveGroup {
            id: "S1".into(),
            name: " ENG".into(),
            members: vec![],
            auto_generated: false,
        }],
    };
    let next = learn(&memory, &Plan::of(vec![]), &live, None, None);
    assert_eq!(
        next.group_creates.keys().collect::<Vec<_>>(),
        ["create_group:ops"]
    );
}

/// Issue 27: a user create held back as stuck leaves the groups waiting for it; a group
/// change left with nothing to do is held back with it.
#[test]
fn a_held_user_create_leaves_its_groups_ops() {
    use crate::plan::UserRef;
    let create = PlannedOp::new(Op::CreateUser {
        email: "Support@example.com".into(),
        user_name: "support".into(),
        fields: UserFields::default(),
        source: "people.yaml:2".into(),
    });
    let mut group = create_group(
        "help",
        vec![
            UserRef::Id("W1".into()),
            UserRef::New("support@example.com".into()),
        ],
    );
    group.after = vec![0];
    let mut update = PlannedOp::new(Op::UpdateGroup {
        id: "S9".into(),
        name: "all".into(),
        rename: None,
        add: vec![UserRef::New("support@example.com".into())],
        remove: vec![],
    });
    update.after = vec![0];
    let plan = Plan::of(vec![create.clone(), group, update]);
    let mut memory = Memory::default();
    memory.failures.insert(
        op_key(&create.op),
        stuck_failure(&create, "409 username_taken", 2, t() + hours(1)),
    );
    let plan = recall::recall(plan, &memory, &Policy::default(), STUCK, t());
    assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
    let Op::CreateGroup { members, .. } = &plan.ops[0].op else {
        panic!("{:?}", plan.ops)
    };
    assert_eq!(members, &[UserRef::Id("W1".into())]);
    assert!(plan.ops[0].after.is_empty());
    assert_eq!(plan.stuck.len(), 1);
}

#[test]
fn a_keyed_digest_matches_its_own_value_under_its_own_key_only() {
    let key = DigestKey::new(b"secret one");
    let other = DigestKey::new(b"secret two");
    let stored = key.digest(&Some("Engineer"));
    assert!(stored.starts_with("k1:"), "{stored}");
    assert!(key.matches(&stored, &Some("Engineer")));
    assert!(!key.matches(&stored, &Some("Manager")), "another value");
    assert!(!other.matches(&stored, &Some("Engineer")), "another key");
    assert!(
        !DigestKey::default().matches(&stored, &Some("Engineer")),
        "no key cannot vouch for a keyed digest"
    );
    // A state written before keys existed: unkeyed digests still read.
    let unkeyed = DigestKey::default().digest(&Some("Engineer"));
    assert!(key.matches(&unkeyed, &Some("Engineer")));
    assert!(!key.matches(&unkeyed, &Some("Manager")));
}

#[test]
fn a_digest_key_never_shows_its_secret() {
    assert_eq!(
        format!("{:?}", DigestKey::new(b"secret")),
        "DigestKey([redacted])"
    );
    assert_eq!(format!("{:?}", DigestKey::default()), "DigestKey(none)");
}

/// Every time rule ends at its instant: a leaver whose grace ends now is deactivated, a stuck
/// op whose backoff ends now is sent again (still listed as stuck), and a group create whose
/// hold ends now is sent again. One second earlier, each is held.
#[test]
fn each_hold_ends_at_its_instant() {
    let mut policy = Policy::default();
    policy.safety.deactivation_grace = Some(std::time::Duration::from_secs(3600));
    let retitled = retitle("W2", "Lead");
    let group = create_group("eng", vec![]);
    let plan = Plan::of(vec![
        deactivate("W1", Leaving::Absent),
        retitled.clone(),
        group.clone(),
    ]);
    let mut memory = Memory::default();
    memory.leavers.insert("W1".into(), t() - hours(1));
    memory.failures.insert(
        op_key(&retitled.op),
        stuck_failure(&retitled, "400 invalid_title", 2, t()),
    );
    memory.group_creates.insert(
        op_key(&group.op),
        GroupCreate {
            id: None,
            at: t() - hours(1),
            until: t(),
        },
    );
    let at_the_end = recall::recall(plan.clone(), &memory, &policy, STUCK, t());
    let kept: Vec<&str> = at_the_end.ops.iter().map(|o| o.subject()).collect();
    assert_eq!(kept.len(), 3, "all three are due now: {kept:?}");
    assert!(at_the_end.pending.is_empty(), "{:?}", at_the_end.pending);
    assert_eq!(at_the_end.stuck.len(), 1, "{:?}", at_the_end.stuck);
    assert_eq!(at_the_end.stuck[0].retry_at, None, "sent again this pass");

    let a_second_early = t() - chrono::Duration::seconds(1);
    let early = recall::recall(plan, &memory, &policy, STUCK, a_second_early);
    assert!(early.ops.is_empty(), "{:?}", early.ops);
    assert_eq!(early.pending.len(), 1);
    assert_eq!(early.pending[0].remaining_secs, 1);
    assert_eq!(early.stuck.len(), 2);

    // The memory forgets the group create's hold at its instant too, and not a second before.
    let nothing = LiveState::default();
    let next = learn(&memory, &Plan::of(vec![]), &nothing, None, None);
    assert!(next.group_creates.is_empty(), "{:?}", next.group_creates);
    for c in memory.group_creates.values_mut() {
        c.until = t() + chrono::Duration::seconds(1);
    }
    let next = learn(&memory, &Plan::of(vec![]), &nothing, None, None);
    assert_eq!(next.group_creates.len(), 1);
}

/// A group create that is stuck (Slack refused it pass after pass, or its answers were lost)
/// and also remembered as sent is reported once, as the stuck op it is: its passes and cause
/// are kept rather than replaced by the "not listed yet" hold.
#[test]
fn a_stuck_group_create_keeps_its_cause_when_also_remembered_as_sent() {
    let group = create_group("eng", vec![]);
    let mut memory = Memory::default();
    memory.failures.insert(
        op_key(&group.op),
        stuck_failure(
            &group,
            "outcome_unknown: the answer was lost",
            3,
            t() + hours(1),
        ),
    );
    memory.group_creates.insert(
        op_key(&group.op),
        GroupCreate {
            id: None,
            at: t(),
            until: t() + chrono::Duration::seconds(60),
        },
    );
    let plan = recall::recall(
        Plan::of(vec![group]),
        &memory,
        &Policy::default(),
        STUCK,
        t(),
    );
    assert!(plan.ops.is_empty());
    assert_eq!(plan.stuck.len(), 1, "{:?}", plan.stuck);
    assert_eq!(plan.stuck[0].passes, 3);
    assert_eq!(plan.stuck[0].error, "outcome_unknown: the answer was lost");
}

/// A held user create leaves a group update only when nothing else is left in it: an update
/// that also renames the group or removes someone is still sent, without the held member.
#[test]
fn a_held_user_create_keeps_a_group_update_with_other_work() {
    use crate::plan::UserRef;
    let create = PlannedOp::new(Op::CreateUser {
        email: "new@example.com".into(),
        user_name: "new".into(),
        fields: UserFields::default(),
        source: "people.yaml:2".into(),
    });
    let update = |rename: Option<&str>, remove: Vec<&str>| {
        let mut op = PlannedOp::new(Op::UpdateGroup {
            id: "S9".into(),
            name: "all".into(),
            rename: rename.map(str::to_string),
            add: vec![UserRef::New("new@example.com".into())],
            remove: remove.into_iter().map(str::to_string).collect(),
        });
        op.after = vec![0];
        op
    };
    let mut memory = Memory::default();
    memory.failures.insert(
        op_key(&create.op),
        stuck_failure(&create, "409 username_taken", 2, t() + hours(1)),
    );
    for (op, sent) in [
        (update(Some("everyone"), vec![]), true),
        (update(None, vec!["W7"]), true),
        (update(None, vec![]), false),
    ] {
        let plan = Plan::of(vec![create.clone(), op]);
        let plan = recall::recall(plan, &memory, &Policy::default(), STUCK, t());
        assert_eq!(plan.ops.len(), usize::from(sent), "{:?}", plan.ops);
        if let Some(Op::UpdateGroup { add, .. }) = plan.ops.first().map(|o| &o.op) {
            assert!(add.is_empty(), "the held member is left out: {add:?}");
        }
    }
}

/// Holding an op back renumbers the `after` lists of the ops kept: an edge still points at the
/// op it pointed at before.
#[test]
fn holding_an_op_back_keeps_every_other_edge_on_its_op() {
    let mut policy = Policy::default();
    policy.safety.deactivation_grace = Some(std::time::Duration::from_secs(3600));
    let mut waiter = create("new@example.com", "Lead");
    waiter.after = vec![2];
    let plan = Plan::of(vec![
        deactivate("W1", Leaving::Absent), // held: its grace has just begun
        retitle("W2", "Lead"),
        retitle("W3", "Lead"),
        waiter,
    ]);
    let plan = recall::recall(plan, &Memory::default(), &policy, STUCK, t());
    let kept: Vec<&str> = plan.ops.iter().map(|o| o.subject()).collect();
    assert_eq!(kept.len(), 3, "{kept:?}");
    assert_eq!(plan.ops[2].after, [1], "still after W3's retitle");
    assert!(
        matches!(&plan.ops[1].op, Op::UpdateUser { id, .. } if id == "W3"),
        "{:?}",
        plan.ops[1]
    );
}

/// A target written with or without its trailing slash is one target: one state file, one
/// key in a saved plan.
#[test]
fn a_target_url_keys_the_same_with_or_without_its_trailing_slash() {
    let dir = tempfile::tempdir().unwrap();
    let key = |url: &str| {
        let path = dir.path().join("scimsync.yaml");
        std::fs::write(
            &path,
            format!(
                "target: {{url: \"{url}\", token_env: SCIM_TOKEN}}\nsources:\n  - yaml: p.yaml\n"
            ),
        )
        .unwrap();
        let config =
            crate::config::Config::load(&path, &crate::config::EnvOverrides::default()).unwrap();
        store::target_key(&config)
    };
    let bare = key("https://api.slack.com/scim/v2");
    assert_eq!(bare, "https://api.slack.com/scim/v2/");
    assert_eq!(key("https://api.slack.com/scim/v2/"), bare);
}

/// A value's digest is held as its bytes (no string per digest: half a million of them at
/// 100,000 accounts) and written as the text it always was, whatever form it has.
#[test]
fn digests_are_held_as_bytes_and_written_as_the_text_they_were() {
    assert!(std::mem::size_of::<Digest>() <= 24);
    let key = DigestKey::new(b"a secret of the state folder");
    let keyed = value_digest(&key, Some("Engineer"));
    assert!(matches!(keyed, Digest::Keyed(_)), "{keyed:?}");
    assert_eq!(keyed.to_string(), key.digest(&Some("Engineer")));
    let unkeyed = value_digest(&DigestKey::default(), Some("Engineer"));
    assert!(matches!(unkeyed, Digest::Unkeyed(_)), "{unkeyed:?}");
    assert_eq!(unkeyed.to_string(), fingerprint(&Some("Engineer")));
    for text in [
        keyed.to_string(),
        unkeyed.to_string(),
        "k1:00".to_string(),
        "K1:ABC".to_string(),
        "00000000000000AB".to_string(),
        format!("k1:{}", "A".repeat(32)),
        format!("k1:{}g", "0".repeat(31)),
        format!("k1:{}", "0".repeat(33)),
        "0123456789abcdeg".to_string(),
        "0123456789abcdef0".to_string(),
        "k1:é".to_string(),
        String::new(),
    ] {
        let json = serde_json::to_string(&text).unwrap();
        let read: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&read).unwrap(), json, "{text}");
        assert_eq!(read.to_string(), text);
    }
    assert_eq!(
        Digest::parse("0123456789abcdef"),
        Digest::Unkeyed(0x0123_4567_89ab_cdef)
    );
    let mut bytes = [0u8; 16];
    bytes[0] = 0xa5;
    bytes[15] = 0x0f;
    assert_eq!(
        Digest::parse(&format!("k1:a5{}0f", "0".repeat(28))),
        Digest::Keyed(bytes)
    );
    for other in [
        format!("k1:{}", "A".repeat(32)),
        format!("k1:{}g", "0".repeat(31)),
        "0123456789abcdeg".to_string(),
        "0123456789abcdef0".to_string(),
    ] {
        assert!(matches!(Digest::parse(&other), Digest::Other(_)), "{other}");
    }
    // Text of neither form matches nothing; the forms match their value only.
    assert!(key.matches(&keyed, &Some("Engineer")));
    assert!(!key.matches(&keyed, &Some("Manager")));
    assert!(key.matches(&unkeyed, &Some("Engineer")));
    assert!(!key.matches(&Digest::from("k1:00"), &Some("Engineer")));
    assert!(
        matches!(Digest::from("00000000000000AB"), Digest::Other(_)),
        "lower case only"
    );
    // Compared with text by what the text stands for; shown (`{:?}`) as its text; and a
    // state whose digest is no string is refused by name.
    assert!(keyed == keyed.to_string().as_str());
    assert!(keyed != "k1:00");
    assert_eq!(format!("{unkeyed:?}"), format!("{:?}", unkeyed.to_string()));
    let err = serde_json::from_str::<Digest>("5").unwrap_err().to_string();
    assert!(err.contains("expected a digest"), "{err}");
}

/// A pass that finds every value as it remembered them leaves a memory that shares each
/// account's digests with the one it began with (nothing copied); a value seen in sync anew
/// copies that account's alone, and the memory it began with is left as it was.
#[test]
fn a_pass_that_changes_nothing_copies_no_accounts_digests() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("Engineer"));
    let mut bob = person("bob@example.com", 3);
    bob.texts.set(Attribute::Title, Some("Chef"));
    let dir = directory(vec![ada, bob]);
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::Title, Some("Engineer"));
    let mut b = account("W2", "bob@example.com");
    b.texts.set(Attribute::Title, Some("Chef"));
    let live = LiveState {
        users: vec![a, b],
        groups: vec![],
    };
    let plan = Plan::of(vec![]);
    let first = learn(&Memory::default(), &plan, &live, Some(&dir), None);
    let second = learn(&first, &plan, &live, Some(&dir), None);
    assert_eq!(second.applied, first.applied);
    for id in ["W1", "W2"] {
        assert!(
            Arc::ptr_eq(&first.applied[id].0, &second.applied[id].0),
            "{id}'s digests are shared, not copied"
        );
    }
    let mut live = live;
    live.users[1].texts.set(Attribute::Title, Some("Cook"));
    let mut dir = dir;
    dir.users[1].texts.set(Attribute::Title, Some("Cook"));
    let third = learn(&second, &plan, &live, Some(&dir), None);
    assert!(Arc::ptr_eq(&second.applied["W1"].0, &third.applied["W1"].0));
    assert!(!Arc::ptr_eq(
        &second.applied["W2"].0,
        &third.applied["W2"].0
    ));
    assert_eq!(third.applied["W2"][&Attribute::Title], digest("Cook"));
    assert_eq!(second.applied["W2"][&Attribute::Title], digest("Chef"));
}

/// An account's digests: a write that changes nothing (the same digest, forgetting one it
/// does not have) keeps sharing the map; one that changes it copies it, and the map it was
/// shared with is left as it was.
#[test]
fn digests_are_copied_only_by_a_write_that_changes_them() {
    let d = |v: &str| value_digest(&DigestKey::default(), Some(v));
    let before = Digests::from([(Attribute::Title, d("Chef"))]);
    let mut next = before.clone();
    next.insert(Attribute::Title, d("Chef"));
    next.remove(Attribute::Department);
    assert!(Arc::ptr_eq(&before.0, &next.0));
    next.insert(Attribute::Title, d("Cook"));
    assert_eq!(next.get(&Attribute::Title), Some(&d("Cook")));
    assert_eq!(before.get(&Attribute::Title), Some(&d("Chef")));
    next.remove(Attribute::Title);
    assert!(next.is_empty());
    assert_eq!(before.iter().count(), 1);
}

/// A value's keyed digest is HMAC-SHA256 of its JSON, cut to 16 bytes: the same across
/// builds, so a state written by one build matches values in the next (figures from Python's
/// `hmac` over the same bytes).
#[test]
fn a_keyed_digest_is_the_hmac_of_the_values_json() {
    let key = DigestKey::new(b"scimsync-test-key");
    let cases = [
        (Some("Engineer"), "k1:52201862b6a9d5b6a8a4ce2dd1c1f045"),
        (None, "k1:d7e74b4f153a1fd922a8c65b9b76928d"),
        (
            Some("R&D \"x\" \u{1}"),
            "k1:c10f2ff92799db2174b5d8c9ef69bdde",
        ),
        (Some("Zoë"), "k1:0b137c141546edaad6a96284ee449fd2"),
    ];
    for (value, want) in cases {
        assert_eq!(value_digest(&key, value).to_string(), want, "{value:?}");
        assert!(key.matches(&Digest::from(want), &value));
    }
}

/// An account's digests read from the state file in any order come out sorted by attribute
/// (by name, as the map they replaced kept them), the last of a name read twice kept (as a
/// map reads it); inserts keep that order, and they are written back as a map in that order.
#[test]
fn digests_are_kept_and_written_in_attribute_order() {
    let d = |v: &str| value_digest(&DigestKey::default(), Some(v));
    let read: Digests = serde_json::from_str(&format!(
        r#"{{"title": "{}", "department": "{}", "given_name": "{}"}}"#,
        d("Chef"),
        d("Kitchen"),
        d("Ada")
    ))
    .unwrap();
    let order: Vec<Attribute> = read.iter().map(|(a, _)| a).collect();
    assert_eq!(
        order,
        [
            Attribute::Department,
            Attribute::GivenName,
            Attribute::Title
        ]
    );
    let twice: Digests =
        serde_json::from_str(r#"{"title": "k1:00", "title": "0123456789abcdef"}"#).unwrap();
    assert_eq!(twice.iter().count(), 1);
    assert_eq!(twice[&Attribute::Title], Digest::from("0123456789abcdef"));
    let mut grown = Digests::default();
    for (a, v) in [
        (Attribute::Title, "Chef"),
        (Attribute::Department, "Kitchen"),
        (Attribute::GivenName, "Ada"),
    ] {
        grown.insert(a, d(v));
    }
    assert_eq!(grown, read);
    let written = serde_json::to_string(&grown).unwrap();
    let at = |name: &str| written.find(name).unwrap();
    assert!(
        at("department") < at("given_name") && at("given_name") < at("title"),
        "{written}"
    );
    assert_eq!(serde_json::from_str::<Digests>(&written).unwrap(), read);
    assert_eq!(format!("{:?}", Digests::default()), "{}");
}

/// A create whose custom profile Slack dropped applied the rest: the values it dropped were
/// never applied and are not learned (the next pass's update of them is no drift).
#[test]
fn a_create_slack_dropped_part_of_learns_only_what_it_kept() {
    let mut made = create("new@example.com", "Chef");
    if let Op::CreateUser { fields, .. } = &mut made.op {
        fields
            .text
            .insert(Attribute::Department, Some("Kitchen".into()));
    }
    let done = outcome(vec![OpOutcome {
        resource: Some("W7".into()),
        result: OpResult::ProfileDropped {
            dropped: vec![Attribute::Title],
        },
        ..applied(None)
    }]);
    let live = LiveState::default();
    let next = learn(
        &Memory::default(),
        &Plan::of(vec![made]),
        &live,
        None,
        Some(&done),
    );
    assert_eq!(
        next.applied["W7"],
        Digests::from([(Attribute::Department, digest("Kitchen"))])
    );
}
