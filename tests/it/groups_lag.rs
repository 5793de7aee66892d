//! Group creates are never duplicated, at any lag (issue 27). Slack may hold two groups of
//! one name, its reads lag its writes, and a reply may be lost after the write: a create is
//! sent once, a lost one is adopted only from a listing of the groups, and one that no listing
//! shows yet is held back by the memory instead of being sent again — however long the lag,
//! as long as `stuck.backoff` is longer.

use std::collections::BTreeMap;
use std::time::Duration;

use scimsync::emulator::{EmulatorConfig, Faults, GroupNames, StoredUser};
use scimsync::scim::Version;

use crate::harness::{BOTH, Org, org_with, run_text as run, store_of, write_config_with};

/// Far above every patience constant (a lost reply's lookup, 12 s; the confirmation after an
/// apply, 15 s).
const LAG: Duration = Duration::from_secs(25);

/// Groups to create, each with three of the seeded users.
const GROUPS: usize = 12;

fn config_extra(state: &std::path::Path) -> String {
    format!(
        "scope: {{email_domains: [example.com]}}\nrate_limit: {{time_scale: 100}}\n\
         state_dir: \"{}\"\nstuck: {{backoff: 40s}}\n",
        state.display()
    )
}

/// Groups per name in the emulator: every name must appear once.
fn duplicates(o: &Org) -> BTreeMap<String, usize> {
    let mut names = BTreeMap::new();
    o.emu.with_store(|s| {
        for g in s.groups() {
            *names.entry(g.display_name.clone()).or_insert(0) += 1;
        }
    });
    names.retain(|_, n| *n > 1);
    names
}

async fn never_duplicated(v: Version, seed: u64) {
    let users: Vec<StoredUser> = (0..GROUPS + 2)
        .map(|i| StoredUser::new(&format!("p{i}"), &format!("p{i}@example.com")))
        .collect();
    let config = EmulatorConfig {
        read_lag: LAG,
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    };
    let o = org_with(config, store_of(users)).await;
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("users:\n");
    for i in 0..GROUPS + 2 {
        yaml.push_str(&format!("  - {{email: p{i}@example.com}}\n"));
    }
    yaml.push_str("groups:\n");
    for g in 0..GROUPS {
        yaml.push_str(&format!(
            "  - {{name: team-{g}, members: [p{g}@example.com, p{}@example.com, p{}@example.com]}}\n",
            g + 1,
            g + 2
        ));
    }
    std::fs::write(dir.path().join("d.yaml"), yaml).unwrap();
    let extra = config_extra(&dir.path().join("state"));
    write_config_with(dir.path(), &o.emu.base_url(v), "  - yaml: d.yaml\n", &extra);

    // Repeated runs inside the lag, with ~30% of replies dropped (half of them after the
    // write): no run sends a group again, and none reports a duplicate as applied.
    o.emu.set_faults(Faults {
        drop_rate: 0.3,
        seed,
        ..Faults::default()
    });
    let org = std::sync::Arc::new(o);
    for run_no in 0..2 {
        let (o2, path) = (org.clone(), dir.path().to_path_buf());
        let (code, text) = tokio::task::spawn_blocking(move || run(&o2, &path, &["apply"]))
            .await
            .unwrap();
        assert!(code == 0 || code == 4, "{v:?} run {run_no}: {code}: {text}");
        assert_eq!(
            duplicates(&org),
            BTreeMap::new(),
            "{v:?} run {run_no}: {text}"
        );
        assert!(
            org.emu.with_store(|s| s.group_count()) <= GROUPS + 1,
            "{v:?}: {text}"
        );
    }
    assert!(
        org.emu.stats().dropped_connections > 0,
        "{v:?}: replies were dropped"
    );
    org.emu.set_faults(Faults::default());

    // Once the lag and the hold (40 s from the last run) are over, the next pass converges
    // from its listing.
    tokio::time::sleep(Duration::from_secs(41)).await;
    let (o2, path) = (org.clone(), dir.path().to_path_buf());
    let (code, text) = tokio::task::spawn_blocking(move || run(&o2, &path, &["apply"]))
        .await
        .unwrap();
    assert_eq!(code, 0, "{v:?}: {text}");
    tokio::time::sleep(LAG).await;
    let (o2, path) = (org.clone(), dir.path().to_path_buf());
    let (code, text) =
        tokio::task::spawn_blocking(move || run(&o2, &path, &["plan", "--detailed-exitcode"]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{v:?}: {text}");
    assert_eq!(duplicates(&org), BTreeMap::new(), "{v:?}");
    let (count, full) = org.emu.with_store(|s| {
        (
            s.groups()
                .filter(|g| g.display_name.starts_with("team-"))
                .count(),
            s.groups()
                .filter(|g| g.display_name.starts_with("team-"))
                .all(|g| g.members.len() == 3),
        )
    });
    assert_eq!(count, GROUPS, "{v:?}");
    assert!(full, "{v:?}: every group has its members");
}

/// v1 and v2 at once (each waits out the lag), each with two fault seeds.
#[tokio::test(flavor = "multi_thread")]
async fn group_creates_are_never_duplicated_under_lag_drops_and_duplicate_names() {
    let runs = BOTH
        .into_iter()
        .flat_map(|v| [(v, 7u64), (v, 4242u64)])
        .map(|(v, seed)| tokio::spawn(never_duplicated(v, seed)));
    for r in runs.collect::<Vec<_>>() {
        r.await.unwrap();
    }
}
