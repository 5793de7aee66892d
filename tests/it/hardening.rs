//! `validate` refuses what `apply` or `run` would refuse, so CI catches it; flags are range
//! checked; a daemon interval can never overflow.

fn scimsync(dir: &std::path::Path, args: &[&str]) -> (i32, String) {
    let ran = crate::harness::run(dir, args, &[]);
    (ran.code, ran.text())
}

fn config(dir: &std::path::Path, target: &str, extra: &str) {
    std::fs::write(
        dir.join("people.yaml"),
        "users:\n  - {email: a@example.com}\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("scimsync.yaml"),
        format!("target: {target}\nsources:\n  - yaml: people.yaml\n{extra}"),
    )
    .unwrap();
}

const SLACK: &str = "{url: \"https://api.slack.com/scim/v2/\", token_env: SLACK_TOKEN}";

#[test]
fn validate_refuses_what_run_and_apply_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            SLACK,
            "daemon: {interval: 5124095576030431h}\n",
            "daemon.interval is 5124095576030431h, must be between 1s and 168h",
        ),
        (SLACK, "daemon: {interval: 0s}\n", "daemon.interval is 0s"),
        (
            SLACK,
            "rate_limit: {time_scale: 100}\n",
            "rate_limit.time_scale is 100, but the target is not an emulator",
        ),
        ("{url: embedded}", "audit_log: .\n", "audit_log"),
    ];
    for (target, extra, message) in cases {
        config(dir.path(), target, extra);
        let (code, text) = scimsync(dir.path(), &["validate", "--config", "scimsync.yaml"]);
        assert_eq!(code, 1, "{extra}: {text}");
        assert!(text.contains(message), "{extra}: {text}");
    }
    // The folder case names why.
    config(dir.path(), "{url: embedded}", "audit_log: .\n");
    let (_, text) = scimsync(dir.path(), &["validate", "--config", "scimsync.yaml"]);
    assert!(text.contains("cannot be written: it is a folder"), "{text}");
    // A time scale against a loopback emulator is what it is for.
    config(
        dir.path(),
        "{url: \"http://127.0.0.1:9/scim/v2/\", token_env: X}",
        "rate_limit: {time_scale: 100}\n",
    );
    assert_eq!(
        scimsync(dir.path(), &["validate", "--config", "scimsync.yaml"]).0,
        0
    );
}

#[test]
fn out_of_range_flags_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), "{url: embedded}", "");
    for args in [
        &["run", "--config", "scimsync.yaml", "--interval", "0s"][..],
        &[
            "run",
            "--config",
            "scimsync.yaml",
            "--interval",
            "5124095576030431h",
        ],
        &[
            "run",
            "--config",
            "scimsync.yaml",
            "--shutdown-deadline",
            "0s",
        ],
    ] {
        let (code, text) = scimsync(dir.path(), args);
        assert_eq!(code, 64, "{args:?}: {text}");
        assert!(text.contains("out of range"), "{text}");
    }
}
