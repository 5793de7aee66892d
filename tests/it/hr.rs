//! Real HR data without a script (issue 25), end to end: a BambooHR-shaped export
//! (`tests/fixtures/hr/`) with managers as "Last, First", `Status` Active / On Leave /
//! Terminated, a contractor filtered out and groups derived from two columns, planned and
//! applied with no transform step; the ways such an export goes wrong each stop with exit 1
//! and zero writes; the same data from a `command:` (CSV and JSON) gives the same Slack as
//! the file, and a command that fails — a non-zero exit, a timeout, half a document — leaves
//! Slack untouched.

use std::path::{Path, PathBuf};

use scimsync::model::Attribute;
use scimsync::scim::Version;

use crate::harness::{self, Org, org};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hr")
}

/// The fixture's config with the emulator as its target, its `sources:` replaced by
/// `sources` when given, and `extra` appended.
fn setup(o: &Org, sources: Option<&str>, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for file in ["bamboo.csv", "bamboo.json"] {
        std::fs::copy(fixtures().join(file), dir.path().join(file)).unwrap();
    }
    let config = std::fs::read_to_string(fixtures().join("scimsync.yaml")).unwrap();
    let target = format!(
        "target: {{url: \"{}\", token_env: SCIM_TOKEN}}",
        o.emu.base_url(Version::V2)
    );
    let mut config = config.replace("target: {url: embedded}", &target);
    if let Some(sources) = sources {
        let start = config.find("sources:").unwrap();
        let end = config.find("scope:").unwrap();
        config.replace_range(start..end, sources);
    }
    config.push_str("rate_limit: {time_scale: 100}\n");
    config.push_str(extra);
    std::fs::write(dir.path().join("scimsync.yaml"), config).unwrap();
    dir
}

/// The fixture's columns, rules and filter, under a source of another kind (`kind` is its
/// first line, without the dash).
fn sources_with(kind: &str, more: &str) -> String {
    let config = std::fs::read_to_string(fixtures().join("scimsync.yaml")).unwrap();
    let start = config.find("    columns:").unwrap();
    let end = config.find("scope:").unwrap();
    format!("sources:\n  - {kind}\n{more}{}", &config[start..end])
}

/// What Slack holds, ids left out: each user with their names, title, manager's email and
/// whether active, and each group with its members' emails.
fn slack(o: &Org) -> Vec<String> {
    o.emu.with_store(|s| {
        let email = |id: &str| s.user(id).map_or(String::new(), |u| u.email.clone());
        let mut out: Vec<String> = s
            .users()
            .filter(|u| u.email.ends_with("@example.com") && u.email != "primary-owner@example.com")
            .map(|u| {
                format!(
                    "{} {:?} {:?} {:?} manager={} active={}",
                    u.email,
                    u.text(Attribute::GivenName),
                    u.text(Attribute::FamilyName),
                    u.text(Attribute::Title),
                    u.manager_id.as_deref().map(email).unwrap_or_default(),
                    u.active
                )
            })
            .collect();
        for g in s.groups().filter(|g| !g.auto_generated) {
            let mut members: Vec<String> = g.members.iter().map(|m| email(m)).collect();
            members.sort();
            out.push(format!("group {}: {}", g.display_name, members.join(" ")));
        }
        out.sort();
        out
    })
}

fn run(o: &Org, dir: &Path, args: &[&str]) -> (i32, String) {
    harness::run_text(o, dir, args)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hr_export_applies_with_no_transform_step() {
    let o = org().await;
    let dir = setup(&o, None, "");
    let (code, out) = run(&o, dir.path(), &["validate"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("1 row(s) left out by the row filter (where, exclude_where); 7 kept"),
        "{out}"
    );
    let (code, out) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        slack(&o),
        [
            "alice.smith@example.com Some(\"Alice\") Some(\"Smith\") Some(\"VP Engineering\") manager=joe.brown@example.com active=true",
            "bob.jones@example.com Some(\"Bob\") Some(\"Jones\") Some(\"Engineer\") manager=alice.smith@example.com active=true",
            "group dept-engineering: alice.smith@example.com bob.jones@example.com maria.garcia@example.com",
            "group dept-executive: joe.brown@example.com",
            "group dept-people: sara.novak@example.com",
            "group dept-research-development: wei.chen@example.com",
            "group loc-berlin: alice.smith@example.com joe.brown@example.com maria.garcia@example.com sara.novak@example.com",
            "group loc-london: wei.chen@example.com",
            "group loc-remote-us: bob.jones@example.com",
            "joe.brown@example.com Some(\"Joe\") Some(\"Brown\") Some(\"CEO\") manager= active=true",
            "maria.garcia@example.com Some(\"Maria\") Some(\"Garcia\") Some(\"Engineer\") manager=alice.smith@example.com active=true",
            "sara.novak@example.com Some(\"Sara\") Some(\"Novak\") Some(\"HR Partner\") manager=joe.brown@example.com active=true",
            "wei.chen@example.com Some(\"Wei\") Some(\"Chen\") Some(\"Scientist\") manager=joe.brown@example.com active=true",
        ],
        "Joe's legal name finds him; On Leave is active; the leaver Tom and the contractor \
         Kim get no account; groups come from Department and Location"
    );
    // Converged: the same export plans nothing.
    let (code, out) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

/// Appends `row` to the export in `dir`.
fn add_row(dir: &Path, row: &str) {
    let path = dir.join("bamboo.csv");
    let mut csv = std::fs::read_to_string(&path).unwrap();
    csv.push_str(row);
    csv.push('\n');
    std::fs::write(path, csv).unwrap();
}

/// `plan` and `apply` in `dir` exit 1 naming `expected`, and nothing is written.
fn stops(o: &Org, dir: &Path, expected: &str) {
    let before = o.emu.stats().writes;
    for args in [&["plan"][..], &["apply"], &["validate"]] {
        let (code, out) = run(o, dir, args);
        assert_eq!(code, 1, "{args:?}: {out}");
        assert!(
            out.contains(expected),
            "{args:?}: expected {expected:?} in:\n{out}"
        );
    }
    assert_eq!(o.emu.stats().writes, before, "nothing written");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ambiguous_manager_an_unmapped_status_and_a_filter_keeping_nobody_stop_with_zero_writes()
{
    let o = org().await;
    let dir = setup(&o, None, "");
    add_row(
        dir.path(),
        "1009,Joseph,Brown,,joseph.brown@example.com,,Active,Full-Time,Sales,Berlin,Sales",
    );
    stops(
        &o,
        dir.path(),
        "bamboo.csv:3:43: error: manager \"Brown, Joseph\" matches 2 people: \
         joe.brown@example.com at bamboo.csv:2, joseph.brown@example.com at bamboo.csv:10",
    );

    let dir = setup(&o, None, "");
    add_row(
        dir.path(),
        "1009,Ann,Ode,,ann.ode@example.com,\"Smith, Alice\",Retired,Full-Time,Sales,Berlin,Sales",
    );
    stops(
        &o,
        dir.path(),
        "bamboo.csv:10:50: error: active \"Retired\" is not a value its map lists \
         (true: Active, On Leave; false: Terminated)",
    );

    let filtered = sources_with(
        "csv: bamboo.csv",
        "    where: {Employment Status: [Intern]}\n",
    );
    let dir = setup(&o, Some(&filtered), "");
    stops(
        &o,
        dir.path(),
        "the row filter (where, exclude_where) leaves out all 8 row(s)",
    );
    assert_eq!(slack(&o), Vec::<String>::new());
}

/// The manager column read as emails (no `by:`): one error for the column, with how many
/// more and where, and the hint that it holds names.
#[tokio::test(flavor = "multi_thread")]
async fn many_managers_that_are_names_are_one_error_with_a_hint() {
    let o = org().await;
    let config = std::fs::read_to_string(fixtures().join("scimsync.yaml"))
        .unwrap()
        .replace("{header: Reporting To, by: name}", "Reporting To");
    let sources = &config[config.find("sources:").unwrap()..config.find("scope:").unwrap()];
    let dir = setup(&o, Some(sources), "");
    let (code, out) = run(&o, dir.path(), &["validate"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.matches("error:").count(), 1, "{out}");
    assert!(
        out.contains(
            "bamboo.csv:3:43: error: manager \"brown, joseph\" is not a user of the directory — \
             and 5 more like it in this column (at bamboo.csv:4:45, bamboo.csv:5:45, \
             bamboo.csv:6:37, …); column 'Reporting To' looks like it holds names: use \
             `manager: {header: Reporting To, by: name}`"
        ),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_export_from_a_command_gives_the_same_slack_as_the_file() {
    let file = org().await;
    let dir = setup(&file, None, "");
    let (code, out) = run(&file, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    let expected = slack(&file);

    for (kind, more) in [
        ("command: [cat, bamboo.csv]", ""),
        ("command: [cat, bamboo.json]", "    format: json\n"),
    ] {
        let o = org().await;
        let dir = setup(&o, Some(&sources_with(kind, more)), "");
        let (code, out) = run(&o, dir.path(), &["validate"]);
        assert_eq!(code, 0, "{kind}: {out}");
        let (code, out) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{kind}: {out}");
        assert_eq!(slack(&o), expected, "{kind}");
    }
}

/// A command gets `PATH` and the variables its `env` lists, never the rest of scimsync's
/// environment (the Slack token's variable above all).
#[tokio::test(flavor = "multi_thread")]
async fn a_command_sees_only_path_and_its_listed_variables() {
    let o = org().await;
    let script = "command: [sh, -c, 'test -z \"$SCIM_TOKEN$HOME$OTHER\" && test \"$HR_TOKEN\" = hr-s3cret && cat bamboo.csv']";
    let dir = setup(&o, Some(&sources_with(script, "    env: [HR_TOKEN]\n")), "");
    let out = harness::command()
        .args(["plan", "--config", "scimsync.yaml"])
        .current_dir(dir.path())
        .env("SCIM_TOKEN", o.emu.token())
        .env("HR_TOKEN", "hr-s3cret")
        .env("OTHER", "x")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("wei.chen@example.com"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_command_leaves_slack_untouched() {
    let o = org().await;
    let dir = setup(&o, None, "");
    let (code, out) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    let applied = slack(&o);
    let cases = [
        (
            "command: [sh, -c, 'cat bamboo.csv; printf \"boom xoxp-1234-5678-abcdef \\033[2J\" >&2; exit 3']",
            "",
            "command 'sh' failed: it exited with status 3; its standard error: boom xoxp-[redacted] \\u{1b}[2J; nothing it wrote is read",
        ),
        (
            "command: [sleep, '30']",
            "    timeout: 1s\n",
            "command 'sleep' failed: it did not finish within its timeout (1s)",
        ),
        (
            "command: [head, -c, '900', bamboo.json]",
            "    format: json\n",
            "not a JSON array of objects: EOF while parsing",
        ),
        (
            "command: [head, -c, '600', bamboo.csv]",
            "",
            "error: row has",
        ),
        (
            "command: [cat, bamboo.csv]",
            "    max_output_bytes: 100\n",
            "it wrote more than max_output_bytes (100 bytes)",
        ),
        (
            "command: [./no-such-program]",
            "",
            "command './no-such-program' failed: it could not be started",
        ),
    ];
    for (kind, more, expected) in cases {
        let sources = sources_with(kind, more);
        std::fs::write(
            dir.path().join("scimsync.yaml"),
            std::fs::read_to_string(dir.path().join("scimsync.yaml"))
                .unwrap()
                .split("sources:")
                .next()
                .unwrap()
                .to_string()
                + &sources
                + "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n",
        )
        .unwrap();
        let before = o.emu.stats().writes;
        let started = std::time::Instant::now();
        let (code, out) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 1, "{kind}: {out}");
        assert!(
            out.contains(expected),
            "{kind}: expected {expected:?} in:\n{out}"
        );
        assert!(!out.contains("xoxp-1234"), "{out}");
        assert_eq!(o.emu.stats().writes, before, "{kind}: nothing written");
        assert!(started.elapsed().as_secs() < 20, "{kind}: the timeout held");
    }
    assert_eq!(slack(&o), applied);
}

/// Under `SCIMSYNC_CONFINE` a `command:` source is refused before anything runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_confined_command_source_never_runs() {
    let o = org().await;
    let root = tempfile::tempdir().unwrap();
    let pr = root.path().join("pr");
    std::fs::create_dir(&pr).unwrap();
    std::fs::write(
        pr.join("scimsync.yaml"),
        "sources:\n  - command: [touch, ran]\n    columns: {email: Email}\nscope: {email_domains: [example.com]}\n",
    )
    .unwrap();
    for args in [&["validate"][..], &["plan"], &["apply"]] {
        let args = [args, &["--config", "scimsync.yaml"]].concat();
        let ran = harness::run_confined(&o, &pr, &pr, &args);
        let text = ran.text();
        assert_eq!(ran.code, 1, "{args:?}: {text}");
        assert!(
            text.contains("sources[0].command is refused under SCIMSYNC_CONFINE"),
            "{args:?}: {text}"
        );
    }
    assert!(!pr.join("ran").exists(), "the program never ran");
    let stats = o.emu.stats();
    assert_eq!((stats.reads, stats.writes), (0, 0), "no request was made");
}
