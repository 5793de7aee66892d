//! `SCIMSYNC_CONFINE` (issue 21): the PR workflow plans a pull request's config confined to
//! the pull request's folder, with the target and the token's variable pinned by the
//! environment. A path leaving the folder (by `..` or by a symlink), a token variable or a
//! target chosen by the config: each refused with exit 1 before any request to Slack.
//! And `SCIMSYNC_STATE_DIR`, which the workflow sets, wins over the config's `state_dir`.

use std::path::Path;

use scimsync::scim::Version;

use crate::harness::{Org, org};

const PEOPLE: &str = "Email\nada@example.com\n";

/// `scimsync ARGS --config pr/scimsync.yaml` in `root`, with `env` over an environment
/// cleared of every override: exit code and stdout + stderr.
fn run(root: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let ran = crate::harness::run(
        root,
        &[args, &["--config", "pr/scimsync.yaml"]].concat(),
        env,
    );
    (ran.code, ran.text())
}

/// A root folder holding `outside.csv`, and `pr/` (the confined folder) holding `people.csv`
/// and a config with `config` as its text.
fn setup(config: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("pr")).unwrap();
    std::fs::write(root.path().join("outside.csv"), PEOPLE).unwrap();
    std::fs::write(root.path().join("pr/people.csv"), PEOPLE).unwrap();
    std::fs::write(root.path().join("pr/scimsync.yaml"), config).unwrap();
    root
}

/// What the PR workflow sets: confined to `pr/`, target and token variable pinned, no state.
fn workflow_env(o: &Org, root: &Path) -> Vec<(String, String)> {
    vec![
        (
            "SCIMSYNC_CONFINE".into(),
            root.join("pr").display().to_string(),
        ),
        (
            "SCIMSYNC_TARGET_URL".into(),
            o.emu.base_url(Version::V2).to_string(),
        ),
        ("SCIMSYNC_TOKEN_ENV".into(), "SCIM_TOKEN".into()),
        ("SCIMSYNC_STATE_DIR".into(), "false".into()),
        ("SCIM_TOKEN".into(), o.emu.token().into()),
    ]
}

fn borrowed(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn source(path: &str) -> String {
    format!(
        "sources:\n  - csv: {path}\n    columns: {{email: Email}}\nscope: {{email_domains: [example.com]}}\n"
    )
}

/// `validate` and `plan` under `env` are refused with `expected` in the message, and Slack
/// is never asked anything.
fn refused(o: &Org, root: &Path, env: &[(&str, &str)], expected: &[&str]) {
    for args in [&["validate"][..], &["plan"], &["apply"]] {
        let (code, text) = run(root, args, env);
        assert_eq!(code, 1, "{args:?}: {text}");
        for e in expected {
            assert!(text.contains(e), "{args:?}: expected {e:?} in:\n{text}");
        }
    }
    let stats = o.emu.stats();
    assert_eq!((stats.reads, stats.writes), (0, 0), "no request was made");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_confined_plan_reads_inside_the_folder() {
    let o = org().await;
    let root = setup(&source("people.csv"));
    let env = workflow_env(&o, root.path());
    let (code, text) = run(root.path(), &["plan"], &borrowed(&env));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("ada@example.com"), "{text}");
    assert!(o.emu.stats().reads > 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_leaving_the_confined_folder_is_refused_before_any_request() {
    let o = org().await;
    let root = setup(&source("../outside.csv"));
    let env = workflow_env(&o, root.path());
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &[
            "pr/scimsync.yaml:2:10",
            "sources[0].csv",
            "leaves the confined folder",
        ],
    );
    // An absolute path, the same.
    let absolute = root.path().join("outside.csv");
    std::fs::write(
        root.path().join("pr/scimsync.yaml"),
        source(&absolute.display().to_string()),
    )
    .unwrap();
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &["leaves the confined folder"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_out_of_the_confined_folder_is_refused_before_any_request() {
    let o = org().await;
    let root = setup(&source("people-link.csv"));
    std::os::unix::fs::symlink(
        root.path().join("outside.csv"),
        root.path().join("pr/people-link.csv"),
    )
    .unwrap();
    let env = workflow_env(&o, root.path());
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &["sources[0].csv", "leaves the confined folder"],
    );
    // A symlinked folder on the way, the same.
    std::os::unix::fs::symlink(root.path(), root.path().join("pr/up")).unwrap();
    std::fs::write(
        root.path().join("pr/scimsync.yaml"),
        source("up/outside.csv"),
    )
    .unwrap();
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &["leaves the confined folder"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_variable_chosen_by_the_config_is_refused_before_any_request() {
    let o = org().await;
    let root = setup(&format!(
        "target: {{token_env: AWS_SECRET_ACCESS_KEY}}\n{}",
        source("people.csv")
    ));
    let env = workflow_env(&o, root.path());
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &["target.token_env", "SCIMSYNC_CONFINE"],
    );
    std::fs::write(
        root.path().join("pr/scimsync.yaml"),
        format!(
            "target: {{token_file: token.txt}}\n{}",
            source("people.csv")
        ),
    )
    .unwrap();
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &["target.token_file", "SCIMSYNC_CONFINE"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_without_a_pin_is_refused_before_any_request() {
    let o = org().await;
    let root = setup(&format!(
        "target: {{url: \"{}\"}}\n{}",
        o.emu.base_url(Version::V2),
        source("people.csv")
    ));
    let env: Vec<(String, String)> = workflow_env(&o, root.path())
        .into_iter()
        .filter(|(k, _)| k != "SCIMSYNC_TARGET_URL")
        .collect();
    refused(
        &o,
        root.path(),
        &borrowed(&env),
        &["target.url", "SCIMSYNC_TARGET_URL", "SCIMSYNC_CONFINE"],
    );
}

/// `SCIMSYNC_STATE_DIR=false`: the state is neither read nor written — the config's
/// `state_dir` here is a file, which reading or probing the state would trip on.
#[tokio::test(flavor = "multi_thread")]
async fn state_dir_false_reads_and_writes_no_state() {
    let o = org().await;
    let root = setup(&format!(
        "target: {{url: \"{}\", token_env: SCIM_TOKEN}}\n{}state_dir: not-a-folder\n",
        o.emu.base_url(Version::V2),
        source("people.csv")
    ));
    std::fs::write(root.path().join("pr/not-a-folder"), "a file").unwrap();
    let token = [("SCIM_TOKEN", o.emu.token())];
    let (code, text) = run(root.path(), &["apply"], &token);
    assert_eq!(
        code, 1,
        "the state is in the way without the override: {text}"
    );
    assert_eq!(o.emu.stats().writes, 0);

    let env = [
        ("SCIM_TOKEN", o.emu.token()),
        ("SCIMSYNC_STATE_DIR", "false"),
    ];
    let (code, text) = run(root.path(), &["apply"], &env);
    assert_eq!(code, 0, "{text}");
    assert_eq!(o.emu.stats().writes, 1, "ada created");
    assert_eq!(
        std::fs::read_to_string(root.path().join("pr/not-a-folder")).unwrap(),
        "a file"
    );
    // Nothing made anywhere: no default state folder either.
    for entry in walk(root.path()) {
        assert!(
            !entry.contains("scimsync-state") && !entry.contains("state.json"),
            "{entry}"
        );
    }
}

/// `SCIMSYNC_STATE_DIR=<dir>` wins over the config's `state_dir`.
#[tokio::test(flavor = "multi_thread")]
async fn state_dir_from_the_environment_wins_over_the_config() {
    let o = org().await;
    let root = setup(&format!(
        "target: {{url: \"{}\", token_env: SCIM_TOKEN}}\n{}state_dir: config-state\n",
        o.emu.base_url(Version::V2),
        source("people.csv")
    ));
    let chosen = root.path().join("chosen-state");
    let env = [
        ("SCIM_TOKEN", o.emu.token()),
        ("SCIMSYNC_STATE_DIR", chosen.to_str().unwrap()),
    ];
    let (code, text) = run(root.path(), &["apply"], &env);
    assert_eq!(code, 0, "{text}");
    assert!(
        std::fs::read_dir(&chosen).unwrap().next().is_some(),
        "the state is kept in SCIMSYNC_STATE_DIR"
    );
    assert!(
        !root.path().join("pr/config-state").exists(),
        "the config's state_dir is not used"
    );
    // An empty value counts as unset: the config's folder is used again.
    let env = [("SCIM_TOKEN", o.emu.token()), ("SCIMSYNC_STATE_DIR", "")];
    let (code, text) = run(root.path(), &["apply"], &env);
    assert_eq!(code, 0, "{text}");
    assert!(root.path().join("pr/config-state").is_dir());
}

/// Every path under `dir`, as text.
fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.display().to_string());
        if path.is_dir() && !path.is_symlink() {
            out.extend(walk(&path));
        }
    }
    out
}
