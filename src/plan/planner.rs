//! The planner as named steps (the omicron shape): [`Planner`] holds the live index, the
//! directory and the policy, and [`plan`] runs its steps in order — accounts that skipped rows
//! keep, matching, references, user ops, unmanaged accounts, ordering, groups, the edges across
//! kinds of op ([`super::order`]), assembly. Each
//! step is a method with a narrow input and output, so each can be read and tested alone; the
//! conflicts and notices they find accumulate on the planner.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet, HashSetExt};

use super::group_ops::group_ops;
use super::index::{Index, describe_account};
use super::refs::{Fate, Refs};
use super::user_ops::{UserOp, create_op, sort_key, update_op};
use super::user_order::order_user_ops;
use super::{
    Conflict, Counts, Leaving, Notice, Op, PLAN_FORMAT_VERSION, Plan, PlannedOp, UserRef,
    fingerprint, manages, reaches,
};
use crate::config::{MatchKey, Policy, UnmanagedUsers};
use crate::directory::{DesiredUser, Directory, SkippedUser};
use crate::model::{Attribute, LiveGroup, LiveState, LiveUser};
use crate::slack_rules::email_key;

/// Plans the writes that make `live` equal `dir` under `policy`: the [draft](draft), finished
/// ([`super::finish`]) with no memory, estimate or binding. Pure.
pub fn plan(dir: &Directory, live: &LiveState, policy: &Policy) -> Plan {
    super::finish(
        draft(dir, live, policy),
        super::Sealing::unbound(counts(dir, live, policy), &policy.safety),
    )
}

/// The planner's steps alone: the writes that make `live` equal `dir` under `policy`, with the
/// edges an op cannot be written without, conflicts, notices, fingerprints and labels. A draft
/// has no counts, guards, digest or edges across kinds of op yet: the memory step may hold ops
/// back, and [`super::finish`] then seals what is left.
pub fn draft(dir: &Directory, live: &LiveState, policy: &Policy) -> Plan {
    draft_matched(dir, live, policy).0
}

/// [`draft`], with the matching it was made from: each live account a directory user is matched
/// to by the plan's own rules, as `(live index, directory index)` (an ambiguous user, two users
/// on one account and a protected account match nothing). A pass keeps them for what the
/// memory learns ([`crate::memory::InSync`]) instead of matching a second time.
pub fn draft_matched(
    dir: &Directory,
    live: &LiveState,
    policy: &Policy,
) -> (Plan, Vec<(usize, usize)>) {
    let mut planner = Planner::new(dir, live, policy);
    let matching = planner.match_users();
    let pairs = pairs(&matching);
    let hands_off = planner.hands_off(&matching);
    let mut refs = planner.references(&matching);
    let (user_ops, mut deactivations) = planner.user_ops(&matching, &refs);
    deactivations.extend(planner.unmanaged(&matching, &hands_off));
    let ordered = planner.order(user_ops);
    let created = created_users(&ordered);
    // A user whose create was dropped (a conflict found while ordering) is referred to by
    // nobody.
    refs.keep_creates(&created);
    let deactivated: HashSet<String> = deactivations
        .iter()
        .filter_map(|op| op.resource_id().map(str::to_string))
        .collect();
    let (groups, group_deletes) = planner.groups(&refs, &deactivated, &hands_off);
    let ops = sequence(ordered, &created, groups, deactivations, group_deletes);
    (planner.assemble(ops), pairs)
}

/// The sizes a plan is made from: what Slack listed, what the directory holds, the managed
/// accounts (the base of the deactivation ratio, [`manages`]) and the users per source.
pub fn counts(dir: &Directory, live: &LiveState, policy: &Policy) -> Counts {
    Counts {
        live_users: live.users.len(),
        live_groups: live.groups.len(),
        directory_users: dir.users.len(),
        directory_groups: dir.groups.len(),
        managed_users: live
            .users
            .iter()
            .filter(|l| manages(l, super::in_scope(&policy.scope, l)))
            .count(),
        invalid_users: dir.skipped.len(),
        source_users: source_users(dir),
        custom_profile_fields: super::user_ops::custom_profile_fields(dir, policy),
    }
}

/// The `(live index, directory index)` of each directory user a matching matched.
fn pairs(matching: &Matching) -> Vec<(usize, usize)> {
    matching
        .fates
        .iter()
        .enumerate()
        .filter_map(|(di, f)| match *f {
            Fate::Matched(li) => Some((li, di)),
            Fate::Create | Fate::Nothing => None,
        })
        .collect()
}

/// The planner's inputs, and the conflicts and notices its steps find.
pub(super) struct Planner<'a> {
    dir: &'a Directory,
    ix: Index<'a>,
    policy: &'a Policy,
    conflicts: Vec<Conflict>,
    notices: Vec<Notice>,
}

/// What the rows skipped as invalid protect.
#[derive(Default)]
pub(super) struct HandsOff<'a> {
    /// Accounts a skipped row may own: never updated, deactivated or taken out of a group.
    pub(super) accounts: HashSet<usize>,
    /// Skipped rows that match no account: while there are any, no account is deactivated as
    /// unmanaged, since it could be theirs.
    pub(super) untied: Vec<&'a SkippedUser>,
}

/// What matching decided: each directory user's fate, and the live accounts that the
/// directory names (so they are never treated as unmanaged).
pub(super) struct Matching {
    /// One per directory user, in directory order.
    fates: Vec<Fate>,
    /// Accounts an ambiguous directory user points at.
    contested: HashSet<usize>,
    /// Whether each account is matched by at least one directory user (even several).
    claimed: Vec<bool>,
}

fn conflict(subject: &str, reason: String, source: Option<String>) -> Conflict {
    Conflict {
        subject: subject.to_string(),
        reason,
        source,
    }
}

impl<'a> Planner<'a> {
    fn new(dir: &'a Directory, live: &'a LiveState, policy: &'a Policy) -> Planner<'a> {
        Planner {
            dir,
            ix: Index::new(live, policy),
            policy,
            conflicts: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn protected(&self, l: &LiveUser) -> bool {
        self.policy.scope.is_protected(&l.email_key(), Some(&l.id))
    }

    /// Accounts of users skipped as invalid: left alone, never treated as leavers. A skipped
    /// row is matched by every key it still carries (id, employee number, any email, a written
    /// user name), whatever `match` says: the directory does list this person, only wrongly.
    /// Rows tied to no account are returned too: any unmanaged account could be theirs. An
    /// account a valid directory user matched is that user's, not a skipped row's: a row whose
    /// keys find only such accounts is tied to none.
    pub(super) fn hands_off(&self, matching: &Matching) -> HandsOff<'a> {
        let ix = &self.ix;
        let mut out = HandsOff::default();
        for s in &self.dir.skipped {
            let by_id = s.id.as_deref().and_then(|id| ix.by_id(id));
            let by_number = s
                .employee_number
                .as_deref()
                .map(|n| ix.by_employee_number(n))
                .unwrap_or_default()
                .iter()
                .copied();
            let by_email = ix.by_any_email(&s.email_key);
            let by_name = s.user_name_key.as_deref().and_then(|k| ix.by_user_name(k));
            let found: Vec<usize> = by_id
                .into_iter()
                .chain(by_number)
                .chain(by_email)
                .chain(by_name)
                .filter(|&i| !matching.claimed[i])
                .collect();
            if found.is_empty() {
                out.untied.push(s);
            }
            out.accounts.extend(found);
        }
        out
    }

    /// Decides each directory user's fate: matched to one account, to create, or nothing (a
    /// conflict, a protected account, a leaver without an account). Ambiguity is a conflict,
    /// never a guess; accounts an ambiguous user points at are contested.
    pub(super) fn match_users(&mut self) -> Matching {
        let mut contested: HashSet<usize> = HashSet::new();
        let mut fates: Vec<Fate> = Vec::with_capacity(self.dir.users.len());
        for d in &self.dir.users {
            let fate = self.match_one(d, &mut contested);
            fates.push(fate);
        }
        // Two directory users on one account: neither is guessed.
        let mut matched_by = vec![0_u32; self.ix.live.users.len()];
        for f in &fates {
            if let Fate::Matched(li) = *f {
                matched_by[li] += 1;
            }
        }
        for (di, f) in fates.iter_mut().enumerate() {
            if let Fate::Matched(li) = *f
                && matched_by[li] > 1
            {
                let d = &self.dir.users[di];
                self.conflicts.push(conflict(
                    &d.email,
                    format!(
                        "account {} is matched by {} directory users",
                        self.ix.user(li).id,
                        matched_by[li]
                    ),
                    Some(d.location.to_string()),
                ));
                *f = Fate::Nothing;
            }
        }
        // Protected accounts are matched (so not unmanaged) but never written.
        for (di, f) in fates.iter_mut().enumerate() {
            if let Fate::Matched(li) = *f
                && self.protected(self.ix.user(li))
            {
                self.notices.push(Notice {
                    subject: self.dir.users[di].email.clone(),
                    message: format!(
                        "account {} is protected: left unchanged",
                        self.ix.user(li).id
                    ),
                });
                *f = Fate::Nothing;
            }
        }
        Matching {
            fates,
            contested,
            claimed: matched_by.into_iter().map(|n| n > 0).collect(),
        }
    }

    /// One directory user's fate, by the first keys of `match` that find an account.
    fn match_one(&mut self, d: &DesiredUser, contested: &mut HashSet<usize>) -> Fate {
        let ix = &self.ix;
        // (account, the match key that found it), in `match` order.
        let mut found: Vec<(usize, &'static str)> = Vec::new();
        let mut ambiguous = None;
        for key in &self.policy.match_keys {
            let (name, hit) = match key {
                MatchKey::Id => ("id", d.id.as_deref().and_then(|id| ix.by_id(id))),
                MatchKey::EmployeeNumber => {
                    let hits = d.employee_number().map(|n| ix.by_employee_number(n));
                    match hits {
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
                MatchKey::Email => ("email", ix.by_primary_email(&d.email_key)),
                MatchKey::UserName => (
                    "user_name",
                    d.user_name
                        .as_ref()
                        .and_then(|_| ix.by_user_name(&d.user_name_key)),
                ),
            };
            if let Some(i) = hit {
                found.push((i, name));
            }
        }
        found.sort_by_key(|&(i, _)| i); // stable: each account's keys stay in `match` order
        // Made only for a conflict: most users have none.
        let source = || Some(d.location.to_string());
        if let Some(reason) = ambiguous {
            contested.extend(found.iter().map(|&(i, _)| i));
            self.conflicts.push(conflict(&d.email, reason, source()));
            return Fate::Nothing;
        }
        if found.iter().any(|&(i, _)| i != found[0].0) {
            contested.extend(found.iter().map(|&(i, _)| i));
            let by: Vec<String> = found
                .chunk_by(|a, b| a.0 == b.0)
                .map(|keys| {
                    let names: Vec<&str> = keys.iter().map(|&(_, name)| name).collect();
                    format!("{} by {}", ix.user(keys[0].0).id, names.join(" and "))
                })
                .collect();
            self.conflicts.push(conflict(
                &d.email,
                format!("matches several accounts: {}", by.join(", ")),
                source(),
            ));
            return Fate::Nothing;
        }
        if let Some(&(i, _)) = found.first() {
            let l = ix.user(i);
            if !reaches(l, ix.in_scope[i]) {
                self.conflicts.push(conflict(
                    &d.email,
                    format!("matches {}", describe_account(l, ix.in_scope[i])),
                    source(),
                ));
                return Fate::Nothing;
            }
            return Fate::Matched(i);
        }
        if !d.active {
            return Fate::Nothing; // a leaver who has no account: nothing to do
        }
        if !self.policy.scope.contains(&d.email_key, None) {
            self.conflicts.push(conflict(
                &d.email,
                "the email is outside scope (scope.email_domains / exclude)".into(),
                source(),
            ));
            return Fate::Nothing;
        }
        if let Some(reason) = self.channel_collision(d) {
            self.conflicts.push(conflict(&d.email, reason, source()));
            return Fate::Nothing;
        }
        Fate::Create
    }

    /// Why a hire cannot be created because its user name is a channel's (user names and
    /// channel names share one namespace, FACTS TL;DR 6), when `channels_file` lists it.
    fn channel_collision(&self, d: &DesiredUser) -> Option<String> {
        let channels = self.policy.channels.as_ref()?;
        channels.contains(&d.user_name_key).then(|| {
            format!(
                "its user name {:?} is a channel's name (channels_file): Slack would refuse the \
                 account (409 username_taken); set another user_name for it",
                d.user_name_key
            )
        })
    }

    /// Who each directory user will be in Slack, for managers and group members: an account
    /// id, or a user this plan creates. Users skipped as invalid keep their accounts.
    pub(super) fn references<'m>(&self, matching: &'m Matching) -> Refs<'m>
    where
        'a: 'm,
    {
        Refs::new(self.dir, &matching.fates, &self.ix.live.users, |key| {
            self.ix.by_primary_email(key)
        })
    }

    /// Each directory user's op: a create, an update (or reactivation) with only what differs,
    /// or the deactivation of a leaver.
    pub(super) fn user_ops(&self, matching: &Matching, refs: &Refs<'_>) -> (Vec<UserOp>, Vec<Op>) {
        let mut user_ops: Vec<UserOp> = Vec::new();
        let mut deactivations: Vec<Op> = Vec::new();
        for (d, f) in self.dir.users.iter().zip(&matching.fates) {
            match *f {
                Fate::Create => user_ops.push(create_op(d, refs, self.policy)),
                Fate::Matched(li) => {
                    let l = self.ix.user(li);
                    if !d.active {
                        if l.active {
                            deactivations.push(Op::DeactivateUser {
                                id: l.id.clone(),
                                email: l.email.clone(),
                                reason: Leaving::Inactive {
                                    at: d.origin(Attribute::Active).to_string(),
                                },
                            });
                        }
                    } else if let Some(op) = update_op(d, l, refs, self.policy) {
                        user_ops.push(op);
                    }
                }
                Fate::Nothing => {}
            }
        }
        (user_ops, deactivations)
    }

    /// Accounts in scope that no source lists: deactivated, reported or ignored per
    /// `unmanaged_users`. Never an account the directory names, even ambiguously, nor one a
    /// skipped row may own, a bot, a protected or an out-of-scope account; and while a skipped
    /// row matches no account, none is deactivated — each is held with a notice instead.
    pub(super) fn unmanaged(&mut self, matching: &Matching, hands_off: &HandsOff<'_>) -> Vec<Op> {
        let mut deactivations = Vec::new();
        let untied: Vec<String> = hands_off
            .untied
            .iter()
            .map(|s| s.location.file_line())
            .collect();
        for (li, l) in self.ix.live.users.iter().enumerate() {
            if matching.claimed[li]
                || matching.contested.contains(&li)
                || hands_off.accounts.contains(&li)
                || !manages(l, self.ix.in_scope[li])
                || self.protected(l)
            {
                continue;
            }
            match self.policy.unmanaged_users {
                UnmanagedUsers::Deactivate if !untied.is_empty() => self.notices.push(Notice {
                    subject: l.email.clone(),
                    message: format!(
                        "account {} is not in the directory but is not deactivated: the row \
                         skipped as invalid at {} matches no account, and this may be its \
                         person; fix the row",
                        l.id,
                        untied.join(", ")
                    ),
                }),
                UnmanagedUsers::Deactivate => deactivations.push(Op::DeactivateUser {
                    id: l.id.clone(),
                    email: l.email.clone(),
                    reason: Leaving::Absent,
                }),
                UnmanagedUsers::Report => self.notices.push(Notice {
                    subject: l.email.clone(),
                    message: format!("account {} is in scope but not in the directory", l.id),
                }),
                UnmanagedUsers::Ignore => {}
            }
        }
        deactivations
    }

    /// Orders user ops so every email and userName is released before it is taken and
    /// managers exist before their reports; swaps and keys held elsewhere become conflicts.
    pub(super) fn order(&mut self, user_ops: Vec<UserOp>) -> Vec<PlannedOp> {
        order_user_ops(user_ops, &self.ix, &mut self.conflicts)
    }

    /// Group creates and membership changes, and the deletions the policy asks for.
    pub(super) fn groups(
        &mut self,
        refs: &Refs<'_>,
        deactivated: &HashSet<String>,
        hands_off: &HandsOff<'_>,
    ) -> (Vec<Op>, Vec<Op>) {
        group_ops(
            self.dir,
            &self.ix,
            refs,
            deactivated,
            &hands_off.accounts,
            self.policy,
            &mut self.conflicts,
            &mut self.notices,
        )
    }

    /// The draft: the ops with fingerprints of what they touch, labels for reports, and sorted
    /// conflicts and notices.
    pub(super) fn assemble(mut self, ops: Vec<PlannedOp>) -> Plan {
        let live = self.ix.live;
        let user_by_id = |id: &str| self.ix.by_id(id).map(|i| self.ix.user(i));
        let group_by_id: HashMap<&str, &LiveGroup> =
            live.groups.iter().map(|g| (g.id.as_str(), g)).collect();
        let fingerprints = ops
            .iter()
            .filter_map(|op| op.resource_id())
            .filter_map(|id| {
                user_by_id(id)
                    .map(fingerprint)
                    .or_else(|| group_by_id.get(id).map(|g| fingerprint(*g)))
                    .map(|f| (id.to_string(), f))
            })
            .collect();
        let labels = labels(&ops, user_by_id);
        self.conflicts.sort();
        self.conflicts.dedup();
        self.notices.sort();
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            ops,
            conflicts: self.conflicts,
            notices: self.notices,
            counts: Counts::default(),
            guards: Vec::new(),
            pending: Vec::new(),
            drift: Vec::new(),
            stuck: Vec::new(),
            skipped: Vec::new(),
            fingerprints,
            labels,
            digest: String::new(),
            estimate: None,
            binding: None,
            seal: String::new(),
        }
    }
}

/// Users per source: those with a value (or their row) in it.
fn source_users(dir: &Directory) -> BTreeMap<String, usize> {
    let mut counts: BTreeMap<String, usize> =
        dir.sources.iter().map(|s| (s.to_string(), 0)).collect();
    for u in &dir.users {
        let mut files: Vec<&str> = u.origins.files(&u.location).collect();
        files.push(&u.location.file);
        files.sort_unstable();
        files.dedup();
        for f in files {
            if let Some(n) = counts.get_mut(f) {
                *n += 1;
            }
        }
    }
    counts
}

/// Where each user this plan creates is created (its position among the ordered user ops), by
/// email key.
fn created_users(ordered: &[PlannedOp]) -> HashMap<String, usize> {
    ordered
        .iter()
        .enumerate()
        .filter_map(|(i, op)| match &op.op {
            Op::CreateUser { email, .. } => Some((email_key(email), i)),
            _ => None,
        })
        .collect()
}

/// The plan's op sequence: user ops in dependency order, then groups (each waiting for the
/// creates of the new users it adds), then deactivations, then group deletions.
fn sequence(
    mut ops: Vec<PlannedOp>,
    created: &HashMap<String, usize>,
    groups: Vec<Op>,
    mut deactivations: Vec<Op>,
    group_deletes: Vec<Op>,
) -> Vec<PlannedOp> {
    // A conflict found while ordering may have dropped a manager's create: clear such refs.
    for op in &mut ops {
        let fields = match &mut op.op {
            Op::CreateUser { fields, .. } | Op::UpdateUser { fields, .. } => fields,
            _ => continue,
        };
        if let Some(Some(UserRef::New(k))) = &fields.manager
            && !created.contains_key(k)
        {
            fields.manager = None;
        }
    }
    ops.extend(groups.into_iter().map(|op| {
        let members: &[UserRef] = match &op {
            Op::CreateGroup { members, .. } => members,
            Op::UpdateGroup { add, .. } => add,
            _ => &[],
        };
        let mut after: Vec<usize> = members
            .iter()
            .filter_map(|m| match m {
                UserRef::New(k) => created.get(k).copied(),
                UserRef::Id(_) => None,
            })
            .collect();
        after.sort_unstable();
        PlannedOp { op, after }
    }));
    deactivations.sort_by_cached_key(sort_key);
    ops.extend(deactivations.into_iter().map(PlannedOp::new));
    ops.extend(group_deletes.into_iter().map(PlannedOp::new));
    ops
}

/// Emails of the accounts the plan names only by id (group members, old managers), so reports
/// can show people rather than ids.
fn labels<'a>(
    ops: &[PlannedOp],
    user_by_id: impl Fn(&str) -> Option<&'a LiveUser>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut label = |id: &str| {
        if let Some(u) = user_by_id(id) {
            labels.insert(id.to_string(), u.email.clone());
        }
    };
    for op in ops {
        match &op.op {
            Op::CreateGroup { members, .. } => members.iter().for_each(|m| {
                if let UserRef::Id(id) = m {
                    label(id);
                }
            }),
            Op::UpdateGroup { add, remove, .. } => {
                add.iter().for_each(|m| {
                    if let UserRef::Id(id) = m {
                        label(id);
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
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tests::{account, directory, person};
    use crate::plan::{Op, PlannedOp};

    fn state(users: Vec<LiveUser>) -> LiveState {
        LiveState {
            users,
            groups: Vec::new(),
        }
    }

    use crate::plan::tests::policy;

    #[test]
    fn matching_makes_two_users_on_one_account_a_conflict_and_claims_it() {
        let mut second = person("ada.l@example.com", 3);
        second
            .texts
            .set(Attribute::EmployeeNumber, Some("E1".to_string()));
        let mut first_account = account("W1", "ada@example.com");
        first_account
            .texts
            .set(Attribute::EmployeeNumber, Some("E1"));
        let dir = directory(vec![person("ada@example.com", 2), second], vec![]);
        let live = state(vec![first_account]);
        let policy = policy();
        let mut planner = Planner::new(&dir, &live, &policy);
        let m = planner.match_users();
        assert!(m.fates.iter().all(|f| *f == Fate::Nothing));
        assert!(m.claimed[0], "the account is the directory's");
        assert_eq!(planner.conflicts.len(), 2);
        // And so it is never unmanaged.
        assert!(planner.unmanaged(&m, &HandsOff::default()).is_empty());
    }

    #[test]
    fn unmanaged_spares_accounts_a_skipped_row_may_own() {
        let dir = directory(vec![], vec![]);
        let live = state(vec![
            account("W1", "ada@example.com"),
            account("W2", "bob@example.com"),
        ]);
        let policy = policy();
        let mut planner = Planner::new(&dir, &live, &policy);
        let m = planner.match_users();
        let spared = HandsOff {
            accounts: [0].into_iter().collect(),
            untied: vec![],
        };
        let ops = planner.unmanaged(&m, &spared);
        assert_eq!(ops.len(), 1);
        assert!(matches!(&ops[0], Op::DeactivateUser { id, .. } if id == "W2"));
    }

    #[test]
    fn a_report_waits_for_their_new_managers_create_and_a_group_for_its_new_members() {
        let boss = person("zed@example.com", 2);
        let mut ada = person("ada@example.com", 3);
        ada.manager = Some("zed@example.com".into());
        let g = crate::plan::tests::group("team", &["ada@example.com", "zed@example.com"]);
        let p = plan(
            &directory(vec![boss, ada], vec![g]),
            &state(vec![]),
            &policy(),
        );
        let at = |what: &str| {
            p.ops
                .iter()
                .position(|o: &PlannedOp| o.subject() == what)
                .unwrap()
        };
        let (zed, ada, team) = (at("zed@example.com"), at("ada@example.com"), at("team"));
        assert_eq!(p.ops[ada].after, [zed]);
        let mut waits = p.ops[team].after.clone();
        waits.sort_unstable();
        let mut want = vec![zed, ada];
        want.sort_unstable();
        assert_eq!(waits, want);
        assert!(p.ops[zed].after.is_empty());
        // Every edge points back.
        for (i, op) in p.ops.iter().enumerate() {
            assert!(op.after.iter().all(|&j| j < i));
        }
    }

    #[test]
    fn a_saved_plan_of_another_version_unsealed_with_a_forward_edge_or_unfingerprinted_is_refused()
    {
        let mut p = plan(
            &directory(vec![person("zed@example.com", 2)], vec![]),
            &state(vec![]),
            &policy(),
        );
        let unsealed = serde_json::to_value(&p).unwrap();
        let e = crate::plan::from_json(&unsealed.to_string()).unwrap_err();
        assert!(e.contains("not sealed"), "{e}");
        p.binding = Some(crate::plan::seal::Binding {
            target: "embedded".into(),
            organisation: "T1".into(),
            config: "c.yaml".into(),
            config_sha256: "00".into(),
        });
        crate::plan::seal::seal(&mut p, &crate::plan::seal::SealKey::new(b"k"));
        let mut json: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert!(crate::plan::from_json(&json.to_string()).is_ok());
        json["format_version"] = 1.into();
        let e = crate::plan::from_json(&json.to_string()).unwrap_err();
        assert!(e.contains("plan format version 1 is not supported"), "{e}");
        json["format_version"] = crate::plan::PLAN_FORMAT_VERSION.into();
        // A plan cannot wait on an op after it.
        let mut forward = json.clone();
        forward["ops"][0]["after"] = serde_json::json!([0]);
        let e = crate::plan::from_json(&forward.to_string()).unwrap_err();
        assert!(
            e.contains("waits for op 0, which does not come before it"),
            "{e}"
        );
        // An op on an account the plan holds no fingerprint of (an appended deactivation).
        json["ops"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"op": "deactivate_user", "id": "W9",
                "email": "ceo@example.com", "reason": {"kind": "absent"}}));
        let e = crate::plan::from_json(&json.to_string()).unwrap_err();
        assert!(
            e.contains("writes to W9, which the plan has no fingerprint of"),
            "{e}"
        );
    }

    #[test]
    fn labels_name_every_account_the_plan_refers_to_by_id() {
        let mut dan = person("dan@example.com", 5);
        dan.manager = Some("ada@example.com".into());
        let mut eve = person("eve@example.com", 6);
        eve.texts.set(Attribute::Title, Some("Lead"));
        let mut dan_account = account("W4", "dan@example.com");
        dan_account.manager_id = Some("W5".into());
        let mut eve_account = account("W5", "eve@example.com");
        eve_account.texts.set(Attribute::Title, Some("W6"));
        let live = LiveState {
            users: vec![
                account("W1", "ada@example.com"),
                account("W2", "bob@example.com"),
                account("W3", "cy@example.com"),
                dan_account,
                eve_account,
                account("W6", "fay@example.com"),
            ],
            groups: vec![LiveGroup {
                id: "S1".into(),
                name: "team".into(),
                members: vec!["W2".into()],
                auto_generated: false,
            }],
        };
        let people = ["ada", "bob", "cy", "fay"]
            .map(|n| person(&format!("{n}@example.com"), 2))
            .into_iter()
            .chain([dan, eve])
            .collect();
        let groups = vec![
            crate::plan::tests::group("new", &["ada@example.com"]),
            crate::plan::tests::group("team", &["cy@example.com"]),
        ];
        let p = plan(&directory(people, groups), &live, &policy());
        // W1 joins the new group, W3 joins and W2 leaves team, W5 is dan's old manager; fay
        // (W6), whose id is only eve's old title, is no one's label.
        let labels: Vec<(&str, &str)> = p
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            labels,
            [
                ("W1", "ada@example.com"),
                ("W2", "bob@example.com"),
                ("W3", "cy@example.com"),
                ("W5", "eve@example.com"),
            ]
        );
    }
}
