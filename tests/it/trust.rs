//! An input that lies never turns into a deactivation, and two processes never apply one plan
//! twice (issue "Guards that cannot be bypassed"): each case runs the real binary against the
//! emulator and checks the exit code, the message, and the emulator's write counters.

use std::time::{Duration, Instant};

use scimsync::emulator::{EmulatorConfig, Faults, Store};
use scimsync::scim::Version;

use crate::harness::{org_with, write_config_with};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

fn people(n: usize) -> String {
    let mut y = String::from("users:\n");
    for i in 0..n {
        y.push_str(&format!("  - {{email: p{i}@example.com}}\n"));
    }
    y
}

/// A second `apply` started while the first is writing finds the lock held before it lists or
/// plans anything: it writes nothing, and the first applies every create exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_apply_during_the_first_waits_for_nothing_and_writes_nothing() {
    let config = EmulatorConfig {
        faults: Faults {
            latency: Duration::from_millis(40),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    let o = org_with(config, Store::new('W', 3)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.yaml"), people(40)).unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: people.yaml\n",
        &format!("{SCOPE}lock_file: pass.lock\n"),
    );
    let spawn = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_scimsync"))
            .args(["apply", "--config", "scimsync.yaml"])
            .current_dir(dir.path())
            .env("SCIM_TOKEN", o.emu.token())
            .output()
    };
    let first = tokio::spawn(spawn());
    // Wait until the first is writing.
    let t = Instant::now();
    while o.emu.stats().writes == 0 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the first apply never wrote"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let reads_before = o.emu.stats().reads;
    let second = spawn().await.unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("another scimsync is applying"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    let first = first.await.unwrap().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stats = o.emu.stats();
    assert_eq!(
        stats.writes, 40,
        "one write per create, none from the second apply"
    );
    assert_eq!(
        stats.statuses.get(&409),
        None,
        "no stale create met a taken email"
    );
    // The second listed nothing: the reads after it started are the first's own lookups at
    // most (it lists before writing, so none).
    assert_eq!(
        stats.reads, reads_before,
        "the second apply never listed Slack"
    );
}
