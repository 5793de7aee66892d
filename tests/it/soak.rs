//! The chaos soak: the daemon (the real binary) reconciles against an emulator as unkind as
//! Slack — reads lagging a second, 10% 5xx, 5% dropped connections, added latency, group names
//! that may repeat — while a competing client spends half of Slack's write budget, and a
//! scripted sequence of directory edits lands between passes: hires, leavers, a rename by
//! employee number, title changes, group moves, a rejoiner, and a swap of two emails (in the
//! two steps an operator takes). After each edit, once the daemon is quiet, it checks: Slack
//! equals the directory; no duplicate account or group; no change applied twice; several
//! consecutive empty plans (no flapping); every write in the audit log and in the metrics.
//!
//! `SCIMSYNC_SOAK_ROUNDS` repeats the script (default 1: about two minutes); `tests/soak/run`
//! runs it for a given number of minutes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Stdio;
use std::time::{Duration, Instant};

use scimsync::emulator::{EmulatorConfig, Faults, GroupNames, Preset, StoredUser};
use scimsync::model::Attribute;
use scimsync::scim::Version;

use crate::harness::{Daemon, org_with, store_of, write_config_with};

/// One person of the scripted directory.
#[derive(Debug, Clone)]
struct Person {
    number: usize,
    email: String,
    title: String,
    active: bool,
    groups: Vec<&'static str>,
}

fn yaml(people: &[Person]) -> String {
    let mut y = String::from("users:\n");
    for p in people {
        y.push_str(&format!(
            "  - {{email: {}, employee_number: \"E{}\", title: {}, active: {}, groups: [{}]}}\n",
            p.email,
            p.number,
            p.title,
            p.active,
            p.groups.join(", ")
        ));
    }
    y
}

/// The scripted edits: each a directory state that follows the one before.
fn script(round: usize) -> Vec<(&'static str, Vec<Person>)> {
    let tag = |s: &str| format!("r{round}.{s}");
    let person = |n: usize, groups: Vec<&'static str>| Person {
        number: round * 1000 + n,
        email: format!("p{n}.{}@example.com", tag("x")),
        title: "Engineer".into(),
        active: true,
        groups,
    };
    let mut people: Vec<Person> = (0..24)
        .map(|n| {
            person(
                n,
                if n % 2 == 0 {
                    vec!["eng"]
                } else {
                    vec!["sales"]
                },
            )
        })
        .collect();
    let mut steps = vec![("initial import", people.clone())];
    // Hires and leavers (two marked inactive, one dropped from the export).
    people.extend((24..27).map(|n| person(n, vec!["eng"])));
    people[5].active = false;
    people[6].active = false;
    people.remove(7);
    steps.push(("hires and leavers", people.clone()));
    // A rename by employee number, title changes, a group move.
    people[7].email = format!("renamed.{}@example.com", tag("x"));
    people[1].title = "Lead".into();
    people[2].title = "Senior Engineer".into();
    people[3].groups = vec!["eng"];
    steps.push(("rename, titles, group move", people.clone()));
    // A rejoiner, and the first half of an email swap (to a free address).
    people[5].active = true;
    let (a, b) = (people[10].email.clone(), people[11].email.clone());
    people[10].email = format!("swap.{}@example.com", tag("x"));
    steps.push(("rejoiner, swap step 1", people.clone()));
    people[11].email = a;
    people[10].email = b;
    steps.push(("swap step 2", people.clone()));
    steps
}

/// A Prometheus series' value (0 when absent).
fn series(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .map_or(0.0, |v| v.parse().unwrap_or(0.0))
}

/// The sum of every series of a family whose labels contain `label`.
fn family(metrics: &str, family: &str, label: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with(family) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Checks that Slack equals `people` (and their groups), with no duplicates.
fn check_equal(o: &crate::harness::Org, people: &[Person], step: &str) {
    o.emu.with_store(|s| {
        let mut by_number: HashMap<String, Vec<&StoredUser>> = HashMap::new();
        for u in s.users() {
            if let Some(n) = u.text(Attribute::EmployeeNumber) {
                by_number.entry(n.to_string()).or_default().push(u);
            }
        }
        let mut want_groups: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        for p in people {
            let accounts = by_number
                .get(&format!("E{}", p.number))
                .cloned()
                .unwrap_or_default();
            assert_eq!(
                accounts.len(),
                1,
                "{step}: one account for E{}: {accounts:?}",
                p.number
            );
            let u = accounts[0];
            assert_eq!(u.active, p.active, "{step}: {} active", p.email);
            if p.active {
                assert_eq!(
                    u.email.to_lowercase(),
                    p.email,
                    "{step}: email of E{}",
                    p.number
                );
                assert_eq!(
                    u.text(Attribute::Title),
                    Some(p.title.as_str()),
                    "{step}: {}",
                    p.email
                );
                for g in &p.groups {
                    want_groups.entry(g).or_default().insert(u.id.clone());
                }
            }
        }
        let mut names = BTreeSet::new();
        for g in s.groups().filter(|g| !g.auto_generated) {
            assert!(
                names.insert(g.display_name.to_lowercase()),
                "{step}: duplicate group {}",
                g.display_name
            );
            if let Some(want) = want_groups.get(g.display_name.as_str()) {
                let have: BTreeSet<String> = g.members.iter().cloned().collect();
                assert_eq!(&have, want, "{step}: members of {}", g.display_name);
            }
        }
        for g in want_groups.keys() {
            assert!(names.contains(*g), "{step}: group {g} exists");
        }
    });
}

/// The soak's emulator: its own chaos (every write lagging a second, 10% 5xx, 5% dropped
/// connections), or with `SCIMSYNC_SOAK_PRESET=like-slack` (`tests/soak/run --like-slack`) the
/// `like-slack` preset (deactivations lagging, strict bodies and filters, /Groups filters
/// refused, its fault rates); both with Slack's limits ten times faster and added latency.
fn soak_emulator(preset: Option<&str>) -> EmulatorConfig {
    let base = match preset {
        None | Some("") => EmulatorConfig {
            read_lag: Duration::from_millis(1000),
            group_names: GroupNames::Duplicate,
            faults: Faults {
                error_rate: 0.10,
                drop_rate: 0.05,
                ..Faults::default()
            },
            ..EmulatorConfig::default()
        },
        Some("like-slack") => EmulatorConfig::preset(Preset::LikeSlack),
        Some(other) => panic!("SCIMSYNC_SOAK_PRESET={other}: only like-slack is known"),
    };
    EmulatorConfig {
        rate_limit_scale: Some(10.0),
        faults: Faults {
            latency: Duration::from_millis(10),
            seed: 7,
            ..base.faults.clone()
        },
        ..base
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_converges_under_chaos_without_duplicates_or_flapping() {
    let rounds: usize = std::env::var("SCIMSYNC_SOAK_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let config = soak_emulator(std::env::var("SCIMSYNC_SOAK_PRESET").ok().as_deref());
    // An account outside scope for the competing client to write to.
    let o = org_with(
        config,
        store_of(vec![StoredUser::new("other", "other@partner.org")]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let url = o.emu.base_url(Version::V2);
    // A group create whose answer was lost is held `stuck.backoff` (1h by default) before it
    // is sent again, lest it make a second group: a few seconds here, past the read lag.
    write_config_with(
        dir.path(),
        &url,
        "  - yaml: people.yaml\n",
        "scope: {email_domains: [example.com]}\nunmanaged_users: deactivate\n\
         safety: {max_deactivations: 1000, max_deactivation_ratio: 1.0, \
         max_reactivations: 1000, max_reactivation_ratio: 1.0}\n\
         rate_limit: {share: 0.5, time_scale: 10}\naudit_log: audit.jsonl\n\
         stuck: {backoff: 3s}\n",
    );
    let steps: Vec<(String, Vec<Person>)> = (0..rounds)
        .flat_map(|r| {
            script(r)
                .into_iter()
                .map(move |(n, p)| (format!("round {r}: {n}"), p))
        })
        .collect();
    std::fs::write(dir.path().join("people.yaml"), yaml(&steps[0].1)).unwrap();

    let competitor = compete(&o, &url);

    let mut daemon = Daemon::start(dir.path(), o.emu.token(), "1s", &[], Stdio::null());
    let metrics = async || daemon.metrics().await;

    let started = Instant::now();
    for (i, (name, people)) in steps.iter().enumerate() {
        if i > 0 {
            std::fs::write(dir.path().join("people.yaml"), yaml(people)).unwrap();
        }
        wait_quiet(&metrics, name).await;
        check_equal(&o, people, name);
    }
    let elapsed = started.elapsed();
    competitor.abort();
    let m = metrics().await;
    daemon.child.kill().await.unwrap();

    let (applied, failed) = check_audit(dir.path(), &m);
    let passes = family(&m, "scimsync_passes_total", "outcome");
    eprintln!(
        "soak: {} edits in {elapsed:?}; {passes} passes; {} writes applied, {failed} failed; \
         {} rate-limit pauses",
        steps.len(),
        applied,
        series(&m, "scimsync_rate_limited_total")
    );
}

/// The competing client: half of Slack's user-update budget (180/min at ×10 → 15/s), spent on
/// an account outside scope.
fn compete(o: &crate::harness::Org, url: &str) -> tokio::task::JoinHandle<()> {
    let (url, token) = (url.to_string(), o.emu.token().to_string());
    let other = o
        .emu
        .with_store(|s| s.user_by_email("other@partner.org").unwrap().id.clone());
    tokio::spawn(async move {
        let http = scimsync::scim::http_client_builder().build().unwrap();
        let mut n = 0u64;
        loop {
            n += 1;
            let _ = http
                .patch(format!("{url}Users/{other}"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "title", "value": format!("t{n}")}]}))
                .send()
                .await;
            tokio::time::sleep(Duration::from_millis(1000 / 15)).await;
        }
    })
}

/// Waits until three passes in a row, each after the edit landed, are in sync: every pass
/// since the last look ended `success` (an error pass leaves the plan gauges as they were; a
/// held op makes it `partial`), and the latest plan has no op, conflict or stuck op.
async fn wait_quiet(metrics: &impl AsyncFn() -> String, name: &str) {
    let t = Instant::now();
    let mut empty_in_a_row = 0;
    let (mut last_pass, mut last_success) = (-1.0, -1.0);
    let edit_pass = family(&metrics().await, "scimsync_passes_total", "outcome");
    while empty_in_a_row < 3 {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "{name}: not quiet after 120 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
        let m = metrics().await;
        let passes = family(&m, "scimsync_passes_total", "outcome");
        let successes = family(&m, "scimsync_passes_total", "outcome=\"success\"");
        if passes <= last_pass || passes < edit_pass + 2.0 {
            continue;
        }
        let all_success = last_pass >= 0.0 && passes - last_pass == successes - last_success;
        (last_pass, last_success) = (passes, successes);
        let planned = family(&m, "scimsync_plan_ops", "kind");
        let conflicts = series(&m, "scimsync_plan_conflicts");
        let stuck = series(&m, "scimsync_stuck_ops");
        empty_in_a_row = if all_success && planned == 0.0 && conflicts == 0.0 && stuck == 0.0 {
            empty_in_a_row + 1
        } else {
            0
        };
    }
}

/// Every write is in the audit log and counted in the metrics `m`; no change was applied
/// twice. Returns the writes applied and failed.
fn check_audit(dir: &std::path::Path, m: &str) -> (usize, usize) {
    let audit = std::fs::read_to_string(dir.join("audit.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = audit
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let applied: Vec<&serde_json::Value> =
        lines.iter().filter(|l| l["result"] == "applied").collect();
    let failed = lines.iter().filter(|l| l["result"] == "failed").count();
    assert_eq!(
        applied.len() as f64,
        family(m, "scimsync_ops_total", "result=\"applied\"")
    );
    assert_eq!(
        failed as f64,
        family(m, "scimsync_ops_total", "result=\"failed\"")
    );
    let mut seen = BTreeSet::new();
    for l in &applied {
        let key = (
            l["op"].to_string(),
            l["subject"].to_string(),
            l["changes"].to_string(),
            l["members_added"].to_string(),
            l["members_removed"].to_string(),
            l["reason"].to_string(),
        );
        assert!(seen.insert(key.clone()), "applied twice: {key:?}");
    }
    (applied.len(), failed)
}
