//! The process contract: each exit code in README's table, from the real binary against the
//! emulator. Scripts and CI read these codes, so each has a test; and each row of the table
//! is told alike by `plan --detailed-exitcode`, `apply` and a daemon pass (`scimsync run`'s
//! `outcome` label): a truncated export tripping each guard, a skipped row after convergence,
//! a held stuck op, conflicts.

use std::path::Path;
use std::time::Duration;

use scimsync::emulator::{EmulatorConfig, Faults, Store, StoredUser};
use scimsync::metrics::PASS_OUTCOMES;
use scimsync::scim::Version;

use crate::harness::{
    Daemon, Org, org, org_with, run_text, series, store_of, wait_until, write_config_with,
    yaml_setup,
};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

/// A directory of `people` (YAML users) against an emulator seeded with `live` accounts.
async fn setup(
    people: &str,
    live: &[(&str, &str)],
    extra: &str,
) -> (crate::harness::Org, tempfile::TempDir) {
    let users = live.iter().map(|(n, e)| StoredUser::new(n, e)).collect();
    let store = store_of(users);
    let o = org_with(EmulatorConfig::default(), store).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.yaml"), format!("users:\n{people}")).unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: people.yaml\n",
        &if extra.contains("scope:") {
            format!("rate_limit: {{time_scale: 100}}\n{extra}")
        } else {
            format!("{SCOPE}{extra}")
        },
    );
    (o, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn zero_in_sync_two_changes_pending_and_one_for_an_error() {
    let (o, dir) = setup(
        "  - {email: ada@example.com}\n",
        &[("ada", "ada@example.com")],
        "",
    )
    .await;
    assert_eq!(
        run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]).0,
        0
    );
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n",
    )
    .unwrap();
    assert_eq!(
        run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]).0,
        2
    );
    assert_eq!(
        run_text(&o, dir.path(), &["plan"]).0,
        0,
        "without the flag a plan is a report"
    );
    std::fs::write(dir.path().join("people.yaml"), "users:\n  - {emial: x}\n").unwrap();
    let (c, text) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(c, 1, "{text}");
    assert!(text.contains("people.yaml:2"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_have_their_own_code_and_are_never_in_sync() {
    // fay's email is held by an active account outside scope: a conflict, and nothing else
    // to do, so a plan that ignored conflicts would say "in sync".
    let (o, dir) = setup(
        "  - {email: ada@example.com}\n  - {email: fay@example.com, user_name: fay}\n",
        &[("ada", "ada@example.com"), ("fay", "fay@example.com")],
        "scope: {email_domains: [example.com], exclude: [fay@example.com]}\n",
    )
    .await;
    let (c, text) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(c, 5, "{text}");
    assert!(text.contains("1 conflict"), "{text}");
    let (c, text) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(c, 4, "apply with a conflict is partial: {text}");
    assert_eq!(o.emu.stats().writes, 0);
    let pass = daemon_pass(&o, dir.path()).await;
    assert_eq!(pass.outcome, "partial", "{}", pass.logs);
    assert_eq!(series(&pass.metrics, "scimsync_plan_conflicts"), 1.0);
    assert_eq!(o.emu.stats().writes, 0);
}

/// What the daemon's first pass told: its `outcome` label, its /metrics, its log lines.
struct DaemonPass {
    outcome: &'static str,
    metrics: String,
    logs: String,
}

/// One daemon pass with the config in `dir`: `scimsync run` (the real binary, an hour's
/// interval) until its first pass is counted, then stopped.
async fn daemon_pass(o: &Org, dir: &Path) -> DaemonPass {
    let mut daemon = Daemon::start(dir, o.emu.token(), "1h", &[], std::process::Stdio::piped());
    let mut seen: Option<(&'static str, String)> = None;
    wait_until(
        "the daemon's first pass",
        Duration::from_secs(30),
        async || {
            let m = daemon.metrics().await;
            seen = PASS_OUTCOMES
                .iter()
                .find(|oc| series(&m, &format!("scimsync_passes_total{{outcome=\"{oc}\"}}")) >= 1.0)
                .map(|oc| (*oc, m));
            seen.is_some()
        },
    )
    .await;
    // The pass's last log line comes after it is counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let _ = daemon.child.kill().await;
    let mut logs = String::new();
    use tokio::io::AsyncReadExt;
    let mut stderr = daemon.child.stderr.take().unwrap();
    let _ = stderr.read_to_string(&mut logs).await;
    let (outcome, metrics) = seen.unwrap();
    DaemonPass {
        outcome,
        metrics,
        logs,
    }
}

/// `plan --detailed-exitcode`'s code and output.
fn detailed(o: &Org, dir: &Path) -> (i32, String) {
    run_text(o, dir, &["plan", "--detailed-exitcode"])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_export_tripping_the_deactivation_guards_is_three_everywhere() {
    // Thirty people in Slack; the export was cut after the first row. A conflict besides: a
    // guard outranks it (nothing would be written at all).
    let emails: Vec<String> = (0..30).map(|i| format!("u{i:02}@example.com")).collect();
    let mut live: Vec<(&str, &str)> = emails
        .iter()
        .map(|e| (e.split('@').next().unwrap(), e.as_str()))
        .collect();
    live.push(("fay", "fay@example.com"));
    let (o, dir) = setup(
        "  - {email: u00@example.com}\n  - {email: fay@example.com, user_name: fay}\n",
        &live,
        "scope: {email_domains: [example.com], exclude: [fay@example.com]}\n\
         unmanaged_users: deactivate\n",
    )
    .await;
    let (c, text) = detailed(&o, dir.path());
    assert_eq!(c, 3, "apply would trip the guard: {text}");
    assert!(text.contains("guard tripped  max_deactivations"), "{text}");
    assert!(!text.contains("Estimated apply time"), "{text}");
    let (c, text) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(c, 3, "{text}");
    let pass = daemon_pass(&o, dir.path()).await;
    assert_eq!(pass.outcome, "guard", "{}", pass.logs);
    assert_eq!(
        series(
            &pass.metrics,
            "scimsync_guard_trips_total{guard=\"max_deactivations\"}"
        ),
        1.0
    );
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_export_tripping_the_shrink_guard_is_three_everywhere() {
    let people = |n: usize| -> String {
        (0..n)
            .map(|i| format!("  - {{email: p{i:02}@example.com}}\n"))
            .collect()
    };
    let (o, dir) = setup(
        &people(10),
        &[],
        "unmanaged_users: ignore\nsafety: {max_source_shrink: 0.2}\n",
    )
    .await;
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 0);
    // Half the export is gone: nothing to write (leavers are ignored), but the source shrank.
    std::fs::write(
        dir.path().join("people.yaml"),
        format!("users:\n{}", people(5)),
    )
    .unwrap();
    let written = o.emu.stats().writes;
    let (c, text) = detailed(&o, dir.path());
    assert_eq!(c, 3, "apply would trip the shrink guard: {text}");
    assert!(text.contains("max_source_shrink"), "{text}");
    let (c, text) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(c, 3, "{text}");
    let pass = daemon_pass(&o, dir.path()).await;
    assert_eq!(pass.outcome, "guard", "{}", pass.logs);
    assert_eq!(
        series(
            &pass.metrics,
            "scimsync_guard_trips_total{guard=\"max_source_shrink\"}"
        ),
        1.0
    );
    assert_eq!(o.emu.stats().writes, written);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_row_after_convergence_is_five_and_partial_everywhere_and_listed() {
    // A new hire's email lost its dot: skipped as invalid.
    let (o, dir) = setup(
        "  - {email: ada@example.com}\n  - {email: new.hire@examplecom}\n",
        &[],
        "invalid_users: skip\n",
    )
    .await;
    let (c, text) = detailed(&o, dir.path());
    assert_eq!(c, 5, "a skipped row outranks pending changes: {text}");
    assert_eq!(run_text(&o, dir.path(), &["apply"]).0, 4);
    // Converged: only the skipped row is left.
    let written = o.emu.stats().writes;
    let (c, text) = detailed(&o, dir.path());
    assert_eq!(c, 5, "{text}");
    let row = "! skipped row    new.hire@examplecom: \"new.hire@examplecom\" is not a valid email \
               address; not synced until the row is fixed  people.yaml:3";
    assert!(text.contains(row), "{text}");
    assert!(!text.contains("No changes"), "{text}");
    let (_, md) = run_text(&o, dir.path(), &["plan", "--format", "markdown"]);
    assert!(md.contains(row), "{md}");
    let out = crate::harness::scimsync(dir.path(), o.emu.token(), &["plan", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["skipped"][0]["source"], "people.yaml:3", "{json}");
    assert_eq!(json["skipped"][0]["category"], "email", "{json}");
    let (c, text) = run_text(&o, dir.path(), &["apply", "--metrics-textfile", "m.prom"]);
    assert_eq!(c, 4, "{text}");
    let cron = std::fs::read_to_string(dir.path().join("m.prom")).unwrap();
    assert_eq!(
        series(&cron, "scimsync_passes_total{outcome=\"partial\"}"),
        1.0
    );
    let gauge = "scimsync_plan_skipped_rows{source=\"people.yaml\",cause=\"email\"}";
    assert_eq!(series(&cron, gauge), 1.0, "{cron}");
    let pass = daemon_pass(&o, dir.path()).await;
    assert_eq!(pass.outcome, "partial", "{}", pass.logs);
    assert_eq!(series(&pass.metrics, gauge), 1.0, "{}", pass.metrics);
    assert!(!pass.metrics.contains("examplecom"), "no email in a label");
    assert_eq!(o.emu.stats().writes, written);
    // The daemon's wait is logged rounded, never `3599.87654321s`.
    let finished = pass
        .logs
        .lines()
        .find(|l| l.contains("pass finished"))
        .unwrap_or_else(|| panic!("{}", pass.logs));
    let line: serde_json::Value = serde_json::from_str(finished).unwrap();
    let next_in = line["fields"]["next_in"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        !next_in.is_empty() && !next_in.contains('.'),
        "next_in={next_in}: {finished}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_stuck_op_is_five_and_partial_everywhere_and_listed() {
    // Slack's users share their namespace with channels: `general` is always taken.
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@acme.com}\n  - {email: gen@acme.com, user_name: general}\n",
        "scope: {email_domains: [acme.com]}\nstuck: {after: 2, backoff: 1h}\n",
    );
    for pass in 1..=2 {
        let (c, text) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(c, 4, "pass {pass}: {text}");
    }
    // Held back for an hour: nothing is sent, and nothing says "in sync".
    let written = o.emu.stats().writes;
    let (c, text) = detailed(&o, dir.path());
    assert_eq!(c, 5, "{text}");
    assert!(
        text.contains("! stuck           create_user gen@acme.com"),
        "{text}"
    );
    assert!(text.contains("next try"), "{text}");
    let (_, md) = run_text(&o, dir.path(), &["plan", "--format", "markdown"]);
    assert!(
        md.contains("create_user gen@acme.com: failed 2 passes"),
        "{md}"
    );
    let (c, text) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(
        c, 4,
        "a held op leaves Slack short of the directory: {text}"
    );
    let pass = daemon_pass(&o, dir.path()).await;
    assert_eq!(pass.outcome, "partial", "{}", pass.logs);
    assert_eq!(series(&pass.metrics, "scimsync_stuck_ops"), 1.0);
    assert!(
        pass.logs
            .contains("Slack cannot be made equal to the directory: 1 stuck op held back"),
        "the daemon says why the pass is partial: {}",
        pass.logs
    );
    assert_eq!(o.emu.stats().writes, written, "held back everywhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn three_when_a_guard_trips_and_nothing_is_written() {
    let live: Vec<(String, String)> = (0..6)
        .map(|i| (format!("u{i}"), format!("u{i}@example.com")))
        .collect();
    let live: Vec<(&str, &str)> = live.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let (o, dir) = setup(
        "  - {email: u0@example.com}\n",
        &live,
        "unmanaged_users: deactivate\nsafety: {max_deactivations: 2}\n",
    )
    .await;
    let (c, text) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(c, 3, "{text}");
    assert!(
        text.contains("safety guard max_deactivations tripped"),
        "{text}"
    );
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sixty_four_for_a_usage_error_never_two() {
    let (o, dir) = setup("  - {email: ada@example.com}\n", &[], "").await;
    let (c, text) = run_text(&o, dir.path(), &["plan", "--detailed-exitcod"]);
    assert_eq!(c, 64, "{text}");
    assert!(text.contains("--detailed-exitcod"), "{text}");
    let (c, _) = run_text(&o, dir.path(), &["apply", "--allow", "everything"]);
    assert_eq!(c, 64);
    assert_eq!(o.emu.stats().writes, 0);
    let out = crate::harness::command().arg("--version").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "--version is an answer, not an error"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_hundred_thirty_when_a_second_signal_aborts_the_daemon() {
    // Slow answers keep the first pass in flight while both signals arrive.
    let config = EmulatorConfig {
        faults: Faults {
            latency: Duration::from_millis(1500),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    let o = org_with(config, Store::new('W', 3)).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com}\n",
        SCOPE,
    );
    let mut daemon = Daemon::start(
        dir.path(),
        o.emu.token(),
        "1h",
        &["--shutdown-deadline", "60s"],
        std::process::Stdio::null(),
    );
    // Wait until the pass has reached Slack (its first request is being answered slowly).
    let t = std::time::Instant::now();
    while o.emu.stats().reads == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the pass never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..2 {
        daemon.signal("-TERM");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(10), daemon.child.wait())
        .await
        .expect("aborted at once")
        .unwrap();
    assert_eq!(status.code(), Some(130));
}
