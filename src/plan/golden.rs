//! Golden plans: the rendered text and JSON of a dozen scenarios, kept as snapshot files
//! (`src/plan/snapshots/`) and reviewed like code. `INSTA_UPDATE=always cargo test` rewrites
//! them after an intended change; CI fails on any difference.

use super::render::{json, markdown, text};
use super::tests::{account, directory, person};
use super::*;
use crate::config::{AccountRef, AttributeMode, MatchKey, Policy, UnmanagedGroups, UnmanagedUsers};
use crate::diag::SourceLocation;
use crate::directory::{Attribute, AttributeOrigin, DesiredGroup, DesiredUser};
use crate::scim::live::{LiveGroup, LiveState, LiveUser};

fn policy() -> Policy {
    let mut p = Policy::default();
    p.scope.email_domains = vec!["example.com".into()];
    p.scope.protected = vec![AccountRef::Email("it-admin@example.com".into())];
    p.unmanaged_users = UnmanagedUsers::Deactivate;
    p
}

fn group(name: &str, members: &[&str]) -> DesiredGroup {
    DesiredGroup {
        name: name.into(),
        name_key: name.to_lowercase(),
        members: members.iter().map(|m| m.to_string()).collect(),
        location: SourceLocation::new(&std::sync::Arc::from("directory.yaml"), 40, 5),
    }
}

fn live_group(id: &str, name: &str, members: &[&str]) -> LiveGroup {
    LiveGroup {
        id: id.into(),
        name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        auto_generated: name == "Team Admins",
    }
}

fn titled(mut d: DesiredUser, title: &str) -> DesiredUser {
    d.texts.set(Attribute::Title, Some(title));
    d
}

fn with_title(mut l: LiveUser, title: &str) -> LiveUser {
    l.texts.set(Attribute::Title, Some(title));
    l
}

/// The counts a scenario must plan, asserted beside its snapshot (omicron's planning tests keep
/// both): creates, reactivations, updates, deactivations, group creates, group updates, group
/// deletions, membership changes, conflicts. A snapshot accepted by mistake still fails here.
type Expected = [usize; 9];

fn check(
    name: &str,
    users: Vec<DesiredUser>,
    groups: Vec<DesiredGroup>,
    live: &LiveState,
    policy: &Policy,
    expected: Expected,
) {
    let p = plan(&directory(users, groups), live, policy);
    let s = p.summary();
    let planned = [
        s.create,
        s.reactivate,
        s.update,
        s.deactivate,
        s.group_create,
        s.group_update,
        s.group_delete,
        s.membership_changes,
        s.conflicts,
    ];
    assert_eq!(planned, expected, "{name}: the counts the scenario plans");
    insta::assert_snapshot!(format!("{name}.txt"), text(&p, false));
    insta::assert_snapshot!(format!("{name}.json"), json(&p));
}

#[test]
fn golden_converged() {
    check(
        "converged",
        vec![titled(person("ada@example.com", 2), "Engineer")],
        vec![],
        &LiveState {
            users: vec![with_title(account("W1", "ada@example.com"), "Engineer")],
            groups: vec![],
        },
        &policy(),
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_initial_import() {
    let mut grace = titled(person("grace@example.com", 2), "CTO");
    grace.texts.set(Attribute::GivenName, Some("Grace"));
    let mut ada = titled(person("ada@example.com", 3), "Engineer");
    ada.manager = Some("grace@example.com".into());
    ada.texts.set(Attribute::Department, Some("R&D"));
    check(
        "initial_import",
        vec![grace, ada],
        vec![group("eng", &["ada@example.com", "grace@example.com"])],
        &LiveState::default(),
        &policy(),
        [2, 0, 0, 0, 1, 0, 0, 2, 0],
    );
}

#[test]
fn golden_leaver_and_unmanaged() {
    let mut bob = person("bob@example.com", 4);
    bob.active = false;
    bob.set_origin(AttributeOrigin {
        attribute: Attribute::Active,
        location: bob.location.clone(),
    });
    check(
        "leaver_and_unmanaged",
        vec![person("ada@example.com", 2), bob],
        vec![],
        &LiveState {
            users: vec![
                account("W1", "ada@example.com"),
                account("W2", "bob@example.com"),
                account("W3", "dan@example.com"),
            ],
            groups: vec![],
        },
        &policy(),
        [0, 0, 0, 2, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_rejoiner() {
    let mut old = account("W9", "cy@example.com");
    old.active = false;
    check(
        "rejoiner",
        vec![titled(person("cy@example.com", 22), "Analyst")],
        vec![],
        &LiveState {
            users: vec![old],
            groups: vec![],
        },
        &policy(),
        [0, 1, 0, 0, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_rename_by_employee_number() {
    let mut ada = person("ada.byron@example.com", 2);
    ada.texts.set(Attribute::EmployeeNumber, Some("E1"));
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::EmployeeNumber, Some("E1"));
    check(
        "rename",
        vec![ada],
        vec![],
        &LiveState {
            users: vec![a],
            groups: vec![],
        },
        &policy(),
        [0, 0, 1, 0, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_email_swap_and_chain() {
    let mut pol = policy();
    pol.match_keys = vec![MatchKey::EmployeeNumber];
    let mk = |email: &str, e: &str, line| {
        let mut d = person(email, line);
        d.texts.set(Attribute::EmployeeNumber, Some(e));
        d
    };
    let lk = |id: &str, email: &str, e: &str| {
        let mut l = account(id, email);
        l.texts.set(Attribute::EmployeeNumber, Some(e));
        l
    };
    check(
        "swap_and_chain",
        vec![
            // A swap: W1 and W2 trade addresses.
            mk("bob@example.com", "E1", 2),
            mk("ada@example.com", "E2", 3),
            // A chain: W4 moves on, W3 takes W4's old address.
            mk("dee@example.com", "E3", 4),
            mk("dee.new@example.com", "E4", 5),
        ],
        vec![],
        &LiveState {
            users: vec![
                lk("W1", "ada@example.com", "E1"),
                lk("W2", "bob@example.com", "E2"),
                lk("W3", "cat@example.com", "E3"),
                lk("W4", "dee@example.com", "E4"),
            ],
            groups: vec![],
        },
        &pol,
        [0, 0, 2, 0, 0, 0, 0, 0, 2],
    );
}

#[test]
fn golden_out_of_scope_conflict() {
    let mut other = account("W0999", "eve.p@partner.org");
    other.secondary_email = Some("eve@example.com".into());
    check(
        "out_of_scope",
        vec![person("eve@example.com", 5), person("fay@example.com", 6)],
        vec![],
        &LiveState {
            users: vec![other],
            groups: vec![],
        },
        &policy(),
        [1, 0, 0, 0, 0, 0, 0, 0, 1],
    );
}

#[test]
fn golden_protected_and_bots() {
    let mut bot = account("B1", "botuser-T1-A1@slack-bots.com");
    bot.is_bot = true;
    check(
        "protected_and_bots",
        vec![titled(person("it-admin@example.com", 2), "changed")],
        vec![],
        &LiveState {
            users: vec![account("W1", "it-admin@example.com"), bot],
            groups: vec![live_group("S0", "Team Admins", &["W1"])],
        },
        &policy(),
        [0, 0, 0, 0, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_attribute_policy() {
    let mut pol = policy();
    pol.attributes
        .modes
        .insert(Attribute::DisplayName, AttributeMode::CreateOnly);
    pol.attributes
        .modes
        .insert(Attribute::Title, AttributeMode::Ignore);
    let mut ada = titled(person("ada@example.com", 2), "Engineer");
    ada.texts.set(Attribute::DisplayName, Some("Ada"));
    ada.texts.set(Attribute::Department, Some("Research"));
    let mut a = account("W1", "ada@example.com");
    a.texts.set(Attribute::DisplayName, Some("ada-chose-this"));
    a.texts.set(Attribute::Department, Some("R&D"));
    let mut new = titled(person("new@example.com", 3), "Intern");
    new.texts.set(Attribute::DisplayName, Some("Newbie"));
    check(
        "attribute_policy",
        vec![ada, new],
        vec![],
        &LiveState {
            users: vec![a],
            groups: vec![],
        },
        &pol,
        [1, 0, 1, 0, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_guard_trips() {
    let users: Vec<LiveUser> = (0..30)
        .map(|i| account(&format!("W{i:02}"), &format!("u{i:02}@example.com")))
        .collect();
    check(
        "guard_trips",
        vec![person("u00@example.com", 2)],
        vec![],
        &LiveState {
            users,
            groups: vec![],
        },
        &policy(),
        [0, 0, 0, 29, 0, 0, 0, 0, 0],
    );
}

#[test]
fn golden_groups() {
    let mut pol = policy();
    pol.unmanaged_groups = UnmanagedGroups::Delete;
    pol.safety.allow_group_deletion = true;
    check(
        "groups",
        vec![
            person("ada@example.com", 2),
            person("bob@example.com", 3),
            person("new@example.com", 4),
        ],
        vec![
            group("Engineering", &["ada@example.com", "new@example.com"]),
            group("design", &["bob@example.com"]),
        ],
        &LiveState {
            users: vec![
                account("W1", "ada@example.com"),
                account("W2", "bob@example.com"),
            ],
            groups: vec![
                live_group("S1", "engineering", &["W1", "W2"]),
                live_group("S2", "old-team", &["W2"]),
                live_group("S3", "Team Admins", &[]),
            ],
        },
        &pol,
        [1, 0, 0, 0, 1, 1, 1, 3, 0],
    );
}

#[test]
fn golden_long_values_and_markdown() {
    let long_from = "Principal Engineer, Platform Reliability and Developer Experience";
    let long_to = "Principal Engineer, Platform Reliability and Developer Productivity";
    let p = plan(
        &directory(vec![titled(person("ada@example.com", 2), long_to)], vec![]),
        &LiveState {
            users: vec![with_title(account("W1", "ada@example.com"), long_from)],
            groups: vec![],
        },
        &policy(),
    );
    insta::assert_snapshot!("long_values.txt", text(&p, false));
    insta::assert_snapshot!("long_values.md", markdown(&p));
    let colored = text(&p, true);
    assert!(colored.contains("\x1b["), "colour when asked");
    assert!(!text(&p, false).contains('\x1b'), "never without");
}
