//! One pass's I/O around the pure planner: load the config and every source, connect to
//! Slack (or start the embedded emulator), list the live state. `plan`, `apply`, `dump` and
//! the daemon share it. Errors are typed; only the CLI renders them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

use crate::config::{Config, ConfigError, Endpoint, EnvOverrides, TokenSource};
use crate::directory::{self, DirectoryError, LoadOptions, LoadedDirectory};
use crate::emulator::{Emulator, EmulatorConfig, SeedError, Store};
use crate::plan::{self, Plan};
use crate::scim::live::LiveState;
use crate::scim::retry::Caller;
use crate::scim::token::TokenError;
use crate::scim::{ScimClient, ScimError, Token, Version};

/// How long one SCIM request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("{0}")]
    Config(ConfigError),
    #[error("{0}")]
    Directory(DirectoryError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error("cannot reach Slack: {0}")]
    Scim(#[from] ScimError),
    #[error("embedded emulator: {0}")]
    Seed(#[from] SeedError),
    #[error("embedded emulator: {0}")]
    Emulator(std::io::Error),
    #[error("the saved plan {file}: {message}")]
    SavedPlan { file: String, message: String },
    #[error(
        "refusing the saved plan: {} changed in Slack since the plan was made; make a new plan",
        .0.join(", ")
    )]
    Stale(Vec<String>),
    #[error("cannot open the audit log {path}: {source}; nothing was written")]
    Audit {
        path: String,
        source: std::io::Error,
    },
    #[error("another scimsync is applying with this config (lock {0} is held)")]
    Locked(String),
    #[error("cannot create the lock file {path}: {source}")]
    LockFile {
        path: String,
        source: std::io::Error,
    },
}

/// How an apply pass ended (errors aside).
#[derive(Debug)]
pub enum Applied {
    /// Guards tripped: nothing was written.
    GuardTripped(Vec<plan::GuardTrip>),
    /// Nothing to write.
    NothingToDo,
    /// Writes were made; see the outcome.
    Done(crate::apply::Outcome),
}

impl Applied {
    /// Whether every change applied and the plan had no conflict.
    pub fn complete(&self, plan: &Plan) -> bool {
        match self {
            Applied::GuardTripped(_) => false,
            Applied::NothingToDo => plan.conflicts.is_empty(),
            Applied::Done(o) => o.complete() && plan.conflicts.is_empty(),
        }
    }
}

/// Checks the guards (except those `allowed`), then applies the plan.
pub async fn apply(
    prepared: &Prepared,
    allowed: &[&str],
    stop: Option<Arc<std::sync::atomic::AtomicBool>>,
) -> Result<Applied, PassError> {
    let plan = &prepared.plan;
    let tripped: Vec<plan::GuardTrip> = plan
        .guards
        .iter()
        .filter(|g| !allowed.contains(&g.guard.as_str()))
        .cloned()
        .collect();
    if !tripped.is_empty() {
        return Ok(Applied::GuardTripped(tripped));
    }
    if plan.is_empty() {
        return Ok(Applied::NothingToDo);
    }
    let audit = match &prepared.config.audit_log {
        Some(path) => Some(Arc::new(crate::apply::AuditLog::open(path).map_err(
            |source| PassError::Audit {
                path: path.display().to_string(),
                source,
            },
        )?)),
        None => None,
    };
    let outcome = crate::apply::execute_until(
        plan,
        &prepared.connection.caller,
        prepared.config.rate_limit.concurrency as usize,
        audit,
        stop,
    )
    .await;
    Ok(Applied::Done(outcome))
}

/// An exclusive lock on a file, held while applying, so that two scimsync processes on one
/// host (a daemon and a cron job, or two daemons) never apply at once. Released on drop, and
/// by the kernel if the process dies.
pub struct ApplyLock {
    _file: std::fs::File,
}

impl ApplyLock {
    /// The lock file for a config: the configured one, else one per config file in the
    /// temporary folder.
    pub fn path_for(config: &Config) -> std::path::PathBuf {
        if let Some(p) = &config.lock_file {
            return p.clone();
        }
        let absolute = std::fs::canonicalize(&*config.file)
            .unwrap_or_else(|_| std::path::PathBuf::from(&*config.file));
        std::env::temp_dir().join(format!(
            "scimsync-{}.lock",
            plan::fingerprint(&absolute.display().to_string())
        ))
    }

    /// Takes the lock, or fails at once if another process holds it.
    pub fn try_acquire(config: &Config) -> Result<ApplyLock, PassError> {
        let path = Self::path_for(config);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| PassError::LockFile {
                path: path.display().to_string(),
                source,
            })?;
        match file.try_lock() {
            Ok(()) => Ok(ApplyLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(PassError::Locked(path.display().to_string()))
            }
            Err(std::fs::TryLockError::Error(source)) => Err(PassError::LockFile {
                path: path.display().to_string(),
                source,
            }),
        }
    }
}

pub fn load_config(path: &Path) -> Result<Config, PassError> {
    Config::load(path, &EnvOverrides::from_process_env()).map_err(PassError::Config)
}

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

/// A connection to the target: the client, and the embedded emulator when there is one.
pub struct Connection {
    /// Rate-limited and retrying, within the configured share of Slack's budget.
    pub caller: Caller,
    embedded: Option<Emulator>,
}

impl Connection {
    pub async fn open(config: &Config) -> Result<Connection, PassError> {
        let version = match config.target.version {
            crate::config::ScimVersion::V1 => Version::V1,
            crate::config::ScimVersion::V2 => Version::V2,
        };
        match &config.target.endpoint {
            Endpoint::Url(url) => {
                let token = match &config.target.token {
                    Some(TokenSource::Env(name)) => Token::from_env(name)?,
                    Some(TokenSource::File(path)) => Token::from_file(path)?,
                    None => return Err(TokenError::EnvMissing("(no token source)".into()).into()),
                };
                let client = ScimClient::new(url.as_str(), Some(version), token, REQUEST_TIMEOUT)?;
                Ok(Connection {
                    caller: caller(client, config),
                    embedded: None,
                })
            }
            Endpoint::Embedded => {
                let state = config.target.emulator_state.as_deref();
                let store = match (state, config.target.emulator_seed.as_deref()) {
                    (Some(s), _) if s.exists() => Store::load(s, 'U', 1)?,
                    (_, Some(seed)) => Store::load(seed, 'U', 1)?,
                    _ => Store::default_org('U', 1),
                };
                // A fresh token per process: nothing outside this process can use the emulator.
                let secret = format!("xoxp-embedded-{:016x}", fastrand::u64(..));
                let emulator = Emulator::start(
                    EmulatorConfig {
                        token: secret.clone(),
                        rate_limit_scale: Some(config.rate_limit.time_scale),
                        persist: state.map(Path::to_path_buf),
                        ..EmulatorConfig::default()
                    },
                    store,
                    "127.0.0.1:0".parse().expect("a loopback address"),
                )
                .await
                .map_err(PassError::Emulator)?;
                let client = ScimClient::new(
                    &emulator.base_url(version),
                    Some(version),
                    Token::new(secret)?,
                    REQUEST_TIMEOUT,
                )?;
                Ok(Connection {
                    caller: caller(client, config),
                    embedded: Some(emulator),
                })
            }
        }
    }

    /// Opens the connection and lists the live state (closing it again if listing fails).
    pub async fn open_and_read(config: &Config) -> Result<(Connection, LiveState), PassError> {
        let connection = Connection::open(config).await?;
        match connection.read_live().await {
            Ok(live) => Ok((connection, live)),
            Err(e) => {
                let _ = connection.close().await;
                Err(e)
            }
        }
    }

    /// Lists every user and group. All or nothing.
    pub async fn read_live(&self) -> Result<LiveState, PassError> {
        let users = self.caller.list_users().await?;
        let groups = self.caller.list_groups().await?;
        Ok(LiveState::from_scim(&users, &groups))
    }

    /// Ends the connection; the embedded emulator saves its state.
    pub async fn close(self) -> Result<(), PassError> {
        match self.embedded {
            Some(e) => e.shutdown().await.map_err(PassError::Emulator),
            None => Ok(()),
        }
    }
}

/// Everything a pass needs to apply: the config, the open connection, what Slack holds and
/// the plan.
pub struct Prepared {
    pub config: Config,
    pub connection: Connection,
    pub live: LiveState,
    pub plan: Plan,
    /// Problems found in the sources that did not stop the load (skipped users, warnings).
    pub directory_problems: Vec<crate::directory::DirectoryProblem>,
}

impl Prepared {
    /// Reads the sources and Slack, and plans.
    pub async fn new(config: Config, today: NaiveDate) -> Result<Prepared, PassError> {
        let loaded = load_directory(&config, today)?;
        let (connection, live) = Connection::open_and_read(&config).await?;
        let plan = plan::plan(&loaded.directory, &live, &config.policy);
        Ok(Prepared {
            config,
            connection,
            live,
            plan,
            directory_problems: loaded.report.problems,
        })
    }

    /// Reads a saved plan and Slack; refuses the plan if a resource it touches has changed.
    /// Guards are evaluated again under the current config.
    pub async fn saved(config: Config, file: &Path) -> Result<Prepared, PassError> {
        let saved_plan = |message: String| PassError::SavedPlan {
            file: file.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(file).map_err(|e| saved_plan(e.to_string()))?;
        let mut plan = plan::from_json(&text).map_err(saved_plan)?;
        let (connection, live) = Connection::open_and_read(&config).await?;
        let now = plan::live_fingerprints(&live);
        let stale: Vec<String> = plan
            .fingerprints
            .iter()
            .filter(|(id, fp)| now.get(*id) != Some(*fp))
            .map(|(id, _)| id.clone())
            .collect();
        if !stale.is_empty() {
            let _ = connection.close().await;
            return Err(PassError::Stale(stale));
        }
        plan.guards = plan::guards::evaluate(&plan, &config.policy.safety);
        Ok(Prepared {
            config,
            connection,
            live,
            plan,
            directory_problems: Vec::new(),
        })
    }
}

fn caller(client: ScimClient, config: &Config) -> Caller {
    Caller::new(
        Arc::new(client),
        config.rate_limit.share,
        config.rate_limit.time_scale,
    )
}
