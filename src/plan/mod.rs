//! The plan: what must change in Slack so that it equals the directory. Planning is pure —
//! `plan(&Directory, &LiveState, &Policy) -> Plan` does no I/O, reads no clock, and sorts its
//! output — so most of the product's behaviour is tested here, without a network.
//!
//! DESIGN §2–§4: matching by id, employee number, email and userName (ambiguity is a
//! conflict, never a guess); renames are PATCHes; a deactivated account holding a desired
//! email is reactivated, not duplicated; an email or userName is released before it is taken,
//! and swaps are reported; out-of-scope, protected and bot accounts and auto-generated groups
//! are never touched; PATCHes carry only what differs.

pub mod estimate;
mod group_ops;
pub mod guards;
mod index;
pub mod order;
mod planner;
pub mod recheck;
mod refs;
mod remembered;
pub mod render;
pub mod saved;
pub mod seal;
pub mod skipped;
mod user_ops;
mod user_order;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::config::Scope;
pub use crate::model::{Change, GuestSpec, UserFields, UserRef};
use crate::model::{LiveState, LiveUser};

pub use guards::{Guard, GuardTrip};
pub use planner::{counts, draft, draft_matched, plan};
pub use recheck::{Refusal, recheck};
pub use remembered::{Drift, DriftAction, Pending, Stuck};
pub use seal::{Sealing, finish};
pub use skipped::{SkipCause, Skipped};

/// The version of the JSON plan format (`plan --format json`, `apply --plan`). Version 2 added
/// each op's `after`: the ops it must wait for. Version 3 added `pending` (deactivations inside
/// the grace period), `drift`, `stuck` and `counts.source_users`. Version 4 added `binding`
/// (target, organisation, config) and the keyed `seal`; later in version 4, `skipped` (the rows
/// skipped as invalid, each with its place and cause: absent from a plan that has none, so a
/// plan saved before it still reads and verifies). Version 5 lists every ordering edge the
/// executor honours in `after` ([`order`]: a group change after its members' updates, a
/// deactivation after the other ops on its account, group deletions last), where version 4
/// left those to the executor.
pub const PLAN_FORMAT_VERSION: u32 = 5;

/// One write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A new account (`POST /Users`); later ops refer to it as [`UserRef::New`].
    CreateUser {
        /// The primary email, trimmed.
        email: String,
        /// The userName Slack will hold: the declared one lower-cased, or derived from the
        /// email as Slack does.
        user_name: String,
        /// The declared attributes to send with the create.
        fields: UserFields,
        /// Where the user is declared (`people.csv:14`).
        source: String,
    },
    /// Attribute changes, renames and reactivations of an existing account.
    UpdateUser {
        /// The live account's Slack id.
        id: String,
        /// The account's email before this plan.
        email: String,
        /// Whether the account is deactivated and this op makes it active again.
        reactivate: bool,
        /// Only the attributes that differ: the PATCH body's content.
        fields: UserFields,
        /// The same differences as before → after text, for reports and the audit log.
        changes: Vec<Change>,
        /// Where the user is declared (`people.csv:14`).
        source: String,
    },
    /// Deactivates an account (`DELETE /Users/{id}`: Slack deactivates, it never deletes users).
    DeactivateUser {
        /// The live account's Slack id.
        id: String,
        /// The live account's email, for reports.
        email: String,
        /// Why the account leaves: logic matches on it, reports render it in words.
        reason: Leaving,
    },
    /// A new group with its first members.
    CreateGroup {
        /// The display name, as declared.
        name: String,
        /// Members, by live id or by a user this plan creates.
        members: Vec<UserRef>,
        /// Where the group is declared.
        source: String,
    },
    /// Membership changes and a rename of an existing group.
    UpdateGroup {
        /// The live group's Slack id.
        id: String,
        /// The group's live display name (before any rename).
        name: String,
        /// The new display name, when it differs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rename: Option<String>,
        /// Members to add, by live id or by a user this plan creates.
        add: Vec<UserRef>,
        /// Live ids of members to remove.
        remove: Vec<String>,
    },
    /// Deletes a group Slack has but the directory does not (only under
    /// `unmanaged_groups: delete`).
    DeleteGroup {
        /// The live group's Slack id.
        id: String,
        /// The group's live display name, for reports.
        name: String,
    },
}

impl Op {
    /// The live resource the op writes to, if it exists already.
    pub fn resource_id(&self) -> Option<&str> {
        match self {
            Op::UpdateUser { id, .. }
            | Op::DeactivateUser { id, .. }
            | Op::UpdateGroup { id, .. }
            | Op::DeleteGroup { id, .. } => Some(id),
            Op::CreateUser { .. } | Op::CreateGroup { .. } => None,
        }
    }

    /// What kind of change the op makes.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::CreateUser { .. } => OpKind::CreateUser,
            Op::UpdateUser {
                reactivate: true, ..
            } => OpKind::ReactivateUser,
            Op::UpdateUser { .. } => OpKind::UpdateUser,
            Op::DeactivateUser { .. } => OpKind::DeactivateUser,
            Op::CreateGroup { .. } => OpKind::CreateGroup,
            Op::UpdateGroup { .. } => OpKind::UpdateGroup,
            Op::DeleteGroup { .. } => OpKind::DeleteGroup,
        }
    }

    /// The email or group name the op is about, as people read it.
    pub fn subject(&self) -> &str {
        match self {
            Op::CreateUser { email, .. }
            | Op::UpdateUser { email, .. }
            | Op::DeactivateUser { email, .. } => email,
            Op::CreateGroup { name, .. }
            | Op::UpdateGroup { name, .. }
            | Op::DeleteGroup { name, .. } => name,
        }
    }
}

/// Why an account is deactivated. Logic (the grace period, the leaver clock, a saved plan's
/// re-check) matches on the variant; the report's words are its [`Display`](std::fmt::Display)
/// (`not in the directory`, `active: false at people.csv:3`). In JSON:
/// `{"kind": "absent"}` or `{"kind": "inactive", "at": "people.csv:3"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Leaving {
    /// In scope, in no source, and `unmanaged_users: deactivate`: a leaver, who waits out
    /// `safety.deactivation_grace` and whom the state's leaver clock times.
    Absent,
    /// Declared `active: false` by a source: deactivated at once.
    Inactive {
        /// Where (`people.csv:3`).
        at: String,
    },
}

impl std::fmt::Display for Leaving {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Leaving::Absent => f.write_str("not in the directory"),
            Leaving::Inactive { at } => write!(f, "active: false at {at}"),
        }
    }
}

/// Whether scimsync may write to `account` at all: in scope (`in_scope`, as
/// [`in_scope`] or the planner's index says) and not a bot. A deactivated account is within
/// reach (a rejoiner is reactivated).
pub fn reaches(account: &LiveUser, in_scope: bool) -> bool {
    in_scope && !account.is_bot
}

/// Whether scimsync manages `account`: within reach ([`reaches`]) and active. The one rule for
/// "a managed account": the base of the deactivation ratio ([`Counts::managed_users`]) and the
/// accounts that are deactivated, reported or ignored when no source lists them.
pub fn manages(account: &LiveUser, in_scope: bool) -> bool {
    reaches(account, in_scope) && account.active
}

/// Whether `account` is inside `scope` (`scope.email_domains`, `exclude`).
pub fn in_scope(scope: &Scope, account: &LiveUser) -> bool {
    scope.contains(&account.email_key(), Some(&account.id))
}

/// The kinds of change, as reports, metrics and the audit log name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A new account.
    CreateUser,
    /// A deactivated account made active again (with any attribute changes).
    ReactivateUser,
    /// Attribute changes and renames of an active account.
    UpdateUser,
    /// An account deactivated (never deleted).
    DeactivateUser,
    /// A new group with its first members.
    CreateGroup,
    /// Members added or removed, or a rename.
    UpdateGroup,
    /// A group deleted (permanent; only when the policy says so).
    DeleteGroup,
}

impl OpKind {
    /// Every kind, for zero-initialised metric series.
    pub const ALL: [OpKind; 7] = [
        OpKind::CreateUser,
        OpKind::ReactivateUser,
        OpKind::UpdateUser,
        OpKind::DeactivateUser,
        OpKind::CreateGroup,
        OpKind::UpdateGroup,
        OpKind::DeleteGroup,
    ];

    /// The kind's snake_case name (`create_user`), as in JSON and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            OpKind::CreateUser => "create_user",
            OpKind::ReactivateUser => "reactivate_user",
            OpKind::UpdateUser => "update_user",
            OpKind::DeactivateUser => "deactivate_user",
            OpKind::CreateGroup => "create_group",
            OpKind::UpdateGroup => "update_group",
            OpKind::DeleteGroup => "delete_group",
        }
    }
}

impl std::fmt::Display for OpKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// An op in a plan, with the ops it must wait for: `after` is the whole of the plan's ordering
/// (the planner writes every edge, [`order`]); the executor follows it and adds none of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedOp {
    /// The write.
    #[serde(flatten)]
    pub op: Op,
    /// Indices (into [`Plan::ops`]) of earlier ops that must apply before this one starts: the
    /// release of an email or userName it takes, the create of a user it refers to, the
    /// updates of the existing members a group change adds or removes, every other op on the
    /// account a deactivation deactivates, and for a group deletion every op but deletions.
    /// If one of them does not apply, this op is skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<usize>,
}

impl PlannedOp {
    /// An op that waits for nothing.
    pub fn new(op: Op) -> PlannedOp {
        PlannedOp {
            op,
            after: Vec::new(),
        }
    }
}

impl std::ops::Deref for PlannedOp {
    type Target = Op;

    fn deref(&self) -> &Op {
        &self.op
    }
}

/// Something the plan will not do, and why: reported, skipped, never guessed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Conflict {
    /// The directory user or group concerned (an email or a group name).
    pub subject: String,
    /// Why nothing is written for it, in words for the report.
    pub reason: String,
    /// Where the subject is declared, when it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// Something worth knowing that needs no write (unmanaged accounts under `report`, …).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Notice {
    /// The email or group name concerned.
    pub subject: String,
    /// What is worth knowing, in words for the report.
    pub message: String,
}

/// Whether a count is zero (left out of a plan's JSON).
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's signature
fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// The sizes a plan was made from: shown in the report's header and used by the guards.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Every account Slack listed, bots and deactivated ones included.
    pub live_users: usize,
    /// Every group Slack listed.
    pub live_groups: usize,
    /// Users in the directory (leavers included), after invalid ones were skipped.
    pub directory_users: usize,
    /// Groups in the directory.
    pub directory_groups: usize,
    /// Live accounts in scope (active, not bots): the base of the deactivation ratio.
    pub managed_users: usize,
    /// Directory rows skipped as invalid (not counted in `directory_users`).
    pub invalid_users: usize,
    /// Users per source (a user given by two sources counts in both): what the
    /// `max_source_shrink` guard compares with the last successful apply.
    #[serde(default)]
    pub source_users: BTreeMap<String, usize>,
    /// The custom profile fields of the organisation that the directory's values of managed
    /// attributes need ([`crate::model::Attribute::profile_field`]): an estimate of those
    /// Slack creates, at most [`crate::model::CUSTOM_PROFILE_FIELD_LIMIT`] with the others.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub custom_profile_fields: usize,
}

/// A plan: ops in execution order, plus what was refused and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT_VERSION`] when made.
    pub format_version: u32,
    /// The writes, in an order that respects every op's `after`.
    pub ops: Vec<PlannedOp>,
    /// What the plan refuses to do, sorted.
    pub conflicts: Vec<Conflict>,
    /// What needs no write but is worth reporting, sorted.
    pub notices: Vec<Notice>,
    /// The sizes the plan was made from.
    pub counts: Counts,
    /// Guards the plan trips; a tripped guard means nothing may be written.
    pub guards: Vec<GuardTrip>,
    /// Leavers inside `safety.deactivation_grace`: not deactivated by this plan.
    #[serde(default)]
    pub pending: Vec<Pending>,
    /// Values changed in Slack by hand since scimsync last applied them.
    #[serde(default)]
    pub drift: Vec<Drift>,
    /// Ops Slack refused with the same error pass after pass; those waiting out their backoff
    /// are not in `ops`.
    #[serde(default)]
    pub stuck: Vec<Stuck>,
    /// Directory rows skipped as invalid (`invalid_users: skip`), with where and why; set by
    /// the pass, which knows the load's problems. Never applied: listed so that nobody is
    /// left out silently.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Skipped>,
    /// A fingerprint ([`fingerprint`]) of each live resource the plan touches, by Slack id, as
    /// it was when planned.
    pub fingerprints: BTreeMap<String, String>,
    /// Emails of the accounts the plan names only by id (group members, managers), for
    /// reports.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// A digest of the plan's content (ops, fingerprints, counts, labels): names the plan in
    /// the audit log. Anyone can recompute it; what protects a saved plan is [`Plan::seal`].
    #[serde(default)]
    pub digest: String,
    /// The least time applying the plan takes under Slack's rate limits at the configured
    /// share: set by the pass (the planner knows no budget), not part of the digest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<estimate::Estimate>,
    /// What the plan was made for (target, organisation, config); set by the pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<seal::Binding>,
    /// The keyed seal over everything above ([`seal::seal`]); set by the pass.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub seal: String,
}

/// How many of each kind of change a plan makes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// [`Op::CreateUser`] ops.
    pub create: usize,
    /// [`Op::UpdateUser`] ops that reactivate.
    pub reactivate: usize,
    /// [`Op::UpdateUser`] ops on active accounts.
    pub update: usize,
    /// [`Op::DeactivateUser`] ops.
    pub deactivate: usize,
    /// [`Op::CreateGroup`] ops.
    pub group_create: usize,
    /// [`Op::UpdateGroup`] ops.
    pub group_update: usize,
    /// [`Op::DeleteGroup`] ops.
    pub group_delete: usize,
    /// Members added plus members removed, over every group op (a new group's members count
    /// as added).
    pub membership_changes: usize,
    /// Members removed from existing groups: what the `max_membership_removals` guard counts.
    pub membership_removals: usize,
    /// [`Plan::conflicts`], counted.
    pub conflicts: usize,
    /// [`Plan::pending`], counted: deactivations waiting out the grace period.
    pub pending_deactivations: usize,
    /// [`Plan::drift`], counted: values changed in Slack by hand.
    pub drift: usize,
    /// [`Plan::stuck`], counted.
    pub stuck: usize,
    /// [`Plan::skipped`], counted: rows skipped as invalid.
    pub skipped: usize,
}

impl Plan {
    /// A plan of these ops and nothing else: no conflict, notice, guard or count, no digest
    /// (hand-made plans, in tests and benchmarks).
    pub fn of(ops: Vec<PlannedOp>) -> Plan {
        Plan {
            format_version: PLAN_FORMAT_VERSION,
            ops,
            conflicts: vec![],
            notices: vec![],
            counts: Counts::default(),
            guards: vec![],
            pending: vec![],
            drift: vec![],
            stuck: vec![],
            skipped: vec![],
            fingerprints: BTreeMap::new(),
            labels: BTreeMap::new(),
            digest: String::new(),
            estimate: None,
            binding: None,
            seal: String::new(),
        }
    }

    /// Counts the plan's ops by kind, for the report header, logs and guards.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            conflicts: self.conflicts.len(),
            pending_deactivations: self.pending.len(),
            drift: self.drift.len(),
            stuck: self.stuck.len(),
            skipped: self.skipped.len().max(self.counts.invalid_users),
            ..Summary::default()
        };
        for op in &self.ops {
            match &op.op {
                Op::CreateUser { .. } => s.create += 1,
                Op::UpdateUser {
                    reactivate: true, ..
                } => s.reactivate += 1,
                Op::UpdateUser { .. } => s.update += 1,
                Op::DeactivateUser { .. } => s.deactivate += 1,
                Op::CreateGroup { members, .. } => {
                    s.group_create += 1;
                    s.membership_changes += members.len();
                }
                Op::UpdateGroup { add, remove, .. } => {
                    s.group_update += 1;
                    s.membership_changes += add.len() + remove.len();
                    s.membership_removals += remove.len();
                }
                Op::DeleteGroup { .. } => s.group_delete += 1,
            }
        }
        s
    }

    /// Whether applying the plan would write anything.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Stuck ops this plan holds back (waiting out their backoff): not in [`Plan::ops`].
    pub fn held_stuck(&self) -> impl Iterator<Item = &Stuck> {
        self.stuck.iter().filter(|s| s.retry_at.is_some())
    }

    /// Whether applying the plan, even in full, leaves Slack different from the directory:
    /// the plan has conflicts, rows skipped as invalid, or stuck ops it holds back. Every
    /// surface says so (`plan --detailed-exitcode` 5, `apply` 4, a daemon pass `partial`).
    pub fn falls_short(&self) -> bool {
        !self.conflicts.is_empty()
            || !self.skipped.is_empty()
            || self.counts.invalid_users > 0
            || self.held_stuck().next().is_some()
    }
}

/// The digest of a plan's content, as [`Plan::digest`] holds it.
pub fn digest(plan: &Plan) -> String {
    fingerprint(&(
        plan.format_version,
        &plan.ops,
        &plan.fingerprints,
        &plan.counts,
        &plan.labels,
    ))
}

/// Reads a plan saved with `plan --format json --out FILE` and checks its shape: this format
/// version, a binding and a seal (checked against a key by the pass: [`seal::verify`]), every
/// op's `after` pointing back, and a fingerprint for every existing resource an op writes to
/// (an op without one could touch an account nobody fingerprinted).
pub fn from_json(text: &str) -> Result<Plan, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    match value.get("format_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(PLAN_FORMAT_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "plan format version {v} is not supported (this scimsync reads version {PLAN_FORMAT_VERSION}); make the plan again with this scimsync"
            ));
        }
        None => return Err("not a scimsync plan: no format_version".into()),
    }
    let plan: Plan = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if plan.binding.is_none() || plan.seal.is_empty() {
        return Err(
            "it is not sealed (no binding or seal): only a plan written by `scimsync plan \
             --format json --out FILE` can be applied"
                .into(),
        );
    }
    for (i, op) in plan.ops.iter().enumerate() {
        if let Some(&bad) = op.after.iter().find(|&&j| j >= i) {
            return Err(format!(
                "op {i} ({} {}) waits for op {bad}, which does not come before it",
                op.kind(),
                op.subject()
            ));
        }
        if let Some(id) = op.resource_id()
            && !plan.fingerprints.contains_key(id)
        {
            return Err(format!(
                "op {i} ({} {}) writes to {id}, which the plan has no fingerprint of",
                op.kind(),
                op.subject()
            ));
        }
    }
    Ok(plan)
}

/// A stable fingerprint of a live resource (FNV-1a over its canonical JSON), so `apply
/// --plan` can refuse a plan whose resources changed since it was made.
pub fn fingerprint(resource: &impl Serialize) -> String {
    let bytes = serde_json::to_vec(resource).expect("live resources serialise");
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The live state a plan was made against, for fingerprints.
pub fn live_fingerprints(live: &LiveState) -> BTreeMap<String, String> {
    live.users
        .iter()
        .map(|u| (u.id.clone(), fingerprint(u)))
        .chain(live.groups.iter().map(|g| (g.id.clone(), fingerprint(g))))
        .collect()
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod golden;

#[cfg(test)]
mod mutant_tests;

#[cfg(test)]
mod proptests;
