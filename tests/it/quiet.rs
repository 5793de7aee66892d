//! Quiet when nothing is wrong (issue 23): an HR export keeps its terminated rows, group
//! column and all, and a leaver already deactivated in Slack needs nothing. No pass — `apply`,
//! a daemon pass — says anything per leaver, and `validate` counts them in its summary, so the
//! one real error is the one line that stands out.

use std::path::Path;

use scimsync::emulator::{EmulatorConfig, Snapshot, Store, StoredGroup, StoredUser};
use scimsync::scim::Version;

use crate::harness::{Daemon, org_with, run_text, write_config_with};

const LEAVERS: usize = 11;

/// Slack as day 2 finds it: two people in `eng`, and eleven leavers already deactivated.
fn slack() -> Store {
    let mut users = vec![
        StoredUser::new("boss", "boss@example.com"),
        StoredUser::new("ada", "ada@example.com"),
    ];
    users.extend((0..LEAVERS).map(|i| StoredUser {
        active: false,
        ..StoredUser::new(&format!("gone{i}"), &format!("gone{i}@example.com"))
    }));
    let eng = StoredGroup {
        display_name: "eng".into(),
        members: vec!["boss".into(), "ada".into()],
        ..StoredGroup::default()
    };
    Store::from_snapshot(
        Snapshot {
            users,
            groups: vec![eng],
        },
        'W',
        3,
        "test",
    )
    .unwrap()
}

/// The export: the two, then the eleven terminated rows with the group their department
/// gives, then `extra` rows.
fn export(dir: &Path, extra: &str) {
    let mut csv =
        String::from("Email,Status,Groups\nboss@example.com,yes,eng\nada@example.com,yes,eng\n");
    for i in 0..LEAVERS {
        csv.push_str(&format!("gone{i}@example.com,no,eng\n"));
    }
    csv.push_str(extra);
    std::fs::write(dir.join("people.csv"), csv).unwrap();
}

fn config(dir: &Path, url: &str) {
    write_config_with(
        dir,
        url,
        "  - csv: people.csv\n    columns: {email: Email, active: Status, groups: Groups}\n",
        "scope: {email_domains: [example.com]}\nunmanaged_users: deactivate\n\
         invalid_users: skip\n",
    );
}

/// The lines of `text` about a leaver.
fn about_leavers(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.contains("gone") || l.contains("leaver"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn leavers_already_deactivated_make_no_noise_in_apply_or_a_daemon_pass() {
    let o = org_with(EmulatorConfig::default(), slack()).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &o.emu.base_url(Version::V2));
    export(dir.path(), "");

    // Converged: nothing to write, and nothing said about the eleven.
    for _ in 0..2 {
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{out}");
        assert_eq!(o.emu.stats().writes, 0, "{out}");
        assert!(about_leavers(&out).is_empty(), "{out}");
    }

    let logs = Daemon::logs_of_first(dir.path(), o.emu.token(), "success").await;
    assert!(logs.contains("\"planned\""), "a pass ran: {logs}");
    assert!(about_leavers(&logs).is_empty(), "{logs}");
    assert!(!logs.contains("\"WARN\""), "no warning at all: {logs}");
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_counts_the_leavers_in_its_summary_and_the_real_error_stands_out() {
    let o = org_with(EmulatorConfig::default(), slack()).await;
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), &o.emu.base_url(Version::V2));
    export(dir.path(), "new@@example.com,yes,eng\n");

    let (code, out) = run_text(&o, dir.path(), &["validate"]);
    assert_eq!(code, 1, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "the error and the summary: {out}");
    assert!(
        lines[0].starts_with("people.csv:15:1: error: \"new@@example.com\" is not a valid email"),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "scimsync.yaml: invalid (13 users, 11 of them leavers, 1 skipped, 1 group): 1 error, \
         0 warnings"
    );
    assert!(about_leavers(&out).len() <= 1, "{out}");
}
