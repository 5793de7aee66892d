//! Rehearse on a copy of your organisation: `scimsync dump --as-seed` writes a seed that
//! `scimsync emulator --seed` loads, and the copy reads back, through scimsync's own listing,
//! exactly as the original does — users with every attribute scimsync reads, deactivated
//! accounts, guests, bots, groups and members, ids — in both dialects; a plan against the copy
//! is the plan against the original.

use std::path::Path;

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::model::LiveState;
use scimsync::scim::Version;

use crate::harness::{self, BOTH, Org};

/// An organisation with a bit of everything scimsync reads.
const ORIGINAL: &str = r#"
users:
  - {user_name: primary-owner, email: owner@example.com, role: primary_owner, given_name: Pat, family_name: Owner}
  - {user_name: deploy-bot, email: botuser-T0EXAMPLE-A0DEPLOY@slack-bots.com, role: bot, given_name: deploy-bot}
  - id: W0GRACE
    user_name: grace
    email: grace.hopper@example.com
    secondary_email: grace@old.example.com
    given_name: Grace
    family_name: Hopper
    display_name: Grace
    title: VP Engineering
    employee_number: "1001"
    department: Engineering
    cost_center: "42"
    organization: Navy
    division: R&D
    user_type: Employee
    locale: en-US
    preferred_language: en
    timezone: America/New_York
    primary_phone: "+1 555 0100"
    start_date: "2019-04-10T00:00:00+0000"
  - id: W0ADA
    user_name: ada
    email: ada@example.com
    given_name: Ada
    family_name: Lovelace
    title: Analyst
    manager_id: W0GRACE
  - {id: W0OMAR, user_name: omar, email: omar@example.com, given_name: Omar, active: false}
  - user_name: vendor
    email: vendor@partner.example.org
    given_name: Val
    guest: {expiration: "2031-01-31T23:59:59Z"}
  - {user_name: visitor, email: visitor@partner.example.org, guest: {}}
groups:
  - {display_name: Team Admins, members: [primary-owner], auto_generated: true}
  - {display_name: engineering, members: [grace, ada]}
  - {display_name: engineering, members: [ada]}
  - {display_name: empty}
"#;

/// What a rehearsal plans: a hire, a title change, a rejoiner, a leaver and a group.
const DIRECTORY: &str = r#"
users:
  - {email: grace.hopper@example.com, given_name: Grace, family_name: Hopper, title: CTO, employee_number: "1001"}
  - {email: omar@example.com, given_name: Omar}
  - {email: new.hire@example.com, given_name: New, family_name: Hire}
groups:
  - {name: leadership, members: [grace.hopper@example.com, new.hire@example.com]}
"#;

async fn serve(store: Store) -> Org {
    harness::org_with(EmulatorConfig::default(), store).await
}

/// What scimsync reads of an organisation, in one dialect.
async fn listing(org: &Org, v: Version) -> LiveState {
    let caller = harness::caller(org, v);
    LiveState::from_scim(
        &caller.list_users().await.unwrap(),
        &caller.list_groups().await.unwrap(),
    )
}

/// `scimsync ARGS` in `dir` against `org` in dialect `v`: (exit code, stdout, stderr).
fn run(org: &Org, v: Version, dir: &Path, args: &[&str]) -> (i32, String, String) {
    harness::write_config(dir, &org.emu.base_url(v), "  - yaml: people.yaml\n");
    let out = harness::scimsync(dir, org.emu.token(), args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_as_seed_is_a_copy_of_the_organisation_in_both_dialects() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("original.yaml");
    std::fs::write(&seed, ORIGINAL).unwrap();
    std::fs::write(dir.path().join("people.yaml"), DIRECTORY).unwrap();
    let original = serve(Store::load(&seed, 'W', 3).unwrap()).await;

    for v in BOTH {
        let dump = dir.path().join(format!("dump-{v}.yaml"));
        let dump_arg = dump.to_str().unwrap().to_string();
        let (code, out, err) = run(
            &original,
            v,
            dir.path(),
            &["dump", "--as-seed", "--out", &dump_arg],
        );
        assert_eq!(code, 0, "{out}{err}");
        let text = std::fs::read_to_string(&dump).unwrap();
        assert!(
            text.starts_with("# Written by `scimsync dump --as-seed`"),
            "{text}"
        );

        // Another seed for the id generator: equal ids come from the dump, not from chance.
        let copy =
            serve(Store::load(&dump, 'W', 99).unwrap_or_else(|e| panic!("{e}\n{text}"))).await;
        for read in BOTH {
            let (was, is) = (listing(&original, read).await, listing(&copy, read).await);
            assert_eq!(
                was.users, is.users,
                "users, dumped over {v}, read over {read}"
            );
            assert_eq!(
                was.groups, is.groups,
                "groups, dumped over {v}, read over {read}"
            );
        }
        let live = listing(&copy, v).await;
        assert!(live.users.iter().any(|u| u.is_bot), "the bot is kept");
        assert!(
            live.users.iter().any(|u| !u.active),
            "deactivated accounts are kept"
        );
        assert_eq!(live.users.iter().filter(|u| u.guest.is_some()).count(), 2);
        assert!(
            live.groups.iter().any(|g| g.auto_generated),
            "Team Admins is kept"
        );

        let (code_a, plan_a, err_a) = run(&original, v, dir.path(), &["plan"]);
        let (code_b, plan_b, err_b) = run(&copy, v, dir.path(), &["plan"]);
        assert_eq!((code_a, code_b), (0, 0), "{plan_a}{err_a}{plan_b}{err_b}");
        assert!(plan_a.contains("to create"), "{plan_a}");
        assert_eq!(
            plan_a, plan_b,
            "the plan against the copy is the plan against the original"
        );
    }
}

/// The emulator binary loads a dump and serves it, under the preset a rehearsal uses.
#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_binary_serves_a_dump_under_like_slack() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("original.yaml");
    std::fs::write(&seed, ORIGINAL).unwrap();
    let original = serve(Store::load(&seed, 'W', 3).unwrap()).await;
    std::fs::write(dir.path().join("people.yaml"), DIRECTORY).unwrap();
    let dump = dir.path().join("dump.yaml");
    let (code, out, err) = run(
        &original,
        Version::V2,
        dir.path(),
        &["dump", "--as-seed", "--out", dump.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (_child, url) = harness::emulator_process(
        harness::async_command(),
        &[
            "--seed",
            dump.to_str().unwrap(),
            "--preset",
            "like-slack",
            "--error-rate",
            "0",
            "--drop-rate",
            "0",
        ],
    )
    .await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        http.get(format!("{url}{path}"))
            .bearer_auth(harness::EMULATOR_TOKEN)
            .send()
    };
    let r = get("Users/W0GRACE").await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["title"], "VP Engineering", "{body}");
    let r = get("Users?filter=displayName%20eq%20%22Grace%22")
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "the preset refuses an undocumented filter");
}

/// README's "Rehearse on a copy of your organisation" as written: dump, a `rehearse.yaml`
/// whose target is the embedded emulator started from the dump under `like-slack`, apply, and
/// the plan after it is empty.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_rehearsal_applies_on_the_copy_and_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = d.join("original.yaml");
    std::fs::write(&seed, ORIGINAL).unwrap();
    std::fs::write(d.join("people.yaml"), DIRECTORY).unwrap();
    std::fs::write(d.join("channels.txt"), "#general\n#support\n").unwrap();
    let original = serve(Store::load(&seed, 'W', 3).unwrap()).await;
    let (code, out, err) = run(
        &original,
        Version::V2,
        d,
        &["dump", "--as-seed", "--out", "dump.yaml"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let before = listing(&original, Version::V2).await;

    std::fs::write(
        d.join("rehearse.yaml"),
        "target:\n  url: embedded\n  emulator_seed: dump.yaml\n  \
         emulator_state: rehearse-state.json\n  \
         emulator: {preset: like-slack, channels_file: channels.txt}\n\
         sources:\n  - yaml: people.yaml\nscope: {email_domains: [example.com]}\n",
    )
    .unwrap();
    let mut runs = String::new();
    for _ in 0..4 {
        let ran = harness::run(
            d,
            &["plan", "--config", "rehearse.yaml", "--detailed-exitcode"],
            &[],
        );
        if ran.code == 0 {
            assert!(runs.contains("Applied "), "{runs}");
            // The rehearsal wrote nothing to the original.
            assert_eq!(listing(&original, Version::V2).await, before);
            return;
        }
        runs.push_str(&format!("plan {}: {}{}", ran.code, ran.stdout, ran.stderr));
        let ran = harness::run(d, &["apply", "--config", "rehearse.yaml"], &[]);
        runs.push_str(&format!("apply {}: {}{}", ran.code, ran.stdout, ran.stderr));
    }
    panic!("the rehearsal did not converge:\n{runs}");
}
