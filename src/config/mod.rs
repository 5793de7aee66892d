//! Configuration: what to sync, from where, and how carefully (DESIGN §7).
//!
//! The file is parsed into [`raw`] serde types that reject unknown fields, then compiled into
//! the validated types below. Compilation reports every problem at once, each with its
//! `file:line:col`; nothing downstream ever sees an unvalidated value. Relative paths resolve
//! against the config file's folder. What differs per deployment can be overridden from the
//! environment (see [`EnvOverrides`]).
//!
//! The token itself is never read here: [`TokenSource`] only says where it is.

mod compile;
mod issue;
pub mod ldap_filter;
mod paths;
pub mod raw;
pub mod services;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use crate::diag::{Problem, Severity, SourceLocation};
pub use compile::INTERVAL_RANGE;
pub(crate) use compile::parse_duration;
pub use compile::{Warnings, compile, sha256_hex};
pub use issue::ConfigIssue;
pub use raw::{
    AttributeMode, Blank, CommandFormat, EnvOverrides, InvalidUsers, LookupBy, MatchKey,
    UnmanagedGroups, UnmanagedUsers,
};

use crate::model::{Attribute, Kind, TABLE};
use crate::scim::Version;

/// The default config file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/scimsync.yaml";

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The config file as named.
    pub file: Arc<str>,
    /// The Slack organisation and how to reach it.
    pub target: Target,
    /// Directory sources, in order; later ones merge into earlier ones.
    pub sources: Vec<SourceSpec>,
    /// What the planner needs to decide.
    pub policy: Policy,
    /// What to do with directory users that break a rule.
    pub invalid_users: InvalidUsers,
    /// How much of Slack's rate limit to use.
    pub rate_limit: RateLimit,
    /// `scimsync run` settings.
    pub daemon: DaemonSettings,
    /// The audit log, resolved against the config file's folder.
    pub audit_log: Option<PathBuf>,
    /// Audit lines are also written to standard output.
    pub audit_stdout: bool,
    /// Lock file held for a whole pass; by default one per config file.
    pub lock_file: Option<PathBuf>,
    /// The SHA-256 (hex) of the config file's bytes as read: what the audit log records.
    pub digest: String,
    /// Where the state kept between passes lives.
    pub state_dir: StateDir,
    /// When a failing op is stuck and how it backs off.
    pub stuck: StuckSettings,
}

/// The config could not be compiled; every problem found, errors and warnings, sorted.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} in {file}", count_errors(problems))]
pub struct ConfigError {
    /// The config file as named.
    pub file: Arc<str>,
    /// Every problem found, sorted by place.
    pub problems: Vec<Problem<ConfigIssue>>,
}

fn count_errors(problems: &[Problem<ConfigIssue>]) -> String {
    match problems.iter().filter(|p| p.is_error()).count() {
        1 => "1 error".into(),
        n => format!("{n} errors"),
    }
}

impl Config {
    /// Reads and compiles the config file at `path`, with `env` overriding. Its warnings are
    /// left out: they are for `validate` to show ([`Config::load_with_warnings`]); a pass
    /// goes on regardless.
    pub fn load(path: &Path, env: &EnvOverrides) -> Result<Config, ConfigError> {
        Config::load_with_warnings(path, env).map(|(config, _)| config)
    }

    /// Reads and compiles the config file at `path`, with `env` overriding: the config and,
    /// beside it, the problems that do not stop it.
    pub fn load_with_warnings(
        path: &Path,
        env: &EnvOverrides,
    ) -> Result<(Config, Warnings), ConfigError> {
        let file: Arc<str> = path.to_string_lossy().into();
        let bytes = std::fs::read(path).map_err(|e| ConfigError {
            file: file.clone(),
            problems: vec![Problem::error(
                SourceLocation::file(&file),
                ConfigIssue::Unreadable {
                    reason: e.to_string(),
                },
            )],
        })?;
        compile(&file, &bytes, env)
    }
}

/// The SCIM server the target is reached at. (Not the rate-limit class of a request:
/// that is [`crate::scim::limits::Endpoint`].)
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimServer {
    /// The built-in Slack emulator, run in-process.
    Embedded,
    /// A SCIM base URL (https, or http to loopback).
    Url(url::Url),
}

/// Where the SCIM token is kept. The token is read only when a client is built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// An environment variable's name.
    Env(String),
    /// A file whose contents (trimmed) are the token.
    File(PathBuf),
}

/// The Slack organisation to sync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Where the SCIM API is.
    pub server: ScimServer,
    /// The SCIM dialect to speak.
    pub version: Version,
    /// `None` only for the embedded emulator, which accepts any token.
    pub token: Option<TokenSource>,
    /// The embedded emulator's seed and state files (only with [`ScimServer::Embedded`]).
    pub emulator_seed: Option<PathBuf>,
    /// See `emulator_seed`.
    pub emulator_state: Option<PathBuf>,
    /// How the embedded emulator behaves (only with [`ScimServer::Embedded`]).
    pub emulator: EmbeddedEmulator,
}

/// `target.emulator`: the embedded emulator's preset and the settings changed on top of it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmbeddedEmulator {
    /// The preset the settings start from.
    pub preset: crate::emulator::Preset,
    /// The read lag, if changed.
    pub read_lag: Option<std::time::Duration>,
    /// Which writes lag, if changed.
    pub lag_scope: Option<crate::emulator::LagScope>,
    /// Whether group names may repeat, if changed.
    pub group_names: Option<crate::emulator::GroupNames>,
    /// How strictly requests are read, if changed.
    pub parsing: Option<crate::emulator::Parsing>,
    /// What /Groups filters get, if changed.
    pub group_filters: Option<crate::emulator::GroupFilters>,
    /// `Some(false)`: no injected faults.
    pub faults: Option<bool>,
    /// The channel list file.
    pub channels_file: Option<PathBuf>,
    /// The organisation's custom profile fields besides SCIM's, if changed.
    pub custom_profile_fields: Option<usize>,
    /// Values Slack finds invalid for a custom profile field.
    pub invalid_values: Vec<crate::emulator::InvalidValue>,
}

impl EmbeddedEmulator {
    /// The emulator's settings: the preset's, changed where a setting is given, with the
    /// channels of `channels_file` (an error names the file).
    pub fn settings(&self) -> Result<crate::emulator::EmulatorConfig, String> {
        let mut c = crate::emulator::EmulatorConfig::preset(self.preset);
        c.read_lag = self.read_lag.unwrap_or(c.read_lag);
        c.lag_scope = self.lag_scope.unwrap_or(c.lag_scope);
        c.group_names = self.group_names.unwrap_or(c.group_names);
        c.parsing = self.parsing.unwrap_or(c.parsing);
        c.group_filters = self.group_filters.unwrap_or(c.group_filters);
        c.custom_profile_fields = self
            .custom_profile_fields
            .unwrap_or(c.custom_profile_fields);
        c.invalid_values.extend(self.invalid_values.iter().cloned());
        if self.faults == Some(false) {
            c.faults = crate::emulator::Faults::default();
        }
        if let Some(path) = &self.channels_file {
            c.channels = crate::emulator::read_channels(path)
                .map_err(|e| format!("cannot read the channel list {}: {e}", path.display()))?;
        }
        Ok(c)
    }
}

/// One directory source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceSpec {
    /// The path to open, resolved against the config file's folder.
    pub path: PathBuf,
    /// The path as shown in messages (the same, lossily as text).
    pub display: Arc<str>,
    /// How to read it.
    pub format: SourceFormat,
    /// This source's values win over earlier sources' for the same person.
    pub override_earlier: bool,
    /// This source may yield nobody (`allow_empty`).
    pub allow_empty: bool,
    /// The fewest users this source may yield (`min_users`).
    pub min_users: Option<u32>,
    /// Where the config declares this source.
    pub declared_at: SourceLocation,
}

/// How a source is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceFormat {
    /// A YAML directory file.
    Yaml,
    /// A CSV export, with its layout.
    Csv(CsvLayout),
    /// A program's standard output.
    Command(Box<CommandSource>),
    /// An LDAP directory, read as a table.
    Ldap(Box<LdapSource>),
    /// A Google Workspace directory, read as a table.
    Google(Box<GoogleSource>),
}

impl SourceFormat {
    /// The column mapping of a tabular source (a CSV file, a command's CSV or JSON, a table
    /// a directory service gives); `None` for a YAML directory.
    pub fn columns(&self) -> Option<&CsvLayout> {
        match self {
            SourceFormat::Yaml => None,
            SourceFormat::Csv(layout) => Some(layout),
            SourceFormat::Command(command) => match &command.output {
                CommandOutput::Csv(layout) | CommandOutput::Json(layout) => Some(layout),
                CommandOutput::Yaml => None,
            },
            SourceFormat::Ldap(ldap) => Some(&ldap.layout),
            SourceFormat::Google(google) => Some(&google.layout),
        }
    }
}

/// A `command:` source: the program run, how, and how its output is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSource {
    /// The program and its arguments (no shell).
    pub argv: Vec<String>,
    /// How its standard output is read.
    pub output: CommandOutput,
    /// The folder it runs in: the config's.
    pub dir: PathBuf,
    /// How long it may run.
    pub timeout: Duration,
    /// The variables passed from scimsync's environment, besides `PATH`.
    pub env: Vec<String>,
    /// The most output it may write, in bytes.
    pub max_output_bytes: u64,
}

/// The default [`CommandSource::timeout`].
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The default [`CommandSource::max_output_bytes`]: 256 MiB.
pub const COMMAND_MAX_OUTPUT: u64 = 256 << 20;

/// How a command's output is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOutput {
    /// CSV with a header row.
    Csv(CsvLayout),
    /// A YAML directory.
    Yaml,
    /// A JSON array of objects.
    Json(CsvLayout),
}

/// An `ldap:` source: how to read it, and the mapping of the table it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapSource {
    /// The connection and searches.
    pub settings: services::LdapSettings,
    /// Attribute ← column.
    pub layout: CsvLayout,
}

/// A `google_workspace:` source: how to read it, and the mapping of the table it gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleSource {
    /// The service account and calls.
    pub settings: services::GoogleSettings,
    /// Attribute ← field.
    pub layout: CsvLayout,
}

/// A CSV source's layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout {
    /// Attribute ← header name, with where the config maps it.
    pub columns: Vec<ColumnMapping>,
    /// The field delimiter.
    pub delimiter: u8,
    /// The separator inside the groups column.
    pub groups_separator: char,
    /// Value maps, lookups, row filters and derived groups (none by default).
    pub rules: TableRules,
}

/// What a tabular source's mapping does besides reading cells as they are written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableRules {
    /// Columns whose cells are mapped to values (`{header, true: […], false: […]}`, or
    /// `{header, map: {…}, default: …}`).
    pub values: Vec<(CsvColumn, ValueMap)>,
    /// How the manager column names managers, and where the config says so; `None` (or
    /// [`LookupBy::Email`]): by email.
    pub manager_by: Option<(LookupBy, SourceLocation)>,
    /// `where`: a row is kept only if it matches every one.
    pub keep: Vec<RowFilter>,
    /// `exclude_where`: a row that matches every one is left out.
    pub drop: Vec<RowFilter>,
    /// Groups derived from columns.
    pub derived_groups: Vec<DerivedGroups>,
}

impl TableRules {
    /// The value map of `column`, if it has one.
    pub fn value_map(&self, column: CsvColumn) -> Option<&ValueMap> {
        self.values
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, m)| m)
    }

    /// Whether the manager is looked up among the source's people (by name or employee
    /// number) rather than given as an email.
    pub fn manager_lookup(&self) -> Option<LookupBy> {
        self.manager_by
            .as_ref()
            .map(|(by, _)| *by)
            .filter(|by| *by != LookupBy::Email)
    }

    /// Whether any row filter is set.
    pub fn filters(&self) -> bool {
        !self.keep.is_empty() || !self.drop.is_empty()
    }
}

/// A column's value map. Cells are compared trimmed and case-insensitively; a blank cell
/// stays blank; any other value not listed is an error at its cell, never a guess.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueMap {
    /// For a flag (`active`, `guest`): the values read as true, and as false.
    Flag {
        /// Read as true.
        truthy: Vec<String>,
        /// Read as false.
        falsy: Vec<String>,
    },
    /// For any other column: cell value → value, and the value for one not listed.
    Text {
        /// Cell value → value.
        map: Vec<(String, String)>,
        /// The value for a cell the map does not list (none: an error).
        default: Option<String>,
    },
}

/// A row filter on one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFilter {
    /// The column's header.
    pub header: String,
    /// The values that match (trimmed, case-insensitively).
    pub values: Vec<String>,
    /// Where the config sets it.
    pub declared_at: SourceLocation,
}

/// Groups derived from one column: each non-blank cell is the group `prefix` + its slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DerivedGroups {
    /// The column's header.
    pub header: String,
    /// Put before the slug.
    pub prefix: String,
    /// Where the config sets it.
    pub declared_at: SourceLocation,
}

/// One mapped CSV column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    /// What the column holds.
    pub column: CsvColumn,
    /// The header naming the column in the CSV file.
    pub header: String,
    /// Headers read, in order, when the cells before are blank (`given_name:
    /// [preferred_first_name, legal_first_name]`): the first non-blank cell wins.
    pub fallbacks: Vec<String>,
    /// Where the config maps it.
    pub declared_at: SourceLocation,
}

/// What a CSV column holds: an attribute, or the guest expiry (which, with the `guest`
/// column, makes up [`Attribute::Guest`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CsvColumn {
    /// The attribute's own column, under its [`Spec::column`](crate::model::Spec::column) key.
    Attribute(Attribute),
    /// The guest's expiry, next to the guest flag.
    GuestExpiration,
}

/// How many columns a mapping may name: one per attribute, plus the guest expiry.
const CSV_COLUMNS: usize = TABLE.len() + 1;

impl CsvColumn {
    /// Every column, in [`TABLE`]'s order with the guest expiry right after the guest flag.
    pub const ALL: [CsvColumn; CSV_COLUMNS] = {
        let mut all = [CsvColumn::GuestExpiration; CSV_COLUMNS];
        let (mut i, mut n) = (0, 0);
        while i < TABLE.len() {
            all[n] = CsvColumn::Attribute(TABLE[i].attribute);
            n += 1;
            if matches!(TABLE[i].kind, Kind::Guest) {
                all[n] = CsvColumn::GuestExpiration;
                n += 1;
            }
            i += 1;
        }
        assert!(
            n == CSV_COLUMNS,
            "one guest attribute, with one expiry column"
        );
        all
    };

    /// Every key under `columns:`, in [`CsvColumn::ALL`]'s order.
    pub const KEYS: [&'static str; CSV_COLUMNS] = {
        let mut keys = [""; CSV_COLUMNS];
        let mut i = 0;
        while i < CSV_COLUMNS {
            keys[i] = CsvColumn::ALL[i].key();
            i += 1;
        }
        keys
    };

    /// The key under `columns:` in the config.
    pub const fn key(self) -> &'static str {
        match self {
            CsvColumn::Attribute(a) => a.spec().column,
            CsvColumn::GuestExpiration => "guest_expiration",
        }
    }

    /// The column with this key under `columns:`.
    pub fn from_key(key: &str) -> Option<CsvColumn> {
        CsvColumn::ALL.into_iter().find(|c| c.key() == key)
    }

    /// The attribute the column contributes to.
    pub fn attribute(self) -> Attribute {
        match self {
            CsvColumn::Attribute(a) => a,
            CsvColumn::GuestExpiration => Attribute::Guest,
        }
    }

    /// The column's place in [`CsvColumn::ALL`].
    pub fn index(self) -> usize {
        CsvColumn::ALL
            .iter()
            .position(|c| *c == self)
            .expect("every column is in ALL")
    }
}

/// Everything the planner decides with, besides the directory and the live state.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Match keys in order (DESIGN §2).
    pub match_keys: Vec<MatchKey>,
    /// Which accounts scimsync manages.
    pub scope: Scope,
    /// What to do with managed accounts the directory does not list.
    pub unmanaged_users: UnmanagedUsers,
    /// What to do with live groups the directory does not list.
    pub unmanaged_groups: UnmanagedGroups,
    /// How each attribute is kept in sync.
    pub attributes: AttributePolicy,
    /// Limits that stop an apply before anything is written.
    pub safety: Safety,
    /// The channel names `channels_file` lists, as user-name keys (lower case, no `#`): a
    /// user name among them is a conflict. `None`: no list was given.
    pub channels: Option<std::collections::BTreeSet<String>>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            match_keys: DEFAULT_MATCH_KEYS.to_vec(),
            scope: Scope::default(),
            unmanaged_users: UnmanagedUsers::Report,
            unmanaged_groups: UnmanagedGroups::Ignore,
            attributes: AttributePolicy::default(),
            safety: Safety::default(),
            channels: None,
        }
    }
}

/// The channel names in a channel list's text (`channels_file`, the emulator's): one per line,
/// `#` before a name optional, blank lines ignored; as user-name keys (trimmed, lower case),
/// the form Slack compares user names and channel names in.
pub fn channel_names(text: &str) -> std::collections::BTreeSet<String> {
    crate::slack_rules::channel_list(text)
        .iter()
        .map(|name| crate::slack_rules::user_name_key(name))
        .collect()
}

/// DESIGN §2's order: the most stable key first.
pub const DEFAULT_MATCH_KEYS: [MatchKey; 4] = [
    MatchKey::Id,
    MatchKey::EmployeeNumber,
    MatchKey::Email,
    MatchKey::UserName,
];

/// A live account named in the config: by email or by Slack user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AccountRef {
    /// An email key (trimmed, lower-cased).
    Email(String),
    /// A Slack user id (`U…`, `W…`).
    UserId(String),
}

impl AccountRef {
    fn matches(&self, email_key: &str, user_id: Option<&str>) -> bool {
        match self {
            AccountRef::Email(e) => e == email_key,
            AccountRef::UserId(id) => user_id == Some(id.as_str()),
        }
    }
}

/// Which live accounts scimsync manages (DESIGN §4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// Lower-cased domains; empty means every domain.
    pub email_domains: Vec<String>,
    /// Accounts left alone entirely.
    pub exclude: Vec<AccountRef>,
    /// Accounts never deactivated nor changed, even in scope.
    pub protected: Vec<AccountRef>,
}

impl Scope {
    /// Whether an account with this email key (and Slack id) is managed at all. Protected
    /// accounts are in scope (they count as managed) but must never be changed: see
    /// [`Scope::is_protected`].
    pub fn contains(&self, email_key: &str, user_id: Option<&str>) -> bool {
        if self.exclude.iter().any(|a| a.matches(email_key, user_id)) {
            return false;
        }
        if self.email_domains.is_empty() {
            return true;
        }
        let Some((_, domain)) = email_key.rsplit_once('@') else {
            return false;
        };
        self.email_domains.iter().any(|d| {
            domain == d
                || domain
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }

    /// Whether the account must never be deactivated or changed.
    pub fn is_protected(&self, email_key: &str, user_id: Option<&str>) -> bool {
        self.protected.iter().any(|a| a.matches(email_key, user_id))
    }
}

/// How each attribute is kept in sync; unlisted attributes are enforced, and a blank value
/// keeps Slack's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributePolicy {
    /// The modes the config sets; unlisted attributes are enforced.
    pub modes: HashMap<Attribute, AttributeMode>,
    /// The blank rules the config sets; unlisted attributes keep Slack's value.
    pub blanks: HashMap<Attribute, Blank>,
}

impl AttributePolicy {
    /// What a blank value of `attribute` in a source means.
    pub fn blank(&self, attribute: Attribute) -> Blank {
        self.blanks.get(&attribute).copied().unwrap_or(Blank::Keep)
    }

    /// Why a blank `attribute` can never clear Slack's value, if it cannot: Slack needs it,
    /// or clearing it would unmatch or demote accounts (the attribute's row says).
    pub fn cannot_clear(attribute: Attribute) -> Option<&'static str> {
        attribute.never_cleared()
    }

    /// How `attribute` is kept in sync.
    pub fn mode(&self, attribute: Attribute) -> AttributeMode {
        self.modes
            .get(&attribute)
            .copied()
            .unwrap_or(AttributeMode::Enforce)
    }
}

/// Blast-radius limits checked on a plan before any write.
#[derive(Debug, Clone, PartialEq)]
pub struct Safety {
    /// Most deactivations one apply may make.
    pub max_deactivations: u32,
    /// Most deactivations as a share (0–1) of managed users.
    pub max_deactivation_ratio: f64,
    /// Most reactivations one apply may make.
    pub max_reactivations: u32,
    /// Most reactivations as a share of managed users (at least one).
    pub max_reactivation_ratio: f64,
    /// Most attribute values one apply may clear (`blank: clear`), each (account, attribute)
    /// counting one.
    pub max_clears: u32,
    /// Most clears as a share of managed users (at least one).
    pub max_clear_ratio: f64,
    /// Most group-membership removals one apply may make.
    pub max_membership_removals: u32,
    /// Fewer directory users than this trips the apply.
    pub min_directory_users: u32,
    /// Whether groups may be deleted (permanent in Slack).
    pub allow_group_deletion: bool,
    /// How long an account must be absent before it is deactivated (none: at once).
    pub deactivation_grace: Option<Duration>,
    /// Most a source may shrink since the last successful apply, as a share (none: no limit).
    pub max_source_shrink: Option<f64>,
}

impl Default for Safety {
    /// Small enough that a wrong source (an empty export, a filtered view) cannot deactivate
    /// a company, large enough for a normal week of leavers in a mid-size organisation.
    fn default() -> Self {
        Safety {
            max_deactivations: 25,
            max_deactivation_ratio: 0.05,
            max_reactivations: 25,
            max_reactivation_ratio: 0.05,
            max_clears: 25,
            max_clear_ratio: 0.05,
            max_membership_removals: 200,
            min_directory_users: 1,
            allow_group_deletion: false,
            deactivation_grace: None,
            max_source_shrink: None,
        }
    }
}

/// Where the state kept between passes lives (`state_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateDir {
    /// Not set: the default folder (`$STATE_DIRECTORY`, `/var/lib/scimsync/state`, or
    /// `.scimsync-state` beside the config file).
    Default,
    /// A folder, resolved against the config file's folder.
    At(PathBuf),
    /// `state_dir: false`: no state; features that need it are refused.
    Off,
}

/// `stuck:` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StuckSettings {
    /// Consecutive passes failing with the same error before an op is stuck.
    pub after: u32,
    /// The first wait before a stuck op is tried again (doubling, at most [`MAX_BACKOFF`]).
    pub backoff: Duration,
}

/// The longest wait between two tries of a stuck op.
pub const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

impl Default for StuckSettings {
    fn default() -> Self {
        StuckSettings {
            after: 3,
            backoff: Duration::from_secs(3600),
        }
    }
}

/// Share of Slack's SCIM budget.
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    /// (0, 1]: Slack's limits are per organisation and shared with the IdP's connector.
    pub share: f64,
    /// Changes in flight at once per Slack endpoint.
    pub concurrency: u32,
    /// 1 against Slack; N against an emulator whose limits run N times faster.
    pub time_scale: f64,
}

impl Default for RateLimit {
    /// Half the budget leaves room for the IdP connector and admins' scripts.
    fn default() -> Self {
        RateLimit {
            share: 0.5,
            concurrency: 4,
            time_scale: 1.0,
        }
    }
}

/// `scimsync run` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DaemonSettings {
    /// Time between passes.
    pub interval: Duration,
    /// Random spread of the interval, 0–1.
    pub jitter: f64,
    /// Address of the health, metrics and reconcile endpoints.
    pub listen: SocketAddr,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            interval: Duration::from_secs(15 * 60),
            jitter: 0.1,
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
        }
    }
}

#[cfg(test)]
mod confine_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_by_domain_exclude_and_protected() {
        let scope = Scope {
            email_domains: vec!["example.com".into()],
            exclude: vec![AccountRef::Email("bot@example.com".into())],
            protected: vec![AccountRef::UserId("W0ADMIN".into())],
        };
        assert!(scope.contains("ada@example.com", None));
        assert!(scope.contains("ada@eu.example.com", None));
        assert!(!scope.contains("ada@badexample.com", None));
        assert!(!scope.contains("ada@example.org", None));
        assert!(!scope.contains("bot@example.com", None));
        assert!(scope.is_protected("x@example.com", Some("W0ADMIN")));
        assert!(!scope.is_protected("x@example.com", Some("W0OTHER")));
        assert!(Scope::default().contains("anyone@anywhere.io", None));
    }

    #[test]
    fn unlisted_attributes_are_enforced() {
        let mut policy = AttributePolicy::default();
        policy
            .modes
            .insert(Attribute::DisplayName, AttributeMode::CreateOnly);
        assert_eq!(
            policy.mode(Attribute::DisplayName),
            AttributeMode::CreateOnly
        );
        assert_eq!(policy.mode(Attribute::Title), AttributeMode::Enforce);
    }
}
