//! The one pass that every front end drives (`plan`, `apply`, `apply --plan` and each daemon
//! pass): [`prepare`] takes the lock when the pass may write, reads the config's sources and
//! Slack, and plans; [`Prepared::apply`] checks the guards, opens the audit log, executes and
//! closes the connection; both end in one typed [`PassReport`] that the CLI renders and the
//! daemon turns into logs and metrics. Errors are typed; [`crate::exit`] picks the exit code.

mod clock;
mod connection;
mod lock;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

pub use clock::Clock;
pub use connection::Connection;
pub use lock::ApplyLock;

use crate::apply::{AuditLog, Controls, Outcome, Progress};
use crate::config::{Config, ConfigError, EnvOverrides};
use crate::diag::Severity;
use crate::directory::{self, DirectoryError, DirectoryProblem, LoadOptions, LoadedDirectory};
use crate::emulator::SeedError;
use crate::memory::store::target_key;
use crate::memory::{self, StateError, StateStore};
use crate::model::LiveState;
use crate::plan::seal::{self, Binding, SealKey};
use crate::plan::{self, Guard, GuardTrip, Plan, Sealing};
use crate::scim::ScimError;
use crate::scim::observe::RequestObserver;
use crate::scim::token::TokenError;
use crate::shutdown::Shutdown;

/// How long the end of an apply waits for Slack to show its writes.
pub const CONFIRM_PATIENCE: Duration = Duration::from_secs(15);

/// How long one SCIM request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a pass could not run. Nothing was written unless the variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    /// The config file is invalid; every problem is listed.
    #[error("{0}")]
    Config(ConfigError),
    /// A source is invalid; every problem is listed.
    #[error("{0}")]
    Directory(DirectoryError),
    /// The token could not be read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Slack could not be listed: no answer, or an answer that refuses (the token, the
    /// request); the message says which ([`slack_failure`]).
    #[error("{}", slack_failure(.0))]
    Scim(#[from] ScimError),
    /// The embedded emulator's seed or state file is invalid.
    #[error("embedded emulator: {0}")]
    Seed(#[from] SeedError),
    /// The embedded emulator could not start or save its state.
    #[error("embedded emulator: {0}")]
    Emulator(std::io::Error),
    /// A saved plan could not be read.
    #[error("the saved plan {file}: {message}")]
    SavedPlan {
        /// The plan file as named.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// Resources a saved plan touches changed in Slack since it was made.
    #[error(
        "refusing the saved plan: {} changed in Slack since the plan was made; make a new plan",
        .0.join(", ")
    )]
    Stale(Vec<String>),
    /// Ops of a saved plan that the plan made now does not call for (not due, already done,
    /// stuck, or no longer wanted).
    #[error(
        "refusing the saved plan: {}; make a new plan",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NotNow(Vec<crate::plan::Refusal>),
    /// Ops of a saved plan that the current config forbids.
    #[error(
        "refusing the saved plan: the current config forbids {}; make a new plan",
        .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    Forbidden(Vec<crate::plan::Refusal>),
    /// The audit log cannot be opened.
    #[error("cannot open the audit log {path}: {source}; nothing was written")]
    Audit {
        /// The audit log's path.
        path: String,
        /// Why it cannot be opened.
        source: std::io::Error,
    },
    /// Another process holds the pass lock.
    #[error(
        "another scimsync is applying with this config (lock {0} is held); nothing was written"
    )]
    Locked(String),
    /// The state file cannot be read, parsed or written; the message says which, and whether
    /// anything was written.
    #[error(transparent)]
    State(#[from] StateError),
    /// The lock file cannot be created or locked.
    #[error("cannot create the lock file {path}: {source}")]
    LockFile {
        /// The lock file's path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// A failed request to Slack in words that say what happened: "cannot reach Slack" only when
/// no answer came; an answer of 401 or 403 is Slack refusing the token, any other status is
/// Slack's answer.
fn slack_failure(e: &ScimError) -> String {
    match e.status() {
        Some(401 | 403) => format!(
            "Slack refused the token: {e}; the token must be a user token with the `admin` \
             scope whose owner is still an Owner or Admin (README, Slack setup)"
        ),
        Some(_) => format!("Slack answered with an error: {e}"),
        None if matches!(e, ScimError::Decode { .. }) => format!("Slack's answer: {e}"),
        None => format!("cannot reach Slack: {e}"),
    }
}

/// What a pass is asked to do.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Whether the pass may write: it then holds the lock for its whole length.
    pub apply: bool,
    /// Apply exactly this saved plan instead of planning afresh.
    pub saved_plan: Option<PathBuf>,
    /// Guards overridden for this pass.
    pub allow: Vec<Guard>,
    /// Told about every SCIM request the pass sends (the daemon's and `--metrics-textfile`'s
    /// request metrics).
    pub observer: Option<Arc<dyn RequestObserver>>,
    /// Where the pass reads the time (the system's unless a test sets its own).
    pub clock: Clock,
}

/// Reads the config file (and the environment's overrides).
pub fn load_config(path: &Path) -> Result<Config, PassError> {
    Config::load(path, &EnvOverrides::from_process_env()).map_err(PassError::Config)
}

/// Reads and validates every source of `config`.
pub fn load_directory(config: &Config, today: NaiveDate) -> Result<LoadedDirectory, PassError> {
    directory::load(
        &config.sources,
        &LoadOptions {
            invalid_users: config.invalid_users,
            today,
        },
    )
    .map_err(PassError::Directory)
}

/// A pass that has read everything and planned, and has not written yet.
pub struct Prepared {
    /// The config the pass runs with.
    pub config: Config,
    /// The open connection to the target.
    pub connection: Connection,
    /// What Slack held when listed.
    pub live: LiveState,
    /// The plan (afresh, or the saved one re-checked).
    pub plan: Plan,
    /// Problems found in the sources that did not stop the load (skipped users, warnings).
    pub source_problems: Vec<DirectoryProblem>,
    /// The directory planned from (none for a saved plan): what the end of an apply checks
    /// Slack against.
    directory: Option<crate::directory::Directory>,
    /// The matching the plan was made with, for what the memory learns (empty for none).
    matched: Vec<(usize, usize)>,
    /// Held from before the listing until the pass ends, when the pass may write.
    lock: Option<ApplyLock>,
    /// The state read after the lock was taken (none under `state_dir: false`, or for a
    /// `plan` run before any apply... which reads an empty one).
    state: Option<StateStore>,
    /// Counts the apply's ops as they end: for a progress bar or progress log lines.
    pub progress: Arc<Progress>,
    /// Where the pass reads the time.
    clock: Clock,
    /// Set by [`Prepared::leave_to_exit`]: the listing and the directory are left unfreed.
    leave_to_exit: bool,
}

/// Prepares a pass: reads a saved plan (if asked to apply one), takes the lock if it may
/// write, reads the state, the sources and Slack, asks Slack which organisation the token
/// belongs to, and plans; a saved plan is then checked against that fresh plan
/// ([`adopt_saved`]) and only what both call for is kept.
pub async fn prepare(
    config: Config,
    request: &Request,
    today: NaiveDate,
) -> Result<Prepared, PassError> {
    // A malformed saved plan costs no request and takes no lock.
    let saved = match &request.saved_plan {
        Some(file) => Some((file.clone(), read_saved(file)?)),
        None => None,
    };
    let lock = if request.apply {
        Some(ApplyLock::try_acquire(&config)?)
    } else {
        None
    };
    let mut state = StateStore::load(&config)?;
    if request.apply
        && let Some(state) = &mut state
    {
        state.check_writable()?;
    }
    let loaded = load_directory(&config, today)?;
    let (connection, live) = Connection::open_and_read(&config, request.observer.clone()).await?;
    let now = request.clock.now();
    let sealed = plan_against(&config, &connection, &live, &loaded, state.as_mut(), now)
        .await
        .and_then(|draft| {
            let Draft {
                plan,
                matched,
                binding,
                key,
            } = draft;
            let plan = match saved {
                Some((file, saved)) => {
                    adopt_saved(&file, &saved, plan, (&binding, &key), &live, &config)?
                }
                None => plan,
            };
            let last_good = state.as_ref().and_then(|s| s.memory.last_good.as_ref());
            Ok((
                plan::finish(
                    plan,
                    Sealing {
                        counts: plan::counts(&loaded.directory, &live, &config.policy),
                        safety: &config.policy.safety,
                        last_good: last_good.map(|l| &l.source_users),
                        rate: Some(&config.rate_limit),
                        bound: Some((binding, &key)),
                    },
                ),
                matched,
            ))
        });
    let (plan, matched) = match sealed {
        Ok(sealed) => sealed,
        Err(e) => {
            let _ = connection.close().await;
            return Err(e);
        }
    };
    Ok(Prepared {
        progress: Progress::planned(
            plan.ops.len(),
            plan.estimate
                .as_ref()
                .and_then(|e| Duration::try_from_secs_f64(e.seconds).ok()),
        ),
        config,
        connection,
        live,
        plan,
        source_problems: loaded.report.problems,
        directory: Some(loaded.directory),
        matched,
        lock,
        state,
        clock: request.clock.clone(),
        leave_to_exit: false,
    })
}

/// A plan made now, not finished yet: the planner's draft with the memory applied (and the
/// rows skipped as invalid), what it will be bound to, and the key it will be sealed with.
struct Draft {
    plan: Plan,
    /// The matching the draft was made with ([`plan::draft_matched`]).
    matched: Vec<(usize, usize)>,
    binding: Binding,
    key: SealKey,
}

/// Learns the organisation (checking the state is its own), and makes the draft with the
/// memory as of `now` ([`memory::recall`]); [`plan::finish`] seals it.
async fn plan_against(
    config: &Config,
    connection: &Connection,
    live: &LiveState,
    loaded: &LoadedDirectory,
    state: Option<&mut StateStore>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Draft, PassError> {
    let organisation = connection.organisation().await?;
    let state = match state {
        Some(s) => {
            s.check_organisation(&organisation)?;
            Some(&*s)
        }
        None => None,
    };
    let key = connection.seal_key(state.map(StateStore::secret));
    let (draft, matched) = plan::draft_matched(&loaded.directory, live, &config.policy);
    let mut plan = match state {
        Some(s) => memory::recall(draft, &s.memory, &config.policy, config.stuck, now),
        None => draft,
    };
    plan.skipped = plan::skipped::skipped_rows(&loaded.directory, &loaded.report.problems);
    let binding = Binding {
        target: target_key(config),
        organisation,
        config: config.file.to_string(),
        config_sha256: config.digest.clone(),
    };
    Ok(Draft {
        plan,
        matched,
        binding,
        key,
    })
}

/// Reads a saved plan's file and checks its shape ([`plan::from_json`]).
fn read_saved(file: &Path) -> Result<Plan, PassError> {
    let saved_plan = |message: String| PassError::SavedPlan {
        file: file.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(file).map_err(|e| saved_plan(e.to_string()))?;
    plan::from_json(&text).map_err(saved_plan)
}

/// Checks a saved plan against what it is applied to (`now`: this pass's binding and seal key)
/// and against `fresh`, the draft made now from the current directory, config, state and
/// Slack, and returns what to apply: `fresh` with only the ops the saved plan also has, sealed
/// afterwards as any plan is ([`plan::finish`]). In order: the binding (target, organisation,
/// config), the seal, the fingerprints of what the ops touch, the current policy
/// ([`plan::recheck`]), then op by op against `fresh` ([`plan::saved::reconcile`]): an op not
/// called for now — a deactivation inside its grace period, a create whose account or group
/// exists (a replayed plan), a stuck op — refuses the whole plan. Memory (pending leavers,
/// stuck ops) and conflicts come from now, never from the file. Nothing is written on refusal.
fn adopt_saved(
    file: &Path,
    saved: &Plan,
    fresh: Plan,
    now: (&Binding, &SealKey),
    live: &LiveState,
    config: &Config,
) -> Result<Plan, PassError> {
    let saved_plan = |message: String| PassError::SavedPlan {
        file: file.display().to_string(),
        message,
    };
    let (binding, key) = now;
    if let Some(theirs) = &saved.binding
        && let Some(why) = plan::saved::binding_differs(theirs, binding)
    {
        return Err(saved_plan(why));
    }
    if !seal::verify(saved, key) {
        return Err(saved_plan(
            "its seal does not hold: it was edited after it was made, or made with another \
             token or state folder; make a new plan"
                .into(),
        ));
    }
    let listed = plan::live_fingerprints(live);
    let stale: Vec<String> = saved
        .fingerprints
        .iter()
        .filter(|(id, fp)| listed.get(*id) != Some(*fp))
        .map(|(id, _)| named(id, live, saved))
        .collect();
    if !stale.is_empty() {
        return Err(PassError::Stale(stale));
    }
    let refused = plan::recheck(saved, live, &config.policy);
    if !refused.is_empty() {
        return Err(PassError::Forbidden(refused));
    }
    plan::saved::reconcile(saved, fresh, live).map_err(PassError::NotNow)
}

/// A live resource as a refusal names it, so that a person knows what changed: an account by
/// its email, a group by its name (quoted), each with its Slack id; from the listing, else from
/// the saved plan's labels and ops, else the id alone.
fn named(id: &str, live: &LiveState, saved: &Plan) -> String {
    if let Some(u) = live.users.iter().find(|u| u.id == id) {
        return format!("{} ({id})", u.email);
    }
    if let Some(g) = live.groups.iter().find(|g| g.id == id) {
        return format!("group {:?} ({id})", g.name);
    }
    if let Some(label) = saved.labels.get(id) {
        return format!("{label} ({id})");
    }
    match saved.ops.iter().find(|op| op.resource_id() == Some(id)) {
        Some(op) if op.kind().as_str().ends_with("group") => {
            format!("group {:?} ({id})", op.subject())
        }
        Some(op) => format!("{} ({id})", op.subject()),
        None => id.to_string(),
    }
}

impl Prepared {
    /// Marks this pass as the process's last (`plan`, `apply`): when it ends, the listing
    /// and the directory are left to the process's exit instead of being freed record by
    /// record, which costs a 100,000-user pass a tenth of a second for nothing. Never for the
    /// daemon, whose passes repeat.
    pub fn leave_to_exit(mut self) -> Prepared {
        self.leave_to_exit = true;
        self
    }

    /// Drops the listing and the directory, or leaves them to the process's exit for a
    /// pass [left to it](Prepared::leave_to_exit).
    fn release(
        live: LiveState,
        directory: Option<crate::directory::Directory>,
        leave_to_exit: bool,
    ) {
        if leave_to_exit {
            std::mem::forget(live);
            std::mem::forget(directory);
        }
    }

    /// Checks the guards (except those allowed), then applies the plan, closes the connection
    /// and reports. Once `stop` is stopping no further write starts.
    pub async fn apply(
        mut self,
        allow: &[Guard],
        stop: &Shutdown,
    ) -> Result<PassReport, PassError> {
        let applied = self.execute(allow, stop.clone()).await;
        let stopped = stop.is_stopping();
        // Once stopping, the pass ends now: the next one checks what this one wrote.
        let unconfirmed = match &applied {
            Ok(Applied::Done(outcome)) if !stopped => self.confirm(outcome).await,
            _ => Vec::new(),
        };
        let saved = self.save_state(&applied);
        // The state is written before the lock is released: the next holder reads it.
        let (config, plan, source_problems, closed) = self.close().await;
        let applied = applied?;
        closed?;
        // Once writes were made, what applied is reported whatever happens to the state: the
        // report says it first, then that the state could not be saved (a partial pass).
        let state_unsaved = match (saved, &applied) {
            (Ok(()), _) => None,
            (Err(e), Applied::Done(_)) => Some(e.to_string()),
            (Err(e), _) => return Err(e),
        };
        Ok(PassReport {
            config,
            plan,
            source_problems,
            applied,
            unconfirmed,
            state_unsaved,
        })
    }

    /// Ends the pass: frees (or leaves to the exit) the listing and the directory, closes the
    /// connection, then releases the lock. Returns what the report keeps.
    async fn close(self) -> (Config, Plan, Vec<DirectoryProblem>, Result<(), PassError>) {
        let Prepared {
            config,
            connection,
            plan,
            source_problems,
            lock,
            live,
            directory,
            leave_to_exit,
            matched: _,
            state: _,
            progress: _,
            clock: _,
        } = self;
        Prepared::release(live, directory, leave_to_exit);
        let closed = connection.close().await;
        drop(lock);
        (config, plan, source_problems, closed)
    }

    /// Writes what this pass leaves for the next, unless a guard tripped or the pass failed
    /// before writing (then the state stays as it was).
    fn save_state(&mut self, applied: &Result<Applied, PassError>) -> Result<(), PassError> {
        let Some(store) = &mut self.state else {
            return Ok(());
        };
        let outcome = match applied {
            Ok(Applied::Done(outcome)) => Some(outcome),
            Ok(Applied::NothingToDo) => None,
            _ => return Ok(()),
        };
        let now = self.clock.now();
        let pass = memory::learn::Pass {
            plan: &self.plan,
            live: &self.live,
            directory: self.directory.as_ref(),
            matched: &self.matched,
            outcome,
            policy: &self.config.policy,
            stuck: self.config.stuck,
        };
        // The memory this pass began with is not used again: the next is made from it.
        let next = memory::next_memory(std::mem::take(&mut store.memory), &pass, now);
        Ok(store.save(&next, now)?)
    }

    /// Ends the pass without writing (`plan`, `apply --dry-run`).
    pub async fn finish(self) -> Result<PassReport, PassError> {
        let (config, plan, source_problems, closed) = self.close().await;
        closed?;
        Ok(PassReport {
            config,
            plan,
            source_problems,
            applied: Applied::NotRequested,
            unconfirmed: Vec::new(),
            state_unsaved: None,
        })
    }

    /// Waits, with bounded reads, until Slack shows what this apply wrote: it re-lists and
    /// re-plans until no applied op's subject is in the plan any more, for up to
    /// [`CONFIRM_PATIENCE`]. Slack's reads lag its writes by seconds, and a plan made right
    /// after a successful apply must be empty. Returns the subjects still not shown.
    async fn confirm(&self, outcome: &Outcome) -> Vec<String> {
        let Some(directory) = &self.directory else {
            return Vec::new();
        };
        let applied: std::collections::BTreeSet<&str> = outcome
            .ops
            .iter()
            .filter(|o| matches!(o.result, crate::apply::OpResult::Applied { .. }))
            .map(|o| o.subject.as_str())
            .collect();
        if applied.is_empty() {
            return Vec::new();
        }
        let started = std::time::Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            let pending: Vec<String> = match self.connection.read_live().await {
                Ok(live) => {
                    let mut again = plan::draft(directory, &live, &self.config.policy);
                    // Changes this pass holds back on purpose (reported drift) are not
                    // waited for.
                    if let Some(state) = &self.state {
                        again = memory::recall(
                            again,
                            &state.memory,
                            &self.config.policy,
                            self.config.stuck,
                            self.clock.now(),
                        );
                    }
                    again
                        .ops
                        .iter()
                        .map(|op| op.subject())
                        .filter(|s| applied.contains(s))
                        .map(str::to_string)
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect()
                }
                // Slack unreachable: nothing more can be confirmed this pass.
                Err(_) => return applied.iter().map(|s| (*s).to_string()).collect(),
            };
            if pending.is_empty() || started.elapsed() + pause > CONFIRM_PATIENCE {
                return pending;
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    async fn execute(&self, allow: &[Guard], stop: Shutdown) -> Result<Applied, PassError> {
        let plan = &self.plan;
        let tripped: Vec<GuardTrip> = plan
            .guards
            .iter()
            .filter(|g| !allow.contains(&g.guard))
            .cloned()
            .collect();
        if !tripped.is_empty() {
            return Ok(Applied::GuardTripped(tripped));
        }
        if plan.is_empty() {
            return Ok(Applied::NothingToDo);
        }
        let config = &self.config;
        let audit = if config.audit_log.is_some() || config.audit_stdout {
            let path = config.audit_log.as_deref();
            let log =
                AuditLog::to(path, config.audit_stdout).map_err(|source| PassError::Audit {
                    path: path.map_or_else(|| "stdout".into(), |p| p.display().to_string()),
                    source,
                })?;
            // The guards the plan trips that `--allow` lets through.
            log.started(config, plan, &plan.guards);
            Some(Arc::new(log))
        } else {
            None
        };
        let started = std::time::Instant::now();
        let controls = Controls {
            stop,
            progress: Some(self.progress.clone()),
        };
        let outcome = crate::apply::execute_with(
            plan,
            &self.connection.caller,
            self.config.rate_limit.concurrency as usize,
            audit.clone(),
            controls,
        )
        .await;
        if let Some(audit) = &audit {
            audit.ended(&outcome, started.elapsed());
        }
        Ok(Applied::Done(outcome))
    }
}

/// How the writing part of a pass ended.
#[derive(Debug)]
pub enum Applied {
    /// The pass only planned (`plan`, `apply --dry-run`).
    NotRequested,
    /// Guards tripped: nothing was written.
    GuardTripped(Vec<GuardTrip>),
    /// Nothing to write.
    NothingToDo,
    /// Writes were made; see the outcome.
    Done(Outcome),
}

/// How a pass ended, as exit codes and the daemon's `outcome` label tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassOutcome {
    /// Everything planned applied (or there was nothing to do), and Slack equals the
    /// directory.
    Success,
    /// Some ops failed or were skipped, or the plan falls short of the directory (conflicts,
    /// rows skipped as invalid, stuck ops held back), or the state was not saved; the rest
    /// applied.
    Partial,
    /// A guard tripped: nothing was written.
    Guard,
}

/// Everything one pass found and did: what the CLI prints and the daemon logs and counts.
#[derive(Debug)]
pub struct PassReport {
    /// The config the pass ran with.
    pub config: Config,
    /// The plan it made or applied.
    pub plan: Plan,
    /// Problems in the sources that did not stop the pass (skipped rows, warnings).
    pub source_problems: Vec<DirectoryProblem>,
    /// What the writing part did.
    pub applied: Applied,
    /// Subjects of applied changes Slack did not show within [`CONFIRM_PATIENCE`] (its reads
    /// lag, or it silently dropped a value): the next pass checks them again.
    pub unconfirmed: Vec<String>,
    /// Why the state could not be saved after writes were made, if it could not: the pass is
    /// then partial, and the next one starts from the state before it.
    pub state_unsaved: Option<String>,
}

/// Something a pass reports besides the plan and the outcome, worded once for every front end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious it is.
    pub severity: Severity,
    /// What it is about: `source`, `plan`, `slack`, `state` or `guard`.
    pub topic: &'static str,
    /// The sentence, with its `file:line` where there is one.
    pub text: String,
}

impl PassReport {
    /// Why Slack is left short of the directory, in one sentence, when it is (the plan lists
    /// each item): what makes a pass `partial` though every write applied.
    fn shortfall(&self) -> Option<String> {
        let plan = &self.plan;
        let held = plan.held_stuck().count();
        let skipped = plan.skipped.len().max(plan.counts.invalid_users);
        let parts: Vec<String> = [
            (plan.conflicts.len(), "conflict", "conflicts"),
            (skipped, "row skipped as invalid", "rows skipped as invalid"),
            (held, "stuck op held back", "stuck ops held back"),
        ]
        .into_iter()
        .filter(|(n, ..)| *n > 0)
        .map(|(n, one, many)| format!("{n} {}", if n == 1 { one } else { many }))
        .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "Slack cannot be made equal to the directory: {}; the plan lists each with \
                 its reason",
                parts.join(", ")
            )
        })
    }

    /// How the pass ended: the one answer the exit code of `apply`
    /// ([`crate::exit::of_apply`]) and the daemon's `outcome` label both give. A guard first;
    /// then partial when anything is left undone — an op that failed or was skipped, a plan
    /// that falls short of the directory ([`Plan::falls_short`]), a state not saved.
    pub fn outcome(&self) -> PassOutcome {
        let short = self.plan.falls_short() || self.state_unsaved.is_some();
        match &self.applied {
            Applied::GuardTripped(_) => PassOutcome::Guard,
            _ if short => PassOutcome::Partial,
            Applied::NotRequested | Applied::NothingToDo => PassOutcome::Success,
            Applied::Done(o) if o.complete() => PassOutcome::Success,
            Applied::Done(_) => PassOutcome::Partial,
        }
    }

    /// The source problems, what the plan leaves undone, Slack's lag, the state and guard
    /// trips, in that order: the same list for `apply`'s stderr and the daemon's log.
    pub fn findings(&self) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .source_problems
            .iter()
            .map(|p| Finding {
                severity: p.severity,
                topic: "source",
                text: p.to_string(),
            })
            .collect();
        // Under a guard nothing was written: the guard is what to read.
        if let Some(text) = self
            .shortfall()
            .filter(|_| !matches!(self.applied, Applied::GuardTripped(_)))
        {
            out.push(Finding {
                severity: Severity::Warning,
                topic: "plan",
                text,
            });
        }
        if !self.unconfirmed.is_empty() {
            out.push(Finding {
                severity: Severity::Warning,
                topic: "slack",
                text: format!(
                    "Slack does not show {} applied change(s) {} s after the apply ({}): its \
                     reads lag, or it silently dropped a value; the next pass checks again",
                    self.unconfirmed.len(),
                    CONFIRM_PATIENCE.as_secs(),
                    {
                        let shown: Vec<&str> = self
                            .unconfirmed
                            .iter()
                            .take(10)
                            .map(String::as_str)
                            .collect();
                        match self.unconfirmed.len() {
                            n if n > 10 => format!("{}, and {} more", shown.join(", "), n - 10),
                            _ => shown.join(", "),
                        }
                    }
                ),
            });
        }
        if let Some(why) = &self.state_unsaved {
            out.push(Finding {
                severity: Severity::Error,
                topic: "state",
                text: format!(
                    "the changes above were applied, but {why}; the next pass starts from the \
                     state before this one (grace periods and drift as they were)"
                ),
            });
        }
        if let Applied::GuardTripped(trips) = &self.applied {
            out.extend(trips.iter().map(|g| Finding {
                severity: Severity::Error,
                topic: "guard",
                text: format!(
                    "safety guard {} tripped: {} — override with {}",
                    g.guard,
                    g.message,
                    g.guard.flag()
                ),
            }));
        }
        out
    }
}
