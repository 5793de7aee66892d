//! `SCIMSYNC_CONFINE` and `SCIMSYNC_STATE_DIR`, rule by rule.

use std::path::PathBuf;
use std::sync::Arc;

use super::*;

/// A root holding `outside.csv`, and the confined folder `pr/` holding `people.csv`.
struct Tree {
    root: tempfile::TempDir,
}

impl Tree {
    fn new() -> Tree {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pr")).unwrap();
        std::fs::write(root.path().join("outside.csv"), "Email\n").unwrap();
        std::fs::write(root.path().join("pr/people.csv"), "Email\n").unwrap();
        Tree { root }
    }

    fn pr(&self) -> PathBuf {
        self.root.path().join("pr")
    }

    /// Compiles `text` as `pr/scimsync.yaml` under `vars`: the problems, as printed.
    fn compile(&self, text: &str, vars: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let env = EnvOverrides::from_lookup(|name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        });
        let file: Arc<str> = self.pr().join("scimsync.yaml").display().to_string().into();
        compile(&file, text.as_bytes(), &env)
            .map(|(config, _)| config)
            .map_err(|e| {
                e.problems
                    .iter()
                    .map(|p| p.to_string().replace(&*file, "scimsync.yaml"))
                    .collect()
            })
    }

    /// What the PR workflow sets: confined to `pr/`, a pinned target and token variable.
    fn confined(&self) -> Vec<(&'static str, String)> {
        vec![
            ("SCIMSYNC_CONFINE", self.pr().display().to_string()),
            (
                "SCIMSYNC_TARGET_URL",
                "https://api.slack.com/scim/v2/".into(),
            ),
            ("SCIMSYNC_TOKEN_ENV", "SLACK_SCIM_TOKEN".into()),
        ]
    }

    /// Compiles under [`Tree::confined`] with `extra` set over it.
    fn compile_confined(&self, text: &str, extra: &[(&str, &str)]) -> Result<Config, Vec<String>> {
        let mut vars: Vec<(String, String)> = self
            .confined()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for (k, v) in extra {
            vars.retain(|(name, _)| name != k);
            vars.push((k.to_string(), v.to_string()));
        }
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (&**k, &**v)).collect();
        self.compile(text, &vars)
    }
}

const SOURCES: &str = "sources:\n  - csv: people.csv\n    columns: {email: Email}\n";

/// Every config key whose documentation says it is a file or a folder, and a config
/// that sets it to `../outside`: each must be refused at its key under `SCIMSYNC_CONFINE`.
/// (The list is checked against the schema below: a new file key fails that test until it is
/// listed here, and then this one shows it confined.)
const FILE_KEYS: [(&str, &str, &str); 14] = [
    (
        "yaml",
        "sources:\n  - yaml: ../outside\n",
        "sources[0].yaml",
    ),
    (
        "csv",
        "sources:\n  - csv: ../outside\n    columns: {email: Email}\n",
        "sources[0].csv",
    ),
    ("audit_log", "audit_log: ../outside\n", "audit_log"),
    ("path", "audit_log: {path: ../outside}\n", "audit_log.path"),
    ("lock_file", "lock_file: ../outside\n", "lock_file"),
    ("state_dir", "state_dir: ../outside\n", "state_dir"),
    (
        "channels_file",
        "channels_file: ../outside.csv\n",
        "channels_file",
    ),
    (
        "emulator_seed",
        "target: {url: embedded, emulator_seed: ../outside}\n",
        "target.emulator_seed",
    ),
    (
        "emulator_state",
        "target: {url: embedded, emulator_state: ../outside}\n",
        "target.emulator_state",
    ),
    (
        "token_file",
        "target: {url: embedded, token_file: ../outside}\n",
        "target.token_file",
    ),
    (
        "ca_file",
        "sources:\n  - ldap: {url: \"ldaps://h\", base_dn: \"dc=x\", ca_file: ../outside}\n    columns: {email: mail}\n",
        "sources[0].ldap.ca_file",
    ),
    (
        "password_file",
        "sources:\n  - ldap: {url: \"ldaps://h\", base_dn: \"dc=x\", bind_dn: \"cn=r\", password_file: ../outside}\n    columns: {email: mail}\n",
        "sources[0].ldap.password_file",
    ),
    (
        "key_file",
        "sources:\n  - google_workspace: {subject: a@example.com, key_file: ../outside}\n    columns: {email: primaryEmail}\n",
        "sources[0].google_workspace.key_file",
    ),
    (
        "channels_file",
        "target: {url: embedded, emulator: {channels_file: ../outside}}\n",
        "target.emulator.channels_file",
    ),
];

#[test]
fn every_file_key_in_the_schema_is_listed_for_confinement() {
    fn walk(node: &serde_json::Value, found: &mut Vec<String>) {
        match node {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
                    for (key, property) in properties {
                        let text = property["description"].as_str().unwrap_or_default();
                        let words: Vec<String> = text
                            .split(|c: char| !c.is_alphanumeric())
                            .map(str::to_lowercase)
                            .collect();
                        if words.iter().any(|w| ["file", "folder"].contains(&&**w)) {
                            found.push(key.clone());
                        }
                    }
                }
                map.values().for_each(|v| walk(v, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
            _ => {}
        }
    }
    let schema = serde_json::to_value(schemars::schema_for!(raw::RawConfig)).unwrap();
    let mut found = Vec::new();
    walk(&schema, &mut found);
    found.sort();
    found.dedup();
    let mut listed: Vec<String> = FILE_KEYS.iter().map(|(k, ..)| k.to_string()).collect();
    listed.sort();
    // (`channels_file` is both a top-level key and `target.emulator`'s: both are listed.)
    listed.dedup();
    assert_eq!(found, listed, "a file key is missing from FILE_KEYS");
}

#[test]
fn every_file_key_leaving_the_confined_folder_is_refused_at_its_key() {
    let tree = Tree::new();
    let embedded = [("SCIMSYNC_TARGET_URL", "embedded")];
    for (_, yaml, field) in FILE_KEYS {
        let text = if yaml.starts_with("target:") {
            format!("{yaml}{SOURCES}")
        } else if yaml.starts_with("sources:") {
            format!("target: {{url: embedded}}\n{yaml}")
        } else {
            format!("target: {{url: embedded}}\n{SOURCES}{yaml}")
        };
        // Unconfined, the config is fine.
        let unconfined = tree.compile(&text, &[]);
        assert!(unconfined.is_ok(), "{field}: {unconfined:?}");
        let errors = tree.compile_confined(&text, &embedded).unwrap_err();
        // (A token file in the config is refused by the token rule, which names it too; a
        // directory service's file keys are refused with their source, which is too.)
        let service = field.starts_with("sources[0].ldap.")
            || field.starts_with("sources[0].google_workspace.");
        let expected = if field == "target.token_file" || service {
            format!("{field} is refused under SCIMSYNC_CONFINE")
        } else {
            // (A channel list is read as the config compiles: it names a file that exists.)
            let path = if field == "channels_file" {
                "../outside.csv"
            } else {
                "../outside"
            };
            format!(
                "{field} \"{path}\" leaves the confined folder {} (SCIMSYNC_CONFINE): it resolves to ",
                tree.pr().display()
            )
        };
        assert_eq!(
            errors.len(),
            1 + usize::from(service),
            "{field}: {errors:?}"
        );
        let error = errors.iter().find(|e| e.contains(&expected));
        let error = error.unwrap_or_else(|| panic!("{field}: {errors:?}"));
        // At the key's own line.
        let line = text.lines().position(|l| l.contains("../outside")).unwrap() + 1;
        assert!(
            error.starts_with(&format!("scimsync.yaml:{line}:")),
            "{field}: {errors:?}"
        );
    }
}

#[test]
fn confined_paths_inside_the_folder_resolve_through_symlinks() {
    let tree = Tree::new();
    std::os::unix::fs::symlink(
        tree.root.path().join("outside.csv"),
        tree.pr().join("out.csv"),
    )
    .unwrap();
    std::os::unix::fs::symlink(tree.pr().join("people.csv"), tree.pr().join("in.csv")).unwrap();
    let config = tree
        .compile_confined(
            &format!(
                "{SOURCES}  - csv: in.csv\n    columns: {{email: Email}}\n\
                 state_dir: state/not-made-yet\naudit_log: audit.jsonl\n"
            ),
            &[],
        )
        .unwrap();
    assert_eq!(config.sources[1].path, tree.pr().join("in.csv"));
    assert_eq!(
        config.state_dir,
        StateDir::At(tree.pr().join("state/not-made-yet"))
    );
    let errors = tree
        .compile_confined(
            &format!("{SOURCES}  - csv: out.csv\n    columns: {{email: Email}}\n"),
            &[],
        )
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(
            "scimsync.yaml:4:10: error: sources[1].csv \"out.csv\" leaves the confined folder"
        ),
        "{errors:?}"
    );
    assert!(errors[0].ends_with("outside.csv"), "{errors:?}");
}

#[test]
fn the_confined_folder_must_exist() {
    let tree = Tree::new();
    let missing = tree.root.path().join("nope").display().to_string();
    let errors = tree
        .compile_confined(SOURCES, &[("SCIMSYNC_CONFINE", &missing)])
        .unwrap_err();
    assert_eq!(
        errors,
        [format!(
            "scimsync.yaml: error: SCIMSYNC_CONFINE {missing:?} cannot be the confined folder: No such file or directory (os error 2)"
        )]
    );
}

#[test]
fn a_confined_config_cannot_choose_the_target() {
    let tree = Tree::new();
    let confine = tree.pr().display().to_string();
    let token = ("SCIMSYNC_TOKEN_ENV", "SLACK_SCIM_TOKEN");
    // No pin: refused, with or without a target.url in the file.
    for (text, expected) in [
        (
            format!("target: {{url: \"https://evil.example.com/scim/v2\"}}\n{SOURCES}"),
            "scimsync.yaml:1:15: error: target.url is refused under SCIMSYNC_CONFINE, where the config cannot choose the host the token is sent to: SCIMSYNC_TARGET_URL must pin the target (target.url may then only repeat it)",
        ),
        (
            SOURCES.to_string(),
            "scimsync.yaml:1:1: error: under SCIMSYNC_CONFINE the target comes from the environment only: set SCIMSYNC_TARGET_URL",
        ),
    ] {
        let errors = tree
            .compile(&text, &[("SCIMSYNC_CONFINE", &confine), token])
            .unwrap_err();
        assert_eq!(errors, [expected]);
    }
    // Pinned: the file may only repeat the pin.
    let same = format!("target: {{url: \"https://API.slack.com/scim/v2\"}}\n{SOURCES}");
    assert!(tree.compile_confined(&same, &[]).is_ok());
    let other = format!("target: {{url: \"https://evil.example.com/scim/v2\"}}\n{SOURCES}");
    let errors = tree.compile_confined(&other, &[]).unwrap_err();
    assert!(errors[0].contains("pins the target"), "{errors:?}");
    // Even when the pin is the emulator (unconfined, a rehearsal of a real target is fine).
    let rehearsal = [("SCIMSYNC_TARGET_URL", "embedded")];
    let errors = tree.compile_confined(&other, &rehearsal).unwrap_err();
    assert!(errors[0].contains("pins the target"), "{errors:?}");
    assert!(tree.compile(&other, &rehearsal).is_ok());
    let config = tree
        .compile_confined(&format!("target: {{url: embedded}}\n{SOURCES}"), &rehearsal)
        .unwrap();
    assert_eq!(config.target.server, ScimServer::Embedded);
}

#[test]
fn a_confined_config_cannot_choose_the_token_variable_or_file() {
    let tree = Tree::new();
    let refused = |text: &str, extra: &[(&str, &str)], field: &str| {
        let errors = tree.compile_confined(text, extra).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains(&format!(
                "{field} is refused under SCIMSYNC_CONFINE, where the config cannot choose"
            )),
            "{errors:?}"
        );
        assert!(errors[0].contains("SCIMSYNC_TOKEN_ENV or SCIMSYNC_TOKEN_FILE"));
    };
    let env_in_file = format!("target: {{token_env: AWS_SECRET_ACCESS_KEY}}\n{SOURCES}");
    refused(&env_in_file, &[], "target.token_env");
    let file_in_file = format!("target: {{token_file: token.txt}}\n{SOURCES}");
    refused(&file_in_file, &[], "target.token_file");
    refused(
        &file_in_file,
        &[("SCIMSYNC_TOKEN_FILE", "/run/secrets/token")],
        "target.token_file",
    );
    // A setting that only repeats the environment's chooses nothing.
    let same = format!("target: {{token_env: SLACK_SCIM_TOKEN}}\n{SOURCES}");
    let config = tree.compile_confined(&same, &[]).unwrap();
    assert_eq!(
        config.target.token,
        Some(TokenSource::Env("SLACK_SCIM_TOKEN".into()))
    );
    let token = tree.pr().join("token.txt");
    std::fs::write(&token, "x").unwrap();
    let config = tree
        .compile_confined(
            &file_in_file,
            &[
                ("SCIMSYNC_TOKEN_ENV", ""),
                ("SCIMSYNC_TOKEN_FILE", token.to_str().unwrap()),
            ],
        )
        .unwrap();
    assert_eq!(config.target.token, Some(TokenSource::File(token)));
    // No token source in the environment: refused, even with none in the file.
    let errors = tree
        .compile_confined(SOURCES, &[("SCIMSYNC_TOKEN_ENV", "")])
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "scimsync.yaml:1:1: error: under SCIMSYNC_CONFINE the token source comes from the environment only: set SCIMSYNC_TOKEN_ENV or SCIMSYNC_TOKEN_FILE"
        ]
    );
    // The emulator needs no token.
    assert!(
        tree.compile_confined(
            SOURCES,
            &[
                ("SCIMSYNC_TOKEN_ENV", ""),
                ("SCIMSYNC_TARGET_URL", "embedded")
            ]
        )
        .is_ok()
    );
}

#[test]
fn state_dir_from_the_environment_wins_and_is_not_confined() {
    let tree = Tree::new();
    let config = format!(
        "target: {{url: embedded}}\n{SOURCES}state_dir: ../outside\nsafety: {{deactivation_grace: 1h}}\n"
    );
    assert_eq!(
        tree.compile(&config, &[]).unwrap().state_dir,
        StateDir::At(tree.root.path().join("outside"))
    );
    for off in ["false", "OFF", " none "] {
        let errors = tree
            .compile(&config, &[("SCIMSYNC_STATE_DIR", off)])
            .unwrap_err();
        assert_eq!(
            errors,
            [
                "scimsync.yaml:6:30: error: safety.deactivation_grace needs the state kept between passes, but SCIMSYNC_STATE_DIR is false: point SCIMSYNC_STATE_DIR at a folder (an empty one carries nothing over from earlier runs), or unset it"
            ]
        );
    }
    let stateless = format!("target: {{url: embedded}}\n{SOURCES}state_dir: ../outside\n");
    let off = tree
        .compile(&stateless, &[("SCIMSYNC_STATE_DIR", "false")])
        .unwrap();
    assert_eq!(off.state_dir, StateDir::Off);
    // A folder, relative to the working directory, wins over the config's, confined or not
    // (it comes from whoever runs scimsync, not from the config).
    let chosen = tree.compile_confined(
        &stateless,
        &[
            ("SCIMSYNC_STATE_DIR", "/var/lib/x"),
            ("SCIMSYNC_TARGET_URL", "embedded"),
        ],
    );
    assert_eq!(
        chosen.unwrap().state_dir,
        StateDir::At(PathBuf::from("/var/lib/x"))
    );
    let relative = tree.compile(&stateless, &[("SCIMSYNC_STATE_DIR", "./ci/state")]);
    assert_eq!(
        relative.unwrap().state_dir,
        StateDir::At(PathBuf::from("ci/state"))
    );
    // Empty is unset; `yes` is not a folder name anyone means.
    let unset = tree
        .compile(&stateless, &[("SCIMSYNC_STATE_DIR", " ")])
        .unwrap();
    assert_eq!(
        unset.state_dir,
        StateDir::At(tree.root.path().join("outside"))
    );
    let errors = tree
        .compile(&stateless, &[("SCIMSYNC_STATE_DIR", "yes")])
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "scimsync.yaml:1:1: error: state_dir is yes, must be a folder, or false (off, none) for no state (from SCIMSYNC_STATE_DIR)"
        ]
    );
}

/// A `command:` source would run a program the pull request chooses, beside the Slack
/// token: refused under `SCIMSYNC_CONFINE` at its key, before anything runs (the config
/// does not compile), whatever else it sets.
#[test]
fn a_command_source_is_refused_when_confined() {
    let tree = Tree::new();
    let text = "target: {url: embedded}\nsources:\n  - command: [./fetch-hr, --all]\n    format: json\n    env: [HR_TOKEN]\n    columns: {email: Email}\n";
    let config = tree.compile(text, &[]).unwrap();
    let SourceFormat::Command(command) = &config.sources[0].format else {
        panic!("{:?}", config.sources[0].format);
    };
    assert_eq!(command.argv, ["./fetch-hr", "--all"]);
    assert_eq!(command.env, ["HR_TOKEN"]);
    assert_eq!(command.timeout, COMMAND_TIMEOUT);
    assert_eq!(&*config.sources[0].display, "command './fetch-hr'");
    let errors = tree
        .compile_confined(text, &[("SCIMSYNC_TARGET_URL", "embedded")])
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "scimsync.yaml:3:14: error: sources[0].command is refused under SCIMSYNC_CONFINE, where a pull request's config cannot choose a program to run; only file sources inside the confined folder are read"
        ]
    );
}

/// A command never gets the Slack token's variable, confined or not: the file's
/// `token_env` and `SCIMSYNC_TOKEN_ENV` are both refused in its `env`.
#[test]
fn a_command_never_gets_the_token_variable() {
    let tree = Tree::new();
    let text = "target: {url: embedded, token_env: MY_SLACK}\nsources:\n  - command: [fetch]\n    env: [HR_TOKEN, MY_SLACK, SLACK_SCIM_TOKEN, 'not a name']\n    columns: {email: Email}\n";
    let errors = tree
        .compile(text, &[("SCIMSYNC_TOKEN_ENV", "SLACK_SCIM_TOKEN")])
        .unwrap_err();
    assert_eq!(
        errors,
        [
            "scimsync.yaml:4:21: error: MY_SLACK holds the Slack token: it is never passed to a command",
            "scimsync.yaml:4:31: error: SLACK_SCIM_TOKEN holds the Slack token: it is never passed to a command",
            "scimsync.yaml:4:49: error: \"not a name\" is not an environment variable name",
        ]
    );
}

/// Issue 25: an LDAP bind password is never read from the variable holding the Slack token,
/// confined or not (a config could otherwise send the token to a server of its choosing).
#[test]
fn an_ldap_password_env_never_names_the_token_variable() {
    let tree = Tree::new();
    for (token_env, overrides) in [
        ("MY_SLACK", &[][..]),
        ("OTHER", &[("SCIMSYNC_TOKEN_ENV", "MY_SLACK")][..]),
    ] {
        let text = format!(
            "target: {{url: embedded, token_env: {token_env}}}\nsources:\n  - ldap: {{url: \"ldaps://h\", base_dn: \"dc=x\", bind_dn: \"cn=r\", password_env: MY_SLACK}}\n    columns: {{email: mail}}\n"
        );
        let errors = tree.compile(&text, overrides).unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0]
                .contains("MY_SLACK holds the Slack token: it is never sent to an LDAP server"),
            "{errors:?}"
        );
    }
    let fine = "target: {url: embedded, token_env: MY_SLACK}\nsources:\n  - ldap: {url: \"ldaps://h\", base_dn: \"dc=x\", bind_dn: \"cn=r\", password_env: LDAP_PW}\n    columns: {email: mail}\n";
    assert!(tree.compile(fine, &[]).is_ok());
}
