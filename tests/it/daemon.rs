//! `scimsync run` as the real binary against the emulator: a pass every interval, source
//! changes applied on the next pass, metrics that move, POST /reconcile, SIGTERM → exit 0,
//! SIGHUP → reload and reconcile now, and the way out of a guard.

use std::time::{Duration, Instant};

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::model::Attribute;
use scimsync::scim::Version;

use crate::harness::{Daemon, org_with, series, wait_until, write_config_with, yaml_setup};

/// After the two passes of the test below: three creates and one update applied, at least two
/// successful passes, a recent success, and no email in any label.
fn assert_metrics_after_two_passes(metrics: &str) {
    assert!(
        metrics.contains("scimsync_ops_total{kind=\"create_user\",result=\"applied\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("scimsync_ops_total{kind=\"update_user\",result=\"applied\"} 1"),
        "{metrics}"
    );
    let successes: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("scimsync_passes_total{outcome=\"success\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(successes >= 2.0, "{metrics}");
    let last: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("scimsync_last_success_timestamp_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(last > 1.6e9, "{metrics}");
    assert!(!metrics.contains("@example.com"), "no email in a label");
}

/// SIGTERM: the daemon exits 0 within its 5 s deadline, having logged JSON lines with a pass
/// id and never the token.
async fn stop_and_check_logs(mut child: tokio::process::Child, token: &str) {
    let t = Instant::now();
    let status = crate::harness::terminate(&mut child).await;
    assert!(status.success(), "{status:?}");
    assert!(
        t.elapsed() < Duration::from_secs(6),
        "exited within the deadline: {:?}",
        t.elapsed()
    );
    let mut logs = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .await
        .unwrap();
    let first = logs
        .lines()
        .find(|l| l.contains("\"pass_id\""))
        .expect("JSON logs with a pass id");
    let v: serde_json::Value = serde_json::from_str(first).unwrap();
    assert!(
        v["span"]["pass_id"].is_number() || v["spans"][0]["pass_id"].is_number(),
        "{first}"
    );
    assert!(!logs.contains(token), "the token is never logged");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_applies_changes_each_pass_exposes_metrics_and_stops_on_sigterm() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("people.yaml");
    std::fs::write(
        &source,
        "users:\n  - {email: ada@example.com, title: Engineer}\n  - {email: bob@example.com}\n",
    )
    .unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: people.yaml\n",
        "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n",
    );
    let daemon = Daemon::start(
        dir.path(),
        o.emu.token(),
        "1s",
        &["--shutdown-deadline", "5s"],
        std::process::Stdio::piped(),
    );
    let (child, port) = (daemon.child, daemon.port);
    let http = scimsync::scim::http_client_builder().build().unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");

    wait_until(
        "readiness",
        Duration::from_secs(30),
        async || matches!(http.get(url("/readyz")).send().await, Ok(r) if r.status() == 200),
    )
    .await;
    assert_eq!(
        http.get(url("/healthz")).send().await.unwrap().status(),
        200
    );
    wait_until(
        "the first pass to apply",
        Duration::from_secs(10),
        async || o.emu.with_store(|s| s.user_count()) == 2,
    )
    .await;

    // A change in the source shows up in Slack on a following pass.
    std::fs::write(
        &source,
        "users:\n  - {email: ada@example.com, title: Lead}\n  - {email: bob@example.com}\n  - {email: cy@example.com}\n",
    )
    .unwrap();
    wait_until(
        "the change to be applied",
        Duration::from_secs(10),
        async || {
            o.emu.with_store(|s| {
                s.user_count() == 3
                    && s.user_by_email("ada@example.com")
                        .unwrap()
                        .text(Attribute::Title)
                        == Some("Lead")
            })
        },
    )
    .await;

    // The pass is counted when it ends, a moment after its last write lands.
    let scrape = async || {
        http.get(url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    wait_until(
        "the pass to be counted",
        Duration::from_secs(10),
        async || {
            let m = scrape().await;
            series(
                &m,
                "scimsync_ops_total{kind=\"update_user\",result=\"applied\"}",
            ) >= 1.0
        },
    )
    .await;
    assert_metrics_after_two_passes(&scrape().await);

    // POST /reconcile starts a pass now.
    let before = o
        .emu
        .stats()
        .count("GET", scimsync::scim::limits::Endpoint::UsersList);
    let r = http.post(url("/reconcile")).send().await.unwrap();
    assert_eq!(r.status(), 202);
    wait_until("a requested pass", Duration::from_secs(5), async || {
        o.emu
            .stats()
            .count("GET", scimsync::scim::limits::Endpoint::UsersList)
            > before
    })
    .await;

    stop_and_check_logs(child, o.emu.token()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_daemon_and_an_apply_never_apply_at_once() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com}\n",
        "scope: {email_domains: [example.com]}\nlock_file: apply.lock\n",
    );
    // Someone holds the lock (another scimsync on this host).
    let lock = std::fs::File::create(dir.path().join("apply.lock")).unwrap();
    lock.lock().unwrap();
    let out = crate::harness::scimsync(dir.path(), o.emu.token(), &["apply"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("another scimsync is applying"), "{err}");
    assert_eq!(o.emu.stats().writes, 0);
    drop(lock);
    let out = crate::harness::scimsync(dir.path(), o.emu.token(), &["apply"]);
    assert_eq!(out.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_source_fails_passes_without_writing_and_the_daemon_recovers() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("people.csv");
    // A truncated export: the second row is cut short.
    std::fs::write(&source, "Email,Title\nada@example.com,Engineer\nbob@exam").unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V1),
        "  - csv: people.csv\n    columns: {email: Email, title: Title}\n",
        "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n",
    );
    let mut daemon = Daemon::start(
        dir.path(),
        o.emu.token(),
        "1s",
        &[],
        std::process::Stdio::null(),
    );
    let metrics = async || daemon.metrics().await;
    wait_until("a failed pass", Duration::from_secs(30), async || {
        series(&metrics().await, "scimsync_passes_total{outcome=\"error\"}") >= 1.0
    })
    .await;
    assert_eq!(
        o.emu.stats().writes,
        0,
        "a broken source never causes a write"
    );
    let ready = daemon.http.get(daemon.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "not ready: no pass has reached Slack");

    std::fs::write(
        &source,
        "Email,Title\nada@example.com,Engineer\nbob@example.com,Designer\n",
    )
    .unwrap();
    wait_until("recovery", Duration::from_secs(10), async || {
        o.emu.with_store(|s| s.user_count()) == 2
    })
    .await;
    wait_until(
        "a successful pass counted",
        Duration::from_secs(10),
        async || {
            series(
                &metrics().await,
                "scimsync_passes_total{outcome=\"success\"}",
            ) >= 1.0
        },
    )
    .await;
    daemon.child.kill().await.unwrap();
}

/// The source problems and guard trips of one pass, as `scimsync apply` prints them on stderr
/// and as the daemon logs them: the same texts, because both come from the pass's report.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_and_apply_report_the_same_findings_for_the_same_pass() {
    let dir = tempfile::tempdir().unwrap();
    // One row skipped as invalid (a warning), and a directory under min_directory_users (a
    // guard trip): nothing is written, and both front ends say why.
    std::fs::write(
        dir.path().join("people.csv"),
        "Email,Title\nada@example.com,Engineer\nbob@@example.com,Designer\n",
    )
    .unwrap();
    let setup = async || {
        let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
        write_config_with(
            dir.path(),
            &o.emu.base_url(Version::V2),
            "  - csv: people.csv\n    columns: {email: Email, title: Title}\n",
            "scope: {email_domains: [example.com]}\ninvalid_users: skip\n\
             safety: {min_directory_users: 10}\n",
        );
        o
    };

    let o = setup().await;
    let out = crate::harness::scimsync(dir.path(), o.emu.token(), &["apply"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(o.emu.stats().writes, 0);
    let from_apply: std::collections::BTreeSet<String> = err
        .lines()
        .filter(|l| l.starts_with("people.csv:") || l.contains("safety guard"))
        .map(|l| l.trim_start_matches("error: ").to_string())
        .collect();
    assert!(
        from_apply.iter().any(|l| l.starts_with("people.csv:3"))
            && from_apply
                .iter()
                .any(|l| l.contains("safety guard min_directory_users tripped")),
        "{err}"
    );

    let o = setup().await;
    let logs = Daemon::logs_of_first(dir.path(), o.emu.token(), "guard").await;
    let from_daemon: std::collections::BTreeSet<String> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["fields"]["topic"].is_string())
        .map(|v| v["fields"]["message"].as_str().unwrap().to_string())
        .collect();
    // The same findings; only the way out of a guard differs: `apply` takes --allow, the
    // daemon names the one-shot apply that does.
    let (guard_apply, rest_apply): (Vec<_>, Vec<_>) =
        from_apply.iter().partition(|l| l.contains("safety guard"));
    let (guard_daemon, rest_daemon): (Vec<_>, Vec<_>) =
        from_daemon.iter().partition(|l| l.contains("safety guard"));
    assert_eq!(rest_daemon, rest_apply, "daemon logs:\n{logs}");
    let [guard_apply] = guard_apply[..] else {
        panic!("{err}")
    };
    let [guard_daemon] = guard_daemon[..] else {
        panic!("{logs}")
    };
    let (what, how) = guard_apply.split_once(" — ").unwrap();
    assert_eq!(how, "override with --allow min-directory-users", "{err}");
    assert!(guard_daemon.starts_with(&format!("{what} — ")), "{logs}");
    assert!(
        guard_daemon.contains("scimsync apply") && !guard_daemon.contains("override with"),
        "{logs}"
    );
    assert_eq!(o.emu.stats().writes, 0);
}

/// The JSON log lines at `level` (`ERROR`, `WARN`, `INFO`).
fn log_lines(logs: &str, level: &str) -> Vec<serde_json::Value> {
    logs.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["level"] == level)
        .collect()
}

/// A daemon on `dir` with a pass an hour: only a signal (or POST /reconcile) starts another.
fn hourly_daemon(dir: &std::path::Path, token: &str) -> Daemon {
    Daemon::start(
        dir,
        token,
        "1h",
        &["--shutdown-deadline", "30s"],
        std::process::Stdio::piped(),
    )
}

const HOURLY: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

/// Waits for the daemon's `n`th successful pass.
async fn successful_passes(daemon: &Daemon, n: f64) {
    wait_until(
        &format!("{n} successful passes"),
        Duration::from_secs(30),
        async || {
            series(
                &daemon.metrics().await,
                "scimsync_passes_total{outcome=\"success\"}",
            ) >= n
        },
    )
    .await;
}

/// SIGHUP (`systemctl reload scimsync`): the config is read again and a pass starts at once
/// — with an interval of an hour, only the signal can have started it — and the daemon goes
/// on.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_the_config_and_reconciles_at_once() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    yaml_setup(
        dir.path(),
        &url,
        "users:\n  - {email: ada@example.com}\n",
        HOURLY,
    );
    let daemon = hourly_daemon(dir.path(), o.emu.token());
    successful_passes(&daemon, 1.0).await;
    assert_eq!(o.emu.with_store(|s| s.user_count()), 1);

    // A second source, in the config (not in a source the next pass would read anyway).
    std::fs::write(
        dir.path().join("more.yaml"),
        "users:\n  - {email: bob@example.com}\n",
    )
    .unwrap();
    write_config_with(
        dir.path(),
        &url,
        "  - yaml: people.yaml\n  - yaml: more.yaml\n",
        HOURLY,
    );
    daemon.signal("-HUP");
    wait_until(
        "bob, from the new source",
        Duration::from_secs(15),
        async || o.emu.with_store(|s| s.user_count()) == 2,
    )
    .await;
    successful_passes(&daemon, 2.0).await;
    let metrics = daemon.metrics().await;
    assert_eq!(
        series(
            &metrics,
            "scimsync_config_reloads_total{result=\"success\"}"
        ),
        2.0,
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            "scimsync_config_reloads_total{result=\"failure\"}"
        ),
        0.0
    );
    let (status, logs) = daemon.stop().await;
    assert!(
        status.success(),
        "SIGHUP did not end the daemon: {status:?}\n{logs}"
    );
    assert!(
        log_lines(&logs, "INFO")
            .iter()
            .any(|l| l["fields"]["message"].as_str().unwrap().contains("SIGHUP")),
        "{logs}"
    );
}

/// A config broken on disk when SIGHUP comes: its problems are logged as errors and counted,
/// the last good config stays in force, and the pass the signal asked for runs with it (here:
/// a new person in the source, which the old config reads).
#[tokio::test(flavor = "multi_thread")]
async fn a_broken_config_on_sighup_is_reported_and_the_old_one_kept() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    yaml_setup(
        dir.path(),
        &url,
        "users:\n  - {email: ada@example.com}\n",
        HOURLY,
    );
    let daemon = hourly_daemon(dir.path(), o.emu.token());
    successful_passes(&daemon, 1.0).await;

    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n",
    )
    .unwrap();
    write_config_with(
        dir.path(),
        &url,
        "  - yaml: people.yaml\n",
        &format!("{HOURLY}scope_typo: {{email_domains: [nowhere.example]}}\n"),
    );
    daemon.signal("-HUP");
    wait_until(
        "the pass, with the old config",
        Duration::from_secs(15),
        async || o.emu.with_store(|s| s.user_count()) == 2,
    )
    .await;
    successful_passes(&daemon, 2.0).await;
    let metrics = daemon.metrics().await;
    assert_eq!(
        series(
            &metrics,
            "scimsync_config_reloads_total{result=\"failure\"}"
        ),
        1.0,
        "{metrics}"
    );
    assert_eq!(
        series(&metrics, "scimsync_passes_total{outcome=\"error\"}"),
        0.0,
        "the pass ran, with the last good config: {metrics}"
    );
    let (status, logs) = daemon.stop().await;
    assert!(status.success(), "{status:?}\n{logs}");
    let errors = log_lines(&logs, "ERROR");
    assert!(
        errors.iter().any(|l| l.to_string().contains("scope_typo")),
        "the problem, at error level: {logs}"
    );
    assert!(
        errors.iter().any(|l| l["fields"]["message"]
            .as_str()
            .unwrap()
            .contains("keeping the last good config")),
        "{logs}"
    );
}

/// The same rule at every scheduled pass (each re-reads the config): a config broken between
/// passes is reported and counted every pass while the last good one keeps the sync going;
/// once fixed, the next pass takes the new one.
#[tokio::test(flavor = "multi_thread")]
async fn a_config_broken_between_passes_keeps_the_last_good_one_until_fixed() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    yaml_setup(
        dir.path(),
        &url,
        "users:\n  - {email: ada@example.com}\n",
        HOURLY,
    );
    let daemon = Daemon::start(
        dir.path(),
        o.emu.token(),
        "1s",
        &[],
        std::process::Stdio::piped(),
    );
    successful_passes(&daemon, 1.0).await;
    let good = std::fs::read_to_string(dir.path().join("scimsync.yaml")).unwrap();
    std::fs::write(dir.path().join("scimsync.yaml"), "target: [not, a, map\n").unwrap();
    let failures = async || {
        series(
            &daemon.metrics().await,
            "scimsync_config_reloads_total{result=\"failure\"}",
        )
    };
    wait_until(
        "two passes on a broken config",
        Duration::from_secs(15),
        async || failures().await >= 2.0,
    )
    .await;
    // The passes went on, with the last good config: new people still arrive.
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n",
    )
    .unwrap();
    wait_until(
        "bob, under the last good config",
        Duration::from_secs(15),
        async || o.emu.with_store(|s| s.user_count()) == 2,
    )
    .await;
    let metrics = daemon.metrics().await;
    assert_eq!(
        series(&metrics, "scimsync_passes_total{outcome=\"error\"}"),
        0.0,
        "{metrics}"
    );
    // Fixed, and changed: the next pass reads it and says so.
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        good.replace("time_scale: 100", "time_scale: 50"),
    )
    .unwrap();
    let fixed_at = failures().await;
    let successes = series(
        &daemon.metrics().await,
        "scimsync_config_reloads_total{result=\"success\"}",
    );
    wait_until("a good read again", Duration::from_secs(15), async || {
        series(
            &daemon.metrics().await,
            "scimsync_config_reloads_total{result=\"success\"}",
        ) > successes
    })
    .await;
    assert!(failures().await <= fixed_at + 1.0);
    let (status, logs) = daemon.stop().await;
    assert!(status.success(), "{status:?}");
    assert!(
        log_lines(&logs, "INFO")
            .iter()
            .any(|l| l["fields"]["message"]
                .as_str()
                .unwrap()
                .contains("the config changed")),
        "{logs}"
    );
}

/// SIGHUP during a long pass: the pass finishes (every change applied, none refused for a
/// shutdown), and the next one starts as soon as it ends.
#[tokio::test(flavor = "multi_thread")]
async fn a_sighup_during_a_pass_lets_it_finish_and_starts_the_next_at_once() {
    const PEOPLE: usize = 30;
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    o.emu.set_faults(scimsync::emulator::Faults {
        latency: Duration::from_millis(100),
        ..scimsync::emulator::Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut people = String::from("users:\n");
    for i in 0..PEOPLE {
        people.push_str(&format!("  - {{email: p{i:02}@example.com}}\n"));
    }
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        &people,
        "scope: {email_domains: [example.com]}\n\
         rate_limit: {time_scale: 100, concurrency: 2}\n",
    );
    let daemon = hourly_daemon(dir.path(), o.emu.token());
    wait_until(
        "the pass to be writing",
        Duration::from_secs(30),
        async || o.emu.stats().writes_applied >= 3,
    )
    .await;
    daemon.signal("-HUP");
    assert!(
        o.emu.with_store(|s| s.user_count()) < PEOPLE,
        "the signal came after the pass"
    );
    successful_passes(&daemon, 2.0).await;
    assert_eq!(o.emu.with_store(|s| s.user_count()), PEOPLE);
    let metrics = daemon.metrics().await;
    assert_eq!(
        series(
            &metrics,
            "scimsync_ops_total{kind=\"create_user\",result=\"applied\"}"
        ),
        PEOPLE as f64,
        "{metrics}"
    );
    assert_eq!(
        series(
            &metrics,
            "scimsync_ops_total{kind=\"create_user\",result=\"skipped\"}"
        ),
        0.0,
        "{metrics}"
    );
    let (status, logs) = daemon.stop().await;
    assert!(status.success(), "{status:?}\n{logs}");
}

/// A guard trip in the daemon names the way out: the one-shot `apply --allow` with the same
/// config — and that command, run as written beside the daemon, lets the changes through.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemons_guard_message_names_the_one_shot_apply_that_lets_it_through() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 5)).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n",
        &format!("{HOURLY}safety: {{min_directory_users: 10}}\n"),
    );
    let daemon = hourly_daemon(dir.path(), o.emu.token());
    wait_until("a guarded pass", Duration::from_secs(30), async || {
        series(
            &daemon.metrics().await,
            "scimsync_passes_total{outcome=\"guard\"}",
        ) >= 1.0
    })
    .await;
    // Its logs as they come, to run the command it names while it goes on.
    let mut child = daemon.child;
    let logs = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let reader = tokio::spawn({
        let (logs, stderr) = (logs.clone(), child.stderr.take().unwrap());
        async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.lock().unwrap().push_str(&format!("{line}\n"));
            }
        }
    });
    let guard_line = || {
        log_lines(&logs.lock().unwrap(), "ERROR")
            .into_iter()
            .map(|l| l["fields"]["message"].as_str().unwrap().to_string())
            .find(|m| m.contains("safety guard min_directory_users tripped"))
    };
    wait_until(
        "the guard's log line",
        Duration::from_secs(10),
        async || guard_line().is_some(),
    )
    .await;
    let guard = guard_line().unwrap();
    let command = guard
        .split_once("run: ")
        .unwrap_or_else(|| panic!("{guard}"))
        .1;
    let config = dir.path().join("scimsync.yaml");
    assert_eq!(
        command,
        format!(
            "scimsync apply --config {} --allow min-directory-users",
            std::path::absolute(&config).unwrap().display()
        ),
        "{guard}"
    );
    // Run as written (from elsewhere: the config path is absolute).
    let words: Vec<&str> = command.split(' ').collect();
    let elsewhere = tempfile::tempdir().unwrap();
    let out = crate::harness::command()
        .args(&words[1..])
        .current_dir(elsewhere.path())
        .env("SCIM_TOKEN", o.emu.token())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(o.emu.with_store(|s| s.user_count()), 2);
    crate::harness::signal(child.id().unwrap(), "-TERM");
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{status:?}");
    reader.await.unwrap();
}

/// `systemctl reload scimsync` is the daemon's SIGHUP (`deploy/systemd/check` verifies the
/// unit; this says what it must hold).
#[test]
fn the_systemd_unit_reloads_with_sighup() {
    let unit = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/systemd/scimsync.service"),
    )
    .unwrap();
    assert!(
        unit.lines()
            .any(|l| l == "ExecReload=/bin/kill -HUP $MAINPID"),
        "{unit}"
    );
}
