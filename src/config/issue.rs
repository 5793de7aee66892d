//! Everything that can be wrong with a config file: the catalogue of problems the compiler
//! reports, each with the fields its message names. Kept apart from the rules that find them
//! so that one place shows every message a config can earn.

use crate::diag::Diagnose;

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
    /// A source with two kinds, or none.
    #[error(
        "a source needs exactly one of `yaml:`, `csv:`, `command:`, `ldap:` or `google_workspace:`"
    )]
    SourceKind,
    /// A `command:` setting on another kind of source.
    #[error("`{field}` only applies to command sources")]
    CommandOnly {
        /// The setting.
        field: &'static str,
    },
    /// `command: []`, or a blank program.
    #[error("`command` names the program to run and its arguments: [program, arg, …]")]
    EmptyCommand,
    /// Under `SCIMSYNC_CONFINE`, a source or setting that would run a program, connect to a
    /// service or read an environment variable or key file the config names.
    #[error(
        "{field} is refused under SCIMSYNC_CONFINE, where a pull request's config cannot choose {what}; only file sources inside the confined folder are read"
    )]
    ConfinedSource {
        /// The setting, dotted (`sources[0].command`).
        field: String,
        /// What it would choose.
        what: &'static str,
    },
    /// A command's `env` names the variable that holds the Slack token.
    #[error("{name} holds the Slack token: it is never passed to a command")]
    TokenVariablePassed {
        /// The variable.
        name: String,
    },
    /// A value map, lookup, row filter or derived group that cannot work.
    #[error("{field}: {problem}")]
    InvalidRule {
        /// The setting, dotted.
        field: String,
        /// What is wrong.
        problem: &'static str,
    },
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
    /// The attributes the config manages would make Slack create more custom profile fields
    /// than an organisation may have (FACTS §2.8).
    #[error(
        "the managed attributes need {fields} custom profile fields and Slack allows {limit} per organisation (unable_to_create_team_profile_fields): set some of {attributes} to `ignore`"
    )]
    TooManyProfileFields {
        /// How many fields the managed attributes need.
        fields: usize,
        /// Slack's limit.
        limit: usize,
        /// The managed attributes that need one.
        attributes: String,
    },
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
    /// An `ldap:` or `google_workspace:` setting that is missing or cannot work.
    #[error("{field}: {problem}")]
    ServiceSetting {
        /// The setting, dotted.
        field: String,
        /// What is wrong.
        problem: String,
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
    /// `channels_file` could not be read.
    #[error("channels_file {path:?} cannot be read: {cause}")]
    ChannelsFile {
        /// The path as resolved.
        path: String,
        /// Why.
        cause: String,
    },
    /// A directory user's user name looks like a role mailbox (`support`, `design`…), which
    /// is often a channel's name too, and no `channels_file` says which channels exist.
    #[error(
        "user {email} gets the user name {user_name:?}, which looks like a role mailbox: if a \
         channel has that name, Slack refuses the account (409 username_taken) at apply; give \
         channels_file: so the plan shows such a collision, or set the user's user_name"
    )]
    RoleMailbox {
        /// The user's email.
        email: String,
        /// The user name Slack would hold.
        user_name: String,
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
