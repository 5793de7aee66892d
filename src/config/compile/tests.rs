//! The compiler, rule by rule: every message at its place.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::policy::account_ref;
use super::target::check_url;
use super::*;
use crate::config::{
    AccountRef, AttributeMode, Blank, CsvColumn, DaemonSettings, MatchKey, Policy, ScimServer,
    SourceFormat, TokenSource, UnmanagedGroups, UnmanagedUsers,
};
use crate::model::Attribute;
use crate::scim::Version;

#[test]
fn durations() {
    assert_eq!(parse_duration("15m"), Some(Duration::from_secs(900)));
    assert_eq!(parse_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_duration("45s"), Some(Duration::from_secs(45)));
    for bad in ["", "15", "m", "1m1h", "1x", "1h1h", "-5m"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn urls() {
    assert!(check_url("https://api.slack.com/scim/v2/").is_ok());
    assert!(check_url("http://127.0.0.1:8080/scim/v1").is_ok());
    assert!(check_url("http://localhost/scim/v1").is_ok());
    assert!(check_url("http://[::1]:9/scim/v1").is_ok());
    assert!(matches!(
        check_url("http://slack.example.com/scim/v2"),
        Err(ConfigIssue::PlainHttp { .. })
    ));
    assert!(matches!(
        check_url("https://u:secret@api.slack.com/scim/v2"),
        Err(ConfigIssue::CredentialsInUrl { url }) if !url.contains("secret")
    ));
    assert!(matches!(
        check_url("ftp://x/scim/v2"),
        Err(ConfigIssue::InvalidUrl { .. })
    ));
    let v = |u: &str| crate::scim::target::version_from_path(&url::Url::parse(u).unwrap());
    assert_eq!(v("https://api.slack.com/scim/v1"), Some(Version::V1));
    assert_eq!(v("https://api.slack.com/scim/v2/"), Some(Version::V2));
    assert_eq!(v("https://proxy.example.com/slack"), None);
}

#[test]
fn accounts_are_emails_or_slack_ids() {
    assert_eq!(
        account_ref(" IT-Admin@Example.com "),
        Some(AccountRef::Email("it-admin@example.com".into()))
    );
    assert_eq!(
        account_ref("W0123ABC"),
        Some(AccountRef::UserId("W0123ABC".into()))
    );
    assert_eq!(account_ref("bob"), None);
    assert_eq!(account_ref("w0123"), None);
}

fn compile_str(text: &str, env: &EnvOverrides) -> Result<Config, Vec<String>> {
    compile_warned(text, env).map(|(config, _)| config)
}

/// The config and its warnings, as printed; or every problem, as printed.
fn compile_warned(text: &str, env: &EnvOverrides) -> Result<(Config, Vec<String>), Vec<String>> {
    let printed =
        |problems: &[Problem<ConfigIssue>]| problems.iter().map(ToString::to_string).collect();
    match compile(&Arc::from("conf/scimsync.yaml"), text.as_bytes(), env) {
        Ok((config, warnings)) => Ok((config, printed(&warnings))),
        Err(e) => Err(printed(&e.problems)),
    }
}

const MINIMAL: &str = "target:\n  url: https://api.slack.com/scim/v1\n  token_file: secret.txt\nsources:\n  - yaml: dir.yaml\n";

/// Column keys and policy attributes come from the attribute table; unknown ones are
/// reported at the key, all at once, with the closest valid names.
#[test]
fn column_keys_and_policy_attributes_are_read_by_name() {
    let errors = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{mail: M, email: E, title: T, boss: B}}\nattributes: {{titel: ignore, email: ignore, title: sometimes}}\n"
            ),
            &EnvOverrides::default(),
        )
        .unwrap_err();
    // Long lists are not written whole (they would pass what a problem shows): the closest
    // names are, and where the list is.
    let tail = "(`scimsync schema directory` and `scimsync schema config` list them all)";
    let columns = CsvColumn::KEYS.len();
    let policy = crate::model::TABLE.iter().filter(|s| s.policy).count();
    assert_eq!(
            errors,
            [
                format!("conf/scimsync.yaml:7:15: error: sources[1].columns.mail: unknown field `mail`, expected one of {columns} names: did you mean `email`, `manager_email` or `secondary_email`? {tail}"),
                format!("conf/scimsync.yaml:7:44: error: sources[1].columns.boss: unknown field `boss`, expected one of {columns} names {tail}"),
                format!("conf/scimsync.yaml:8:14: error: attributes.titel: unknown field `titel`, expected one of {policy} names: did you mean `title`? {tail}"),
                format!("conf/scimsync.yaml:8:29: error: attributes.email: unknown field `email`, expected one of {policy} names: did you mean `secondary_email`? {tail}"),
                "conf/scimsync.yaml:8:51: error: attributes.title: unknown variant `sometimes`, expected one of `enforce`, `create_only`, `ignore`, `report`".to_string(),
            ]
        );

    let config = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{groups: G, title: ~, email: E, guest_expiration: U, guest: F}}\nattributes: {{start_date: ignore, manager: create_only}}\n"
            ),
            &EnvOverrides::default(),
        )
        .unwrap();
    let SourceFormat::Csv(layout) = &config.sources[1].format else {
        panic!("csv")
    };
    // In table order, whatever the file's; `null` is absent.
    let keys: Vec<&str> = layout.columns.iter().map(|c| c.column.key()).collect();
    assert_eq!(keys, ["email", "guest", "guest_expiration", "groups"]);
    let attributes = &config.policy.attributes;
    assert_eq!(
        attributes.mode(Attribute::StartDate),
        super::super::AttributeMode::Ignore
    );
    assert_eq!(
        attributes.mode(Attribute::Manager),
        super::super::AttributeMode::CreateOnly
    );
    assert_eq!(
        attributes.mode(Attribute::Title),
        super::super::AttributeMode::Enforce
    );

    let errors = compile_str(
        &format!("{MINIMAL}  - csv: p.csv\n    columns: {{email: ~, title: T}}\n"),
        &EnvOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        errors,
        ["conf/scimsync.yaml:7:14: error: a csv source needs `columns` with at least `email`"]
    );
}

#[test]
fn a_full_config_compiles_with_paths_resolved() {
    let (config, warnings) = compile_warned(
            "target:
  url: https://api.slack.com/scim/v2/
  token_env: SLACK_SCIM_TOKEN
sources:
  - yaml: dir.yaml
  - csv: ../hr/people.csv
    columns: {email: Email, manager_email: Boss, guest_expiration: Until}
    delimiter: ';'
    groups_separator: '|'
    override: true
match: [email, employee_number]
scope: {email_domains: ['@Example.com'], exclude: [bot@example.com], protected: [W0ADMIN1]}
unmanaged_users: deactivate
groups: {unmanaged: delete}
attributes: {display_name: create_only, title: ignore}
invalid_users: skip
safety: {max_deactivations: 3, max_deactivation_ratio: 0.1, min_directory_users: 50, allow_group_deletion: true}
rate_limit: {share: 0.25, concurrency: 2}
daemon: {interval: 1h30m, jitter: 0, listen: '0.0.0.0:9191'}
audit_log: audit.jsonl
",
            &EnvOverrides::default(),
        )
        .unwrap();
    assert_eq!(config.target.version, Version::V2);
    assert_eq!(
        config.target.token,
        Some(TokenSource::Env("SLACK_SCIM_TOKEN".into()))
    );
    assert_eq!(config.sources[0].path, PathBuf::from("conf/dir.yaml"));
    assert_eq!(config.sources[1].display.as_ref(), "hr/people.csv");
    assert_eq!(
        config.sources[1].declared_at.to_string(),
        "conf/scimsync.yaml:6:5"
    );
    assert!(config.sources[1].override_earlier);
    let SourceFormat::Csv(layout) = &config.sources[1].format else {
        panic!("csv")
    };
    assert_eq!(layout.delimiter, b';');
    assert_eq!(layout.groups_separator, '|');
    let keys: Vec<&str> = layout.columns.iter().map(|c| c.column.key()).collect();
    assert_eq!(keys, ["email", "manager_email", "guest_expiration"]);
    assert_eq!(
        layout.columns[1].declared_at.to_string(),
        "conf/scimsync.yaml:7:44"
    );
    let policy = &config.policy;
    assert_eq!(
        policy.match_keys,
        [MatchKey::Email, MatchKey::EmployeeNumber]
    );
    assert_eq!(policy.scope.email_domains, ["example.com"]);
    assert_eq!(policy.unmanaged_users, UnmanagedUsers::Deactivate);
    assert_eq!(policy.unmanaged_groups, UnmanagedGroups::Delete);
    assert_eq!(
        policy.attributes.mode(Attribute::DisplayName),
        super::super::AttributeMode::CreateOnly
    );
    assert_eq!(policy.safety.max_deactivations, 3);
    assert_eq!(policy.safety.min_directory_users, 50);
    assert_eq!(config.invalid_users, InvalidUsers::Skip);
    assert_eq!(config.rate_limit.share, 0.25);
    assert_eq!(config.daemon.interval, Duration::from_secs(5400));
    assert_eq!(config.daemon.listen.port(), 9191);
    assert_eq!(config.audit_log, Some(PathBuf::from("conf/audit.jsonl")));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn the_audit_log_is_a_path_or_a_map_with_stdout() {
    let env = EnvOverrides::default();
    let with = |audit: &str| compile_str(&format!("{MINIMAL}audit_log: {audit}\n"), &env);
    let c = with("a.jsonl").unwrap();
    assert_eq!(
        (c.audit_log, c.audit_stdout),
        (Some(PathBuf::from("conf/a.jsonl")), false)
    );
    let c = with("{path: a.jsonl, stdout: true}").unwrap();
    assert_eq!(
        (c.audit_log, c.audit_stdout),
        (Some(PathBuf::from("conf/a.jsonl")), true)
    );
    let c = with("{stdout: true}").unwrap();
    assert_eq!((c.audit_log, c.audit_stdout), (None, true));
    let c = compile_str(MINIMAL, &env).unwrap();
    assert_eq!((c.audit_log, c.audit_stdout), (None, false));
    let errors = with("{path: a.jsonl, stdot: true}").unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(
        errors[0]
            .starts_with("conf/scimsync.yaml:6:28: error: audit_log.stdot: unknown field `stdot`"),
        "{errors:#?}"
    );
    let errors = with("[a.jsonl]").unwrap_err();
    assert!(
        errors[0].contains("expected a file path or a map with `path` and `stdout`"),
        "{errors:#?}"
    );
}

#[test]
fn columns_take_fallbacks_and_attributes_a_blank_rule() {
    let env = EnvOverrides::default();
    let config = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{email: E, given_name: [Preferred, ' Legal '], title: T}}\nattributes:\n  title: {{blank: clear}}\n  manager: {{mode: create_only, blank: keep}}\n  display_name: ignore\n"
            ),
            &env,
        )
        .unwrap();
    let SourceFormat::Csv(layout) = &config.sources[1].format else {
        panic!("csv")
    };
    let given = &layout.columns[1];
    assert_eq!(given.column.key(), "given_name");
    assert_eq!(given.header, "Preferred");
    assert_eq!(given.fallbacks, ["Legal"]);
    assert!(layout.columns[2].fallbacks.is_empty());
    let attributes = &config.policy.attributes;
    assert_eq!(attributes.blank(Attribute::Title), Blank::Clear);
    assert_eq!(attributes.mode(Attribute::Title), AttributeMode::Enforce);
    assert_eq!(attributes.blank(Attribute::Manager), Blank::Keep);
    assert_eq!(
        attributes.mode(Attribute::Manager),
        AttributeMode::CreateOnly
    );
    assert_eq!(
        attributes.blank(Attribute::Phone),
        Blank::Keep,
        "the default"
    );
    assert_eq!(
        attributes.mode(Attribute::DisplayName),
        AttributeMode::Ignore
    );

    // What is never cleared is refused where it is written; so is an empty list of
    // headers, and an unknown setting.
    let errors = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{email: E, title: []}}\nattributes:\n  given_name: {{blank: clear}}\n  employee_number: {{blank: clear}}\n  user_name: {{blank: clear}}\n  guest: {{blank: clear}}\n  title: {{blank: wipe}}\n  phone: {{blnk: clear}}\n"
            ),
            &env,
        )
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "conf/scimsync.yaml:13:18: error: attributes.title.blank: unknown variant `wipe`, expected `keep` or `clear`",
            "conf/scimsync.yaml:14:11: error: attributes.phone.blnk: unknown field `blnk`, expected `mode` or `blank`",
        ]
    );
    let errors = compile_str(
            &format!(
                "{MINIMAL}  - csv: p.csv\n    columns: {{email: E, title: []}}\nattributes:\n  given_name: {{blank: clear}}\n  employee_number: {{blank: clear}}\n  user_name: {{blank: clear}}\n  guest: {{blank: clear}}\n  phone: {{blank: clear}}\n"
            ),
            &env,
        )
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "conf/scimsync.yaml:7:32: error: columns.title: list at least one header",
            "conf/scimsync.yaml:9:23: error: attributes.given_name: `blank: clear` is not allowed: a name is never cleared (Slack requires one)",
            "conf/scimsync.yaml:10:28: error: attributes.employee_number: `blank: clear` is not allowed: a match key is never cleared",
            "conf/scimsync.yaml:11:22: error: attributes.user_name: `blank: clear` is not allowed: Slack requires a user name",
            "conf/scimsync.yaml:12:18: error: attributes.guest: `blank: clear` is not allowed: a blank guest cell already means a full member",
        ]
    );
}

#[test]
fn the_digest_is_the_sha256_of_the_file() {
    // FIPS 180-2's first example.
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let c = compile_str(MINIMAL, &EnvOverrides::default()).unwrap();
    assert_eq!(c.digest, sha256_hex(MINIMAL.as_bytes()));
}

#[test]
fn defaults_are_the_careful_ones() {
    let config = compile_str(MINIMAL, &EnvOverrides::default()).unwrap();
    assert_eq!(config.target.version, Version::V1);
    assert_eq!(
        config.target.token,
        Some(TokenSource::File(PathBuf::from("conf/secret.txt")))
    );
    assert_eq!(config.policy, Policy::default());
    assert_eq!(config.invalid_users, InvalidUsers::Fail);
    assert_eq!(config.daemon, DaemonSettings::default());
}

#[test]
fn every_semantic_error_is_reported_at_its_place() {
    let errors = compile_str(
        "target:
  url: http://slack.example.com/scim/v2
  token_env: 'not a name'
sources:
  - yaml: a.yaml
    columns: {email: E}
  - csv: b.csv
  - csv: c.csv
    yaml: c.yaml
  - csv: d.csv
    columns: {email: E}
    delimiter: ';;'
match: [email, email]
scope: {email_domains: [nodot], protected: [bob]}
safety: {max_deactivation_ratio: 2}
rate_limit: {share: 0, concurrency: 100}
daemon: {interval: soon, jitter: -1, listen: 'localhost'}
",
        &EnvOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "conf/scimsync.yaml:2:8: error: target.url \"http://slack.example.com/scim/v2\": use https (plain http is allowed only to localhost/loopback, so the token never crosses a network in clear)",
            "conf/scimsync.yaml:6:14: error: `columns` only applies to csv sources",
            "conf/scimsync.yaml:7:5: error: a csv source needs `columns` with at least `email`",
            "conf/scimsync.yaml:8:5: error: a source needs exactly one of `yaml:`, `csv:`, `command:`, `ldap:` or `google_workspace:`",
            "conf/scimsync.yaml:12:16: error: `delimiter` must be a single character, not \";;\"",
            "conf/scimsync.yaml:13:16: error: match: `email` is listed twice",
            "conf/scimsync.yaml:14:25: error: \"nodot\" is not an email domain",
            "conf/scimsync.yaml:14:45: error: \"bob\" is neither an email nor a Slack user id (U… or W…)",
            "conf/scimsync.yaml:15:34: error: safety.max_deactivation_ratio is 2, must be between 0 and 1",
            "conf/scimsync.yaml:16:21: error: rate_limit.share is 0, must be more than 0 and at most 1",
            "conf/scimsync.yaml:16:37: error: rate_limit.concurrency is 100, must be between 1 and 64",
            "conf/scimsync.yaml:17:20: error: daemon.interval \"soon\" is not a duration like 30s, 15m, 1h or 1h30m",
            "conf/scimsync.yaml:17:34: error: daemon.jitter is -1, must be between 0 and 1",
            "conf/scimsync.yaml:17:46: error: daemon.listen \"localhost\" is not an address like 0.0.0.0:9090",
        ]
    );
}

#[test]
fn unknown_fields_and_wrong_types_are_all_reported() {
    let errors = compile_str(
            "target:\n  url: embedded\n  tokn_env: X\nsourcez: []\nsafety:\n  max_deactivations: many\n",
            &EnvOverrides::default(),
        )
        .unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:#?}");
    assert!(
        errors[0].starts_with(
            "conf/scimsync.yaml:3:3: error: target.tokn_env: unknown field `tokn_env`"
        ),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("conf/scimsync.yaml:4:1: error: sourcez: unknown field `sourcez`"),
        "{errors:#?}"
    );
    assert!(errors[2].starts_with("conf/scimsync.yaml:6:22: error: safety.max_deactivations: invalid type: string \"many\", expected u32"), "{errors:#?}");
}

#[test]
fn required_parts() {
    assert_eq!(
        compile_str("sources: []\n", &EnvOverrides::default()).unwrap_err(),
        [
            "conf/scimsync.yaml:1:1: error: `target` is required",
            "conf/scimsync.yaml:1:10: error: at least one source is required",
        ]
    );
    assert_eq!(
        compile_str(
            "target: {url: 'https://api.slack.com/scim/v2'}\nsources: [{yaml: d.yaml}]\n",
            &EnvOverrides::default()
        )
        .unwrap_err(),
        [
            "conf/scimsync.yaml:1:9: error: a token source is required: set target.token_env or target.token_file"
        ]
    );
    assert_eq!(
        compile_str("", &EnvOverrides::default()).unwrap_err(),
        ["conf/scimsync.yaml: error: the config file is empty"]
    );
}

#[test]
fn versions_come_from_the_url_or_are_declared() {
    let env = EnvOverrides::default();
    let with = |url: &str, version: &str| {
        compile_str(
            &format!(
                "target:\n  url: {url}\n  {version}\n  token_env: T\nsources: [{{yaml: d.yaml}}]\n"
            ),
            &env,
        )
    };
    assert_eq!(
        with("https://proxy.example.com/slack", "version: v1")
            .unwrap()
            .target
            .version,
        Version::V1
    );
    assert_eq!(
        with("https://proxy.example.com/slack", "").unwrap_err(),
        [
            "conf/scimsync.yaml:2:8: error: cannot tell the SCIM version from target.url \"https://proxy.example.com/slack\" (its path does not end in /scim/v1 or /scim/v2): set target.version"
        ]
    );
    assert_eq!(
        with("https://api.slack.com/scim/v2", "version: v1").unwrap_err(),
        [
            "conf/scimsync.yaml:3:12: error: target.version is v1 but target.url \"https://api.slack.com/scim/v2\" is a v2 endpoint"
        ]
    );
}

#[test]
fn a_pinned_target_refuses_a_config_naming_another() {
    let pin = |url: &'static str| {
        EnvOverrides::from_lookup(move |name| (name == "SCIMSYNC_TARGET_URL").then(|| url.into()))
    };
    assert_eq!(
        compile_str(MINIMAL, &pin("https://api.slack.com/scim/v2/")).unwrap_err(),
        [
            "conf/scimsync.yaml:2:8: error: target.url \"https://api.slack.com/scim/v1\" differs from SCIMSYNC_TARGET_URL \"https://api.slack.com/scim/v2/\", which pins the target: refused, so that the config cannot send the token elsewhere"
        ]
    );
    let other_host = MINIMAL.replace("api.slack.com", "evil.example.com");
    let e = compile_str(&other_host, &pin("https://api.slack.com/scim/v1")).unwrap_err();
    assert!(
        e[0].contains("evil.example.com") && e[0].contains("pins the target"),
        "{e:?}"
    );
    // Credentials in the file's URL are not echoed.
    let creds = MINIMAL.replace("https://", "https://user:hunter2@");
    let e = compile_str(&creds, &pin("https://api.slack.com/scim/v1")).unwrap_err();
    assert!(!e.join("").contains("hunter2"), "{e:?}");
    // The same target, written differently, is the same target.
    for same in [
        "https://API.slack.com/scim/v1/",
        "https://api.slack.com:443/scim/v1",
    ] {
        let config = compile_str(MINIMAL, &pin(same)).unwrap();
        assert_eq!(config.target.version, Version::V1);
    }
    // A rehearsal against the built-in emulator sends no token anywhere.
    let config = compile_str(MINIMAL, &pin("embedded")).unwrap();
    assert_eq!(config.target.server, ScimServer::Embedded);
}

#[test]
fn environment_overrides_win_and_are_named_in_errors() {
    let env = EnvOverrides::from_lookup(|name| match name {
        "SCIMSYNC_TARGET_URL" => Some("http://127.0.0.1:8080/scim/v2".into()),
        "SCIMSYNC_TOKEN_ENV" => Some("OTHER_TOKEN".into()),
        _ => None,
    });
    let no_url = MINIMAL.replace("  url: https://api.slack.com/scim/v1\n", "");
    let config = compile_str(&no_url, &env).unwrap();
    assert_eq!(config.target.version, Version::V2);
    assert_eq!(
        config.target.token,
        Some(TokenSource::Env("OTHER_TOKEN".into()))
    );

    let env = EnvOverrides::from_lookup(|name| {
        (name == "SCIMSYNC_TARGET_URL").then(|| "http://slack.example.com/scim/v2".into())
    });
    assert_eq!(
        compile_str(MINIMAL, &env).unwrap_err(),
        [
            "conf/scimsync.yaml:2:8: error: target.url \"http://slack.example.com/scim/v2\": use https (plain http is allowed only to localhost/loopback, so the token never crosses a network in clear) (from SCIMSYNC_TARGET_URL)"
        ]
    );
    // The target may come from the environment alone.
    let env = EnvOverrides::from_lookup(|name| {
        (name == "SCIMSYNC_TARGET_URL").then(|| "embedded".into())
    });
    let config = compile_str("sources: [{yaml: d.yaml}]\n", &env).unwrap();
    assert_eq!(config.target.server, ScimServer::Embedded);
    assert_eq!(config.target.token, None);
}

#[test]
fn syntax_errors_and_tabs_are_located() {
    let errors = compile_str("target:\n\turl: embedded\n", &EnvOverrides::default()).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("conf/scimsync.yaml:2:1: error: "),
        "{errors:?}"
    );
    assert!(errors[0].contains("tab"), "{errors:?}");
}

#[test]
fn group_deletion_without_permission_is_a_warning() {
    let (_, warnings) = compile_warned(
        &format!("{MINIMAL}groups: {{unmanaged: delete}}\n"),
        &EnvOverrides::default(),
    )
    .unwrap();
    assert_eq!(
        warnings,
        [
            "conf/scimsync.yaml:6:21: warning: groups.unmanaged is `delete` but safety.allow_group_deletion is false: every deletion will trip the guard"
        ]
    );
}

/// A warning comes back beside the config, not inside it; `Config::load` is the same config
/// without them. When the config fails, its report lists the warning with the errors, in
/// place order (what `validate` prints).
#[test]
fn warnings_come_beside_the_config_and_with_the_errors_when_it_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scimsync.yaml");
    let warned = format!("{MINIMAL}groups: {{unmanaged: delete}}\n");
    std::fs::write(&path, &warned).unwrap();
    let env = EnvOverrides::default();
    let (config, warnings) = Config::load_with_warnings(&path, &env).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(!warnings[0].is_error());
    assert_eq!(warnings[0].kind, ConfigIssue::GroupDeletionNotAllowed);
    assert_eq!(Config::load(&path, &env).unwrap(), config);

    let errors = compile_str(&format!("{warned}stuck: {{after: 0}}\n"), &env).unwrap_err();
    assert_eq!(
        errors,
        [
            "conf/scimsync.yaml:6:21: warning: groups.unmanaged is `delete` but safety.allow_group_deletion is false: every deletion will trip the guard",
            "conf/scimsync.yaml:7:16: error: stuck.after is 0, must be at least 1",
        ]
    );
}

/// Each safety ratio out of range is reported at its key, by its own name.
#[test]
fn every_safety_ratio_is_named_in_its_error() {
    let errors = compile_str(
        &format!(
            "{MINIMAL}safety: {{max_clear_ratio: -1, max_reactivation_ratio: 2, max_source_shrink: 1.5, max_deactivation_ratio: 3}}\n"
        ),
        &EnvOverrides::default(),
    )
    .unwrap_err();
    assert_eq!(
        errors,
        [
            "conf/scimsync.yaml:6:27: error: safety.max_clear_ratio is -1, must be between 0 and 1",
            "conf/scimsync.yaml:6:55: error: safety.max_reactivation_ratio is 2, must be between 0 and 1",
            "conf/scimsync.yaml:6:77: error: safety.max_source_shrink is 1.5, must be between 0 and 1",
            "conf/scimsync.yaml:6:106: error: safety.max_deactivation_ratio is 3, must be between 0 and 1",
        ]
    );
}

/// The embedded emulator's profile traps come from `target.emulator` too; a bad entry is an
/// error at it.
#[test]
fn the_embedded_emulator_takes_its_profile_traps_from_the_config() {
    let text = "target:\n  url: embedded\n  emulator:\n    custom_profile_fields: 45\n    drop_profile_on_invalid: [\"phone=*x*\"]\nsources:\n  - yaml: dir.yaml\n";
    let config = compile_str(text, &EnvOverrides::default()).unwrap();
    let settings = config.target.emulator.settings().unwrap();
    assert_eq!(settings.custom_profile_fields, 45);
    assert_eq!(settings.invalid_values.len(), 1);
    assert_eq!(settings.invalid_values[0].attribute, Attribute::Phone);
    let bad = text.replace("phone=*x*", "given_name=x");
    let errors = compile_str(&bad, &EnvOverrides::default()).unwrap_err();
    assert_eq!(
        errors,
        [
            "conf/scimsync.yaml:5:31: error: \"given_name\" is not an attribute Slack keeps as a custom profile field"
        ]
    );
}
