//! The operator's conventions: completions and the manual page, `SCIMSYNC_CONFIG`, the
//! bounded markdown plan for pull requests, and the shipped pull-request workflow
//! (`deploy/ci/github-plan-comment.yml`), parsed and held to its promises.

use std::path::{Path, PathBuf};
use std::process::Output;

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::scim::Version;
use serde_yaml::Value;

use crate::harness::{org_with, yaml_setup};

/// The subcommands every generated document must name.
const SUBCOMMANDS: [&str; 10] = [
    "validate",
    "schema",
    "plan",
    "apply",
    "run",
    "healthcheck",
    "dump",
    "emulator",
    "completions",
    "man",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `scimsync ARGS` in `dir` with `env` set over an environment without scimsync's variables.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_scimsync"));
    c.args(args).current_dir(dir);
    for name in [
        "SCIMSYNC_CONFIG",
        "SCIMSYNC_TARGET_URL",
        "SCIMSYNC_TARGET_VERSION",
        "SCIMSYNC_TOKEN_ENV",
        "SCIMSYNC_TOKEN_FILE",
        "NO_COLOR",
    ] {
        c.env_remove(name);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn operator_completions_name_every_subcommand_and_bash_parses_its_script() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = run(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = stdout(&out);
        for sub in SUBCOMMANDS {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
        // Options too (fish writes them without the dashes).
        assert!(
            script.contains("max-bytes") && script.contains("color"),
            "{shell}"
        );
    }
    let bash = dir.path().join("scimsync.bash");
    std::fs::write(&bash, run(dir.path(), &["completions", "bash"], &[]).stdout).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&bash)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let bad = run(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(bad.status.code(), Some(64));
}

#[test]
fn operator_man_page_has_every_subcommand_the_environment_and_the_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &["man"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let page = stdout(&out);
    assert!(page.contains(".TH scimsync 1"), "{page}");
    for sub in SUBCOMMANDS {
        assert!(
            page.contains(&format!(".SH \"SCIMSYNC {}\"", sub.to_uppercase())),
            "no section for {sub}"
        );
    }
    for text in [
        "SCIMSYNC_CONFIG",
        "SCIMSYNC_TARGET_URL",
        "NO_COLOR",
        r"\fB\-\-max\-bytes\fR",
        r"\fB\-\-yes\fR",
    ] {
        assert!(page.contains(text), "{text}");
    }
    for code in [
        scimsync::exit::OK,
        scimsync::exit::ERROR,
        scimsync::exit::CHANGES,
        scimsync::exit::GUARD,
        scimsync::exit::PARTIAL,
        scimsync::exit::CONFLICTS,
        scimsync::exit::DECLINED,
        scimsync::exit::USAGE,
        scimsync::exit::ABORTED,
    ] {
        assert!(
            page.contains(&format!(".TP\n\\fB{code}\\fR\n")),
            "exit {code}"
        );
    }
    // man(1) reads it (when man is installed).
    let out = run(dir.path(), &["man", "--out-dir", "share/man/man1"], &[]);
    assert_eq!(out.status.code(), Some(0));
    let written = std::fs::read_to_string(dir.path().join("share/man/man1/scimsync.1")).unwrap();
    assert_eq!(written, page);
}

#[test]
fn operator_scimsync_config_supplies_config_and_the_flag_wins() {
    let root = repo();
    let env = [("SCIMSYNC_CONFIG", "no/such/config.yaml")];
    let out = run(&root, &["validate"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout(&out).starts_with("no/such/config.yaml: error: cannot read the config file"),
        "{}",
        stdout(&out)
    );
    let out = run(
        &root,
        &["validate", "--config", "config/scimsync.yaml"],
        &env,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    // An empty value is unset: the default path.
    let out = run(&root, &["validate"], &[("SCIMSYNC_CONFIG", "")]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).starts_with("config/scimsync.yaml: valid"));
    // Every command that takes --config takes the variable.
    for args in [&["plan"][..], &["apply", "--dry-run"], &["dump"]] {
        let out = run(&root, args, &env);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("no/such/config.yaml"), "{args:?}: {err}");
    }
}

/// The arguments of the workflow's `scimsync plan` line, as the pull-request check runs it.
fn workflow_plan_args(workflow: &Value) -> Vec<String> {
    let step = steps(workflow)
        .into_iter()
        .find(|(_, s)| s["id"].as_str() == Some("plan"))
        .expect("a step with id: plan")
        .1;
    let line = step["run"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains("scimsync plan"))
        .expect("the plan command")
        .to_string();
    line.split_whitespace()
        .skip_while(|w| *w != "plan")
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_bounded_markdown_of_a_two_thousand_person_import_fits_a_comment() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 3)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("users:\n");
    for i in 0..2000 {
        yaml.push_str(&format!(
            "  - {{email: person{i:04}@example.com, given_name: Person, family_name: Number{i}, title: Engineer, groups: [everyone]}}\n"
        ));
    }
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        &yaml,
        "scope: {email_domains: [example.com]}\n",
    );
    let workflow = workflow();
    let args = workflow_plan_args(&workflow);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let pinned = o.emu.base_url(Version::V2);
    let env = [
        ("SCIMSYNC_TARGET_URL", pinned.as_str()),
        ("SCIM_TOKEN", o.emu.token()),
    ];
    let out = run(dir.path(), &args, &env);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(dir.path().join("plan.md")).unwrap();
    let max: usize = args[args.iter().position(|a| *a == "--max-bytes").unwrap() + 1]
        .parse()
        .unwrap();
    assert!(md.len() <= max, "{} bytes", md.len());
    assert!(md.contains("Plan: 2000 to create"), "{md}");
    assert!(md.contains("groups: 1 to create"), "{md}");
    assert!(md.contains("of 2,001 changes; not shown:"), "{md}");
    // The artifact holds every change.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap())
            .unwrap();
    assert_eq!(json["ops"].as_array().unwrap().len(), 2001);
    assert_eq!(json["summary"]["create"], 2000);
    // Unbounded, the same plan would not fit a comment.
    let out = run(
        dir.path(),
        &["plan", "--config", "scimsync.yaml", "--format", "markdown"],
        &env,
    );
    let full = stdout(&out);
    assert!(full.len() > 65_536, "{} bytes", full.len());
    eprintln!(
        "2,000-person import as markdown: bounded {} bytes, unbounded {} bytes",
        md.len(),
        full.len()
    );
    // --max-bytes bounds markdown only.
    let out = run(
        dir.path(),
        &["plan", "--config", "scimsync.yaml", "--max-bytes", "60000"],
        &env,
    );
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(o.emu.stats().writes, 0, "plan writes nothing");
}

fn workflow() -> Value {
    let text = std::fs::read_to_string(repo().join("deploy/ci/github-plan-comment.yml")).unwrap();
    serde_yaml::from_str(&text).expect("the workflow is YAML")
}

/// Every step with its job's name.
fn steps(workflow: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (name, job) in workflow["jobs"].as_mapping().expect("jobs") {
        for step in job["steps"].as_sequence().expect("steps") {
            out.push((name.as_str().unwrap().to_string(), step));
        }
    }
    out
}

fn text_of(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

/// An environment value that a pull request cannot set: a literal, or a repository variable.
fn fixed_by_the_repository(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    !s.is_empty() && (!s.contains("${{") || s.trim_start_matches("${{").trim().starts_with("vars."))
}

#[test]
fn operator_workflow_cannot_leak_the_token() {
    let w = workflow();
    let on = &w["on"];
    assert!(
        on.get("pull_request_target").is_none(),
        "pull_request_target would run with secrets on a fork's pull request"
    );
    assert!(on.get("pull_request").is_some(), "runs on pull requests");
    // Secrets appear in step environments only, never workflow- or job-wide.
    assert!(!text_of(&w["env"]).contains("secrets."), "workflow env");
    let jobs = w["jobs"].as_mapping().unwrap();
    for (name, job) in jobs {
        assert!(
            !text_of(&job["env"]).contains("secrets."),
            "{name:?}: job env"
        );
    }
    let mut secret_steps = 0;
    for (job_name, step) in steps(&w) {
        let uses = step["uses"].as_str().unwrap_or_default();
        let job = &w["jobs"][job_name.as_str()];
        if uses.starts_with("actions/checkout") {
            // A checkout never keeps GitHub's token in .git/config, never picks the head.
            assert_eq!(
                step["with"]["persist-credentials"],
                Value::Bool(false),
                "{job_name}"
            );
            assert!(!text_of(&step["with"]).contains("head"), "{job_name}");
        }
        if !text_of(step).contains("secrets.") {
            continue;
        }
        secret_steps += 1;
        // Only for this repository's branches: a fork's pull request gets no secret.
        let condition = job["if"].as_str().unwrap_or_default();
        assert!(
            condition
                .contains("github.event.pull_request.head.repo.full_name == github.repository"),
            "{job_name}: the job with the secret runs for forks"
        );
        // The secret goes to a step with the target and the token's variable pinned.
        let env = &step["env"];
        assert!(
            fixed_by_the_repository(&env["SCIMSYNC_TARGET_URL"]),
            "{job_name}: SCIMSYNC_TARGET_URL is not pinned: {env:?}"
        );
        assert!(
            env["SCIMSYNC_TARGET_URL"]
                .as_str()
                .unwrap()
                .starts_with("https://")
        );
        let token_var = env["SCIMSYNC_TOKEN_ENV"]
            .as_str()
            .expect("SCIMSYNC_TOKEN_ENV");
        assert!(
            env[token_var]
                .as_str()
                .unwrap_or_default()
                .contains("secrets."),
            "the pinned variable holds the secret"
        );
        // It runs the released binary, nothing the pull request brings.
        assert!(uses.is_empty(), "{job_name}: an action gets the secret");
        let script = step["run"].as_str().unwrap();
        for command in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let program = command.split_whitespace().next().unwrap();
            assert!(
                program == "~/.scimsync/bin/scimsync"
                    || ["set", "code=$?", "echo", "exit"].contains(&program),
                "{job_name}: the step with the secret runs {command:?}"
            );
        }
        // The job holding the secret can only read the repository.
        let permissions = text_of(&job["permissions"]);
        assert!(!permissions.contains("write"), "{job_name}: {permissions}");
    }
    assert_eq!(secret_steps, 1, "the secret reaches one step");
    // The job that comments holds no secret and runs no code of the pull request.
    let comment = &w["jobs"]["comment"];
    assert!(!text_of(comment).contains("secrets."));
    assert!(!text_of(comment).contains("actions/checkout"));
}

#[test]
fn operator_workflow_updates_one_comment_and_bounds_it() {
    let w = workflow();
    let script = steps(&w)
        .into_iter()
        .find_map(|(_, s)| s["with"]["script"].as_str().map(str::to_string))
        .expect("a github-script step");
    let marker_line = script
        .lines()
        .find(|l| l.contains("const marker"))
        .expect("a marker");
    assert!(
        marker_line.contains("<!--") && marker_line.contains("-->"),
        "hidden: {marker_line}"
    );
    assert!(script.contains("listComments") && script.contains("startsWith(marker)"));
    assert!(script.contains("updateComment"), "updated in place");
    assert_eq!(script.matches("createComment").count(), 1);
    assert!(
        script.contains("${marker}\\n"),
        "the body starts with the marker"
    );
    // The report plus the marker and the footer stay under GitHub's 65,536 characters.
    let args = workflow_plan_args(&w);
    let at = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .map(|i| args[i + 1].clone())
    };
    let max: usize = at("--max-bytes").expect("--max-bytes").parse().unwrap();
    assert!(max + 1_000 <= 65_536, "--max-bytes {max}");
    assert_eq!(at("--format").as_deref(), Some("markdown"));
    assert!(at("--json-out").is_some(), "the full plan is kept");
    // The full plan is uploaded, the binary cached by version and built only on a miss.
    let all = text_of(&w);
    assert!(all.contains("actions/upload-artifact") && all.contains("plan.json"));
    let cache = steps(&w)
        .into_iter()
        .find(|(_, s)| {
            s["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/cache"))
        })
        .expect("a cached binary")
        .1;
    assert!(
        cache["with"]["key"]
            .as_str()
            .unwrap()
            .contains("SCIMSYNC_VERSION")
    );
    let install = steps(&w)
        .into_iter()
        .find(|(_, s)| {
            s["run"]
                .as_str()
                .is_some_and(|r| r.contains("cargo install"))
        })
        .expect("the install step")
        .1;
    assert_eq!(
        install["if"].as_str(),
        Some("steps.cache.outputs.cache-hit != 'true'")
    );
    // Built before the pull request's files are checked out (its .cargo/config.toml could
    // otherwise change the build of the binary that then gets the secret).
    let order: Vec<String> = steps(&w)
        .into_iter()
        .filter(|(job, _)| job == "plan")
        .map(|(_, s)| text_of(s))
        .collect();
    let position = |what: &str| order.iter().position(|s| s.contains(what)).unwrap();
    assert!(position("cargo install") < position("actions/checkout"));
}
