//! Memory across passes, end to end against the emulator: the state store (first run, corrupt
//! state, the lock), `safety.deactivation_grace`, `safety.max_source_shrink`, drift told apart
//! from change (`enforce` reverts, `report` reports), and stuck ops with their backoff.

use std::path::Path;
use std::time::Duration;

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::model::Attribute;
use scimsync::scim::Version;
use serde_json::Value;

use crate::harness::{Org, org, org_with, run_text, yaml_setup};

fn people(emails: &[&str]) -> String {
    let mut y = String::from("users:\n");
    for e in emails {
        y.push_str(&format!("  - {{email: {e}, title: Engineer}}\n"));
    }
    y
}

fn setup(o: &Org, dir: &Path, emails: &[&str], extra: &str) {
    yaml_setup(
        dir,
        &o.emu.base_url(Version::V2),
        &people(emails),
        &format!("scope: {{email_domains: [acme.com]}}\n{extra}"),
    );
}

fn active(o: &Org, email: &str) -> bool {
    o.emu
        .with_store(|s| s.user_by_email(email).map(|u| u.active))
        .unwrap_or_else(|| panic!("{email} exists"))
}

fn writes(o: &Org) -> u64 {
    o.emu.stats().writes
}

fn plan_json(o: &Org, dir: &Path) -> Value {
    let (code, out) = run_text(o, dir, &["plan", "--format", "json"]);
    assert!(code == 0 || code == 2, "{out}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// The one state file in the default state folder (one per config and target).
fn state_file(dir: &Path) -> std::path::PathBuf {
    let folder = dir.join(".scimsync-state");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.retain(|p: &std::path::PathBuf| {
        let name = p.file_name().unwrap().to_string_lossy();
        name.starts_with("state-") && name.ends_with(".json")
    });
    assert!(files.len() <= 1, "one state file: {files:?}");
    files
        .pop()
        .unwrap_or_else(|| folder.join("state-none.json"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaver_is_pending_for_the_grace_period_then_deactivated() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 2s}\n";
    setup(&o, dir.path(), &["ada@acme.com", "bob@acme.com"], extra);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(state_file(dir.path()).is_file(), "the default state folder");

    setup(&o, dir.path(), &["ada@acme.com"], extra);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(active(&o, "bob@acme.com"), "inside the grace period: {out}");
    assert!(
        out.contains("bob@acme.com: pending deactivation, in "),
        "{out}"
    );
    assert!(out.contains("1 pending deactivation"), "{out}");
    let json = plan_json(&o, dir.path());
    assert_eq!(json["summary"]["pending_deactivations"], 1, "{json}");
    assert_eq!(json["summary"]["deactivate"], 0, "{json}");
    assert_eq!(json["pending"][0]["email"], "bob@acme.com");
    // `plan` never writes the state.
    let before = std::fs::read(state_file(dir.path())).unwrap();
    run_text(&o, dir.path(), &["plan"]);
    assert_eq!(std::fs::read(state_file(dir.path())).unwrap(), before);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !active(&o, "bob@acme.com"),
        "absent for the whole period: {out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejoiner_within_the_grace_period_is_left_alone_and_their_clock_restarts() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 2s}\n";
    let both = ["ada@acme.com", "bob@acme.com"];
    setup(&o, dir.path(), &both, extra);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    setup(&o, dir.path(), &["ada@acme.com"], extra);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    // Back within the period: nothing to do, and the pending entry is gone.
    setup(&o, dir.path(), &both, extra);
    let written = writes(&o);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(writes(&o), written, "{out}");
    assert!(!out.contains("pending"), "{out}");
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // Leaving again starts a new period: not deactivated at once.
    setup(&o, dir.path(), &["ada@acme.com"], extra);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(active(&o, "bob@acme.com"), "{out}");
    assert!(out.contains("pending deactivation"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_source_that_shrank_past_the_limit_trips_with_zero_writes() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let ten: Vec<String> = (0..10).map(|i| format!("p{i}@acme.com")).collect();
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    // `unmanaged_users: report`: the plan deactivates nobody, the source still shrank.
    let extra = "unmanaged_users: report\nsafety: {max_source_shrink: 0.2}\n";
    setup(&o, dir.path(), &ten, extra);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);

    // 10% fewer than the last good run is within the limit (the trip changed nothing).
    let mut eight: Vec<&str> = ten[..8].to_vec();
    eight.push("new@acme.com");
    setup(&o, dir.path(), &ten[..7], extra);
    let written = writes(&o);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(writes(&o), written, "nothing written: {out}");
    assert!(out.contains("max_source_shrink"), "{out}");
    assert!(
        out.contains("7 users, 10 at the last successful apply"),
        "{out}"
    );
    assert!(out.contains("--allow max-source-shrink"), "{out}");

    setup(&o, dir.path(), &eight, extra);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "20% is not over a 20% limit: {out}");
    assert!(active(&o, "new@acme.com"));

    setup(&o, dir.path(), &ten[..3], extra);
    let (code, out) = run_text(&o, dir.path(), &["apply", "--allow", "max-source-shrink"]);
    assert_eq!(code, 0, "{out}");
}

fn title(o: &Org, email: &str) -> Option<String> {
    o.emu.with_store(|s| {
        s.user_by_email(email)
            .and_then(|u| u.text(Attribute::Title).map(str::to_string))
    })
}

async fn hand_edit_title(o: &Org, email: &str, title: &str) {
    let id = o
        .emu
        .with_store(|s| s.user_by_email(email).map(|u| u.id.clone()))
        .unwrap();
    let r = o
        .patch(
            Version::V2,
            &format!("Users/{id}"),
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": title}]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edit_is_drift_reverted_under_enforce() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    setup(&o, dir.path(), &["ada@acme.com"], "");
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    hand_edit_title(&o, "ada@acme.com", "Chief").await;

    let json = plan_json(&o, dir.path());
    assert_eq!(json["summary"]["drift"], 1, "{json}");
    assert_eq!(json["drift"][0]["attribute"], "title");
    assert_eq!(json["drift"][0]["found"], "Chief");
    assert_eq!(json["drift"][0]["expected"], "Engineer");
    assert_eq!(json["drift"][0]["action"], "revert");
    let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 2, "a revert is a change: {out}");
    assert!(out.contains("title changed in Slack by hand"), "{out}");

    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Engineer"));

    // A change the directory makes is a change, not drift.
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@acme.com, title: Manager}\n",
    )
    .unwrap();
    let json = plan_json(&o, dir.path());
    assert_eq!(json["summary"]["drift"], 0, "{json}");
    assert_eq!(json["summary"]["update"], 1, "{json}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hand_edit_under_report_is_shown_and_never_reverted_until_the_directory_changes() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    setup(
        &o,
        dir.path(),
        &["ada@acme.com"],
        "attributes: {title: report}\n",
    );
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    hand_edit_title(&o, "ada@acme.com", "Chief").await;

    for _ in 0..2 {
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "reported drift is no change: {out}");
        assert!(out.contains("reported, not reverted"), "{out}");
        let json = plan_json(&o, dir.path());
        assert_eq!(json["drift"][0]["action"], "report", "{json}");
        let written = writes(&o);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(writes(&o), written, "{out}");
        assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Chief"));
    }

    // The directory speaks: its new value is applied.
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@acme.com, title: Manager}\n",
    )
    .unwrap();
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Manager"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_op_slack_keeps_refusing_becomes_stuck_and_is_retried_with_backoff() {
    // Slack's users share their namespace with channels: `general` is always taken.
    let o = org_with(EmulatorConfig::default(), Store::default_org('U', 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    let yaml = |name: &str| {
        format!(
            "users:\n  - {{email: ada@acme.com}}\n  - {{email: gen@acme.com, user_name: {name}}}\n"
        )
    };
    let extra = "scope: {email_domains: [acme.com]}\nstuck: {after: 2, backoff: 2s}\n";
    yaml_setup(dir.path(), &url, &yaml("general"), extra);
    for pass in 1..=2 {
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "pass {pass}: {out}");
    }
    // Stuck: listed, and not sent while it waits.
    let json = plan_json(&o, dir.path());
    assert_eq!(json["summary"]["stuck"], 1, "{json}");
    assert_eq!(json["stuck"][0]["subject"], "gen@acme.com");
    assert_eq!(json["stuck"][0]["passes"], 2);
    assert!(
        json["stuck"][0]["error"]
            .as_str()
            .unwrap()
            .contains("username_taken")
    );
    assert!(json["stuck"][0]["retry_at"].is_string(), "{json}");
    let written = writes(&o);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(
        code, 4,
        "held back, Slack is still short of the directory: {out}"
    );
    assert_eq!(writes(&o), written, "held back during its backoff: {out}");
    assert!(out.contains("stuck"), "{out}");

    // After the backoff it is tried again; it fails again and waits twice as long.
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 4, "{out}");
    assert!(writes(&o) > written, "retried: {out}");
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(state_file(dir.path())).unwrap()).unwrap();
    let failure = &state["failures"]["create_user:gen@acme.com"];
    assert_eq!(failure["passes"], 3, "{state}");
    let last = chrono::DateTime::parse_from_rfc3339(failure["last"].as_str().unwrap()).unwrap();
    let retry =
        chrono::DateTime::parse_from_rfc3339(failure["retry_at"].as_str().unwrap()).unwrap();
    assert_eq!((retry - last).num_seconds(), 4, "doubled: {state}");
    let written = writes(&o);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 4);
    assert_eq!(writes(&o), written, "waiting again");

    // The directory changes the op: no longer stuck, applied at once.
    yaml_setup(dir.path(), &url, &yaml("gen"), extra);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(active(&o, "gen@acme.com"));
    let state = std::fs::read_to_string(state_file(dir.path())).unwrap();
    assert!(!state.contains("gen@acme.com"), "forgotten: {state}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_or_corrupt_state_stops_the_pass_with_zero_writes() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h}\n";
    setup(&o, dir.path(), &["ada@acme.com", "bob@acme.com"], extra);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    setup(&o, dir.path(), &["ada@acme.com", "cy@acme.com"], extra);
    let good = std::fs::read_to_string(state_file(dir.path())).unwrap();
    for bad in [
        good[..good.len() / 2].to_string(),
        String::new(),
        "{\"format\": \"scimsync-state\", \"version\": 99}".to_string(),
        good.replace("\"leavers\"", "\"leaverz\""),
    ] {
        std::fs::write(state_file(dir.path()), &bad).unwrap();
        let written = writes(&o);
        for cmd in ["apply", "plan"] {
            let (code, out) = run_text(&o, dir.path(), &[cmd]);
            assert_eq!(code, 1, "{cmd} with {bad:?}: {out}");
            assert!(out.contains("state file"), "{out}");
            assert!(out.contains(".bad"), "says how to reset: {out}");
        }
        assert_eq!(writes(&o), written, "zero writes with {bad:?}");
        assert_eq!(
            std::fs::read_to_string(state_file(dir.path())).unwrap(),
            bad
        );
    }
    // The documented reset: move it away; the next apply is a first run.
    let file = state_file(dir.path());
    std::fs::rename(&file, file.with_extension("json.bad")).unwrap();
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        active(&o, "bob@acme.com"),
        "a first run: bob's grace starts now"
    );
}

/// A state file that is there but cannot be read as one (a symbolic link, a folder) stops the
/// pass with zero writes: it is never taken for a first run, which would restart every
/// leaver's grace.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_file_that_is_no_regular_file_stops_the_pass() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h}\n";
    setup(&o, dir.path(), &["ada@acme.com", "bob@acme.com"], extra);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    setup(&o, dir.path(), &["ada@acme.com", "cy@acme.com"], extra);
    let file = state_file(dir.path());
    let elsewhere = dir.path().join("elsewhere.json");
    std::fs::rename(&file, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &file).unwrap();
    let written = writes(&o);
    for cmd in ["apply", "plan"] {
        let (code, out) = run_text(&o, dir.path(), &[cmd]);
        assert_eq!(code, 1, "{cmd} through a symbolic link: {out}");
        assert!(out.contains("state file"), "{out}");
    }
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "a folder: {out}");
    assert_eq!(writes(&o), written, "zero writes");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_never_interleave_state_writes() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let emails: Vec<String> = (0..30).map(|i| format!("p{i}@acme.com")).collect();
    let emails: Vec<&str> = emails.iter().map(String::as_str).collect();
    setup(
        &o,
        dir.path(),
        &emails,
        "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h}\n",
    );
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    setup(
        &o,
        dir.path(),
        &emails[..20],
        "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h, max_deactivations: 100, \
         max_deactivation_ratio: 1}\n",
    );
    for _ in 0..4 {
        let children: Vec<_> = (0..2)
            .map(|_| {
                crate::harness::apply_command(dir.path(), o.emu.token())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let text = String::from_utf8_lossy(&out.stderr);
            let code = out.status.code();
            assert!(
                code == Some(0) || (code == Some(1) && text.contains("lock")),
                "{code:?} {text}"
            );
        }
        // Whole, parseable, holding every leaver; no temporary file left behind.
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(state_file(dir.path())).unwrap())
                .unwrap();
        assert_eq!(state["leavers"].as_object().unwrap().len(), 10, "{state}");
        let mut names: Vec<String> = std::fs::read_dir(dir.path().join(".scimsync-state"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(
            names[0].starts_with("state-") && names[1] == "state.key",
            "{names:?}"
        );
    }
    // While another process holds the pass lock, no state is read or written.
    let lock_path = scimsync::pass::ApplyLock::path_for(
        &scimsync::config::Config::load(
            &dir.path().join("scimsync.yaml"),
            &scimsync::config::EnvOverrides::default(),
        )
        .unwrap(),
    );
    let before = std::fs::read(state_file(dir.path())).unwrap();
    setup(
        &o,
        dir.path(),
        &emails[..15],
        "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h, max_deactivations: 100, \
         max_deactivation_ratio: 1}\n",
    );
    let held = std::fs::File::create(&lock_path).unwrap();
    held.lock().unwrap();
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("another scimsync is applying"), "{out}");
    assert_eq!(std::fs::read(state_file(dir.path())).unwrap(), before);
    drop(held);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(state_file(dir.path())).unwrap()).unwrap();
    assert_eq!(state["leavers"].as_object().unwrap().len(), 15, "{state}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_refuses_what_needs_the_state_when_there_is_none() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    setup(
        &o,
        dir.path(),
        &["ada@acme.com"],
        "state_dir: false\nsafety: {deactivation_grace: 24h, max_source_shrink: 0.1}\n\
         attributes: {title: report}\n",
    );
    let (code, out) = run_text(&o, dir.path(), &["validate"]);
    assert_eq!(code, 1, "{out}");
    for field in [
        "safety.deactivation_grace",
        "safety.max_source_shrink",
        "attributes.title: report",
    ] {
        assert!(
            out.contains(&format!("{field} needs the state")),
            "{field}: {out}"
        );
    }
    // Without those, stateless as before: nothing is written to any state folder.
    setup(&o, dir.path(), &["ada@acme.com"], "state_dir: false\n");
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(!dir.path().join(".scimsync-state").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_counts_pending_deactivations_drift_and_stuck_ops() {
    use crate::harness::{Daemon, series, wait_until};
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h}\n\
                 attributes: {title: report}\nstuck: {after: 1, backoff: 1h}\n";
    setup(&o, dir.path(), &["ada@acme.com", "bob@acme.com"], extra);
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    hand_edit_title(&o, "ada@acme.com", "Chief").await;
    // bob leaves; a newcomer's userName is a channel's, which Slack refuses every time.
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@acme.com, title: Engineer}\n  \
         - {email: gen@acme.com, user_name: general}\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(
        dir.path(),
        o.emu.token(),
        "1s",
        &[],
        std::process::Stdio::null(),
    );
    let metrics = async || daemon.metrics().await;
    wait_until("the state's gauges", Duration::from_secs(30), async || {
        let m = metrics().await;
        series(&m, "scimsync_pending_deactivations") == 1.0
            && series(&m, "scimsync_drift_objects{attribute=\"title\"}") == 1.0
            && series(&m, "scimsync_stuck_ops") == 1.0
    })
    .await;
    let m = metrics().await;
    assert_eq!(
        series(&m, "scimsync_drift_objects{attribute=\"department\"}"),
        0.0
    );
    assert!(!m.contains("@acme.com"), "no email in a label");
    assert!(active(&o, "bob@acme.com"));
    assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Chief"));
    daemon.child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unwritable_state_folder_stops_an_apply_before_any_write() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: it can never be created.
    std::fs::write(dir.path().join("blocked"), "").unwrap();
    setup(
        &o,
        dir.path(),
        &["ada@acme.com"],
        "state_dir: blocked/state\n",
    );
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cannot write the state file"), "{out}");
    assert_eq!(writes(&o), 0, "{out}");
    // `plan` does not write the state, so it runs.
    assert_eq!(run_text(&o, dir.path(), &["plan"]).0, 0);
}
