//! The process contract: each exit code in README's table, from the real binary against the
//! emulator. Scripts and CI read these codes, so each has a test.

use std::time::Duration;

use scimsync::emulator::{EmulatorConfig, Faults, Store, StoredUser};
use scimsync::scim::Version;

use crate::harness::{org_with, run_text, store_of, write_config_with, yaml_setup};

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
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scimsync"))
        .arg("--version")
        .output()
        .unwrap();
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
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scimsync"))
        .args([
            "run",
            "--config",
            "scimsync.yaml",
            "--shutdown-deadline",
            "60s",
        ])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir.path())
        .env("SCIM_TOKEN", o.emu.token())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Wait until the pass has reached Slack (its first request is being answered slowly).
    let t = std::time::Instant::now();
    while o.emu.stats().reads == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the pass never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = child.id().unwrap().to_string();
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("aborted at once")
        .unwrap();
    assert_eq!(status.code(), Some(130));
}
