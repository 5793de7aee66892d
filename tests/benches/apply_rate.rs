//! 2,000 creates against Slack's limits, time-scaled: how close the executor gets to the
//! allowed write rate without going over. `cargo bench --bench apply_rate`.
//!
//! POST /Users allows a burst of 20 then 180/min; with the emulator and the client both
//! running ×60 that is 180/s. The allowed number of creates in `t` seconds is 20 + 180·t, so
//! the figure of merit is `creates / (20 + 180·t)` (1.0 = exactly at the limit).

use std::sync::Arc;
use std::time::{Duration, Instant};

use scimsync::config::Policy;
use scimsync::directory::{Attribute, DesiredUser, Directory, TextValues};
use scimsync::emulator::{Emulator, EmulatorConfig, Store};
use scimsync::scim::live::LiveState;
use scimsync::scim::retry::Caller;
use scimsync::scim::{ScimClient, Token, Version};

const CREATES: usize = 2000;
const SCALE: f64 = 60.0;

fn user(i: usize) -> DesiredUser {
    let email = format!("bench{i:05}@example.com");
    DesiredUser {
        id: None,
        email: email.clone(),
        email_key: email,
        user_name: None,
        user_name_key: format!("bench{i:05}"),
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
        groups: vec![],
        blanks: vec![],
        location: scimsync::diag::SourceLocation::new(
            &Arc::from("bench"),
            u32::try_from(i).unwrap_or(u32::MAX),
            1,
        ),
        origins: vec![],
    }
}

#[tokio::main]
async fn main() {
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
