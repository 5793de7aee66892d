//! Monitoring that cannot drift from the code: every metric the alert rules and the Grafana
//! dashboard (deploy/monitoring/) name exists in the daemon's /metrics; `apply
//! --metrics-textfile` writes the same metrics after a success, a failure and a guard trip,
//! carrying counters from run to run, in a format promtool accepts.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use scimsync::scim::Version;

use crate::harness::{Daemon, org, scimsync, wait_until, yaml_setup};

/// The repository's root.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Sample names of a Prometheus exposition (`scimsync_x_bucket`, `scimsync_y_total`, …).
fn sample_names(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect()
}

/// Every `scimsync_…` metric name a text mentions.
fn metric_names_in(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("scimsync_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The value of one series (`name{labels}`) in an exposition.
fn value(exposition: &str, series: &str) -> Option<f64> {
    exposition
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{series} ")))
        .map(|v| v.trim().parse().unwrap())
}

/// promtool, when installed; CI (`SCIMSYNC_REQUIRE_PROMTOOL=1`, set by .ci/run after it
/// installs it) fails rather than skipping.
fn promtool() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("promtool"))
            .find(|p| p.is_file())
    });
    if found.is_none() && std::env::var_os("SCIMSYNC_REQUIRE_PROMTOOL").is_some() {
        panic!("SCIMSYNC_REQUIRE_PROMTOOL is set and promtool is not on PATH");
    }
    found
}

/// `/metrics` of a daemon that has finished one successful pass.
async fn daemon_metrics() -> String {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com}\n",
        "scope: {email_domains: [example.com]}\n",
    );
    let mut daemon = Daemon::start(
        dir.path(),
        o.emu.token(),
        "1h",
        &[],
        std::process::Stdio::null(),
    );
    wait_until("a successful pass", Duration::from_secs(30), async || {
        value(
            &daemon.metrics().await,
            "scimsync_passes_total{outcome=\"success\"}",
        ) == Some(1.0)
    })
    .await;
    let text = daemon.metrics().await;
    let _ = daemon.child.kill().await;
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn every_metric_the_alerts_and_the_dashboard_use_is_exported() {
    let metrics = daemon_metrics().await;
    let exported = sample_names(&metrics);
    let monitoring = root().join("deploy/monitoring");
    for file in ["scimsync-alerts.yaml", "grafana-dashboard.json"] {
        let text = std::fs::read_to_string(monitoring.join(file)).unwrap();
        let used = metric_names_in(&text);
        assert!(used.len() >= 8, "{file} uses {used:?}");
        let missing: Vec<_> = used.difference(&exported).collect();
        assert!(
            missing.is_empty(),
            "{file} uses metrics /metrics does not export: {missing:?}"
        );
    }
    // Build info, the request metrics and the configured interval, from the first pass.
    let build = scimsync::model::build::COMMIT;
    assert!(
        metrics.contains(&format!("commit=\"{build}\"")),
        "{metrics}"
    );
    assert!(
        value(
            &metrics,
            "scimsync_slack_requests_total{endpoint=\"user_create\",status=\"201\"}"
        ) == Some(1.0),
        "{metrics}"
    );
    assert!(
        value(
            &metrics,
            "scimsync_slack_requests_total{endpoint=\"users_list\",status=\"429\"}"
        ) == Some(0.0),
        "a status alerts watch exists at zero: {metrics}"
    );
    assert!(
        metrics.contains("scimsync_slack_request_duration_seconds_count{endpoint=\"users_list\"}"),
        "{metrics}"
    );
    assert_eq!(value(&metrics, "scimsync_interval_seconds"), Some(3600.0));
    assert!(value(&metrics, "scimsync_start_time_seconds").unwrap() > 1.6e9);
    assert!(
        metrics.contains("scimsync_pass_duration_seconds_bucket{le=\"3600.0\"}"),
        "an hour-long pass has its bucket: {metrics}"
    );
}

/// Every PromQL expression of the dashboard parses (as a recording rule, through promtool).
#[test]
fn the_dashboard_queries_parse() {
    let Some(promtool) = promtool() else {
        eprintln!("promtool not installed: skipped");
        return;
    };
    let text =
        std::fs::read_to_string(root().join("deploy/monitoring/grafana-dashboard.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    let mut n = 0;
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "5m")
                .replace("$instance", ".*");
            rules.push_str(&format!(
                "      - record: dashboard:q{n}\n        expr: {}\n",
                serde_json::to_string(&expr).unwrap()
            ));
            n += 1;
        }
    }
    assert!(n >= 10);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dashboard-rules.yaml");
    std::fs::write(&file, rules).unwrap();
    let out = std::process::Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `apply --metrics-textfile m.prom` in `dir`: the exit code and the file afterwards.
fn apply_with_textfile(dir: &Path, token: &str) -> (i32, String) {
    let out = scimsync(dir, token, &["apply", "--metrics-textfile", "m.prom"]);
    let text = std::fs::read_to_string(dir.join("m.prom")).unwrap_or_default();
    (out.status.code().unwrap(), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_writes_the_textfile_after_success_failure_and_guard_trip() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    let people = "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n";
    let scope = "scope: {email_domains: [example.com]}\n";
    yaml_setup(dir.path(), &url, people, scope);
    let (code, first) = apply_with_textfile(dir.path(), o.emu.token());
    assert_eq!(code, 0, "{first}");
    let success = "scimsync_passes_total{outcome=\"success\"}";
    assert_eq!(value(&first, success), Some(1.0), "{first}");
    assert_eq!(
        value(
            &first,
            "scimsync_ops_total{kind=\"create_user\",result=\"applied\"}"
        ),
        Some(2.0)
    );
    let last_success = value(&first, "scimsync_last_success_timestamp_seconds").unwrap();
    assert!(last_success > 1.6e9);
    assert!(
        first.contains("# TYPE scimsync_passes_total counter"),
        "{first}"
    );
    assert!(!first.contains("# EOF"), "the text format, not OpenMetrics");

    // Slack unreachable: an error, counted beside the earlier success; the last success kept.
    yaml_setup(dir.path(), "http://127.0.0.1:9/scim/v2/", people, scope);
    let (code, second) = apply_with_textfile(dir.path(), o.emu.token());
    assert_eq!(code, 1);
    assert_eq!(value(&second, success), Some(1.0), "{second}");
    assert_eq!(
        value(&second, "scimsync_passes_total{outcome=\"error\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(&second, "scimsync_last_success_timestamp_seconds"),
        Some(last_success)
    );
    let refused =
        "scimsync_slack_requests_total{endpoint=\"users_list\",status=\"transport_error\"}";
    assert!(value(&second, refused).unwrap() >= 1.0, "{second}");
    // The creates of the first run are still counted (counters carry over).
    let created = "scimsync_slack_requests_total{endpoint=\"user_create\",status=\"201\"}";
    assert_eq!(value(&second, created), Some(2.0), "{second}");

    // A guard trips: counted by guard; nothing written.
    yaml_setup(
        dir.path(),
        &url,
        people,
        &format!("{scope}safety: {{min_directory_users: 5}}\n"),
    );
    let (code, third) = apply_with_textfile(dir.path(), o.emu.token());
    assert_eq!(code, 3);
    assert_eq!(
        value(&third, "scimsync_passes_total{outcome=\"guard\"}"),
        Some(1.0)
    );
    assert_eq!(
        value(
            &third,
            "scimsync_guard_trips_total{guard=\"min_directory_users\"}"
        ),
        Some(1.0),
        "{third}"
    );
    assert_eq!(
        value(&third, "scimsync_passes_total{outcome=\"error\"}"),
        Some(1.0)
    );

    if let Some(promtool) = promtool() {
        let out = std::process::Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::fs::File::open(dir.path().join("m.prom")).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn metrics_textfile_and_dry_run_do_not_mix() {
    let dir = tempfile::tempdir().unwrap();
    let out = scimsync(
        dir.path(),
        "xoxp-unused",
        &["apply", "--dry-run", "--metrics-textfile", "m.prom"],
    );
    assert_eq!(out.status.code(), Some(64));
}

/// Every attempt is counted, retries included, by endpoint class and status, and timed.
#[tokio::test]
async fn each_attempt_is_counted_by_endpoint_and_status() {
    use scimsync::emulator::{EmulatorConfig, Faults, Store};
    let o = crate::harness::org_with(
        EmulatorConfig {
            faults: Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
    )
    .await;
    let client = scimsync::scim::ScimClient::new(
        &o.emu.base_url(Version::V2),
        None,
        scimsync::scim::Token::new(o.emu.token()).unwrap(),
        Duration::from_secs(5),
    )
    .unwrap();
    let mut caller = scimsync::scim::caller::Caller::new(std::sync::Arc::new(client), 1.0, 1.0);
    caller.policy.max_attempts = 3;
    caller.policy.base = Duration::from_millis(1);
    let metrics = scimsync::metrics::Metrics::new();
    caller.observer = Some(metrics.slack_observer());
    assert!(caller.list_users().await.is_err());
    let text = metrics.encode();
    let failed: f64 = ["500", "503"]
        .iter()
        .filter_map(|s| {
            value(
                &text,
                &format!("scimsync_slack_requests_total{{endpoint=\"users_list\",status=\"{s}\"}}"),
            )
        })
        .sum();
    assert_eq!(failed, 3.0, "three attempts: {text}");
    assert_eq!(
        value(
            &text,
            "scimsync_slack_request_duration_seconds_count{endpoint=\"users_list\"}"
        ),
        Some(3.0)
    );
}
