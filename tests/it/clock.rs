//! The memory's time rules through whole passes with a paused clock: each pass runs in-process
//! (`pass::prepare`, then `apply`) against the emulator over loopback, reading the time from a
//! manual [`Clock`] that the test sets and advances, so the edges of a rule are hit to the
//! second without sleeping: a leaver is held at T, still held at T + grace − 1 s, deactivated
//! at T + grace; a stuck op is held until its backoff has passed, and the backoff doubles.

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::pass::{self, Applied, Clock, PassReport, Request};
use scimsync::scim::Version;
use scimsync::shutdown::Shutdown;

use crate::harness::{Org, org, org_with};

/// Where every test's clock starts.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
}

/// Writes `people.yaml` (`users`: YAML rows) and a config against `o` with its own state folder
/// and the token in a file (an in-process pass reads no environment).
fn setup(o: &Org, dir: &Path, users: &[&str], extra: &str) {
    let mut yaml = String::from("users:\n");
    for u in users {
        yaml.push_str(&format!("  - {u}\n"));
    }
    std::fs::write(dir.join("people.yaml"), yaml).unwrap();
    let token = dir.join("token");
    std::fs::write(&token, o.emu.token()).unwrap();
    #[cfg(unix)]
    std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    std::fs::write(
        dir.join("scimsync.yaml"),
        format!(
            "target: {{url: \"{}\", token_file: token}}\nsources:\n  - yaml: people.yaml\n\
             state_dir: state\nscope: {{email_domains: [acme.com]}}\n{extra}",
            o.emu.base_url(Version::V2)
        ),
    )
    .unwrap();
}

/// One `apply` pass in-process at `clock`'s time.
async fn apply_at(dir: &Path, clock: &Clock) -> PassReport {
    let config = scimsync::config::Config::load(
        &dir.join("scimsync.yaml"),
        &scimsync::config::EnvOverrides::default(),
    )
    .unwrap();
    let request = Request {
        apply: true,
        clock: clock.clone(),
        ..Request::default()
    };
    let prepared = pass::prepare(config, &request, clock.now().date_naive())
        .await
        .unwrap_or_else(|e| panic!("the pass prepares: {e}"));
    prepared
        .apply(&[], &Shutdown::new())
        .await
        .unwrap_or_else(|e| panic!("the pass applies: {e}"))
}

fn active(o: &Org, email: &str) -> bool {
    o.emu
        .with_store(|s| s.user_by_email(email).map(|u| u.active))
        .unwrap_or_else(|| panic!("{email} exists"))
}

fn writes(o: &Org) -> u64 {
    o.emu.stats().writes
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leaver_is_held_until_the_second_the_grace_period_ends() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h}\n";
    let both = ["{email: ada@acme.com}", "{email: bob@acme.com}"];
    setup(&o, dir.path(), &both, extra);
    let clock = Clock::manual(t0());
    let report = apply_at(dir.path(), &clock).await;
    assert!(matches!(report.applied, Applied::Done(_)), "{report:?}");

    // Bob leaves at T: pending, due at T + 1h.
    setup(&o, dir.path(), &both[..1], extra);
    let report = apply_at(dir.path(), &clock).await;
    assert_eq!(report.plan.pending.len(), 1, "{:?}", report.plan);
    assert_eq!(report.plan.pending[0].since, t0());
    assert_eq!(
        report.plan.pending[0].due,
        t0() + chrono::Duration::hours(1)
    );
    assert!(active(&o, "bob@acme.com"));

    // One second before the period ends: still held, the clock not restarted.
    clock.advance(Duration::from_secs(3599));
    let written = writes(&o);
    let report = apply_at(dir.path(), &clock).await;
    assert_eq!(report.plan.pending.len(), 1, "{:?}", report.plan);
    assert_eq!(report.plan.pending[0].since, t0(), "first seen absent at T");
    assert_eq!(report.plan.pending[0].remaining_secs, 1);
    assert_eq!(report.plan.summary().deactivate, 0);
    assert_eq!(writes(&o), written, "nothing written inside the period");
    assert!(active(&o, "bob@acme.com"));

    // At T + grace: deactivated.
    clock.advance(Duration::from_secs(1));
    let report = apply_at(dir.path(), &clock).await;
    assert!(report.plan.pending.is_empty(), "{:?}", report.plan);
    assert_eq!(report.plan.summary().deactivate, 1);
    assert!(!active(&o, "bob@acme.com"), "absent for the whole period");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejoiner_inside_the_grace_period_restarts_the_clock_when_leaving_again() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = "unmanaged_users: deactivate\nsafety: {deactivation_grace: 1h}\n";
    let both = ["{email: ada@acme.com}", "{email: bob@acme.com}"];
    setup(&o, dir.path(), &both, extra);
    let clock = Clock::manual(t0());
    apply_at(dir.path(), &clock).await;
    setup(&o, dir.path(), &both[..1], extra);
    apply_at(dir.path(), &clock).await;
    // Back after 30 min, gone again 10 min later: a new period from then.
    clock.advance(Duration::from_secs(1800));
    setup(&o, dir.path(), &both, extra);
    let report = apply_at(dir.path(), &clock).await;
    assert!(report.plan.pending.is_empty(), "{:?}", report.plan);
    clock.advance(Duration::from_secs(600));
    setup(&o, dir.path(), &both[..1], extra);
    let left_again = clock.now();
    let report = apply_at(dir.path(), &clock).await;
    assert_eq!(report.plan.pending[0].since, left_again);
    // One hour after the first leaving: still held.
    clock.advance(Duration::from_secs(1800));
    let report = apply_at(dir.path(), &clock).await;
    assert_eq!(report.plan.pending.len(), 1, "{:?}", report.plan);
    assert!(active(&o, "bob@acme.com"));
    clock.advance(Duration::from_secs(1800));
    apply_at(dir.path(), &clock).await;
    assert!(!active(&o, "bob@acme.com"), "an hour after leaving again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stuck_op_is_retried_only_once_its_backoff_has_passed_and_the_backoff_doubles() {
    // Slack's users share their namespace with channels: `general` is always taken.
    let o = org_with(EmulatorConfig::default(), Store::default_org('U', 1)).await;
    let dir = tempfile::tempdir().unwrap();
    let users = [
        "{email: ada@acme.com}",
        "{email: gen@acme.com, user_name: general}",
    ];
    setup(&o, dir.path(), &users, "stuck: {after: 2, backoff: 1h}\n");
    let clock = Clock::manual(t0());
    for pass in 1..=2 {
        let report = apply_at(dir.path(), &clock).await;
        let Applied::Done(outcome) = &report.applied else {
            panic!("pass {pass}: {report:?}")
        };
        assert!(!outcome.complete(), "pass {pass}: refused");
    }
    let hour = chrono::Duration::hours(1);
    // Held for the whole first backoff (1h after the second failure), retried at its end.
    clock.advance(Duration::from_secs(3599));
    let written = writes(&o);
    let report = apply_at(dir.path(), &clock).await;
    assert_eq!(writes(&o), written, "held during its backoff");
    assert_eq!(report.plan.stuck.len(), 1, "{:?}", report.plan);
    assert_eq!(report.plan.stuck[0].passes, 2);
    assert_eq!(report.plan.stuck[0].retry_at, Some(t0() + hour));
    clock.advance(Duration::from_secs(1));
    let report = apply_at(dir.path(), &clock).await;
    assert!(writes(&o) > written, "retried once the backoff passed");
    assert_eq!(report.plan.stuck[0].retry_at, None, "tried in this pass");

    // It fails again (3 passes): the backoff doubles to 2h from now.
    let failed_at = clock.now();
    clock.advance(Duration::from_secs(2 * 3600 - 1));
    let written = writes(&o);
    let report = apply_at(dir.path(), &clock).await;
    assert_eq!(writes(&o), written, "held during the doubled backoff");
    assert_eq!(report.plan.stuck[0].passes, 3);
    assert_eq!(report.plan.stuck[0].retry_at, Some(failed_at + hour * 2));
    clock.advance(Duration::from_secs(1));
    apply_at(dir.path(), &clock).await;
    assert!(
        writes(&o) > written,
        "retried at the end of the doubled backoff"
    );
}
