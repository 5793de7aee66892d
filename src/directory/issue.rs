//! What can be wrong with a directory source, typed, with the places involved as fields.

use crate::diag::{Diagnose, Problem, SourceLocation, excerpt, quoted};
use crate::slack_rules::RuleViolation;

use super::Attribute;

/// A problem found while reading, merging or validating the directory.
///
/// Source-level issues (a file that cannot be read or parsed) always fail the load;
/// user-level ones make that user invalid (skipped or fatal, by `invalid_users`); some are
/// only warnings.
///
/// A message quotes at most a short excerpt of one value of a file ([`quoted`]), and a source
/// that did not parse as a directory is never shown around the problem
/// ([`Diagnose::shows_file`]): a config can name any file as a source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryIssue {
    // ---- the source as a whole: always fatal ----
    /// The source cannot be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The source as named.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// A directory service (`ldap:`, `google_workspace:`) could not be read whole.
    #[error(
        "the source {source_name} could not be read whole, so nothing is planned from it: {reason}"
    )]
    ServiceFailed {
        /// The source as named (`ldap ldaps://…`).
        source_name: String,
        /// Why.
        reason: String,
    },
    /// The source is not a regular file of data: a FIFO, a socket, a device, a folder, a
    /// file under `/proc`, `/sys` or `/dev`, or one yielding other than its size.
    #[error("{path} is not read as a source: {reason}")]
    NotData {
        /// The source as named.
        path: String,
        /// What it is instead.
        reason: String,
    },
    /// A byte sequence that is not UTF-8.
    #[error("invalid UTF-8 (byte 0x{byte:02X}); save the file as UTF-8")]
    NotUtf8 {
        /// The first bad byte.
        byte: u8,
    },
    /// Nothing but blanks: never read as an empty company.
    #[error(
        "the source is empty; an empty or broken export is never read as \"nobody works here\""
    )]
    Empty,
    /// Not YAML, or not a directory at its top level (a mapping of `users:` and `groups:`):
    /// the parser's message, its quoted values cut, or what the file holds instead.
    #[error("{message}")]
    NotADirectory {
        /// What is wrong, without serde_yaml's position (the problem has it).
        message: String,
    },
    /// A user or group of a YAML directory of the wrong shape (serde_yaml's message, its
    /// quoted values cut).
    #[error("{message}")]
    Yaml {
        /// What is wrong, without serde_yaml's position (the problem has it).
        message: String,
    },
    /// Not CSV (the csv reader's message).
    #[error("{message}")]
    Csv {
        /// What is wrong.
        message: String,
    },
    /// A quoted field that never closes: the reader would swallow every row after it.
    #[error(
        "a quote opened here is never closed: the rest of the file ({lines} more line(s)) would \
         be read as one field; close the quote (or double it: \"\")"
    )]
    UnclosedQuote {
        /// Physical lines after the opening quote's line.
        lines: usize,
    },
    /// A line break inside an identifier column: a quote left open elsewhere, most likely.
    #[error(
        "a line break inside the {attribute} column: an identifier is one line; a quote was \
         probably left open"
    )]
    LineBreakInIdentifier {
        /// The identifier column's attribute.
        attribute: Attribute,
    },
    /// A quoted field spanning lines that read as rows of this file: rows the reader would
    /// lose inside one cell.
    #[error(
        "this field runs over {rows} line(s) that look like rows of this file (up to line \
         {last_line}): a quote was probably left open; they would not be read as people"
    )]
    SwallowedRows {
        /// How many swallowed lines look like rows.
        rows: usize,
        /// The last line of the field.
        last_line: u32,
    },
    /// A source that yields nobody, without `allow_empty: true`.
    #[error(
        "the source yields no users: an empty or truncated export is never read as \
         \"everyone left\"; if it may be empty, say `allow_empty: true` on it"
    )]
    EmptySource,
    /// A source that yields fewer users than its `min_users`.
    #[error("the source yields {count} user(s), fewer than its min_users {min}")]
    TooFewUsers {
        /// Users read.
        count: usize,
        /// The source's minimum.
        min: u32,
    },
    /// Every row of a tabular source was left out by its `where`/`exclude_where`.
    #[error(
        "the row filter (where, exclude_where) leaves out all {filtered} row(s): a filter that keeps nobody is never read as \"nobody works here\""
    )]
    FilteredEveryone {
        /// The rows left out.
        filtered: usize,
    },
    /// A `command:` source failed: nothing it wrote is read.
    #[error("{command} failed: {reason}; nothing it wrote is read")]
    CommandFailed {
        /// The command as messages name it (`command 'fetch-hr'`).
        command: String,
        /// What happened (its exit status, a timeout…), with its standard error redacted.
        reason: String,
    },
    /// A JSON source that is not an array of objects of scalars.
    #[error("not a JSON array of objects: {message}")]
    Json {
        /// What is wrong.
        message: String,
    },
    /// Two columns with one header name.
    #[error("duplicate header {} (also column {first_column})", quoted(.header))]
    DuplicateHeader {
        /// The header name.
        header: String,
        /// The column of its first use.
        first_column: u32,
    },
    /// A header the config maps is not in the file. The file's headers are not listed: the
    /// "header" of a file that is no export at all is whatever its first line holds.
    #[error(
        "no column {} (mapped to {attribute}) in the header row ({columns} column(s)){}",
        quoted(.header),
        near.as_deref().map(|n| format!("; did you mean {}?", quoted(n))).unwrap_or_default()
    )]
    MissingColumn {
        /// The header the config names.
        header: String,
        /// The column key it is mapped under.
        attribute: &'static str,
        /// How many columns the header row has.
        columns: usize,
        /// A header of the file that differs from `header` only slightly (case, spaces,
        /// punctuation or a typo or two), if one does.
        near: Option<String>,
        /// Where the config maps it.
        mapped_at: SourceLocation,
    },
    /// A row with more or fewer fields than the header.
    #[error("row has {found} fields, the header has {expected}")]
    RaggedRow {
        /// The row's fields.
        found: usize,
        /// The header's fields.
        expected: usize,
    },

    // ---- one user: the user is invalid ----
    /// A user without an email.
    #[error("no email: every user needs one")]
    MissingEmail,
    /// An email Slack would refuse.
    #[error("{} is not a valid email address", quoted(.email))]
    InvalidEmail {
        /// The email as written.
        email: String,
    },
    /// Two users with one email.
    #[error(
        "email {} is used twice (first at {first}); emails are unique, case-insensitively",
        quoted(.email)
    )]
    DuplicateEmail {
        /// The email as written here.
        email: String,
        /// Where it is first used.
        first: SourceLocation,
    },
    /// A userName Slack would refuse.
    #[error("user_name {}: {violation}", quoted(.user_name))]
    InvalidUserName {
        /// The userName as written.
        user_name: String,
        /// The rule it breaks.
        violation: RuleViolation,
    },
    /// No userName, and the one Slack would derive from the email is refused.
    #[error(
        "no user_name, and the one Slack would derive from {} breaks its rules: {violation}; set user_name",
        quoted(.email)
    )]
    DerivedUserNameInvalid {
        /// The email the userName would come from.
        email: String,
        /// The rule the derived userName breaks.
        violation: RuleViolation,
    },
    /// Two users with one userName (after Slack's normalisation).
    #[error(
        "user_name {} is used twice (first at {first}); user names are unique after Slack's normalisation",
        quoted(.user_name)
    )]
    DuplicateUserName {
        /// The normalised userName.
        user_name: String,
        /// Where it is first used.
        first: SourceLocation,
    },
    /// A display name Slack would refuse.
    #[error("display_name: {violation}")]
    InvalidDisplayName {
        /// The rule it breaks.
        violation: RuleViolation,
    },
    /// A yes/no flag written blank: never read as "active".
    #[error("{attribute} is blank: write true or false (a blank is never read as active)")]
    BlankFlag {
        /// Which flag.
        attribute: Attribute,
    },
    /// A text value that is the user name under another SCIM name (`nickname`), and is not
    /// the user name Slack will hold for the person: Slack keeps the two equal.
    #[error(
        "{attribute} {} is not the user name Slack will hold for this person ({}): Slack keeps {attribute} equal to the user name; give both the same name, or leave {attribute} out",
        quoted(.value),
        quoted(.user_name)
    )]
    NotTheUserName {
        /// The attribute.
        attribute: Attribute,
        /// Its value as written.
        value: String,
        /// The user name Slack will hold (given, or derived from the email).
        user_name: String,
    },
    /// A name Slack would refuse: a given or family name, or a value that is the user name
    /// under another SCIM name.
    #[error("{attribute}: {violation}")]
    InvalidName {
        /// Which name.
        attribute: Attribute,
        /// The rule it breaks.
        violation: RuleViolation,
    },
    /// An `id` that is not a Slack user id.
    #[error("id {} is not a Slack user id (U… or W…)", quoted(.id))]
    InvalidId {
        /// The id as written.
        id: String,
    },
    /// Two users with one Slack id or employee number.
    #[error("{attribute} {} is used by two people (first at {first})", quoted(.value))]
    DuplicateKey {
        /// The match key.
        attribute: Attribute,
        /// Its value.
        value: String,
        /// Where it is first used.
        first: SourceLocation,
    },
    /// A value that does not parse (a date, a flag, an expiry).
    #[error("{attribute} {} is not {expected}", quoted(.value))]
    InvalidValue {
        /// The attribute.
        attribute: Attribute,
        /// The value as written.
        value: String,
        /// What it should look like.
        expected: &'static str,
    },
    /// A cell whose value its column's value map does not list.
    #[error("{column} {} is not a value its map lists ({known})", quoted(.value))]
    Unmapped {
        /// The column key.
        column: &'static str,
        /// The value as written.
        value: String,
        /// The values the map lists.
        known: String,
    },
    /// A manager looked up by name or employee number who matches nobody of the source.
    #[error("manager {} matches no {by} of this source's people", quoted(.value))]
    ManagerNotFound {
        /// What the lookup compares (`name`, `employee number`).
        by: &'static str,
        /// The cell as written.
        value: String,
    },
    /// A manager looked up by name who matches several people.
    #[error(
        "manager {} matches {} people: {}; the name must be one person's (use `by: employee_number` or `by: email` when names repeat)",
        quoted(.value),
        candidates.len(),
        candidates.join(", ")
    )]
    ManagerAmbiguous {
        /// The cell as written.
        value: String,
        /// Each match: email and place.
        candidates: Vec<String>,
    },
    /// A derived group's cell with nothing to make a group name of.
    #[error("derived group from {}: no letter or digit to name a group by", quoted(.value))]
    NoSlug {
        /// The cell as written.
        value: String,
    },
    /// Errors of one kind in one column, as one: the first, how many more, where the first
    /// of those are, and a hint when the column seems to hold another kind of value.
    #[error(
        "{first} — and {more} more like it in this column (at {}{}){}",
        places.join(", "),
        if *more > places.len() { ", …" } else { "" },
        hint.as_deref().map(|h| format!("; {h}")).unwrap_or_default()
    )]
    Grouped {
        /// The first error.
        first: Box<DirectoryIssue>,
        /// How many more.
        more: usize,
        /// Where the first few more are.
        places: Vec<String>,
        /// What the column seems to hold instead, and what to write.
        hint: Option<String>,
    },
    /// Two sources give one person different values.
    #[error(
        "{attribute} of {} is {} here but {} at {other}; mark the later source `override: true` to let it win",
        excerpt(.email),
        quoted(.value),
        quoted(.other_value)
    )]
    Conflict {
        /// The person's email.
        email: String,
        /// The attribute.
        attribute: Attribute,
        /// The value here (the later source).
        value: String,
        /// The value the earlier source gives.
        other_value: String,
        /// Where the earlier source gives it.
        other: SourceLocation,
    },
    /// A manager who is not a user of the directory.
    #[error("manager {} is not a user of the directory", quoted(.manager))]
    UnknownManager {
        /// The manager's email as written.
        manager: String,
    },
    /// Managers that manage each other.
    #[error(
        "managers form a cycle: {}",
        cycle.iter().map(|e| excerpt(e).to_string()).collect::<Vec<_>>().join(" → ")
    )]
    ManagerCycle {
        /// The emails around the cycle.
        cycle: Vec<String>,
    },

    // ---- groups ----
    /// A group without a name.
    #[error("group name is blank")]
    BlankGroupName,
    /// A group member who is not a user of the directory.
    #[error(
        "member {} of group {} is not a user of the directory",
        quoted(.member),
        quoted(.group)
    )]
    UnknownMember {
        /// The member's email as written.
        member: String,
        /// The group's name.
        group: String,
    },

    // ---- warnings ----
    /// A CSV header without rows.
    #[error("the source has a header but no rows")]
    NoRows,
    /// Rows a source's row filter left out: counted, never silent.
    #[error("{left_out} row(s) left out by the row filter (where, exclude_where); {kept} kept")]
    RowsFiltered {
        /// Rows kept.
        kept: usize,
        /// Rows left out.
        left_out: usize,
    },
    /// A guest who never expires.
    #[error("guest {} has no expiration", excerpt(.email))]
    GuestWithoutExpiry {
        /// The guest's email.
        email: String,
    },
    /// A guest whose expiry has passed.
    #[error("guest {} expired on {expiration}", excerpt(.email))]
    GuestExpired {
        /// The guest's email.
        email: String,
        /// The day it expired.
        expiration: String,
    },
    /// Warnings of one kind past the first few, counted rather than listed
    /// ([`super::repeats`]).
    #[error("and {count} more {what} (from here on)")]
    MoreLikeThese {
        /// How many are not listed.
        count: usize,
        /// What they are, plural (`guests without an expiration`).
        what: &'static str,
    },
    /// A group declared twice (its members are merged).
    #[error(
        "group {} is declared twice (first at {first}); members are merged",
        quoted(.name)
    )]
    DuplicateGroup {
        /// The group's name.
        name: String,
        /// Where it is first declared.
        first: SourceLocation,
    },
}

impl Diagnose for DirectoryIssue {
    fn related(&self) -> Vec<(SourceLocation, String)> {
        match self {
            DirectoryIssue::DuplicateEmail { first, .. }
            | DirectoryIssue::DuplicateUserName { first, .. }
            | DirectoryIssue::DuplicateKey { first, .. }
            | DirectoryIssue::DuplicateGroup { first, .. } => {
                vec![(first.clone(), "first here".into())]
            }
            DirectoryIssue::Conflict { other, .. } => vec![(other.clone(), "other value".into())],
            DirectoryIssue::MissingColumn { mapped_at, .. } => {
                vec![(mapped_at.clone(), "mapped here".into())]
            }
            _ => Vec::new(),
        }
    }

    fn help(&self) -> Option<String> {
        match self {
            DirectoryIssue::Yaml { message } if message.contains("invalid type") => {
                Some("quote values that look like numbers or booleans".into())
            }
            DirectoryIssue::Yaml { message } | DirectoryIssue::NotADirectory { message }
                if message.contains("tab") =>
            {
                Some("indent YAML with spaces, never tabs".into())
            }
            DirectoryIssue::Yaml { message } | DirectoryIssue::NotADirectory { message }
                if message.contains("unknown field") =>
            {
                Some("see `scimsync schema directory` for every field".into())
            }
            _ => None,
        }
    }

    /// A source that did not parse as a directory (not text, not YAML, not a mapping of
    /// `users:` and `groups:`, or a CSV whose header row is not the export's) may be any file
    /// a config can name: no line of it is shown. (Reading or declaring problems are located
    /// in the config, which is shown.)
    fn shows_file(&self) -> bool {
        !matches!(
            self,
            DirectoryIssue::NotUtf8 { .. }
                | DirectoryIssue::Empty
                | DirectoryIssue::NotADirectory { .. }
                | DirectoryIssue::Csv { .. }
                | DirectoryIssue::Json { .. }
                | DirectoryIssue::CommandFailed { .. }
                | DirectoryIssue::UnclosedQuote { .. }
                | DirectoryIssue::DuplicateHeader { .. }
                | DirectoryIssue::MissingColumn { .. }
        )
    }
}

impl DirectoryIssue {
    /// Whether the issue concerns a whole source (and so always fails the load).
    pub fn is_source_level(&self) -> bool {
        matches!(
            self,
            DirectoryIssue::Unreadable { .. }
                | DirectoryIssue::ServiceFailed { .. }
                | DirectoryIssue::NotData { .. }
                | DirectoryIssue::NotUtf8 { .. }
                | DirectoryIssue::Empty
                | DirectoryIssue::NotADirectory { .. }
                | DirectoryIssue::Yaml { .. }
                | DirectoryIssue::Csv { .. }
                | DirectoryIssue::UnclosedQuote { .. }
                | DirectoryIssue::EmptySource
                | DirectoryIssue::TooFewUsers { .. }
                | DirectoryIssue::FilteredEveryone { .. }
                | DirectoryIssue::CommandFailed { .. }
                | DirectoryIssue::Json { .. }
                | DirectoryIssue::LineBreakInIdentifier { .. }
                | DirectoryIssue::SwallowedRows { .. }
                | DirectoryIssue::DuplicateHeader { .. }
                | DirectoryIssue::MissingColumn { .. }
                | DirectoryIssue::RaggedRow { .. }
        )
    }
}

/// A located directory problem.
pub type DirectoryProblem = Problem<DirectoryIssue>;
