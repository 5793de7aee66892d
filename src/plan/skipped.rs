//! Rows skipped as invalid (`invalid_users: skip`), as the plan lists them: where each is
//! declared, who it is, and why it was skipped. A skipped row is a person Slack will not get:
//! "nothing silent" (DESIGN §4) means it is listed wherever the plan is read (text, markdown,
//! JSON), counted in metrics by source and cause, and keeps every exit code off "in sync".
//!
//! The directory loader knows which rows it skipped ([`Directory::skipped`]) and, apart, every
//! problem it found; this module pairs them: a problem belongs to the skipped row whose record
//! holds its place (the row of its file that starts at or before its line), or, for a person
//! merged from several sources, to the rows of the emails it names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::diag::bounded;
use crate::directory::{Directory, DirectoryIssue, DirectoryProblem, SkippedUser};
use crate::slack_rules::email_key;

/// A directory row skipped as invalid: not synced until it is fixed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Skipped {
    /// Where the row is declared (`people.csv:14`).
    pub source: String,
    /// The row's email as a key (trimmed, lower-cased), or `(no email)`.
    pub subject: String,
    /// Why it was skipped: the validation error's message (the first, when there are
    /// several, with how many more).
    pub cause: String,
    /// The cause's kind, from a small fixed set (a metric label).
    pub category: SkipCause,
}

/// What kind of rule a skipped row breaks: the bounded `cause` label of
/// `scimsync_plan_skipped_rows`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipCause {
    /// No email, or one Slack would refuse.
    Email,
    /// An email, user name, employee number or Slack id used by two rows.
    Duplicate,
    /// A user name Slack would refuse (written, or derived from the email).
    UserName,
    /// Another value Slack would refuse or that does not parse (a name, a date, a flag, an id).
    InvalidValue,
    /// Two sources give the person different values.
    SourceConflict,
    /// A manager who is not in the directory, or managers in a cycle.
    Manager,
    /// Anything else.
    Other,
}

impl SkipCause {
    /// Every cause, for zero-initialised metric series.
    pub const ALL: [SkipCause; 7] = [
        SkipCause::Email,
        SkipCause::Duplicate,
        SkipCause::UserName,
        SkipCause::InvalidValue,
        SkipCause::SourceConflict,
        SkipCause::Manager,
        SkipCause::Other,
    ];

    /// The cause's snake_case name, as in JSON and metric labels.
    pub const fn as_str(self) -> &'static str {
        match self {
            SkipCause::Email => "email",
            SkipCause::Duplicate => "duplicate",
            SkipCause::UserName => "user_name",
            SkipCause::InvalidValue => "invalid_value",
            SkipCause::SourceConflict => "source_conflict",
            SkipCause::Manager => "manager",
            SkipCause::Other => "other",
        }
    }

    /// The cause of a problem that skips a user; none for a problem that does not concern one
    /// user (a source, a group, a warning).
    pub fn of(issue: &DirectoryIssue) -> Option<SkipCause> {
        use DirectoryIssue as I;
        Some(match issue {
            I::MissingEmail | I::InvalidEmail { .. } => SkipCause::Email,
            I::DuplicateEmail { .. } | I::DuplicateUserName { .. } | I::DuplicateKey { .. } => {
                SkipCause::Duplicate
            }
            I::InvalidUserName { .. } | I::DerivedUserNameInvalid { .. } => SkipCause::UserName,
            I::InvalidDisplayName { .. }
            | I::BlankFlag { .. }
            | I::InvalidName { .. }
            | I::InvalidId { .. }
            | I::InvalidValue { .. }
            | I::Unmapped { .. }
            | I::NoSlug { .. } => SkipCause::InvalidValue,
            I::Conflict { .. } => SkipCause::SourceConflict,
            I::UnknownManager { .. }
            | I::ManagerCycle { .. }
            | I::ManagerNotFound { .. }
            | I::ManagerAmbiguous { .. } => SkipCause::Manager,
            _ => return None,
        })
    }
}

impl std::fmt::Display for SkipCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// The emails a problem names, as keys: how a problem about a person merged from several
/// sources (or a cycle of managers) finds its rows.
fn emails_named(issue: &DirectoryIssue) -> Vec<String> {
    use DirectoryIssue as I;
    match issue {
        I::InvalidEmail { email }
        | I::DuplicateEmail { email, .. }
        | I::DerivedUserNameInvalid { email, .. }
        | I::Conflict { email, .. } => vec![email_key(email)],
        I::ManagerCycle { cycle } => cycle.iter().map(|e| email_key(e)).collect(),
        _ => Vec::new(),
    }
}

/// The skipped row of `file` whose record holds `line`: the last one starting at or before it.
fn row_at(rows: &[&SkippedUser], file: &str, line: u32) -> Option<usize> {
    rows.iter()
        .enumerate()
        .filter(|(_, s)| &*s.location.file == file && s.location.line <= line)
        .max_by_key(|(_, s)| s.location.line)
        .map(|(i, _)| i)
}

/// The rows `problem` is about: by its place (and the places it points to, such as the first
/// of two duplicates), else by the emails it names.
fn rows_of(rows: &[&SkippedUser], problem: &DirectoryProblem) -> Vec<usize> {
    use crate::diag::Diagnose;
    let mut places = vec![problem.location.clone()];
    places.extend(problem.kind.related().into_iter().map(|(at, _)| at));
    let mut found: Vec<usize> = places
        .iter()
        .filter_map(|at| row_at(rows, &at.file, at.line))
        .collect();
    if found.is_empty() {
        let emails = emails_named(&problem.kind);
        found = (0..rows.len())
            .filter(|&i| emails.contains(&rows[i].email_key))
            .collect();
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// Every row `dir` skipped as invalid, with the cause `problems` give for it, sorted by place.
pub fn skipped_rows(dir: &Directory, problems: &[DirectoryProblem]) -> Vec<Skipped> {
    let rows: Vec<&SkippedUser> = dir.skipped.iter().collect();
    let mut causes: BTreeMap<usize, Vec<(&DirectoryIssue, SkipCause)>> = BTreeMap::new();
    for p in problems.iter().filter(|p| p.is_error()) {
        let Some(cause) = SkipCause::of(&p.kind) else {
            continue;
        };
        for i in rows_of(&rows, p) {
            causes.entry(i).or_default().push((&p.kind, cause));
        }
    }
    let mut out: Vec<Skipped> = rows
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let found = causes.get(&i).map_or(&[][..], Vec::as_slice);
            let (cause, category) = match found {
                [] => (
                    "it breaks a rule (see the validation errors)".to_string(),
                    SkipCause::Other,
                ),
                [(issue, c)] => (bounded(&issue.to_string()).into_owned(), *c),
                [(issue, c), rest @ ..] => (
                    format!(
                        "{} (and {} more problem(s))",
                        bounded(&issue.to_string()),
                        rest.len()
                    ),
                    *c,
                ),
            };
            Skipped {
                source: s.location.file_line(),
                subject: if s.email_key.is_empty() {
                    "(no email)".into()
                } else {
                    s.email_key.clone()
                },
                cause,
                category,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let place = |s: &Skipped| {
            let (file, line) = s.source.rsplit_once(':').unwrap_or((&s.source, "0"));
            (file.to_string(), line.parse::<u64>().unwrap_or(0))
        };
        place(a).cmp(&place(b)).then_with(|| a.cmp(b))
    });
    out
}

/// Skipped rows counted by source file and cause: what `scimsync_plan_skipped_rows` exports.
pub fn counts_by_source(skipped: &[Skipped]) -> BTreeMap<(String, SkipCause), usize> {
    let mut out = BTreeMap::new();
    for s in skipped {
        let file = s
            .source
            .rsplit_once(':')
            .filter(|(_, line)| line.parse::<u64>().is_ok())
            .map_or(s.source.as_str(), |(file, _)| file);
        *out.entry((file.to_string(), s.category)).or_default() += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InvalidUsers;
    use crate::directory::{LoadOptions, LoadedDirectory};

    /// The directory of `people.csv` holding `csv`, invalid rows skipped.
    fn load_csv(csv: &str) -> LoadedDirectory {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("people.csv"), csv).unwrap();
        std::fs::write(
            dir.path().join("scimsync.yaml"),
            "target: {url: \"http://127.0.0.1:9/scim/v2/\", token_env: T}\n\
             sources:\n  - csv: people.csv\n    columns: {email: email, employee_number: employee_number, \
             manager_email: manager}\ninvalid_users: skip\n",
        )
        .unwrap();
        let config = crate::config::Config::load(
            &dir.path().join("scimsync.yaml"),
            &crate::config::EnvOverrides::default(),
        )
        .unwrap();
        assert_eq!(config.invalid_users, InvalidUsers::Skip);
        crate::directory::load(
            &config.sources,
            &LoadOptions {
                invalid_users: InvalidUsers::Skip,
                today: chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            },
        )
        .unwrap()
    }

    #[test]
    fn each_skipped_row_has_its_place_and_its_cause() {
        let loaded = load_csv(
            "email,employee_number,manager\n\
             ada@example.com,1,\n\
             bob@exmaple,2,\n\
             cy@example.com,3,\n\
             cy@example.com,4,\n\
             dan@example.com,5,nobody@example.com\n\
             eve@example.com,6,\n",
        );
        let rows = skipped_rows(&loaded.directory, &loaded.report.problems);
        let shown: Vec<(&str, SkipCause)> = rows
            .iter()
            .map(|s| (s.subject.as_str(), s.category))
            .collect();
        assert_eq!(
            shown,
            [
                ("bob@exmaple", SkipCause::Email),
                ("cy@example.com", SkipCause::Duplicate),
                ("cy@example.com", SkipCause::Duplicate),
                ("dan@example.com", SkipCause::Manager),
            ],
            "{rows:#?}"
        );
        let lines: Vec<&str> = rows
            .iter()
            .map(|s| s.source.rsplit_once(':').unwrap().1)
            .collect();
        assert_eq!(lines, ["3", "4", "5", "6"], "{rows:#?}");
        assert!(rows[0].cause.contains("is not a valid email"), "{rows:#?}");
        assert!(rows[1].cause.contains("used twice"), "{rows:#?}");
        assert!(rows[3].cause.contains("nobody@example.com"), "{rows:#?}");
        let counts = counts_by_source(&rows);
        let file = rows[0].source.rsplit_once(':').unwrap().0.to_string();
        assert_eq!(counts.get(&(file.clone(), SkipCause::Duplicate)), Some(&2));
        assert_eq!(counts.get(&(file, SkipCause::Email)), Some(&1));
    }
}
