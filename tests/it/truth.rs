//! Outputs that say what is true (issue 23): the bounded pull-request comment keeps the changes
//! a reviewer must see, and messages name what happened and what it happened to — Slack
//! refusing the token is not "cannot reach Slack", a saved plan refused for a changed group
//! names the group.

use scimsync::emulator::{EmulatorConfig, StoredGroup, StoredUser};
use scimsync::scim::Version;

use crate::harness::{org_with, run_text, scimsync, store_of, write_config_with};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_bounded_comment_of_a_two_thousand_person_import_shows_every_deactivation() {
    // Seven people left (their accounts are not in the export) while 2,000 join.
    let leavers: Vec<StoredUser> = (0..7)
        .map(|i| StoredUser::new(&format!("leaver{i}"), &format!("leaver{i}@example.com")))
        .collect();
    let o = org_with(EmulatorConfig::default(), store_of(leavers)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut people = String::from("users:\n");
    for i in 0..2000 {
        people.push_str(&format!(
            "  - {{email: person{i:04}@example.com, title: Engineer, groups: [everyone]}}\n"
        ));
    }
    std::fs::write(dir.path().join("people.yaml"), people).unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: people.yaml\n",
        &format!("{SCOPE}unmanaged_users: deactivate\nsafety: {{max_deactivation_ratio: 1.0}}\n"),
    );
    let out = scimsync(
        dir.path(),
        o.emu.token(),
        &["plan", "--format", "markdown", "--max-bytes", "60000"],
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.len() <= 60_000, "{} bytes", md.len());
    assert!(md.contains("7 to deactivate"), "{md}");
    for i in 0..7 {
        assert!(
            md.contains(&format!("- deactivate     leaver{i}@example.com")),
            "leaver{i} is shown: {md}"
        );
    }
    assert!(md.contains("of 2,008 changes; not shown:"), "{md}");
    assert!(!md.contains("of them deactivations"), "{md}");
    // The deactivations come before any create.
    assert!(md.find("- deactivate") < md.find("+ create user"), "{md}");
    // The group of 2,000 wraps: no line of the comment's body runs past 100 columns.
    let full = scimsync(dir.path(), o.emu.token(), &["plan", "--format", "markdown"]);
    let full = String::from_utf8(full.stdout).unwrap();
    let longest = full
        .lines()
        .filter(|l| l.contains("person0"))
        .map(|l| l.chars().count())
        .max()
        .unwrap();
    assert!(longest <= 100, "a line of {longest} characters");
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn slack_refusing_the_token_is_said_so_and_no_answer_is_cannot_reach() {
    let o = org_with(
        EmulatorConfig::default(),
        store_of(vec![StoredUser::new("ada", "ada@example.com")]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@example.com}\n",
    )
    .unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: people.yaml\n",
        SCOPE,
    );
    let out = scimsync(dir.path(), "xoxp-not-the-token", &["plan"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Slack refused the token"), "{err}");
    assert!(err.contains("HTTP 401"), "{err}");
    assert!(!err.contains("cannot reach"), "Slack answered: {err}");
    assert!(
        !err.contains("xoxp-not-the-token"),
        "never the token: {err}"
    );
    // No answer at all: that is not reaching Slack.
    write_config_with(
        dir.path(),
        "http://127.0.0.1:9/scim/v2/",
        "  - yaml: people.yaml\n",
        SCOPE,
    );
    let (code, text) = run_text(&o, dir.path(), &["plan"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("cannot reach Slack"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_refused_for_a_changed_group_names_the_group() {
    let o = org_with(
        EmulatorConfig::default(),
        store_of(vec![
            StoredUser::new("ada", "ada@example.com"),
            StoredUser::new("bob", "bob@example.com"),
        ]),
    )
    .await;
    let (ada, group) = o.emu.with_store(|s| {
        let ada = s.user_by_email("ada@example.com").unwrap().id.clone();
        let id = s.new_group_id();
        s.insert_group(StoredGroup {
            id: id.clone(),
            display_name: "eng".into(),
            members: vec![ada.clone()],
            auto_generated: false,
            created: String::new(),
        });
        (ada, id)
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@example.com, groups: [eng]}\n  - {email: bob@example.com, groups: [eng]}\n",
    )
    .unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: people.yaml\n",
        SCOPE,
    );
    let (code, text) = run_text(
        &o,
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{text}");
    // Someone changes the group in Slack after the plan was reviewed.
    o.emu.with_store(|s| {
        let mut g = s.group(&group).unwrap().clone();
        g.members.retain(|m| *m != ada);
        s.insert_group(g);
    });
    let (code, text) = run_text(&o, dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("group \"eng\" ({group}) changed in Slack")),
        "the group is named: {text}"
    );
}

/// The alert rules file, parsed.
fn alert_rules() -> Vec<serde_json::Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/monitoring/scimsync-alerts.yaml");
    let rules: serde_json::Value =
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    rules["groups"][0]["rules"].as_array().unwrap().clone()
}

#[test]
fn what_a_pass_leaves_undone_has_an_alert_with_a_runbook() {
    let rules = alert_rules();
    for metric in [
        "scimsync_plan_skipped_rows",
        "scimsync_stuck_ops",
        "scimsync_drift_objects",
        "scimsync_pending_deactivations",
    ] {
        let rule = rules
            .iter()
            .find(|r| r["expr"].as_str().unwrap_or_default().contains(metric))
            .unwrap_or_else(|| panic!("no alert watches {metric}"));
        let runbook = rule["annotations"]["runbook"].as_str().unwrap_or_default();
        assert!(
            runbook.contains("`scimsync plan`"),
            "{}: the runbook says what to run: {runbook:?}",
            rule["alert"]
        );
    }
    // promtool's unit tests of the rules pass (CI requires promtool; elsewhere, when present).
    let promtool = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    let Some(promtool) = promtool else {
        assert!(
            std::env::var_os("SCIMSYNC_REQUIRE_PROMTOOL").is_none(),
            "promtool is required"
        );
        return;
    };
    let out = std::process::Command::new(promtool)
        .args(["test", "rules", "scimsync-alerts.test.yaml"])
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/monitoring"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
