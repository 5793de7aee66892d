//! How fast the emulator serves a 1000-user page out of a 100,000-user organisation, over
//! HTTP on loopback, in both dialects.
//!
//! `cargo bench --bench emulator_page` prints the latency distribution per page.

use std::time::{Duration, Instant};

use scimsync::emulator::{Emulator, EmulatorConfig, Snapshot, Store, StoredGroup, StoredUser};
use scimsync::model::Attribute;
use scimsync::scim::Version;

const USERS: usize = 100_000;
const GROUPS: usize = 2_000;
const REQUESTS: usize = 200;

fn organisation() -> Store {
    let users: Vec<StoredUser> = (0..USERS)
        .map(|i| {
            let mut u = StoredUser::new(&format!("user{i}"), &format!("user{i}@example.com"))
                .with(Attribute::GivenName, format!("Given{i}"))
                .with(Attribute::FamilyName, format!("Family{i}"))
                .with(Attribute::Title, "Engineer");
            if i.is_multiple_of(3) {
                u = u
                    .with(Attribute::Department, "R&D")
                    .with(Attribute::EmployeeNumber, format!("E{i:06}"));
            }
            u
        })
        .collect();
    let groups = (0..GROUPS)
        .map(|g| StoredGroup {
            display_name: format!("group-{g}"),
            members: (0..50)
                .map(|k| format!("user{}@example.com", (g * 50 + k) % USERS))
                .collect(),
            ..StoredGroup::default()
        })
        .collect();
    Store::from_snapshot(Snapshot { users, groups }, 'W', 1, "bench").unwrap()
}

/// The `p`-th (0.0–1.0) value of `sorted`, nearest rank.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    // p ≤ 1, so the index is at most `len - 1`: it fits a usize.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

#[tokio::main]
async fn main() {
    let t = Instant::now();
    let store = organisation();
    eprintln!("built {USERS} users, {GROUPS} groups in {:?}", t.elapsed());
    let emu = Emulator::start(
        EmulatorConfig::default(),
        store,
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let http = scimsync::scim::http_client_builder().build().unwrap();
    let mut rng = fastrand::Rng::with_seed(7);
    for version in [Version::V1, Version::V2] {
        let mut times = Vec::with_capacity(REQUESTS);
        let mut bytes = 0;
        for i in 0..REQUESTS + 10 {
            let start = 1 + rng.usize(..USERS - 1000);
            let url = format!(
                "{}Users?startIndex={start}&count=1000",
                emu.base_url(version)
            );
            let t = Instant::now();
            let body = http
                .get(&url)
                .bearer_auth(emu.token())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            let took = t.elapsed();
            assert!(body.len() > 100_000, "a full page");
            if i >= 10 {
                times.push(took);
                bytes += body.len();
            }
        }
        times.sort();
        println!(
            "{version}: GET /Users?count=1000 of {USERS} users: median {:?}, p99 {:?}, max {:?} ({} KiB/page)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            times[times.len() - 1],
            bytes / REQUESTS / 1024
        );
        // Filtered lookups go through the indexes.
        let t = Instant::now();
        for i in 0..REQUESTS {
            let url = format!(
                "{}Users?filter=email%20eq%20%22user{}%40example.com%22",
                emu.base_url(version),
                rng.usize(..USERS) + i % 2
            );
            http.get(&url)
                .bearer_auth(emu.token())
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
        }
        println!(
            "{version}: GET /Users?filter=email eq …: mean {:?}",
            t.elapsed() / u32::try_from(REQUESTS).expect("REQUESTS fits a u32")
        );
    }
}
