//! What can be wrong with a directory source, typed, with the places involved as fields.

use crate::diag::{Diagnose, Problem, SourceLocation};
use crate::slack_rules::RuleViolation;

use super::Attribute;

/// A problem found while reading, merging or validating the directory.
///
/// Source-level issues (a file that cannot be read or parsed) always fail the load;
/// user-level ones make that user invalid (skipped or fatal, by `invalid_users`); some are
/// only warnings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DirectoryIssue {
    // ---- the source as a whole: always fatal ----
    #[error("cannot read {path}: {reason}")]
    Unreadable { path: String, reason: String },
    #[error("invalid UTF-8 (byte 0x{byte:02X}); save the file as UTF-8")]
    NotUtf8 { byte: u8 },
    #[error(
        "the source is empty; an empty or broken export is never read as \"nobody works here\""
    )]
    Empty,
    /// Not YAML, or YAML of the wrong shape (serde_yaml's message).
    #[error("{message}")]
    Yaml { message: String },
    #[error("{message}")]
    Csv { message: String },
    #[error("duplicate header {header:?} (also column {first_column})")]
    DuplicateHeader { header: String, first_column: u32 },
    #[error("no column {header:?} (mapped to {attribute}); the header has: {available}")]
    MissingColumn {
        header: String,
        attribute: &'static str,
        available: String,
        mapped_at: SourceLocation,
    },
    #[error("row has {found} fields, the header has {expected}")]
    RaggedRow { found: usize, expected: usize },

    // ---- one user: the user is invalid ----
    #[error("no email: every user needs one")]
    MissingEmail,
    #[error("{email:?} is not a valid email address")]
    InvalidEmail { email: String },
    #[error(
        "email {email:?} is used twice (first at {first}); emails are unique, case-insensitively"
    )]
    DuplicateEmail {
        email: String,
        first: SourceLocation,
    },
    #[error("user_name {user_name:?}: {violation}")]
    InvalidUserName {
        user_name: String,
        violation: RuleViolation,
    },
    #[error(
        "no user_name, and the one Slack would derive from {email:?} breaks its rules: {violation}; set user_name"
    )]
    DerivedUserNameInvalid {
        email: String,
        violation: RuleViolation,
    },
    #[error(
        "user_name {user_name:?} is used twice (first at {first}); user names are unique after Slack's normalisation"
    )]
    DuplicateUserName {
        user_name: String,
        first: SourceLocation,
    },
    #[error("display_name: {violation}")]
    InvalidDisplayName { violation: RuleViolation },
    #[error("{attribute} is blank")]
    BlankName { attribute: Attribute },
    #[error("{attribute}: {violation}")]
    InvalidName {
        attribute: Attribute,
        violation: RuleViolation,
    },
    #[error("id {id:?} is not a Slack user id (U… or W…)")]
    InvalidId { id: String },
    #[error("{attribute} {value:?} is used by two people (first at {first})")]
    DuplicateKey {
        attribute: Attribute,
        value: String,
        first: SourceLocation,
    },
    #[error("{attribute} {value:?} is not {expected}")]
    InvalidValue {
        attribute: Attribute,
        value: String,
        expected: &'static str,
    },
    #[error(
        "{attribute} of {email} is {value:?} here but {other_value:?} at {other}; mark the later source `override: true` to let it win"
    )]
    Conflict {
        email: String,
        attribute: Attribute,
        value: String,
        other_value: String,
        other: SourceLocation,
    },
    #[error("manager {manager:?} is not a user of the directory")]
    UnknownManager { manager: String },
    #[error("managers form a cycle: {}", cycle.join(" → "))]
    ManagerCycle { cycle: Vec<String> },

    // ---- groups ----
    #[error("group name is blank")]
    BlankGroupName,
    #[error("member {member:?} of group {group:?} is not a user of the directory")]
    UnknownMember { member: String, group: String },

    // ---- warnings ----
    #[error("the source has a header but no rows")]
    NoRows,
    #[error("guest {email} has no expiration")]
    GuestWithoutExpiry { email: String },
    #[error("guest {email} expired on {expiration}")]
    GuestExpired { email: String, expiration: String },
    #[error("group {name:?} is declared twice (first at {first}); members are merged")]
    DuplicateGroup { name: String, first: SourceLocation },
    #[error(
        "{email} is a leaver (active: false) and cannot be a member of group {group:?}; left out"
    )]
    LeaverInGroup { email: String, group: String },
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
            DirectoryIssue::Yaml { message } if message.contains("tab") => {
                Some("indent YAML with spaces, never tabs".into())
            }
            DirectoryIssue::Yaml { message } if message.contains("unknown field") => {
                Some("see `scimsync schema directory` for every field".into())
            }
            _ => None,
        }
    }
}

impl DirectoryIssue {
    /// Whether the issue concerns a whole source (and so always fails the load).
    pub fn is_source_level(&self) -> bool {
        matches!(
            self,
            DirectoryIssue::Unreadable { .. }
                | DirectoryIssue::NotUtf8 { .. }
                | DirectoryIssue::Empty
                | DirectoryIssue::Yaml { .. }
                | DirectoryIssue::Csv { .. }
                | DirectoryIssue::DuplicateHeader { .. }
                | DirectoryIssue::MissingColumn { .. }
                | DirectoryIssue::RaggedRow { .. }
        )
    }
}

/// A located directory problem.
pub type DirectoryProblem = Problem<DirectoryIssue>;
