//! The state store: what one pass leaves for the next ([`Memory`]: leavers' first absence,
//! digests of last-applied values, refused ops, the last good run's source sizes), in one
//! versioned JSON file, `state.json`, in the config's `state_dir`.
//!
//! Read after the pass lock is taken and written before it is released, so two processes
//! never interleave; written atomically (a temporary file, fsync, rename, fsync of the folder),
//! so a crash leaves the old state or the new one, never half of one. A missing file is a
//! first run. A file that cannot be read or parsed (truncated, edited, a newer version) stops
//! the pass before anything is written: guessing would turn "we lost track of the leavers"
//! into "deactivate everyone now". `plan` reads the state when there is one and never writes it.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PassError;
use crate::apply::{OpResult, Outcome};
use crate::config::{Config, StateDir, StuckSettings};
use crate::model::{Attribute, LiveState};
use crate::plan::memory::{self, Failure, LastGood, Memory, NOT_IN_DIRECTORY};
use crate::plan::{DriftAction, Op, Plan, fingerprint};

/// The state file's name inside `state_dir`.
pub const STATE_FILE: &str = "state.json";

/// The state file's format marker.
const STATE_FORMAT: &str = "scimsync-state";

/// The state file's version; a file of another version is refused, never guessed at.
pub const STATE_VERSION: u32 = 1;

/// The state file as written.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    format: String,
    version: u32,
    written_at: DateTime<Utc>,
    #[serde(flatten)]
    memory: Memory,
}

/// The state folder for a config: `state_dir` when set; by default `$STATE_DIRECTORY/state`
/// (systemd's `StateDirectory=scimsync`), else `/var/lib/scimsync/state` when
/// `/var/lib/scimsync` exists, else `.scimsync-state` beside the config file. None under
/// `state_dir: false`.
pub fn state_dir(config: &Config) -> Option<PathBuf> {
    match &config.state_dir {
        StateDir::Off => None,
        StateDir::At(dir) => Some(dir.clone()),
        StateDir::Default => Some(default_state_dir(
            Path::new(&*config.file),
            &|name| std::env::var_os(name),
            &|p| p.is_dir(),
        )),
    }
}

/// The default state folder (see [`state_dir`]); `env` and `is_dir` are the process's (tests
/// pass their own).
pub fn default_state_dir(
    config_file: &Path,
    env: &dyn Fn(&str) -> Option<std::ffi::OsString>,
    is_dir: &dyn Fn(&Path) -> bool,
) -> PathBuf {
    if let Some(first) = env("STATE_DIRECTORY")
        .map(|v| {
            v.to_string_lossy()
                .split(':')
                .next()
                .unwrap_or("")
                .to_string()
        })
        .filter(|v| !v.is_empty())
    {
        return Path::new(&first).join("state");
    }
    if is_dir(Path::new(super::lock::SYSTEMD_STATE_DIR)) {
        return Path::new(super::lock::SYSTEMD_STATE_DIR).join("state");
    }
    config_file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(".scimsync-state")
}

/// The state of one pass: where it lives and what it held when read.
#[derive(Debug, Clone)]
pub struct StateStore {
    /// The state file.
    pub path: PathBuf,
    /// What it held (empty on a first run).
    pub memory: Memory,
}

impl StateStore {
    /// Reads the config's state: `None` under `state_dir: false`; an empty memory when there
    /// is no file yet; an error when the file cannot be read or parsed.
    pub fn load(config: &Config) -> Result<Option<StateStore>, PassError> {
        let Some(dir) = state_dir(config) else {
            return Ok(None);
        };
        let path = dir.join(STATE_FILE);
        let bad = |reason: String| PassError::State {
            path: path.display().to_string(),
            reason,
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            // No file, or no folder for it (yet): a first run. An apply then finds out
            // whether the folder can be made ([`StateStore::check_writable`]).
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
                ) =>
            {
                return Ok(Some(StateStore {
                    path,
                    memory: Memory::default(),
                }));
            }
            Err(e) => return Err(bad(e.to_string())),
        };
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| bad(format!("not valid JSON: {e}")))?;
        if value.get("format").and_then(|v| v.as_str()) != Some(STATE_FORMAT) {
            return Err(bad("not a scimsync state file".into()));
        }
        match value.get("version").and_then(serde_json::Value::as_u64) {
            Some(v) if v == u64::from(STATE_VERSION) => {}
            v => {
                return Err(bad(format!(
                    "state version {} is not supported (this scimsync reads version \
                     {STATE_VERSION})",
                    v.map_or("(none)".to_string(), |v| v.to_string())
                )));
            }
        }
        let file: StateFile = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
        Ok(Some(StateStore {
            path,
            memory: file.memory,
        }))
    }

    /// Checks, before a pass that may write to Slack, that the state can be written after it:
    /// creates the folder and a probe file. A read-only or missing mount fails here, with
    /// nothing written, not after the apply.
    pub fn check_writable(&self) -> Result<(), PassError> {
        let bad = |e: std::io::Error| PassError::StateWrite {
            path: self.path.display().to_string(),
            source: e,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(bad)?;
        let probe = dir.join(format!("{STATE_FILE}.tmp-{}", std::process::id()));
        std::fs::File::create(&probe).map_err(bad)?;
        std::fs::remove_file(&probe).map_err(bad)
    }

    /// Writes `memory` atomically: a temporary file beside the state file, fsync, rename,
    /// fsync of the folder.
    pub fn save(&self, memory: &Memory, now: DateTime<Utc>) -> Result<(), PassError> {
        let bad = |e: std::io::Error| PassError::StateWrite {
            path: self.path.display().to_string(),
            source: e,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(bad)?;
        let mut text = serde_json::to_string_pretty(&StateFile {
            format: STATE_FORMAT.into(),
            version: STATE_VERSION,
            written_at: now,
            memory: memory.clone(),
        })
        .expect("the state serialises");
        text.push('\n');
        crate::files::write_atomically(&self.path, text.as_bytes(), None).map_err(bad)
    }
}

/// What the pass leaves for the next one: the memory after `plan` was applied with `outcome`
/// (none: there was nothing to write) against `live`.
pub fn next_memory(
    before: &Memory,
    plan: &Plan,
    live: &LiveState,
    config: &Config,
    outcome: Option<&Outcome>,
    now: DateTime<Utc>,
) -> Memory {
    let applied = |i: usize| {
        outcome.is_some_and(|o| {
            o.ops
                .get(i)
                .is_some_and(|r| matches!(r.result, OpResult::Applied { .. }))
        })
    };
    let mut next = Memory {
        leavers: leavers(before, plan, &applied, now),
        applied: last_applied(before, plan, live, config, outcome),
        failures: failures(before, plan, outcome, config.stuck, now),
        last_good: before.last_good.clone(),
    };
    let complete = outcome.is_none_or(Outcome::complete);
    if complete {
        next.last_good = Some(LastGood {
            at: now,
            source_users: plan.counts.source_users.clone(),
        });
    }
    next
}

/// Leavers still absent: those pending, and those whose deactivation did not apply.
fn leavers(
    before: &Memory,
    plan: &Plan,
    applied: &dyn Fn(usize) -> bool,
    now: DateTime<Utc>,
) -> std::collections::BTreeMap<String, DateTime<Utc>> {
    let mut out: std::collections::BTreeMap<String, DateTime<Utc>> = plan
        .pending
        .iter()
        .map(|p| (p.id.clone(), p.since))
        .collect();
    for (i, op) in plan.ops.iter().enumerate() {
        if let Op::DeactivateUser { id, reason, .. } = &op.op
            && reason == NOT_IN_DIRECTORY
            && !applied(i)
        {
            out.insert(id.clone(), before.leavers.get(id).copied().unwrap_or(now));
        }
    }
    out
}

/// Digests of the values Slack holds for managed accounts after this pass: the listing's, with
/// the changes that applied; a value not reverted (reported drift, a failed op) keeps the
/// digest scimsync last applied, so it stays drift.
fn last_applied(
    before: &Memory,
    plan: &Plan,
    live: &LiveState,
    config: &Config,
    outcome: Option<&Outcome>,
) -> std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> {
    let scope = &config.policy.scope;
    let mut out: std::collections::BTreeMap<String, std::collections::BTreeMap<String, String>> =
        live.users
            .iter()
            .filter(|u| u.active && !u.is_bot && scope.contains(&u.email_key(), Some(&u.id)))
            .map(|u| {
                let values = Attribute::TEXT
                    .iter()
                    .filter_map(|a| {
                        u.text(*a)
                            .map(|v| (a.to_string(), memory::value_digest(Some(v))))
                    })
                    .collect();
                (u.id.clone(), values)
            })
            .collect();
    let keep_before =
        |out: &mut std::collections::BTreeMap<_, std::collections::BTreeMap<String, String>>,
         id: &str,
         a: Attribute| {
            let entry = out.entry(id.to_string()).or_default();
            match before.applied.get(id).and_then(|m| m.get(&a.to_string())) {
                Some(d) => entry.insert(a.to_string(), d.clone()),
                None => entry.remove(&a.to_string()),
            };
        };
    for d in plan
        .drift
        .iter()
        .filter(|d| d.action == DriftAction::Report)
    {
        keep_before(&mut out, &d.id, d.attribute);
    }
    for (i, op) in plan.ops.iter().enumerate() {
        let result = outcome.and_then(|o| o.ops.get(i));
        let ok = result.is_some_and(|r| matches!(r.result, OpResult::Applied { .. }));
        match &op.op {
            Op::UpdateUser { id, changes, .. } => {
                for c in changes
                    .iter()
                    .filter(|c| Attribute::TEXT.contains(&c.attribute))
                {
                    if ok {
                        let entry = out.entry(id.clone()).or_default();
                        entry.insert(
                            c.attribute.to_string(),
                            memory::value_digest(c.to.as_deref()),
                        );
                    } else {
                        keep_before(&mut out, id, c.attribute);
                    }
                }
            }
            Op::CreateUser { fields, .. } if ok => {
                if let Some(id) = result.and_then(|r| r.resource.clone()) {
                    let entry = out.entry(id).or_default();
                    for (a, v) in &fields.text {
                        entry.insert(a.to_string(), memory::value_digest(v.as_deref()));
                    }
                }
            }
            Op::DeactivateUser { id, .. } if ok => {
                out.remove(id);
            }
            _ => {}
        }
    }
    out.retain(|_, m| !m.is_empty());
    out
}

/// Refused ops, counted pass to pass; an op that applied, or that is no longer planned as it
/// was (the directory changed), is forgotten. Stuck ops held back this pass keep their count.
fn failures(
    before: &Memory,
    plan: &Plan,
    outcome: Option<&Outcome>,
    stuck: StuckSettings,
    now: DateTime<Utc>,
) -> std::collections::BTreeMap<String, Failure> {
    let mut out = std::collections::BTreeMap::new();
    let planned: std::collections::BTreeMap<String, String> = plan
        .ops
        .iter()
        .map(|o| (memory::op_key(o), fingerprint(&o.op)))
        .collect();
    for s in plan.stuck.iter().filter(|s| s.retry_at.is_some()) {
        if let Some(f) = before
            .failures
            .get(&s.key)
            .filter(|_| !planned.contains_key(&s.key))
        {
            out.insert(s.key.clone(), f.clone());
        }
    }
    let Some(outcome) = outcome else {
        return out;
    };
    for (op, result) in plan.ops.iter().zip(&outcome.ops) {
        let OpResult::Failed {
            status,
            code,
            message,
        } = &result.result
        else {
            continue;
        };
        let key = memory::op_key(op);
        let digest = fingerprint(&op.op);
        let error = match (status, code) {
            (Some(s), Some(c)) => format!("{s} {c}"),
            (Some(s), None) => format!("{s} {message}"),
            _ => message.clone(),
        };
        let passes = match before.failures.get(&key) {
            Some(f) if f.op == digest && f.error == error => f.passes.saturating_add(1),
            _ => 1,
        };
        out.insert(
            key,
            Failure {
                op: digest,
                error,
                passes,
                last: now,
                retry_at: memory::retry_at(stuck, passes, now),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_folder_is_systemds_then_var_lib_then_beside_the_config() {
        let none = |_: &str| None;
        let systemd = |n: &str| (n == "STATE_DIRECTORY").then(|| "/var/lib/scimsync".into());
        let nowhere = |_: &Path| false;
        let var_lib = |p: &Path| p == Path::new("/var/lib/scimsync");
        let config = Path::new("conf/scimsync.yaml");
        assert_eq!(
            default_state_dir(config, &systemd, &nowhere),
            PathBuf::from("/var/lib/scimsync/state")
        );
        assert_eq!(
            default_state_dir(config, &none, &var_lib),
            PathBuf::from("/var/lib/scimsync/state")
        );
        assert_eq!(
            default_state_dir(config, &none, &nowhere),
            PathBuf::from("conf/.scimsync-state")
        );
        assert_eq!(
            default_state_dir(Path::new("scimsync.yaml"), &none, &nowhere),
            PathBuf::from("./.scimsync-state")
        );
    }
}
