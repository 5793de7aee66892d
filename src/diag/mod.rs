//! Where a problem is and how bad it is, for config files and directory sources alike.
//!
//! Every problem scimsync finds in its inputs carries a [`SourceLocation`] (`file:line:col`) so
//! that a person can jump to it. Problems are typed per layer (`ConfigIssue`,
//! `DirectoryIssue`), wrapped in a [`Problem`] with a [`Severity`], and turned into text only
//! at the edge: [`render_plain`] for logs and CI (one line per problem), [`render_fancy`] for a
//! terminal (miette source snippets).
//!
//! The input files themselves are read here too, as data only ([`data_file`]: never a FIFO, a
//! device or `/proc`), and quoted only briefly ([`excerpt`]): a config can name any file.

pub mod data_file;
pub mod escape;
pub mod excerpt;
pub mod yaml;

use std::fmt;
use std::sync::Arc;

pub use excerpt::{Excerpt, MAX_EXCERPT, Quoted, excerpt, quoted, shorten_quoted};

/// A place in an input file. `line` and `column` are 1-based; `0` means "not known"
/// (a whole-file problem has neither, a CSV row problem may have only a line).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceLocation {
    /// The file as it was named (relative paths stay relative to the working directory).
    pub file: Arc<str>,
    /// 1-based line; 0 when not known.
    pub line: u32,
    /// 1-based column; 0 when not known.
    pub column: u32,
}

impl SourceLocation {
    /// A location in `file`.
    pub fn new(file: &Arc<str>, line: u32, column: u32) -> Self {
        SourceLocation {
            file: Arc::clone(file),
            line,
            column,
        }
    }

    /// The whole file, no line.
    pub fn file(file: &Arc<str>) -> Self {
        SourceLocation::new(file, 0, 0)
    }

    /// `file:line`, without the column: how the plan report names a user's row.
    pub fn file_line(&self) -> String {
        if self.line == 0 {
            self.file.to_string()
        } else {
            format!("{}:{}", self.file, self.line)
        }
    }
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file),
            (line, 0) => write!(f, "{}:{line}", self.file),
            (line, column) => write!(f, "{}:{line}:{column}", self.file),
        }
    }
}

/// How bad a problem is. Errors stop a load (or skip the user they concern, when the config
/// says `invalid_users: skip`); warnings are reported and change nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Stops a load, or skips the user it concerns.
    Error,
    /// Reported; changes nothing.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// What a typed issue can say beyond its one-line message.
pub trait Diagnose: fmt::Display {
    /// Other places the problem involves (the first of two duplicates, the other side of a
    /// conflict), each with a short label.
    fn related(&self) -> Vec<(SourceLocation, String)> {
        Vec::new()
    }

    /// A hint on how to fix it.
    fn help(&self) -> Option<String> {
        None
    }

    /// Whether the file the problem is in may be shown around it (a snippet on a terminal).
    /// Not when the file did not parse as what it should be: it may be anything a config can
    /// name (a private key, a `.env` file), and then no line of it is shown, for any of its
    /// problems.
    fn shows_file(&self) -> bool {
        true
    }
}

/// One located problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem<K> {
    /// Error or warning.
    pub severity: Severity,
    /// Where the problem is.
    pub location: SourceLocation,
    /// What the problem is.
    pub kind: K,
}

impl<K> Problem<K> {
    /// An error at `location`.
    pub fn error(location: SourceLocation, kind: K) -> Self {
        Problem {
            severity: Severity::Error,
            location,
            kind,
        }
    }

    /// A warning at `location`.
    pub fn warning(location: SourceLocation, kind: K) -> Self {
        Problem {
            severity: Severity::Warning,
            location,
            kind,
        }
    }

    /// Whether the problem is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl<K: fmt::Display> fmt::Display for Problem<K> {
    /// `file:line:col: severity: message`, the line format compilers use, so editors and CI
    /// annotators pick it up.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.kind.to_string();
        write!(
            f,
            "{}: {}: {}",
            self.location,
            self.severity,
            bounded(&message)
        )
    }
}

/// The longest message a problem prints whole; past it, the middle is cut. Messages quote
/// their input (a value, a line), and an input line can be megabytes long.
pub const MAX_MESSAGE: usize = 400;

/// `message`, cut to [`MAX_MESSAGE`] characters with what was left out counted.
pub fn bounded(message: &str) -> std::borrow::Cow<'_, str> {
    let count = message.chars().count();
    if count <= MAX_MESSAGE {
        return std::borrow::Cow::Borrowed(message);
    }
    let head: String = message.chars().take(MAX_MESSAGE - 80).collect();
    let tail: String = message.chars().skip(count - 40).collect();
    std::borrow::Cow::Owned(format!(
        "{head}… ({} characters left out) …{tail}",
        count - (MAX_MESSAGE - 80) - 40
    ))
}

/// Sorts problems by file, line and column so output is deterministic.
pub fn sort_problems<K>(problems: &mut [Problem<K>]) {
    problems.sort_by(|a, b| {
        a.location
            .cmp(&b.location)
            .then(a.severity.cmp(&b.severity))
    });
}

/// One line per problem: `file:line:col: error: message`.
pub fn render_plain<K: fmt::Display>(problems: &[Problem<K>]) -> String {
    let mut out = String::new();
    for problem in problems {
        out.push_str(&problem.to_string());
        out.push('\n');
    }
    out
}

/// miette reports with source snippets, for a terminal; `color` adds ANSI colour (the caller
/// decides: `--color`, `NO_COLOR`). Files are read again here, at the edge, so loaded values
/// do not carry their text around; a file that cannot be read any more falls back to the plain
/// line. A file is read only as data ([`read_data_file`](data_file::read_data_file)), and
/// not at all when one of its problems says it is not to be shown ([`Diagnose::shows_file`]).
pub fn render_fancy<K: Diagnose>(problems: &[Problem<K>], color: bool) -> String {
    use miette::{GraphicalReportHandler, GraphicalTheme};
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme);
    let mut texts: std::collections::HashMap<Arc<str>, Option<Arc<String>>> = problems
        .iter()
        .filter(|p| !p.kind.shows_file())
        .map(|p| (Arc::clone(&p.location.file), None))
        .collect();
    let mut out = String::new();
    for problem in problems {
        let text = texts
            .entry(Arc::clone(&problem.location.file))
            .or_insert_with(|| {
                data_file::read_data_file(std::path::Path::new(&*problem.location.file))
                    .ok()
                    .map(|b| Arc::new(String::from_utf8_lossy(&b).into_owned()))
            })
            .clone();
        let report = FancyProblem::new(problem, text);
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&problem_line(problem));
            out.push('\n');
        }
    }
    out
}

fn problem_line<K: fmt::Display>(problem: &Problem<K>) -> String {
    format!(
        "{}: {}: {}",
        problem.location, problem.severity, problem.kind
    )
}

/// A [`Problem`] dressed for miette: the message, a labelled span at the location, and one
/// more label per related place in the same file.
#[derive(Debug)]
struct FancyProblem {
    message: String,
    severity: miette::Severity,
    help: Option<String>,
    source: Option<miette::NamedSource<Arc<String>>>,
    labels: Vec<miette::LabeledSpan>,
}

impl FancyProblem {
    fn new<K: Diagnose>(problem: &Problem<K>, text: Option<Arc<String>>) -> Self {
        let mut labels = Vec::new();
        let mut help = problem.kind.help();
        let mut elsewhere = Vec::new();
        if let Some(text) = &text {
            if let Some(offset) = byte_offset(text, &problem.location) {
                labels.push(miette::LabeledSpan::new_primary_with_span(
                    Some("here".into()),
                    (offset, token_len(text, offset)),
                ));
            }
            for (location, label) in problem.kind.related() {
                match byte_offset(text, &location) {
                    Some(offset) if location.file == problem.location.file => {
                        labels.push(miette::LabeledSpan::new_with_span(
                            Some(label),
                            (offset, token_len(text, offset)),
                        ))
                    }
                    _ => elsewhere.push(format!("{label}: {location}")),
                }
            }
        }
        if !elsewhere.is_empty() {
            let extra = elsewhere.join("\n");
            help = Some(match help {
                Some(h) => format!("{h}\n{extra}"),
                None => extra,
            });
        }
        FancyProblem {
            message: format!(
                "{}: {}",
                problem.location,
                bounded(&problem.kind.to_string())
            ),
            severity: match problem.severity {
                Severity::Error => miette::Severity::Error,
                Severity::Warning => miette::Severity::Warning,
            },
            help,
            source: text.map(|t| miette::NamedSource::new(&problem.location.file, t)),
            labels,
        }
    }
}

impl fmt::Display for FancyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FancyProblem {}

impl miette::Diagnostic for FancyProblem {
    fn severity(&self) -> Option<miette::Severity> {
        Some(self.severity)
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        if self.labels.is_empty() {
            return None;
        }
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            return None;
        }
        Some(Box::new(self.labels.iter().cloned()))
    }
}

/// The byte offset of a 1-based line and (character) column in `text`.
fn byte_offset(text: &str, location: &SourceLocation) -> Option<usize> {
    if location.line == 0 {
        return None;
    }
    let text_start = text.strip_prefix('\u{feff}').map_or(0, |_| 3);
    let mut line_start = text_start;
    for _ in 1..location.line {
        line_start += text[line_start..].find('\n')? + 1;
    }
    let line = &text[line_start..];
    let column = location.column.max(1) as usize - 1;
    let within = line
        .char_indices()
        .nth(column)
        .map_or(line.len(), |(i, _)| i);
    Some(line_start + within)
}

/// How much to underline: up to the end of the word or line, at least one character.
fn token_len(text: &str, offset: usize) -> usize {
    let rest = &text[offset..];
    // At most 80 characters (not bytes: any UTF-8 text may be underlined).
    let eighty = rest.char_indices().nth(80).map_or(rest.len(), |(i, _)| i);
    let end = rest
        .find(['\n', '\r', ',', '#'])
        .unwrap_or(rest.len())
        .min(eighty);
    let len = rest[..end].trim_end().len();
    len.max(rest.chars().next().map_or(0, char::len_utf8))
}

#[cfg(test)]
mod utf8_tests {
    use super::*;

    #[test]
    fn a_huge_quoted_value_is_cut() {
        let value = "x".repeat(10_000_000);
        let message = format!("title \"{value}\" is too long");
        let cut = bounded(&message);
        assert!(cut.chars().count() < MAX_MESSAGE + 60, "{}", cut.len());
        assert!(cut.starts_with("title \"xxx"));
        assert!(cut.ends_with("x\" is too long"));
        assert!(cut.contains("characters left out"));
        assert_eq!(bounded("short"), "short");
    }

    #[test]
    fn underlining_any_utf8_text_never_panics() {
        let long = "山田太郎".repeat(40);
        let text = format!("users:\n  - display_name: \"{long}\"\n");
        for column in 1..=200 {
            let location = SourceLocation::new(&Arc::from("d.yaml"), 2, column);
            if let Some(offset) = byte_offset(&text, &location) {
                let len = token_len(&text, offset);
                assert!(text.is_char_boundary(offset + len), "column {column}");
            }
        }
    }
}

/// A line or column number as a [`SourceLocation`] holds it. Numbers past `u32::MAX`
/// saturate: no file scimsync reads has four billion lines, and a position slightly wrong in
/// such a file is better than a panic.
pub fn position(n: impl TryInto<u32>) -> u32 {
    n.try_into().unwrap_or(u32::MAX)
}

/// Line and column (1-based, in characters) of a byte offset in `text`.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset.min(text.len())];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let mut column = before[line_start..].chars().count() + 1;
    if line == 1 && before.starts_with('\u{feff}') {
        column -= 1;
    }
    (position(line), position(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    struct Issue(&'static str);
    impl fmt::Display for Issue {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Diagnose for Issue {}

    #[test]
    fn locations_print_what_is_known() {
        let file: Arc<str> = "a.yaml".into();
        assert_eq!(SourceLocation::new(&file, 3, 7).to_string(), "a.yaml:3:7");
        assert_eq!(SourceLocation::new(&file, 3, 0).to_string(), "a.yaml:3");
        assert_eq!(SourceLocation::file(&file).to_string(), "a.yaml");
        assert_eq!(SourceLocation::new(&file, 3, 7).file_line(), "a.yaml:3");
    }

    #[test]
    fn plain_rendering_is_one_line_per_problem_sorted() {
        let file: Arc<str> = "a.yaml".into();
        let mut problems = vec![
            Problem::warning(SourceLocation::new(&file, 9, 1), Issue("later")),
            Problem::error(SourceLocation::new(&file, 2, 5), Issue("first")),
        ];
        sort_problems(&mut problems);
        assert_eq!(
            render_plain(&problems),
            "a.yaml:2:5: error: first\na.yaml:9:1: warning: later\n"
        );
    }

    #[test]
    fn line_and_column_of_offsets() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (2, 2));
        assert_eq!(line_column(text, text.len() - 1), (3, 1));
        assert_eq!(line_column("\u{feff}ab", 4), (1, 2));
        let file: Arc<str> = "x".into();
        assert_eq!(
            byte_offset(text, &SourceLocation::new(&file, 2, 3)),
            Some(5)
        );
    }

    /// A problem of a file that did not parse as what it should be.
    #[derive(Debug)]
    struct NotADirectory;
    impl fmt::Display for NotADirectory {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("not a directory")
        }
    }
    impl Diagnose for NotADirectory {
        fn shows_file(&self) -> bool {
            false
        }
    }

    #[test]
    fn fancy_rendering_never_shows_a_file_that_is_no_directory_nor_reads_a_fifo() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".env");
        std::fs::write(&path, "API_KEY=sk-live-secret\nDB=hunter2\n").unwrap();
        let file: Arc<str> = path.to_string_lossy().into();
        let problems = vec![Problem::error(
            SourceLocation::new(&file, 1, 1),
            NotADirectory,
        )];
        let out = render_fancy(&problems, false);
        assert!(out.contains("not a directory"), "{out}");
        assert!(
            !out.contains("sk-live") && !out.contains("hunter2"),
            "{out}"
        );
        // A FIFO is never opened for a snippet (nobody writes to it: it would wait forever).
        let fifo = dir.path().join("fifo.yaml");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let file: Arc<str> = fifo.to_string_lossy().into();
        let problems = vec![Problem::error(SourceLocation::new(&file, 2, 1), Issue("x"))];
        assert!(render_fancy(&problems, false).contains("x"));
    }

    #[test]
    fn fancy_rendering_shows_the_snippet() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.yaml");
        std::fs::write(&path, "users:\n  - email: nope\n").unwrap();
        let file: Arc<str> = path.to_string_lossy().into();
        let problems = vec![Problem::error(
            SourceLocation::new(&file, 2, 12),
            Issue("not a valid email address"),
        )];
        let out = render_fancy(&problems, false);
        assert!(out.contains("not a valid email address"), "{out}");
        assert!(out.contains("- email: nope"), "{out}");
        assert!(!out.contains('\x1b'), "no colour unless asked: {out}");
        assert!(
            render_fancy(&problems, true).contains('\x1b'),
            "colour when asked"
        );
    }
}
