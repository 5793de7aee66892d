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
    /// Per attribute: enforce (default), create_only (set when creating, never updated) or
    /// ignore.
    pub attributes: Option<RawAttributes>,
    /// Directory users that break a rule: skip them (and report) or fail the run. Default: fail.
    pub invalid_users: Option<InvalidUsers>,
    /// Limits that stop an apply before anything is written.
    pub safety: Option<RawSafety>,
    /// How much of Slack's (organisation-wide, shared) SCIM rate limit scimsync may use.
    pub rate_limit: Option<RawRateLimit>,
    /// Settings for `scimsync run`.
    pub daemon: Option<RawDaemon>,
    /// Append-only JSON-lines log of every write, relative to this file's folder.
    pub audit_log: Option<String>,
    /// Lock file that keeps two scimsync processes on one host from applying at once.
    /// Default: one per config file in the temporary folder.
    pub lock_file: Option<String>,
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
    pub version: Option<ScimVersion>,
    /// Name of the environment variable holding the token. Env: SCIMSYNC_TOKEN_ENV.
    pub token_env: Option<String>,
    /// File holding the token (e.g. a mounted secret). Env: SCIMSYNC_TOKEN_FILE.
    pub token_file: Option<String>,
    /// With `url: embedded`: the emulator's starting organisation (YAML or JSON), used while
    /// `emulator_state` does not exist yet. Default: a primary owner and a bot.
    pub emulator_seed: Option<String>,
    /// With `url: embedded`: the JSON file the emulator's organisation is kept in between
    /// runs, so a second `apply` sees what the first one did. Default: kept in memory only.
    pub emulator_state: Option<String>,
}

/// SCIM dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ScimVersion {
    /// SCIM 1.1 (`/scim/v1`).
    V1,
    /// SCIM 2.0 (`/scim/v2`).
    V2,
}

/// One source of the directory: a YAML directory file or a CSV export.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    /// A YAML directory file (users and groups), relative to this file's folder.
    pub yaml: Option<String>,
    /// A CSV file with a header row, relative to this file's folder.
    pub csv: Option<String>,
    /// CSV only: which header holds which attribute. `email` is required.
    pub columns: Option<RawColumns>,
    /// CSV only: the field delimiter, one character. Default: ",".
    pub delimiter: Option<String>,
    /// CSV only: separator inside the groups column. Default: ";".
    pub groups_separator: Option<String>,
    /// When true, this source's values win over earlier sources' for the same person;
    /// otherwise two different values are an error.
    #[serde(rename = "override")]
    pub override_earlier: Option<bool>,
    /// When true, this source may yield nobody. Otherwise a source with no users (and no
    /// groups) is an error: an empty or truncated export is never read as "everyone left".
    pub allow_empty: Option<bool>,
    /// The fewest users this source may yield; fewer is an error naming the source.
    pub min_users: Option<u32>,
}

/// CSV column mapping: column key → header name. The keys are the attributes' column keys
/// ([`Spec::column`](crate::model::Spec::column)) and `guest_expiration`; `null` is the same
/// as absent.
#[derive(Debug, Default, Clone)]
pub struct RawColumns {
    /// Each mapped column with its header, in [`CsvColumn::ALL`]'s order.
    pub headers: Vec<(CsvColumn, String)>,
}

impl RawColumns {
    /// The header mapped to `column`.
    pub fn header(&self, column: CsvColumn) -> Option<&str> {
        self.headers
            .iter()
            .find(|(c, _)| *c == column)
            .map(|(_, h)| h.as_str())
    }
}

impl<'de> Deserialize<'de> for RawColumns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut headers = named_map(d, "struct RawColumns", &CsvColumn::KEYS, |key| {
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
                    Kind::Guest => format!("{} In the CSV: true/false, yes/no, 1/0.", a.spec().doc),
                    Kind::Active => format!(
                        "{} In the CSV: true/false, yes/no, 1/0, active/inactive.",
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
                generator.subschema_for::<String>()
            } else {
                generator.subschema_for::<Option<String>>()
            };
            schema.insert("description".into(), description.into());
            properties.insert(column.key().into(), schema.into());
        }
        json_schema!({
            "description": "CSV column mapping: attribute → header name.",
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
}

/// Attribute policy, per attribute: the attributes whose [`Spec::policy`](crate::model::Spec::policy)
/// is set, by name; `null` is the same as absent.
#[derive(Debug, Default)]
pub struct RawAttributes {
    /// Each attribute given, with its mode, in file order.
    pub modes: Vec<(Attribute, AttributeMode)>,
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
        let modes = named_map(d, "struct RawAttributes", &POLICY_NAMES, |name| {
            Attribute::from_name(name)
                .filter(|a| a.spec().policy)
                .map(|a| (a, a.name()))
        })?;
        Ok(RawAttributes { modes })
    }
}

impl JsonSchema for RawAttributes {
    fn schema_name() -> Cow<'static, str> {
        "RawAttributes".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut properties = serde_json::Map::new();
        for spec in TABLE.iter().filter(|s| s.policy) {
            let mut schema = generator.subschema_for::<Option<AttributeMode>>();
            schema.insert("description".into(), spec.doc.into());
            properties.insert(spec.name.into(), schema.into());
        }
        json_schema!({
            "description": "Attribute policy, per attribute.",
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
    /// Most group-membership removals one apply may make. Default: 200.
    pub max_membership_removals: Option<u32>,
    /// Fewer directory users than this trips the apply. Default: 1.
    pub min_directory_users: Option<u32>,
    /// Allow deleting groups (permanent in Slack). Default: false.
    pub allow_group_deletion: Option<bool>,
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
    /// `SCIMSYNC_TARGET_URL`: replaces `target.url`.
    pub target_url: Option<String>,
    /// `SCIMSYNC_TARGET_VERSION`: replaces `target.version` (v1 or v2).
    pub target_version: Option<String>,
    /// `SCIMSYNC_TOKEN_ENV`: replaces the token source with this variable.
    pub token_env: Option<String>,
    /// `SCIMSYNC_TOKEN_FILE`: replaces the token source with this file.
    pub token_file: Option<String>,
}

impl EnvOverrides {
    /// Replaces `target.url`.
    pub const TARGET_URL: &'static str = "SCIMSYNC_TARGET_URL";
    /// Replaces `target.version` (v1 or v2).
    pub const TARGET_VERSION: &'static str = "SCIMSYNC_TARGET_VERSION";
    /// Replaces the token source with this environment variable.
    pub const TOKEN_ENV: &'static str = "SCIMSYNC_TOKEN_ENV";
    /// Replaces the token source with this file.
    pub const TOKEN_FILE: &'static str = "SCIMSYNC_TOKEN_FILE";

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
        }
    }
}
