//! An input that lies never turns into a deactivation, and two processes never apply one plan
//! twice (issue "Guards that cannot be bypassed"): each case runs the real binary against the
//! emulator and checks the exit code, the message, and the emulator's write counters.

use std::time::{Duration, Instant};

use scimsync::emulator::{EmulatorConfig, Faults, Store};
use scimsync::scim::Version;

use crate::harness::{org_with, run_text as run, store_of, write_config_with, yaml_setup};

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
            latency: Duration::from_millis(100),
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
        tokio::process::Command::from(crate::harness::apply_command(dir.path(), o.emu.token()))
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
    // The first is still writing (it reads only once its writes are done).
    let during = o.emu.stats();
    assert!(during.writes < 40, "the first finished too soon to tell");
    assert_eq!(
        during.reads, reads_before,
        "the second apply never listed Slack"
    );
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
}

/// An emulator holding `n` active accounts `u0…` at corp.example (and their user names).
async fn corp(n: usize) -> crate::harness::Org {
    use scimsync::emulator::StoredUser;
    let users = (0..n)
        .map(|i| StoredUser::new(&format!("u{i}"), &format!("u{i}@corp.example")))
        .collect();
    org_with(EmulatorConfig::default(), store_of(users)).await
}

const CORP: &str = "scope: {email_domains: [corp.example]}\nrate_limit: {time_scale: 100}\n";

/// Case 1: a 40-row export whose row 39 opens a quote it never closes. The reader must not
/// return 38 people (and deactivate the last two, under the guards); it is an error at the
/// quote's line, and nothing is written.
#[tokio::test(flavor = "multi_thread")]
async fn an_unclosed_quote_is_an_error_at_its_line_and_writes_nothing() {
    let o = corp(40).await;
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("Email,Department\n");
    for i in 0..40 {
        if i == 37 {
            csv.push_str(&format!("u{i}@corp.example,\"Eng\n"));
        } else {
            csv.push_str(&format!("u{i}@corp.example,Eng\n"));
        }
    }
    std::fs::write(dir.path().join("people.csv"), csv).unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - csv: people.csv\n    columns: {email: Email, department: Department}\n",
        &format!("{CORP}unmanaged_users: deactivate\n"),
    );
    let (code, text) = run(&o, dir.path(), &["validate"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("people.csv:39:1"), "{text}");
    assert!(
        text.contains("a quote opened here is never closed"),
        "{text}"
    );
    o.emu.reset_stats();
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("people.csv:39:1"), "{text}");
    assert_eq!(o.emu.stats().writes, 0);
}

/// Case 2: with `invalid_users: skip`, a row skipped for a typo in its email is still matched
/// by its user name, so its account is never deactivated as "not in the directory"; and a
/// skipped row that matches no account holds every unmanaged deactivation, with a notice.
#[tokio::test(flavor = "multi_thread")]
async fn a_skipped_row_protects_the_account_it_may_be() {
    let o = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: u0@corp..example, user_name: u0}\n  - {email: u1@corp.example}\n",
        &format!(
            "{CORP}match: [id, employee_number, email, user_name]\ninvalid_users: skip\n\
             unmanaged_users: deactivate\nsafety: {{max_deactivation_ratio: 1.0}}\n"
        ),
    );
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(
        code, 4,
        "a skipped row leaves Slack short of the directory: {text}"
    );
    let active = |name: &str| {
        o.emu.with_store(|s| {
            s.user_by_email(&format!("{name}@corp.example"))
                .unwrap()
                .active
        })
    };
    assert!(
        active("u0"),
        "the skipped row's account is left alone: {text}"
    );
    assert!(
        !active("u2"),
        "an account nobody lists is deactivated: {text}"
    );

    // A skipped row no key ties to an account: no unmanaged account is deactivated.
    let o = corp(3).await;
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: zed@corp..example}\n  - {email: u1@corp.example}\n",
        &format!(
            "{CORP}invalid_users: skip\nunmanaged_users: deactivate\n\
             safety: {{max_deactivation_ratio: 1.0}}\n"
        ),
    );
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 4, "{text}");
    assert!(text.contains("0 to deactivate"), "{text}");
    assert!(
        text.contains("is not in the directory but is not deactivated: the row skipped as invalid at people.yaml:2"),
        "{text}"
    );
    assert_eq!(o.emu.stats().writes, 0);
}

/// Case 4: a header-only CSV beside a YAML source is an error naming the CSV, not "its people
/// left": nothing is written. With `allow_empty: true` it is read as empty.
#[tokio::test(flavor = "multi_thread")]
async fn an_empty_source_is_never_read_as_everyone_left() {
    let o = corp(20).await;
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("users:\n");
    for i in 0..18 {
        yaml.push_str(&format!("  - {{email: u{i}@corp.example}}\n"));
    }
    std::fs::write(dir.path().join("people.yaml"), yaml).unwrap();
    std::fs::write(dir.path().join("contractors.csv"), "Email\n").unwrap();
    let config = |extra: &str| {
        write_config_with(
            dir.path(),
            &o.emu.base_url(Version::V2),
            &format!(
                "  - yaml: people.yaml\n  - csv: contractors.csv\n    columns: {{email: Email}}\n{extra}"
            ),
            &format!(
                "{CORP}unmanaged_users: deactivate\nsafety: {{max_deactivation_ratio: 1.0}}\n"
            ),
        );
    };
    config("");
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("contractors.csv: error: the source yields no users"),
        "{text}"
    );
    assert_eq!(o.emu.stats().writes, 0);
    config("    allow_empty: true\n");
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("2 to deactivate"), "{text}");
}

/// Case 5: a blank `Active` column never reads as "active" (each blank is an error of its
/// row), and a column that does say `true` for 40 leavers trips the reactivation guard; each
/// writes nothing until overridden with its own `--allow`.
#[tokio::test(flavor = "multi_thread")]
async fn leavers_are_not_woken_by_a_blank_or_wrong_active_column() {
    use scimsync::emulator::StoredUser;
    let users = (0..60)
        .map(|i| {
            let mut u = StoredUser::new(&format!("u{i}"), &format!("u{i}@corp.example"));
            u.active = i >= 40; // u0…u39 have left
            u
        })
        .collect();
    let store = store_of(users);
    let o = org_with(EmulatorConfig::default(), store).await;
    let dir = tempfile::tempdir().unwrap();
    let write = |active_of_leavers: &str| {
        let mut csv = String::from("Email,Active\n");
        for i in 0..60 {
            let active = if i < 40 { active_of_leavers } else { "true" };
            csv.push_str(&format!("u{i}@corp.example,{active}\n"));
        }
        std::fs::write(dir.path().join("people.csv"), csv).unwrap();
    };
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - csv: people.csv\n    columns: {email: Email, active: Active}\n",
        CORP,
    );
    write("");
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("people.csv:2:17: error: active is blank: write true or false"),
        "{text}"
    );
    assert_eq!(o.emu.stats().writes, 0);

    write("true");
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 3, "{text}");
    assert!(
        text.contains(
            "safety guard max_reactivations tripped: 40 reactivations planned, limit 25 (15 over)"
        ),
        "{text}"
    );
    assert_eq!(o.emu.stats().writes, 0);
    let (code, text) = run(
        &o,
        dir.path(),
        &[
            "apply",
            "--allow",
            "max-reactivations",
            "--allow",
            "max-reactivation-ratio",
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(o.emu.stats().writes, 40);
}

/// Case 3: a saved plan applies only under the config it was made with, and a plan edited
/// after it was made is refused.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_obeys_the_current_config_and_cannot_be_edited() {
    let o = corp(4).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: u0@corp.example}\n  - {email: u1@corp.example}\n",
    )
    .unwrap();
    let config = |scope: &str| {
        write_config_with(
            dir.path(),
            &o.emu.base_url(Version::V2),
            "  - yaml: people.yaml\n",
            &format!(
                "scope: {{email_domains: [corp.example]{scope}}}\nrate_limit: {{time_scale: 100}}\n\
                 unmanaged_users: deactivate\nsafety: {{max_deactivation_ratio: 1.0}}\n"
            ),
        );
    };
    config("");
    let (code, text) = run(
        &o,
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{text}");
    let saved = std::fs::read_to_string(dir.path().join("plan.json")).unwrap();
    assert!(saved.contains("u2@corp.example") && saved.contains("u3@corp.example"));

    // u2 became protected after the plan was made: the plan was made with another config.
    config(", protected: [u2@corp.example]");
    let (code, text) = run(&o, dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("refusing") || text.contains("made with another config"),
        "{text}"
    );
    // A hand-edited plan: the deactivation retargeted at another account.
    config("");
    let id_of = |name: &str| {
        o.emu.with_store(|s| {
            s.user_by_email(&format!("{name}@corp.example"))
                .unwrap()
                .id
                .clone()
        })
    };
    let edited = saved.replace(&id_of("u3"), &id_of("u1"));
    std::fs::write(dir.path().join("edited.json"), edited).unwrap();
    let (code, text) = run(&o, dir.path(), &["apply", "--plan", "edited.json"]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("its seal does not hold"), "{text}");
    assert_eq!(o.emu.stats().writes, 0);

    // The plan as made, under the config it was made with, applies exactly.
    let (code, text) = run(&o, dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(o.emu.stats().writes, 2);
}

/// Case 7: under the shipped systemd units `STATE_DIRECTORY` is set, and the lock lives there
/// (not in a private /tmp): a pass started while another holds that lock writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn the_default_lock_is_in_the_state_directory() {
    let o = corp(2).await;
    let dir = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: u0@corp.example}\n  - {email: u1@corp.example}\n  - {email: new@corp.example}\n",
        CORP,
    );
    let apply = || {
        crate::harness::apply_command(dir.path(), o.emu.token())
            .env("STATE_DIRECTORY", state.path())
            .output()
            .unwrap()
    };
    let first = apply(); // creates the lock file, applies, releases it
    assert_eq!(first.status.code(), Some(0));
    let lock = std::fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "lock"))
        .expect("the lock file is in STATE_DIRECTORY");
    // Another scimsync (the timer's, say) holds the lock in the state directory.
    let held = std::fs::OpenOptions::new().write(true).open(&lock).unwrap();
    held.lock().unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: u0@corp.example}\n  - {email: u1@corp.example}\n  - {email: new@corp.example}\n  - {email: two@corp.example}\n",
    )
    .unwrap();
    let writes = o.emu.stats().writes;
    let second = apply();
    let err = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(err.contains("another scimsync is applying"), "{err}");
    assert_eq!(o.emu.stats().writes, writes);
}

/// Case 9: with `max_deactivations: 5` and nothing else, a 4-person organisation's one leaver
/// is deactivated (the ratio allows at least one).
#[tokio::test(flavor = "multi_thread")]
async fn a_small_organisations_single_leaver_is_not_blocked() {
    let o = corp(4).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: u0@corp.example}\n  - {email: u1@corp.example}\n  - {email: u2@corp.example}\n",
        &format!("{CORP}unmanaged_users: deactivate\nsafety: {{max_deactivations: 5}}\n"),
    );
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("1 to deactivate"), "{text}");
    assert!(
        !o.emu
            .with_store(|s| s.user_by_email("u3@corp.example").unwrap().active)
    );
}
