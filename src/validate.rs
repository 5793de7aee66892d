//! `scimsync validate`: compile the config and load every source, with no network, and
//! report every problem. Also the JSON Schemas behind `scimsync schema`.

use std::path::Path;

use chrono::NaiveDate;

use crate::config::raw::{EnvOverrides, RawConfig};
use crate::config::{Config, ConfigIssue};
use crate::diag::{Problem, render_fancy, render_plain};
use crate::directory::{self, DirectoryIssue, LoadOptions, yaml::RawDirectoryFile};

/// What `validate` found.
#[derive(Debug)]
pub struct ValidationReport {
    /// Problems in the config file.
    pub config_problems: Vec<Problem<ConfigIssue>>,
    /// Problems in the directory sources.
    pub directory_problems: Vec<Problem<DirectoryIssue>>,
    /// Users, leavers among them (`active: false`), skipped users and groups loaded, when
    /// the directory loaded at all. Leavers are counted, never listed: an HR export keeps its
    /// terminated rows, and a line for each buried the real problems.
    pub counts: Option<(usize, usize, usize, usize)>,
}

impl ValidationReport {
    /// Valid means no error anywhere (warnings are fine). With `invalid_users: skip` a run
    /// would go ahead, but the directory still has errors and `validate` says so.
    pub fn is_valid(&self) -> bool {
        !self.config_problems.iter().any(Problem::is_error)
            && !self.directory_problems.iter().any(Problem::is_error)
    }

    /// Every problem, then a summary line. `fancy` renders miette snippets (for a terminal),
    /// coloured when `color`; otherwise one `file:line:col: severity: message` line per problem.
    pub fn render(&self, config_file: &Path, fancy: bool, color: bool) -> String {
        let mut out = if fancy {
            render_fancy(&self.config_problems, color)
                + &render_fancy(&self.directory_problems, color)
        } else {
            render_plain(&self.config_problems) + &render_plain(&self.directory_problems)
        };
        let count = |severity_is_error: bool| {
            self.config_problems
                .iter()
                .filter(|p| p.is_error() == severity_is_error)
                .count()
                + self
                    .directory_problems
                    .iter()
                    .filter(|p| p.is_error() == severity_is_error)
                    .count()
        };
        let (errors, warnings) = (count(true), count(false));
        let loaded = match self.counts {
            Some((users, leavers, skipped, groups)) => {
                let skipped = if skipped > 0 {
                    format!(", {skipped} skipped")
                } else {
                    String::new()
                };
                let leavers = match leavers {
                    0 => String::new(),
                    1 => ", 1 of them a leaver".to_string(),
                    n => format!(", {n} of them leavers"),
                };
                format!(
                    " ({users} {}{leavers}{skipped}, {groups} {})",
                    plural(users, "user"),
                    plural(groups, "group")
                )
            }
            None => String::new(),
        };
        let verdict = if self.is_valid() { "valid" } else { "invalid" };
        out.push_str(&format!(
            "{}: {verdict}{loaded}: {errors} {}, {warnings} {}\n",
            config_file.display(),
            plural(errors, "error"),
            plural(warnings, "warning"),
        ));
        out
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        word.to_string()
    } else {
        format!("{word}s")
    }
}

/// Compiles the config at `path` and loads its sources; nothing touches the network.
pub fn validate(path: &Path, env: &EnvOverrides, today: NaiveDate) -> ValidationReport {
    let (config, warnings) = match Config::load_with_warnings(path, env) {
        Ok(loaded) => loaded,
        Err(e) => {
            return ValidationReport {
                config_problems: e.problems,
                directory_problems: Vec::new(),
                counts: None,
            };
        }
    };
    let options = LoadOptions {
        invalid_users: config.invalid_users,
        today,
    };
    // Load with `skip` so that every user-level problem is listed even when the config
    // says `fail`; validity is judged on errors either way.
    let lenient = LoadOptions {
        invalid_users: crate::config::InvalidUsers::Skip,
        ..options
    };
    let mut config_problems = warnings;
    let (directory_problems, counts) = match directory::load(&config.sources, &lenient) {
        Ok(loaded) => {
            let d = &loaded.directory;
            if config.policy.channels.is_none() {
                config_problems.extend(role_mailboxes(d));
            }
            let leavers = d.users.iter().filter(|u| !u.active).count();
            let counts = (d.users.len(), leavers, d.skipped.len(), d.groups.len());
            // `validate` is a one-shot command: the directory is left to the process's exit
            // rather than freed user by user (a fifth of the command's time at 100,000 rows).
            std::mem::forget(loaded.directory);
            (loaded.report.problems, Some(counts))
        }
        Err(e) => (e.problems, None),
    };
    let mut directory_problems = directory_problems;
    let sources: Vec<&crate::config::SourceSpec> = config.sources.iter().collect();
    directory::group_repeated_errors(&mut directory_problems, &sources);
    ValidationReport {
        config_problems,
        directory_problems,
        counts,
    }
}

/// User names that are often a channel's name too (a team's mailbox and its channel share a
/// word): [`role_mailboxes`] warns about them when no `channels_file` is given.
pub const ROLE_NAMES: &[&str] = &[
    "admin",
    "billing",
    "careers",
    "contact",
    "design",
    "dev",
    "engineering",
    "finance",
    "general",
    "help",
    "helpdesk",
    "hr",
    "info",
    "it",
    "jobs",
    "legal",
    "marketing",
    "office",
    "ops",
    "press",
    "random",
    "sales",
    "security",
    "support",
    "team",
];

/// A warning at each active directory user whose user name is one of [`ROLE_NAMES`]: without
/// a channel list, a collision with a channel is only found at apply (409 `username_taken`).
fn role_mailboxes(d: &directory::Directory) -> Vec<Problem<ConfigIssue>> {
    d.users
        .iter()
        .filter(|u| u.active && ROLE_NAMES.contains(&u.user_name_key.as_str()))
        .map(|u| {
            Problem::warning(
                u.location.clone(),
                ConfigIssue::RoleMailbox {
                    email: u.email.clone(),
                    user_name: u.user_name_key.clone(),
                },
            )
        })
        .collect()
}

/// Which JSON Schema to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// The config file's (`scimsync.yaml`).
    Config,
    /// The YAML directory's.
    Directory,
}

/// The JSON Schema of the config file or of the YAML directory, pretty-printed.
pub fn json_schema(kind: SchemaKind) -> String {
    let schema = match kind {
        SchemaKind::Config => schemars::schema_for!(RawConfig),
        SchemaKind::Directory => schemars::schema_for!(RawDirectoryFile),
    };
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
