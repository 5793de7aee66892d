//! The diff's building blocks, which the planner's steps ([`super::planner`]) call: the index
//! of the live state; ops with only the attributes that differ; the ordering of user ops so
//! that every email and userName is released before it is taken (swaps become conflicts) and
//! managers exist before their reports point at them; group ops.

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, BinaryHeap};

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use super::{Change, Conflict, GuestSpec, Notice, Op, PlannedOp, UserFields, UserRef};
use crate::config::{AttributeMode, AttributePolicy, Blank, Policy, UnmanagedGroups};
use crate::directory::{Attribute, DesiredUser, Directory};
use crate::scim::live::{LiveGroup, LiveState, LiveUser};
use crate::slack_rules::{borrowed_key, email_key};

/// What became of a directory user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fate {
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
pub(super) struct UserOp {
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

pub(super) struct Index<'a> {
    pub(super) live: &'a LiveState,
    pub(super) by_id: HashMap<&'a str, usize>,
    /// Primary emails only: what matching uses. Keys borrow the live state's text when it is
    /// already its own key (nearly always), so the index allocates no string per account.
    pub(super) by_primary_email: HashMap<Cow<'a, str>, usize>,
    /// Primary and secondary: what uniqueness uses.
    pub(super) by_any_email: HashMap<Cow<'a, str>, usize>,
    pub(super) by_user_name: HashMap<Cow<'a, str>, usize>,
    /// The first account holding each employee number; `more_employee_numbers` has the rest.
    by_employee_number: HashMap<&'a str, usize>,
    /// Every account of an employee number held by more than one, in live order.
    more_employee_numbers: HashMap<&'a str, Vec<usize>>,
    /// Whether each live user is in scope.
    pub(super) in_scope: Vec<bool>,
}

impl<'a> Index<'a> {
    pub(super) fn new(live: &'a LiveState, policy: &Policy) -> Index<'a> {
        let n = live.users.len();
        let mut ix = Index {
            live,
            by_id: HashMap::with_capacity(n),
            by_primary_email: HashMap::with_capacity(n),
            by_any_email: HashMap::with_capacity(n),
            by_user_name: HashMap::with_capacity(n),
            by_employee_number: HashMap::with_capacity(n),
            more_employee_numbers: HashMap::new(),
            in_scope: Vec::with_capacity(n),
        };
        for (i, u) in live.users.iter().enumerate() {
            let key = borrowed_key(&u.email);
            ix.in_scope.push(policy.scope.contains(&key, Some(&u.id)));
            ix.by_id.insert(u.id.as_str(), i);
            ix.by_primary_email.entry(key.clone()).or_insert(i);
            ix.by_any_email.entry(key).or_insert(i);
            if let Some(e) = &u.secondary_email {
                ix.by_any_email.entry(borrowed_key(e)).or_insert(i);
            }
            ix.by_user_name
                .entry(borrowed_key(&u.user_name))
                .or_insert(i);
            if let Some(n) = u.employee_number() {
                match ix.by_employee_number.entry(n) {
                    Entry::Vacant(v) => {
                        v.insert(i);
                    }
                    Entry::Occupied(first) => {
                        ix.more_employee_numbers
                            .entry(n)
                            .or_insert_with(|| vec![*first.get()])
                            .push(i);
                    }
                }
            }
        }
        ix
    }

    /// The accounts holding an employee number, in live order.
    pub(super) fn by_employee_number(&self, number: &str) -> &[usize] {
        match self.more_employee_numbers.get(number) {
            Some(all) => all,
            None => self
                .by_employee_number
                .get(number)
                .map(std::slice::from_ref)
                .unwrap_or_default(),
        }
    }

    pub(super) fn user(&self, i: usize) -> &'a LiveUser {
        &self.live.users[i]
    }

    fn holder(&self, key: &Key) -> Option<usize> {
        match key {
            Key::Email(e) => self.by_any_email.get(e.as_str()).copied(),
            Key::UserName(u) => self.by_user_name.get(u.as_str()).copied(),
        }
    }
}

pub(super) fn describe_account(l: &LiveUser, in_scope: bool) -> String {
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

pub(super) fn sort_key(op: &Op) -> (String, String) {
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

pub(super) fn create_op(d: &DesiredUser, refs: &HashMap<&str, UserRef>, policy: &Policy) -> UserOp {
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

/// The guest status change a directory user asks of their account, as people read it
/// (`member`, `guest`, `guest until …`), if any. Only sources that say something about guests
/// manage it.
fn guest_change(d: &DesiredUser, l: &LiveUser) -> Option<(String, String)> {
    let want = d
        .guest
        .as_ref()
        .map(|g| g.expiration.map(|e| e.timestamp()));
    let have = l.guest.map(|g| g.map(|e| e.timestamp()));
    if !d.origins.iter().any(|o| o.attribute == Attribute::Guest) || want == have {
        return None;
    }
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
    Some((show(have), show(want)))
}

/// The attributes written blank that the config says to clear (`blank: clear`; never a name,
/// a key or the guest flag, which the config refuses too) and that Slack holds, with Slack's
/// value: the text attributes and the manager's id.
fn cleared<'l>(
    d: &DesiredUser,
    l: &'l LiveUser,
    policy: &Policy,
) -> impl Iterator<Item = (Attribute, &'l str)> {
    d.blanks.iter().copied().filter_map(move |a| {
        let clears = mode(policy, a) == AttributeMode::Enforce
            && policy.attributes.blank(a) == Blank::Clear
            && AttributePolicy::cannot_clear(a).is_none();
        let have = match a {
            Attribute::Manager => l.manager_id.as_deref(),
            _ if a.kind().is_text() => l.text(a),
            _ => None,
        };
        Some((a, have.filter(|_| clears)?))
    })
}

/// Whether an update sends `a`. `report` attributes are planned as enforced; the state's drift
/// check then holds back the changes that would revert a hand edit (plan::memory).
fn updated(policy: &Policy, a: Attribute) -> bool {
    matches!(
        mode(policy, a),
        AttributeMode::Enforce | AttributeMode::Report
    )
}

pub(super) fn update_op(
    d: &DesiredUser,
    l: &LiveUser,
    refs: &HashMap<&str, UserRef>,
    policy: &Policy,
) -> Option<UserOp> {
    let reactivate = !l.active;
    let enforced = |a: Attribute| updated(policy, a);
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
    for (attr, have) in cleared(d, l, policy) {
        change(attr, Some(have), None);
        match attr {
            Attribute::Manager => fields.manager = Some(None),
            _ => _ = fields.text.insert(attr, None),
        }
    }
    if enforced(Attribute::Guest)
        && let Some((from, to)) = guest_change(d, l)
    {
        change(Attribute::Guest, Some(&from), Some(&to));
        fields.guest = Some(guest_spec(d));
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
pub(super) fn order_user_ops(
    ops: Vec<UserOp>,
    ix: &Index<'_>,
    conflicts: &mut Vec<Conflict>,
) -> Vec<PlannedOp> {
    let (edges, mut dropped) = user_op_edges(&ops, ix, conflicts);
    let order = topological_order(&ops, &edges, &mut dropped, conflicts);
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
    let kept: Vec<usize> = order.into_iter().filter(|i| !dropped.contains(i)).collect();
    with_positions(ops, &kept, &edges)
}

/// `edges[j]` lists the ops that must wait for op `j`: takers of a key `j` releases, reports
/// of a manager `j` creates. Ops taking a key held by an account that does not release it are
/// conflicts, returned as dropped.
fn user_op_edges(
    ops: &[UserOp],
    ix: &Index<'_>,
    conflicts: &mut Vec<Conflict>,
) -> (Vec<Vec<usize>>, BTreeSet<usize>) {
    // Who releases what, by the live account releasing it.
    let mut releaser: HashMap<&Key, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        for k in &op.releases {
            releaser.insert(k, i);
        }
    }
    let mut dropped: BTreeSet<usize> = BTreeSet::new();
    let mut edges: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for k in &op.takes {
            let Some(holder) = ix.holder(k) else { continue };
            let holder_user = ix.user(holder);
            if op.op.resource_id() == Some(holder_user.id.as_str()) {
                continue; // already its own (e.g. a secondary email promoted)
            }
            match releaser.get(k) {
                Some(&j) if ops[j].op.resource_id() == Some(holder_user.id.as_str()) => {
                    edges[j].push(i);
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
            }
        }
    }
    (edges, dropped)
}

/// Kahn's algorithm, deterministic (by rank, then email, then input order). Ops left in a
/// cycle (a swap) are conflicts, added to `dropped`.
fn topological_order(
    ops: &[UserOp],
    edges: &[Vec<usize>],
    dropped: &mut BTreeSet<usize>,
    conflicts: &mut Vec<Conflict>,
) -> Vec<usize> {
    let mut indegree = vec![0usize; ops.len()];
    for targets in edges {
        for &i in targets {
            indegree[i] += 1;
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
    order
}

/// The kept ops in order, each with the positions (in that order) of the ops it waits for.
fn with_positions(ops: Vec<UserOp>, kept: &[usize], edges: &[Vec<usize>]) -> Vec<PlannedOp> {
    let mut position = vec![usize::MAX; ops.len()];
    for (p, &i) in kept.iter().enumerate() {
        position[i] = p;
    }
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (j, targets) in edges.iter().enumerate() {
        for &i in targets {
            after[i].push(position[j]);
        }
    }
    let mut slots: Vec<Option<Op>> = ops.into_iter().map(|o| Some(o.op)).collect();
    kept.iter()
        .filter_map(|&i| {
            let mut waits = std::mem::take(&mut after[i]);
            waits.sort_unstable();
            waits.dedup();
            slots[i].take().map(|op| PlannedOp { op, after: waits })
        })
        .collect()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn group_ops(
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
    // Slack may hold several groups of one name (nothing documents that it refuses them).
    let mut namesakes: HashMap<String, Vec<&LiveGroup>> = HashMap::new();
    for g in &live.groups {
        by_name.entry(g.name_key()).or_insert(g);
        namesakes.entry(g.name_key()).or_default().push(g);
    }
    let kept: HashSet<&str> = hands_off.iter().map(|&i| ix.user(i).id.as_str()).collect();
    // Members are looked up by email once each: a hash beats the sorted list's search.
    let mut users: HashMap<&str, &DesiredUser> = HashMap::with_capacity(dir.users.len());
    users.extend(dir.users.iter().map(|u| (u.email_key.as_str(), u)));
    let mut creates = Vec::new();
    let mut updates = Vec::new();
    let mut matched: HashSet<&str> = HashSet::new();
    for g in &dir.groups {
        let want = wanted_members(&users, g, refs, notices);
        if let Some(same) = namesakes.get(&g.name_key).filter(|v| v.len() > 1) {
            // Which one is the directory's is a guess: neither is written, and no third is
            // ever created.
            let ids: Vec<&str> = same.iter().map(|lg| lg.id.as_str()).collect();
            conflicts.push(Conflict {
                subject: g.name.clone(),
                reason: format!(
                    "Slack holds {} groups named {:?} ({}): merge or rename them by hand",
                    same.len(),
                    g.name.trim(),
                    ids.join(", ")
                ),
                source: Some(g.location.to_string()),
            });
            matched.extend(ids);
            continue;
        }
        let Some(lg) = by_name.get(&g.name_key) else {
            notices.extend(created_empty(g, &want));
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
                    super::reaches(u, ix.in_scope[i])
                        && !policy
                            .scope
                            .is_protected(&borrowed_key(&u.email), Some(&u.id))
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
    let mut deletes = unmanaged_groups(live, &matched, policy, notices);
    creates.sort_by_cached_key(sort_key);
    updates.sort_by_cached_key(sort_key);
    deletes.sort_by_cached_key(sort_key);
    creates.extend(updates);
    (creates, deletes)
}

/// The notice of a group created with none of the members the directory gives it: each is a
/// leaver, a guest, or a person whose account scimsync does not write (protected, outside
/// scope, in a conflict or skipped), so the group would be created empty without a word.
fn created_empty(g: &crate::directory::DesiredGroup, want: &BTreeSet<UserRef>) -> Option<Notice> {
    if !want.is_empty() || g.members.is_empty() {
        return None;
    }
    let shown: Vec<&str> = g.members.iter().take(5).map(String::as_str).collect();
    let more = g.members.len() - shown.len();
    Some(Notice {
        subject: g.name.clone(),
        message: format!(
            "created with no members: none of its {} can be added ({}{}: each is a leaver, a \
             guest, protected, outside scope, in a conflict or skipped; see the notices and \
             conflicts)",
            if g.members.len() == 1 {
                "1 member".to_string()
            } else {
                format!("{} members", g.members.len())
            },
            shown.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        ),
    })
}

/// The members a directory group should have in Slack: its members' accounts or creates, but
/// no leaver and no guest (Slack does not add guests to groups; said in a notice).
fn wanted_members(
    users: &HashMap<&str, &DesiredUser>,
    g: &crate::directory::DesiredGroup,
    refs: &HashMap<&str, UserRef>,
    notices: &mut Vec<Notice>,
) -> BTreeSet<UserRef> {
    let mut want: BTreeSet<UserRef> = BTreeSet::new();
    for m in &g.members {
        let user = users.get(m.as_str()).copied();
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
    want
}

/// Live groups the directory does not list (Slack's own aside): deleted, reported or ignored
/// per `groups.unmanaged`.
fn unmanaged_groups(
    live: &LiveState,
    matched: &HashSet<&str>,
    policy: &Policy,
    notices: &mut Vec<Notice>,
) -> Vec<Op> {
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
    deletes
}

/// Tests written against `cargo mutants` survivors: each asserts what the planner must do and
/// fails with the mutant.
#[cfg(test)]
mod mutant_tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::super::tests::{account, directory, person, policy};
    use super::super::{Op, Plan, plan};
    use super::*;
    use crate::diag::SourceLocation;
    use crate::directory::{AttributeOrigin, Guest};

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
        d.origins.push(AttributeOrigin {
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
                Op::CreateUser { fields, .. } | Op::UpdateUser { fields, .. } => {
                    fields.guest.clone()
                }
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
            vec![super::super::tests::group("team", &["ada@example.com"])],
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
                super::super::tests::group("board", &["boss@example.com"]),
                super::super::tests::group("team", &["ada@example.com", "boss@example.com"]),
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
        let group = super::super::tests::group;
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
}
