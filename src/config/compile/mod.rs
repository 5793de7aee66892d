//! Raw config → validated [`Config`], with every problem found at once.
//!
//! The file is parsed into [`RawConfig`] (serde rejects unknown fields), then compiled concern
//! by concern, each in its own module: the Slack organisation and its token ([`target`]), the
//! directory sources ([`sources`]), what the planner decides with ([`policy`]), the limits that
//! stop an apply and what needs the state ([`safety`]), and how the process runs ([`runtime`]).
//! Each rule is a `compile_*` or `check_*` function that reports its problems at their place
//! and goes on, so one run reports every problem. The config comes back with its warnings
//! beside it; nothing here prints.

mod policy;
mod rules;
mod runtime;
mod safety;
mod services;
mod sources;
mod target;
mod values;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::ConfigIssue;
use super::paths::{Confinement, Paths};
use super::raw::{EnvOverrides, InvalidUsers, RawConfig};
use super::{Config, ConfigError};
use crate::diag::yaml::{Step, YamlDocument};
use crate::diag::{Problem, SourceLocation, sort_problems};

pub use runtime::INTERVAL_RANGE;
pub(crate) use values::parse_duration;

/// Problems that do not stop the config (e.g. a policy that the guards will refuse), sorted
/// by place: returned beside the config, for the caller to show.
pub type Warnings = Vec<Problem<ConfigIssue>>;

/// Compiles the bytes of config file `file` under the environment overrides `env`: the
/// config and its warnings, or every problem found (errors and warnings, sorted by place).
pub fn compile(
    file: &Arc<str>,
    bytes: &[u8],
    env: &EnvOverrides,
) -> Result<(Config, Warnings), ConfigError> {
    let fail = |problems| ConfigError {
        file: file.clone(),
        problems,
    };
    let (doc, raw) = parse(file, bytes).map_err(fail)?;
    let confinement = confinement(file, env).map_err(fail)?;
    let base = Path::new(&**file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut compiler = Compiler {
        doc: &doc,
        paths: Paths {
            base: &base,
            confinement: confinement.as_ref(),
        },
        problems: Vec::new(),
        token_vars: token_vars(&raw, env),
    };
    let config = compiler.compile_config(&raw, env);
    let mut problems = compiler.problems;
    sort_problems(&mut problems);
    match config {
        Some(mut config) if !problems.iter().any(Problem::is_error) => {
            config.digest = sha256_hex(bytes);
            Ok((config, problems))
        }
        _ => Err(fail(problems)),
    }
}

/// The file as YAML, and as the raw config: every shape error at its place.
fn parse(
    file: &Arc<str>,
    bytes: &[u8],
) -> Result<(YamlDocument, RawConfig), Vec<Problem<ConfigIssue>>> {
    let whole = SourceLocation::file(file);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(vec![Problem::error(whole, ConfigIssue::NotUtf8)]);
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = YamlDocument::parse(file, text).map_err(|e| {
        vec![Problem::error(
            e.location,
            ConfigIssue::Yaml { message: e.message },
        )]
    })?;
    if doc.value.is_null() {
        return Err(vec![Problem::error(whole, ConfigIssue::Empty)]);
    }
    let raw = doc.decode(&[]).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| Problem::error(e.location, ConfigIssue::Yaml { message: e.message }))
            .collect::<Vec<_>>()
    })?;
    Ok((doc, raw))
}

/// The folder `SCIMSYNC_CONFINE` names, when it is set; an unusable one stops everything.
fn confinement(
    file: &Arc<str>,
    env: &EnvOverrides,
) -> Result<Option<Confinement>, Vec<Problem<ConfigIssue>>> {
    let Some(named) = env.confine.as_deref() else {
        return Ok(None);
    };
    Confinement::new(named).map(Some).map_err(|reason| {
        let issue = ConfigIssue::ConfineUnusable {
            folder: named.to_string(),
            reason,
        };
        vec![Problem::error(SourceLocation::file(file), issue)]
    })
}

/// The SHA-256 of `bytes`, in lower-case hex: what `sha256sum` prints, so an auditor can
/// check a config file against the audit log. (`ring` is already in the tree, for TLS.)
pub fn sha256_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .fold(String::with_capacity(64), |mut hex, b| {
            let _ = write!(hex, "{b:02x}");
            hex
        })
}

/// A problem was found and is already among the compiler's problems.
struct Reported;

/// One compilation: the document (for places), how paths resolve, and the problems so far.
struct Compiler<'a> {
    doc: &'a YamlDocument,
    /// How the config's paths are resolved (and confined).
    paths: Paths<'a>,
    problems: Vec<Problem<ConfigIssue>>,
    /// The variables that may hold the Slack token (the file's `token_env`, the
    /// environment's): never passed to a command.
    token_vars: Vec<String>,
}

/// The variables that may hold the Slack token: `target.token_env` and
/// `SCIMSYNC_TOKEN_ENV`, as written.
fn token_vars(raw: &RawConfig, env: &EnvOverrides) -> Vec<String> {
    let file = raw.target.as_ref().and_then(|t| t.token_env.as_deref());
    file.into_iter()
        .chain(env.token_env.as_deref())
        .map(|name| name.trim().to_string())
        .collect()
}

impl Compiler<'_> {
    /// Every concern compiled, then the rules that cross concerns; `None` when the target
    /// could not be made (its problems are reported).
    fn compile_config(&mut self, raw: &RawConfig, env: &EnvOverrides) -> Option<Config> {
        let target = self.compile_target(raw, env);
        let sources = self.compile_sources(raw.sources.as_deref().unwrap_or_default());
        let mut policy = self.compile_policy(raw);
        let rate_limit = self.compile_rate_limit(raw);
        let daemon = self.compile_daemon(raw);
        let audit_log = self.compile_audit_log(raw);
        let lock_file = self.compile_lock_file(raw);
        let state_dir = self.compile_state_dir(raw, env);
        let stuck = self.compile_stuck(raw);
        self.check_stateless(raw, &policy, &state_dir, env);
        if state_dir == super::StateDir::Off {
            // Compared by what was last applied, so without the state: create-only.
            for a in crate::model::Attribute::ALL
                .into_iter()
                .filter(|a| a.compared_by_memory())
            {
                let modes = &mut policy.attributes.modes;
                modes.entry(a).or_insert(super::AttributeMode::CreateOnly);
            }
        }
        self.check_not_folders(&audit_log, &lock_file);
        self.check_time_scale(&rate_limit, target.as_ref());
        self.check_group_deletion(&policy);
        self.check_profile_fields(&policy);
        Some(Config {
            file: self.doc.file.clone(),
            target: target?,
            sources,
            policy,
            invalid_users: raw.invalid_users.unwrap_or(InvalidUsers::Fail),
            rate_limit,
            daemon,
            audit_log,
            audit_stdout: raw.audit_log.as_ref().is_some_and(|a| a.stdout()),
            lock_file,
            digest: String::new(),
            state_dir,
            stuck,
        })
    }

    fn at(&self, path: &[Step<'_>]) -> SourceLocation {
        self.doc.location(path)
    }

    /// Reports an error at `path`.
    fn error(&mut self, path: &[Step<'_>], issue: ConfigIssue) {
        let location = self.at(path);
        self.problems.push(Problem::error(location, issue));
    }

    /// Reports a warning at `path`.
    fn warn(&mut self, path: &[Step<'_>], issue: ConfigIssue) {
        let location = self.at(path);
        self.problems.push(Problem::warning(location, issue));
    }

    /// Whether `SCIMSYNC_CONFINE` is set.
    fn confined(&self) -> bool {
        self.paths.confinement.is_some()
    }

    /// The file or folder the config names at `at` (its text `text`): every path of the
    /// config is made here, relative to the config's folder and, under `SCIMSYNC_CONFINE`,
    /// refused (an error at `at`) unless it lies inside the confined folder.
    fn file_path(&mut self, at: &[Step<'_>], text: &str) -> Option<PathBuf> {
        match self.paths.config_path(text) {
            Ok(path) => Some(path),
            Err(outside) => {
                let issue = ConfigIssue::OutsideConfinement {
                    field: values::dotted(at),
                    path: text.trim().to_string(),
                    folder: outside.folder,
                    why: outside.why,
                };
                self.error(at, issue);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests;
