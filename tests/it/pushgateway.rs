//! `apply --metrics-push URL` against a real Prometheus Pushgateway (Debian's
//! `prometheus-pushgateway`, started by the test on a loopback port): the series it holds for
//! the job are the ones `--metrics-textfile` wrote, run after run; a push that fails is a
//! warning that leaves the apply's exit code alone and never shows a password.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::Duration;

use scimsync::scim::Version;

use crate::harness::{free_port, org, scimsync, wait_until, yaml_setup};

/// The Pushgateway binary when installed; CI (`SCIMSYNC_REQUIRE_PUSHGATEWAY=1`, set by .ci/run
/// after it installs it) fails rather than skipping.
fn pushgateway_binary() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("prometheus-pushgateway"))
            .find(|p| p.is_file())
    });
    if found.is_none() && std::env::var_os("SCIMSYNC_REQUIRE_PUSHGATEWAY").is_some() {
        panic!("SCIMSYNC_REQUIRE_PUSHGATEWAY is set and prometheus-pushgateway is not on PATH");
    }
    if found.is_none() {
        eprintln!("prometheus-pushgateway is not installed: the push test is skipped");
    }
    found
}

/// An HTTP client (rustls on ring, as scimsync's own).
fn http() -> reqwest::Client {
    scimsync::scim::http_client_builder().build().unwrap()
}

/// A Pushgateway on a loopback port, stopped when dropped.
struct Gateway {
    child: Child,
    base: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Gateway {
    async fn start(binary: &PathBuf) -> Gateway {
        let port = free_port();
        let child = std::process::Command::new(binary)
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-pushgateway");
        let gateway = Gateway {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let url = format!("{}/-/ready", gateway.base);
        wait_until(
            "the Pushgateway is ready",
            Duration::from_secs(20),
            async || {
                http()
                    .get(&url)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            },
        )
        .await;
        gateway
    }

    async fn metrics(&self) -> String {
        http()
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// `name{sorted labels}` → value of every sample of an exposition, keeping those whose labels
/// include `job="scimsync"` when `job` (and dropping the `job` and `instance` labels the
/// Pushgateway adds, and its own `push_*` series). Bucket bounds are compared as numbers.
fn series_of(exposition: &str, job: bool) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in exposition.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (key, value) = line.rsplit_once(' ').unwrap();
        let (name, labels) = match key.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (key, ""),
        };
        let mut pairs: Vec<(String, String)> = split_labels(labels);
        let pushed = pairs.iter().any(|(k, v)| k == "job" && v == "scimsync");
        if job != pushed || name.starts_with("push_") {
            continue;
        }
        pairs.retain(|(k, _)| k != "job" && k != "instance");
        for (k, v) in &mut pairs {
            if k == "le" {
                *v = v.parse::<f64>().map_or(v.clone(), |f| f.to_string());
            }
        }
        pairs.sort();
        let labels: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        out.insert(
            format!("{name}{{{}}}", labels.join(",")),
            value.parse().unwrap(),
        );
    }
    out
}

/// `a="x",b="y"` → pairs (no label value here holds a comma or an escaped quote).
fn split_labels(labels: &str) -> Vec<(String, String)> {
    labels
        .split(',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap();
            (k.to_string(), v.trim_matches('"').to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_pushes_the_textfiles_series_to_a_real_pushgateway() {
    let Some(binary) = pushgateway_binary() else {
        return;
    };
    let gateway = Gateway::start(&binary).await;
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    let people = "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n";
    yaml_setup(
        dir.path(),
        &url,
        people,
        "scope: {email_domains: [example.com]}\n",
    );
    // Twice: the second push carries the first run's counters, as the file does.
    for run in 1..=2 {
        let out = scimsync(
            dir.path(),
            o.emu.token(),
            &[
                "apply",
                "--metrics-textfile",
                "m.prom",
                "--metrics-push",
                &gateway.base,
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "run {run}: {stderr}");
        assert!(!stderr.contains("warning"), "run {run}: {stderr}");
        let file = std::fs::read_to_string(dir.path().join("m.prom")).unwrap();
        let written = series_of(&file, false);
        let pushed = series_of(&gateway.metrics().await, true);
        assert!(written.len() > 20, "{file}");
        assert_eq!(pushed, written, "run {run}: the pushed series differ");
        let passes = "scimsync_passes_total{outcome=\"success\"}";
        assert_eq!(pushed.get(passes), Some(&f64::from(run)), "{pushed:?}");
    }
    // The Pushgateway's own record of the push: what the stale alert reads.
    let all = gateway.metrics().await;
    assert!(
        all.lines().any(|l| l.starts_with("push_time_seconds{")
            && l.contains("job=\"scimsync\"")
            && !l.ends_with(" 0")),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_url_is_pushed_to_as_given() {
    let Some(binary) = pushgateway_binary() else {
        return;
    };
    let gateway = Gateway::start(&binary).await;
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    yaml_setup(
        dir.path(),
        &url,
        "users:\n  - {email: ada@example.com}\n",
        "scope: {email_domains: [example.com]}\n",
    );
    let group = format!("{}/metrics/job/scimsync/instance/prod", gateway.base);
    let out = scimsync(
        dir.path(),
        o.emu.token(),
        &["apply", "--metrics-push", &group],
    );
    assert_eq!(out.status.code(), Some(0));
    let all = gateway.metrics().await;
    assert!(
        all.contains(
            "scimsync_passes_total{instance=\"prod\",job=\"scimsync\",outcome=\"success\"} 1"
        ),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_push_warns_keeps_the_exit_code_and_hides_the_password() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    yaml_setup(
        dir.path(),
        &url,
        "users:\n  - {email: ada@example.com}\n",
        "scope: {email_domains: [example.com]}\n",
    );
    // Nothing listens there.
    let nowhere = format!("http://push:pa55word@127.0.0.1:{}", free_port());
    let out = scimsync(
        dir.path(),
        o.emu.token(),
        &[
            "apply",
            "--metrics-textfile",
            "m.prom",
            "--metrics-push",
            &nowhere,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "the apply succeeded: {stderr}");
    assert!(
        stderr.contains("warning: cannot push the metrics to the Pushgateway"),
        "{stderr}"
    );
    assert!(stderr.contains("/metrics/job/scimsync"), "{stderr}");
    assert!(!stderr.contains("pa55word"), "{stderr}");
    assert!(
        dir.path().join("m.prom").is_file(),
        "the file is still written"
    );

    // A URL that is not a Pushgateway's: refused before anything runs.
    let out = scimsync(
        dir.path(),
        o.emu.token(),
        &["apply", "--metrics-push", "ftp://push:pa55word@pg:21"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--metrics-push"), "{stderr}");
    assert!(!stderr.contains("pa55word"), "{stderr}");
}
