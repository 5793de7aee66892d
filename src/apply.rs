//! The executor: applies a [`Plan`] to Slack, making one attempt per op (with retries only for
//! what is transient) and returning every op's result together (the omicron shape).
//!
//! Order (DESIGN §5): user creates, reactivations, renames and attribute updates — each after
//! the ops it depends on (an email or userName released before it is taken; a manager created
//! before their reports point at them) — then group creates and membership changes, then
//! deactivations, then group deletions. Within a phase ops run concurrently, bounded, and never
//! two at once on one resource. One rejected op is reported with Slack's error code and skipped;
//! the ops that depend on it are skipped too; the rest applies.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use crate::model::Attribute;
use crate::plan::{Change, Op, Plan, UserRef};
use crate::scim::limits::Endpoint;
use crate::scim::retry::{CallError, Caller};
use crate::scim::types::{Group, ListResponse, User};
use crate::scim::{Version, write};
use crate::slack_rules::{email_key, user_name_key};

/// What happened to one op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum OpResult {
    Applied {
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Failed {
        #[serde(skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// Slack's error code (`email_taken`, …).
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<String>,
        message: String,
    },
    Skipped {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct OpOutcome {
    pub kind: &'static str,
    /// The email or group name the op is about.
    pub subject: String,
    /// The Slack id written to (for creates, the new id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(flatten)]
    pub result: OpResult,
}

/// Every op's result, in plan order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub ops: Vec<OpOutcome>,
    /// 429 answers met (and waited out) during the apply.
    pub rate_limited: u64,
    /// Time requests spent waiting for the rate limiter.
    #[serde(skip)]
    pub waited: Duration,
}

impl Outcome {
    pub fn applied(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Applied { .. }))
    }

    pub fn failed(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Failed { .. }))
    }

    pub fn skipped(&self) -> usize {
        self.count(|r| matches!(r, OpResult::Skipped { .. }))
    }

    fn count(&self, f: impl Fn(&OpResult) -> bool) -> usize {
        self.ops.iter().filter(|o| f(&o.result)).count()
    }

    /// Whether every op applied.
    pub fn complete(&self) -> bool {
        self.applied() == self.ops.len()
    }

    /// The itemised report: a summary line, then every op that did not apply.
    pub fn render(&self) -> String {
        let mut s = format!(
            "Applied {} of {} changes: {} failed, {} skipped.",
            self.applied(),
            self.ops.len(),
            self.failed(),
            self.skipped()
        );
        if self.rate_limited > 0 {
            s.push_str(&format!(" ({} rate-limit pauses)", self.rate_limited));
        }
        s.push('\n');
        for o in &self.ops {
            let id = o
                .resource
                .as_deref()
                .map(|r| format!(" {r}"))
                .unwrap_or_default();
            match &o.result {
                OpResult::Applied { .. } => {}
                OpResult::Failed {
                    status,
                    code,
                    message,
                } => s.push_str(&format!(
                    "✗ {:<16} {}{id}: {}{}\n",
                    o.kind,
                    o.subject,
                    code.as_deref().unwrap_or("error"),
                    status
                        .map(|st| format!(" (HTTP {st}): {message}"))
                        .unwrap_or_else(|| format!(": {message}"))
                )),
                OpResult::Skipped { reason } => s.push_str(&format!(
                    "- {:<16} {}{id}: skipped, {reason}\n",
                    o.kind, o.subject
                )),
            }
        }
        s
    }
}

/// The append-only audit log: one JSON line per write. Holds no secret: the token never
/// reaches this module.
pub struct AuditLog {
    file: Mutex<std::fs::File>,
    path: PathBuf,
}

#[derive(Serialize)]
struct AuditLine<'a> {
    time: String,
    op: &'a str,
    subject: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    changes: &'a [Change],
    #[serde(flatten)]
    outcome: &'a OpResult,
}

impl AuditLog {
    pub fn open(path: &Path) -> std::io::Result<AuditLog> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        Ok(AuditLog {
            file: Mutex::new(file),
            path: path.to_path_buf(),
        })
    }

    fn record(&self, op: &Op, outcome: &OpOutcome) {
        let changes: &[Change] = match op {
            Op::UpdateUser { changes, .. } => changes,
            _ => &[],
        };
        let line = AuditLine {
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            op: outcome.kind,
            subject: &outcome.subject,
            resource: outcome.resource.as_deref(),
            changes,
            outcome: &outcome.result,
        };
        let mut text = serde_json::to_string(&line).expect("audit lines serialise");
        text.push('\n');
        let mut file = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = file.write_all(text.as_bytes()).and_then(|()| file.flush()) {
            tracing::error!(path = %self.path.display(), error = %e, "cannot write the audit log");
        }
    }
}

/// Which phase an op runs in; phases run one after the other.
fn phase(op: &Op) -> u8 {
    match op {
        Op::CreateUser { .. } | Op::UpdateUser { .. } => 0,
        Op::CreateGroup { .. } | Op::UpdateGroup { .. } => 1,
        Op::DeactivateUser { .. } => 2,
        Op::DeleteGroup { .. } => 3,
    }
}

fn subject(op: &Op) -> String {
    match op {
        Op::CreateUser { email, .. }
        | Op::UpdateUser { email, .. }
        | Op::DeactivateUser { email, .. } => email.clone(),
        Op::CreateGroup { name, .. }
        | Op::UpdateGroup { name, .. }
        | Op::DeleteGroup { name, .. } => name.clone(),
    }
}

/// For each op, the earlier ops it must wait for: the release of every email or userName it
/// takes, and the create of every new user it refers to.
pub fn dependencies(plan: &Plan) -> Vec<Vec<usize>> {
    let mut releases: HashMap<String, usize> = HashMap::new();
    let mut creates: HashMap<String, usize> = HashMap::new();
    let mut deps = vec![Vec::new(); plan.ops.len()];
    let new_refs = |r: &UserRef| match r {
        UserRef::New(k) => Some(k.clone()),
        UserRef::Id(_) => None,
    };
    for (i, op) in plan.ops.iter().enumerate() {
        let mut takes: Vec<String> = Vec::new();
        let mut refers: Vec<String> = Vec::new();
        match op {
            Op::CreateUser {
                email,
                user_name,
                fields,
                ..
            } => {
                takes.push(format!("email:{}", email_key(email)));
                takes.push(format!("user:{}", user_name_key(user_name)));
                if let Some(Some(m)) = &fields.manager {
                    refers.extend(new_refs(m));
                }
            }
            Op::UpdateUser { fields, .. } => {
                if let Some(new) = &fields.email {
                    takes.push(format!("email:{}", email_key(new)));
                }
                if let Some(new) = &fields.user_name {
                    takes.push(format!("user:{}", user_name_key(new)));
                }
                if let Some(Some(m)) = &fields.manager {
                    refers.extend(new_refs(m));
                }
            }
            Op::CreateGroup { members, .. } => refers.extend(members.iter().filter_map(new_refs)),
            Op::UpdateGroup { add, .. } => refers.extend(add.iter().filter_map(new_refs)),
            _ => {}
        }
        for k in takes {
            if let Some(&j) = releases.get(&k) {
                deps[i].push(j);
            }
        }
        for k in refers {
            if let Some(&j) = creates.get(&k) {
                deps[i].push(j);
            }
        }
        // Record what this op releases and creates, for later ops.
        match op {
            Op::CreateUser { email, .. } => {
                creates.insert(email_key(email), i);
            }
            Op::UpdateUser {
                email,
                fields,
                changes,
                ..
            } => {
                if fields.email.is_some() {
                    releases.insert(format!("email:{}", email_key(email)), i);
                }
                if fields.user_name.is_some()
                    && let Some(old) = changes
                        .iter()
                        .find(|c| c.attribute == Attribute::UserName)
                        .and_then(|c| c.from.as_deref())
                {
                    releases.insert(format!("user:{}", user_name_key(old)), i);
                }
            }
            _ => {}
        }
    }
    deps
}

/// Shared state of one apply.
struct Run {
    caller: Caller,
    version: Version,
    /// Email key → id of users created by this apply.
    created: Mutex<HashMap<String, String>>,
    /// One write at a time per resource.
    resource_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    audit: Option<Arc<AuditLog>>,
}

impl Run {
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
    OpResult::Failed {
        status: e.error.status(),
        code: e.error.code().map(str::to_string),
        message: e.error.to_string(),
    }
}

fn id_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body)
        .ok()?
        .get("id")?
        .as_str()
        .map(str::to_string)
}

/// Applies `plan` with at most `concurrency` requests in flight.
pub async fn execute(
    plan: &Plan,
    caller: &Caller,
    concurrency: usize,
    audit: Option<Arc<AuditLog>>,
) -> Outcome {
    execute_until(plan, caller, concurrency, audit, None).await
}

/// As [`execute`], and once `stop` is set no further op starts (those in flight finish): the
/// daemon's graceful shutdown.
pub async fn execute_until(
    plan: &Plan,
    caller: &Caller,
    concurrency: usize,
    audit: Option<Arc<AuditLog>>,
    stop: Option<Arc<AtomicBool>>,
) -> Outcome {
    let run = Arc::new(Run {
        version: caller.client.version(),
        caller: caller.clone(),
        created: Mutex::new(HashMap::new()),
        resource_locks: Mutex::new(HashMap::new()),
        audit,
    });
    let rate_limited_before = caller.limits.rate_limited();
    let waited_before = caller.limits.waited();
    let deps = dependencies(plan);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut results: Vec<Option<OpOutcome>> = vec![None; plan.ops.len()];
    let (senders, receivers): (Vec<_>, Vec<_>) = (0..plan.ops.len())
        .map(|_| watch::channel::<Option<bool>>(None))
        .unzip();
    let senders: Vec<Arc<watch::Sender<Option<bool>>>> =
        senders.into_iter().map(Arc::new).collect();

    for p in 0..=3u8 {
        let mut tasks = tokio::task::JoinSet::new();
        for (i, op) in plan.ops.iter().enumerate().filter(|(_, op)| phase(op) == p) {
            let op = op.clone();
            let run = run.clone();
            let permits = permits.clone();
            let done = senders[i].clone();
            let waits: Vec<(usize, watch::Receiver<Option<bool>>)> =
                deps[i].iter().map(|&d| (d, receivers[d].clone())).collect();
            let subjects: Vec<String> = deps[i].iter().map(|&d| subject(&plan.ops[d])).collect();
            let stop = stop.clone();
            tasks.spawn(async move {
                let mut blocked = None;
                for ((_, mut rx), who) in waits.into_iter().zip(subjects) {
                    let ok = match rx.wait_for(Option::is_some).await {
                        Ok(v) => v.unwrap_or(false),
                        Err(_) => false,
                    };
                    if !ok {
                        blocked = Some(who);
                        break;
                    }
                }
                let outcome = match blocked {
                    Some(who) => OpOutcome {
                        kind: op.kind(),
                        subject: subject(&op),
                        resource: op.resource_id().map(str::to_string),
                        result: OpResult::Skipped {
                            reason: format!(
                                "it depends on the change to {who}, which did not apply"
                            ),
                        },
                    },
                    None => {
                        let _permit = permits.acquire().await.expect("never closed");
                        if stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst)) {
                            OpOutcome {
                                kind: op.kind(),
                                subject: subject(&op),
                                resource: op.resource_id().map(str::to_string),
                                result: OpResult::Skipped {
                                    reason: "scimsync is shutting down".into(),
                                },
                            }
                        } else {
                            apply_one(&run, &op).await
                        }
                    }
                };
                if let Some(audit) = &run.audit
                    && !matches!(outcome.result, OpResult::Skipped { .. })
                {
                    audit.record(&op, &outcome);
                }
                let ok = matches!(outcome.result, OpResult::Applied { .. });
                let _ = done.send(Some(ok));
                (i, outcome)
            });
        }
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, outcome)) => results[i] = Some(outcome),
                Err(e) => tracing::error!(error = %e, "an apply task panicked"),
            }
        }
    }
    Outcome {
        ops: results
            .into_iter()
            .zip(&plan.ops)
            .map(|(r, op)| {
                r.unwrap_or_else(|| OpOutcome {
                    kind: op.kind(),
                    subject: subject(op),
                    resource: op.resource_id().map(str::to_string),
                    result: OpResult::Failed {
                        status: None,
                        code: None,
                        message: "internal error: the op did not finish".into(),
                    },
                })
            })
            .collect(),
        rate_limited: caller.limits.rate_limited() - rate_limited_before,
        waited: caller.limits.waited().saturating_sub(waited_before),
    }
}

async fn apply_one(run: &Run, op: &Op) -> OpOutcome {
    let lock_key = match op {
        Op::CreateUser { email, .. } => format!("new-user:{}", email_key(email)),
        Op::CreateGroup { name, .. } => format!("new-group:{}", name.to_lowercase()),
        other => other.resource_id().unwrap_or_default().to_string(),
    };
    let lock = run.resource_lock(&lock_key);
    let _held = lock.lock().await;
    let span = tracing::info_span!("op", kind = op.kind(), resource = op.resource_id());
    let outcome = apply_unlocked(run, op).instrument(span.clone()).await;
    match &outcome.result {
        OpResult::Failed { code, message, .. } => {
            span.in_scope(|| tracing::warn!(code = code.as_deref(), %message, "op failed"))
        }
        _ => span.in_scope(|| tracing::debug!("op applied")),
    }
    outcome
}

async fn apply_unlocked(run: &Run, op: &Op) -> OpOutcome {
    let (resource, result) = match op {
        Op::CreateUser {
            email,
            user_name,
            fields,
            ..
        } => create_user(run, email, user_name, fields).await,
        Op::UpdateUser { id, fields, .. } => {
            let mut note = None;
            let manager = match &fields.manager {
                Some(Some(r)) => match run.resolve(r) {
                    Some(m) => Some(Some(m)),
                    None => {
                        note = Some("manager not set: not created".to_string());
                        None
                    }
                },
                Some(None) => Some(None),
                None => None,
            };
            let body = write::update_user(run.version, fields, manager);
            let r = run
                .caller
                .call(
                    Endpoint::UserUpdate,
                    Method::PATCH,
                    &format!("Users/{id}"),
                    Some(&body),
                )
                .await;
            (
                Some(id.clone()),
                match r {
                    Ok(_) => OpResult::Applied { note },
                    Err(e) => failed(&e),
                },
            )
        }
        Op::DeactivateUser { id, .. } => {
            let r = run
                .caller
                .call(
                    Endpoint::UserDelete,
                    Method::DELETE,
                    &format!("Users/{id}"),
                    None,
                )
                .await;
            (
                Some(id.clone()),
                match r {
                    Ok(_) => OpResult::Applied { note: None },
                    Err(e) => failed(&e),
                },
            )
        }
        Op::CreateGroup { name, members, .. } => create_group(run, name, members).await,
        Op::UpdateGroup {
            id,
            rename,
            add,
            remove,
            ..
        } => {
            let adds: Vec<String> = add.iter().filter_map(|r| run.resolve(r)).collect();
            let missing = add.len() - adds.len();
            let result = patch_group(run, id, rename.as_deref(), &adds, remove).await;
            (
                Some(id.clone()),
                match result {
                    Ok(()) if missing > 0 => OpResult::Applied {
                        note: Some(format!("{missing} member(s) not added: not created")),
                    },
                    Ok(()) => OpResult::Applied { note: None },
                    Err(e) => failed(&e),
                },
            )
        }
        Op::DeleteGroup { id, .. } => {
            let r = run
                .caller
                .call(
                    Endpoint::GroupDelete,
                    Method::DELETE,
                    &format!("Groups/{id}"),
                    None,
                )
                .await;
            (
                Some(id.clone()),
                match r {
                    Ok(_) => OpResult::Applied { note: None },
                    Err(e) => failed(&e),
                },
            )
        }
    };
    OpOutcome {
        kind: op.kind(),
        subject: subject(op),
        resource,
        result,
    }
}

async fn create_user(
    run: &Run,
    email: &str,
    user_name: &str,
    fields: &crate::plan::UserFields,
) -> (Option<String>, OpResult) {
    let mut note = None;
    let manager = match &fields.manager {
        Some(Some(r)) => match run.resolve(r) {
            Some(id) => Some(Some(id)),
            None => {
                note = Some("manager not set: not created".to_string());
                None
            }
        },
        _ => None,
    };
    let body = write::create_user(run.version, email, user_name, fields, manager);
    match run
        .caller
        .call(Endpoint::UserCreate, Method::POST, "Users", Some(&body))
        .await
    {
        Ok((reply, _)) => {
            let id = id_of(&reply.body);
            if let Some(id) = &id {
                run.created
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(email_key(email), id.clone());
            }
            (id, OpResult::Applied { note })
        }
        // The create timed out or its connection dropped, was retried, and the retry found
        // the address taken: most likely by this very create. Adopt the account if it is the
        // same person, so a retried create never duplicates.
        Err(e)
            if e.attempts > 1
                && matches!(e.error.code(), Some("email_taken" | "username_taken")) =>
        {
            match find_user(run, email).await {
                Some(u)
                    if u.user_name
                        .value()
                        .is_some_and(|n| user_name_key(n) == user_name_key(user_name)) =>
                {
                    let id = u.id.value().cloned();
                    if let Some(id) = &id {
                        run.created
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
                _ => (None, failed(&e)),
            }
        }
        Err(e) => (None, failed(&e)),
    }
}

/// The first resource a filtered listing returns that satisfies `wanted`.
async fn find<T: serde::de::DeserializeOwned>(
    run: &Run,
    endpoint: Endpoint,
    resource: &str,
    filter: &str,
    wanted: impl Fn(&T) -> bool,
) -> Option<T> {
    let query = serde_urlencoded::to_string([("filter", filter)]).ok()?;
    let (reply, _) = run
        .caller
        .call(endpoint, Method::GET, &format!("{resource}?{query}"), None)
        .await
        .ok()?;
    let page: ListResponse<T> = serde_json::from_slice(&reply.body).ok()?;
    page.resources
        .into_value()
        .unwrap_or_default()
        .into_iter()
        .find(|r| wanted(r))
}

async fn find_user(run: &Run, email: &str) -> Option<User> {
    let filter = format!("email eq \"{}\"", email.trim());
    find(run, Endpoint::UsersList, "Users", &filter, |u: &User| {
        u.emails.value().into_iter().flatten().any(|e| {
            e.value
                .value()
                .is_some_and(|v| email_key(v) == email_key(email))
        })
    })
    .await
}

async fn find_group(run: &Run, name: &str) -> Option<Group> {
    let filter = format!("displayName eq \"{}\"", name.trim());
    find(run, Endpoint::GroupsList, "Groups", &filter, |_: &Group| {
        true
    })
    .await
}

async fn create_group(run: &Run, name: &str, members: &[UserRef]) -> (Option<String>, OpResult) {
    let ids: Vec<String> = members.iter().filter_map(|r| run.resolve(r)).collect();
    let missing = members.len() - ids.len();
    let (first, rest) = ids.split_at(ids.len().min(write::MEMBERSHIP_CHUNK));
    let body = write::create_group(run.version, name, first);
    let id = match run
        .caller
        .call(Endpoint::GroupCreate, Method::POST, "Groups", Some(&body))
        .await
    {
        Ok((reply, _)) => id_of(&reply.body),
        Err(e) if e.attempts > 1 && e.error.status() == Some(409) => {
            match find_group(run, name)
                .await
                .and_then(|g| g.id.value().cloned())
            {
                Some(id) => {
                    // The first attempt created it; make sure every member is there.
                    if let Err(e) = patch_group(run, &id, None, first, &[]).await {
                        return (Some(id), failed(&e));
                    }
                    Some(id)
                }
                None => return (None, failed(&e)),
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
    if let Err(e) = patch_group(run, &id, None, rest, &[]).await {
        return (Some(id), failed(&e));
    }
    let note = (missing > 0).then(|| format!("{missing} member(s) not added: not created"));
    (Some(id), OpResult::Applied { note })
}

async fn patch_group(
    run: &Run,
    id: &str,
    rename: Option<&str>,
    add: &[String],
    remove: &[String],
) -> Result<(), CallError> {
    for body in write::update_group(run.version, rename, add, remove) {
        run.caller
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
