//! The diff itself. Four steps: index the live state; decide each directory user's fate
//! (matched, to create, in conflict); turn fates into ops with only the attributes that
//! differ; order user ops so that every email and userName is released before it is taken
//! (swaps become conflicts) and managers exist before their reports point at them.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use super::{
    Change, Conflict, Counts, GuestSpec, Notice, Op, PLAN_FORMAT_VERSION, Plan, UserFields,
    UserRef, fingerprint, guards,
};
use crate::config::{AttributeMode, MatchKey, Policy, UnmanagedGroups, UnmanagedUsers};
use crate::directory::{Attribute, DesiredUser, Directory};
use crate::scim::live::{LiveGroup, LiveState, LiveUser};
use crate::slack_rules::email_key;

/// What became of a directory user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Matched(usize),
    Create,
    /// In conflict, or a leaver with no account: no op, no reference.
    Nothing,
}

/// An email or userName an op takes or releases.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    Email(String),
    UserName(String),
}

impl Key {
    fn describe(&self) -> String {
        match self {
            Key::Email(e) => format!("email {e}"),
            Key::UserName(u) => format!("user name {u}"),
        }
    }
}

/// A user op with what ordering needs to know about it.
struct UserOp {
    op: Op,
    subject: String,
    source: String,
    takes: Vec<Key>,
    releases: Vec<Key>,
    /// Email key of the user this op creates.
    creates: Option<String>,
    /// Email keys of users created in this plan that the op refers to (its manager).
    needs: Vec<String>,
    rank: u8,
}

struct Index<'a> {
    live: &'a LiveState,
    by_id: HashMap<&'a str, usize>,
    /// Primary emails only: what matching uses.
    by_primary_email: HashMap<String, usize>,
    /// Primary and secondary: what uniqueness uses.
    by_any_email: HashMap<String, usize>,
    by_user_name: HashMap<String, usize>,
    by_employee_number: HashMap<&'a str, Vec<usize>>,
    /// Whether each live user is in scope.
    in_scope: Vec<bool>,
}

impl<'a> Index<'a> {
    fn new(live: &'a LiveState, policy: &Policy) -> Index<'a> {
        let mut ix = Index {
            live,
            by_id: HashMap::with_capacity(live.users.len()),
            by_primary_email: HashMap::with_capacity(live.users.len()),
            by_any_email: HashMap::with_capacity(live.users.len()),
            by_user_name: HashMap::with_capacity(live.users.len()),
            by_employee_number: HashMap::new(),
            in_scope: live
                .users
                .iter()
                .map(|u| policy.scope.contains(&u.email_key(), Some(&u.id)))
                .collect(),
        };
        for (i, u) in live.users.iter().enumerate() {
            ix.by_id.insert(u.id.as_str(), i);
            ix.by_primary_email.entry(u.email_key()).or_insert(i);
            for e in u.email_keys() {
                ix.by_any_email.entry(e).or_insert(i);
            }
            ix.by_user_name.entry(u.user_name_key()).or_insert(i);
            if let Some(n) = u.employee_number() {
                ix.by_employee_number.entry(n).or_default().push(i);
            }
        }
        ix
    }

    fn user(&self, i: usize) -> &'a LiveUser {
        &self.live.users[i]
    }

    fn holder(&self, key: &Key) -> Option<usize> {
        match key {
            Key::Email(e) => self.by_any_email.get(e).copied(),
            Key::UserName(u) => self.by_user_name.get(u).copied(),
        }
    }
}

fn describe_account(l: &LiveUser, in_scope: bool) -> String {
    let state = if l.active { "active" } else { "deactivated" };
    let place = if l.is_bot {
        " (a bot)"
    } else if !in_scope {
        " outside scope"
    } else {
        ""
    };
    format!("{state} account {}{place}", l.id)
}

/// Plans the writes that make `live` equal `dir` under `policy`.
pub fn plan(dir: &Directory, live: &LiveState, policy: &Policy) -> Plan {
    let ix = Index::new(live, policy);
    let scope = &policy.scope;
    let protected = |l: &LiveUser| scope.is_protected(&l.email_key(), Some(&l.id));
    let mut conflicts: Vec<Conflict> = Vec::new();
    let mut notices: Vec<Notice> = Vec::new();
    let conflict = |subject: &str, reason: String, source: Option<String>| Conflict {
        subject: subject.to_string(),
        reason,
        source,
    };

    // Accounts of users skipped as invalid: left alone, never treated as leavers.
    let mut hands_off: HashSet<usize> = HashSet::new();
    for s in &dir.skipped {
        let found =
            s.id.as_deref()
                .and_then(|id| ix.by_id.get(id).copied())
                .or_else(|| {
                    s.employee_number
                        .as_deref()
                        .and_then(|n| ix.by_employee_number.get(n))
                        .filter(|v| v.len() == 1)
                        .map(|v| v[0])
                })
                .or_else(|| ix.by_primary_email.get(&s.email_key).copied());
        hands_off.extend(found);
    }

    // 1. Match. Accounts a conflicted directory user points at are contested: never treated as
    // unmanaged, since the directory does list their person — only ambiguously.
    let mut contested: HashSet<usize> = HashSet::new();
    let mut fates: Vec<Fate> = Vec::with_capacity(dir.users.len());
    for d in &dir.users {
        let mut found: BTreeMap<usize, Vec<&'static str>> = BTreeMap::new();
        let mut ambiguous = None;
        for key in &policy.match_keys {
            let (name, hit) = match key {
                MatchKey::Id => (
                    "id",
                    d.id.as_deref().and_then(|id| ix.by_id.get(id).copied()),
                ),
                MatchKey::EmployeeNumber => {
                    let hits = d
                        .employee_number()
                        .and_then(|n| ix.by_employee_number.get(n));
                    match hits.map(Vec::as_slice) {
                        Some([one]) => ("employee_number", Some(*one)),
                        Some(many) if many.len() > 1 => {
                            contested.extend(many.iter().copied());
                            ambiguous = Some(format!(
                                "employee number {} is held by {} accounts",
                                d.employee_number().unwrap_or_default(),
                                many.len()
                            ));
                            ("employee_number", None)
                        }
                        _ => ("employee_number", None),
                    }
                }
                MatchKey::Email => ("email", ix.by_primary_email.get(&d.email_key).copied()),
                MatchKey::UserName => (
                    "user_name",
                    d.user_name
                        .as_ref()
                        .and_then(|_| ix.by_user_name.get(&d.user_name_key).copied()),
                ),
            };
            if let Some(i) = hit {
                found.entry(i).or_default().push(name);
            }
        }
        let source = Some(d.location.to_string());
        let fate = if let Some(reason) = ambiguous {
            contested.extend(found.keys().copied());
            conflicts.push(conflict(&d.email, reason, source));
            Fate::Nothing
        } else if found.len() > 1 {
            contested.extend(found.keys().copied());
            let by: Vec<String> = found
                .iter()
                .map(|(i, keys)| format!("{} by {}", ix.user(*i).id, keys.join(" and ")))
                .collect();
            conflicts.push(conflict(
                &d.email,
                format!("matches several accounts: {}", by.join(", ")),
                source,
            ));
            Fate::Nothing
        } else if let Some((&i, _)) = found.iter().next() {
            let l = ix.user(i);
            if l.is_bot || !ix.in_scope[i] {
                conflicts.push(conflict(
                    &d.email,
                    format!("matches {}", describe_account(l, ix.in_scope[i])),
                    source,
                ));
                Fate::Nothing
            } else {
                Fate::Matched(i)
            }
        } else if !d.active {
            Fate::Nothing // a leaver who has no account: nothing to do
        } else if !scope.contains(&d.email_key, None) {
            conflicts.push(conflict(
                &d.email,
                "the email is outside scope (scope.email_domains / exclude)".into(),
                source,
            ));
            Fate::Nothing
        } else {
            Fate::Create
        };
        fates.push(fate);
    }
    // Two directory users on one account: neither is guessed.
    let mut claimed: HashMap<usize, Vec<usize>> = HashMap::new();
    for (di, f) in fates.iter().enumerate() {
        if let Fate::Matched(li) = f {
            claimed.entry(*li).or_default().push(di);
        }
    }
    for (li, dis) in &claimed {
        if dis.len() > 1 {
            for &di in dis {
                let d = &dir.users[di];
                conflicts.push(conflict(
                    &d.email,
                    format!(
                        "account {} is matched by {} directory users",
                        ix.user(*li).id,
                        dis.len()
                    ),
                    Some(d.location.to_string()),
                ));
                fates[di] = Fate::Nothing;
            }
        }
    }
    let matched_live: HashMap<usize, usize> = fates
        .iter()
        .enumerate()
        .filter_map(|(di, f)| match f {
            Fate::Matched(li) => Some((*li, di)),
            _ => None,
        })
        .collect();

    // Protected accounts are matched (so not unmanaged) but never written.
    for (di, f) in fates.iter_mut().enumerate() {
        if let Fate::Matched(li) = *f
            && protected(ix.user(li))
        {
            notices.push(Notice {
                subject: dir.users[di].email.clone(),
                message: format!("account {} is protected: left unchanged", ix.user(li).id),
            });
            *f = Fate::Nothing;
        }
    }

    // Who each directory user will be in Slack, for managers and group members.
    let mut refs: HashMap<&str, UserRef> = HashMap::new();
    for (d, f) in dir.users.iter().zip(&fates) {
        match f {
            Fate::Matched(li) => {
                refs.insert(&d.email_key, UserRef::Id(ix.user(*li).id.clone()));
            }
            Fate::Create => {
                refs.insert(&d.email_key, UserRef::New(d.email_key.clone()));
            }
            Fate::Nothing => {}
        }
    }
    // Users skipped as invalid keep their accounts in their groups.
    for s in &dir.skipped {
        if let Some(&li) = ix.by_primary_email.get(&s.email_key) {
            refs.insert(&s.email_key, UserRef::Id(ix.user(li).id.clone()));
        }
    }

    // 2. Ops for each directory user.
    let mut user_ops: Vec<UserOp> = Vec::new();
    let mut deactivations: Vec<Op> = Vec::new();
    for (d, f) in dir.users.iter().zip(&fates) {
        match *f {
            Fate::Create => user_ops.push(create_op(d, &refs, policy)),
            Fate::Matched(li) => {
                let l = ix.user(li);
                if !d.active {
                    if l.active {
                        deactivations.push(Op::DeactivateUser {
                            id: l.id.clone(),
                            email: l.email.clone(),
                            reason: format!("active: false at {}", d.origin(Attribute::Active)),
                        });
                    }
                } else if let Some(op) = update_op(d, l, &refs, policy) {
                    user_ops.push(op);
                }
            }
            Fate::Nothing => {}
        }
    }

    // Accounts in scope that no source lists.
    for (li, l) in live.users.iter().enumerate() {
        if matched_live.contains_key(&li)
            || claimed.contains_key(&li)
            || contested.contains(&li)
            || hands_off.contains(&li)
            || l.is_bot
            || !l.active
            || !ix.in_scope[li]
            || protected(l)
        {
            continue;
        }
        match policy.unmanaged_users {
            UnmanagedUsers::Deactivate => deactivations.push(Op::DeactivateUser {
                id: l.id.clone(),
                email: l.email.clone(),
                reason: "not in the directory".into(),
            }),
            UnmanagedUsers::Report => notices.push(Notice {
                subject: l.email.clone(),
                message: format!("account {} is in scope but not in the directory", l.id),
            }),
            UnmanagedUsers::Ignore => {}
        }
    }
    let deactivated: HashSet<String> = deactivations
        .iter()
        .filter_map(|op| op.resource_id().map(str::to_string))
        .collect();

    // 3. Order: release before take; managers before their reports.
    let ordered = order_user_ops(user_ops, &ix, &mut conflicts);
    let created: HashSet<String> = ordered
        .iter()
        .filter_map(|op| match op {
            Op::CreateUser { email, .. } => Some(email_key(email)),
            _ => None,
        })
        .collect();
    // A user whose create was dropped (a conflict found while ordering) is referred to by
    // nobody.
    refs.retain(|_, r| match r {
        UserRef::New(k) => created.contains(k),
        UserRef::Id(_) => true,
    });

    // 4. Groups.
    let (group_ops, group_deletes) = group_ops(
        dir,
        &ix,
        &refs,
        &deactivated,
        &hands_off,
        policy,
        &mut conflicts,
        &mut notices,
    );

    let mut ops = ordered;
    // A conflict found while ordering may have dropped a manager's create: clear such refs.
    for op in &mut ops {
        let fields = match op {
            Op::CreateUser { fields, .. } | Op::UpdateUser { fields, .. } => fields,
            _ => continue,
        };
        if let Some(Some(UserRef::New(k))) = &fields.manager
            && !created.contains(k)
        {
            fields.manager = None;
        }
    }
    ops.extend(group_ops);
    deactivations.sort_by_key(sort_key);
    ops.extend(deactivations);
    ops.extend(group_deletes);

    let user_by_id: HashMap<&str, &LiveUser> =
        live.users.iter().map(|u| (u.id.as_str(), u)).collect();
    let group_by_id: HashMap<&str, &LiveGroup> =
        live.groups.iter().map(|g| (g.id.as_str(), g)).collect();
    let fingerprints = ops
        .iter()
        .filter_map(Op::resource_id)
        .filter_map(|id| {
            user_by_id
                .get(id)
                .map(|u| fingerprint(*u))
                .or_else(|| group_by_id.get(id).map(|g| fingerprint(*g)))
                .map(|f| (id.to_string(), f))
        })
        .collect();

    let mut labels = BTreeMap::new();
    let mut label = |id: &str| {
        if let Some(u) = user_by_id.get(id) {
            labels.insert(id.to_string(), u.email.clone());
        }
    };
    for op in &ops {
        match op {
            Op::CreateGroup { members, .. } => members.iter().for_each(|m| {
                if let UserRef::Id(id) = m {
                    label(id)
                }
            }),
            Op::UpdateGroup { add, remove, .. } => {
                add.iter().for_each(|m| {
                    if let UserRef::Id(id) = m {
                        label(id)
                    }
                });
                remove.iter().for_each(|id| label(id));
            }
            Op::UpdateUser { changes, .. } => changes
                .iter()
                .filter(|c| c.attribute == Attribute::Manager)
                .filter_map(|c| c.from.as_deref())
                .for_each(&mut label),
            _ => {}
        }
    }

    conflicts.sort();
    conflicts.dedup();
    notices.sort();
    let counts = Counts {
        live_users: live.users.len(),
        live_groups: live.groups.len(),
        directory_users: dir.users.len(),
        directory_groups: dir.groups.len(),
        managed_users: live
            .users
            .iter()
            .zip(&ix.in_scope)
            .filter(|(l, in_scope)| l.active && !l.is_bot && **in_scope)
            .count(),
        invalid_users: dir.skipped.len(),
    };
    let mut plan = Plan {
        format_version: PLAN_FORMAT_VERSION,
        ops,
        conflicts,
        notices,
        counts,
        guards: Vec::new(),
        fingerprints,
        labels,
    };
    plan.guards = guards::evaluate(&plan, &policy.safety);
    plan
}

fn sort_key(op: &Op) -> (String, String) {
    match op {
        Op::CreateUser { email, .. } => (email_key(email), String::new()),
        Op::UpdateUser { email, id, .. } | Op::DeactivateUser { email, id, .. } => {
            (email_key(email), id.clone())
        }
        Op::CreateGroup { name, .. } => (name.to_lowercase(), String::new()),
        Op::UpdateGroup { name, id, .. } | Op::DeleteGroup { name, id } => {
            (name.to_lowercase(), id.clone())
        }
    }
}

fn mode(policy: &Policy, a: Attribute) -> AttributeMode {
    policy.attributes.mode(a)
}

fn guest_spec(d: &DesiredUser) -> Option<GuestSpec> {
    d.guest.as_ref().map(|g| GuestSpec {
        expiration: g
            .expiration
            .map(|e| e.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
    })
}

fn create_op(d: &DesiredUser, refs: &HashMap<&str, UserRef>, policy: &Policy) -> UserOp {
    let mut fields = UserFields {
        email: Some(d.email.trim().to_string()),
        user_name: Some(d.user_name_key.clone()),
        active: Some(true),
        ..UserFields::default()
    };
    for (attr, v) in d.texts.iter() {
        if mode(policy, attr) != AttributeMode::Ignore {
            fields.text.insert(attr, Some(v.to_string()));
        }
    }
    if mode(policy, Attribute::Guest) != AttributeMode::Ignore && d.guest.is_some() {
        fields.guest = Some(guest_spec(d));
    }
    let mut needs = Vec::new();
    if mode(policy, Attribute::Manager) != AttributeMode::Ignore
        && let Some(m) = d.manager.as_deref().and_then(|m| refs.get(m))
    {
        if let UserRef::New(k) = m {
            needs.push(k.clone());
        }
        fields.manager = Some(Some(m.clone()));
    }
    let user_name = d.user_name_key.clone();
    UserOp {
        takes: vec![
            Key::Email(d.email_key.clone()),
            Key::UserName(user_name.clone()),
        ],
        releases: Vec::new(),
        creates: Some(d.email_key.clone()),
        needs,
        subject: d.email.clone(),
        source: d.location.to_string(),
        rank: 1,
        op: Op::CreateUser {
            email: d.email.trim().to_string(),
            user_name,
            fields,
            source: d.location.to_string(),
        },
    }
}

fn update_op(
    d: &DesiredUser,
    l: &LiveUser,
    refs: &HashMap<&str, UserRef>,
    policy: &Policy,
) -> Option<UserOp> {
    let reactivate = !l.active;
    let enforced = |a: Attribute| mode(policy, a) == AttributeMode::Enforce;
    let mut fields = UserFields::default();
    let mut changes = Vec::new();
    let mut takes = Vec::new();
    let mut releases = Vec::new();
    let mut change = |attribute: Attribute, from: Option<&str>, to: Option<&str>| {
        changes.push(Change {
            attribute,
            from: from.map(str::to_string),
            to: to.map(str::to_string),
        });
    };

    if enforced(Attribute::Email) && d.email_key != l.email_key() {
        change(Attribute::Email, Some(&l.email), Some(d.email.trim()));
        fields.email = Some(d.email.trim().to_string());
        takes.push(Key::Email(d.email_key.clone()));
        releases.push(Key::Email(l.email_key()));
    }
    if enforced(Attribute::UserName)
        && d.user_name.is_some()
        && d.user_name_key != l.user_name_key()
    {
        change(
            Attribute::UserName,
            Some(&l.user_name),
            Some(&d.user_name_key),
        );
        fields.user_name = Some(d.user_name_key.clone());
        takes.push(Key::UserName(d.user_name_key.clone()));
        releases.push(Key::UserName(l.user_name_key()));
    }
    // Text and dates (kept as `YYYY-MM-DD`, so equal days compare equal). An attribute no
    // source gives is not managed: never blanked.
    for (attr, want) in d.texts.iter() {
        let have = l.text(attr);
        if enforced(attr) && Some(want) != have {
            change(attr, have, Some(want));
            fields.text.insert(attr, Some(want.to_string()));
        }
    }
    if enforced(Attribute::Guest) {
        let want = d
            .guest
            .as_ref()
            .map(|g| g.expiration.map(|e| e.timestamp()));
        let have = l.guest.map(|g| g.map(|e| e.timestamp()));
        // Only sources that say something about guests manage it.
        if d.origins.iter().any(|o| o.attribute == Attribute::Guest) && want != have {
            let show = |g: Option<Option<i64>>| match g {
                None => "member".to_string(),
                Some(None) => "guest".to_string(),
                Some(Some(t)) => format!(
                    "guest until {}",
                    chrono::DateTime::from_timestamp(t, 0)
                        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                        .unwrap_or_default()
                ),
            };
            change(Attribute::Guest, Some(&show(have)), Some(&show(want)));
            fields.guest = Some(guest_spec(d));
        }
    }
    let mut needs = Vec::new();
    if enforced(Attribute::Manager)
        && let Some(m) = d.manager.as_deref().and_then(|m| refs.get(m))
    {
        let differs = match m {
            UserRef::Id(id) => l.manager_id.as_deref() != Some(id.as_str()),
            UserRef::New(k) => {
                needs.push(k.clone());
                true
            }
        };
        if differs {
            let to = d.manager.as_deref();
            change(Attribute::Manager, l.manager_id.as_deref(), to);
            fields.manager = Some(Some(m.clone()));
        }
    }
    if reactivate {
        fields.active = Some(true);
        change(Attribute::Active, Some("false"), Some("true"));
    }
    if changes.is_empty() {
        return None;
    }
    let rank = if takes.is_empty() && !reactivate {
        2
    } else {
        0
    };
    Some(UserOp {
        takes,
        releases,
        creates: None,
        needs,
        subject: d.email.clone(),
        source: d.location.to_string(),
        rank,
        op: Op::UpdateUser {
            id: l.id.clone(),
            email: l.email.clone(),
            reactivate,
            fields,
            changes,
            source: d.location.to_string(),
        },
    })
}

/// Orders user ops (Kahn's algorithm, deterministic): an op taking a key held by an account
/// that releases it in this plan runs after that release; an op naming a new manager runs
/// after the manager's create. Keys held by anyone else, and cycles (two people swapping
/// emails), become conflicts; ops depending on a dropped op are dropped too.
fn order_user_ops(ops: Vec<UserOp>, ix: &Index<'_>, conflicts: &mut Vec<Conflict>) -> Vec<Op> {
    // Who releases what, by the live account releasing it.
    let mut releaser: HashMap<&Key, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        for k in &op.releases {
            releaser.insert(k, i);
        }
    }
    let own_id = |op: &UserOp| op.op.resource_id().map(str::to_string);
    let mut dropped: BTreeSet<usize> = BTreeSet::new();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    let mut indegree = vec![0usize; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for k in &op.takes {
            let Some(holder) = ix.holder(k) else { continue };
            let holder_user = ix.user(holder);
            if own_id(op).as_deref() == Some(holder_user.id.as_str()) {
                continue; // already its own (e.g. a secondary email promoted)
            }
            match releaser.get(k) {
                Some(&j) if ops[j].op.resource_id() == Some(holder_user.id.as_str()) => {
                    edges[j].push(i);
                    indegree[i] += 1;
                }
                _ => {
                    conflicts.push(Conflict {
                        subject: op.subject.clone(),
                        reason: format!(
                            "{} is held by {}",
                            k.describe(),
                            describe_account(holder_user, ix.in_scope[holder])
                        ),
                        source: Some(op.source.clone()),
                    });
                    dropped.insert(i);
                }
            }
        }
    }
    let creator: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter_map(|(i, op)| op.creates.as_deref().map(|k| (k, i)))
        .collect();
    for (i, op) in ops.iter().enumerate() {
        for k in &op.needs {
            if let Some(&j) = creator.get(k.as_str()) {
                edges[j].push(i);
                indegree[i] += 1;
            }
        }
    }

    let key = |i: usize| (ops[i].rank, email_key(&ops[i].subject), i);
    let mut ready: BinaryHeap<Reverse<(u8, String, usize)>> = (0..ops.len())
        .filter(|&i| indegree[i] == 0)
        .map(|i| Reverse(key(i)))
        .collect();
    let mut order = Vec::with_capacity(ops.len());
    let mut done = vec![false; ops.len()];
    while let Some(Reverse((_, _, i))) = ready.pop() {
        done[i] = true;
        order.push(i);
        for &j in &edges[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.push(Reverse(key(j)));
            }
        }
    }
    for i in (0..ops.len()).filter(|&i| !done[i]) {
        conflicts.push(Conflict {
            subject: ops[i].subject.clone(),
            reason: "takes an email or user name that another change in this plan must \
                     release first, in a cycle (a swap): change one side by hand first"
                .into(),
            source: Some(ops[i].source.clone()),
        });
        dropped.insert(i);
    }
    // Anything that depends on a dropped op is dropped as well.
    let mut queue: Vec<usize> = dropped.iter().copied().collect();
    while let Some(i) = queue.pop() {
        for &j in &edges[i] {
            if dropped.insert(j) {
                conflicts.push(Conflict {
                    subject: ops[j].subject.clone(),
                    reason: format!(
                        "depends on a change to {} that is in conflict",
                        ops[i].subject
                    ),
                    source: Some(ops[j].source.clone()),
                });
                queue.push(j);
            }
        }
    }
    let mut slots: Vec<Option<Op>> = ops.into_iter().map(|o| Some(o.op)).collect();
    order
        .into_iter()
        .filter(|i| !dropped.contains(i))
        .filter_map(|i| slots[i].take())
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn group_ops(
    dir: &Directory,
    ix: &Index<'_>,
    refs: &HashMap<&str, UserRef>,
    deactivated: &HashSet<String>,
    hands_off: &HashSet<usize>,
    policy: &Policy,
    conflicts: &mut Vec<Conflict>,
    notices: &mut Vec<Notice>,
) -> (Vec<Op>, Vec<Op>) {
    let live = ix.live;
    let mut by_name: HashMap<String, &LiveGroup> = HashMap::new();
    for g in &live.groups {
        by_name.entry(g.name_key()).or_insert(g);
    }
    let kept: HashSet<&str> = hands_off.iter().map(|&i| ix.user(i).id.as_str()).collect();
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut matched: HashSet<&str> = HashSet::new();
    for g in &dir.groups {
        let mut want: BTreeSet<UserRef> = BTreeSet::new();
        for m in &g.members {
            let user = dir.user_by_email(m);
            if user.is_some_and(|u| !u.active) {
                continue; // a leaver
            }
            if user.is_some_and(|u| u.guest.is_some()) {
                notices.push(Notice {
                    subject: g.name.clone(),
                    message: format!("{m} is a guest: Slack does not add guests to groups"),
                });
                continue;
            }
            if let Some(r) = refs.get(m.as_str()) {
                want.insert(r.clone());
            }
        }
        let Some(lg) = by_name.get(&g.name_key) else {
            creates.push(Op::CreateGroup {
                name: g.name.clone(),
                members: want.into_iter().collect(),
                source: g.location.to_string(),
            });
            continue;
        };
        if lg.auto_generated {
            conflicts.push(Conflict {
                subject: g.name.clone(),
                reason: format!("{} is generated by Slack and cannot be changed", lg.id),
                source: Some(g.location.to_string()),
            });
            matched.insert(&lg.id);
            continue;
        }
        matched.insert(&lg.id);
        let have: HashSet<&str> = lg.members.iter().map(String::as_str).collect();
        let add: Vec<UserRef> = want
            .iter()
            .filter(|r| match r {
                UserRef::Id(id) => !have.contains(id.as_str()),
                UserRef::New(_) => true,
            })
            .cloned()
            .collect();
        let want_ids: HashSet<&str> = want
            .iter()
            .filter_map(|r| match r {
                UserRef::Id(id) => Some(id.as_str()),
                UserRef::New(_) => None,
            })
            .collect();
        let remove: Vec<String> = lg
            .members
            .iter()
            .filter(|m| !want_ids.contains(m.as_str()))
            // Slack drops deactivated members itself; skipped users keep their groups.
            .filter(|m| !deactivated.contains(*m) && !kept.contains(m.as_str()))
            // Only accounts scimsync manages are taken out of a group.
            .filter(|m| {
                ix.by_id.get(m.as_str()).is_some_and(|&i| {
                    let u = ix.user(i);
                    !u.is_bot
                        && policy.scope.contains(&u.email_key(), Some(&u.id))
                        && !policy.scope.is_protected(&u.email_key(), Some(&u.id))
                })
            })
            .cloned()
            .collect();
        let rename = (lg.name != g.name.trim()).then(|| g.name.trim().to_string());
        if !add.is_empty() || !remove.is_empty() || rename.is_some() {
            updates.push(Op::UpdateGroup {
                id: lg.id.clone(),
                name: lg.name.clone(),
                rename,
                add,
                remove,
            });
        }
    }
    let mut deletes = Vec::new();
    for lg in &live.groups {
        if matched.contains(lg.id.as_str()) || lg.auto_generated {
            continue;
        }
        match policy.unmanaged_groups {
            UnmanagedGroups::Delete => deletes.push(Op::DeleteGroup {
                id: lg.id.clone(),
                name: lg.name.clone(),
            }),
            UnmanagedGroups::Report => notices.push(Notice {
                subject: lg.name.clone(),
                message: format!("group {} is not in the directory", lg.id),
            }),
            UnmanagedGroups::Ignore => {}
        }
    }
    creates.sort_by_key(sort_key);
    updates.sort_by_key(sort_key);
    deletes.sort_by_key(sort_key);
    creates.extend(updates);
    (creates, deletes)
}
