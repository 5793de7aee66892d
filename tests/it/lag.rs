//! Slack is slow and unkind: reads lag writes, and group names may repeat. scimsync never
//! creates a duplicate, never fails a change because a read lagged, and a plan made right
//! after a successful apply is empty (what CI and a cron job followed by a check do).

use std::time::Duration;

use scimsync::emulator::{EmulatorConfig, Faults, GroupNames, Store, StoredUser};
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness::{BOTH, org_with, run_text as run, store_of, write_config_with};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n\
                     unmanaged_users: deactivate\nsafety: {max_deactivation_ratio: 1.0}\n";

fn lagging() -> EmulatorConfig {
    EmulatorConfig {
        read_lag: Duration::from_millis(1500),
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_reads_lagging_an_apply_is_followed_by_an_empty_plan() {
    for v in BOTH {
        let users = vec![StoredUser::new("leaver", "leaver@example.com"), {
            let mut u = StoredUser::new("rejoiner", "rejoiner@example.com");
            u.active = false;
            u
        }];
        let store = store_of(users);
        let o = org_with(lagging(), store).await;
        let dir = tempfile::tempdir().unwrap();
        let mut yaml = String::from("users:\n  - {email: rejoiner@example.com}\n");
        for i in 0..8 {
            yaml.push_str(&format!(
                "  - {{email: p{i}@example.com, title: Engineer{}}}\n",
                if i > 0 {
                    ", manager: p0@example.com"
                } else {
                    ""
                }
            ));
        }
        yaml.push_str("groups:\n  - {name: everyone, members: [p0@example.com, p1@example.com, rejoiner@example.com]}\n");
        std::fs::write(dir.path().join("people.yaml"), &yaml).unwrap();
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - yaml: people.yaml\n",
            SCOPE,
        );

        let (code, text) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v:?}: {text}");
        assert!(
            !text.contains("does not show"),
            "confirmed within the patience: {text}"
        );
        let writes = o.emu.stats().writes;
        // Straight after: in sync, with zero writes.
        let (code, text) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{v:?}: {text}");
        let (code, text) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v:?}: {text}");
        assert_eq!(o.emu.stats().writes, writes, "{v:?}: nothing re-sent");
        let groups = o.emu.with_store(|s| s.group_count());
        assert_eq!(groups, 1, "{v:?}: one group, no duplicate");

        // A lifecycle change under the same lag: a title, a leaver, a new group member.
        std::fs::write(
            dir.path().join("people.yaml"),
            yaml.replace(
                "p1@example.com, title: Engineer",
                "p1@example.com, title: Lead",
            )
            .replace(
                "  - {email: p7@example.com, title: Engineer, manager: p0@example.com}\n",
                "",
            )
            .replace(
                "p1@example.com, rejoiner",
                "p1@example.com, p2@example.com, rejoiner",
            ),
        )
        .unwrap();
        let (code, text) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v:?}: {text}");
        let (code, text) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{v:?}: {text}");
    }
}

/// A group create whose answer is lost, against a Slack that accepts a second group of the same
/// name and whose reads lag: the group is looked up (patiently) and adopted, never created
/// twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_lost_group_create_reply_never_makes_a_duplicate_group() {
    // A seed whose first roll drops the connection after the write (later drops are
    // retried like any other).
    let mut seed = None;
    for candidate in 0..500u64 {
        let mut rng = fastrand::Rng::with_seed(candidate);
        let (e1, _s1, d1) = (rng.f64(), rng.bool(), rng.f64());
        let before = rng.bool();
        if e1 >= 0.0 && d1 < 0.5 && !before {
            seed = Some(candidate);
            break;
        }
    }
    let seed = seed.expect("a seed");
    let users = vec![StoredUser::new("ada", "ada@example.com")];
    let store = store_of(users);
    let o = org_with(lagging(), store).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.yaml"),
        "users:\n  - {email: ada@example.com}\ngroups:\n  - {name: eng, members: [ada@example.com]}\n",
    )
    .unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: d.yaml\n",
        SCOPE,
    );
    // Wait out the lag on the seeded user, then plan.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (plan, caller) = crate::harness::plan_in_process(&o, Version::V2, dir.path()).await;
    assert_eq!(plan.summary().group_create, 1, "{:?}", plan.ops);

    o.emu.set_faults(Faults {
        drop_rate: 0.5,
        seed,
        ..Faults::default()
    });
    let outcome = scimsync::apply::execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    let s = o.emu.stats();
    assert!(s.dropped_connections >= 1, "the first answer was lost");
    assert_eq!(
        s.count("POST", Endpoint::GroupCreate),
        1,
        "never sent twice"
    );
    assert!(outcome.complete(), "{}", outcome.render());
    assert!(serde_json::to_string(&outcome).unwrap().contains("adopted"));
    assert_eq!(
        o.emu.with_store(|s| s.group_count()),
        1,
        "one group named eng"
    );
    let members = o
        .emu
        .with_store(|s| s.group_by_name("eng").map(|g| g.members.len()));
    assert_eq!(members, Some(1));
}

/// Slack already holds two groups of one name: a conflict; no third is created and neither is
/// written.
#[tokio::test(flavor = "multi_thread")]
async fn two_groups_of_one_name_are_a_conflict_not_a_third() {
    let o = org_with(lagging(), Store::new('W', 9)).await;
    let url = o.emu.base_url(Version::V2);
    let http = scimsync::scim::http_client_builder().build().unwrap();
    for _ in 0..2 {
        let r = http
            .post(format!("{url}Groups"))
            .bearer_auth(o.emu.token())
            .json(&serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "eng"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.yaml"),
        "users:\n  - {email: ada@example.com}\ngroups:\n  - {name: eng, members: [ada@example.com]}\n",
    )
    .unwrap();
    write_config_with(dir.path(), &url, "  - yaml: d.yaml\n", SCOPE);
    o.emu.reset_stats();
    let (code, text) = run(&o, dir.path(), &["apply"]);
    assert_eq!(code, 4, "{text}");
    assert!(
        text.contains("Slack holds 2 groups named \"eng\""),
        "{text}"
    );
    assert_eq!(o.emu.stats().count("POST", Endpoint::GroupCreate), 0);
    assert_eq!(o.emu.with_store(|s| s.group_count()), 2);
}
