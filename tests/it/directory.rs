//! `scimsync validate` and `scimsync schema`, run as the real binary: the broken-input
//! corpus in tests/fixtures/directory/, the shipped config and examples, env overrides.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

use crate::harness::Ran;

fn scimsync(args: &[&str], cwd: &Path, env: &[(&str, &str)]) -> Ran {
    crate::harness::run(cwd, args, env)
}

/// Copies a corpus file into a fresh folder next to a config that reads it, and validates.
/// Paths in messages are then just the file's name.
fn validate_fixture(name: &str) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/directory").join(name),
        dir.path().join(name),
    )
    .unwrap();
    let source = if name.ends_with(".csv") {
        format!(
            "  - csv: {name}\n    columns: {{email: Email, given_name: First Name, family_name: Last Name}}\n"
        )
    } else {
        format!("  - yaml: {name}\n")
    };
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        format!("target: {{url: embedded}}\nsources:\n{source}"),
    )
    .unwrap();
    scimsync(&["validate", "--config", "scimsync.yaml"], dir.path(), &[])
}

/// The problem lines (everything but the summary).
fn problems(run: &Ran) -> Vec<&str> {
    let mut lines: Vec<&str> = run.stdout.lines().collect();
    lines.pop();
    lines
}

fn summary(run: &Ran) -> &str {
    run.stdout.lines().last().unwrap_or_default()
}

#[test]
fn directory_corpus_truncated_yaml() {
    let run = validate_fixture("truncated.yaml");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "truncated.yaml:4:1: error: did not find expected node content, while parsing a flow node"
        ]
    );
    assert_eq!(summary(&run), "scimsync.yaml: invalid: 1 error, 0 warnings");
}

#[test]
fn directory_corpus_wrong_indentation() {
    let run = validate_fixture("wrong-indent.yaml");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "wrong-indent.yaml:3:4: error: did not find expected '-' indicator, while parsing a block collection"
        ]
    );
}

#[test]
fn directory_corpus_tabs() {
    let run = validate_fixture("tabs.yaml");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "tabs.yaml:3:1: error: found a tab character that violates indentation, while scanning a plain scalar (a tab: YAML is indented with spaces only)"
        ]
    );
}

#[test]
fn directory_corpus_empty_files() {
    for name in ["empty.yaml", "empty.csv"] {
        let run = validate_fixture(name);
        assert_eq!(run.code, 1, "{name}");
        assert_eq!(
            problems(&run),
            [format!(
                "{name}: error: the source is empty; an empty or broken export is never read as \"nobody works here\""
            )]
        );
    }
}

#[test]
fn directory_corpus_csv_missing_column() {
    let run = validate_fixture("missing-column.csv");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "missing-column.csv:1:1: error: no column \"Last Name\" (mapped to family_name) in the header row (2 column(s))"
        ]
    );
}

#[test]
fn directory_corpus_csv_duplicate_header() {
    let run = validate_fixture("duplicate-header.csv");
    assert_eq!(run.code, 1);
    assert!(
        problems(&run).contains(
            &"duplicate-header.csv:1:18: error: duplicate header \"Email\" (also column 1)"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn directory_corpus_csv_ragged_rows() {
    let run = validate_fixture("ragged-row.csv");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "ragged-row.csv:3:17: error: row has 2 fields, the header has 3",
            "ragged-row.csv:4:25: error: row has 4 fields, the header has 3",
        ]
    );
}

#[test]
fn directory_corpus_csv_with_a_bom_loads() {
    let run = validate_fixture("bom.csv");
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        run.stdout,
        "scimsync.yaml: valid (1 user, 0 groups): 0 errors, 0 warnings\n"
    );
}

#[test]
fn directory_corpus_latin1_bytes() {
    let run = validate_fixture("latin1.csv");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        ["latin1.csv:3:21: error: invalid UTF-8 (byte 0xE9); save the file as UTF-8"]
    );
}

#[test]
fn directory_corpus_duplicate_emails_differing_in_case() {
    let run = validate_fixture("duplicate-emails-case.yaml");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "duplicate-emails-case.yaml:3:12: error: email \"Ada@Example.COM\" is used twice (first at duplicate-emails-case.yaml:2:12); emails are unique, case-insensitively"
        ]
    );
    assert_eq!(
        summary(&run),
        "scimsync.yaml: invalid (0 users, 2 skipped, 0 groups): 1 error, 0 warnings"
    );
}

#[test]
fn directory_corpus_22_character_user_name() {
    let run = validate_fixture("long-username.yaml");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "long-username.yaml:3:16: error: user_name \"abcdefghijklmnopqrstuv\": user name is longer than 21 characters (username_too_long)"
        ]
    );
}

#[test]
fn directory_corpus_manager_not_in_the_directory() {
    let run = validate_fixture("unknown-manager.yaml");
    assert_eq!(run.code, 1);
    assert_eq!(
        problems(&run),
        [
            "unknown-manager.yaml:3:14: error: manager \"nobody@example.com\" is not a user of the directory"
        ]
    );
}

/// Every shipped config validates cleanly, and every example directory file is read by one
/// (as a source; the emulator seed is read as `target.emulator_seed`).
#[test]
fn directory_shipped_configs_and_examples_validate() {
    let mut configs = vec![repo().join("config/scimsync.yaml")];
    let mut directories = Vec::new();
    for entry in std::fs::read_dir(repo().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.lines().any(|l| l.starts_with("target:")) {
                configs.push(path);
            } else {
                directories.push(path);
            }
        }
    }
    assert!(configs.len() >= 2 && !directories.is_empty());
    for config in &configs {
        let run = scimsync(
            &["validate", "--config", config.to_str().unwrap()],
            &repo(),
            &[],
        );
        assert_eq!(run.code, 0, "{}: {}", config.display(), run.stdout);
        assert!(run.stdout.contains(": valid ("), "{}", run.stdout);
        assert!(
            run.stdout.ends_with("0 errors, 0 warnings\n"),
            "{}",
            run.stdout
        );
    }
    // Example directories are validated through the configs that read them (their
    // groups name people from the HR export), so each must be read by one.
    for directory in &directories {
        let name = directory.file_name().unwrap().to_str().unwrap();
        let used = configs.iter().any(|c| {
            std::fs::read_to_string(c).unwrap().lines().any(|l| {
                let l = l.trim_start();
                (l.starts_with("- yaml:") || l.starts_with("emulator_seed:")) && l.contains(name)
            })
        });
        assert!(used, "{name} is not read by any shipped config");
    }
}

#[test]
fn directory_default_config_path_is_config_scimsync_yaml() {
    let run = scimsync(&["validate"], &repo(), &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .starts_with("config/scimsync.yaml: valid (8 users, 1 of them a leaver, 6 groups)"),
        "{}",
        run.stdout
    );
}

#[test]
fn directory_env_overrides_apply_and_are_named() {
    let run = scimsync(
        &["validate"],
        &repo(),
        &[("SCIMSYNC_TARGET_URL", "http://slack.example.com/scim/v2")],
    );
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("config/scimsync.yaml:19:8: error: target.url \"http://slack.example.com/scim/v2\": use https"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("(from SCIMSYNC_TARGET_URL)"));
    // The shipped config says `url: embedded`: a pinned real target refuses it, naming both.
    let run = scimsync(
        &["validate"],
        &repo(),
        &[
            ("SCIMSYNC_TARGET_URL", "https://api.slack.com/scim/v1"),
            ("SCIMSYNC_TOKEN_ENV", "MY_TOKEN"),
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.starts_with("config/scimsync.yaml:19:8: error: target.url \"embedded\" differs from SCIMSYNC_TARGET_URL \"https://api.slack.com/scim/v1\", which pins the target"),
        "{}",
        run.stdout
    );
}

#[test]
fn directory_missing_config_file_fails() {
    let dir = tempfile::tempdir().unwrap();
    let run = scimsync(&["validate", "--config", "nope.yaml"], dir.path(), &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("nope.yaml: error: cannot read the config file: "),
        "{}",
        run.stdout
    );
}

#[test]
fn directory_missing_source_names_the_config_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        "target: {url: embedded}\nsources:\n  - yaml: gone.yaml\n",
    )
    .unwrap();
    let run = scimsync(&["validate", "--config", "c.yaml"], dir.path(), &[]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .starts_with("c.yaml:3:5: error: cannot read gone.yaml: "),
        "{}",
        run.stdout
    );
}

#[test]
fn directory_schemas_are_printed_and_the_committed_copies_are_current() {
    for (kind, file) in [
        ("config", "config/schema/config.schema.json"),
        ("directory", "config/schema/directory.schema.json"),
    ] {
        let run = scimsync(&["schema", kind], &repo(), &[]);
        assert_eq!(run.code, 0);
        let schema: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(schema["additionalProperties"], false, "{kind}");
        let committed = std::fs::read_to_string(repo().join(file)).unwrap();
        assert_eq!(
            run.stdout, committed,
            "{file} is stale: run `scimsync schema {kind} > {file}`"
        );
    }
    // The examples point editors at them.
    for (file, schema) in [
        ("config/scimsync.yaml", "schema/config.schema.json"),
        (
            "examples/directory.yaml",
            "../config/schema/directory.schema.json",
        ),
        (
            "examples/production.yaml",
            "../config/schema/config.schema.json",
        ),
    ] {
        let text = std::fs::read_to_string(repo().join(file)).unwrap();
        let first = text.lines().next().unwrap();
        assert_eq!(first, format!("# yaml-language-server: $schema={schema}"));
        let target = repo().join(file).parent().unwrap().join(schema);
        assert!(target.exists(), "{}", target.display());
    }
}
