//! How the process runs: its share of Slack's rate limit, the daemon's settings, the files it
//! writes (audit log, lock file, state folder) and when a failing op is stuck.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::Compiler;
use super::values::parse_duration;
use crate::config::paths::Paths;
use crate::config::raw::{EnvOverrides, RawAuditLog, RawConfig, RawStateDir};
use crate::config::{
    ConfigIssue, DaemonSettings, RateLimit, ScimServer, StateDir, StuckSettings, Target,
};
use crate::diag::yaml::Step;

/// The daemon's interval: at least a second (a pass lists all of Slack), at most a week (a
/// longer wait is a stopped sync; and no arithmetic on it can overflow).
pub const INTERVAL_RANGE: std::ops::RangeInclusive<Duration> =
    Duration::from_secs(1)..=Duration::from_secs(7 * 24 * 3600);

impl Compiler<'_> {
    /// `rate_limit:`: a share of Slack's budget, changes in flight, the emulator's time scale.
    pub(super) fn compile_rate_limit(&mut self, raw: &RawConfig) -> RateLimit {
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

    /// `daemon:`: the interval between passes, its jitter, the endpoints' address.
    pub(super) fn compile_daemon(&mut self, raw: &RawConfig) -> DaemonSettings {
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

    /// The audit log's file, if one is set (a path, or `{path, stdout}`).
    pub(super) fn compile_audit_log(&mut self, raw: &RawConfig) -> Option<PathBuf> {
        match raw.audit_log.as_ref()? {
            RawAuditLog::Path(p) => self.file_path(&[Step::Key("audit_log")], p),
            RawAuditLog::Settings(settings) => settings
                .path
                .as_deref()
                .and_then(|p| self.file_path(&[Step::Key("audit_log"), Step::Key("path")], p)),
        }
    }

    /// The lock file, if one is set.
    pub(super) fn compile_lock_file(&mut self, raw: &RawConfig) -> Option<PathBuf> {
        let path = raw.lock_file.as_deref()?;
        self.file_path(&[Step::Key("lock_file")], path)
    }

    /// Where the state is kept: `SCIMSYNC_STATE_DIR` (from whoever runs scimsync, so never
    /// confined) wins over the config's `state_dir`.
    pub(super) fn compile_state_dir(&mut self, raw: &RawConfig, env: &EnvOverrides) -> StateDir {
        if let Some(value) = &env.state_dir {
            return self.compile_state_dir_from_env(value);
        }
        match &raw.state_dir {
            None | Some(RawStateDir::Enabled(true)) => StateDir::Default,
            Some(RawStateDir::Enabled(false)) => StateDir::Off,
            Some(RawStateDir::Path(p)) => self
                .file_path(&[Step::Key("state_dir")], p)
                .map_or(StateDir::Default, StateDir::At),
        }
    }

    /// `SCIMSYNC_STATE_DIR`: a folder, or false (off, none) for no state.
    fn compile_state_dir_from_env(&mut self, value: &str) -> StateDir {
        match value.trim().to_ascii_lowercase().as_str() {
            "false" | "off" | "none" => StateDir::Off,
            "true" | "on" | "yes" => {
                let issue = ConfigIssue::OutOfRange {
                    field: "state_dir",
                    value: value.to_string(),
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
        }
    }

    /// `stuck:`: how many failing passes make an op stuck (at least one), and its backoff.
    pub(super) fn compile_stuck(&mut self, raw: &RawConfig) -> StuckSettings {
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
            && let Some(d) =
                self.compile_duration(&[s, Step::Key("backoff")], "stuck.backoff", text)
        {
            stuck.backoff = d;
        }
        stuck
    }

    /// The files scimsync writes are not folders. (A missing folder is not judged: validate
    /// often runs in CI, elsewhere than scimsync, where `/var/lib/scimsync` need not exist.)
    pub(super) fn check_not_folders(
        &mut self,
        audit_log: &Option<PathBuf>,
        lock_file: &Option<PathBuf>,
    ) {
        for (field, path) in [("audit_log", audit_log), ("lock_file", lock_file)] {
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
    }

    /// A sped-up budget only against an emulator: against Slack it would spend N times
    /// Slack's budget.
    pub(super) fn check_time_scale(&mut self, rate_limit: &RateLimit, target: Option<&Target>) {
        if rate_limit.time_scale > 1.0
            && let Some(Target {
                server: ScimServer::Url(url),
                ..
            }) = target
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
    }
}
