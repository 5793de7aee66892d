//! The target: where the SCIM API is, which dialect it speaks and where the token is read
//! from. The environment (`SCIMSYNC_TARGET_URL`, `SCIMSYNC_TOKEN_*`) wins over the file, and
//! pins what the file may name: a config (e.g. changed in a pull request) must never be able
//! to send the token elsewhere.

use super::values::is_env_name;
use super::{Compiler, Reported};
use crate::config::paths::Paths;
use crate::config::raw::{EnvOverrides, RawConfig, RawEmulator, RawTarget};
use crate::config::{ConfigIssue, EmbeddedEmulator, ScimServer, Target, TokenSource};
use crate::diag::yaml::Step;
use crate::scim::Version;
use crate::scim::target::{self, TargetProblem};

const TARGET: Step<'static> = Step::Key("target");
/// A value, and the environment variable that set it if one did.
type Sourced<T> = (T, Option<&'static str>);
const URL: [Step<'static>; 2] = [TARGET, Step::Key("url")];

impl Compiler<'_> {
    /// The target, from the file's `target:` and the environment's overrides.
    pub(super) fn compile_target(&mut self, raw: &RawConfig, env: &EnvOverrides) -> Option<Target> {
        if self.confined() && env.target_url.is_none() {
            let in_file = raw.target.as_ref().is_some_and(|t| t.url.is_some());
            self.error(&URL, confined_target(in_file));
            return None;
        }
        if raw.target.is_none() && env.target_url.is_none() {
            self.error(&[], ConfigIssue::Missing { field: "target" });
            return None;
        }
        let empty = RawTarget::default();
        let raw = raw.target.as_ref().unwrap_or(&empty);
        let (url, url_var) = self.compile_url_text(raw, env)?;
        let (version, version_var) = self.compile_version(raw, env)?;
        let (server, version) = if url.eq_ignore_ascii_case("embedded") {
            if url_var.is_some() && self.check_confined_rehearsal(raw.url.as_deref(), &url) {
                return None;
            }
            (ScimServer::Embedded, version.unwrap_or(Version::V2))
        } else {
            let parsed = self.compile_url(&url, url_var)?;
            let version = self.check_version(&parsed, &url, (version, version_var), url_var)?;
            if url_var.is_some() && self.check_pinned(&parsed, raw.url.as_deref(), &url) {
                return None;
            }
            (ScimServer::Url(parsed), version)
        };
        let token = self.compile_token_source(raw, env).ok()?;
        self.finish_target(raw, server, version, token)
    }

    /// The URL as given (trimmed), and the variable it came from if the environment's.
    fn compile_url_text(&mut self, raw: &RawTarget, env: &EnvOverrides) -> Option<Sourced<String>> {
        match (&env.target_url, &raw.url) {
            (Some(url), _) => Some((url.trim().to_string(), Some(EnvOverrides::TARGET_URL))),
            (None, Some(url)) => Some((url.trim().to_string(), None)),
            (None, None) => {
                let field = "target.url";
                self.error(&[TARGET], ConfigIssue::Missing { field });
                None
            }
        }
    }

    /// The declared version (`SCIMSYNC_TARGET_VERSION` wins over `target.version`), with the
    /// variable it came from; `None` when the environment's is not a version (reported).
    fn compile_version(
        &mut self,
        raw: &RawTarget,
        env: &EnvOverrides,
    ) -> Option<Sourced<Option<Version>>> {
        let Some(v) = &env.target_version else {
            return Some((raw.version, None));
        };
        let variable = EnvOverrides::TARGET_VERSION;
        match Version::from_path_segment(&v.trim().to_ascii_lowercase()) {
            Some(version) => Some((Some(version), Some(variable))),
            None => {
                let issue = ConfigIssue::OutOfRange {
                    field: "target.version",
                    value: v.clone(),
                    range: "v1 or v2",
                };
                self.error(&[TARGET], from_env(issue, Some(variable)));
                None
            }
        }
    }

    /// A real target's URL, by the one target-URL rule; an error at `target.url` otherwise.
    fn compile_url(&mut self, url: &str, url_var: Option<&'static str>) -> Option<url::Url> {
        match check_url(url) {
            Ok(parsed) => Some(parsed),
            Err(issue) => {
                self.error(&URL, from_env(issue, url_var));
                None
            }
        }
    }

    /// The dialect: declared, or read from the URL's path; both must agree.
    fn check_version(
        &mut self,
        parsed: &url::Url,
        url: &str,
        (declared, version_var): Sourced<Option<Version>>,
        url_var: Option<&'static str>,
    ) -> Option<Version> {
        match (declared, target::version_from_path(parsed)) {
            (Some(declared), Some(derived)) if declared != derived => {
                let issue = ConfigIssue::VersionMismatch {
                    url: url.to_string(),
                    declared: declared.path_segment(),
                    derived: derived.path_segment(),
                };
                let at = [TARGET, Step::Key("version")];
                self.error(&at, from_env(issue, version_var.or(url_var)));
                None
            }
            (Some(v), _) | (None, Some(v)) => Some(v),
            (None, None) => {
                let issue = ConfigIssue::UnknownVersion {
                    url: url.to_string(),
                };
                self.error(&URL, from_env(issue, url_var));
                None
            }
        }
    }

    /// The target, once its server, version and token source are known: a real server needs
    /// a token source; the emulator's files are paths of the config.
    fn finish_target(
        &mut self,
        raw: &RawTarget,
        server: ScimServer,
        version: Version,
        token: Option<TokenSource>,
    ) -> Option<Target> {
        if token.is_none() && server != ScimServer::Embedded {
            let issue = if self.confined() {
                ConfigIssue::ConfinedNeedsEnv {
                    what: "the token source",
                    variables: "SCIMSYNC_TOKEN_ENV or SCIMSYNC_TOKEN_FILE",
                }
            } else {
                ConfigIssue::TokenSourceMissing
            };
            self.error(&[TARGET], issue);
            return None;
        }
        let mut file = |key, p: &Option<String>| {
            p.as_deref()
                .and_then(|p| self.file_path(&[TARGET, Step::Key(key)], p))
        };
        let emulator_seed = file("emulator_seed", &raw.emulator_seed);
        let emulator_state = file("emulator_state", &raw.emulator_state);
        let emulator = self.embedded_emulator(raw.emulator.as_ref());
        Some(Target {
            server,
            version,
            token,
            emulator_seed,
            emulator_state,
            emulator,
        })
    }

    /// `target.emulator`, its channel list a path of the config.
    fn embedded_emulator(&mut self, raw: Option<&RawEmulator>) -> EmbeddedEmulator {
        let Some(raw) = raw else {
            return EmbeddedEmulator::default();
        };
        let channels_file = raw.channels_file.as_deref().and_then(|p| {
            let at = [TARGET, Step::Key("emulator"), Step::Key("channels_file")];
            self.file_path(&at, p)
        });
        EmbeddedEmulator {
            preset: raw.preset.unwrap_or_default(),
            read_lag: raw.read_lag_ms.map(std::time::Duration::from_millis),
            lag_scope: raw.lag_scope,
            group_names: raw.group_names,
            parsing: raw.parsing,
            group_filters: raw.group_filters,
            faults: raw.faults,
            channels_file,
            custom_profile_fields: raw.custom_profile_fields,
            invalid_values: self.invalid_values(raw),
        }
    }

    /// `target.emulator.drop_profile_on_invalid`, each entry read; a bad one is an error at it.
    fn invalid_values(&mut self, raw: &RawEmulator) -> Vec<crate::emulator::InvalidValue> {
        let mut out = Vec::new();
        for (i, entry) in raw.drop_profile_on_invalid.iter().flatten().enumerate() {
            match entry.parse() {
                Ok(value) => out.push(value),
                Err(message) => {
                    let at = [
                        TARGET,
                        Step::Key("emulator"),
                        Step::Key("drop_profile_on_invalid"),
                        Step::Index(i),
                    ];
                    self.error(&at, ConfigIssue::Yaml { message });
                }
            }
        }
        out
    }

    /// With the target pinned by `SCIMSYNC_TARGET_URL` (`pinned`, as given: `pinned_text`):
    /// whether the file's `target.url` names another, reported at that key.
    fn check_pinned(
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
        self.report_pinned(file_url.trim(), pinned_text);
        true
    }

    /// With the target pinned to the emulator (`pinned`): whether the file's `target.url`
    /// names another target under `SCIMSYNC_CONFINE`, reported at that key. (Unconfined, a
    /// file naming a real target is rehearsed against the emulator: nothing is sent anywhere.
    /// Confined, `target.url` may only repeat the pin.)
    fn check_confined_rehearsal(&mut self, file_url: Option<&str>, pinned: &str) -> bool {
        let Some(file_url) = file_url.map(str::trim) else {
            return false;
        };
        if !self.confined() || file_url.eq_ignore_ascii_case("embedded") {
            return false;
        }
        self.report_pinned(file_url, pinned);
        true
    }

    /// The file's `target.url` (trimmed) is not the pinned one: an error at that key that
    /// echoes no credentials.
    fn report_pinned(&mut self, file_url: &str, pinned: &str) {
        let config = url::Url::parse(file_url)
            .map_or_else(|_| file_url.to_string(), |u| redact_credentials(&u));
        let issue = ConfigIssue::TargetPinned {
            pinned: pinned.to_string(),
            config,
        };
        self.error(&URL, issue);
    }

    /// Where the token is read from: the environment's override, else the file's setting;
    /// `None` when neither names one.
    fn compile_token_source(
        &mut self,
        raw: &RawTarget,
        env: &EnvOverrides,
    ) -> Result<Option<TokenSource>, Reported> {
        if self.confined() {
            self.check_confined_token(raw, env)?;
        }
        match (&env.token_env, &env.token_file) {
            (Some(_), Some(_)) => {
                let issue = from_env(
                    ConfigIssue::TokenSourceTwice,
                    Some(EnvOverrides::TOKEN_FILE),
                );
                self.error(&[TARGET], issue);
                Err(Reported)
            }
            (Some(name), None) => {
                let name = name.trim();
                if !is_env_name(name) {
                    let issue = ConfigIssue::InvalidEnvName { name: name.into() };
                    self.error(&[TARGET], from_env(issue, Some(EnvOverrides::TOKEN_ENV)));
                    return Err(Reported);
                }
                Ok(Some(TokenSource::Env(name.into())))
            }
            (None, Some(path)) => Ok(Some(TokenSource::File(Paths::env_path(path)))),
            (None, None) => self.compile_file_token_source(raw),
        }
    }

    /// The file's `token_env` or `token_file`, if either is set.
    fn compile_file_token_source(
        &mut self,
        raw: &RawTarget,
    ) -> Result<Option<TokenSource>, Reported> {
        match (&raw.token_env, &raw.token_file) {
            (Some(_), Some(_)) => {
                let at = [TARGET, Step::Key("token_file")];
                self.error(&at, ConfigIssue::TokenSourceTwice);
                Err(Reported)
            }
            (Some(name), None) => {
                let name = name.trim();
                if !is_env_name(name) {
                    let at = [TARGET, Step::Key("token_env")];
                    self.error(&at, ConfigIssue::InvalidEnvName { name: name.into() });
                    return Err(Reported);
                }
                Ok(Some(TokenSource::Env(name.into())))
            }
            (None, Some(path)) => {
                let at = [TARGET, Step::Key("token_file")];
                let path = self.file_path(&at, path).ok_or(Reported)?;
                Ok(Some(TokenSource::File(path)))
            }
            (None, None) => Ok(None),
        }
    }

    /// Under `SCIMSYNC_CONFINE` the token source is the environment's: a `token_env` or
    /// `token_file` in the config is refused unless it only repeats it.
    fn check_confined_token(
        &mut self,
        raw: &RawTarget,
        env: &EnvOverrides,
    ) -> Result<(), Reported> {
        let instead = "the token source comes from SCIMSYNC_TOKEN_ENV or SCIMSYNC_TOKEN_FILE \
                       (remove the setting, or make it repeat the environment's)";
        if let Some(name) = &raw.token_env
            && env.token_env.as_deref().map(str::trim) != Some(name.trim())
        {
            self.error(
                &[TARGET, Step::Key("token_env")],
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
                    &[TARGET, Step::Key("token_file")],
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
}

/// Under `SCIMSYNC_CONFINE` without `SCIMSYNC_TARGET_URL`: the file may not choose the
/// target (`in_file`: it names one), and the environment gives none.
fn confined_target(in_file: bool) -> ConfigIssue {
    if in_file {
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
    }
}

/// `issue`, said to come from `variable` when the environment set the value.
fn from_env(issue: ConfigIssue, variable: Option<&'static str>) -> ConfigIssue {
    match variable {
        Some(variable) => ConfigIssue::FromEnv {
            variable,
            issue: Box::new(issue),
        },
        None => issue,
    }
}

/// The one target-URL rule ([`crate::scim::target`]), with its problems as config issues.
pub(super) fn check_url(url: &str) -> Result<url::Url, ConfigIssue> {
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

/// The URL without its user name and password, for messages.
fn redact_credentials(url: &url::Url) -> String {
    let mut copy = url.clone();
    let _ = copy.set_username("");
    let _ = copy.set_password(None);
    copy.to_string()
}
