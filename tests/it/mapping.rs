//! Directory mapping for real HR exports, end to end against the emulator, v1 and v2: a CSV
//! column with fallback headers (a blank preferred name → the legal one), and the one rule
//! for blank values in CSV and YAML — Slack's value kept by default, cleared with
//! `blank: clear`.

use scimsync::emulator::{EmulatorConfig, StoredUser};
use scimsync::model::Attribute;
use scimsync::scim::Version;

use crate::harness::{BOTH, org_with, run_text, store_of, write_config_with, yaml_setup};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

/// Ada works under Grace, with a title, a phone, a department and a start date in Slack.
fn staffed() -> Vec<StoredUser> {
    vec![
        StoredUser {
            id: "W0GRACE".into(),
            ..StoredUser::new("grace", "grace@example.com")
                .with(Attribute::GivenName, "Grace")
                .with(Attribute::FamilyName, "Hopper")
        },
        StoredUser {
            id: "W0ADA".into(),
            primary_phone: Some("+1 555 0100".into()),
            manager_id: Some("W0GRACE".into()),
            ..StoredUser::new("ada", "ada@example.com")
                .with(Attribute::GivenName, "Ada")
                .with(Attribute::FamilyName, "Lovelace")
                .with(Attribute::Title, "Engineer")
                .with(Attribute::Department, "R&D")
        },
    ]
}

fn ada(o: &crate::harness::Org) -> StoredUser {
    o.emu
        .with_store(|s| s.user_by_email("ada@example.com").unwrap().clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blank_preferred_name_falls_back_to_the_legal_one() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store_of(vec![])).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("people.csv"),
            "Work Email,Preferred First,Legal First,Last\n\
             ada@example.com,Addie,Augusta Ada,Lovelace\n\
             grace@example.com,,Grace,Hopper\n",
        )
        .unwrap();
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - csv: people.csv\n    columns:\n      email: Work Email\n      \
             given_name: [Preferred First, Legal First]\n      family_name: Last\n",
            SCOPE,
        );
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        let given = |email: &str| {
            o.emu.with_store(|s| {
                s.user_by_email(email)
                    .unwrap()
                    .text(Attribute::GivenName)
                    .map(str::to_string)
            })
        };
        assert_eq!(given("ada@example.com").as_deref(), Some("Addie"), "{v}");
        assert_eq!(given("grace@example.com").as_deref(), Some("Grace"), "{v}");

        // A fallback header the export lacks fails the source, naming it; nothing is written.
        o.emu.reset_stats();
        std::fs::write(
            dir.path().join("people.csv"),
            "Work Email,Preferred First,Last\nada@example.com,,Lovelace\n",
        )
        .unwrap();
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 1, "{v}: {out}");
        assert!(
            out.contains("people.csv:1:1: error: no column \"Legal First\" (mapped to given_name)"),
            "{v}: {out}"
        );
        assert_eq!(o.emu.stats().writes, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blank_csv_cells_keep_slacks_values_unless_the_attribute_says_clear() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store_of(staffed())).await;
        let dir = tempfile::tempdir().unwrap();
        // Ada's title, phone, department, manager and names are blank in the export.
        std::fs::write(
            dir.path().join("people.csv"),
            "Email,First,Last,Title,Phone,Dept,Manager\n\
             grace@example.com,Grace,Hopper,,,,\n\
             ada@example.com,,,,,,\n",
        )
        .unwrap();
        let sources = "  - csv: people.csv\n    columns: {email: Email, given_name: First, \
                       family_name: Last, title: Title, phone: Phone, department: Dept, \
                       manager_email: Manager}\n";
        // By default a blank keeps Slack's value: nothing to write.
        write_config_with(dir.path(), &o.emu.base_url(v), sources, SCOPE);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        assert!(out.contains("No changes"), "{v}: {out}");
        assert_eq!(ada(&o).text(Attribute::Title), Some("Engineer"));

        // `blank: clear` on title, phone and manager: Slack's values are removed; the
        // department (keep) and the names (never cleared) stay.
        write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            sources,
            &format!(
                "{SCOPE}attributes:\n  title: {{blank: clear}}\n  phone: {{blank: clear}}\n  \
                 manager: {{blank: clear}}\n  department: {{blank: keep}}\n"
            ),
        );
        let (code, out) = run_text(&o, dir.path(), &["plan"]);
        assert_eq!(code, 0, "{v}: {out}");
        assert!(
            out.contains("(unset)"),
            "{v}: the plan shows the clears: {out}"
        );
        // Three of Ada's values in a two-person org: over the clear ratio's floor of one
        // (the clear guard itself: tests/it/clears.rs).
        let (code, out) = run_text(&o, dir.path(), &["apply", "--allow", "max-clear-ratio"]);
        assert_eq!(code, 0, "{v}: {out}");
        let after = ada(&o);
        assert_eq!(after.text(Attribute::Title), None, "{v}: {out}");
        assert_eq!(after.primary_phone, None, "{v}");
        assert_eq!(after.manager_id, None, "{v}");
        assert_eq!(after.text(Attribute::Department), Some("R&D"), "{v}");
        assert_eq!(after.text(Attribute::GivenName), Some("Ada"), "{v}");
        assert_eq!(after.text(Attribute::FamilyName), Some("Lovelace"), "{v}");

        // Converged: the next plan is empty.
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{v}: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn blank_yaml_values_follow_the_same_rule() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store_of(staffed())).await;
        let dir = tempfile::tempdir().unwrap();
        // `title: ""`, `phone:` (null) and a blank name: no error, no value.
        let yaml = "users:\n  - {email: grace@example.com}\n  - email: ada@example.com\n    \
                    given_name: ''\n    title: ''\n    phone:\n    department: ''\n";
        yaml_setup(dir.path(), &o.emu.base_url(v), yaml, SCOPE);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        assert!(out.contains("No changes"), "{v}: {out}");

        yaml_setup(
            dir.path(),
            &o.emu.base_url(v),
            yaml,
            &format!("{SCOPE}attributes:\n  title: {{blank: clear}}\n  phone: {{blank: clear}}\n"),
        );
        let (code, out) = run_text(&o, dir.path(), &["apply", "--allow", "max-clear-ratio"]);
        assert_eq!(code, 0, "{v}: {out}");
        let after = ada(&o);
        assert_eq!(after.text(Attribute::Title), None, "{v}: {out}");
        assert_eq!(after.primary_phone, None, "{v}");
        assert_eq!(after.text(Attribute::Department), Some("R&D"), "{v}");
        assert_eq!(after.text(Attribute::GivenName), Some("Ada"), "{v}");
        assert_eq!(
            after.manager_id.as_deref(),
            Some("W0GRACE"),
            "{v}: a manager no source mentions is never touched"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clearing_a_name_is_a_located_config_error_and_nothing_is_written() {
    let o = org_with(EmulatorConfig::default(), store_of(staffed())).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com, given_name: ''}\n",
        &format!("{SCOPE}attributes:\n  given_name: {{blank: clear}}\n"),
    );
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(
            "scimsync.yaml:7:23: error: attributes.given_name: `blank: clear` is not allowed: \
             a name is never cleared (Slack requires one)"
        ),
        "{out}"
    );
    assert_eq!(o.emu.stats().writes, 0);
}

/// `nickname` is Slack's nickName, which Slack keeps equal to the userName (FACTS TL;DR 5;
/// the emulator keeps one name under both keys): end to end in both dialects, a directory
/// declaring it plans it, PATCHes and creates with it, the emulator renames the account and
/// shows it, `dump` writes it, and the next plan is empty. A nickname that is not the
/// person's user name is refused, naming both, and nothing is written.
#[tokio::test(flavor = "multi_thread")]
async fn a_nickname_is_the_user_name_slack_keeps_and_converges() {
    for v in BOTH {
        let users = vec![
            StoredUser::new("ada", "ada@example.com"),
            StoredUser::new("grace", "grace@example.com"),
        ];
        let o = org_with(EmulatorConfig::default(), store_of(users)).await;
        let dir = tempfile::tempdir().unwrap();
        // Ada is renamed (both keys given, in Slack's spelling or not); Grace's nickname is
        // the one her email gives; Lin is new.
        let yaml = "users:\n  - {email: ada@example.com, user_name: ada.l, nickname: Ada.L}\n  \
                    - {email: grace@example.com, nickname: grace}\n  \
                    - {email: lin@example.com, nickname: lin}\n";
        yaml_setup(dir.path(), &o.emu.base_url(v), yaml, SCOPE);
        let (code, out) = run_text(&o, dir.path(), &["plan"]);
        assert_eq!(code, 0, "{v}: {out}");
        assert!(
            out.contains("1 to create, 0 to reactivate, 1 to update")
                && out.contains("nickname     \"ada\" → \"ada.l\"")
                && out.contains("user_name    \"ada\" → \"ada.l\""),
            "{v}: {out}"
        );
        let (code, out) = run_text(&o, dir.path(), &["plan", "--format", "json"]);
        assert_eq!(code, 0, "{v}: {out}");
        let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ops = plan["ops"].as_array().unwrap();
        let op = |kind: &str| ops.iter().find(|op| op["op"] == kind).unwrap();
        // Both are PATCHed (Slack would rename by either), as Slack spells the name.
        assert_eq!(op("update_user")["fields"]["user_name"], "ada.l", "{v}");
        assert_eq!(
            op("update_user")["fields"]["text"]["nickname"],
            "ada.l",
            "{v}"
        );
        assert_eq!(
            op("create_user")["fields"]["text"]["nickname"],
            "lin",
            "{v}"
        );

        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        let name = |email: &str| {
            o.emu.with_store(|s| {
                let u = s.user_by_email(email).unwrap();
                (
                    u.user_name.clone(),
                    u.text(Attribute::Nickname).map(str::to_string),
                )
            })
        };
        assert_eq!(
            name("ada@example.com"),
            ("ada.l".into(), Some("ada.l".into()))
        );
        assert_eq!(name("lin@example.com"), ("lin".into(), Some("lin".into())));
        let lin = o
            .emu
            .with_store(|s| s.user_by_email("lin@example.com").unwrap().id.clone());
        let read = o.get(v, &format!("Users/{lin}")).await;
        assert_eq!(read.body["nickName"], "lin", "{v}: {}", read.raw);

        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{v}: converged: {out}");
        let (code, out) = run_text(&o, dir.path(), &["dump"]);
        assert_eq!(code, 0, "{v}: {out}");
        assert!(
            out.contains("user_name: ada.l\n  nickname: ada.l\n"),
            "{v}: {out}"
        );

        // Slack would rename Bob to robert, and back on the next pass: refused.
        o.emu.reset_stats();
        let yaml = "users:\n  - {email: bob@example.com, nickname: robert}\n";
        yaml_setup(dir.path(), &o.emu.base_url(v), yaml, SCOPE);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 1, "{v}: {out}");
        assert!(
            out.contains(
                "people.yaml:2:40: error: nickname \"robert\" is not the user name Slack will \
                 hold for this person (\"bob\")"
            ),
            "{v}: {out}"
        );
        assert_eq!(o.emu.stats().writes, 0, "{v}");
    }
}
