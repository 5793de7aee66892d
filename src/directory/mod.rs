//! The desired state: YAML and CSV sources read, merged and validated into a [`Directory`].
//!
//! This is the product's input, and a wrong read here is how a sync tool deactivates a
//! company, so the rules are strict:
//!
//! * a source that cannot be read or parsed fails the whole load — a broken file is never
//!   read as "nobody works here";
//! * every problem is reported at once, each at its `file:line:col`;
//! * a user who breaks a rule is skipped (and reported) or fails the load, by the config's
//!   `invalid_users`; a skipped user is listed in [`Directory::skipped`] so the planner
//!   leaves their account alone instead of treating them as gone.
//!
//! Reading files happens in [`load`]; everything after is pure ([`build`]), with "today"
//! passed in.

mod command;
mod csv;
pub mod dump;
pub mod google;
mod grouped;
mod issue;
mod json;
pub mod ldap;
mod lookup;
mod merge;
mod model;
mod record;
mod repeats;
mod services;
pub mod table;
mod validate;
pub mod yaml;

use std::sync::Arc;

use chrono::NaiveDate;

use crate::config::{CommandOutput, CsvLayout, InvalidUsers, SourceFormat, SourceSpec};
use crate::diag::{Problem, sort_problems};

pub use grouped::group_repeated_errors;
pub use issue::{DirectoryIssue, DirectoryProblem};
pub use model::*;
pub use table::{Row, Table};

/// How to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Whether users that break a rule are skipped or fail the load.
    pub invalid_users: InvalidUsers,
    /// The day guest expiries are compared with.
    pub today: NaiveDate,
}

/// A loaded directory and what was found wrong with it (when invalid users are skipped,
/// their errors are here; warnings always are).
#[derive(Debug, Clone)]
pub struct LoadedDirectory {
    /// The valid users and groups.
    pub directory: Directory,
    /// What was found wrong.
    pub report: DirectoryReport,
}

/// Problems found while loading, sorted by place.
#[derive(Debug, Clone, Default)]
pub struct DirectoryReport {
    /// Every problem, errors and warnings.
    pub problems: Vec<DirectoryProblem>,
}

impl DirectoryReport {
    /// The errors.
    pub fn errors(&self) -> impl Iterator<Item = &DirectoryProblem> {
        self.problems.iter().filter(|p| p.is_error())
    }

    /// The warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &DirectoryProblem> {
        self.problems.iter().filter(|p| !p.is_error())
    }

    /// Whether there is any error.
    pub fn has_errors(&self) -> bool {
        self.errors().next().is_some()
    }
}

/// The directory could not be loaded: a source is unreadable or malformed, or a user is
/// invalid and the config says `invalid_users: fail`. Holds every problem found.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the directory has {} error(s)", problems.iter().filter(|p| p.is_error()).count())]
pub struct DirectoryError {
    /// Every problem found, sorted by place.
    pub problems: Vec<DirectoryProblem>,
}

/// One source's bytes, with its spec.
#[derive(Debug, Clone, Copy)]
pub struct SourceInput<'a> {
    /// How to read it.
    pub spec: &'a SourceSpec,
    /// Its contents.
    pub bytes: &'a [u8],
}

/// Reads every source — files from disk, commands run, directory services over the network —
/// then [`build`]s the directory. A file is read only if it is a regular file of data
/// ([`read_data_file`](crate::diag::data_file::read_data_file)): never a FIFO, a device or
/// anything under `/proc`. A command that fails, or a directory service not read whole, fails
/// its source, and so the load.
pub fn load(
    sources: &[SourceSpec],
    options: &LoadOptions,
) -> Result<LoadedDirectory, DirectoryError> {
    let mut contents = Vec::with_capacity(sources.len());
    let mut problems = Vec::new();
    for spec in sources {
        match fetch(spec) {
            Ok(got) => contents.push(got),
            Err(problem) => {
                problems.push(*problem);
                contents.push(Got::Bytes(Vec::new()));
            }
        }
    }
    if !problems.is_empty() {
        return Err(DirectoryError { problems });
    }
    let inputs: Vec<Fetched> = sources
        .iter()
        .zip(&contents)
        .map(|(spec, got)| Fetched {
            spec,
            data: match got {
                Got::Bytes(bytes) => SourceData::Bytes(bytes),
                Got::Table(table) => SourceData::Table(table),
            },
        })
        .collect();
    build_fetched(&inputs, options)
}

/// What fetching one source gave: bytes to parse, or a table a directory service's reader
/// built (its kind's `fetch` arm returns one).
enum Got {
    /// A file's bytes, or a command's output.
    Bytes(Vec<u8>),
    /// Rows already split into cells.
    Table(Table),
}

/// One source's data: a file's bytes, or a command's output. Every failure is the
/// source's, at its declaration: nothing of a source that failed is read.
fn fetch(spec: &SourceSpec) -> Result<Got, Box<DirectoryProblem>> {
    let failed = |issue| Box::new(Problem::error(spec.declared_at.clone(), issue));
    match &spec.format {
        SourceFormat::Command(command) => command::run(command).map(Got::Bytes).map_err(|reason| {
            failed(DirectoryIssue::CommandFailed {
                command: spec.display.to_string(),
                reason,
            })
        }),
        SourceFormat::Ldap(_) | SourceFormat::Google(_) => match services::fetch_table(spec) {
            Some(read) => read.map(Got::Table).map_err(Box::new),
            None => Err(failed(DirectoryIssue::ServiceFailed {
                source_name: spec.display.to_string(),
                reason: "not a directory service".into(),
            })),
        },
        SourceFormat::Csv(_) | SourceFormat::Yaml => {
            crate::diag::data_file::read_data_file(&spec.path)
                .map(Got::Bytes)
                .map_err(|e| {
                    let path = spec.display.to_string();
                    let reason = e.to_string();
                    failed(if e.is_not_data() {
                        DirectoryIssue::NotData { path, reason }
                    } else {
                        DirectoryIssue::Unreadable { path, reason }
                    })
                })
        }
    }
}

/// Per-source sanity: a source that yields nobody (no users, no groups) is an error unless it
/// says `allow_empty`; one with fewer users than its `min_users` is an error. Either way the
/// source is not read as "these people left". (An allowed empty source keeps its warning.)
fn source_sanity(
    spec: &SourceSpec,
    content: &mut record::SourceContent,
) -> Option<DirectoryProblem> {
    let count = content.rows;
    let at = crate::diag::SourceLocation::file(&spec.display);
    if content.filtered > 0 {
        if count == 0 {
            let filtered = content.filtered;
            return Some(Problem::error(
                at,
                DirectoryIssue::FilteredEveryone { filtered },
            ));
        }
        content.warnings.push(Problem::warning(
            at.clone(),
            DirectoryIssue::RowsFiltered {
                kept: count,
                left_out: content.filtered,
            },
        ));
    }
    if count == 0 && content.groups.is_empty() && !spec.allow_empty {
        content
            .warnings
            .retain(|w| !matches!(w.kind, DirectoryIssue::NoRows));
        return Some(Problem::error(at, DirectoryIssue::EmptySource));
    }
    match spec.min_users {
        Some(min) if count < usize::try_from(min).unwrap_or(usize::MAX) => Some(Problem::error(
            at,
            DirectoryIssue::TooFewUsers { count, min },
        )),
        _ => None,
    }
}

/// Parses, merges and validates sources already in memory. Pure.
pub fn build(
    inputs: &[SourceInput<'_>],
    options: &LoadOptions,
) -> Result<LoadedDirectory, DirectoryError> {
    let fetched: Vec<Fetched<'_>> = inputs
        .iter()
        .map(|i| Fetched {
            spec: i.spec,
            data: SourceData::Bytes(i.bytes),
        })
        .collect();
    build_fetched(&fetched, options)
}

/// What one source gave: the bytes of a file, or a [`Table`] a directory service's reader
/// built (its spec's [`SourceFormat::columns`] map it).
#[derive(Debug, Clone, Copy)]
pub enum SourceData<'a> {
    /// A file's (or a program's output's) bytes, read as the spec's format says.
    Bytes(&'a [u8]),
    /// Rows already split into cells.
    Table(&'a Table),
}

/// One source's data, with its spec.
#[derive(Debug, Clone, Copy)]
pub struct Fetched<'a> {
    /// How to read it.
    pub spec: &'a SourceSpec,
    /// What it gave.
    pub data: SourceData<'a>,
}

/// One source read into its people and groups (not yet merged), or its problems; managers
/// named by name or employee number are resolved within the source.
fn read_source(input: &Fetched<'_>) -> Result<record::SourceContent, Vec<DirectoryProblem>> {
    let file = &input.spec.display;
    let yaml = |bytes| {
        csv::utf8(file, bytes)
            .and_then(|text| yaml::read(file, text.strip_prefix('\u{feff}').unwrap_or(text)))
    };
    let mut content = match (input.data, &input.spec.format) {
        (SourceData::Table(table), format) => {
            let layout = format.columns().ok_or_else(|| {
                vec![Problem::error(
                    input.spec.declared_at.clone(),
                    DirectoryIssue::Unreadable {
                        path: file.to_string(),
                        reason: "a table source needs `columns:`".into(),
                    },
                )]
            })?;
            table::read(table, layout)
        }
        (SourceData::Bytes(bytes), SourceFormat::Csv(layout)) => csv::read(file, bytes, layout),
        (SourceData::Bytes(_), SourceFormat::Ldap(_) | SourceFormat::Google(_)) => {
            Err(vec![Problem::error(
                input.spec.declared_at.clone(),
                DirectoryIssue::ServiceFailed {
                    source_name: file.to_string(),
                    reason: "given bytes, not the table its reader builds".into(),
                },
            )])
        }
        (SourceData::Bytes(bytes), SourceFormat::Yaml) => yaml(bytes),
        (SourceData::Bytes(bytes), SourceFormat::Command(command)) => match &command.output {
            CommandOutput::Csv(layout) => csv::read(file, bytes, layout),
            CommandOutput::Yaml => yaml(bytes),
            CommandOutput::Json(layout) => json::table(file, bytes, layout.groups_separator)
                .and_then(|table| table::read(&table, layout)),
        },
    }?;
    if let Some(by) = input
        .spec
        .format
        .columns()
        .and_then(|l| l.rules.manager_lookup())
    {
        lookup::resolve(&mut content.people, by);
    }
    Ok(content)
}

/// [`build`] for sources of any kind: files' bytes and tables.
pub fn build_fetched(
    inputs: &[Fetched<'_>],
    options: &LoadOptions,
) -> Result<LoadedDirectory, DirectoryError> {
    if let [input] = inputs
        && let (SourceData::Bytes(bytes), SourceFormat::Csv(layout)) =
            (input.data, &input.spec.format)
        && layout.rules.manager_lookup().is_none()
    {
        return build_one_csv(input.spec, bytes, layout, options);
    }
    let mut fatal = Vec::new();
    let mut contents = Vec::with_capacity(inputs.len());
    for input in inputs {
        match read_source(input) {
            Ok(mut content) => {
                if let Some(problem) = source_sanity(input.spec, &mut content) {
                    fatal.push(problem);
                }
                contents.push((content, input.spec.override_earlier));
            }
            Err(problems) => fatal.extend(problems),
        }
    }
    if !fatal.is_empty() {
        for (content, _) in &contents {
            fatal.extend(content.warnings.iter().cloned());
        }
        sort_problems(&mut fatal);
        return Err(DirectoryError { problems: fatal });
    }

    let (people, groups, warnings) = merge::split(contents);
    let people = merge::merge_people(people);
    let validated = validate::validate(people, groups, options.today);
    let specs: Vec<&SourceSpec> = inputs.iter().map(|i| i.spec).collect();
    conclude(&specs, validated, warnings, options)
}

/// [`build`] for one CSV source, the usual directory: each row is built into its user as
/// soon as it is read (there is nobody to merge), so the rows are never all held twice —
/// as read and as users — and a 100,000-row export costs about half the memory.
fn build_one_csv(
    spec: &SourceSpec,
    bytes: &[u8],
    layout: &CsvLayout,
    options: &LoadOptions,
) -> Result<LoadedDirectory, DirectoryError> {
    let mut users = validate::Users::new(options.today, csv::rows_at_most(bytes));
    let read = csv::read_each(&spec.display, bytes, layout, |record| {
        users.add(merge::MergedPerson::from_record(record, 0));
    });
    let mut content = read.map_err(|mut problems| {
        sort_problems(&mut problems);
        DirectoryError { problems }
    })?;
    if let Some(problem) = source_sanity(spec, &mut content) {
        let mut problems = vec![problem];
        problems.append(&mut content.warnings);
        sort_problems(&mut problems);
        return Err(DirectoryError { problems });
    }
    let validated = users.finish(content.groups);
    conclude(&[spec], validated, content.warnings, options)
}

/// The loaded directory from validated users and groups, with every problem sorted; an error
/// when a user is invalid and the config says `invalid_users: fail`.
fn conclude(
    specs: &[&SourceSpec],
    validated: validate::Validated,
    mut warnings: Vec<DirectoryProblem>,
    options: &LoadOptions,
) -> Result<LoadedDirectory, DirectoryError> {
    let mut problems = validated.problems;
    problems.append(&mut warnings);
    sort_problems(&mut problems);
    repeats::summarise(&mut problems);
    if options.invalid_users == InvalidUsers::Fail && problems.iter().any(Problem::is_error) {
        group_repeated_errors(&mut problems, specs);
        return Err(DirectoryError { problems });
    }
    Ok(LoadedDirectory {
        directory: Directory {
            users: validated.users,
            groups: validated.groups,
            skipped: validated.skipped,
            sources: specs.iter().map(|s| Arc::clone(&s.display)).collect(),
        },
        report: DirectoryReport { problems },
    })
}

#[cfg(test)]
mod hr_tests;
#[cfg(test)]
mod tests;
