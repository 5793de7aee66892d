//! Property: for generated directory/live pairs, applying `plan(d, l)` to `l` — in a model
//! that enforces Slack's rules at every step (unique emails and userNames, deactivated
//! accounts included) — yields a state whose plan writes nothing; and no plan ever writes to
//! a protected, out-of-scope or bot account.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::tests::{account, directory, person};
use super::*;
use crate::config::{AccountRef, Policy, UnmanagedUsers};
use crate::diag::SourceLocation;
use crate::directory::{Attribute, DesiredGroup, DesiredUser};
use crate::scim::live::{LiveGroup, LiveState, LiveUser};
use crate::slack_rules::{email_key, user_name_key};

const LOCALS: [&str; 6] = ["ada", "bob", "cy", "dan", "eve", "fay"];
const TITLES: [Option<&str>; 3] = [None, Some("Engineer"), Some("Manager")];

fn policy() -> Policy {
    let mut p = Policy::default();
    p.scope.email_domains = vec!["example.com".into()];
    p.scope.protected = vec![AccountRef::Email("fay@example.com".into())];
    p.unmanaged_users = UnmanagedUsers::Deactivate;
    p
}

/// A directory user: email local part, title, employee number, active, manager.
type DesiredSpec = (usize, usize, Option<u8>, bool, Option<usize>);
/// A live account: email local part, title, employee number, active, outside the domain.
/// The last field: 0 or 1 an account at example.com, 2 at partner.org (outside scope), 3 a bot.
type LiveSpec = (usize, usize, Option<u8>, bool, u8);

/// A row skipped as invalid: email local part, employee number, a written user name, and
/// whether its email is the broken one (a typo no account holds).
type SkippedSpec = (usize, Option<u8>, bool, bool);

#[derive(Debug, Clone)]
struct Spec {
    desired: Vec<DesiredSpec>,
    live: Vec<LiveSpec>,
    skipped: Vec<SkippedSpec>,
    groups: Vec<Vec<usize>>,
    live_groups: Vec<Vec<usize>>,
}

fn spec() -> impl Strategy<Value = Spec> {
    let desired = prop::collection::vec(
        (
            0..6usize,
            0..3usize,
            prop::option::of(0..4u8),
            prop::bool::weighted(0.85),
            prop::option::of(0..6usize),
        ),
        0..6,
    );
    let live = prop::collection::vec(
        (
            0..6usize,
            0..3usize,
            prop::option::of(0..4u8),
            prop::bool::weighted(0.8),
            prop_oneof![6 => Just(0u8), 2 => Just(2u8), 1 => Just(3u8)],
        ),
        0..6,
    );
    let skipped = prop::collection::vec(
        (
            0..6usize,
            prop::option::of(0..4u8),
            prop::bool::ANY,
            prop::bool::weighted(0.3),
        ),
        0..3,
    );
    let groups = prop::collection::vec(prop::collection::vec(0..6usize, 0..4), 0..3);
    let live_groups = prop::collection::vec(prop::collection::vec(0..6usize, 0..4), 0..3);
    (desired, live, skipped, groups, live_groups).prop_map(
        |(desired, live, skipped, groups, live_groups)| Spec {
            desired,
            live,
            skipped,
            groups,
            live_groups,
        },
    )
}

fn build(spec: &Spec) -> (crate::directory::Directory, LiveState) {
    let mut seen = HashSet::new();
    let mut seen_numbers = HashSet::new();
    let mut users: Vec<DesiredUser> = Vec::new();
    for (i, &(local, title, number, active, _)) in spec.desired.iter().enumerate() {
        if !seen.insert(local) {
            continue; // the directory's emails are unique
        }
        let line = u32::try_from(i + 2).unwrap_or(u32::MAX);
        let mut d = person(&format!("{}@example.com", LOCALS[local]), line);
        d.texts
            .set(Attribute::Title, TITLES[title].map(str::to_string));
        // Employee numbers are unique in a valid directory.
        d.texts.set(
            Attribute::EmployeeNumber,
            number
                .filter(|n| seen_numbers.insert(*n))
                .map(|n| format!("E{n}")),
        );
        d.active = active;
        users.push(d);
    }
    let emails: HashSet<String> = users.iter().map(|u| u.email_key.clone()).collect();
    for (i, &(_, _, _, _, manager)) in spec.desired.iter().enumerate() {
        if let (Some(m), Some(u)) = (manager, users.get_mut(i)) {
            let m = format!("{}@example.com", LOCALS[m]);
            // Managers form no cycle in a valid directory: only point "down" the pool.
            if emails.contains(&m) && m < u.email_key {
                u.manager = Some(m);
            }
        }
    }
    let groups: Vec<DesiredGroup> = spec
        .groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let mut members: Vec<String> = members
                .iter()
                .map(|m| format!("{}@example.com", LOCALS[*m]))
                .filter(|m| emails.contains(m))
                .collect();
            members.sort();
            members.dedup();
            DesiredGroup {
                name: format!("g{g}"),
                name_key: format!("g{g}"),
                members,
                location: SourceLocation::new(
                    &std::sync::Arc::from("d.yaml"),
                    u32::try_from(50 + g).unwrap_or(u32::MAX),
                    1,
                ),
            }
        })
        .collect();

    let live = build_live(spec);
    let mut dir = directory(users, groups);
    // Rows skipped as invalid: never users of the directory (their emails are not taken by
    // a valid row), each carrying what keys it still has.
    for (i, &(local, number, named, broken)) in spec.skipped.iter().enumerate() {
        let email = if broken {
            format!("{}@example..com", LOCALS[local])
        } else {
            format!("{}@example.com", LOCALS[local])
        };
        // A row that shares a key with a valid row would have failed validation with it.
        let number = number.map(|n| format!("E{n}"));
        if dir.users.iter().any(|u| {
            u.email_key == email
                || u.user_name_key == LOCALS[local]
                || (number.is_some() && u.employee_number() == number.as_deref())
        }) {
            continue;
        }
        dir.skipped.push(crate::directory::SkippedUser {
            email_key: email,
            employee_number: number,
            id: None,
            user_name_key: named.then(|| LOCALS[local].to_string()),
            location: SourceLocation::new(
                &std::sync::Arc::from("people.csv"),
                u32::try_from(90 + i).unwrap_or(u32::MAX),
                1,
            ),
        });
    }
    (dir, live)
}

/// The live side of a spec: accounts (one per userName, as Slack has it) and groups.
fn build_live(spec: &Spec) -> LiveState {
    let mut live_users: Vec<LiveUser> = Vec::new();
    let mut taken = HashSet::new();
    for (i, &(local, title, number, active, kind)) in spec.live.iter().enumerate() {
        let domain = match kind {
            2 => "partner.org",
            3 => "slack-bots.com",
            _ => "example.com",
        };
        // Slack: a userName belongs to one account only.
        if !taken.insert(local) {
            continue;
        }
        let mut l = account(&format!("W{i}"), &format!("{}@{domain}", LOCALS[local]));
        l.texts
            .set(Attribute::Title, TITLES[title].map(str::to_string));
        l.texts
            .set(Attribute::EmployeeNumber, number.map(|n| format!("E{n}")));
        l.active = active;
        l.is_bot = kind == 3;
        live_users.push(l);
    }
    let ids: Vec<String> = live_users.iter().map(|u| u.id.clone()).collect();
    let live_groups = spec
        .live_groups
        .iter()
        .enumerate()
        .map(|(g, members)| {
            let mut members: Vec<String> = members
                .iter()
                .filter_map(|m| ids.get(*m).cloned())
                .filter(|id| live_users.iter().any(|u| &u.id == id && u.active))
                .collect();
            members.sort();
            members.dedup();
            LiveGroup {
                id: format!("S{g}"),
                name: format!("g{g}"),
                members,
                auto_generated: false,
            }
        })
        .collect();
    LiveState {
        users: live_users,
        groups: live_groups,
    }
}

/// Whether a skipped row could be the person of a live account: by any key it carries.
fn could_be(s: &crate::directory::SkippedUser, u: &LiveUser) -> bool {
    u.email_keys().any(|e| e == s.email_key)
        || (s.employee_number.is_some() && s.employee_number.as_deref() == u.employee_number())
        || s.user_name_key.as_deref() == Some(u.user_name_key().as_str())
}

/// The live id a plan's user reference stands for, once the model has it.
fn resolve(r: &UserRef, created: &HashMap<String, String>) -> Result<String, String> {
    match r {
        UserRef::Id(id) => Ok(id.clone()),
        UserRef::New(k) => created
            .get(k)
            .cloned()
            .ok_or(format!("{k} not created yet")),
    }
}

/// Slack's uniqueness rule: the error naming another account (not `me`) that holds `email` or
/// `user_name`, if one does.
fn taken(
    live: &LiveState,
    email: Option<&str>,
    user_name: Option<&str>,
    me: &str,
) -> Option<String> {
    live.users.iter().filter(|u| u.id != me).find_map(|u| {
        if email.is_some_and(|e| u.email_keys().any(|k| k == email_key(e))) {
            Some(format!("email_taken {} by {}", email.unwrap(), u.id))
        } else if user_name.is_some_and(|n| u.user_name_key() == user_name_key(n)) {
            Some(format!("username_taken {} by {}", user_name.unwrap(), u.id))
        } else {
            None
        }
    })
}

/// Writes `f` into the model's account as Slack would.
fn set_fields(
    u: &mut LiveUser,
    f: &UserFields,
    created: &HashMap<String, String>,
) -> Result<(), String> {
    if let Some(e) = &f.email {
        u.email = e.clone();
    }
    if let Some(n) = &f.user_name {
        u.user_name = n.clone();
    }
    for (k, v) in &f.text {
        match k {
            Attribute::Title | Attribute::EmployeeNumber => u.texts.set(*k, v.as_deref()),
            other => return Err(format!("model has no {other}")),
        }
    }
    if let Some(m) = &f.manager {
        u.manager_id = m.as_ref().map(|r| resolve(r, created)).transpose()?;
    }
    if let Some(a) = f.active {
        u.active = a;
    }
    Ok(())
}

/// Applies a plan to the model, enforcing Slack's rules; `Err` names a broken rule.
fn apply(live: &mut LiveState, plan: &Plan) -> Result<(), String> {
    let mut created: HashMap<String, String> = HashMap::new();
    for (n, op) in plan.ops.iter().enumerate() {
        match &op.op {
            Op::CreateUser {
                email,
                user_name,
                fields,
                ..
            } => {
                if let Some(t) = taken(live, Some(email), Some(user_name), "") {
                    return Err(t);
                }
                let mut u = account(&format!("N{n}"), email);
                u.user_name = user_name.clone();
                set_fields(&mut u, fields, &created)?;
                created.insert(email_key(email), u.id.clone());
                live.users.push(u);
            }
            Op::UpdateUser { id, fields, .. } => {
                if let Some(t) = taken(
                    live,
                    fields.email.as_deref(),
                    fields.user_name.as_deref(),
                    id,
                ) {
                    return Err(t);
                }
                let u = live
                    .users
                    .iter_mut()
                    .find(|u| &u.id == id)
                    .ok_or("no such user")?;
                set_fields(u, fields, &created)?;
            }
            Op::DeactivateUser { id, .. } => {
                live.users
                    .iter_mut()
                    .find(|u| &u.id == id)
                    .ok_or("no such user")?
                    .active = false;
                for g in &mut live.groups {
                    g.members.retain(|m| m != id);
                }
            }
            Op::CreateGroup { name, members, .. } => {
                let mut ids = members
                    .iter()
                    .map(|m| resolve(m, &created))
                    .collect::<Result<Vec<_>, _>>()?;
                ids.sort();
                live.groups.push(LiveGroup {
                    id: format!("SN{n}"),
                    name: name.clone(),
                    members: ids,
                    auto_generated: false,
                });
            }
            Op::UpdateGroup {
                id,
                rename,
                add,
                remove,
                ..
            } => {
                let adds = add
                    .iter()
                    .map(|m| resolve(m, &created))
                    .collect::<Result<Vec<_>, _>>()?;
                let g = live
                    .groups
                    .iter_mut()
                    .find(|g| &g.id == id)
                    .ok_or("no such group")?;
                g.members.retain(|m| !remove.contains(m));
                g.members.extend(adds);
                g.members.sort();
                g.members.dedup();
                if let Some(r) = rename {
                    g.name = r.clone();
                }
            }
            Op::DeleteGroup { id, .. } => live.groups.retain(|g| &g.id != id),
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn applying_a_plan_converges_and_never_touches_what_it_must_not(spec in spec()) {
        let (dir, live) = build(&spec);
        let pol = policy();
        let first = plan(&dir, &live, &pol);

        // Every edge points back (no cycle can form), and the edges across kinds are there:
        // a group deletion waits for every other change (issue 22).
        for (i, op) in first.ops.iter().enumerate() {
            prop_assert!(op.after.iter().all(|&j| j < i), "op {i} waits forward: {op:?}");
            if matches!(op.op, Op::DeleteGroup { .. }) {
                let others = first.ops[..i].iter().filter(|o| !matches!(o.op, Op::DeleteGroup { .. })).count();
                prop_assert_eq!(op.after.len(), others, "{:?}", op);
            }
        }

        // An account the directory points at (by email or employee number) is never deactivated
        // as unmanaged, even when the match is a conflict.
        for op in &first.ops {
            if let Op::DeactivateUser { id, reason, .. } = &op.op
                && *reason == crate::plan::Leaving::Absent
            {
                let u = live.users.iter().find(|u| &u.id == id).unwrap();
                let named = dir.users.iter().any(|d| {
                    d.email_key == u.email_key()
                        || (d.employee_number().is_some() && d.employee_number() == u.employee_number())
                });
                prop_assert!(!named, "deactivated an account the directory names: {op:?}");
            }
        }

        // A skipped row protects every account it could be; a skipped row that could be no
        // account holds every unmanaged deactivation.
        let untied = dir
            .skipped
            .iter()
            .any(|s| !live.users.iter().any(|u| could_be(s, u)));
        for op in &first.ops {
            if let Op::DeactivateUser { id, reason, .. } = &op.op
                && *reason == crate::plan::Leaving::Absent
            {
                let u = live.users.iter().find(|u| &u.id == id).unwrap();
                prop_assert!(!untied, "deactivated while a skipped row matches nothing: {op:?}");
                for s in &dir.skipped {
                    prop_assert!(!could_be(s, u), "deactivated the account of skipped row {s:?}: {op:?}");
                }
            }
        }

        // Never a write to a protected, out-of-scope or bot account.
        for op in &first.ops {
            if let Some(id) = op.resource_id()
                && let Some(u) = live.users.iter().find(|u| u.id == id)
            {
                prop_assert!(!u.is_bot, "{op:?}");
                prop_assert!(pol.scope.contains(&u.email_key(), Some(&u.id)), "out of scope: {op:?}");
                prop_assert!(!pol.scope.is_protected(&u.email_key(), Some(&u.id)), "protected: {op:?}");
            }
        }

        // A plan without conflicts converges in one pass. A conflict (an ambiguous match, a
        // key held by an account that another change renames away) is reported rather than
        // guessed, and resolves on a later pass once the other change has landed.
        let allowed_passes = if first.conflicts.is_empty() { 1 } else { 3 };

        let mut state = live.clone();
        let mut current = first;
        let mut passes = 0;
        while !current.ops.is_empty() {
            prop_assert!(passes < allowed_passes, "not converged after {passes} pass(es): {:#?}", current.ops);
            if let Err(rule) = apply(&mut state, &current) {
                return Err(TestCaseError::fail(format!("plan breaks Slack's rules: {rule}\n{current:#?}")));
            }
            passes += 1;
            current = plan(&dir, &state, &pol);
        }

        // The end state, when the plan ended without conflicts: every active directory user in
        // scope has one active account with their email and title; every leaver's account is
        // inactive.
        if current.conflicts.is_empty() {
            // (A user matched to a protected account is left as it is, and says so.)
            let left_alone: HashSet<&str> = current
                .notices
                .iter()
                .filter(|n| n.message.contains("is protected"))
                .map(|n| n.subject.as_str())
                .collect();
            for d in dir.users.iter().filter(|d| !left_alone.contains(d.email.as_str())) {
                let accounts: Vec<&LiveUser> = state
                    .users
                    .iter()
                    .filter(|u| u.email_key() == d.email_key)
                    .collect();
                if d.active && pol.scope.contains(&d.email_key, None) && !pol.scope.is_protected(&d.email_key, None) {
                    prop_assert_eq!(accounts.len(), 1, "{} has one account", d.email_key);
                    prop_assert!(accounts[0].active, "{} is active", d.email_key);
                    if let Some(t) = d.text(Attribute::Title) {
                        prop_assert_eq!(accounts[0].text(Attribute::Title), Some(t));
                    }
                } else if !d.active {
                    prop_assert!(accounts.iter().all(|u| !u.active || u.is_bot), "leaver {} inactive", d.email_key);
                }
            }
        }
    }
}
