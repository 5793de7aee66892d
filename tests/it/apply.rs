//! `scimsync apply` end to end against the emulator, v1 and v2: import, lifecycle (leaver,
//! rejoiner, rename, swap, out-of-scope holder, protected account), guards, Slack's rate limits,
//! injected faults, a killed process, saved plans, the audit log, and create adoption.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use scimsync::emulator::{Emulator, EmulatorConfig, Faults, Role, Snapshot, Store, StoredUser};
use scimsync::model::Attribute;
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness::{BOTH, Org, org_with, scimsync, write_config_with};

fn run(o: &Org, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = scimsync(dir, o.emu.token(), args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn store(users: Vec<StoredUser>) -> Store {
    Store::from_snapshot(
        Snapshot {
            users,
            groups: vec![],
        },
        'W',
        7,
        "test",
    )
    .unwrap()
}

/// Accounts per email key: a duplicate would show as a second account for one person.
fn accounts(emu: &Emulator) -> HashMap<String, Vec<StoredUser>> {
    emu.with_store(|s| {
        let mut by: HashMap<String, Vec<StoredUser>> = HashMap::new();
        for u in s.users() {
            by.entry(u.email.to_lowercase())
                .or_default()
                .push(u.clone());
        }
        by
    })
}

fn people_yaml(n: usize) -> String {
    let mut y = String::from("users:\n");
    for i in 0..n {
        y.push_str(&format!(
            "  - {{email: p{i}@example.com, given_name: P{i}, family_name: Person, title: Engineer, \
             department: R&D, employee_number: \"{i}\", phone: \"+1 555 {i:04}\"{}}}\n",
            if i > 0 { ", manager: p0@example.com" } else { "" }
        ));
    }
    y.push_str("groups:\n  - {name: everyone, members: [");
    y.push_str(
        &(0..n)
            .map(|i| format!("p{i}@example.com"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    y.push_str("]}\n  - {name: leads, members: [p0@example.com]}\n");
    y
}

/// Scope, and Slack's budget run 100 times faster (tests about rate limits set their own).
const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

#[tokio::test(flavor = "multi_thread")]
async fn initial_import_then_nothing_to_do() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store(vec![])).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("people.yaml"), people_yaml(12)).unwrap();
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - yaml: people.yaml\n",
            &format!("{SCOPE}audit_log: audit.jsonl\n"),
        );
        let (code, out, err) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(
            out.contains("Applied 14 of 14 changes: 0 failed, 0 skipped."),
            "{out}"
        );
        let applied = o.emu.stats().writes_applied;
        assert_eq!(applied, 14, "one write per change");

        // Slack now holds what the directory says, managers and groups included.
        let (p0, p5) = o.emu.with_store(|s| {
            (
                s.user_by_email("p0@example.com").unwrap().clone(),
                s.user_by_email("p5@example.com").unwrap().clone(),
            )
        });
        assert_eq!(p5.manager_id.as_deref(), Some(p0.id.as_str()));
        assert_eq!(p5.primary_phone.as_deref(), Some("+1 555 0005"));
        assert_eq!(p5.text(Attribute::EmployeeNumber), Some("5"));
        assert_eq!(
            o.emu
                .with_store(|s| s.group_by_name("everyone").unwrap().members.len()),
            12
        );

        let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
        assert_eq!(
            audit
                .lines()
                .filter(|l| l.contains("\"event\":\"write\""))
                .count(),
            14,
            "one audit line per write"
        );
        assert_eq!(audit.lines().count(), 16, "and the apply's start and end");
        assert!(!audit.contains(o.emu.token()), "no token in the audit log");

        // The next plan is empty and a second apply writes nothing.
        o.emu.reset_stats();
        let (code, out, _e) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{out}{_e}");
        let (code, out, _) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{out}");
        assert!(out.contains("No changes"), "{out}");
        assert_eq!(
            o.emu.stats().writes,
            0,
            "{v}: a converged org costs no write"
        );
    }
}

fn lifecycle_org() -> Store {
    let u = |name: &str, email: &str, employee: &str| {
        StoredUser::new(name, email).with(Attribute::EmployeeNumber, employee)
    };
    let mut cy = u("cy", "cy@example.com", "E3");
    cy.active = false;
    let fay_elsewhere = StoredUser {
        secondary_email: Some("fay@example.com".into()),
        ..StoredUser::new("fay.partner", "fay@partner.org")
    };
    let bot = StoredUser {
        role: Role::Bot,
        ..StoredUser::new("a-bot", "botuser-T1-A1@slack-bots.com")
    };
    store(vec![
        u("ada", "ada@example.com", "E1"),
        u("bob", "bob@example.com", "E2"),
        cy,
        u("dan", "dan@example.com", "E4"),
        u("eve", "eve@example.com", "E5"),
        u("it-admin", "it-admin@example.com", "E9"),
        fay_elsewhere,
        bot,
    ])
}

const LIFECYCLE: &str = "users:
  - {email: ada.byron@example.com, employee_number: E1, user_name: ada.byron}   # renamed
  - {email: bob@example.com, employee_number: E2, active: false}                # leaver
  - {email: cy@example.com, employee_number: E3}                                # rejoiner
  - {email: eve@example.com, employee_number: E4}                               # swap with…
  - {email: dan@example.com, employee_number: E5}                               # …this one
  - {email: fay@example.com}                        # held by an account outside scope
  - {email: gus@example.com, employee_number: E7}                               # new
";

#[tokio::test(flavor = "multi_thread")]
async fn lifecycle_leaver_rejoiner_rename_swap_out_of_scope_and_protected() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), lifecycle_org()).await;
        let before = accounts(&o.emu);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("people.yaml"), LIFECYCLE).unwrap();
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - yaml: people.yaml\n",
            "scope: {email_domains: [example.com], protected: [it-admin@example.com]}\n\
             rate_limit: {time_scale: 100}\n\
             unmanaged_users: deactivate\n\
             safety: {max_deactivation_ratio: 0.5}\n",
        );
        let (code, out, err) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "conflicts make the run partial: {out}{err}");
        assert!(out.contains("! conflict       dan@example.com"), "{out}");
        assert!(
            out.contains("email fay@example.com is held by active account")
                && out.contains("outside scope"),
            "{out}"
        );
        let after = accounts(&o.emu);
        let id = |m: &HashMap<String, Vec<StoredUser>>, e: &str| m[e][0].id.clone();
        assert_eq!(
            id(&after, "ada.byron@example.com"),
            id(&before, "ada@example.com"),
            "a rename keeps the id"
        );
        assert_eq!(after["ada.byron@example.com"][0].user_name, "ada.byron");
        assert!(
            !after["bob@example.com"][0].active,
            "the leaver is deactivated"
        );
        assert!(
            after["cy@example.com"][0].active,
            "the rejoiner's account is reactivated"
        );
        assert_eq!(id(&after, "cy@example.com"), id(&before, "cy@example.com"));
        assert_eq!(
            after["dan@example.com"][0].text(Attribute::EmployeeNumber),
            Some("E4"),
            "the swap is not attempted"
        );
        assert!(
            after["it-admin@example.com"][0].active,
            "protected, though unmanaged"
        );
        assert!(
            after["botuser-t1-a1@slack-bots.com"][0].active,
            "bots are never touched"
        );
        assert!(after.contains_key("gus@example.com"), "the rest applied");
        assert!(!after.contains_key("fay@example.com"), "no account for fay");
        let s = o.emu.stats();
        assert_eq!(
            s.statuses.get(&409),
            None,
            "{v}: never a 409 storm: {:?}",
            s.statuses
        );

        // Conflicts stay conflicts; nothing else to write.
        o.emu.reset_stats();
        let (code, _, _) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4);
        assert_eq!(o.emu.stats().writes, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tripped_guard_writes_nothing_unless_overridden() {
    for v in BOTH {
        tripped_guard(v).await;
    }
}

async fn tripped_guard(v: Version) {
    let users = (0..30)
        .map(|i| StoredUser::new(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let o = org_with(EmulatorConfig::default(), store(users)).await;
    let dir = tempfile::tempdir().unwrap();
    // A truncated export: one person left of thirty.
    std::fs::write(dir.path().join("people.csv"), "Email\nu0@example.com\n").unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(v),
        "  - csv: people.csv\n    columns: {email: Email}\n",
        &format!("{SCOPE}unmanaged_users: deactivate\n"),
    );
    let (code, _, err) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("max_deactivations tripped: 29 deactivations planned, limit 25 (4 over)"),
        "{err}"
    );
    assert!(err.contains("--allow max-deactivations"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(o.emu.stats().writes, 0, "a tripped guard writes nothing");

    let (code, _, err) = run(&o, dir.path(), &["apply", "--allow", "max-deactivations"]);
    assert_eq!(code, 3, "the ratio guard still holds: {err}");
    assert_eq!(o.emu.stats().writes, 0);
    let (code, out, err) = run(
        &o,
        dir.path(),
        &[
            "apply",
            "--allow",
            "max-deactivations",
            "--allow",
            "max-deactivation-ratio",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(o.emu.stats().writes_applied, 29);
}

const SCALE: f64 = 30.0;
const USERS: usize = 150;

#[tokio::test(flavor = "multi_thread")]
async fn slack_rate_limits_time_scaled_zero_failures_never_above_budget() {
    for v in BOTH {
        within_rate_limits(v).await;
    }
}

async fn within_rate_limits(v: Version) {
    let config = EmulatorConfig {
        rate_limit_scale: Some(SCALE),
        ..EmulatorConfig::default()
    };
    let o = org_with(config, store(vec![])).await;
    let dir = tempfile::tempdir().unwrap();
    let mut y = String::from("users:\n");
    for i in 0..USERS {
        y.push_str(&format!("  - {{email: r{i}@example.com}}\n"));
    }
    std::fs::write(dir.path().join("people.yaml"), y).unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(v),
        "  - yaml: people.yaml\n",
        &format!(
            "scope: {{email_domains: [example.com]}}\n\
             rate_limit: {{share: 1.0, time_scale: {SCALE}, concurrency: 8}}\n"
        ),
    );
    let t = Instant::now();
    let (code, out, err) = run(&o, dir.path(), &["apply"]);
    let took = t.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Applied {USERS} of {USERS} changes: 0 failed")),
        "{out}"
    );
    // POST /Users: burst 20, then 180/min — ×30: 90/s.
    let per_second = 180.0 * SCALE / 60.0;
    let s = o.emu.stats();
    for window in [0.2, 0.5, 1.0] {
        let budget = 20.0 + per_second * window;
        let seen = s.max_writes_in(Duration::from_secs_f64(window));
        assert!(
            seen as f64 <= budget + 1.0,
            "{seen} writes in {window}s, budget {budget}"
        );
    }
    let floor = (USERS as f64 - 20.0) / per_second;
    assert!(
        took.as_secs_f64() >= floor * 0.9,
        "{took:?}: faster than Slack allows"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_percent_faults_converge_within_four_passes_without_duplicates() {
    for v in BOTH {
        let faults = Faults {
            error_rate: 0.1,
            drop_rate: 0.1,
            seed: 11,
            ..Faults::default()
        };
        let o = org_with(
            EmulatorConfig {
                faults,
                ..EmulatorConfig::default()
            },
            store(vec![]),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("people.yaml"), people_yaml(30)).unwrap();
        // A group create whose answer is lost, and which no listing shows, is held back for
        // `stuck.backoff` before it is sent again (never twice inside that window, issue
        // 27); a one-second hold lets this test see it sent again within its passes.
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - yaml: people.yaml\n",
            &format!("{SCOPE}stuck: {{backoff: 1s}}\n"),
        );
        let mut passes = 0;
        loop {
            passes += 1;
            let (code, out, err) = run(&o, dir.path(), &["apply"]);
            if code == 0 {
                break;
            }
            // (Past any hold a lost create set in the pass before.)
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            assert!(
                passes < 4,
                "{v}: not converged after {passes} passes: {out}{err}"
            );
        }
        o.emu.set_faults(Faults::default());
        let (code, out, _) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{out}");
        let by_email = accounts(&o.emu);
        assert_eq!(by_email.len(), 30);
        assert!(
            by_email.values().all(|a| a.len() == 1),
            "no duplicate account"
        );
        let s = o.emu.stats();
        assert!(
            s.injected_errors + s.dropped_connections > 0,
            "faults were injected"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn killed_mid_apply_then_rerun_converges_without_duplicates() {
    for v in BOTH {
        killed_mid_apply(v).await;
    }
}

async fn killed_mid_apply(v: Version) {
    let faults = Faults {
        latency: Duration::from_millis(40),
        ..Faults::default()
    };
    let o = org_with(
        EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        },
        store(vec![]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("people.yaml"), people_yaml(60)).unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(v),
        "  - yaml: people.yaml\n",
        SCOPE,
    );
    let mut child = crate::harness::apply_command(dir.path(), o.emu.token())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while o.emu.stats().writes_applied < 8 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the apply never started writing"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = accounts(&o.emu).len();
    assert!(
        partial > 0 && partial < 60,
        "killed mid-apply ({partial} accounts)"
    );

    o.emu.set_faults(Faults::default());
    let (code, out, err) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}{err}");
    let by_email = accounts(&o.emu);
    assert_eq!(by_email.len(), 60);
    assert!(
        by_email.values().all(|a| a.len() == 1),
        "no duplicate account"
    );
    let (code, _, _) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_exactly_or_is_refused_when_slack_changed() {
    for v in BOTH {
        let users = vec![
            StoredUser::new("ada", "ada@example.com").with(Attribute::Title, "Engineer"),
            StoredUser::new("bob", "bob@example.com"),
        ];
        let o = org_with(EmulatorConfig::default(), store(users)).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("people.yaml"),
            "users:\n  - {email: ada@example.com, title: Lead}\n  - {email: bob@example.com, title: Lead}\n",
        )
        .unwrap();
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - yaml: people.yaml\n",
            SCOPE,
        );
        let (code, _, _) = run(
            &o,
            dir.path(),
            &["plan", "--format", "json", "--out", "plan.json"],
        );
        assert_eq!(code, 0);

        // Someone edits Ada in Slack after the plan was reviewed.
        let ada = o.emu.with_store(|s| {
            let mut ada = s.user_by_email("ada@example.com").unwrap().clone();
            ada.set_text(Attribute::Title, Some("CTO".into()));
            s.replace_user(ada.clone());
            ada.id
        });
        o.emu.reset_stats();
        let (code, _, err) = run(&o, dir.path(), &["apply", "--plan", "plan.json"]);
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("refusing the saved plan") && err.contains(&ada),
            "{err}"
        );
        assert_eq!(o.emu.stats().writes, 0);

        // A fresh plan applies exactly as saved.
        let (code, _, _) = run(
            &o,
            dir.path(),
            &["plan", "--format", "json", "--out", "plan.json"],
        );
        assert_eq!(code, 0);
        let (code, out, err) = run(&o, dir.path(), &["apply", "--plan", "plan.json"]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(o.emu.stats().writes_applied, 2);
        assert!(
            o.emu
                .with_store(|s| s.users().all(|u| u.text(Attribute::Title) == Some("Lead")))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_create_whose_answer_was_lost_is_adopted_not_duplicated() {
    // Find a seed whose first roll drops the connection after the write and whose second
    // roll lets the retry through.
    let mut seed = None;
    for candidate in 0..200u64 {
        let mut rng = fastrand::Rng::with_seed(candidate);
        let (e1, _s1, d1) = (rng.f64(), rng.bool(), rng.f64());
        let before = rng.bool();
        let (e2, _s2, d2) = (rng.f64(), rng.bool(), rng.f64());
        if e1 >= 0.0 && d1 < 0.5 && !before && d2 >= 0.5 && e2 >= 0.0 {
            seed = Some(candidate);
            break;
        }
    }
    let seed = seed.expect("a seed");
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store(vec![])).await;
        let spec_dir = tempfile::tempdir().unwrap();
        std::fs::write(
            spec_dir.path().join("d.yaml"),
            "users:\n  - {email: lost@example.com}\n",
        )
        .unwrap();
        write_config_with(
            spec_dir.path(),
            &o.emu.base_url(v),
            "  - yaml: d.yaml\n",
            SCOPE,
        );
        let (plan, caller) = crate::harness::plan_in_process(&o, v, spec_dir.path()).await;
        assert_eq!(plan.summary().create, 1);

        o.emu.set_faults(Faults {
            drop_rate: 0.5,
            seed,
            ..Faults::default()
        });
        let outcome = scimsync::apply::execute(&plan, &caller, 1, None).await;
        let s = o.emu.stats();
        assert_eq!(s.dropped_connections, 1, "the first answer was lost");
        assert!(outcome.complete(), "{}", outcome.render());
        let json = serde_json::to_string(&outcome).unwrap();
        assert!(json.contains("adopted"), "{json}");
        assert_eq!(
            s.count("POST", Endpoint::UserCreate),
            2,
            "created, then retried"
        );
        assert_eq!(
            accounts(&o.emu)["lost@example.com"].len(),
            1,
            "exactly one account"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_op_slack_rejects_is_itemised_and_the_rest_applies() {
    for v in BOTH {
        // The primary owner is in scope, unmanaged and (wrongly) not protected: Slack refuses
        // to deactivate them; everything else goes through.
        let o = org_with(EmulatorConfig::default(), Store::default_org('W', 3)).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("people.yaml"), people_yaml(3)).unwrap();
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - yaml: people.yaml\n",
            &format!(
                "{SCOPE}unmanaged_users: deactivate\nsafety: {{max_deactivation_ratio: 1.0}}\n"
            ),
        );
        let (code, out, err) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{out}{err}");
        assert!(
            out.contains("Applied 5 of 6 changes: 1 failed, 0 skipped."),
            "{out}"
        );
        assert!(
            out.contains("✗ deactivate_user  primary-owner@example.com")
                && out.contains("cannot_disable_primary_owner (HTTP 403)"),
            "{out}"
        );
        assert_eq!(
            accounts(&o.emu).len(),
            2 + 3,
            "the three people were created"
        );
    }
}
