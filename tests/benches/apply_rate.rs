//! Two benchmarks against Slack's limits, time-scaled. `cargo bench --bench apply_rate`
//! runs both; `-- creates` or `-- mixed` one.
//!
//! `creates`: 2,000 creates, how close the executor gets to the allowed write rate without
//! going over.
//!
//! POST /Users allows a burst of 20 then 180/min; with the emulator and the client both
//! running ×60 that is 180/s. The allowed number of creates in `t` seconds is 20 + 180·t, so
//! the figure of merit is `creates / (20 + 180·t)` (1.0 = exactly at the limit).

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The integration tests' harness, for its one way to start the binary.
#[allow(dead_code)]
#[path = "../it/harness.rs"]
mod harness;

use scimsync::config::Policy;
use scimsync::directory::{Attribute, DesiredUser, Directory, TextValues};
use scimsync::emulator::{Emulator, EmulatorConfig, Store};
use scimsync::scim::caller::Caller;
use scimsync::scim::live::LiveState;
use scimsync::scim::{ScimClient, Token, Version};

const CREATES: usize = 2000;
const SCALE: f64 = 60.0;

fn user(i: usize) -> DesiredUser {
    named(&format!("bench{i:05}"), i)
}

/// A directory user `name@example.com`, an engineer.
fn named(name: &str, i: usize) -> DesiredUser {
    let email = format!("{name}@example.com");
    DesiredUser {
        id: None,
        email: email.clone(),
        email_key: email,
        user_name: None,
        user_name_key: name.to_string(),
        texts: {
            let mut t = TextValues::default();
            t.set(Attribute::GivenName, Some(format!("Bench{i}")));
            t.set(Attribute::FamilyName, Some("User"));
            t.set(Attribute::Title, Some("Engineer"));
            t.set(Attribute::EmployeeNumber, Some(format!("B{i:05}")));
            t.set(Attribute::Department, Some("R&D"));
            t
        },
        manager: None,
        guest: None,
        active: true,
        blanks: vec![],
        location: scimsync::diag::SourceLocation::new(
            &Arc::from("bench"),
            u32::try_from(i).unwrap_or(u32::MAX),
            1,
        ),
        origins: Default::default(),
    }
}

#[tokio::main]
async fn main() {
    let which = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if which.as_deref().is_none_or(|w| w == "creates") {
        creates().await;
    }
    if which.as_deref().is_none_or(|w| w == "mixed") {
        for share in [1.0, 0.5] {
            mixed::run(share, false).await;
        }
        // With 1,000 group changes on top, the org-wide 600 writes/min binds: the leavers
        // still go at their own endpoint's full rate.
        mixed::run(1.0, true).await;
    }
}

async fn creates() {
    let emu = Emulator::start(
        EmulatorConfig {
            rate_limit_scale: Some(SCALE),
            ..EmulatorConfig::default()
        },
        Store::new('W', 1),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    for (version, concurrency) in [(Version::V2, 4), (Version::V1, 8)] {
        emu.with_store(|s| *s = Store::new('W', 1));
        // Let the emulator's buckets refill after the previous round.
        tokio::time::sleep(Duration::from_secs(2)).await;
        emu.reset_stats();
        let client = ScimClient::new(
            &emu.base_url(version),
            None,
            Token::new(emu.token()).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap();
        let caller = Caller::new(Arc::new(client), 1.0, SCALE);
        let mut users: Vec<DesiredUser> = (0..CREATES).map(user).collect();
        users.sort_by(|a, b| a.email_key.cmp(&b.email_key));
        let dir = Directory {
            users,
            groups: vec![],
            skipped: vec![],
            sources: vec![],
        };
        let mut policy = Policy::default();
        policy.scope.email_domains = vec!["example.com".into()];
        let plan = scimsync::plan::plan(&dir, &LiveState::default(), &policy);
        assert_eq!(plan.summary().create, CREATES);

        let t = Instant::now();
        let outcome = scimsync::apply::execute(&plan, &caller, concurrency, None).await;
        let elapsed = t.elapsed().as_secs_f64();
        assert!(outcome.complete(), "{}", outcome.render());
        let rate = 180.0 * SCALE / 60.0;
        let allowed = 20.0 + rate * elapsed;
        let s = emu.stats();
        println!(
            "{version}, concurrency {concurrency}: {CREATES} creates in {elapsed:.2}s = {:.1}/s; \
             allowed {allowed:.0} in that time → ratio {:.3}; 429s from the emulator: {}; \
             most creates in any 1 s: {} (budget {:.0})",
            CREATES as f64 / elapsed,
            CREATES as f64 / allowed,
            s.rate_limited,
            s.max_writes_in(Duration::from_secs(1)),
            20.0 + rate
        );
    }
}

/// `mixed`: 1,000 creates, 1,000 updates and 1,000 deactivations applied together against
/// `scimsync emulator --time-scale 60` (its own process, Slack's limits on), at a share of
/// Slack's budgets. Reports the total time against the floor that the per-endpoint and
/// org-wide limits set at that share ([`scimsync::plan::estimate`]), the 429s, and when the
/// first and the last leaver were deactivated against what the deactivation endpoint's own
/// budget needs for all of them. With `groups`, also 1,000 group changes (one new member
/// each), so that the org-wide budget, not an endpoint's, sets the floor.
mod mixed {
    use std::io::{BufRead, BufReader};
    use std::process::{Child, Stdio};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use scimsync::apply::AuditLog;
    use scimsync::config::Policy;
    use scimsync::directory::{Attribute, DesiredGroup, Directory};
    use scimsync::plan::estimate::estimate;
    use scimsync::plan::{Op, Plan};
    use scimsync::scim::caller::Caller;
    use scimsync::scim::live::LiveState;
    use scimsync::scim::{ScimClient, Token};

    use super::{SCALE, named};

    const EACH: usize = 1000;
    const CONCURRENCY: usize = 4;

    struct Emulator(Child, String);

    impl Drop for Emulator {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// `scimsync emulator --time-scale 60` seeded with `EACH` engineers to update and `EACH`
    /// leavers.
    fn emulator(dir: &std::path::Path, groups: bool) -> Emulator {
        let mut seed = String::from("users:\n");
        for i in 0..EACH {
            for kind in ["stay", "leave"] {
                seed.push_str(&format!(
                    "  - {{user_name: {kind}{i:05}, email: {kind}{i:05}@example.com, title: Engineer}}\n"
                ));
            }
        }
        if groups {
            seed.push_str("groups:\n");
            for i in 0..EACH {
                seed.push_str(&format!("  - {{display_name: team{i:05}, members: []}}\n"));
            }
        }
        let path = dir.join("seed.yaml");
        std::fs::write(&path, seed).unwrap();
        let mut child = crate::harness::command()
            .args(["emulator", "--listen", "127.0.0.1:0", "--time-scale"])
            .arg(SCALE.to_string())
            .arg("--seed")
            .arg(&path)
            .env("SCIMSYNC_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        Emulator(child, line.trim().to_string())
    }

    /// The plan: `EACH` new people, `EACH` engineers promoted, `EACH` leavers.
    async fn plan(caller: &Caller, with_groups: bool) -> Plan {
        let users = caller.list_users().await.unwrap();
        let groups = caller.list_groups().await.unwrap();
        let live = LiveState::from_scim(&users, &groups);
        let mut desired = Vec::new();
        for i in 0..EACH {
            desired.push(named(&format!("new{i:05}"), i));
            let mut stay = named(&format!("stay{i:05}"), i);
            stay.texts.set(Attribute::Title, Some("Lead"));
            desired.push(stay);
            let mut leave = named(&format!("leave{i:05}"), i);
            leave.active = false;
            desired.push(leave);
        }
        desired.sort_by(|a, b| a.email_key.cmp(&b.email_key));
        let groups = (0..EACH)
            .filter(|_| with_groups)
            .map(|i| DesiredGroup {
                name: format!("team{i:05}"),
                name_key: format!("team{i:05}"),
                members: vec![format!("stay{i:05}@example.com")],
                location: scimsync::diag::SourceLocation::new(&Arc::from("bench"), 1, 1),
            })
            .collect();
        let dir = Directory {
            users: desired,
            groups,
            skipped: vec![],
            sources: vec![],
        };
        let mut policy = Policy::default();
        policy.scope.email_domains = vec!["example.com".into()];
        policy.safety.max_deactivations = u32::MAX;
        policy.safety.max_deactivation_ratio = 1.0;
        scimsync::plan::plan(&dir, &live, &policy)
    }

    /// Seconds after `start` of each audit line of kind `op`, in order.
    fn times(audit: &str, op: &str, start: chrono::DateTime<chrono::Utc>) -> Vec<f64> {
        audit
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|l| l["op"] == op && l["result"] == "applied")
            .map(|l| {
                let t = chrono::DateTime::parse_from_rfc3339(l["time"].as_str().unwrap()).unwrap();
                (t.with_timezone(&chrono::Utc) - start).as_seconds_f64()
            })
            .collect()
    }

    pub async fn run(share: f64, groups: bool) {
        let dir = tempfile::tempdir().unwrap();
        let emu = emulator(dir.path(), groups);
        let client = ScimClient::new(
            &emu.1,
            None,
            Token::new(scimsync::cli::DEFAULT_EMULATOR_TOKEN).unwrap(),
            Duration::from_secs(10),
        )
        .unwrap();
        let caller = Caller::new(Arc::new(client), share, SCALE);
        let plan = plan(&caller, groups).await;
        let s = plan.summary();
        assert_eq!(s.group_update, if groups { EACH } else { 0 }, "{s:?}");
        assert_eq!(
            (s.create, s.update, s.deactivate),
            (EACH, EACH, EACH),
            "{s:?}"
        );
        assert!(plan.guards.is_empty(), "{:?}", plan.guards);
        // The listing's reads do not touch the write budgets; let the read burst refill anyway.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let floor = estimate(&plan, share).seconds / SCALE;
        let mut leavers = plan.clone();
        leavers
            .ops
            .retain(|op| matches!(op.op, Op::DeactivateUser { .. }));
        let leaver_budget = estimate(&leavers, share).seconds / SCALE;

        let audit_path = dir.path().join("audit.jsonl");
        let audit = Arc::new(AuditLog::open(&audit_path).unwrap());
        let wall = chrono::Utc::now();
        let t = Instant::now();
        let outcome = scimsync::apply::execute(&plan, &caller, CONCURRENCY, Some(audit)).await;
        let total = t.elapsed().as_secs_f64();
        assert!(outcome.complete(), "{}", outcome.render());
        let stats_url = url::Url::parse(&emu.1)
            .unwrap()
            .join("/_emulator/stats")
            .unwrap();
        let stats: serde_json::Value = reqwest::get(stats_url).await.unwrap().json().await.unwrap();
        let audit = std::fs::read_to_string(&audit_path).unwrap();
        let gone = times(&audit, "deactivate_user", wall);
        let created = times(&audit, "create_user", wall);
        let (first, last) = (gone[0], gone[gone.len() - 1]);
        println!(
            "mixed, share {share}, concurrency {CONCURRENCY} per endpoint, ×{SCALE}: \
             {EACH} creates + {EACH} updates + {EACH} deactivations{} in {total:.2}s; floor \
             {floor:.2}s ({}) → {:.3}× the floor; 429s: {} seen by the client, {} sent by the \
             emulator",
            if groups {
                format!(" + {EACH} group changes")
            } else {
                String::new()
            },
            estimate(&plan, share).bound_by,
            total / floor,
            outcome.rate_limited,
            stats["rate_limited"],
        );
        println!(
            "  leavers: first deactivated at {first:.3}s ({:.1}% of the run), last at {last:.2}s \
             = {:.3}× the {leaver_budget:.2}s their endpoint's budget needs; last create at \
             {:.2}s",
            100.0 * first / total,
            last / leaver_budget,
            created.last().copied().unwrap_or_default(),
        );
        let met = |ok: bool| if ok { "met" } else { "NOT MET" };
        if groups {
            // The floor assumes the org-wide budget split so that every lane ends together;
            // lanes share it as they come, so the group changes finish last, at their own
            // endpoint's rate. What this run shows is the leavers at theirs.
            println!(
                "  targets: leavers first while the org-wide budget binds, last leaver ≤ 1.05× \
                 their budget {}; no 429 {}",
                met(last <= 1.05 * leaver_budget),
                met(outcome.rate_limited == 0 && stats["rate_limited"] == 0),
            );
            return;
        }
        println!(
            "  targets: total ≤ 1.05× floor {}; no 429 {}; first leaver in the first 5% {}; \
             last leaver ≤ 1.05× their budget {}",
            met(total <= 1.05 * floor),
            met(outcome.rate_limited == 0 && stats["rate_limited"] == 0),
            met(first <= 0.05 * total),
            met(last <= 1.05 * leaver_budget),
        );
    }
}
