//! The config file exactly as written: serde types that reject unknown fields.
//!
//! Every field is optional here, on purpose: [`YamlDocument::decode`](super::yaml::YamlDocument::decode)
//! can then test each key on its own and report every bad field at its own line, and
//! requiredness is checked by the compiler with a location. The JSON Schema (`scimsync schema
//! config`) is generated from these types, so doc comments here are what editors show.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::CsvColumn;
use crate::diag::yaml::next_named_key;
use crate::model::{Attribute, Kind, TABLE};
use crate::scim::Version;

/// scimsync configuration: what to sync, from where, and how carefully.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "scimsync configuration")]
pub struct RawConfig {
    /// The Slack organisation to keep in sync.
    #[schemars(required)]
    pub target: Option<RawTarget>,
    /// Where the desired directory comes from, in order; later sources add to earlier ones.
    #[schemars(required, length(min = 1))]
    pub sources: Option<Vec<RawSource>>,
    /// Keys that match a directory user to a Slack account, tried in order.
    /// Default: [id, employee_number, email, user_name].
    #[serde(rename = "match")]
    pub match_keys: Option<Vec<MatchKey>>,
    /// Which Slack accounts scimsync manages.
    pub scope: Option<RawScope>,
    /// What to do with accounts in scope that the directory does not list. Default: report.
    pub unmanaged_users: Option<UnmanagedUsers>,
    /// Group handling.
    pub groups: Option<RawGroups>,
    /// Per attribute: enforce (default), create_only (set when creating, never updated),
    /// ignore, or report (updated when the directory changes, hand edits in Slack reported);
    /// or `{mode, blank}`, where `blank: clear` makes a blank value in a source clear Slack's
    /// (default `keep`: a blank leaves Slack's value alone).
    pub attributes: Option<RawAttributes>,
    /// Directory users that break a rule: skip them (and report) or fail the run. Default: fail.
    pub invalid_users: Option<InvalidUsers>,
    /// Limits that stop an apply before anything is written.
    pub safety: Option<RawSafety>,
    /// How much of Slack's (organisation-wide, shared) SCIM rate limit scimsync may use.
    pub rate_limit: Option<RawRateLimit>,
    /// Settings for `scimsync run`.
    pub daemon: Option<RawDaemon>,
    /// Append-only JSON-lines audit log of every apply (its start, guards overridden, each
    /// write, its end): a path relative to this file's folder, or `{path, stdout}`.
    pub audit_log: Option<RawAuditLog>,
    /// Lock file that keeps two scimsync processes on one host from applying at once.
    /// Default: one per config file in the temporary folder.
    pub lock_file: Option<String>,
    /// Folder of the state kept between passes (leavers' grace periods, the last good run's
    /// source sizes, last-applied digests, stuck ops), relative to this file's folder; `false`
    /// keeps no state. Default: `$STATE_DIRECTORY/state`, else `/var/lib/scimsync/state` when
    /// `/var/lib/scimsync` exists, else `.scimsync-state` beside this file.
    /// Env: SCIMSYNC_STATE_DIR (a folder, or false).
    pub state_dir: Option<RawStateDir>,
    /// Ops Slack refuses with the same error pass after pass (needs the state).
    pub stuck: Option<RawStuck>,
    /// A file listing the organisation's channel names, one per line (`#` before a name
    /// optional, blank lines ignored), relative to this file's folder: the format
    /// `scimsync emulator` takes. User names share Slack's namespace with channels, so a user
    /// whose user name is a channel's becomes a conflict in the plan instead of a 409
    /// `username_taken` at apply. Default: none (such a collision is only found at apply).
    pub channels_file: Option<String>,
}

/// `state_dir`: a folder, or `false` for no state.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum RawStateDir {
    /// `false`: keep no state (`true` is the default folder).
    Enabled(bool),
    /// The folder.
    Path(String),
}

/// When an op that keeps failing is called stuck, and how long it then waits between tries.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStuck {
    /// Consecutive passes failing with the same Slack error before the op is stuck. Default: 3.
    pub after: Option<u32>,
    /// The wait before a stuck op is tried again; doubles with each further failure, up to
    /// 24h. Default: 1h.
    pub backoff: Option<String>,
}

/// The audit log: a file path, or where the lines go.
#[derive(Debug, Clone, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum RawAuditLog {
    /// A file (created with mode 0600), relative to the config file's folder.
    Path(String),
    /// A file, standard output, or both.
    Settings(RawAuditSettings),
}

/// Where audit lines go.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAuditSettings {
    /// The file (created with mode 0600), relative to the config file's folder.
    pub path: Option<String>,
    /// Also write every line to standard output (for containers whose logs are collected
    /// from it). Default: false.
    pub stdout: Option<bool>,
}

impl RawAuditLog {
    /// The file, if one is set.
    pub fn path(&self) -> Option<&str> {
        match self {
            RawAuditLog::Path(p) => Some(p),
            RawAuditLog::Settings(s) => s.path.as_deref(),
        }
    }

    /// Whether lines are mirrored to standard output.
    pub fn stdout(&self) -> bool {
        match self {
            RawAuditLog::Path(_) => false,
            RawAuditLog::Settings(s) => s.stdout.unwrap_or(false),
        }
    }
}

/// A path, or the settings map (whose own errors, such as an unknown key, are reported as
/// a struct's are; an untagged enum would only say that nothing matched).
impl<'de> Deserialize<'de> for RawAuditLog {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct PathOrSettings;
        impl<'de> Visitor<'de> for PathOrSettings {
            type Value = RawAuditLog;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a file path or a map with `path` and `stdout`")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAuditLog, E> {
                Ok(RawAuditLog::Path(v.to_string()))
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<RawAuditLog, M::Error> {
                RawAuditSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawAuditLog::Settings)
            }
        }
        d.deserialize_any(PathOrSettings)
    }
}

/// The Slack organisation and the SCIM token.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTarget {
    /// SCIM base URL, e.g. https://api.slack.com/scim/v2/, or `embedded` for the built-in
    /// Slack emulator. Plain http:// only to loopback. Env: SCIMSYNC_TARGET_URL.
    #[schemars(required)]
    pub url: Option<String>,
    /// SCIM dialect, when the URL path does not end in /scim/v1 or /scim/v2.
    pub version: Option<Version>,
    /// Name of the environment variable holding the token. Env: SCIMSYNC_TOKEN_ENV.
    pub token_env: Option<String>,
    /// File holding the token (e.g. a mounted secret). Env: SCIMSYNC_TOKEN_FILE.
    pub token_file: Option<String>,
    /// With `url: embedded`: the file of the emulator's starting organisation (YAML or JSON),
    /// used while `emulator_state` does not exist yet. Default: a primary owner and a bot.
    pub emulator_seed: Option<String>,
    /// With `url: embedded`: the JSON file the emulator's organisation is kept in between
    /// runs, so a second `apply` sees what the first one did. Default: kept in memory only.
    pub emulator_state: Option<String>,
    /// With `url: embedded`: how unkind the emulator is (README, "As unkind as Slack, never
    /// kinder"). Default: the kind preset.
    pub emulator: Option<RawEmulator>,
}

/// `target.emulator`: a preset of the embedded emulator, and single settings changed on top.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawEmulator {
    /// `like-slack`: Slack's rate limits, deactivations read 3 s late, duplicate group names,
    /// a few 5xx and lost replies, strict bodies and filters, /Groups filters refused — the
    /// way to rehearse. `kind` (default): fast and lenient.
    pub preset: Option<crate::emulator::Preset>,
    /// How late reads see the writes of `lag_scope`, in milliseconds.
    pub read_lag_ms: Option<u64>,
    /// Which writes lag: `deactivation` (and photo changes) or `all`.
    pub lag_scope: Option<crate::emulator::LagScope>,
    /// Whether two groups may share a name: `unique` or `duplicate`.
    pub group_names: Option<crate::emulator::GroupNames>,
    /// `strict` (only what Slack documents) or `lenient` bodies and filters.
    pub parsing: Option<crate::emulator::Parsing>,
    /// What a /Groups filter gets: `honour`, `refuse` or `ignore`.
    pub group_filters: Option<crate::emulator::GroupFilters>,
    /// `false`: no injected 5xx or lost replies, whatever the preset.
    pub faults: Option<bool>,
    /// A file of channel names, one a line, that no user may be named after.
    pub channels_file: Option<String>,
    /// How many custom profile fields the organisation has besides those SCIM creates (Slack
    /// allows 50).
    pub custom_profile_fields: Option<usize>,
    /// Values Slack finds invalid for a custom profile field, `ATTRIBUTE=VALUE` (`*` matches
    /// any run of characters): a create carrying one loses its custom profile, an update is
    /// refused.
    pub drop_profile_on_invalid: Option<Vec<String>>,
}

/// `target.version` is the SCIM client's own [`Version`]: its schema is written here, beside
/// the rest of the config's, under the name editors have always seen.
impl JsonSchema for Version {
    fn schema_name() -> Cow<'static, str> {
        "ScimVersion".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "SCIM dialect.",
            "oneOf": [
                {"description": "SCIM 1.1 (`/scim/v1`).", "type": "string", "const": "v1"},
                {"description": "SCIM 2.0 (`/scim/v2`).", "type": "string", "const": "v2"},
            ],
        })
    }
}

/// One source of the directory: a YAML directory file, a CSV export, a program's output, an
/// LDAP directory or a Google Workspace directory.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// A YAML directory file (users and groups), relative to this file's folder.
    pub yaml: Option<String>,
    /// A CSV file with a header row, relative to this file's folder.
    pub csv: Option<String>,
    /// A program to run, as an argument vector (`[program, arg, …]`, no shell), whose
    /// standard output is the source (read as `format` says). Run in the config's directory
    /// with only `PATH` and the variables `env` lists; a non-zero exit, a signal, a timeout,
    /// output over `max_output_bytes` or a truncated document fails the source. Refused
    /// under `SCIMSYNC_CONFINE`.
    #[schemars(length(min = 1))]
    pub command: Option<Vec<String>>,
    /// `command` only: how its output is read: `csv` (default, with `columns`), `yaml` (a
    /// YAML directory) or `json` (an array of objects, each key a column, with `columns`).
    pub format: Option<CommandFormat>,
    /// `command` only: how long it may run (`90s`, `5m`). Default: 60s.
    pub timeout: Option<String>,
    /// `command` only: environment variables passed to it from scimsync's own environment,
    /// by name (besides `PATH`, always passed). The Slack token's variable is refused.
    pub env: Option<Vec<String>>,
    /// `command` only: the most output it may write, in bytes. Default: 268435456 (256 MiB).
    pub max_output_bytes: Option<u64>,
    /// Tabular sources only: which header holds which attribute. `email` is required.
    pub columns: Option<RawColumns>,
    /// CSV only: the field delimiter, one character. Default: ",".
    pub delimiter: Option<String>,
    /// Tabular sources only: separator inside the groups column. Default: ";".
    pub groups_separator: Option<String>,
    /// Tabular sources only: keep only the rows whose every listed column holds one of its
    /// values (compared trimmed and case-insensitively): `where: {Employment Status:
    /// [Full-Time, Part-Time]}`. The rows left out are counted in the report.
    #[serde(rename = "where")]
    pub keep_where: Option<RawRowFilter>,
    /// Tabular sources only: leave out the rows whose every listed column holds one of its
    /// values: `exclude_where: {Employment Status: [Contractor]}`.
    pub exclude_where: Option<RawRowFilter>,
    /// Tabular sources only: groups derived from columns, each the prefix followed by the
    /// cell's slug (lower case, every run of characters other than letters and digits one
    /// `-`): `[{prefix: dept-, column: Department}]` puts a row whose Department is
    /// `Research & Development` in `dept-research-development`. Added to the groups column's.
    pub derived_groups: Option<Vec<RawDerivedGroups>>,
    /// When true, this source's values win over earlier sources' for the same person;
    /// otherwise two different values are an error.
    #[serde(rename = "override")]
    pub override_earlier: Option<bool>,
    /// When true, this source may yield nobody. Otherwise a source with no users (and no
    /// groups) is an error: an empty or truncated export is never read as "everyone left".
    pub allow_empty: Option<bool>,
    /// The fewest users this source may yield (after `where`/`exclude_where`); fewer is an
    /// error naming the source.
    pub min_users: Option<u32>,
    /// An LDAP directory (OpenLDAP, Active Directory, …) read as a table: each person one
    /// row, `columns` naming attributes. Refused under SCIMSYNC_CONFINE.
    pub ldap: Option<RawLdap>,
    /// A Google Workspace directory read as a table: each user one row, `columns` naming
    /// fields (`primaryEmail`, `name.givenName`, …). Refused under SCIMSYNC_CONFINE.
    pub google_workspace: Option<RawGoogle>,
}

/// An `ldap:` source's connection and search.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLdap {
    /// `ldaps://host[:port]`, or `ldap://host[:port]` with `start_tls: true` (plain
    /// `ldap://` only to loopback).
    pub url: Option<String>,
    /// StartTLS on an `ldap://` connection before binding. Default: false.
    pub start_tls: Option<bool>,
    /// A PEM file of CA certificates to trust instead of the system's (a private CA).
    pub ca_file: Option<String>,
    /// The DN to bind as; anonymous when absent (a DN needs a password).
    pub bind_dn: Option<String>,
    /// The environment variable holding the bind password.
    pub password_env: Option<String>,
    /// A file holding the bind password (surrounding whitespace trimmed).
    pub password_file: Option<String>,
    /// Where people are searched (whole subtree).
    pub base_dn: Option<String>,
    /// Which entries are people (RFC 4515). Default: "(objectClass=person)".
    pub filter: Option<String>,
    /// Where each person's groups come from: the table's `groups` column.
    pub groups: Option<RawLdapGroups>,
    /// Entries per page (paged results). Default: 500.
    pub page_size: Option<u32>,
    /// Each network step's deadline (`30s`, `2m`). Default: 30s.
    pub timeout: Option<String>,
}

/// Where an `ldap:` source's groups come from.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLdapGroups {
    /// `entries` (group entries' `member`/`uniqueMember`, nested groups flattened; the
    /// default) or `member_of` (each person's `memberOf` values).
    pub from: Option<RawLdapGroupsFrom>,
    /// `member_of` only: the attribute listing group DNs. Default: "memberOf".
    pub attribute: Option<String>,
    /// `entries` only: where groups are searched. Default: the source's `base_dn`.
    pub base_dn: Option<String>,
    /// `entries` only: which entries are groups. Default:
    /// "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames)(objectClass=group))".
    pub filter: Option<String>,
    /// `entries` only: the attribute naming a group. Default: "cn".
    pub name_attribute: Option<String>,
}

/// How an `ldap:` source finds groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawLdapGroupsFrom {
    /// Group entries and their members.
    Entries,
    /// Each person's `memberOf`.
    MemberOf,
}

/// A `google_workspace:` source: a service account with domain-wide delegation.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGoogle {
    /// The service account's JSON key file.
    pub key_file: Option<String>,
    /// The admin the service account acts as (domain-wide delegation's subject).
    pub subject: Option<String>,
    /// The customer: `my_customer` (the default, the subject's) or an id like `C03az79cb`.
    pub customer: Option<String>,
    /// The Admin SDK's base URL. Default: "https://admin.googleapis.com".
    pub api_url: Option<String>,
    /// Read groups and their members into the table's `groups` column. Default: false.
    pub groups: Option<bool>,
    /// How a group is named in the `groups` column: `name` (default) or `email`.
    pub group_name: Option<RawGoogleGroupName>,
    /// Users per page (1–500). Default: 500.
    pub page_size: Option<u32>,
    /// Each request's deadline (`30s`, `2m`). Default: 30s.
    pub timeout: Option<String>,
}

/// Which field names a Google group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RawGoogleGroupName {
    /// The group's name.
    Name,
    /// The group's email address.
    Email,
}

/// How a `command` source's output is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandFormat {
    /// A CSV export with a header row, mapped by `columns`.
    Csv,
    /// A YAML directory (users and groups), as a `yaml` source.
    Yaml,
    /// A JSON array of objects, each key a column (values strings, numbers, booleans or
    /// null), mapped by `columns`.
    Json,
}

/// A row filter: column header → the values that match (one, or a list).
#[derive(Debug, Default, Clone, Deserialize, JsonSchema)]
pub struct RawRowFilter(pub std::collections::BTreeMap<String, RawValues>);

/// One value or a list of values, each a string, number or boolean as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawValues(pub Vec<String>);

impl<'de> Deserialize<'de> for RawValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum OneOrMany {
            One(Scalar),
            Many(Vec<Scalar>),
        }
        Ok(match OneOrMany::deserialize(d)? {
            OneOrMany::One(one) => RawValues(vec![one.0]),
            OneOrMany::Many(many) => RawValues(many.into_iter().map(|s| s.0).collect()),
        })
    }
}

impl JsonSchema for RawValues {
    fn schema_name() -> Cow<'static, str> {
        "RawValues".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A value, or a list of values.",
            "anyOf": [
                {"type": ["string", "number", "boolean"]},
                {"type": "array", "items": {"type": ["string", "number", "boolean"]}, "minItems": 1},
            ],
        })
    }
}

/// A scalar as text: YAML's `true`, `42` and `Terminated` are all values a cell may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl Visitor<'_> for Text {
            type Value = Scalar;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(Text)
    }
}

/// Groups derived from a column.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDerivedGroups {
    /// The header of the column the group names come from.
    pub column: String,
    /// Put before each slug (`dept-`); may be empty.
    pub prefix: Option<String>,
}

/// How a `manager` column names the manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LookupBy {
    /// The manager's email (the default).
    Email,
    /// The manager's employee number, as the `employee_number` column holds it.
    EmployeeNumber,
    /// The manager's name, `First Last` or `Last, First` (or the display name), compared
    /// case-insensitively; it must be the name of exactly one person of the source.
    Name,
}

/// CSV column mapping: column key → header name, or a list of header names tried in order
/// (the first non-blank cell wins). The keys are the attributes' column keys
/// ([`Spec::column`](crate::model::Spec::column)) and `guest_expiration`; `null` is the same
/// as absent.
#[derive(Debug, Default, Clone)]
pub struct RawColumns {
    /// Each mapped column with its headers (and value map or lookup), in
    /// [`CsvColumn::ALL`]'s order.
    pub headers: Vec<(CsvColumn, RawColumn)>,
}

/// One mapped column: its headers, or `{header, …}` with a value map (`true`/`false` for a
/// flag, `map`/`default` for text) or, for the manager, how it is looked up (`by`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawColumn {
    /// The headers read, in order.
    pub headers: RawHeaders,
    /// Cell values read as true (`active`, `guest`).
    pub truthy: Option<Vec<String>>,
    /// Cell values read as false (`active`, `guest`).
    pub falsy: Option<Vec<String>>,
    /// Cell value → the value used, in order.
    pub map: Option<Vec<(String, String)>>,
    /// The value used for a cell `map` does not list.
    pub default: Option<String>,
    /// How the manager is looked up.
    pub by: Option<LookupBy>,
}

impl RawColumn {
    /// Whether the column is written in the `{header, …}` form with anything but headers.
    pub fn has_rules(&self) -> bool {
        self.truthy.is_some()
            || self.falsy.is_some()
            || self.map.is_some()
            || self.default.is_some()
            || self.by.is_some()
    }
}

/// The keys of a column's `{header, …}` form.
const COLUMN_KEYS: &[&str] = &["header", "true", "false", "map", "default", "by"];

impl<'de> Deserialize<'de> for RawColumn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Form;
        impl<'de> Visitor<'de> for Form {
            type Value = RawColumn;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a header name, a list of header names, or {header, …}")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawColumn, E> {
                Ok(RawColumn {
                    headers: RawHeaders(vec![v.to_string()]),
                    ..RawColumn::default()
                })
            }

            fn visit_seq<S: de::SeqAccess<'de>>(self, seq: S) -> Result<RawColumn, S::Error> {
                let headers = RawHeaders::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                Ok(RawColumn {
                    headers,
                    ..RawColumn::default()
                })
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<RawColumn, M::Error> {
                let mut column = RawColumn::default();
                let mut header = None;
                while let Some(Scalar(key)) = map.next_key::<Scalar>()? {
                    match key.as_str() {
                        "header" => header = Some(map.next_value::<RawHeaders>()?),
                        "true" => column.truthy = Some(map.next_value::<RawValues>()?.0),
                        "false" => column.falsy = Some(map.next_value::<RawValues>()?.0),
                        "map" => column.map = Some(map.next_value::<RawValueMap>()?.0),
                        "default" => column.default = Some(map.next_value::<Scalar>()?.0),
                        "by" => column.by = Some(map.next_value::<LookupBy>()?),
                        other => return Err(de::Error::unknown_field(other, COLUMN_KEYS)),
                    }
                }
                column.headers = header.ok_or_else(|| de::Error::missing_field("header"))?;
                Ok(column)
            }
        }
        d.deserialize_any(Form)
    }
}

/// A value map: cell value → value, in the order written.
struct RawValueMap(Vec<(String, String)>);

impl<'de> Deserialize<'de> for RawValueMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Pairs;
        impl<'de> Visitor<'de> for Pairs {
            type Value = RawValueMap;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a map of cell values to values")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<RawValueMap, M::Error> {
                let mut pairs = Vec::new();
                while let Some((Scalar(from), Scalar(to))) = map.next_entry::<Scalar, Scalar>()? {
                    pairs.push((from, to));
                }
                Ok(RawValueMap(pairs))
            }
        }
        d.deserialize_map(Pairs)
    }
}

impl JsonSchema for RawColumn {
    fn schema_name() -> Cow<'static, str> {
        "RawColumn".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let headers = generator.subschema_for::<RawHeaders>();
        let values = generator.subschema_for::<RawValues>();
        let by = generator.subschema_for::<LookupBy>();
        json_schema!({
            "description": "A header name, header names tried in order, or {header, …} with a value map or lookup.",
            "anyOf": [
                headers,
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["header"],
                    "properties": {
                        "header": headers,
                        "true": {"description": "active, guest: the cell values read as true (`[Active, On Leave]`); any other non-blank value is an error.", "allOf": [values]},
                        "false": {"description": "active, guest: the cell values read as false (`[Terminated]`).", "allOf": [values]},
                        "map": {
                            "description": "Cell value → the value used (`{FT: Full-time}`); a value not listed is an error at its cell unless `default` is set.",
                            "type": "object",
                            "additionalProperties": {"type": ["string", "number", "boolean"]},
                        },
                        "default": {"description": "With `map`: the value used for a cell the map does not list.", "type": ["string", "number", "boolean"]},
                        "by": {"description": "manager only: how the column names the manager.", "allOf": [by]},
                    },
                },
            ],
        })
    }
}

/// The headers one column is read from: one, or several tried in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawHeaders(pub Vec<String>);

impl<'de> Deserialize<'de> for RawHeaders {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OneOrList;
        impl<'de> Visitor<'de> for OneOrList {
            type Value = RawHeaders;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a header name or a list of header names")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawHeaders, E> {
                Ok(RawHeaders(vec![v.to_string()]))
            }

            fn visit_seq<S: de::SeqAccess<'de>>(self, seq: S) -> Result<RawHeaders, S::Error> {
                Vec::<String>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawHeaders)
            }
        }
        d.deserialize_any(OneOrList)
    }
}

impl JsonSchema for RawHeaders {
    fn schema_name() -> Cow<'static, str> {
        "RawHeaders".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A header name, or header names tried in order: the first non-blank cell wins.",
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ],
        })
    }
}

impl RawColumns {
    /// The first header mapped to `column`.
    pub fn header(&self, column: CsvColumn) -> Option<&str> {
        self.headers
            .iter()
            .find(|(c, _)| *c == column)
            .and_then(|(_, h)| h.headers.0.first())
            .map(String::as_str)
    }
}

/// `manager:` under `columns:`, the same column as `manager_email:` (which reads oddly
/// when the column holds names: `manager: {header: Reporting To, by: name}`).
pub const MANAGER_ALIAS: &str = "manager";

impl<'de> Deserialize<'de> for RawColumns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut headers = named_map(d, "struct RawColumns", &CsvColumn::KEYS, |key| {
            if key == MANAGER_ALIAS {
                let manager = CsvColumn::Attribute(Attribute::Manager);
                return Some((manager, MANAGER_ALIAS));
            }
            CsvColumn::from_key(key).map(|c| (c, c.key()))
        })?;
        headers.sort_by_key(|(c, _)| c.index());
        Ok(RawColumns { headers })
    }
}

impl JsonSchema for RawColumns {
    fn schema_name() -> Cow<'static, str> {
        "RawColumns".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = serde_json::Map::new();
        for column in CsvColumn::ALL {
            let description = match column {
                CsvColumn::Attribute(a) => match a.kind() {
                    Kind::Guest => format!(
                        "{} In the CSV: true/false, yes/no, 1/0, or the values `{{header, true: […], false: […]}}` lists.",
                        a.spec().doc
                    ),
                    Kind::Active => format!(
                        "{} In the CSV: true/false, yes/no, 1/0, active/inactive, or the values `{{header, true: [Active, On Leave], false: [Terminated]}}` lists.",
                        a.spec().doc
                    ),
                    Kind::Manager => format!(
                        "{} In the CSV: an email, or `{{header, by: name | employee_number}}` to look the manager up among the source's people.",
                        a.spec().doc
                    ),
                    Kind::Groups => format!(
                        "{} In the CSV: separated by `groups_separator`.",
                        a.spec().doc
                    ),
                    _ => a.spec().doc.to_string(),
                },
                CsvColumn::GuestExpiration => {
                    "The guest's expiry: YYYY-MM-DD or an RFC 3339 time.".to_string()
                }
            };
            let mut schema = if column == CsvColumn::Attribute(Attribute::Email) {
                generator.subschema_for::<RawColumn>()
            } else {
                generator.subschema_for::<Option<RawColumn>>()
            };
            schema.insert("description".into(), description.into());
            if column == CsvColumn::Attribute(Attribute::Manager) {
                let mut alias = schema.clone();
                alias.insert(
                    "description".into(),
                    "The manager_email column under another name (one of the two).".into(),
                );
                properties.insert(MANAGER_ALIAS.into(), alias.into());
            }
            properties.insert(column.key().into(), schema.into());
        }
        json_schema!({
            "description": "CSV column mapping: attribute → header name, or a list of header names tried in order (the first non-blank cell wins).",
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
            "required": [Attribute::Email.name()],
        })
    }
}

/// A match key (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchKey {
    /// The Slack user id given in the source.
    Id,
    /// The enterprise extension's employeeNumber.
    EmployeeNumber,
    /// The primary email, case-insensitively.
    Email,
    /// The userName, after Slack's normalisation.
    UserName,
}

/// Which live accounts scimsync manages.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawScope {
    /// Only accounts whose email is in one of these domains (and their subdomains).
    /// Empty or absent: every domain.
    pub email_domains: Option<Vec<String>>,
    /// Emails or Slack user ids left alone entirely (out of scope).
    pub exclude: Option<Vec<String>>,
    /// Emails or Slack user ids never deactivated nor changed, even when in scope
    /// (break-glass admins, service accounts).
    pub protected: Option<Vec<String>>,
}

/// What to do with accounts in scope that the directory does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmanagedUsers {
    /// Deactivate them (within the safety limits).
    Deactivate,
    /// List them in the plan and change nothing.
    Report,
    /// Say nothing and change nothing.
    Ignore,
}

/// Group handling.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawGroups {
    /// Live groups the directory does not list: ignore (default), report, or delete
    /// (deletion is permanent in Slack and also needs safety.allow_group_deletion).
    pub unmanaged: Option<UnmanagedGroups>,
}

/// What to do with live groups the directory does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum UnmanagedGroups {
    /// Say nothing and change nothing.
    Ignore,
    /// List them in the plan and change nothing.
    Report,
    /// Delete them (needs `safety.allow_group_deletion`).
    Delete,
}

/// How one attribute is kept in sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttributeMode {
    /// Set on create and corrected on every pass.
    Enforce,
    /// Set on create, never updated (e.g. a display name people change themselves).
    CreateOnly,
    /// Never sent.
    Ignore,
    /// Set on create and updated when the directory changes it; a value changed in Slack by
    /// hand (drift) is reported, not reverted. Needs the state.
    Report,
}

/// What a blank value (an empty CSV cell, `title: ""` or `title:` in YAML) means for an
/// attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Blank {
    /// Leave Slack's value as it is (the default): a blank is no value, and an export whose
    /// column went empty never wipes everyone's data.
    Keep,
    /// Clear Slack's value. Not for names, the user name, the employee number or guest.
    Clear,
}

/// One attribute's policy: a mode, or `{mode, blank}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, JsonSchema)]
#[schemars(untagged)]
pub enum RawAttribute {
    /// How the attribute is kept in sync.
    Mode(AttributeMode),
    /// How it is kept in sync, and what a blank value means.
    Settings(RawAttributeSettings),
}

/// An attribute's mode and blank rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAttributeSettings {
    /// enforce (default), create_only, ignore or report.
    pub mode: Option<AttributeMode>,
    /// What a blank value in a source means: keep Slack's value (default) or clear it.
    pub blank: Option<Blank>,
}

impl RawAttribute {
    /// The mode, if given.
    pub fn mode(self) -> Option<AttributeMode> {
        match self {
            RawAttribute::Mode(m) => Some(m),
            RawAttribute::Settings(s) => s.mode,
        }
    }

    /// The blank rule, if given.
    pub fn blank(self) -> Option<Blank> {
        match self {
            RawAttribute::Mode(_) => None,
            RawAttribute::Settings(s) => s.blank,
        }
    }
}

/// A mode's name, or the settings map (whose own errors are reported as a struct's are).
impl<'de> Deserialize<'de> for RawAttribute {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ModeOrSettings;
        impl<'de> Visitor<'de> for ModeOrSettings {
            type Value = RawAttribute;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a mode (enforce, create_only, ignore) or a map with `mode` and `blank`",
                )
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawAttribute, E> {
                AttributeMode::deserialize(de::value::StrDeserializer::<E>::new(v))
                    .map(RawAttribute::Mode)
            }

            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<RawAttribute, M::Error> {
                RawAttributeSettings::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawAttribute::Settings)
            }
        }
        d.deserialize_any(ModeOrSettings)
    }
}

/// Attribute policy, per attribute: the attributes whose [`Spec::policy`](crate::model::Spec::policy)
/// is set, by name; `null` is the same as absent.
#[derive(Debug, Default)]
pub struct RawAttributes {
    /// Each attribute given, with its policy, in file order.
    pub settings: Vec<(Attribute, RawAttribute)>,
}

/// How many attributes have a policy.
const POLICY_COUNT: usize = {
    let (mut i, mut n) = (0, 0);
    while i < TABLE.len() {
        if TABLE[i].policy {
            n += 1;
        }
        i += 1;
    }
    n
};

/// The names `attributes:` accepts, in [`TABLE`]'s order.
const POLICY_NAMES: [&str; POLICY_COUNT] = {
    let mut names = [""; POLICY_COUNT];
    let (mut i, mut n) = (0, 0);
    while i < TABLE.len() {
        if TABLE[i].policy {
            names[n] = TABLE[i].name;
            n += 1;
        }
        i += 1;
    }
    names
};

impl<'de> Deserialize<'de> for RawAttributes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let settings = named_map(d, "struct RawAttributes", &POLICY_NAMES, |name| {
            Attribute::from_name(name)
                .filter(|a| a.spec().policy)
                .map(|a| (a, a.name()))
        })?;
        Ok(RawAttributes { settings })
    }
}

impl JsonSchema for RawAttributes {
    fn schema_name() -> Cow<'static, str> {
        "RawAttributes".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = serde_json::Map::new();
        for spec in TABLE.iter().filter(|s| s.policy) {
            let mut schema = generator.subschema_for::<Option<RawAttribute>>();
            schema.insert("description".into(), spec.doc.into());
            properties.insert(spec.name.into(), schema.into());
        }
        json_schema!({
            "description": "Attribute policy, per attribute: a mode, or `{mode, blank}`.",
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
        })
    }
}

/// Deserialises a map whose keys are names from a fixed list, as `serde`'s structs with
/// `deny_unknown_fields` do (an unknown or repeated name is an error; `null` is absent):
/// `key` gives a name's key and the name to report it by.
fn named_map<'de, D, K, V>(
    d: D,
    expecting: &'static str,
    names: &'static [&'static str],
    key: impl Fn(&str) -> Option<(K, &'static str)>,
) -> Result<Vec<(K, V)>, D::Error>
where
    D: Deserializer<'de>,
    K: PartialEq,
    V: Deserialize<'de>,
{
    struct Named<F, K, V> {
        expecting: &'static str,
        names: &'static [&'static str],
        key: F,
        out: std::marker::PhantomData<(K, V)>,
    }
    impl<'de, F, K, V> Visitor<'de> for Named<F, K, V>
    where
        F: Fn(&str) -> Option<(K, &'static str)>,
        K: PartialEq,
        V: Deserialize<'de>,
    {
        type Value = Vec<(K, V)>;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.expecting)
        }

        fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
            let mut out: Vec<(K, V)> = Vec::new();
            while let Some((k, name)) = next_named_key(&mut map, self.names, &self.key)? {
                if out.iter().any(|(seen, _)| *seen == k) {
                    return Err(de::Error::duplicate_field(name));
                }
                if let Some(value) = map.next_value::<Option<V>>()? {
                    out.push((k, value));
                }
            }
            Ok(out)
        }
    }
    d.deserialize_struct(
        expecting.trim_start_matches("struct "),
        names,
        Named {
            expecting,
            names,
            key,
            out: std::marker::PhantomData,
        },
    )
}

/// Directory users that break a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InvalidUsers {
    /// Leave them out of this run (their Slack accounts are left untouched) and report them.
    Skip,
    /// Fail the run.
    Fail,
}

/// Blast-radius limits (DESIGN §4).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSafety {
    /// Most deactivations one apply may make. Default: 25.
    pub max_deactivations: Option<u32>,
    /// Most deactivations as a share (0–1) of managed users (always at least one).
    /// Default: 0.05.
    pub max_deactivation_ratio: Option<f64>,
    /// Most reactivations one apply may make. Default: 25.
    pub max_reactivations: Option<u32>,
    /// Most reactivations as a share (0–1) of managed users (always at least one).
    /// Default: 0.05.
    pub max_reactivation_ratio: Option<f64>,
    /// Most attribute values one apply may clear (`blank: clear`: a blank cell removing
    /// Slack's value), each account's attribute counting one. Default: 25.
    pub max_clears: Option<u32>,
    /// Most clears as a share (0–1) of managed users (always at least one). Default: 0.05.
    pub max_clear_ratio: Option<f64>,
    /// Most group-membership removals one apply may make. Default: 200.
    pub max_membership_removals: Option<u32>,
    /// Fewer directory users than this trips the apply. Default: 1.
    pub min_directory_users: Option<u32>,
    /// Allow deleting groups (permanent in Slack). Default: false.
    pub allow_group_deletion: Option<bool>,
    /// How long an account must be absent from the directory before it is deactivated
    /// (`24h`); until then it is pending. Needs the state. Default: none (at once).
    pub deactivation_grace: Option<String>,
    /// Most a source may shrink, as a share (0–1) of its user count at the last successful
    /// apply, before the apply trips. Needs the state. Default: none.
    pub max_source_shrink: Option<f64>,
}

/// Rate-limit share.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRateLimit {
    /// Share (0–1] of Slack's per-organisation SCIM budget. Default: 0.5.
    pub share: Option<f64>,
    /// Changes in flight at once per Slack endpoint (user creates, user updates,
    /// deactivations and each kind of group write have their own), 1–64. Default: 4.
    pub concurrency: Option<u32>,
    /// Only for rehearsals against `scimsync emulator --time-scale N`: run the client's
    /// limits N times faster too. Default: 1 (Slack's real speed).
    pub time_scale: Option<f64>,
}

/// `scimsync run` settings.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    /// Time between passes: e.g. 30s, 15m, 1h, 1h30m. Default: 15m.
    pub interval: Option<String>,
    /// Random spread of the interval, 0–1 (0.1 = ±10%). Default: 0.1.
    pub jitter: Option<f64>,
    /// Address of /healthz, /readyz, /metrics and POST /reconcile. Default: 127.0.0.1:9090.
    pub listen: Option<String>,
}

/// The environment a config is compiled in: the overrides scimsync reads, injected so that
/// compiling stays a pure function.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvOverrides {
    /// `SCIMSYNC_TARGET_URL`: pins the target. It is the target, and a `target.url` that
    /// names another is refused, so that a config (e.g. in a pull request) cannot send the
    /// token elsewhere; `embedded` rehearses against the built-in emulator whatever the file
    /// says (no token is sent).
    pub target_url: Option<String>,
    /// `SCIMSYNC_TARGET_VERSION`: replaces `target.version` (v1 or v2).
    pub target_version: Option<String>,
    /// `SCIMSYNC_TOKEN_ENV`: replaces the token source with this variable.
    pub token_env: Option<String>,
    /// `SCIMSYNC_TOKEN_FILE`: replaces the token source with this file.
    pub token_file: Option<String>,
    /// `SCIMSYNC_CONFINE`: a folder every path the config names must lie in, symlinks
    /// resolved; and the config may not choose the target (`SCIMSYNC_TARGET_URL` must pin it)
    /// nor the token's variable or file (they come from `SCIMSYNC_TOKEN_ENV` or
    /// `SCIMSYNC_TOKEN_FILE`). For a CI job that plans a pull request's config.
    pub confine: Option<String>,
    /// `SCIMSYNC_STATE_DIR`: replaces `state_dir`: a folder (relative to the working
    /// directory), or `false` (`off`, `none`) for no state. Not confined: it comes from whoever
    /// runs scimsync.
    pub state_dir: Option<String>,
}

impl EnvOverrides {
    /// Pins the target (see [`EnvOverrides::target_url`]).
    pub const TARGET_URL: &'static str = "SCIMSYNC_TARGET_URL";
    /// Replaces `target.version` (v1 or v2).
    pub const TARGET_VERSION: &'static str = "SCIMSYNC_TARGET_VERSION";
    /// Replaces the token source with this environment variable.
    pub const TOKEN_ENV: &'static str = "SCIMSYNC_TOKEN_ENV";
    /// Replaces the token source with this file.
    pub const TOKEN_FILE: &'static str = "SCIMSYNC_TOKEN_FILE";
    /// Confines the config (see [`EnvOverrides::confine`]).
    pub const CONFINE: &'static str = "SCIMSYNC_CONFINE";
    /// Replaces `state_dir` (see [`EnvOverrides::state_dir`]).
    pub const STATE_DIR: &'static str = "SCIMSYNC_STATE_DIR";

    /// Reads the overrides from the process environment (empty values count as unset).
    pub fn from_process_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the overrides through `lookup` (a test passes a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name| lookup(name).filter(|v| !v.trim().is_empty());
        EnvOverrides {
            target_url: get(Self::TARGET_URL),
            target_version: get(Self::TARGET_VERSION),
            token_env: get(Self::TOKEN_ENV),
            token_file: get(Self::TOKEN_FILE),
            confine: get(Self::CONFINE),
            state_dir: get(Self::STATE_DIR),
        }
    }
}
