//! The planner's rules, one test each (DESIGN §2–§4).

use std::sync::Arc;

use super::*;
use crate::config::{
    AccountRef, AttributeMode, Blank, MatchKey, Policy, UnmanagedGroups, UnmanagedUsers,
};
use crate::diag::SourceLocation;
use crate::directory::{
    Attribute, AttributeOrigin, DesiredGroup, DesiredUser, Directory, SkippedUser, TextValues,
};
use crate::scim::live::{LiveGroup, LiveState, LiveUser};

fn loc(line: u32) -> SourceLocation {
    SourceLocation::new(&Arc::from("people.csv"), line, 0)
}

pub(super) fn person(email: &str, line: u32) -> DesiredUser {
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
        location: loc(line),
        origins: Default::default(),
    }
}

pub(super) fn account(id: &str, email: &str) -> LiveUser {
    LiveUser {
        id: id.into(),
        user_name: email.split('@').next().unwrap().to_lowercase(),
        active: true,
        email: email.into(),
        ..LiveUser::default()
    }
}

pub(super) fn directory(mut users: Vec<DesiredUser>, mut groups: Vec<DesiredGroup>) -> Directory {
    users.sort_by(|a, b| a.email_key.cmp(&b.email_key));
    groups.sort_by(|a, b| a.name_key.cmp(&b.name_key));
    Directory {
        users,
        groups,
        skipped: vec![],
        sources: vec![Arc::from("people.csv")],
    }
}

pub(super) fn group(name: &str, members: &[&str]) -> DesiredGroup {
    let mut members: Vec<String> = members.iter().map(|m| m.to_lowercase()).collect();
    members.sort();
    DesiredGroup {
        name: name.into(),
        name_key: name.to_lowercase(),
        members,
        location: loc(90),
    }
}

fn live(users: Vec<LiveUser>, groups: Vec<LiveGroup>) -> LiveState {
    LiveState { users, groups }
}

pub(super) fn policy() -> Policy {
    let mut p = Policy::default();
    p.scope.email_domains = vec!["example.com".into()];
    p.unmanaged_users = UnmanagedUsers::Deactivate;
    p
}

fn kinds(p: &Plan) -> Vec<String> {
    p.ops
        .iter()
        .map(|op| match &op.op {
            Op::CreateUser { email, .. } => format!("create {email}"),
            Op::UpdateUser {
                id,
                reactivate: true,
                ..
            } => format!("reactivate {id}"),
            Op::UpdateUser { id, .. } => format!("update {id}"),
            Op::DeactivateUser { id, .. } => format!("deactivate {id}"),
            Op::CreateGroup { name, .. } => format!("create group {name}"),
            Op::UpdateGroup { name, .. } => format!("update group {name}"),
            Op::DeleteGroup { name, .. } => format!("delete group {name}"),
        })
        .collect()
}

fn changes(p: &Plan, id: &str) -> Vec<String> {
    p.ops
        .iter()
        .find_map(|op| match &op.op {
            Op::UpdateUser { id: i, changes, .. } if i == id => Some(
                changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}: {} -> {}",
                            c.attribute,
                            c.from.as_deref().unwrap_or("-"),
                            c.to.as_deref().unwrap_or("-")
                        )
                    })
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default()
}

#[test]
fn a_converged_directory_plans_nothing() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("Engineer"));
    let mut a = account("W1", "Ada@Example.com");
    a.texts.set(Attribute::Title, Some("Engineer"));
    let p = plan(
        &directory(vec![ada], vec![]),
        &live(vec![a], vec![]),
        &policy(),
    );
    assert!(p.is_empty(), "{:?}", p.ops);
    assert!(p.conflicts.is_empty());
    assert!(p.guards.is_empty());
}

#[test]
fn creates_carry_every_given_attribute_and_a_source() {
    let mut ada = person("ada@example.com", 14);
    ada.texts.set(Attribute::Title, Some("Engineer"));
    ada.texts.set(Attribute::GivenName, Some("Ada"));
    let p = plan(
        &directory(vec![ada], vec![]),
        &live(vec![], vec![]),
        &policy(),
    );
    let Op::CreateUser {
        email,
        user_name,
        fields,
        source,
    } = &p.ops[0].op
    else {
        panic!("{:?}", p.ops)
    };
    assert_eq!(
        (email.as_str(), user_name.as_str()),
        ("ada@example.com", "ada")
    );
    assert_eq!(source, "people.csv:14");
    assert_eq!(fields.text[&Attribute::Title].as_deref(), Some("Engineer"));
    assert_eq!(fields.text[&Attribute::GivenName].as_deref(), Some("Ada"));
    assert_eq!(fields.active, Some(true));
}

#[test]
fn patches_carry_only_what_differs_and_unset_attributes_are_not_managed() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("Senior Engineer"));
    ada.texts.set(Attribute::Department, Some("R&D"));
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::Title, Some("Engineer"));
    a.texts.set(Attribute::Department, Some("R&D"));
    a.texts.set(Attribute::CostCenter, Some("42")); // no source gives it: left alone
    let p = plan(
        &directory(vec![ada], vec![]),
        &live(vec![a], vec![]),
        &policy(),
    );
    assert_eq!(changes(&p, "W1"), ["title: Engineer -> Senior Engineer"]);
    let Op::UpdateUser { fields, .. } = &p.ops[0].op else {
        panic!()
    };
    assert_eq!(fields.text.len(), 1);
    assert_eq!(fields.email, None);
}

#[test]
fn leavers_are_deactivated_and_unmanaged_accounts_follow_the_policy() {
    let mut bob = person("bob@example.com", 3);
    bob.active = false;
    bob.set_origin(AttributeOrigin {
        attribute: Attribute::Active,
        location: loc(3),
    });
    let accounts = vec![
        account("W1", "bob@example.com"),
        account("W2", "carl@example.com"),
    ];
    let dir = directory(vec![bob], vec![]);
    let p = plan(&dir, &live(accounts.clone(), vec![]), &policy());
    assert_eq!(kinds(&p), ["deactivate W1", "deactivate W2"]);
    let Op::DeactivateUser { reason, .. } = &p.ops[0].op else {
        panic!()
    };
    assert_eq!(
        *reason,
        Leaving::Inactive {
            at: "people.csv:3".into()
        }
    );
    assert_eq!(reason.to_string(), "active: false at people.csv:3");

    let mut report = policy();
    report.unmanaged_users = UnmanagedUsers::Report;
    let p = plan(&dir, &live(accounts.clone(), vec![]), &report);
    assert_eq!(kinds(&p), ["deactivate W1"]);
    assert_eq!(p.notices[0].subject, "carl@example.com");

    let mut ignore = policy();
    ignore.unmanaged_users = UnmanagedUsers::Ignore;
    let p = plan(&dir, &live(accounts, vec![]), &ignore);
    assert_eq!(kinds(&p), ["deactivate W1"]);
    assert!(p.notices.is_empty());
}

#[test]
fn a_rejoiner_reactivates_the_account_holding_their_email() {
    let cy = person("cy@example.com", 22);
    let mut old = account("W9", "cy@example.com");
    old.active = false;
    let p = plan(
        &directory(vec![cy], vec![]),
        &live(vec![old], vec![]),
        &policy(),
    );
    assert_eq!(kinds(&p), ["reactivate W9"]);
    assert_eq!(changes(&p, "W9"), ["active: false -> true"]);
}

#[test]
fn a_rename_through_employee_number_is_a_patch_of_the_same_account() {
    let mut ada = person("ada.byron@example.com", 2);
    ada.texts.set(Attribute::EmployeeNumber, Some("E1"));
    ada.user_name = Some("ada.byron".into());
    ada.user_name_key = "ada.byron".into();
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let p = plan(
        &directory(vec![ada], vec![]),
        &live(vec![a], vec![]),
        &policy(),
    );
    assert_eq!(kinds(&p), ["update W1"]);
    assert_eq!(
        changes(&p, "W1"),
        [
            "email: ada@example.com -> ada.byron@example.com",
            "user_name: ada -> ada.byron"
        ]
    );
}

#[test]
fn an_email_is_released_before_it_is_taken() {
    // Bob takes Ada's old address; Ada moves to a new one: Ada's PATCH must go first.
    let mut ada = person("ada.new@example.com", 2);
    ada.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut bob = person("ada@example.com", 3);
    bob.texts.set(Attribute::EmployeeNumber, Some("E2"));
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut b = account("W2", "bob@example.com");
    b.texts.set(Attribute::EmployeeNumber, Some("E2"));
    let mut pol = policy();
    pol.match_keys = vec![MatchKey::EmployeeNumber];
    let p = plan(
        &directory(vec![ada, bob], vec![]),
        &live(vec![a, b], vec![]),
        &pol,
    );
    assert!(p.conflicts.is_empty(), "{:?}", p.conflicts);
    assert_eq!(kinds(&p), ["update W1", "update W2"]);
}

#[test]
fn an_email_swap_is_reported_never_a_409_storm() {
    let mut ada = person("bob@example.com", 2);
    ada.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut bob = person("ada@example.com", 3);
    bob.texts.set(Attribute::EmployeeNumber, Some("E2"));
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut b = account("W2", "bob@example.com");
    b.texts.set(Attribute::EmployeeNumber, Some("E2"));
    let mut pol = policy();
    pol.match_keys = vec![MatchKey::EmployeeNumber];
    let p = plan(
        &directory(vec![ada, bob], vec![]),
        &live(vec![a, b], vec![]),
        &pol,
    );
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert_eq!(p.conflicts.len(), 2);
    assert!(p.conflicts[0].reason.contains("cycle"), "{:?}", p.conflicts);
}

#[test]
fn an_email_held_outside_scope_is_a_conflict_and_the_rest_still_plans() {
    let eve = person("eve@example.com", 5);
    let dan = person("dan@example.com", 6);
    // Eve's address is the secondary email of an account outside scope.
    let mut other = account("W0999", "eve.p@partner.org");
    other.secondary_email = Some("eve@example.com".into());
    let p = plan(
        &directory(vec![eve, dan], vec![]),
        &live(vec![other], vec![]),
        &policy(),
    );
    assert_eq!(kinds(&p), ["create dan@example.com"]);
    assert_eq!(p.conflicts.len(), 1);
    assert_eq!(p.conflicts[0].subject, "eve@example.com");
    assert_eq!(
        p.conflicts[0].reason,
        "email eve@example.com is held by active account W0999 outside scope"
    );
    // A directory user matching an out-of-scope account is a conflict too.
    let mut pol = policy();
    pol.scope.exclude = vec![AccountRef::UserId("W5".into())];
    let p = plan(
        &directory(vec![person("fay@example.com", 7)], vec![]),
        &live(vec![account("W5", "fay@example.com")], vec![]),
        &pol,
    );
    assert!(p.ops.is_empty());
    assert!(
        p.conflicts[0].reason.contains("outside scope"),
        "{:?}",
        p.conflicts
    );
}

#[test]
fn a_taken_user_name_is_a_conflict() {
    let p = plan(
        &directory(vec![person("ada@example.com", 2)], vec![]),
        &live(vec![account("W3", "ada@other.org")], vec![]),
        &policy(),
    );
    assert!(p.ops.is_empty());
    assert_eq!(
        p.conflicts[0].reason,
        "user name ada is held by active account W3 outside scope"
    );
    let mut holder = account("W4", "ada.lovelace@example.com");
    holder.user_name = "ada".into();
    let mut pol = policy();
    pol.unmanaged_users = UnmanagedUsers::Ignore;
    let p = plan(
        &directory(vec![person("ada@example.com", 2)], vec![]),
        &live(vec![holder], vec![]),
        &pol,
    );
    assert!(p.ops.is_empty());
    assert_eq!(
        p.conflicts[0].reason,
        "user name ada is held by active account W4"
    );
}

#[test]
fn protected_and_bot_accounts_are_never_touched() {
    let mut pol = policy();
    pol.scope.protected = vec![AccountRef::Email("root@example.com".into())];
    let mut root_in_dir = person("root@example.com", 2);
    root_in_dir.texts.set(Attribute::Title, Some("changed"));
    let mut bot = account("B1", "botuser-T1-A1@slack-bots.com");
    bot.is_bot = true;
    let accounts = vec![
        account("W1", "root@example.com"),
        account("W2", "admin2@example.com"),
        bot,
    ];
    pol.scope.protected.push(AccountRef::UserId("W2".into()));
    let p = plan(
        &directory(vec![root_in_dir], vec![]),
        &live(accounts, vec![]),
        &pol,
    );
    assert!(p.ops.is_empty(), "{:?}", p.ops);
    assert!(p.notices.iter().any(|n| n.message.contains("protected")));
}

#[test]
fn ambiguous_matches_are_conflicts_never_guesses() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut a = account("W1", "someone@example.com");
    a.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let b = account("W2", "ada@example.com");
    let p = plan(
        &directory(vec![ada], vec![]),
        &live(vec![a, b], vec![]),
        &policy(),
    );
    assert!(
        p.ops
            .iter()
            .all(|op| !matches!(&op.op, Op::UpdateUser { .. } | Op::CreateUser { .. }))
    );
    assert_eq!(
        p.conflicts[0].reason,
        "matches several accounts: W1 by employee_number, W2 by email"
    );

    // Two directory users on one account.
    let mut x = person("x@example.com", 3);
    x.texts.set(Attribute::EmployeeNumber, Some("E7"));
    let mut y = person("y@example.com", 4);
    y.texts.set(Attribute::EmployeeNumber, Some("E7"));
    let mut c = account("W7", "z@example.com");
    c.texts.set(Attribute::EmployeeNumber, Some("E7"));
    let mut pol = policy();
    pol.match_keys = vec![MatchKey::EmployeeNumber];
    let p = plan(&directory(vec![x, y], vec![]), &live(vec![c], vec![]), &pol);
    assert_eq!(p.conflicts.len(), 2);
    assert!(
        p.conflicts
            .iter()
            .all(|c| c.reason == "account W7 is matched by 2 directory users"),
        "{:?}",
        p.conflicts
    );
    assert!(
        p.ops.is_empty(),
        "the account is not deactivated as unmanaged either: {:?}",
        p.ops
    );
}

#[test]
fn an_employee_number_held_by_several_accounts_matches_none_of_them() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut accounts = Vec::new();
    for (id, email) in [
        ("W1", "one@example.com"),
        ("W2", "two@example.com"),
        ("W3", "three@example.com"),
    ] {
        let mut a = account(id, email);
        a.texts.set(Attribute::EmployeeNumber, Some("E1"));
        accounts.push(a);
    }
    let mut pol = policy();
    pol.match_keys = vec![MatchKey::EmployeeNumber, MatchKey::Email];
    let p = plan(&directory(vec![ada], vec![]), &live(accounts, vec![]), &pol);
    assert_eq!(
        p.conflicts
            .iter()
            .map(|c| c.reason.as_str())
            .collect::<Vec<_>>(),
        ["employee number E1 is held by 3 accounts"]
    );
    assert!(
        p.ops.is_empty(),
        "no create for ada, and none of the three is deactivated as unmanaged: {:?}",
        p.ops
    );
}

#[test]
fn attribute_policy_create_only_and_ignore() {
    let mut pol = policy();
    pol.attributes
        .modes
        .insert(Attribute::DisplayName, AttributeMode::CreateOnly);
    pol.attributes
        .modes
        .insert(Attribute::Title, AttributeMode::Ignore);
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::DisplayName, Some("Ada"));
    ada.texts.set(Attribute::Title, Some("Engineer"));
    let mut new = person("new@example.com", 3);
    new.texts.set(Attribute::DisplayName, Some("Newbie"));
    new.texts.set(Attribute::Title, Some("Intern"));
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::DisplayName, Some("ada-chose-this"));
    let p = plan(
        &directory(vec![ada, new], vec![]),
        &live(vec![a], vec![]),
        &pol,
    );
    assert_eq!(kinds(&p), ["create new@example.com"]);
    let Op::CreateUser { fields, .. } = &p.ops[0].op else {
        panic!()
    };
    assert_eq!(
        fields.text.get(&Attribute::DisplayName),
        Some(&Some("Newbie".to_string()))
    );
    assert_eq!(fields.text.get(&Attribute::Title), None);
}

#[test]
fn managers_resolve_to_ids_and_new_managers_are_created_first() {
    let mut boss = person("zed@example.com", 2); // sorts last by email
    boss.texts.set(Attribute::GivenName, Some("Zed"));
    let mut ada = person("ada@example.com", 3);
    ada.manager = Some("zed@example.com".into());
    let mut bob = person("bob@example.com", 4);
    bob.manager = Some("carl@example.com".into());
    let carl = person("carl@example.com", 5);
    let p = plan(
        &directory(vec![boss, ada, bob, carl], vec![]),
        &live(
            vec![
                account("W2", "bob@example.com"),
                account("W3", "carl@example.com"),
            ],
            vec![],
        ),
        &policy(),
    );
    assert_eq!(
        kinds(&p),
        [
            "create zed@example.com",
            "create ada@example.com",
            "update W2"
        ]
    );
    let Op::CreateUser { fields, .. } = &p.ops[1].op else {
        panic!()
    };
    assert_eq!(
        fields.manager,
        Some(Some(UserRef::New("zed@example.com".into())))
    );
    let Op::UpdateUser { fields, .. } = &p.ops[2].op else {
        panic!()
    };
    assert_eq!(fields.manager, Some(Some(UserRef::Id("W3".into()))));
}

#[test]
fn groups_are_created_updated_and_deleted_by_policy() {
    let users = vec![
        person("ada@example.com", 2),
        person("bob@example.com", 3),
        person("new@example.com", 4),
    ];
    let groups = vec![
        group("eng", &["ada@example.com", "new@example.com"]),
        group("design", &["bob@example.com"]),
    ];
    let live_groups = vec![
        LiveGroup {
            id: "S1".into(),
            name: "eng".into(),
            members: vec!["W1".into(), "W2".into()],
            auto_generated: false,
        },
        LiveGroup {
            id: "S2".into(),
            name: "old".into(),
            members: vec![],
            auto_generated: false,
        },
        LiveGroup {
            id: "S3".into(),
            name: "Team Admins".into(),
            members: vec![],
            auto_generated: true,
        },
    ];
    let accounts = vec![
        account("W1", "ada@example.com"),
        account("W2", "bob@example.com"),
    ];
    let mut pol = policy();
    pol.unmanaged_groups = UnmanagedGroups::Delete;
    let p = plan(
        &directory(users, groups),
        &live(accounts, live_groups),
        &pol,
    );
    assert_eq!(
        kinds(&p),
        [
            "create new@example.com",
            "create group design",
            "update group eng",
            "delete group old"
        ]
    );
    let Op::CreateGroup { members, .. } = &p.ops[1].op else {
        panic!()
    };
    assert_eq!(members, &[UserRef::Id("W2".into())]);
    let Op::UpdateGroup { add, remove, .. } = &p.ops[2].op else {
        panic!()
    };
    assert_eq!(add, &[UserRef::New("new@example.com".into())]);
    assert_eq!(remove, &["W2".to_string()]);
    assert_eq!(p.summary().membership_changes, 3);
    // Deleting a group needs explicit permission.
    assert_eq!(p.guards[0].guard, Guard::AllowGroupDeletion);
}

#[test]
fn an_auto_generated_group_in_the_directory_is_a_conflict() {
    let p = plan(
        &directory(
            vec![person("ada@example.com", 2)],
            vec![group("Team Admins", &["ada@example.com"])],
        ),
        &live(
            vec![account("W1", "ada@example.com")],
            vec![LiveGroup {
                id: "S3".into(),
                name: "Team Admins".into(),
                members: vec![],
                auto_generated: true,
            }],
        ),
        &policy(),
    );
    assert!(p.ops.is_empty());
    assert!(p.conflicts[0].reason.contains("generated by Slack"));
}

#[test]
fn guards_say_which_limit_and_by_how_much() {
    let accounts: Vec<LiveUser> = (0..40)
        .map(|i| account(&format!("W{i}"), &format!("u{i}@example.com")))
        .collect();
    let keep: Vec<DesiredUser> = (0..10)
        .map(|i| person(&format!("u{i}@example.com"), i + 2))
        .collect();
    let p = plan(&directory(keep, vec![]), &live(accounts, vec![]), &policy());
    assert_eq!(p.summary().deactivate, 30);
    let trips: Vec<&str> = p.guards.iter().map(|g| g.guard.key()).collect();
    assert_eq!(trips, ["max_deactivations", "max_deactivation_ratio"]);
    assert_eq!(
        p.guards[0].message,
        "30 deactivations planned, limit 25 (5 over)"
    );
    assert!(
        p.guards[1].message.contains("30 of 40 managed users"),
        "{}",
        p.guards[1].message
    );

    let empty = plan(&directory(vec![], vec![]), &live(vec![], vec![]), &policy());
    assert_eq!(empty.guards[0].guard, Guard::MinDirectoryUsers);
}

/// A row skipped as invalid, with only its email as a key.
fn skipped_row(email: &str, line: u32) -> SkippedUser {
    SkippedUser {
        email_key: email.into(),
        employee_number: None,
        id: None,
        user_name_key: None,
        location: loc(line),
    }
}

/// A row skipped as invalid keeps its account (not deactivated) and is still referred to as
/// it: a hire it manages gets that manager, and a group that lists it wants that account (no
/// removal), while a member with neither an account nor a create is left out.
#[test]
fn skipped_invalid_users_keep_their_accounts_and_are_referred_to_as_them() {
    let mut cy = person("cy@example.com", 3);
    cy.manager = Some("bad@example.com".into());
    let mut dir = directory(
        vec![person("ada@example.com", 2), cy],
        vec![group(
            "eng",
            &["ada@example.com", "bad@example.com", "nobody@example.com"],
        )],
    );
    dir.skipped.push(skipped_row("bad@example.com", 9));
    let eng = LiveGroup {
        id: "S1".into(),
        name: "eng".into(),
        members: vec!["W1".into(), "W2".into()],
        auto_generated: false,
    };
    let p = plan(
        &dir,
        &live(
            vec![
                account("W1", "ada@example.com"),
                account("W2", "bad@example.com"),
            ],
            vec![eng],
        ),
        &policy(),
    );
    // No group change: `eng` wants W1 and W2, as it has.
    let kinds: Vec<String> = p.ops.iter().map(|o| o.op.kind().to_string()).collect();
    assert_eq!(kinds, ["create_user"], "{:?}", p.ops);
    let Op::CreateUser { fields, .. } = &p.ops[0].op else {
        unreachable!()
    };
    assert_eq!(fields.manager, Some(Some(UserRef::Id("W2".into()))));
}

#[test]
fn fingerprints_cover_every_touched_resource_and_json_round_trips() {
    let mut ada = person("ada@example.com", 2);
    ada.texts.set(Attribute::Title, Some("x"));
    let p = plan(
        &directory(vec![ada], vec![]),
        &live(
            vec![
                account("W1", "ada@example.com"),
                account("W2", "gone@example.com"),
            ],
            vec![],
        ),
        &policy(),
    );
    assert_eq!(p.fingerprints.keys().collect::<Vec<_>>(), ["W1", "W2"]);
    let mut p = p;
    p.binding = Some(crate::plan::seal::Binding {
        target: "embedded".into(),
        organisation: "T1".into(),
        config: "c.yaml".into(),
        config_sha256: "00".into(),
    });
    p.seal = "hmac-sha256:00".into();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(from_json(&json).unwrap(), p);
    assert!(
        from_json(r#"{"format_version": 99}"#)
            .unwrap_err()
            .contains("99")
    );
}

/// Issue 22: the plan is the whole truth about order. A reactivated account joining a group
/// and a group deletion: the saved plan lists the group change after the reactivation and the
/// deletion after everything, and reads back with those edges; a version 4 plan (which left
/// them to the executor) is refused with the usual message.
#[test]
fn a_saved_plan_lists_every_edge_the_executor_honours() {
    let mut ada = account("W1", "ada@example.com");
    ada.active = false;
    let live_groups = vec![
        LiveGroup {
            id: "S1".into(),
            name: "eng".into(),
            members: vec![],
            auto_generated: false,
        },
        LiveGroup {
            id: "S2".into(),
            name: "old".into(),
            members: vec![],
            auto_generated: false,
        },
    ];
    let mut pol = policy();
    pol.unmanaged_groups = UnmanagedGroups::Delete;
    let mut p = plan(
        &directory(
            vec![person("ada@example.com", 2), person("new@example.com", 3)],
            vec![group("eng", &["ada@example.com", "new@example.com"])],
        ),
        &live(vec![ada], live_groups),
        &pol,
    );
    assert_eq!(
        kinds(&p),
        [
            "reactivate W1",
            "create new@example.com",
            "update group eng",
            "delete group old"
        ]
    );
    let after: Vec<&[usize]> = p.ops.iter().map(|o| o.after.as_slice()).collect();
    assert_eq!(after, [&[][..], &[], &[0, 1], &[0, 1, 2]]);
    p.binding = Some(crate::plan::seal::Binding {
        target: "embedded".into(),
        organisation: "T1".into(),
        config: "c.yaml".into(),
        config_sha256: "00".into(),
    });
    p.seal = "hmac-sha256:00".into();
    let json = serde_json::to_string(&p).unwrap();
    assert_eq!(from_json(&json).unwrap().ops, p.ops);
    let older = json.replace("\"format_version\":5", "\"format_version\":4");
    assert!(
        from_json(&older)
            .unwrap_err()
            .contains("plan format version 4 is not supported"),
    );
}

/// Why an account leaves is a value logic matches on; the report's words and the JSON are
/// rendered from it.
#[test]
fn a_leaving_reason_renders_its_words_and_its_json() {
    let absent = Leaving::Absent;
    let inactive = Leaving::Inactive {
        at: "people.csv:3".into(),
    };
    assert_eq!(absent.to_string(), "not in the directory");
    assert_eq!(inactive.to_string(), "active: false at people.csv:3");
    assert_eq!(
        serde_json::to_value(&absent).unwrap(),
        serde_json::json!({"kind": "absent"})
    );
    assert_eq!(
        serde_json::to_value(&inactive).unwrap(),
        serde_json::json!({"kind": "inactive", "at": "people.csv:3"})
    );
    let read: Leaving = serde_json::from_str(r#"{"kind": "absent"}"#).unwrap();
    assert_eq!(read, absent);
    assert!(serde_json::from_str::<Leaving>(r#""not in the directory""#).is_err());
}

/// One rule for "a managed account": in scope, not a bot, and active; a deactivated account in
/// scope is still within reach (a rejoiner).
#[test]
fn a_managed_account_is_active_in_scope_and_not_a_bot() {
    let pol = policy();
    let ada = account("W1", "ada@example.com");
    let mut gone = account("W2", "gone@example.com");
    gone.active = false;
    let mut bot = account("W3", "bot@example.com");
    bot.is_bot = true;
    let outside = account("W4", "ext@elsewhere.test");
    let judge = |u: &LiveUser| {
        let scoped = in_scope(&pol.scope, u);
        (reaches(u, scoped), manages(u, scoped))
    };
    assert_eq!(judge(&ada), (true, true));
    assert_eq!(judge(&gone), (true, false));
    assert_eq!(judge(&bot), (false, false));
    assert_eq!(judge(&outside), (false, false));
    let p = plan(
        &directory(vec![], vec![]),
        &live(vec![ada, gone, bot, outside], vec![]),
        &pol,
    );
    assert_eq!(p.counts.managed_users, 1);
}

#[test]
fn blanks_keep_slacks_value_unless_the_attribute_says_clear() {
    let mut ada = person("ada@example.com", 2);
    ada.blanks = vec![
        Attribute::GivenName,
        Attribute::Title,
        Attribute::Phone,
        Attribute::Department,
        Attribute::Manager,
        Attribute::StartDate,
        Attribute::DisplayName,
    ];
    let mut a = account("W1", "ada@example.com");
    for attribute in [
        Attribute::GivenName,
        Attribute::Title,
        Attribute::Phone,
        Attribute::Department,
        Attribute::DisplayName,
    ] {
        a.texts.set(attribute, Some(format!("old {attribute}")));
    }
    a.texts.set(Attribute::StartDate, Some("2020-01-01"));
    a.manager_id = Some("W9".into());
    let live_state = live(vec![a, account("W9", "boss@example.com")], vec![]);

    // By default a blank is no value: nothing changes.
    let mut ada_and_boss = vec![ada.clone(), person("boss@example.com", 3)];
    let p = plan(
        &directory(ada_and_boss.clone(), vec![]),
        &live_state,
        &policy(),
    );
    assert!(p.is_empty(), "{:?}", kinds(&p));

    // `clear` clears what Slack holds; a name never (the config refuses it, and the planner
    // does not trust the config alone); an `ignore`d or `create_only` attribute is left.
    let mut pol = policy();
    for attribute in [
        Attribute::GivenName,
        Attribute::Title,
        Attribute::Phone,
        Attribute::Manager,
        Attribute::StartDate,
        Attribute::DisplayName,
        Attribute::Department,
    ] {
        pol.attributes.blanks.insert(attribute, Blank::Clear);
    }
    pol.attributes
        .modes
        .insert(Attribute::Department, AttributeMode::Ignore);
    pol.attributes
        .modes
        .insert(Attribute::DisplayName, AttributeMode::CreateOnly);
    let p = plan(&directory(ada_and_boss.clone(), vec![]), &live_state, &pol);
    let mut got = changes(&p, "W1");
    got.sort();
    assert_eq!(
        got,
        [
            "manager: W9 -> -",
            "phone: old phone -> -",
            "start_date: 2020-01-01 -> -",
            "title: old title -> -",
        ]
    );
    let Op::UpdateUser { fields, .. } = &p.ops[0].op else {
        panic!()
    };
    assert_eq!(fields.text.get(&Attribute::Title), Some(&None));
    assert_eq!(fields.manager, Some(None));

    // Nothing to clear when Slack holds nothing; a create sends no blank.
    ada_and_boss[0].email = "new@example.com".into();
    ada_and_boss[0].email_key = "new@example.com".into();
    ada_and_boss[0].user_name_key = "new".into();
    let p = plan(&directory(ada_and_boss, vec![]), &live_state, &pol);
    let Some(Op::CreateUser { fields, .. }) = p
        .ops
        .iter()
        .map(|o| &o.op)
        .find(|op| matches!(op, Op::CreateUser { .. }))
    else {
        panic!("{:?}", kinds(&p))
    };
    assert!(
        fields.text.is_empty() && fields.manager.is_none(),
        "{fields:?}"
    );
}
