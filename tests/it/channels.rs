//! User names share Slack's namespace with channels (FACTS TL;DR 6): a hire whose user name is
//! a channel's gets `username_taken` (issue 27). Its new group is still created, with the
//! members that exist, in the same pass; the refused create is held back like any stuck op,
//! not retried every pass for the group's sake; with `channels_file:` the plan shows the
//! collision as a conflict before anything is sent; `validate` warns about role-mailbox names
//! when no channel list is given.

use scimsync::emulator::{EmulatorConfig, StoredUser};
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness::{BOTH, Org, org_with, run_text as run, store_of, write_config_with};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

/// Three hires in one new group; `support` is also a channel's name in the emulator.
const DIRECTORY: &str = "users:\n  - {email: support@example.com}\n  - {email: ann@example.com}\n  \
                         - {email: bob@example.com}\ngroups:\n  - {name: help-desk, members: \
                         [support@example.com, ann@example.com, bob@example.com]}\n";

async fn org_with_channel() -> Org {
    let config = EmulatorConfig {
        channels: vec!["support".into()],
        ..EmulatorConfig::default()
    };
    org_with(
        config,
        store_of(vec![StoredUser::new("ops", "ops@example.com")]),
    )
    .await
}

/// The emulator's group `name`, as the user names of its members.
fn members(o: &Org, name: &str) -> Option<Vec<String>> {
    o.emu.with_store(|s| {
        let g = s.group_by_name(name)?;
        let mut names: Vec<String> = g
            .members
            .iter()
            .filter_map(|id| s.users().find(|u| &u.id == id).map(|u| u.user_name.clone()))
            .collect();
        names.sort();
        Some(names)
    })
}

fn setup(o: &Org, v: Version, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.yaml"), DIRECTORY).unwrap();
    let extra = format!(
        "{SCOPE}state_dir: \"{}\"\n{extra}",
        dir.path().join("state").display()
    );
    write_config_with(dir.path(), &o.emu.base_url(v), "  - yaml: d.yaml\n", &extra);
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_refused_by_a_channel_name_never_blocks_its_new_group() {
    for v in BOTH {
        let o = org_with_channel().await;
        let dir = setup(&o, v, "stuck: {after: 1, backoff: 1h}\n");
        let (code, text) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{v:?}: partial: {text}");
        assert!(text.contains("username_taken"), "{v:?}: {text}");
        assert_eq!(
            members(&o, "help-desk"),
            Some(vec!["ann".to_string(), "bob".to_string()]),
            "{v:?}: the group is created in the same pass, with the members that exist: {text}"
        );

        // The refused create is stuck: held back, not sent again for the group's sake; the
        // plan still says Slack falls short of the directory.
        let posts = o.emu.stats().count("POST", Endpoint::UserCreate);
        let (code, text) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 5, "{v:?}: {text}");
        assert!(text.contains("stuck"), "{v:?}: {text}");
        let (code, text) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{v:?}: {text}");
        assert_eq!(
            o.emu.stats().count("POST", Endpoint::UserCreate),
            posts,
            "{v:?}: not retried: {text}"
        );
        assert!(
            !text.contains("not added"),
            "{v:?}: no empty group change: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_a_channel_list_the_collision_is_a_conflict_in_the_plan() {
    for v in BOTH {
        let o = org_with_channel().await;
        let dir = setup(&o, v, "channels_file: channels.txt\n");
        std::fs::write(
            dir.path().join("channels.txt"),
            "general\n#random\n\n#Support\n",
        )
        .unwrap();
        let (code, text) = run(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 5, "{v:?}: {text}");
        assert!(
            text.contains("support@example.com") && text.contains("channel"),
            "{v:?}: {text}"
        );
        let (code, text) = run(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{v:?}: {text}");
        assert!(text.contains("0 failed"), "{v:?}: never sent: {text}");
        assert_eq!(o.emu.stats().count("POST", Endpoint::UserCreate), 2);
        assert_eq!(
            members(&o, "help-desk"),
            Some(vec!["ann".to_string(), "bob".to_string()]),
            "{v:?}: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_channels_file_is_a_config_error_naming_it() {
    let o = org_with_channel().await;
    let dir = setup(&o, Version::V2, "channels_file: nowhere.txt\n");
    let (code, text) = run(&o, dir.path(), &["validate"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("channels_file") && text.contains("nowhere.txt"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validate_warns_about_role_mailboxes_without_a_channel_list() {
    let o = org_with_channel().await;
    let dir = setup(&o, Version::V2, "");
    let (code, text) = run(&o, dir.path(), &["validate"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("warning") && text.contains("\"support\"") && text.contains("channels_file"),
        "{text}"
    );
    assert!(!text.contains("\"ann\""), "{text}");

    std::fs::write(dir.path().join("channels.txt"), "general\n").unwrap();
    let config = std::fs::read_to_string(dir.path().join("scimsync.yaml")).unwrap();
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        format!("{config}channels_file: channels.txt\n"),
    )
    .unwrap();
    let (code, text) = run(&o, dir.path(), &["validate"]);
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("role mailbox"), "{text}");
}
