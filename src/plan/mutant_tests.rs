//! Tests written against `cargo mutants` survivors of the planner's building blocks (the op
//! builders, the ordering of user ops, group ops): each asserts what the planner must do and
//! fails with the mutant.

use std::sync::Arc;

use chrono::{TimeZone, Utc};

use super::tests::{account, directory, person, policy};
use super::{GuestSpec, Op, Plan, plan};
use crate::config::{AttributeMode, UnmanagedGroups};
use crate::diag::SourceLocation;
use crate::directory::{Attribute, AttributeOrigin, DesiredUser, Guest};
use crate::scim::live::{LiveGroup, LiveState, LiveUser};

fn live(users: Vec<LiveUser>, groups: Vec<LiveGroup>) -> LiveState {
    LiveState { users, groups }
}

fn in_2030() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

/// A directory user whose source has a guest column, saying `guest`.
fn says_guest(email: &str, guest: Option<Guest>) -> DesiredUser {
    let mut d = person(email, 2);
    d.guest = guest;
    d.set_origin(AttributeOrigin {
        attribute: Attribute::Guest,
        location: SourceLocation::new(&Arc::from("people.csv"), 2, 0),
    });
    d
}

fn ops(p: &Plan) -> Vec<String> {
    p.ops
        .iter()
        .map(|o| format!("{} {}", o.kind(), o.op.resource_id().unwrap_or(o.subject())))
        .collect()
}

fn guest_field(p: &Plan, subject: &str) -> Option<Option<GuestSpec>> {
    p.ops
        .iter()
        .find(|o| o.subject() == subject)
        .and_then(|o| match &o.op {
            Op::CreateUser { fields, .. } | Op::UpdateUser { fields, .. } => fields.guest.clone(),
            _ => None,
        })
}

#[test]
fn a_new_guest_is_created_a_guest_with_its_expiration_never_a_full_member() {
    let guest = says_guest(
        "gus@example.com",
        Some(Guest {
            expiration: Some(in_2030()),
        }),
    );
    let member = person("mia@example.com", 3);
    let dir = directory(vec![guest, member], vec![]);
    let p = plan(&dir, &live(vec![], vec![]), &policy());
    assert_eq!(
        guest_field(&p, "gus@example.com"),
        Some(Some(GuestSpec {
            expiration: Some("2030-01-01T00:00:00Z".into())
        }))
    );
    assert_eq!(guest_field(&p, "mia@example.com"), None);
    let mut ignoring = policy();
    ignoring
        .attributes
        .modes
        .insert(Attribute::Guest, AttributeMode::Ignore);
    let p = plan(&dir, &live(vec![], vec![]), &ignoring);
    assert_eq!(guest_field(&p, "gus@example.com"), None);
}

#[test]
fn guest_status_changes_only_where_a_source_says_something_about_guests() {
    let mut was_guest = account("W2", "bob@example.com");
    was_guest.guest = Some(None);
    let mut same = account("W3", "cy@example.com");
    same.guest = Some(Some(in_2030()));
    let mut unmanaged = account("W4", "dan@example.com");
    unmanaged.guest = Some(None);
    let dir = directory(
        vec![
            says_guest(
                "ada@example.com",
                Some(Guest {
                    expiration: Some(in_2030()),
                }),
            ),
            says_guest("bob@example.com", None),
            says_guest(
                "cy@example.com",
                Some(Guest {
                    expiration: Some(in_2030()),
                }),
            ),
            person("dan@example.com", 5),
        ],
        vec![],
    );
    let p = plan(
        &dir,
        &live(
            vec![account("W1", "ada@example.com"), was_guest, same, unmanaged],
            vec![],
        ),
        &policy(),
    );
    assert_eq!(ops(&p), ["update_user W1", "update_user W2"]);
    let change = |id: &str| match &p
        .ops
        .iter()
        .find(|o| o.op.resource_id() == Some(id))
        .unwrap()
        .op
    {
        Op::UpdateUser { changes, .. } => changes
            .iter()
            .map(|c| format!("{}: {:?} -> {:?}", c.attribute, c.from, c.to))
            .collect::<Vec<_>>(),
        _ => unreachable!(),
    };
    assert_eq!(
        change("W1"),
        ["guest: Some(\"member\") -> Some(\"guest until 2030-01-01T00:00:00Z\")"]
    );
    assert_eq!(change("W2"), ["guest: Some(\"guest\") -> Some(\"member\")"]);
    assert_eq!(
        guest_field(&p, "ada@example.com"),
        Some(Some(GuestSpec {
            expiration: Some("2030-01-01T00:00:00Z".into())
        }))
    );
    assert_eq!(
        guest_field(&p, "bob@example.com"),
        Some(None),
        "made a full member"
    );
}

#[test]
fn deactivations_and_group_deletions_are_in_email_and_name_order() {
    let mut p = policy();
    p.unmanaged_groups = UnmanagedGroups::Delete;
    p.safety.max_deactivation_ratio = 1.0;
    let group = |id: &str, name: &str| LiveGroup {
        id: id.into(),
        name: name.into(),
        members: vec![],
        auto_generated: false,
    };
    let plan = plan(
        &directory(vec![], vec![]),
        &live(
            vec![
                account("W1", "zed@example.com"),
                account("W2", "ada@example.com"),
                account("W3", "mid@example.com"),
            ],
            vec![group("S1", "zeta"), group("S2", "Alpha")],
        ),
        &p,
    );
    assert_eq!(
        ops(&plan),
        [
            "deactivate_user W2",
            "deactivate_user W3",
            "deactivate_user W1",
            "delete_group S2",
            "delete_group S1"
        ]
    );
}

#[test]
fn renames_and_reactivations_come_first_then_creates_then_other_updates() {
    // Ranked before the email order: zed's reactivation and yan's rename precede ada's
    // create, which precedes bob's title change.
    let mut yann = person("yann@example.com", 2);
    yann.texts.set(Attribute::EmployeeNumber, Some("E2"));
    let mut yan = account("W2", "yan@example.com");
    yan.texts.set(Attribute::EmployeeNumber, Some("E2"));
    let mut zed = account("W1", "zed@example.com");
    zed.active = false;
    let mut bob = person("bob@example.com", 4);
    bob.texts.set(Attribute::Title, Some("Lead"));
    let p = plan(
        &directory(
            vec![
                person("ada@example.com", 3),
                bob,
                yann,
                person("zed@example.com", 5),
            ],
            vec![],
        ),
        &live(vec![zed, yan, account("W3", "bob@example.com")], vec![]),
        &policy(),
    );
    assert_eq!(
        ops(&p),
        [
            "update_user W2",
            "reactivate_user W1",
            "create_user ada@example.com",
            "update_user W3"
        ]
    );
}

#[test]
fn a_key_released_by_one_account_but_held_by_another_is_still_a_conflict() {
    // x@ is W2's primary email and also W1's secondary: W2 giving it up does not free it.
    let with = |email: &str, number: &str| {
        let mut d = person(email, 2);
        d.texts.set(Attribute::EmployeeNumber, Some(number));
        d
    };
    let holds = |id: &str, email: &str, number: &str| {
        let mut a = account(id, email);
        a.texts.set(Attribute::EmployeeNumber, Some(number));
        a
    };
    let mut bob = holds("W1", "bob@example.com", "E1");
    bob.secondary_email = Some("x@example.com".into());
    let mut p = policy();
    p.match_keys = vec![crate::config::MatchKey::EmployeeNumber];
    let plan = plan(
        &directory(
            vec![
                with("bob@example.com", "E1"),
                with("x2@example.com", "E2"),
                with("x@example.com", "E3"),
            ],
            vec![],
        ),
        &live(
            vec![
                bob,
                holds("W2", "x@example.com", "E2"),
                holds("W3", "carl@example.com", "E3"),
            ],
            vec![],
        ),
        &p,
    );
    assert_eq!(ops(&plan), ["update_user W2"]);
    assert_eq!(plan.conflicts.len(), 1, "{:?}", plan.conflicts);
    assert_eq!(
        plan.conflicts[0].reason,
        "email x@example.com is held by active account W1"
    );
}

#[test]
fn only_managed_members_are_taken_out_of_a_group_and_never_leavers_or_kept_accounts() {
    let mut bot = account("W5", "bot@example.com");
    bot.is_bot = true;
    let members = ["W1", "W2", "W3", "W5", "W6", "W7"];
    let team = LiveGroup {
        id: "S1".into(),
        name: "team".into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        auto_generated: false,
    };
    let mut dir = directory(
        vec![person("ada@example.com", 2)],
        vec![super::tests::group("team", &["ada@example.com"])],
    );
    dir.skipped.push(crate::directory::SkippedUser {
        email_key: "bad@example.com".into(),
        employee_number: None,
        id: None,
        user_name_key: None,
        location: SourceLocation::new(&Arc::from("people.csv"), 9, 0),
    });
    let mut p = policy();
    p.scope.protected = vec![crate::config::AccountRef::Email("boss@example.com".into())];
    let plan = plan(
        &dir,
        &live(
            vec![
                account("W1", "ada@example.com"),
                account("W2", "gone@example.com"),
                account("W3", "bad@example.com"),
                bot,
                account("W6", "out@partner.org"),
                account("W7", "boss@example.com"),
            ],
            vec![team],
        ),
        &p,
    );
    // The leaver is deactivated (Slack drops them from groups itself); the skipped row's
    // account, the bot, the account outside scope and the protected one stay members.
    assert_eq!(ops(&plan), ["deactivate_user W2"]);
}

#[test]
fn a_group_created_empty_because_its_only_member_is_protected_says_so() {
    let mut p = policy();
    p.scope.protected = vec![crate::config::AccountRef::Email("boss@example.com".into())];
    let dir = directory(
        vec![person("boss@example.com", 2), person("ada@example.com", 3)],
        vec![
            super::tests::group("board", &["boss@example.com"]),
            super::tests::group("team", &["ada@example.com", "boss@example.com"]),
        ],
    );
    let plan = plan(
        &dir,
        &live(
            vec![
                account("W1", "ada@example.com"),
                account("W7", "boss@example.com"),
            ],
            vec![],
        ),
        &p,
    );
    let board: Vec<&str> = plan
        .notices
        .iter()
        .filter(|n| n.subject == "board")
        .map(|n| n.message.as_str())
        .collect();
    assert_eq!(
        board,
        [
            "created with no members: none of its 1 member can be added (boss@example.com: \
          each is a leaver, a guest, protected, outside scope, in a conflict or skipped; \
          see the notices and conflicts)"
        ],
        "{:?}",
        plan.notices
    );
    assert!(
        !plan.notices.iter().any(|n| n.subject == "team"),
        "a group with members says nothing: {:?}",
        plan.notices
    );
}

#[test]
fn a_group_update_that_only_removes_only_adds_or_only_renames_is_planned() {
    let live_group = |id: &str, name: &str, members: &[&str]| LiveGroup {
        id: id.into(),
        name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        auto_generated: false,
    };
    let group = super::tests::group;
    let plan = plan(
        &directory(
            vec![person("ada@example.com", 2), person("bob@example.com", 3)],
            vec![
                group("crew", &["ada@example.com"]),
                group("squad", &["ada@example.com", "bob@example.com"]),
                group("team", &["ada@example.com"]),
            ],
        ),
        &live(
            vec![
                account("W1", "ada@example.com"),
                account("W2", "bob@example.com"),
            ],
            vec![
                live_group("S1", "team", &["W1", "W2"]),
                live_group("S2", "squad", &["W1"]),
                live_group("S3", "Crew", &["W1"]),
            ],
        ),
        &policy(),
    );
    let updates: Vec<String> = plan
        .ops
        .iter()
        .map(|o| match &o.op {
            Op::UpdateGroup {
                id,
                rename,
                add,
                remove,
                ..
            } => format!("{id} {rename:?} +{} -{remove:?}", add.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        updates,
        [
            "S3 Some(\"crew\") +0 -[]",
            "S2 None +1 -[]",
            "S1 None +0 -[\"W2\"]"
        ]
    );
}
