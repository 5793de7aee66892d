//! The executor: applies a [`Plan`] to Slack, making one attempt per op (with retries only for
//! what is transient) and returning every op's result together (the omicron shape).
//!
//! Order (DESIGN §5): every op waits for the ops its `after` lists, and for nothing else — the
//! plan carries every ordering edge (`plan::order`: an email or userName released before it
//! is taken, a user created before a manager field or a group points at them, a group change
//! after its members' updates, a deactivation after every other op on its account, group
//! deletions last). The executor adds no rule of its own: every budget is used at once,
//! leavers first. Each op runs in the lane of Slack's endpoint it writes to (user creates,
//! updates, deactivations, group creates, updates, deletions), each lane with its own bound on
//! requests in flight and its own rate bucket, all under the org-wide one — so deactivations
//! start with the apply and never queue behind an import's creates. Never two writes at once
//! on one resource. One rejected op is reported with Slack's error code and skipped; the ops
//! that wait on it are skipped too — except a group op, which waits for its new members'
//! creates only to add them and goes ahead with the members that exist
//! ([`crate::plan::order::skipped_with`]); the rest applies. A group create is sent once
//! (Slack may hold two groups of one name): a lost answer is adopted from a listing of the
//! groups or left [`OUTCOME_UNKNOWN`], never sent again.

mod audit;
mod outcome;
pub mod progress;
mod split;

use crate::model::Attribute;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

pub use audit::AuditLog;
pub use outcome::{OpOutcome, OpResult, Outcome, STOPPED};
pub use progress::Progress;

use crate::model::UserFields;
use crate::plan::{Op, Plan, PlannedOp, UserRef};
use crate::scim::caller::{CallError, Caller};
use crate::scim::limits::Endpoint;
use crate::scim::types::{ListResponse, User};
use crate::scim::{ScimError, Version, write};
use crate::shutdown::Shutdown;
use crate::slack_rules::{ErrorCode, email_key, user_name_key};

/// The endpoint an op writes to: its lane.
fn lane(op: &Op) -> Endpoint {
    match op {
        Op::CreateUser { .. } => Endpoint::UserCreate,
        Op::UpdateUser { .. } => Endpoint::UserUpdate,
        Op::DeactivateUser { .. } => Endpoint::UserDelete,
        Op::CreateGroup { .. } => Endpoint::GroupCreate,
        Op::UpdateGroup { .. } => Endpoint::GroupUpdate,
        Op::DeleteGroup { .. } => Endpoint::GroupDelete,
    }
}

/// The lane's position in [`progress::LANES`] counts.
fn lane_index(op: &Op) -> usize {
    match lane(op) {
        Endpoint::UserCreate => 0,
        Endpoint::UserUpdate => 1,
        Endpoint::UserDelete => 2,
        Endpoint::GroupCreate => 3,
        Endpoint::GroupUpdate => 4,
        _ => 5,
    }
}

/// The ops each op waits for: its `after`, exactly as the plan lists it (the planner writes
/// every ordering edge, `plan::order`). An edge that does not point back to an earlier op — a
/// hand-made plan's mistake, which could wait for ever — is returned as the op's fault.
fn waits(plan: &Plan) -> Vec<Result<&[usize], usize>> {
    plan.ops
        .iter()
        .enumerate()
        .map(|(i, op)| match op.after.iter().find(|&&j| j >= i) {
            Some(&bad) => Err(bad),
            None => Ok(op.after.as_slice()),
        })
        .collect()
}

/// One execution of a plan: what its ops share (the caller, the users created so far, a lock
/// per resource, the lanes, the audit log, the stop signal and the progress).
struct Execution {
    caller: Caller,
    version: Version,
    /// Email key → id of users created by this apply.
    created: Mutex<HashMap<String, String>>,
    /// One write at a time per resource.
    resource_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    audit: Option<Arc<AuditLog>>,
    /// Bounds the ops in flight in each lane (by the endpoint they write to).
    lanes: HashMap<Endpoint, Semaphore>,
    /// Once it is stopping, no further op starts.
    stop: Shutdown,
    /// Counts ops as they end.
    progress: Option<Arc<Progress>>,
}

impl Execution {
    fn resolve(&self, r: &UserRef) -> Option<String> {
        match r {
            UserRef::Id(id) => Some(id.clone()),
            UserRef::New(k) => self
                .created
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(k)
                .cloned(),
        }
    }

    fn resource_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.resource_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.to_string())
            .or_default()
            .clone()
    }
}

fn failed(e: &CallError) -> OpResult {
    if let ScimError::CircuitOpen { .. } = e.error {
        return OpResult::Skipped {
            reason: e.error.to_string(),
        };
    }
    OpResult::Failed {
        status: e.error.status(),
        code: e.error.code().map(str::to_string),
        message: e.error.to_string(),
    }
}

/// A user write Slack refused because the organisation has all the custom profile fields it
/// may (FACTS §2.8), said plainly and naming the attributes whose fields Slack could not
/// create: the one Slack names (`field=City`), else every custom-profile attribute the write
/// sets. Any other result is left as it is.
fn explain_profile_fields(result: OpResult, fields: &UserFields) -> OpResult {
    let OpResult::Failed {
        status,
        code: Some(code),
        message,
    } = result
    else {
        return result;
    };
    if code != ErrorCode::UnableToCreateTeamProfileFields.as_str() {
        return OpResult::Failed {
            status,
            code: Some(code),
            message,
        };
    }
    let sent = fields
        .text
        .iter()
        .filter(|(_, v)| v.is_some())
        .map(|(a, _)| *a);
    let sent: Vec<Attribute> = sent
        .chain(fields.manager.iter().flatten().map(|_| Attribute::Manager))
        .filter(|a| a.profile_field().is_some())
        .collect();
    let named: Vec<Attribute> = sent
        .iter()
        .copied()
        .filter(|a| {
            a.profile_field()
                .is_some_and(|f| message.contains(&format!("field={f})")))
        })
        .collect();
    let which = if named.is_empty() { sent } else { named };
    let names: Vec<String> = which
        .iter()
        .map(|a| format!("{a} (\"{}\")", a.profile_field().unwrap_or_default()))
        .collect();
    OpResult::Failed {
        status,
        code: Some(code),
        message: format!(
            "the organisation has the {} custom profile fields Slack allows: Slack cannot create the field of {}; remove unused custom profile fields in Slack's admin settings, or set the attribute to `ignore` ({message})",
            crate::model::CUSTOM_PROFILE_FIELD_LIMIT,
            names.join(", ")
        ),
    }
}

fn id_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// Applies `plan` with at most `concurrency` ops in flight per endpoint.
pub async fn execute(
    plan: &Plan,
    caller: &Caller,
    concurrency: usize,
    audit: Option<Arc<AuditLog>>,
) -> Outcome {
    execute_with(plan, caller, concurrency, audit, Controls::default()).await
}

/// Whether each op applied, published once it is known, for the ops that wait on it.
type Done = watch::Sender<Option<bool>>;

/// As [`execute`], and once `stop` is stopping no further op starts (those in flight finish):
/// the front ends' graceful shutdown.
pub async fn execute_until(
    plan: &Plan,
    caller: &Caller,
    concurrency: usize,
    audit: Option<Arc<AuditLog>>,
    stop: Shutdown,
) -> Outcome {
    let controls = Controls {
        stop,
        progress: None,
    };
    execute_with(plan, caller, concurrency, audit, controls).await
}

/// What a front end holds on a running apply.
#[derive(Debug, Clone, Default)]
pub struct Controls {
    /// Once it is stopping, no further op starts; those in flight finish (graceful shutdown,
    /// Ctrl-C).
    pub stop: Shutdown,
    /// Counted as each op ends, for a progress bar or progress log lines.
    pub progress: Option<Arc<Progress>>,
}

/// As [`execute`], with a stop handle and a progress handle.
pub async fn execute_with(
    plan: &Plan,
    caller: &Caller,
    concurrency: usize,
    audit: Option<Arc<AuditLog>>,
    controls: Controls,
) -> Outcome {
    if let Some(p) = &controls.progress {
        let mut lanes = [0; progress::LANES];
        for op in &plan.ops {
            lanes[lane_index(op)] += 1;
        }
        p.start(lanes);
    }
    let ex = Arc::new(Execution {
        version: caller.client.version(),
        caller: caller.clone(),
        created: Mutex::new(HashMap::new()),
        resource_locks: Mutex::new(HashMap::new()),
        audit,
        lanes: plan
            .ops
            .iter()
            .map(|op| (lane(op), Semaphore::new(concurrency.max(1))))
            .collect(),
        stop: controls.stop,
        progress: controls.progress,
    });
    let rate_limited_before = caller.limits.rate_limited();
    let waited_before = caller.limits.waited();
    let mut results: Vec<Option<OpOutcome>> = vec![None; plan.ops.len()];
    let (senders, receivers): (Vec<Done>, Vec<_>) = (0..plan.ops.len())
        .map(|_| watch::channel::<Option<bool>>(None))
        .unzip();
    let senders: Vec<Arc<Done>> = senders.into_iter().map(Arc::new).collect();

    // Every op is a task from the start; each waits for its own dependencies and then for its
    // lane, so one endpoint's backlog never holds up another's. Within a lane, the ops that
    // are ready start in the order their tasks reach the lane's semaphore, not necessarily in
    // plan order: every order that matters is an edge (`after`).
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (op, waits)) in plan.ops.iter().zip(waits(plan)).enumerate() {
        let waits = match waits {
            Ok(waits) => waits
                .iter()
                .map(|&d| Wait {
                    who: plan.ops[d].subject().to_string(),
                    done: receivers[d].clone(),
                    skips: crate::plan::order::skipped_with(&op.op, &plan.ops[d].op),
                })
                .collect(),
            Err(bad) => {
                let _ = senders[i].send(Some(false));
                results[i] = Some(outcome_of(
                    op,
                    OpResult::Skipped {
                        reason: format!(
                            "the plan is malformed: it waits for op {bad}, which does not come \
                             before it"
                        ),
                    },
                ));
                continue;
            }
        };
        let task = run_op(ex.clone(), op.clone(), waits, senders[i].clone());
        tasks.spawn(async move { (i, task.await) });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((i, outcome)) => results[i] = Some(outcome),
            Err(e) => tracing::error!(error = %e, "an apply task panicked"),
        }
    }
    Outcome {
        ops: results
            .into_iter()
            .zip(&plan.ops)
            .map(|(r, op)| {
                r.unwrap_or_else(|| {
                    outcome_of(
                        op,
                        OpResult::Failed {
                            status: None,
                            code: None,
                            message: "internal error: the op did not finish".into(),
                        },
                    )
                })
            })
            .collect(),
        rate_limited: caller.limits.rate_limited() - rate_limited_before,
        waited: caller.limits.waited().saturating_sub(waited_before),
    }
}

/// The outcome of an op that was not sent (or did not finish).
fn outcome_of(op: &Op, result: OpResult) -> OpOutcome {
    OpOutcome {
        kind: op.kind(),
        subject: op.subject().to_string(),
        resource: op.resource_id().map(str::to_string),
        result,
    }
}

/// An op another waits for: its subject, whether it applied once known, and whether the
/// waiter is skipped when it did not ([`crate::plan::order::skipped_with`]).
struct Wait {
    who: String,
    done: watch::Receiver<Option<bool>>,
    skips: bool,
}

/// One op's life: wait for the ops it comes after, then apply it unless one of them failed or
/// the apply is stopping; audit it; tell the ops waiting on it.
async fn run_op(ex: Arc<Execution>, op: PlannedOp, waits: Vec<Wait>, done: Arc<Done>) -> OpOutcome {
    let mut blocked = None;
    for Wait {
        who,
        mut done,
        skips,
    } in waits
    {
        let ok = matches!(
            done.wait_for(Option::is_some).await.as_deref(),
            Ok(Some(true))
        );
        if !ok && skips {
            blocked = Some(who);
            break;
        }
    }
    let outcome = match blocked {
        Some(who) => outcome_of(
            &op,
            OpResult::Skipped {
                reason: format!("it depends on the change to {who}, which did not apply"),
            },
        ),
        None => {
            let _permit = ex.lanes[&lane(&op)].acquire().await.expect("never closed");
            if ex.stop.is_stopping() {
                outcome_of(
                    &op,
                    OpResult::Skipped {
                        reason: STOPPED.into(),
                    },
                )
            } else {
                apply_one(&ex, &op).await
            }
        }
    };
    if let Some(audit) = &ex.audit
        && !matches!(outcome.result, OpResult::Skipped { .. })
    {
        audit.record(&op, &outcome);
    }
    if let Some(p) = &ex.progress {
        p.record(lane_index(&op), outcome.result.label());
    }
    let _ = done.send(Some(outcome.result.exists()));
    outcome
}

async fn apply_one(ex: &Execution, op: &Op) -> OpOutcome {
    let lock_key = match op {
        Op::CreateUser { email, .. } => format!("new-user:{}", email_key(email)),
        Op::CreateGroup { name, .. } => format!("new-group:{}", name.to_lowercase()),
        other => other.resource_id().unwrap_or_default().to_string(),
    };
    let lock = ex.resource_lock(&lock_key);
    let _held = lock.lock().await;
    let span = tracing::info_span!("op", kind = op.kind().as_str(), resource = op.resource_id());
    let outcome = apply_unlocked(ex, op).instrument(span.clone()).await;
    match &outcome.result {
        OpResult::Failed { code, message, .. } => {
            span.in_scope(|| tracing::warn!(code = code.as_deref(), error = %message, "op failed"))
        }
        _ => span.in_scope(|| tracing::debug!("op applied")),
    }
    outcome
}

async fn apply_unlocked(ex: &Execution, op: &Op) -> OpOutcome {
    let (resource, result) = match op {
        Op::CreateUser {
            email,
            user_name,
            fields,
            ..
        } => {
            let (id, result) = create_user(ex, email, user_name, fields).await;
            (id, explain_profile_fields(result, fields))
        }
        Op::UpdateUser { id, fields, .. } => {
            let (id, result) = update_user(ex, id, fields).await;
            (id, explain_profile_fields(result, fields))
        }
        Op::DeactivateUser { id, .. } => delete(ex, Endpoint::UserDelete, "Users", id).await,
        Op::CreateGroup { name, members, .. } => create_group(ex, name, members).await,
        Op::UpdateGroup {
            id,
            rename,
            add,
            remove,
            ..
        } => update_group(ex, id, rename.as_deref(), add, remove).await,
        Op::DeleteGroup { id, .. } => delete(ex, Endpoint::GroupDelete, "Groups", id).await,
    };
    OpOutcome {
        kind: op.kind(),
        subject: op.subject().to_string(),
        resource,
        result,
    }
}

/// The custom profile values a create sent that Slack's answer lacks (FACTS TL;DR 7: Slack
/// drops them all, silently, when one is invalid). An answer that is no user body tells
/// nothing, so nothing is taken as dropped.
fn dropped_profile(body: &[u8], fields: &UserFields, manager_sent: bool) -> Vec<Attribute> {
    let Some(answer) = serde_json::from_slice::<crate::scim::types::User>(body)
        .ok()
        .and_then(|u| crate::scim::live::LiveUser::from_scim(&u))
    else {
        return Vec::new();
    };
    let mut dropped: Vec<Attribute> = fields
        .text
        .iter()
        .filter(|(a, v)| {
            v.is_some() && a.scim().is_some_and(|s| s.custom) && answer.text(**a).is_none()
        })
        .map(|(a, _)| *a)
        .collect();
    if manager_sent && answer.manager_id.is_none() {
        dropped.push(Attribute::Manager);
    }
    dropped
}

/// PATCHes an existing account; a manager this apply was to create but did not is left out
/// and noted.
async fn update_user(ex: &Execution, id: &str, fields: &UserFields) -> (Option<String>, OpResult) {
    let mut note = None;
    let manager = match &fields.manager {
        Some(Some(r)) => match ex.resolve(r) {
            Some(m) => Some(Some(m)),
            None => {
                note = Some("manager not set: not created".to_string());
                None
            }
        },
        Some(None) => Some(None),
        None => None,
    };
    let result = match patch_user(ex, id, fields, manager.clone()).await {
        Ok(()) => OpResult::Applied { note },
        Err(e) if e.error.status() == Some(400) => match split::units(fields) {
            units if units.is_empty() => failed(&e),
            units => update_unit_by_unit(ex, id, &units, manager, note).await,
        },
        Err(e) => failed(&e),
    };
    (Some(id.to_string()), result)
}

async fn patch_user(
    ex: &Execution,
    id: &str,
    fields: &UserFields,
    manager: Option<Option<String>>,
) -> Result<(), CallError> {
    let body = write::update_user(ex.version, fields, manager);
    ex.caller
        .call(
            Endpoint::UserUpdate,
            Method::PATCH,
            &format!("Users/{id}"),
            Some(&body),
        )
        .await
        .map(|_| ())
}

/// An update Slack refused whole, sent again one write unit at a time ([`split`]): the
/// values Slack takes are written, and the op fails with Slack's answer to the first unit
/// it refuses, naming what it refused and what applied.
async fn update_unit_by_unit(
    ex: &Execution,
    id: &str,
    units: &[UserFields],
    manager: Option<Option<String>>,
    note: Option<String>,
) -> OpResult {
    let mut applied = Vec::new();
    let mut refused = Vec::new();
    let mut first = None;
    for unit in units {
        if unit.manager.is_some() && manager.is_none() {
            continue; // a manager not created: left out, and noted
        }
        let manager = unit.manager.as_ref().and(manager.clone());
        match patch_user(ex, id, unit, manager).await {
            Ok(()) => applied.extend(split::names(unit)),
            Err(e) => {
                refused.extend(split::names(unit));
                first.get_or_insert(failed(&e));
            }
        }
    }
    match first {
        None => OpResult::Applied {
            note: Some(note.map_or_else(
                || "sent one attribute at a time after Slack refused them together".to_string(),
                |n| format!("{n}; sent one attribute at a time"),
            )),
        },
        Some(OpResult::Failed {
            status,
            code,
            message,
        }) => OpResult::Failed {
            status,
            code,
            message: format!(
                "Slack refused {} ({message}); applied one at a time: {}",
                refused.join(", "),
                if applied.is_empty() {
                    "nothing".to_string()
                } else {
                    applied.join(", ")
                }
            ),
        },
        Some(other) => other,
    }
}

/// `DELETE {resource}/{id}`: deactivates a user or deletes a group.
async fn delete(
    ex: &Execution,
    endpoint: Endpoint,
    resource: &str,
    id: &str,
) -> (Option<String>, OpResult) {
    let r = ex
        .caller
        .call(endpoint, Method::DELETE, &format!("{resource}/{id}"), None)
        .await;
    (
        Some(id.to_string()),
        match r {
            Ok(_) => OpResult::Applied { note: None },
            Err(e) => failed(&e),
        },
    )
}

/// Renames a group and changes its members; members this apply was to create but did not are
/// left out and noted.
async fn update_group(
    ex: &Execution,
    id: &str,
    rename: Option<&str>,
    add: &[UserRef],
    remove: &[String],
) -> (Option<String>, OpResult) {
    let adds: Vec<String> = add.iter().filter_map(|r| ex.resolve(r)).collect();
    let missing = add.len() - adds.len();
    let result = patch_group(ex, id, rename, &adds, remove).await;
    (
        Some(id.to_string()),
        match result {
            Ok(()) if missing > 0 => OpResult::Applied {
                note: Some(format!("{missing} member(s) not added: not created")),
            },
            Ok(()) => OpResult::Applied { note: None },
            Err(e) => failed(&e),
        },
    )
}

async fn create_user(
    ex: &Execution,
    email: &str,
    user_name: &str,
    fields: &UserFields,
) -> (Option<String>, OpResult) {
    let mut note = None;
    let manager = match &fields.manager {
        Some(Some(r)) => match ex.resolve(r) {
            Some(id) => Some(Some(id)),
            None => {
                note = Some("manager not set: not created".to_string());
                None
            }
        },
        _ => None,
    };
    let manager_sent = matches!(manager, Some(Some(_)));
    let body = write::create_user(ex.version, email, user_name, fields, manager);
    match ex
        .caller
        .call(Endpoint::UserCreate, Method::POST, "Users", Some(&body))
        .await
    {
        Ok((reply, _)) => {
            let id = id_of(&reply.body);
            if let Some(id) = &id {
                ex.created
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(email_key(email), id.clone());
            }
            let dropped = dropped_profile(&reply.body, fields, manager_sent);
            if dropped.is_empty() {
                (id, OpResult::Applied { note })
            } else {
                (id, OpResult::ProfileDropped { dropped })
            }
        }
        // The create timed out or its connection dropped, was retried, and the retry found
        // the address taken: most likely by this very create. Adopt the account if it is the
        // same person, so a retried create never duplicates.
        Err(e) if e.attempts > 1 && e.error.error_code().is_some_and(ErrorCode::is_taken) => {
            match find_user(ex, email).await.as_deref() {
                Ok([u])
                    if u.user_name
                        .value()
                        .is_some_and(|n| user_name_key(n) == user_name_key(user_name)) =>
                {
                    let id = u.id.value().cloned();
                    if let Some(id) = &id {
                        ex.created
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .insert(email_key(email), id.clone());
                    }
                    (
                        id,
                        OpResult::Applied {
                            note: Some("created by an earlier attempt; adopted".into()),
                        },
                    )
                }
                Ok(many) if many.len() > 1 => (
                    None,
                    not_adopted(format!(
                        "the create's answer was lost and {} accounts have the email {:?}: not \
                         adopted; the next pass decides",
                        many.len(),
                        email.trim()
                    )),
                ),
                _ => (None, failed(&e)),
            }
        }
        Err(e) => (None, failed(&e)),
    }
}

/// How long a lookup after a lost reply keeps asking: Slack's reads lag its writes by seconds
/// (FACTS TL;DR 16; Slack's own tests poll for up to 10 s).
const LOOKUP_PATIENCE: Duration = Duration::from_secs(12);

/// Every resource of the first filtered listing that holds any satisfying `wanted` (the rest
/// of the answer — what Slack's case-insensitive `eq` adds — is left out), asking again with a
/// growing pause for up to [`LOOKUP_PATIENCE`] while the answer may lag a write: empty if none
/// came. An error names why the listing could not be had or read.
async fn find<T: serde::de::DeserializeOwned>(
    ex: &Execution,
    endpoint: Endpoint,
    resource: &str,
    filter: &str,
    wanted: impl Fn(&T) -> bool,
) -> Result<Vec<T>, String> {
    let query = serde_urlencoded::to_string([("filter", filter)]).map_err(|e| e.to_string())?;
    let path = format!("{resource}?{query}");
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        let (reply, _) = ex
            .caller
            .call(endpoint, Method::GET, &path, None)
            .await
            .map_err(|e| e.error.to_string())?;
        let page: ListResponse<T> = serde_json::from_slice(&reply.body)
            .map_err(|e| format!("Slack's answer could not be read: {e}"))?;
        let found: Vec<T> = page
            .resources
            .into_value()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| wanted(r))
            .collect();
        if !found.is_empty() || started.elapsed() + pause > LOOKUP_PATIENCE {
            return Ok(found);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(3));
    }
}

/// The accounts whose email is `email` (compared as Slack compares emails). The filter's value
/// is escaped ([`write::filter_value`]).
async fn find_user(ex: &Execution, email: &str) -> Result<Vec<User>, String> {
    let filter = format!("email eq {}", write::filter_value(email.trim()));
    find(ex, Endpoint::UsersList, "Users", &filter, |u: &User| {
        u.emails.value().into_iter().flatten().any(|e| {
            e.value
                .value()
                .is_some_and(|v| email_key(v) == email_key(email))
        })
    })
    .await
}

/// The code an op carries when Slack may or may not have applied it (its answer was lost and
/// no listing showed the result): the memory holds such a group create back instead of
/// sending it again (`crate::memory`), until a listing shows the group or the hold ends.
pub const OUTCOME_UNKNOWN: &str = "outcome_unknown";

/// The ids of the groups named exactly `name` (trimmed; Slack's names compare so, adoption
/// does not ignore case), from a full listing of the groups — the documented way to read them
/// (FACTS: Slack documents no `/Groups` filter) — asked again with a growing pause for up to
/// [`LOOKUP_PATIENCE`] while none shows (reads lag writes). An error names why the listing
/// could not be had.
async fn groups_named(ex: &Execution, name: &str) -> Result<Vec<Option<String>>, String> {
    let name = name.trim();
    let started = std::time::Instant::now();
    let mut pause = Duration::from_millis(250);
    loop {
        let found: Vec<Option<String>> = ex
            .caller
            .list_groups()
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|g| g.display_name.value().is_some_and(|n| n.trim() == name))
            .map(|g| g.id.value().cloned())
            .collect();
        if !found.is_empty() || started.elapsed() + pause > LOOKUP_PATIENCE {
            return Ok(found);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(3));
    }
}

/// Why an op whose create lost its answer is not adopting what a lookup found.
fn not_adopted(message: String) -> OpResult {
    OpResult::Failed {
        status: None,
        code: None,
        message,
    }
}

/// Whether the create may have landed though nobody can tell yet: failed with
/// [`OUTCOME_UNKNOWN`], never sent again this pass.
fn unknown(message: String) -> OpResult {
    OpResult::Failed {
        status: None,
        code: Some(OUTCOME_UNKNOWN.into()),
        message,
    }
}

/// After a group create lost its answer (`cause`): the id of the one group named exactly
/// `name` that a listing shows, adopted. Never `Err` to send again: a listing that shows none
/// (the create did not land, or reads lag) or that failed leaves the outcome unknown — the op
/// fails and the memory holds the create back ([`OUTCOME_UNKNOWN`]); two or more such groups
/// (the plan's listing showed none: they appeared during the apply) are a failure saying so.
async fn adoptable_group(ex: &Execution, name: &str, cause: &str) -> Result<String, OpResult> {
    let found = groups_named(ex, name).await.map_err(|e| {
        unknown(format!(
            "the create's answer was lost ({cause}) and listing the groups failed ({e}): it may \
             have landed; not sent again, the next pass decides from its listing"
        ))
    })?;
    match found.as_slice() {
        [] => Err(unknown(format!(
            "the create's answer was lost ({cause}) and the groups' listing does not show \
             {name:?} after {} s: it may have landed (Slack's reads lag); not sent again, the \
             next pass decides from its listing",
            LOOKUP_PATIENCE.as_secs()
        ))),
        [Some(one)] => Ok(one.clone()),
        [None] => Err(not_adopted(format!(
            "the create's answer was lost and the group named {name:?} Slack shows has no id: \
             not adopted; the next pass decides"
        ))),
        many => Err(not_adopted(format!(
            "{} groups named {name:?} appeared during the apply (the plan's listing showed none): \
             Slack holds duplicates, not adopted; merge them by hand, or delete all but one",
            many.len()
        ))),
    }
}

/// Creates a group, sent once: a create whose answer was lost (a timeout, a dropped
/// connection) is never sent again ([`send_group_create`] repeats only one Slack answered
/// with a 5xx), since Slack may accept a second group of the same
/// name; a listing of the groups adopts it if it shows, else the op fails with its outcome
/// unknown ([`adoptable_group`]). Members this apply was to create but did not are left out
/// and noted: the next pass adds them once they exist.
async fn create_group(
    ex: &Execution,
    name: &str,
    members: &[UserRef],
) -> (Option<String>, OpResult) {
    let ids: Vec<String> = members.iter().filter_map(|r| ex.resolve(r)).collect();
    let missing = members.len() - ids.len();
    let (first, rest) = ids.split_at(ids.len().min(write::MEMBERSHIP_CHUNK));
    let body = write::create_group(ex.version, name, first);
    let (id, adopted) = match send_group_create(ex, &body).await {
        Ok(id) => (id, false),
        Err(e) if e.error.is_transient() && e.error.status().is_none() => {
            match adoptable_group(ex, name, &e.error.to_string()).await {
                Ok(found) => (Some(found), true),
                Err(result) => return (None, result),
            }
        }
        Err(e) => return (None, failed(&e)),
    };
    let Some(id) = id else {
        return (
            None,
            OpResult::Failed {
                status: None,
                code: None,
                message: "Slack created the group but its answer had no id".into(),
            },
        );
    };
    // An adopted group gets its first members now; then the rest, in chunks.
    let remaining: &[String] = if adopted { &ids } else { rest };
    if let Err(e) = patch_group(ex, &id, None, remaining, &[]).await {
        return (Some(id), failed(&e));
    }
    let mut notes = Vec::new();
    if adopted {
        notes.push("created by an earlier attempt; adopted".to_string());
    }
    if missing > 0 {
        notes.push(format!("{missing} member(s) not added: not created"));
    }
    let note = (!notes.is_empty()).then(|| notes.join("; "));
    (Some(id), OpResult::Applied { note })
}

/// Sends a group create, again only after Slack answered it with a 5xx (its answer: nothing
/// was created), with the caller's backoff, as many times as its policy allows. A create that
/// got no answer (a timeout, a dropped connection) is never sent again: its error is returned
/// for [`adoptable_group`]. On success, the new group's id.
async fn send_group_create(ex: &Execution, body: &Value) -> Result<Option<String>, CallError> {
    let mut once = ex.caller.clone();
    once.policy.max_attempts = 1;
    let mut attempt = 1;
    loop {
        match once
            .call(Endpoint::GroupCreate, Method::POST, "Groups", Some(body))
            .await
        {
            Ok((reply, _)) => return Ok(id_of(&reply.body)),
            Err(e)
                if e.error.status().is_some_and(|s| s >= 500)
                    && attempt < ex.caller.policy.max_attempts =>
            {
                tokio::time::sleep(ex.caller.backoff(attempt)).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

async fn patch_group(
    ex: &Execution,
    id: &str,
    rename: Option<&str>,
    add: &[String],
    remove: &[String],
) -> Result<(), CallError> {
    for body in write::update_group(ex.version, rename, add, remove) {
        ex.caller
            .call(
                Endpoint::GroupUpdate,
                Method::PATCH,
                &format!("Groups/{id}"),
                Some(&body),
            )
            .await?;
    }
    Ok(())
}
