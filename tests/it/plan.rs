//! `scimsync plan` and `scimsync dump` as the real binary against the emulator, v1 and v2:
//! a plan costs exactly `ceil(users/1000) + ceil(groups/1000)` list requests and no write;
//! a dumped organisation plans to nothing.

use scimsync::emulator::{EmulatorConfig, Snapshot, Store, StoredGroup, StoredUser};
use scimsync::model::Attribute;
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness::{BOTH, org_with, scimsync, write_config};

fn organisation(users: usize, groups: usize) -> Store {
    let users = (0..users)
        .map(|i| StoredUser::new(&format!("user{i}"), &format!("user{i}@example.com")))
        .collect();
    let groups = (0..groups)
        .map(|g| StoredGroup {
            display_name: format!("group{g}"),
            members: vec![format!("user{g}")],
            ..StoredGroup::default()
        })
        .collect();
    Store::from_snapshot(Snapshot { users, groups }, 'W', 1, "test").unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_only_lists_and_never_writes() {
    let o = org_with(EmulatorConfig::default(), organisation(2345, 3)).await;
    for v in BOTH {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("people.csv"),
            "Email,Title\nuser1@example.com,Engineer\nnew@example.com,Intern\n",
        )
        .unwrap();
        write_config(
            dir.path(),
            &o.emu.base_url(v),
            "  - csv: people.csv\n    columns: {email: Email, title: Title}\n",
        );
        o.emu.reset_stats();
        let out = scimsync(dir.path(), o.emu.token(), &["plan", "--detailed-exitcode"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.starts_with("Plan: 1 to create, 0 to reactivate, 1 to update"),
            "{stdout}"
        );
        assert!(
            stdout.contains("+ create user    new@example.com (new)"),
            "{stdout}"
        );
        assert!(
            stdout.contains("title        (unset) → \"Engineer\""),
            "{stdout}"
        );

        let s = o.emu.stats();
        assert_eq!(
            s.count("GET", Endpoint::UsersList),
            3,
            "ceil(2345/1000) user pages ({v})"
        );
        assert_eq!(s.count("GET", Endpoint::GroupsList), 1);
        assert_eq!(s.reads, 4, "nothing but list requests");
        assert_eq!(s.writes, 0, "plan never writes");

        // The same report through `apply --dry-run`, as JSON.
        o.emu.reset_stats();
        let out = scimsync(
            dir.path(),
            o.emu.token(),
            &["apply", "--dry-run", "--format", "json"],
        );
        assert_eq!(out.status.code(), Some(0));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["format_version"], scimsync::plan::PLAN_FORMAT_VERSION);
        assert_eq!(json["summary"]["create"], 1);
        assert_eq!(json["ops"][0]["op"], "create_user");
        assert_eq!(o.emu.stats().writes, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_or_unauthorised_target_is_exit_1_and_the_token_is_never_printed() {
    let o = org_with(EmulatorConfig::default(), organisation(3, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("d.yaml"),
        "users:\n  - email: user1@example.com\n",
    )
    .unwrap();
    write_config(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - yaml: d.yaml\n",
    );
    let out = scimsync(dir.path(), "xoxp-wrong-secret-9876", &["plan"]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(all.contains("invalid_authentication"), "{all}");
    assert!(!all.contains("secret-9876"), "{all}");
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_source_fails_before_slack_is_asked() {
    let o = org_with(EmulatorConfig::default(), organisation(3, 0)).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.csv"),
        "Email,Title\nuser1@example.com\n",
    )
    .unwrap();
    write_config(
        dir.path(),
        &o.emu.base_url(Version::V1),
        "  - csv: people.csv\n    columns: {email: Email, title: Title}\n",
    );
    let out = scimsync(dir.path(), o.emu.token(), &["plan"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr.contains("people.csv:2"), "{stderr}");
    assert!(out.stdout.is_empty(), "no plan on a partial read");
    let s = o.emu.stats();
    assert_eq!((s.reads, s.writes), (0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dumped_organisation_plans_to_nothing() {
    let mut store = organisation(30, 2);
    store.replace_user(
        store
            .user_by_user_name("user0")
            .unwrap()
            .clone()
            .with(Attribute::Title, "Boss")
            .with(Attribute::Department, "R&D")
            .with(Attribute::EmployeeNumber, "E-1"),
    );
    let manager = store.user_by_user_name("user0").unwrap().id.clone();
    store.replace_user(StoredUser {
        manager_id: Some(manager),
        active: false,
        ..store.user_by_user_name("user5").unwrap().clone()
    });
    let o = org_with(EmulatorConfig::default(), store).await;
    for v in BOTH {
        let dir = tempfile::tempdir().unwrap();
        write_config(dir.path(), &o.emu.base_url(v), "  - yaml: live.yaml\n");
        let out = scimsync(dir.path(), o.emu.token(), &["dump", "--out", "live.yaml"]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let yaml = std::fs::read_to_string(dir.path().join("live.yaml")).unwrap();
        assert!(
            yaml.contains("title: Boss") && yaml.contains("active: false"),
            "{yaml}"
        );
        let out = scimsync(dir.path(), o.emu.token(), &["plan", "--detailed-exitcode"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("No changes"), "{stdout}");
    }
}
