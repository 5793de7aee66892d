//! Raw config → validated [`Config`], with every problem found at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::paths::{Confinement, Paths};
use super::raw::{
    AttributeMode, Blank, EnvOverrides, InvalidUsers, MatchKey, RawAuditLog, RawConfig, RawSource,
    RawStateDir, ScimVersion, UnmanagedGroups, UnmanagedUsers,
};
use super::{
    AccountRef, AttributePolicy, ColumnMapping, Config, ConfigError, CsvColumn, CsvLayout,
    DEFAULT_MATCH_KEYS, DaemonSettings, Endpoint, Policy, RateLimit, Safety, Scope, SourceFormat,
    SourceSpec, StateDir, StuckSettings, Target, TokenSource,
};
use crate::diag::yaml::{Step, YamlDocument};
use crate::diag::{Diagnose, Problem, SourceLocation, sort_problems};
use crate::model::Attribute;
use crate::slack_rules;

/// A problem in a config file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigIssue {
    /// The file cannot be read.
    #[error("cannot read the config file: {reason}")]
    Unreadable {
        /// The operating system's reason.
        reason: String,
    },
    /// The file is not UTF-8.
    #[error("the config file is not UTF-8 text")]
    NotUtf8,
    /// The file has no content.
    #[error("the config file is empty")]
    Empty,
    /// Not YAML, or YAML of the wrong shape (serde_yaml's message).
    #[error("{message}")]
    Yaml {
        /// What is wrong, without serde_yaml's position (the problem has it).
        message: String,
    },
    /// A required setting is missing.
    #[error("`{field}` is required")]
    Missing {
        /// The setting, dotted (`target.url`).
        field: &'static str,
    },
    /// `target.url` does not parse.
    #[error("target.url {url:?} is not a URL: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },
    /// Plain http to a host that is not loopback.
    #[error(
        "target.url {url:?}: use https (plain http is allowed only to localhost/loopback, so the token never crosses a network in clear)"
    )]
    PlainHttp {
        /// The URL as given.
        url: String,
    },
    /// Credentials in `target.url` (never echoed back).
    #[error("target.url {url:?} must not carry credentials; use token_env or token_file")]
    CredentialsInUrl {
        /// The URL without its credentials.
        url: String,
    },
    /// Neither the URL's path nor `target.version` gives the SCIM version.
    #[error(
        "cannot tell the SCIM version from target.url {url:?} (its path does not end in /scim/v1 or /scim/v2): set target.version"
    )]
    UnknownVersion {
        /// The URL as given.
        url: String,
    },
    /// `target.version` contradicts the URL's path.
    #[error("target.version is {declared} but target.url {url:?} is a {derived} endpoint")]
    VersionMismatch {
        /// The URL as given.
        url: String,
        /// The version the config declares.
        declared: &'static str,
        /// The version the URL's path says.
        derived: &'static str,
    },
    /// No token source for a real endpoint.
    #[error("a token source is required: set target.token_env or target.token_file")]
    TokenSourceMissing,
    /// Both token sources given.
    #[error("set only one of target.token_env and target.token_file")]
    TokenSourceTwice,
    /// `token_env` is not a variable name.
    #[error("{name:?} is not an environment variable name")]
    InvalidEnvName {
        /// The name as given.
        name: String,
    },
    /// No sources.
    #[error("at least one source is required")]
    NoSources,
    /// A source with both or neither of `yaml:` and `csv:`.
    #[error("a source needs exactly one of `yaml:` or `csv:`")]
    SourceKind,
    /// A CSV setting on a YAML source.
    #[error("`{field}` only applies to csv sources")]
    CsvOnly {
        /// The setting.
        field: &'static str,
    },
    /// A column mapped to an empty list of headers.
    #[error("columns.{column}: list at least one header")]
    NoHeaders {
        /// The column key.
        column: &'static str,
    },
    /// A CSV source without an email column.
    #[error("a csv source needs `columns` with at least `email`")]
    MissingEmailColumn,
    /// A delimiter or separator that is not one character.
    #[error("`{field}` must be a single character, not {value:?}")]
    NotOneCharacter {
        /// The setting.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// `blank: clear` on an attribute that is never cleared.
    #[error("attributes.{attribute}: `blank: clear` is not allowed: {reason}")]
    CannotClear {
        /// The attribute.
        attribute: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A match key listed twice.
    #[error("match: `{key}` is listed twice")]
    DuplicateMatchKey {
        /// The key.
        key: String,
    },
    /// An empty `match` list.
    #[error("match: at least one key is required")]
    NoMatchKeys,
    /// A scope domain that is not a domain.
    #[error("{domain:?} is not an email domain")]
    InvalidDomain {
        /// The domain as given.
        domain: String,
    },
    /// A scope entry that is neither an email nor a Slack user id.
    #[error("{value:?} is neither an email nor a Slack user id (U… or W…)")]
    InvalidAccount {
        /// The entry as given.
        value: String,
    },
    /// A number outside its range.
    #[error("{field} is {value}, must be {range}")]
    OutOfRange {
        /// The setting, dotted.
        field: &'static str,
        /// The value as given.
        value: String,
        /// The range it must be in.
        range: &'static str,
    },
    /// A sped-up budget against a real Slack: N times Slack's limits.
    #[error(
        "rate_limit.time_scale is {value}, but the target is not an emulator: against Slack it \
         would spend {value} times Slack's budget; use it only with `url: embedded` or a \
         loopback `scimsync emulator --time-scale N`"
    )]
    TimeScaleAgainstSlack {
        /// The time scale given.
        value: String,
    },
    /// A file path scimsync must write that it cannot use.
    #[error("{field} {path:?} cannot be written: {reason}")]
    UnusablePath {
        /// The setting.
        field: &'static str,
        /// The path as resolved.
        path: String,
        /// Why.
        reason: &'static str,
    },
    /// `daemon.interval` is not a duration.
    #[error("daemon.interval {value:?} is not a duration like 30s, 15m, 1h or 1h30m")]
    InvalidDuration {
        /// The value as given.
        value: String,
    },
    /// A duration setting other than `daemon.interval` is not a duration.
    #[error("{field} {value:?} is not a duration like 30s, 15m, 1h or 1h30m")]
    NotADuration {
        /// The setting, dotted.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// A setting that needs the state while `state_dir: false`.
    #[error(
        "{field} needs the state kept between passes, but state_dir is false: set state_dir \
         to a folder (or remove it for the default one)"
    )]
    NeedsState {
        /// The setting, dotted.
        field: String,
    },
    /// `daemon.listen` is not a socket address.
    #[error("daemon.listen {value:?} is not an address like 0.0.0.0:9090")]
    InvalidListen {
        /// The value as given.
        value: String,
    },
    /// Unmanaged groups are to be deleted but the guard forbids deletions (a warning).
    #[error(
        "groups.unmanaged is `delete` but safety.allow_group_deletion is false: every deletion will trip the guard"
    )]
    GroupDeletionNotAllowed,
    /// `SCIMSYNC_TARGET_URL` pins the target and the file's `target.url` names another: the
    /// file (e.g. changed in a pull request) must not be able to send the token elsewhere.
    #[error(
        "target.url {config:?} differs from SCIMSYNC_TARGET_URL {pinned:?}, which pins the target: refused, so that the config cannot send the token elsewhere"
    )]
    TargetPinned {
        /// The pinned URL (the environment's).
        pinned: String,
        /// The file's URL, without credentials.
        config: String,
    },
    /// `SCIMSYNC_CONFINE` names no folder.
    #[error("SCIMSYNC_CONFINE {folder:?} cannot be the confined folder: {reason}")]
    ConfineUnusable {
        /// The variable's value.
        folder: String,
        /// Why.
        reason: String,
    },
    /// Under `SCIMSYNC_CONFINE`, a path the config names leaves the confined folder (by `..`,
    /// an absolute path or a symlink).
    #[error("{field} {path:?} leaves the confined folder {folder} (SCIMSYNC_CONFINE): {why}")]
    OutsideConfinement {
        /// The setting, dotted (`sources[0].csv`).
        field: String,
        /// The path as the config writes it.
        path: String,
        /// The confined folder, as `SCIMSYNC_CONFINE` names it.
        folder: String,
        /// Where it leads instead, or why it cannot be resolved.
        why: String,
    },
    /// Under `SCIMSYNC_CONFINE`, a setting by which the config would choose what scimsync
    /// reads or contacts.
    #[error(
        "{field} is refused under SCIMSYNC_CONFINE, where the config cannot choose {what}: {instead}"
    )]
    Confined {
        /// The setting, dotted.
        field: &'static str,
        /// What it would choose.
        what: &'static str,
        /// Where that comes from instead.
        instead: &'static str,
    },
    /// Under `SCIMSYNC_CONFINE`, something the environment must give is not set (the target,
    /// the token source for a real target).
    #[error("under SCIMSYNC_CONFINE {what} comes from the environment only: set {variables}")]
    ConfinedNeedsEnv {
        /// What is missing.
        what: &'static str,
        /// The variables that give it.
        variables: &'static str,
    },
    /// A setting that needs the state while `SCIMSYNC_STATE_DIR` is false.
    #[error(
        "{field} needs the state kept between passes, but SCIMSYNC_STATE_DIR is false: point \
         SCIMSYNC_STATE_DIR at a folder (an empty one carries nothing over from earlier runs), \
         or unset it"
    )]
    NeedsStateFromEnv {
        /// The setting, dotted.
        field: String,
    },
    /// A problem in a value set by an environment variable.
    #[error("{issue} (from {variable})")]
    FromEnv {
        /// The variable.
        variable: &'static str,
        /// The problem with its value.
        issue: Box<ConfigIssue>,
    },
}

impl Diagnose for ConfigIssue {
    fn help(&self) -> Option<String> {
        match self {
            ConfigIssue::UnknownVersion { .. } => Some("e.g. version: v2".into()),
            ConfigIssue::TargetPinned { .. } => Some(
                "remove target.url from the config (the environment supplies it), or make it equal"
                    .into(),
            ),
            ConfigIssue::Yaml { message } if message.contains("unknown field") => {
                Some("see `scimsync schema config` for every field".into())
            }
            _ => None,
        }
    }
}

/// Compiles the bytes of config file `file` under the environment overrides `env`.
pub fn compile(file: &Arc<str>, bytes: &[u8], env: &EnvOverrides) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError {
        file: file.clone(),
        problems,
    };
    let whole = SourceLocation::file(file);
    let Ok(text) = std::str::from_utf8(bytes) else {
        return Err(fail(vec![Problem::error(whole, ConfigIssue::NotUtf8)]));
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = YamlDocument::parse(file, text).map_err(|e| {
        fail(vec![Problem::error(
            e.location,
            ConfigIssue::Yaml { message: e.message },
        )])
    })?;
    if doc.value.is_null() {
        return Err(fail(vec![Problem::error(whole, ConfigIssue::Empty)]));
    }
    let raw: RawConfig = doc.decode(&[]).map_err(|errors| {
        fail(
            errors
                .into_iter()
                .map(|e| Problem::error(e.location, ConfigIssue::Yaml { message: e.message }))
                .collect(),
        )
    })?;
    let confinement = match env.confine.as_deref().map(Confinement::new) {
        None => None,
        Some(Ok(confinement)) => Some(confinement),
        Some(Err(reason)) => {
            let folder = env.confine.clone().unwrap_or_default();
            let issue = ConfigIssue::ConfineUnusable { folder, reason };
            return Err(fail(vec![Problem::error(whole, issue)]));
        }
    };
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
    };
    let config = compiler.config(&raw, env);
    let mut problems = compiler.problems;
    sort_problems(&mut problems);
    match config {
        Some(mut config) if !problems.iter().any(Problem::is_error) => {
            config.warnings = problems;
            config.digest = sha256_hex(bytes);
            Ok(config)
        }
        _ => Err(fail(problems)),
    }
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

struct Compiler<'a> {
    doc: &'a YamlDocument,
    /// How the config's paths are resolved (and confined).
    paths: Paths<'a>,
    problems: Vec<Problem<ConfigIssue>>,
}

impl Compiler<'_> {
    fn at(&self, path: &[Step<'_>]) -> SourceLocation {
        self.doc.location(path)
    }

    fn error(&mut self, path: &[Step<'_>], issue: ConfigIssue) {
        let location = self.at(path);
        self.problems.push(Problem::error(location, issue));
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
                    field: dotted(at),
                    path: text.trim().to_string(),
                    folder: outside.folder,
                    why: outside.why,
                };
                self.error(at, issue);
                None
            }
        }
    }

    fn config(&mut self, raw: &RawConfig, env: &EnvOverrides) -> Option<Config> {
        let target = self.target(raw, env);
        let sources = self.sources(raw.sources.as_deref().unwrap_or_default());
        let policy = self.policy(raw);
        let rate_limit = self.rate_limit(raw);
        let daemon = self.daemon(raw);
        let audit_log = match &raw.audit_log {
            Some(RawAuditLog::Path(p)) => self.file_path(&[Step::Key("audit_log")], p),
            Some(RawAuditLog::Settings(settings)) => settings
                .path
                .as_deref()
                .and_then(|p| self.file_path(&[Step::Key("audit_log"), Step::Key("path")], p)),
            None => None,
        };
        let audit_stdout = raw.audit_log.as_ref().is_some_and(|a| a.stdout());
        let lock_file = raw
            .lock_file
            .as_deref()
            .and_then(|p| self.file_path(&[Step::Key("lock_file")], p));
        let state_dir = self.state_dir(raw, env);
        let stuck = self.stuck(raw);
        if state_dir == StateDir::Off {
            self.refuse_stateless(raw, &policy, env.state_dir.is_some());
        }
        // A folder is wrong on any host. A missing folder is not judged: validate often runs
        // in CI, elsewhere than scimsync, where `/var/lib/scimsync` need not exist.
        for (field, path) in [("audit_log", &audit_log), ("lock_file", &lock_file)] {
            if let Some(path) = path.as_deref().filter(|p| p.is_dir()) {
                self.error(
                    &[Step::Key(field)],
                    ConfigIssue::UnusablePath {
                        field,
                        path: path.display().to_string(),
                        reason: "it is a folder",
                    },
                );
            }
        }
        if rate_limit.time_scale > 1.0
            && let Some(Target {
                endpoint: Endpoint::Url(url),
                ..
            }) = &target
            && !url
                .host()
                .is_some_and(|h| crate::scim::target::is_loopback(&h))
        {
            self.error(
                &[Step::Key("rate_limit"), Step::Key("time_scale")],
                ConfigIssue::TimeScaleAgainstSlack {
                    value: rate_limit.time_scale.to_string(),
                },
            );
        }
        if policy.unmanaged_groups == UnmanagedGroups::Delete && !policy.safety.allow_group_deletion
        {
            let location = self.at(&[Step::Key("groups"), Step::Key("unmanaged")]);
            self.problems.push(Problem::warning(
                location,
                ConfigIssue::GroupDeletionNotAllowed,
            ));
        }
        Some(Config {
            file: self.doc.file.clone(),
            target: target?,
            sources,
            policy,
            invalid_users: raw.invalid_users.unwrap_or(InvalidUsers::Fail),
            rate_limit,
            daemon,
            audit_log,
            audit_stdout,
            lock_file,
            digest: String::new(),
            state_dir,
            stuck,
            warnings: Vec::new(),
        })
    }

    fn target(&mut self, raw: &RawConfig, env: &EnvOverrides) -> Option<Target> {
        if self.confined() && env.target_url.is_none() {
            let in_file = raw.target.as_ref().is_some_and(|t| t.url.is_some());
            let issue = if in_file {
                ConfigIssue::Confined {
                    field: "target.url",
                    what: "the host the token is sent to",
                    instead: "SCIMSYNC_TARGET_URL must pin the target (target.url may then only \
                              repeat it)",
                }
            } else {
                ConfigIssue::ConfinedNeedsEnv {
                    what: "the target",
                    variables: "SCIMSYNC_TARGET_URL",
                }
            };
            self.error(&[Step::Key("target"), Step::Key("url")], issue);
            return None;
        }
        if raw.target.is_none() && env.target_url.is_none() {
            self.error(&[], ConfigIssue::Missing { field: "target" });
            return None;
        }
        let view = raw
            .target
            .as_ref()
            .map(|t| RawTargetView {
                url: t.url.clone(),
                version: t.version,
                token_env: t.token_env.clone(),
                token_file: t.token_file.clone(),
                emulator_seed: t.emulator_seed.clone(),
                emulator_state: t.emulator_state.clone(),
            })
            .unwrap_or_default();
        self.target_from(&view, env)
    }

    fn target_from(&mut self, raw: &RawTargetView, env: &EnvOverrides) -> Option<Target> {
        let url_path = [Step::Key("target"), Step::Key("url")];
        let (url, url_var) = match (&env.target_url, &raw.url) {
            (Some(url), _) => (url.trim().to_string(), Some(EnvOverrides::TARGET_URL)),
            (None, Some(url)) => (url.trim().to_string(), None),
            (None, None) => {
                self.error(
                    &[Step::Key("target")],
                    ConfigIssue::Missing {
                        field: "target.url",
                    },
                );
                return None;
            }
        };
        let (version, version_var) = match &env.target_version {
            Some(v) => match v.trim().to_ascii_lowercase().as_str() {
                "v1" => (Some(ScimVersion::V1), Some(EnvOverrides::TARGET_VERSION)),
                "v2" => (Some(ScimVersion::V2), Some(EnvOverrides::TARGET_VERSION)),
                _ => {
                    self.error(
                        &[Step::Key("target")],
                        ConfigIssue::FromEnv {
                            variable: EnvOverrides::TARGET_VERSION,
                            issue: Box::new(ConfigIssue::OutOfRange {
                                field: "target.version",
                                value: v.clone(),
                                range: "v1 or v2",
                            }),
                        },
                    );
                    return None;
                }
            },
            None => (raw.version, None),
        };
        let with_env = |issue: ConfigIssue, var: Option<&'static str>| match var {
            Some(variable) => ConfigIssue::FromEnv {
                variable,
                issue: Box::new(issue),
            },
            None => issue,
        };

        let (endpoint, version) = if url.eq_ignore_ascii_case("embedded") {
            if url_var.is_some() && self.confined_rehearsal_elsewhere(raw.url.as_deref(), &url) {
                return None;
            }
            (Endpoint::Embedded, version.unwrap_or(ScimVersion::V2))
        } else {
            let parsed = match check_url(&url) {
                Ok(parsed) => parsed,
                Err(issue) => {
                    self.error(&url_path, with_env(issue, url_var));
                    return None;
                }
            };
            let derived = derive_version(&parsed);
            let version = match (version, derived) {
                (Some(declared), Some(derived)) if declared != derived => {
                    let issue = ConfigIssue::VersionMismatch {
                        url: url.clone(),
                        declared: version_name(declared),
                        derived: version_name(derived),
                    };
                    let var = version_var.or(url_var);
                    self.error(
                        &[Step::Key("target"), Step::Key("version")],
                        with_env(issue, var),
                    );
                    return None;
                }
                (Some(v), _) | (None, Some(v)) => v,
                (None, None) => {
                    let issue = ConfigIssue::UnknownVersion { url: url.clone() };
                    self.error(&url_path, with_env(issue, url_var));
                    return None;
                }
            };
            if url_var.is_some() && self.pinned_elsewhere(&parsed, raw.url.as_deref(), &url) {
                return None;
            }
            (Endpoint::Url(parsed), version)
        };

        let Ok(token) = self.token_source(raw, env) else {
            return None;
        };
        self.finish_target(raw, endpoint, version, token)
    }

    /// The target, once its endpoint, version and token source are known: a real endpoint
    /// needs a token source; the emulator's files are paths of the config.
    fn finish_target(
        &mut self,
        raw: &RawTargetView,
        endpoint: Endpoint,
        version: ScimVersion,
        token: Option<TokenSource>,
    ) -> Option<Target> {
        if token.is_none() && endpoint != Endpoint::Embedded {
            let issue = if self.confined() {
                ConfigIssue::ConfinedNeedsEnv {
                    what: "the token source",
                    variables: "SCIMSYNC_TOKEN_ENV or SCIMSYNC_TOKEN_FILE",
                }
            } else {
                ConfigIssue::TokenSourceMissing
            };
            self.error(&[Step::Key("target")], issue);
            return None;
        }
        let mut file = |key, p: &Option<String>| {
            p.as_deref()
                .and_then(|p| self.file_path(&[Step::Key("target"), Step::Key(key)], p))
        };
        Some(Target {
            endpoint,
            version,
            token,
            emulator_seed: file("emulator_seed", &raw.emulator_seed),
            emulator_state: file("emulator_state", &raw.emulator_state),
        })
    }

    /// With the target pinned by `SCIMSYNC_TARGET_URL` (`pinned`, as given: `pinned_text`):
    /// whether the file's `target.url` names another, reported at that key.
    fn pinned_elsewhere(
        &mut self,
        pinned: &url::Url,
        file_url: Option<&str>,
        pinned_text: &str,
    ) -> bool {
        let Some(file_url) = file_url else {
            return false;
        };
        if same_target(pinned, file_url) {
            return false;
        }
        let config = url::Url::parse(file_url.trim())
            .map_or_else(|_| file_url.trim().to_string(), |u| redact_credentials(&u));
        self.error(
            &[Step::Key("target"), Step::Key("url")],
            ConfigIssue::TargetPinned {
                pinned: pinned_text.to_string(),
                config,
            },
        );
        true
    }

    /// With the target pinned to the emulator (`pinned`): whether the file's `target.url`
    /// names another target under `SCIMSYNC_CONFINE`, reported at that key. (Unconfined, a
    /// file naming a real target is rehearsed against the emulator: nothing is sent anywhere.
    /// Confined, `target.url` may only repeat the pin.)
    fn confined_rehearsal_elsewhere(&mut self, file_url: Option<&str>, pinned: &str) -> bool {
        let Some(file_url) = file_url.map(str::trim) else {
            return false;
        };
        if !self.confined() || file_url.eq_ignore_ascii_case("embedded") {
            return false;
        }
        let config = url::Url::parse(file_url)
            .map_or_else(|_| file_url.to_string(), |u| redact_credentials(&u));
        self.error(
            &[Step::Key("target"), Step::Key("url")],
            ConfigIssue::TargetPinned {
                pinned: pinned.to_string(),
                config,
            },
        );
        true
    }

    /// Where the token is read from: the environment's override, else the file's setting;
    /// `None` when neither names one.
    fn token_source(
        &mut self,
        raw: &RawTargetView,
        env: &EnvOverrides,
    ) -> Result<Option<TokenSource>, Reported> {
        if self.confined() {
            self.refuse_chosen_token(raw, env)?;
        }
        Ok(match (&env.token_env, &env.token_file) {
            (Some(_), Some(_)) => {
                self.error(
                    &[Step::Key("target")],
                    ConfigIssue::FromEnv {
                        variable: EnvOverrides::TOKEN_FILE,
                        issue: Box::new(ConfigIssue::TokenSourceTwice),
                    },
                );
                return Err(Reported);
            }
            (Some(name), None) => {
                let name = name.trim();
                if !is_env_name(name) {
                    self.error(
                        &[Step::Key("target")],
                        ConfigIssue::FromEnv {
                            variable: EnvOverrides::TOKEN_ENV,
                            issue: Box::new(ConfigIssue::InvalidEnvName { name: name.into() }),
                        },
                    );
                    return Err(Reported);
                }
                Some(TokenSource::Env(name.into()))
            }
            (None, Some(path)) => Some(TokenSource::File(Paths::env_path(path))),
            (None, None) => match (&raw.token_env, &raw.token_file) {
                (Some(_), Some(_)) => {
                    self.error(
                        &[Step::Key("target"), Step::Key("token_file")],
                        ConfigIssue::TokenSourceTwice,
                    );
                    return Err(Reported);
                }
                (Some(name), None) => {
                    let name = name.trim();
                    if !is_env_name(name) {
                        self.error(
                            &[Step::Key("target"), Step::Key("token_env")],
                            ConfigIssue::InvalidEnvName { name: name.into() },
                        );
                        return Err(Reported);
                    }
                    Some(TokenSource::Env(name.into()))
                }
                (None, Some(path)) => {
                    let at = [Step::Key("target"), Step::Key("token_file")];
                    Some(TokenSource::File(
                        self.file_path(&at, path).ok_or(Reported)?,
                    ))
                }
                (None, None) => None,
            },
        })
    }

    /// Under `SCIMSYNC_CONFINE` the token source is the environment's: a `token_env` or
    /// `token_file` in the config is refused unless it only repeats it.
    fn refuse_chosen_token(
        &mut self,
        raw: &RawTargetView,
        env: &EnvOverrides,
    ) -> Result<(), Reported> {
        let instead = "the token source comes from SCIMSYNC_TOKEN_ENV or SCIMSYNC_TOKEN_FILE \
                       (remove the setting, or make it repeat the environment's)";
        if let Some(name) = &raw.token_env
            && env.token_env.as_deref().map(str::trim) != Some(name.trim())
        {
            self.error(
                &[Step::Key("target"), Step::Key("token_env")],
                ConfigIssue::Confined {
                    field: "target.token_env",
                    what: "the environment variable the token is read from",
                    instead,
                },
            );
            return Err(Reported);
        }
        if let Some(path) = &raw.token_file {
            let named = self
                .paths
                .config_path(path)
                .unwrap_or_else(|outside| outside.path);
            let same = env
                .token_file
                .as_deref()
                .is_some_and(|e| Paths::same_file(&Paths::env_path(e), &named));
            if !same {
                self.error(
                    &[Step::Key("target"), Step::Key("token_file")],
                    ConfigIssue::Confined {
                        field: "target.token_file",
                        what: "the file the token is read from",
                        instead,
                    },
                );
                return Err(Reported);
            }
        }
        Ok(())
    }

    fn sources(&mut self, raw: &[RawSource]) -> Vec<SourceSpec> {
        if raw.is_empty() {
            let path: &[Step] = if self.doc.get(&[Step::Key("sources")]).is_some() {
                &[Step::Key("sources")]
            } else {
                &[]
            };
            self.error(path, ConfigIssue::NoSources);
            return Vec::new();
        }
        let mut specs = Vec::new();
        for (i, source) in raw.iter().enumerate() {
            let here = [Step::Key("sources"), Step::Index(i)];
            let declared_at = self.at(&here);
            let (path, format) = match (&source.yaml, &source.csv) {
                (Some(path), None) => {
                    for (field, set) in [
                        ("columns", source.columns.is_some()),
                        ("delimiter", source.delimiter.is_some()),
                        ("groups_separator", source.groups_separator.is_some()),
                    ] {
                        if set {
                            self.error(
                                &[here[0], here[1], Step::Key(field)],
                                ConfigIssue::CsvOnly { field },
                            );
                        }
                    }
                    (path.clone(), Some(SourceFormat::Yaml))
                }
                (None, Some(path)) => {
                    let layout = self.csv_layout(source, &here);
                    (path.clone(), layout.map(SourceFormat::Csv))
                }
                _ => {
                    self.error(&here, ConfigIssue::SourceKind);
                    continue;
                }
            };
            let key = if source.yaml.is_some() { "yaml" } else { "csv" };
            let path = self.file_path(&[here[0], here[1], Step::Key(key)], &path);
            let (Some(format), Some(path)) = (format, path) else {
                continue;
            };
            specs.push(SourceSpec {
                display: path.to_string_lossy().into(),
                path,
                format,
                override_earlier: source.override_earlier.unwrap_or(false),
                allow_empty: source.allow_empty.unwrap_or(false),
                min_users: source.min_users,
                declared_at,
            });
        }
        specs
    }

    fn csv_layout(&mut self, source: &RawSource, here: &[Step<'_>; 2]) -> Option<CsvLayout> {
        let one_char =
            |this: &mut Self, field: &'static str, value: &Option<String>, default| match value {
                None => Some(default),
                Some(v) if v.chars().count() == 1 => v.chars().next(),
                Some(v) => {
                    this.error(
                        &[here[0], here[1], Step::Key(field)],
                        ConfigIssue::NotOneCharacter {
                            field,
                            value: v.clone(),
                        },
                    );
                    None
                }
            };
        let delimiter = one_char(self, "delimiter", &source.delimiter, ',');
        let delimiter = match delimiter {
            Some(c) if c.is_ascii() && c != '"' && c != '\n' && c != '\r' => Some(c as u8),
            Some(c) => {
                self.error(
                    &[here[0], here[1], Step::Key("delimiter")],
                    ConfigIssue::NotOneCharacter {
                        field: "delimiter",
                        value: c.to_string(),
                    },
                );
                None
            }
            None => None,
        };
        let separator = one_char(self, "groups_separator", &source.groups_separator, ';');
        let Some(columns) = &source.columns else {
            self.error(here, ConfigIssue::MissingEmailColumn);
            return None;
        };
        let email = columns.header(CsvColumn::Attribute(Attribute::Email));
        if email.is_none_or(|e| e.trim().is_empty()) {
            self.error(
                &[here[0], here[1], Step::Key("columns")],
                ConfigIssue::MissingEmailColumn,
            );
            return None;
        }
        let mut mappings = Vec::with_capacity(columns.headers.len());
        for (column, headers) in &columns.headers {
            let at = [
                here[0],
                here[1],
                Step::Key("columns"),
                Step::Key(column.key()),
            ];
            let mut names = headers.0.iter().map(|h| h.trim().to_string());
            let Some(header) = names.next() else {
                self.error(
                    &at,
                    ConfigIssue::NoHeaders {
                        column: column.key(),
                    },
                );
                continue;
            };
            mappings.push(ColumnMapping {
                column: *column,
                declared_at: self.at(&at),
                header,
                fallbacks: names.collect(),
            });
        }
        let columns = mappings;
        Some(CsvLayout {
            columns,
            delimiter: delimiter?,
            groups_separator: separator?,
        })
    }

    fn policy(&mut self, raw: &RawConfig) -> Policy {
        let mut match_keys = Vec::new();
        match &raw.match_keys {
            None => match_keys = DEFAULT_MATCH_KEYS.to_vec(),
            Some(keys) if keys.is_empty() => {
                self.error(&[Step::Key("match")], ConfigIssue::NoMatchKeys)
            }
            Some(keys) => {
                for (i, key) in keys.iter().enumerate() {
                    if match_keys.contains(key) {
                        self.error(
                            &[Step::Key("match"), Step::Index(i)],
                            ConfigIssue::DuplicateMatchKey {
                                key: match_key_name(*key).into(),
                            },
                        );
                    } else {
                        match_keys.push(*key);
                    }
                }
            }
        }
        let scope = self.scope(raw);
        let settings = raw
            .attributes
            .iter()
            .flat_map(|a| a.settings.iter().copied());
        let mut attributes = AttributePolicy::default();
        for (attribute, setting) in settings {
            if let Some(mode) = setting.mode() {
                attributes.modes.insert(attribute, mode);
            }
            if let Some(blank) = setting.blank() {
                if blank == Blank::Clear
                    && let Some(reason) = AttributePolicy::cannot_clear(attribute)
                {
                    self.error(
                        &[
                            Step::Key("attributes"),
                            Step::Key(attribute.name()),
                            Step::Key("blank"),
                        ],
                        ConfigIssue::CannotClear {
                            attribute: attribute.name(),
                            reason,
                        },
                    );
                }
                attributes.blanks.insert(attribute, blank);
            }
        }
        Policy {
            match_keys,
            scope,
            unmanaged_users: raw.unmanaged_users.unwrap_or(UnmanagedUsers::Report),
            unmanaged_groups: raw
                .groups
                .as_ref()
                .and_then(|g| g.unmanaged)
                .unwrap_or(UnmanagedGroups::Ignore),
            attributes,
            safety: self.safety(raw),
        }
    }

    fn scope(&mut self, raw: &RawConfig) -> Scope {
        let mut scope = Scope::default();
        let Some(raw) = &raw.scope else { return scope };
        for (i, domain) in raw.email_domains.iter().flatten().enumerate() {
            let d = domain.trim().trim_start_matches('@').to_ascii_lowercase();
            let valid = slack_rules::check_email(&format!("x@{d}")).is_ok()
                && d.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
            if valid {
                if !scope.email_domains.contains(&d) {
                    scope.email_domains.push(d);
                }
            } else {
                self.error(
                    &[
                        Step::Key("scope"),
                        Step::Key("email_domains"),
                        Step::Index(i),
                    ],
                    ConfigIssue::InvalidDomain {
                        domain: domain.clone(),
                    },
                );
            }
        }
        for (field, list) in [("exclude", &raw.exclude), ("protected", &raw.protected)] {
            for (i, value) in list.iter().flatten().enumerate() {
                match account_ref(value) {
                    Some(account) => match field {
                        "exclude" => scope.exclude.push(account),
                        _ => scope.protected.push(account),
                    },
                    None => self.error(
                        &[Step::Key("scope"), Step::Key(field), Step::Index(i)],
                        ConfigIssue::InvalidAccount {
                            value: value.clone(),
                        },
                    ),
                }
            }
        }
        scope
    }

    fn safety(&mut self, raw: &RawConfig) -> Safety {
        let mut safety = Safety::default();
        let Some(raw) = &raw.safety else {
            return safety;
        };
        let s = Step::Key("safety");
        if let Some(v) = raw.max_deactivations {
            safety.max_deactivations = v;
        }
        if let Some(v) = raw.max_deactivation_ratio {
            safety.max_deactivation_ratio = self.ratio(s, "max_deactivation_ratio", v);
        }
        if let Some(v) = raw.max_reactivations {
            safety.max_reactivations = v;
        }
        if let Some(v) = raw.max_reactivation_ratio {
            safety.max_reactivation_ratio = self.ratio(s, "max_reactivation_ratio", v);
        }
        if let Some(v) = raw.max_clears {
            safety.max_clears = v;
        }
        if let Some(v) = raw.max_clear_ratio {
            safety.max_clear_ratio = self.ratio(s, "max_clear_ratio", v);
        }
        if let Some(v) = raw.max_membership_removals {
            safety.max_membership_removals = v;
        }
        if let Some(v) = raw.min_directory_users {
            safety.min_directory_users = v;
        }
        if let Some(v) = raw.allow_group_deletion {
            safety.allow_group_deletion = v;
        }
        if let Some(text) = &raw.deactivation_grace {
            safety.deactivation_grace = self.duration(
                &[s, Step::Key("deactivation_grace")],
                "safety.deactivation_grace",
                text,
            );
        }
        if let Some(v) = raw.max_source_shrink {
            safety.max_source_shrink = Some(self.ratio(s, "max_source_shrink", v));
        }
        safety
    }

    /// A duration of at most a week, or an error at `path`.
    fn duration(
        &mut self,
        path: &[Step<'static>],
        field: &'static str,
        text: &str,
    ) -> Option<Duration> {
        match parse_duration(text) {
            Some(v) if v <= Duration::from_secs(7 * 24 * 3600) => Some(v),
            Some(_) => {
                self.error(
                    path,
                    ConfigIssue::OutOfRange {
                        field,
                        value: text.to_string(),
                        range: "at most 168h (a week)",
                    },
                );
                None
            }
            None => {
                self.error(
                    path,
                    ConfigIssue::NotADuration {
                        field,
                        value: text.to_string(),
                    },
                );
                None
            }
        }
    }

    fn stuck(&mut self, raw: &RawConfig) -> StuckSettings {
        let mut stuck = StuckSettings::default();
        let Some(raw) = &raw.stuck else {
            return stuck;
        };
        let s = Step::Key("stuck");
        match raw.after {
            Some(0) => self.error(
                &[s, Step::Key("after")],
                ConfigIssue::OutOfRange {
                    field: "stuck.after",
                    value: "0".into(),
                    range: "at least 1",
                },
            ),
            Some(n) => stuck.after = n,
            None => {}
        }
        if let Some(text) = &raw.backoff
            && let Some(d) = self.duration(&[s, Step::Key("backoff")], "stuck.backoff", text)
        {
            stuck.backoff = d;
        }
        stuck
    }

    /// Where the state is kept: `SCIMSYNC_STATE_DIR` (from whoever runs scimsync, so never
    /// confined) wins over the config's `state_dir`.
    fn state_dir(&mut self, raw: &RawConfig, env: &EnvOverrides) -> StateDir {
        if let Some(value) = &env.state_dir {
            return match value.trim().to_ascii_lowercase().as_str() {
                "false" | "off" | "none" => StateDir::Off,
                "true" | "on" | "yes" => {
                    let issue = ConfigIssue::OutOfRange {
                        field: "state_dir",
                        value: value.clone(),
                        range: "a folder, or false (off, none) for no state",
                    };
                    self.error(
                        &[],
                        ConfigIssue::FromEnv {
                            variable: EnvOverrides::STATE_DIR,
                            issue: Box::new(issue),
                        },
                    );
                    StateDir::Default
                }
                _ => StateDir::At(Paths::env_path(value)),
            };
        }
        match &raw.state_dir {
            None | Some(RawStateDir::Enabled(true)) => StateDir::Default,
            Some(RawStateDir::Enabled(false)) => StateDir::Off,
            Some(RawStateDir::Path(p)) => self
                .file_path(&[Step::Key("state_dir")], p)
                .map_or(StateDir::Default, StateDir::At),
        }
    }

    /// With no state (`state_dir: false`, or `SCIMSYNC_STATE_DIR=false` when `from_env`),
    /// every setting that needs the state is an error at its place.
    fn refuse_stateless(&mut self, raw: &RawConfig, policy: &Policy, from_env: bool) {
        let mut needs: Vec<(Vec<Step<'static>>, String)> = Vec::new();
        if let Some(safety) = &raw.safety {
            if safety.deactivation_grace.is_some() {
                needs.push((
                    vec![Step::Key("safety"), Step::Key("deactivation_grace")],
                    "safety.deactivation_grace".into(),
                ));
            }
            if safety.max_source_shrink.is_some() {
                needs.push((
                    vec![Step::Key("safety"), Step::Key("max_source_shrink")],
                    "safety.max_source_shrink".into(),
                ));
            }
        }
        if raw.stuck.is_some() {
            needs.push((vec![Step::Key("stuck")], "stuck".into()));
        }
        let mut reported: Vec<_> = policy
            .attributes
            .modes
            .iter()
            .filter(|(_, m)| **m == AttributeMode::Report)
            .map(|(a, _)| a.spec().name)
            .collect();
        reported.sort_unstable();
        for name in reported {
            needs.push((
                vec![Step::Key("attributes"), Step::Key(name)],
                format!("attributes.{name}: report"),
            ));
        }
        for (path, field) in needs {
            let issue = if from_env {
                ConfigIssue::NeedsStateFromEnv { field }
            } else {
                ConfigIssue::NeedsState { field }
            };
            self.error(&path, issue);
        }
    }

    /// A `safety` ratio: between 0 and 1, else an error (the config is then refused, so the
    /// value returned does not matter; it is the default).
    fn ratio(&mut self, s: Step<'static>, field: &'static str, v: f64) -> f64 {
        if (0.0..=1.0).contains(&v) {
            return v;
        }
        let qualified = match field {
            "max_deactivation_ratio" => "safety.max_deactivation_ratio",
            "max_source_shrink" => "safety.max_source_shrink",
            "max_clear_ratio" => "safety.max_clear_ratio",
            _ => "safety.max_reactivation_ratio",
        };
        self.error(
            &[s, Step::Key(field)],
            ConfigIssue::OutOfRange {
                field: qualified,
                value: v.to_string(),
                range: "between 0 and 1",
            },
        );
        Safety::default().max_deactivation_ratio
    }

    fn rate_limit(&mut self, raw: &RawConfig) -> RateLimit {
        let mut limit = RateLimit::default();
        let Some(raw) = &raw.rate_limit else {
            return limit;
        };
        let r = Step::Key("rate_limit");
        if let Some(share) = raw.share {
            if share > 0.0 && share <= 1.0 {
                limit.share = share;
            } else {
                self.error(
                    &[r, Step::Key("share")],
                    ConfigIssue::OutOfRange {
                        field: "rate_limit.share",
                        value: share.to_string(),
                        range: "more than 0 and at most 1",
                    },
                );
            }
        }
        if let Some(c) = raw.concurrency {
            if (1..=64).contains(&c) {
                limit.concurrency = c;
            } else {
                self.error(
                    &[r, Step::Key("concurrency")],
                    ConfigIssue::OutOfRange {
                        field: "rate_limit.concurrency",
                        value: c.to_string(),
                        range: "between 1 and 64",
                    },
                );
            }
        }
        if let Some(t) = raw.time_scale {
            if (1.0..=10_000.0).contains(&t) {
                limit.time_scale = t;
            } else {
                self.error(
                    &[r, Step::Key("time_scale")],
                    ConfigIssue::OutOfRange {
                        field: "rate_limit.time_scale",
                        value: t.to_string(),
                        range: "between 1 and 10000",
                    },
                );
            }
        }
        limit
    }

    fn daemon(&mut self, raw: &RawConfig) -> DaemonSettings {
        let mut daemon = DaemonSettings::default();
        let Some(raw) = &raw.daemon else {
            return daemon;
        };
        let d = Step::Key("daemon");
        if let Some(interval) = &raw.interval {
            match parse_duration(interval) {
                Some(v) if INTERVAL_RANGE.contains(&v) => daemon.interval = v,
                Some(_) => self.error(
                    &[d, Step::Key("interval")],
                    ConfigIssue::OutOfRange {
                        field: "daemon.interval",
                        value: interval.clone(),
                        range: "between 1s and 168h (a week)",
                    },
                ),
                None => self.error(
                    &[d, Step::Key("interval")],
                    ConfigIssue::InvalidDuration {
                        value: interval.clone(),
                    },
                ),
            }
        }
        if let Some(jitter) = raw.jitter {
            if (0.0..=1.0).contains(&jitter) {
                daemon.jitter = jitter;
            } else {
                self.error(
                    &[d, Step::Key("jitter")],
                    ConfigIssue::OutOfRange {
                        field: "daemon.jitter",
                        value: jitter.to_string(),
                        range: "between 0 and 1",
                    },
                );
            }
        }
        if let Some(listen) = &raw.listen {
            match listen.trim().parse::<SocketAddr>() {
                Ok(addr) => daemon.listen = addr,
                Err(_) => self.error(
                    &[d, Step::Key("listen")],
                    ConfigIssue::InvalidListen {
                        value: listen.clone(),
                    },
                ),
            }
        }
        daemon
    }
}

#[derive(Default)]
struct RawTargetView {
    url: Option<String>,
    version: Option<ScimVersion>,
    token_env: Option<String>,
    token_file: Option<String>,
    emulator_seed: Option<String>,
    emulator_state: Option<String>,
}

/// The one target-URL rule ([`crate::scim::target`]), with its problems as config issues.
fn check_url(url: &str) -> Result<url::Url, ConfigIssue> {
    use crate::scim::target::{self, TargetProblem};
    target::check(url).map_err(|problem| match problem {
        TargetProblem::Credentials => ConfigIssue::CredentialsInUrl {
            url: url::Url::parse(url).map_or_else(|_| String::new(), |u| redact_credentials(&u)),
        },
        TargetProblem::PlainHttp => ConfigIssue::PlainHttp { url: url.into() },
        other @ (TargetProblem::NotUrl(_) | TargetProblem::NoHost | TargetProblem::Scheme(_)) => {
            ConfigIssue::InvalidUrl {
                url: url.into(),
                reason: match other {
                    TargetProblem::NotUrl(reason) => reason,
                    o => o.to_string(),
                },
            }
        }
    })
}

/// Whether the file's `target.url` names the pinned target: the same URL once parsed (case of
/// scheme and host, default port), with or without a trailing slash.
fn same_target(pinned: &url::Url, file_url: &str) -> bool {
    let Ok(file) = url::Url::parse(file_url.trim()) else {
        return false;
    };
    let key = |u: &url::Url| {
        let mut u = u.clone();
        let path = u.path().trim_end_matches('/').to_string();
        u.set_path(&path);
        u.to_string()
    };
    key(pinned) == key(&file)
}

fn redact_credentials(url: &url::Url) -> String {
    let mut copy = url.clone();
    let _ = copy.set_username("");
    let _ = copy.set_password(None);
    copy.to_string()
}

/// The dialect the URL's path names, by the one rule ([`crate::scim::target`]).
fn derive_version(url: &url::Url) -> Option<ScimVersion> {
    crate::scim::target::version_from_path(url).map(|v| match v {
        crate::scim::Version::V1 => ScimVersion::V1,
        crate::scim::Version::V2 => ScimVersion::V2,
    })
}

fn version_name(v: ScimVersion) -> &'static str {
    match v {
        ScimVersion::V1 => "v1",
        ScimVersion::V2 => "v2",
    }
}

fn match_key_name(key: MatchKey) -> &'static str {
    match key {
        MatchKey::Id => "id",
        MatchKey::EmployeeNumber => "employee_number",
        MatchKey::Email => "email",
        MatchKey::UserName => "user_name",
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// An email (by key) or a Slack user id.
fn account_ref(value: &str) -> Option<AccountRef> {
    let value = value.trim();
    if value.contains('@') {
        slack_rules::check_email(value).ok()?;
        return Some(AccountRef::Email(slack_rules::email_key(value)));
    }
    let mut chars = value.chars();
    let ok = matches!(chars.next(), Some('U' | 'W'))
        && value.len() >= 3
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    ok.then(|| AccountRef::UserId(value.to_string()))
}

/// `30s`, `15m`, `1h`, `1h30m`, `2h5m10s`.
/// The daemon's interval: at least a second (a pass lists all of Slack), at most a week (a
/// longer wait is a stopped sync; and no arithmetic on it can overflow).
pub const INTERVAL_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(7 * 24 * 3600);

pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let mut total = 0u64;
    let mut number = String::new();
    let mut last_unit = u64::MAX;
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        // Units must come once each, largest first.
        if number.is_empty() || unit >= last_unit {
            return None;
        }
        last_unit = unit;
        total = total.checked_add(number.parse::<u64>().ok()?.checked_mul(unit)?)?;
        number.clear();
    }
    if !number.is_empty() {
        return None;
    }
    Some(Duration::from_secs(total))
}

/// A path into the config, dotted as messages name settings: `sources[0].csv`.
fn dotted(path: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in path {
        match step {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AttributeMode;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
        for bad in ["", "15", "m", "1m1h", "1x", "1h1h", "-5m"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn urls() {
        assert!(check_url("https://api.slack.com/scim/v2/").is_ok());
        assert!(check_url("http://127.0.0.1:8080/scim/v1").is_ok());
        assert!(check_url("http://localhost/scim/v1").is_ok());
        assert!(check_url("http://[::1]:9/scim/v1").is_ok());
        assert!(matches!(
            check_url("http://slack.example.com/scim/v2"),
            Err(ConfigIssue::PlainHttp { .. })
        ));
        assert!(matches!(
            check_url("https://u:secret@api.slack.com/scim/v2"),
            Err(ConfigIssue::CredentialsInUrl { url }) if !url.contains("secret")
        ));
        assert!(matches!(
            check_url("ftp://x/scim/v2"),
            Err(ConfigIssue::InvalidUrl { .. })
        ));
        let v = |u: &str| derive_version(&url::Url::parse(u).unwrap());
        assert_eq!(v("https://api.slack.com/scim/v1"), Some(ScimVersion::V1));
        assert_eq!(v("https://api.slack.com/scim/v2/"), Some(ScimVersion::V2));
        assert_eq!(v("https://proxy.example.com/slack"), None);
    }

    #[test]
    fn accounts_are_emails_or_slack_ids() {
        assert_eq!(
            account_ref(" IT-Admin@Example.com "),
            Some(AccountRef::Email("it-admin@example.com".into()))
        );
        assert_eq!(
            account_ref("W0123ABC"),
            Some(AccountRef::UserId("W0123ABC".into()))
        );
        assert_eq!(account_ref("bob"), None);
        assert_eq!(account_ref("w0123"), None);
    }

    fn compile_str(text: &str, env: &EnvOverrides) -> Result<Config, Vec<String>> {
        compile(&Arc::from("conf/scimsync.yaml"), text.as_bytes(), env)
            .map_err(|e| e.problems.iter().map(ToString::to_string).collect())
    }

    const MINIMAL: &str = "target:\n  url: https://api.slack.com/scim/v1\n  token_file: secret.txt\nsources:\n  - yaml: dir.yaml\n";

    /// Column keys and policy attributes come from the attribute table; unknown ones are
    /// reported at the key, all at once, listing the valid names as serde's own structs did.
    #[test]
    fn column_keys_and_policy_attributes_are_read_by_name() {
        let errors = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{mail: M, email: E, title: T, boss: B}}\nattributes: {{titel: ignore, email: ignore, title: sometimes}}\n"
            ),
            &EnvOverrides::default(),
        )
        .unwrap_err();
        fn listed<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
            let quoted: Vec<String> = names.into_iter().map(|n| format!("`{n}`")).collect();
            quoted.join(", ")
        }
        // `id`, `email`, …, `guest`, `guest_expiration`, `active`, `groups`: the table's order.
        let columns = listed(CsvColumn::KEYS);
        // `user_name`, `given_name`, …, `manager`, `start_date`, `guest`.
        let policy = listed(
            crate::model::TABLE
                .iter()
                .filter(|s| s.policy)
                .map(|s| s.name),
        );
        assert_eq!(
            errors,
            [
                format!(
                    "conf/scimsync.yaml:7:15: error: sources[1].columns.mail: unknown field `mail`, expected one of {columns}"
                ),
                format!(
                    "conf/scimsync.yaml:7:44: error: sources[1].columns.boss: unknown field `boss`, expected one of {columns}"
                ),
                format!(
                    "conf/scimsync.yaml:8:14: error: attributes.titel: unknown field `titel`, expected one of {policy}"
                ),
                format!(
                    "conf/scimsync.yaml:8:29: error: attributes.email: unknown field `email`, expected one of {policy}"
                ),
                "conf/scimsync.yaml:8:51: error: attributes.title: unknown variant `sometimes`, expected one of `enforce`, `create_only`, `ignore`, `report`".to_string(),
            ]
        );

        let config = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{groups: G, title: ~, email: E, guest_expiration: U, guest: F}}\nattributes: {{start_date: ignore, manager: create_only}}\n"
            ),
            &EnvOverrides::default(),
        )
        .unwrap();
        let SourceFormat::Csv(layout) = &config.sources[1].format else {
            panic!("csv")
        };
        // In table order, whatever the file's; `null` is absent.
        let keys: Vec<&str> = layout.columns.iter().map(|c| c.column.key()).collect();
        assert_eq!(keys, ["email", "guest", "guest_expiration", "groups"]);
        let attributes = &config.policy.attributes;
        assert_eq!(
            attributes.mode(Attribute::StartDate),
            super::super::AttributeMode::Ignore
        );
        assert_eq!(
            attributes.mode(Attribute::Manager),
            super::super::AttributeMode::CreateOnly
        );
        assert_eq!(
            attributes.mode(Attribute::Title),
            super::super::AttributeMode::Enforce
        );

        let errors = compile_str(
            &format!("{MINIMAL}  - csv: p.csv\n    columns: {{email: ~, title: T}}\n"),
            &EnvOverrides::default(),
        )
        .unwrap_err();
        assert_eq!(
            errors,
            ["conf/scimsync.yaml:7:14: error: a csv source needs `columns` with at least `email`"]
        );
    }

    #[test]
    fn a_full_config_compiles_with_paths_resolved() {
        let config = compile_str(
            "target:
  url: https://api.slack.com/scim/v2/
  token_env: SLACK_SCIM_TOKEN
sources:
  - yaml: dir.yaml
  - csv: ../hr/people.csv
    columns: {email: Email, manager_email: Boss, guest_expiration: Until}
    delimiter: ';'
    groups_separator: '|'
    override: true
match: [email, employee_number]
scope: {email_domains: ['@Example.com'], exclude: [bot@example.com], protected: [W0ADMIN1]}
unmanaged_users: deactivate
groups: {unmanaged: delete}
attributes: {display_name: create_only, title: ignore}
invalid_users: skip
safety: {max_deactivations: 3, max_deactivation_ratio: 0.1, min_directory_users: 50, allow_group_deletion: true}
rate_limit: {share: 0.25, concurrency: 2}
daemon: {interval: 1h30m, jitter: 0, listen: '0.0.0.0:9191'}
audit_log: audit.jsonl
",
            &EnvOverrides::default(),
        )
        .unwrap();
        assert_eq!(config.target.version, ScimVersion::V2);
        assert_eq!(
            config.target.token,
            Some(TokenSource::Env("SLACK_SCIM_TOKEN".into()))
        );
        assert_eq!(config.sources[0].path, PathBuf::from("conf/dir.yaml"));
        assert_eq!(config.sources[1].display.as_ref(), "hr/people.csv");
        assert_eq!(
            config.sources[1].declared_at.to_string(),
            "conf/scimsync.yaml:6:5"
        );
        assert!(config.sources[1].override_earlier);
        let SourceFormat::Csv(layout) = &config.sources[1].format else {
            panic!("csv")
        };
        assert_eq!(layout.delimiter, b';');
        assert_eq!(layout.groups_separator, '|');
        let keys: Vec<&str> = layout.columns.iter().map(|c| c.column.key()).collect();
        assert_eq!(keys, ["email", "manager_email", "guest_expiration"]);
        assert_eq!(
            layout.columns[1].declared_at.to_string(),
            "conf/scimsync.yaml:7:44"
        );
        let policy = &config.policy;
        assert_eq!(
            policy.match_keys,
            [MatchKey::Email, MatchKey::EmployeeNumber]
        );
        assert_eq!(policy.scope.email_domains, ["example.com"]);
        assert_eq!(policy.unmanaged_users, UnmanagedUsers::Deactivate);
        assert_eq!(policy.unmanaged_groups, UnmanagedGroups::Delete);
        assert_eq!(
            policy.attributes.mode(Attribute::DisplayName),
            super::super::AttributeMode::CreateOnly
        );
        assert_eq!(policy.safety.max_deactivations, 3);
        assert_eq!(policy.safety.min_directory_users, 50);
        assert_eq!(config.invalid_users, InvalidUsers::Skip);
        assert_eq!(config.rate_limit.share, 0.25);
        assert_eq!(config.daemon.interval, Duration::from_secs(5400));
        assert_eq!(config.daemon.listen.port(), 9191);
        assert_eq!(config.audit_log, Some(PathBuf::from("conf/audit.jsonl")));
        assert!(config.warnings.is_empty());
    }

    #[test]
    fn the_audit_log_is_a_path_or_a_map_with_stdout() {
        let env = EnvOverrides::default();
        let with = |audit: &str| compile_str(&format!("{MINIMAL}audit_log: {audit}\n"), &env);
        let c = with("a.jsonl").unwrap();
        assert_eq!(
            (c.audit_log, c.audit_stdout),
            (Some(PathBuf::from("conf/a.jsonl")), false)
        );
        let c = with("{path: a.jsonl, stdout: true}").unwrap();
        assert_eq!(
            (c.audit_log, c.audit_stdout),
            (Some(PathBuf::from("conf/a.jsonl")), true)
        );
        let c = with("{stdout: true}").unwrap();
        assert_eq!((c.audit_log, c.audit_stdout), (None, true));
        let c = compile_str(MINIMAL, &env).unwrap();
        assert_eq!((c.audit_log, c.audit_stdout), (None, false));
        let errors = with("{path: a.jsonl, stdot: true}").unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:#?}");
        assert!(
            errors[0].starts_with(
                "conf/scimsync.yaml:6:28: error: audit_log.stdot: unknown field `stdot`"
            ),
            "{errors:#?}"
        );
        let errors = with("[a.jsonl]").unwrap_err();
        assert!(
            errors[0].contains("expected a file path or a map with `path` and `stdout`"),
            "{errors:#?}"
        );
    }

    #[test]
    fn columns_take_fallbacks_and_attributes_a_blank_rule() {
        let env = EnvOverrides::default();
        let config = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{email: E, given_name: [Preferred, ' Legal '], title: T}}\nattributes:\n  title: {{blank: clear}}\n  manager: {{mode: create_only, blank: keep}}\n  display_name: ignore\n"
            ),
            &env,
        )
        .unwrap();
        let SourceFormat::Csv(layout) = &config.sources[1].format else {
            panic!("csv")
        };
        let given = &layout.columns[1];
        assert_eq!(given.column.key(), "given_name");
        assert_eq!(given.header, "Preferred");
        assert_eq!(given.fallbacks, ["Legal"]);
        assert!(layout.columns[2].fallbacks.is_empty());
        let attributes = &config.policy.attributes;
        assert_eq!(attributes.blank(Attribute::Title), Blank::Clear);
        assert_eq!(attributes.mode(Attribute::Title), AttributeMode::Enforce);
        assert_eq!(attributes.blank(Attribute::Manager), Blank::Keep);
        assert_eq!(
            attributes.mode(Attribute::Manager),
            AttributeMode::CreateOnly
        );
        assert_eq!(
            attributes.blank(Attribute::Phone),
            Blank::Keep,
            "the default"
        );
        assert_eq!(
            attributes.mode(Attribute::DisplayName),
            AttributeMode::Ignore
        );

        // What is never cleared is refused where it is written; so is an empty list of
        // headers, and an unknown setting.
        let errors = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{email: E, title: []}}\nattributes:\n  given_name: {{blank: clear}}\n  employee_number: {{blank: clear}}\n  user_name: {{blank: clear}}\n  guest: {{blank: clear}}\n  title: {{blank: wipe}}\n  phone: {{blnk: clear}}\n"
            ),
            &env,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "conf/scimsync.yaml:13:18: error: attributes.title.blank: unknown variant `wipe`, expected `keep` or `clear`",
                "conf/scimsync.yaml:14:11: error: attributes.phone.blnk: unknown field `blnk`, expected `mode` or `blank`",
            ]
        );
        let errors = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{email: E, title: []}}\nattributes:\n  given_name: {{blank: clear}}\n  employee_number: {{blank: clear}}\n  user_name: {{blank: clear}}\n  guest: {{blank: clear}}\n  phone: {{blank: clear}}\n"
            ),
            &env,
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "conf/scimsync.yaml:7:32: error: columns.title: list at least one header",
                "conf/scimsync.yaml:9:23: error: attributes.given_name: `blank: clear` is not allowed: a name is never cleared (Slack requires one)",
                "conf/scimsync.yaml:10:28: error: attributes.employee_number: `blank: clear` is not allowed: a match key is never cleared",
                "conf/scimsync.yaml:11:22: error: attributes.user_name: `blank: clear` is not allowed: Slack requires a user name",
                "conf/scimsync.yaml:12:18: error: attributes.guest: `blank: clear` is not allowed: a blank guest cell already means a full member",
            ]
        );
    }

    #[test]
    fn the_digest_is_the_sha256_of_the_file() {
        // FIPS 180-2's first example.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let c = compile_str(MINIMAL, &EnvOverrides::default()).unwrap();
        assert_eq!(c.digest, sha256_hex(MINIMAL.as_bytes()));
    }

    #[test]
    fn defaults_are_the_careful_ones() {
        let config = compile_str(MINIMAL, &EnvOverrides::default()).unwrap();
        assert_eq!(config.target.version, ScimVersion::V1);
        assert_eq!(
            config.target.token,
            Some(TokenSource::File(PathBuf::from("conf/secret.txt")))
        );
        assert_eq!(config.policy, Policy::default());
        assert_eq!(config.invalid_users, InvalidUsers::Fail);
        assert_eq!(config.daemon, DaemonSettings::default());
    }

    #[test]
    fn every_semantic_error_is_reported_at_its_place() {
        let errors = compile_str(
            "target:
  url: http://slack.example.com/scim/v2
  token_env: 'not a name'
sources:
  - yaml: a.yaml
    columns: {email: E}
  - csv: b.csv
  - csv: c.csv
    yaml: c.yaml
  - csv: d.csv
    columns: {email: E}
    delimiter: ';;'
match: [email, email]
scope: {email_domains: [nodot], protected: [bob]}
safety: {max_deactivation_ratio: 2}
rate_limit: {share: 0, concurrency: 100}
daemon: {interval: soon, jitter: -1, listen: 'localhost'}
",
            &EnvOverrides::default(),
        )
        .unwrap_err();
        assert_eq!(
            errors,
            [
                "conf/scimsync.yaml:2:8: error: target.url \"http://slack.example.com/scim/v2\": use https (plain http is allowed only to localhost/loopback, so the token never crosses a network in clear)",
                "conf/scimsync.yaml:6:14: error: `columns` only applies to csv sources",
                "conf/scimsync.yaml:7:5: error: a csv source needs `columns` with at least `email`",
                "conf/scimsync.yaml:8:5: error: a source needs exactly one of `yaml:` or `csv:`",
                "conf/scimsync.yaml:12:16: error: `delimiter` must be a single character, not \";;\"",
                "conf/scimsync.yaml:13:16: error: match: `email` is listed twice",
                "conf/scimsync.yaml:14:25: error: \"nodot\" is not an email domain",
                "conf/scimsync.yaml:14:45: error: \"bob\" is neither an email nor a Slack user id (U… or W…)",
                "conf/scimsync.yaml:15:34: error: safety.max_deactivation_ratio is 2, must be between 0 and 1",
                "conf/scimsync.yaml:16:21: error: rate_limit.share is 0, must be more than 0 and at most 1",
                "conf/scimsync.yaml:16:37: error: rate_limit.concurrency is 100, must be between 1 and 64",
                "conf/scimsync.yaml:17:20: error: daemon.interval \"soon\" is not a duration like 30s, 15m, 1h or 1h30m",
                "conf/scimsync.yaml:17:34: error: daemon.jitter is -1, must be between 0 and 1",
                "conf/scimsync.yaml:17:46: error: daemon.listen \"localhost\" is not an address like 0.0.0.0:9090",
            ]
        );
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_all_reported() {
        let errors = compile_str(
            "target:\n  url: embedded\n  tokn_env: X\nsourcez: []\nsafety:\n  max_deactivations: many\n",
            &EnvOverrides::default(),
        )
        .unwrap_err();
        assert_eq!(errors.len(), 3, "{errors:#?}");
        assert!(
            errors[0].starts_with(
                "conf/scimsync.yaml:3:3: error: target.tokn_env: unknown field `tokn_env`"
            ),
            "{errors:#?}"
        );
        assert!(
            errors[1]
                .starts_with("conf/scimsync.yaml:4:1: error: sourcez: unknown field `sourcez`"),
            "{errors:#?}"
        );
        assert!(errors[2].starts_with("conf/scimsync.yaml:6:22: error: safety.max_deactivations: invalid type: string \"many\", expected u32"), "{errors:#?}");
    }

    #[test]
    fn required_parts() {
        assert_eq!(
            compile_str("sources: []\n", &EnvOverrides::default()).unwrap_err(),
            [
                "conf/scimsync.yaml:1:1: error: `target` is required",
                "conf/scimsync.yaml:1:10: error: at least one source is required",
            ]
        );
        assert_eq!(
            compile_str(
                "target: {url: 'https://api.slack.com/scim/v2'}\nsources: [{yaml: d.yaml}]\n",
                &EnvOverrides::default()
            )
            .unwrap_err(),
            [
                "conf/scimsync.yaml:1:9: error: a token source is required: set target.token_env or target.token_file"
            ]
        );
        assert_eq!(
            compile_str("", &EnvOverrides::default()).unwrap_err(),
            ["conf/scimsync.yaml: error: the config file is empty"]
        );
    }

    #[test]
    fn versions_come_from_the_url_or_are_declared() {
        let env = EnvOverrides::default();
        let with = |url: &str, version: &str| {
            compile_str(
                &format!(
                    "target:\n  url: {url}\n  {version}\n  token_env: T\nsources: [{{yaml: d.yaml}}]\n"
                ),
                &env,
            )
        };
        assert_eq!(
            with("https://proxy.example.com/slack", "version: v1")
                .unwrap()
                .target
                .version,
            ScimVersion::V1
        );
        assert_eq!(
            with("https://proxy.example.com/slack", "").unwrap_err(),
            [
                "conf/scimsync.yaml:2:8: error: cannot tell the SCIM version from target.url \"https://proxy.example.com/slack\" (its path does not end in /scim/v1 or /scim/v2): set target.version"
            ]
        );
        assert_eq!(
            with("https://api.slack.com/scim/v2", "version: v1").unwrap_err(),
            [
                "conf/scimsync.yaml:3:12: error: target.version is v1 but target.url \"https://api.slack.com/scim/v2\" is a v2 endpoint"
            ]
        );
    }

    #[test]
    fn a_pinned_target_refuses_a_config_naming_another() {
        let pin = |url: &'static str| {
            EnvOverrides::from_lookup(move |name| {
                (name == "SCIMSYNC_TARGET_URL").then(|| url.into())
            })
        };
        assert_eq!(
            compile_str(MINIMAL, &pin("https://api.slack.com/scim/v2/")).unwrap_err(),
            [
                "conf/scimsync.yaml:2:8: error: target.url \"https://api.slack.com/scim/v1\" differs from SCIMSYNC_TARGET_URL \"https://api.slack.com/scim/v2/\", which pins the target: refused, so that the config cannot send the token elsewhere"
            ]
        );
        let other_host = MINIMAL.replace("api.slack.com", "evil.example.com");
        let e = compile_str(&other_host, &pin("https://api.slack.com/scim/v1")).unwrap_err();
        assert!(
            e[0].contains("evil.example.com") && e[0].contains("pins the target"),
            "{e:?}"
        );
        // Credentials in the file's URL are not echoed.
        let creds = MINIMAL.replace("https://", "https://user:hunter2@");
        let e = compile_str(&creds, &pin("https://api.slack.com/scim/v1")).unwrap_err();
        assert!(!e.join("").contains("hunter2"), "{e:?}");
        // The same target, written differently, is the same target.
        for same in [
            "https://API.slack.com/scim/v1/",
            "https://api.slack.com:443/scim/v1",
        ] {
            let config = compile_str(MINIMAL, &pin(same)).unwrap();
            assert_eq!(config.target.version, ScimVersion::V1);
        }
        // A rehearsal against the built-in emulator sends no token anywhere.
        let config = compile_str(MINIMAL, &pin("embedded")).unwrap();
        assert_eq!(config.target.endpoint, Endpoint::Embedded);
    }

    #[test]
    fn environment_overrides_win_and_are_named_in_errors() {
        let env = EnvOverrides::from_lookup(|name| match name {
            "SCIMSYNC_TARGET_URL" => Some("http://127.0.0.1:8080/scim/v2".into()),
            "SCIMSYNC_TOKEN_ENV" => Some("OTHER_TOKEN".into()),
            _ => None,
        });
        let no_url = MINIMAL.replace("  url: https://api.slack.com/scim/v1\n", "");
        let config = compile_str(&no_url, &env).unwrap();
        assert_eq!(config.target.version, ScimVersion::V2);
        assert_eq!(
            config.target.token,
            Some(TokenSource::Env("OTHER_TOKEN".into()))
        );

        let env = EnvOverrides::from_lookup(|name| {
            (name == "SCIMSYNC_TARGET_URL").then(|| "http://slack.example.com/scim/v2".into())
        });
        assert_eq!(
            compile_str(MINIMAL, &env).unwrap_err(),
            [
                "conf/scimsync.yaml:2:8: error: target.url \"http://slack.example.com/scim/v2\": use https (plain http is allowed only to localhost/loopback, so the token never crosses a network in clear) (from SCIMSYNC_TARGET_URL)"
            ]
        );
        // The target may come from the environment alone.
        let env = EnvOverrides::from_lookup(|name| {
            (name == "SCIMSYNC_TARGET_URL").then(|| "embedded".into())
        });
        let config = compile_str("sources: [{yaml: d.yaml}]\n", &env).unwrap();
        assert_eq!(config.target.endpoint, Endpoint::Embedded);
        assert_eq!(config.target.token, None);
    }

    #[test]
    fn syntax_errors_and_tabs_are_located() {
        let errors =
            compile_str("target:\n\turl: embedded\n", &EnvOverrides::default()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(
            errors[0].starts_with("conf/scimsync.yaml:2:1: error: "),
            "{errors:?}"
        );
        assert!(errors[0].contains("tab"), "{errors:?}");
    }

    #[test]
    fn group_deletion_without_permission_is_a_warning() {
        let config = compile_str(
            &format!("{MINIMAL}groups: {{unmanaged: delete}}\n"),
            &EnvOverrides::default(),
        )
        .unwrap();
        assert_eq!(
            config.warnings[0].to_string(),
            "conf/scimsync.yaml:6:21: warning: groups.unmanaged is `delete` but safety.allow_group_deletion is false: every deletion will trip the guard"
        );
    }
}
