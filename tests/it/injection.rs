//! No injection anywhere: a value from the directory, Slack or the state file is data wherever
//! scimsync puts it. A group name cannot widen the SCIM filter that looks a group up after a lost
//! create (and only the one group of exactly that name is adopted); a title, a group name or a
//! source name recorded in the state cannot write control sequences to a terminal or markdown
//! structure into a pull-request comment.

use scimsync::apply::{OpResult, execute};
use scimsync::emulator::{
    EmulatorConfig, Faults, GroupNames, Snapshot, Store, StoredGroup, StoredUser,
};
use scimsync::model::Attribute;
use scimsync::plan::{Op, Plan, PlannedOp, UserRef};
use scimsync::scim::Version;
use scimsync::scim::limits::Endpoint;

use crate::harness::{Org, org_with, plan_in_process, yaml_setup};

/// The group name of the attack: unescaped in `displayName eq "…"` it reads as
/// `displayName eq "eng" or displayName eq "admins"`.
const INJECTED: &str = r#"eng" or displayName eq "admins"#;

const SCOPE: &str = "scope: {email_domains: [example.com]}\n";

fn user(id: &str, name: &str) -> StoredUser {
    StoredUser {
        id: id.into(),
        ..StoredUser::new(name, &format!("{name}@example.com"))
    }
}

fn group(id: &str, name: &str, members: &[&str]) -> StoredGroup {
    StoredGroup {
        id: id.into(),
        display_name: name.into(),
        members: members.iter().map(|m| m.to_string()).collect(),
        ..StoredGroup::default()
    }
}

/// An emulator holding `users` and `groups` as given.
async fn slack(config: EmulatorConfig, users: Vec<StoredUser>, groups: Vec<StoredGroup>) -> Org {
    let store = Store::from_snapshot(Snapshot { users, groups }, 'W', 7, "test").unwrap();
    org_with(config, store).await
}

/// What the emulator does with one request under fault injection.
#[derive(Clone, Copy, PartialEq)]
enum Roll {
    /// Answered 500 or 503, nothing changed.
    Error,
    /// The connection dropped after the write: it happened, its answer is lost.
    DroppedAfter,
    /// Answered normally.
    Answered,
}

/// A fault seed whose first request meets `first` and the next `then` requests are answered,
/// replaying the emulator's rolls (an error, its status, then — unless it erred — a drop and,
/// if dropped, its side).
fn seed_for(faults: &Faults, first: Roll, then: usize) -> u64 {
    let mut rolls = vec![first];
    rolls.extend(std::iter::repeat_n(Roll::Answered, then));
    seed_for_rolls(faults, &rolls)
}

/// A fault seed whose successive requests meet `rolls`.
fn seed_for_rolls(faults: &Faults, rolls: &[Roll]) -> u64 {
    let roll = |rng: &mut fastrand::Rng| {
        let error = rng.f64() < faults.error_rate;
        let _status = rng.bool();
        let dropped = !error && rng.f64() < faults.drop_rate;
        let before = dropped && rng.bool();
        match (error, dropped, before) {
            (true, ..) => Roll::Error,
            (_, true, false) => Roll::DroppedAfter,
            (_, true, true) => Roll::Error, // never wanted here
            _ => Roll::Answered,
        }
    };
    (0..1_000_000u64)
        .find(|&seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            rolls.iter().all(|&want| roll(&mut rng) == want)
        })
        .expect("a seed")
}

/// The directory of the attack: ada in the group of the crafted name, bob in `admins`; Slack
/// holds both people and `admins`. The plan is one group create.
async fn injected_group_setup() -> (Org, tempfile::TempDir, Plan, scimsync::scim::caller::Caller) {
    let o = slack(
        EmulatorConfig::default(),
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "admins", &["W2"])],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        &format!(
            "users:\n  - {{email: ada@example.com}}\n  - {{email: bob@example.com}}\n\
             groups:\n  - {{name: admins, members: [bob@example.com]}}\n\
             \x20 - {{name: '{INJECTED}', members: [ada@example.com]}}\n"
        ),
        SCOPE,
    );
    let (plan, caller) = plan_in_process(&o, Version::V2, dir.path()).await;
    assert_eq!(plan.ops.len(), 1, "{:?}", plan.ops);
    assert!(
        matches!(&plan.ops[0].op, Op::CreateGroup { name, .. } if name == INJECTED),
        "{:?}",
        plan.ops
    );
    (o, dir, plan, caller)
}

/// `admins` still holds only bob, and exactly one group has the crafted name, holding ada.
fn assert_admins_untouched_and_the_group_is_whole(o: &Org) {
    o.emu.with_store(|s| {
        assert_eq!(
            s.group("S1").unwrap().members,
            ["W2"],
            "ada must not land in admins"
        );
        let named: Vec<&StoredGroup> = s.groups().filter(|g| g.display_name == INJECTED).collect();
        assert_eq!(named.len(), 1, "one group of the crafted name");
        assert_eq!(named[0].members, ["W1"]);
    });
}

/// The attack of issue 21: the create of the group with the crafted name is answered 503
/// (nothing created). Looking the group up with the name unescaped found `admins` and adopted
/// it: ada was put into `admins`, exit 0, one "adopted" note. Escaped, the lookup finds no group
/// of that name, the create is sent again and makes the right group.
#[tokio::test(flavor = "multi_thread")]
async fn a_crafted_group_name_after_a_5xx_create_never_steers_members_into_another_group() {
    let (o, _dir, plan, caller) = injected_group_setup().await;
    let mut faults = Faults {
        error_rate: 0.2,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::Error, 30);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert_eq!(
        o.emu.stats().injected_errors,
        1,
        "the create was answered 5xx"
    );
    assert_admins_untouched_and_the_group_is_whole(&o);
    assert!(out.complete(), "{}", out.render());
    assert!(!out.render().contains("adopted"), "{}", out.render());
    let made = o.emu.with_store(|s| {
        s.groups()
            .find(|g| g.display_name == INJECTED)
            .map(|g| g.id.clone())
    });
    assert_eq!(out.ops[0].resource, made);
}

/// The same name, the create applied but its answer lost: the lookup, escaped, finds the group
/// just made (and only it), adopts it, and sends the create once.
#[tokio::test(flavor = "multi_thread")]
async fn a_crafted_group_name_after_a_lost_answer_adopts_exactly_that_group() {
    let (o, _dir, plan, caller) = injected_group_setup().await;
    let mut faults = Faults {
        drop_rate: 0.5,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::DroppedAfter, 10);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    let s = o.emu.stats();
    assert_eq!(s.dropped_connections, 1, "the create's answer was lost");
    assert_eq!(s.count("POST", Endpoint::GroupCreate), 1, "sent once");
    assert_admins_untouched_and_the_group_is_whole(&o);
    assert!(out.complete(), "{}", out.render());
    let adopted = o.emu.with_store(|s| {
        s.groups()
            .find(|g| g.display_name == INJECTED)
            .map(|g| g.id.clone())
    });
    assert_eq!(out.ops[0].resource, adopted);
    assert!(
        serde_json::to_string(&out).unwrap().contains("adopted"),
        "{}",
        out.render()
    );
}

/// A Slack that accepts a second group of one name, holding `eng` already when a create of
/// `eng` (planned before it appeared) loses its answer: two groups are named `eng`, neither is
/// adopted, the create is not sent again, and the op fails saying why (so `apply` exits 4).
#[tokio::test(flavor = "multi_thread")]
async fn two_groups_of_the_name_after_a_lost_answer_are_not_adopted() {
    let config = EmulatorConfig {
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    };
    let o = slack(
        config,
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "eng", &["W2"])],
    )
    .await;
    let caller = crate::harness::caller(&o, Version::V2);
    let plan = Plan::of(vec![PlannedOp::new(Op::CreateGroup {
        name: "eng".into(),
        members: vec![UserRef::Id("W1".into())],
        source: "groups.yaml:2".into(),
    })]);
    let mut faults = Faults {
        drop_rate: 0.5,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::DroppedAfter, 10);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert_eq!(o.emu.stats().count("POST", Endpoint::GroupCreate), 1);
    assert!(!out.complete(), "{}", out.render());
    match &out.ops[0].result {
        OpResult::Failed { message, .. } => assert!(
            message.contains(r#"2 groups named "eng" appeared during the apply"#)
                && message.contains("not adopted"),
            "{message}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(out.ops[0].resource, None);
    o.emu.with_store(|s| {
        assert_eq!(s.group("S1").unwrap().members, ["W2"], "S1 untouched");
        assert_eq!(s.group_count(), 2);
    });
}

/// The create's answer is lost and every attempt to list the groups is answered 5xx: whether
/// the create landed cannot be told, so it is neither adopted nor sent again; the op fails
/// saying why, its outcome unknown (the memory then holds the create back).
#[tokio::test(flavor = "multi_thread")]
async fn a_lookup_that_fails_after_a_lost_create_sends_nothing_more() {
    let o = slack(EmulatorConfig::default(), vec![user("W1", "ada")], vec![]).await;
    let caller = crate::harness::caller(&o, Version::V2);
    let attempts = caller.policy.max_attempts as usize;
    let plan = Plan::of(vec![PlannedOp::new(Op::CreateGroup {
        name: "eng".into(),
        members: vec![UserRef::Id("W1".into())],
        source: "groups.yaml:2".into(),
    })]);
    let mut faults = Faults {
        error_rate: 0.5,
        ..Faults::default()
    };
    faults.drop_rate = 0.5;
    let mut rolls = vec![Roll::DroppedAfter];
    rolls.extend(vec![Roll::Error; attempts]);
    faults.seed = seed_for_rolls(&faults, &rolls);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert_eq!(
        o.emu.stats().count("POST", Endpoint::GroupCreate),
        1,
        "sent once"
    );
    match &out.ops[0].result {
        OpResult::Failed { message, code, .. } => {
            assert!(
                message.contains("listing the groups failed") && message.contains("not sent again"),
                "{message}"
            );
            assert_eq!(code.as_deref(), Some(scimsync::apply::OUTCOME_UNKNOWN));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(o.emu.with_store(|s| s.group_count()), 1, "it had landed");
}

/// The lookup answers only with a group whose name differs in case (Slack's `eq` ignores
/// case): it is someone else's, not adopted; the group asked for is created.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_named_otherwise_is_never_adopted() {
    let config = EmulatorConfig {
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    };
    let o = slack(
        config,
        vec![user("W1", "ada"), user("W2", "bob")],
        vec![group("S1", "ENG", &["W2"])],
    )
    .await;
    let caller = crate::harness::caller(&o, Version::V2);
    let plan = Plan::of(vec![PlannedOp::new(Op::CreateGroup {
        name: "eng".into(),
        members: vec![UserRef::Id("W1".into())],
        source: "groups.yaml:2".into(),
    })]);
    let mut faults = Faults {
        error_rate: 0.2,
        ..Faults::default()
    };
    faults.seed = seed_for(&faults, Roll::Error, 30);
    o.emu.set_faults(faults);
    let out = execute(&plan, &caller, 1, None).await;
    o.emu.set_faults(Faults::default());
    assert!(out.complete(), "{}", out.render());
    o.emu.with_store(|s| {
        assert_eq!(s.group("S1").unwrap().members, ["W2"], "ENG untouched");
        let eng: Vec<&StoredGroup> = s.groups().filter(|g| g.display_name == "eng").collect();
        assert_eq!(eng.len(), 1);
        assert_eq!(eng[0].members, ["W1"]);
    });
}

/// What a value from outside tries to do to a reader: erase the line above and move up (on a
/// terminal), and in a markdown comment end its line, write a heading that says all is well,
/// and open an HTML comment that hides the rest of the report.
const ERASE: &str = "\x1b[2K\x1b[1A";
const FAKE_ALL_CLEAR: &str = "\n## ✅ Plan: no changes\n<!--";

/// The lines of a markdown report outside its fenced code blocks.
fn outside_code_blocks(md: &str) -> Vec<&str> {
    let mut fence: Option<&str> = None;
    let mut out = Vec::new();
    for line in md.lines() {
        let ticks = &line[..line.len() - line.trim_start_matches('`').len()];
        match fence {
            Some(open) if line.trim_end() == open => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => out.push(line),
        }
    }
    assert!(fence.is_none(), "every code block is closed: {md}");
    out
}

/// A markdown report none of whose values wrote structure: one heading (the report's own), no
/// HTML comment or tag outside code, no line that a value started.
fn assert_markdown_structure_is_ours(md: &str) {
    let prose = outside_code_blocks(md);
    let headings: Vec<&&str> = prose.iter().filter(|l| l.starts_with('#')).collect();
    assert_eq!(headings, [&"### scimsync plan"], "{md}");
    for line in &prose {
        assert!(
            !line.contains("<!--") && !line.contains("<b>"),
            "{line:?} in {md}"
        );
    }
    for line in md.lines() {
        assert!(
            !line.starts_with("## ") && !line.starts_with("<!--"),
            "a value started a line: {line:?} in {md}"
        );
    }
}

/// Text for a terminal: no ESC (nor any other control character but the line ends), and no
/// line a value started.
fn assert_terminal_safe(text: &str) {
    for (i, c) in text.char_indices() {
        assert!(c == '\n' || !c.is_control(), "{c:?} at {i} in {text}");
    }
    for line in text.lines() {
        assert!(!line.starts_with("## "), "a value started a line: {text}");
    }
}

/// Slack holds ada with a title carrying an erase sequence and a fake "no changes" heading,
/// and a group (not in the directory; reported) named the same way; the directory gives ada a
/// new title. Both titles are long, so the plan shows a word diff of them.
async fn hostile_slack() -> (Org, tempfile::TempDir, String) {
    let evil_title =
        format!("Principal engineer of the platform{ERASE}{FAKE_ALL_CLEAR} <b>tooling</b> team");
    let mut ada = user("W1", "ada");
    ada.set_text(Attribute::Title, Some(evil_title.clone()));
    let o = slack(
        EmulatorConfig::default(),
        vec![ada],
        vec![group(
            "S1",
            &format!("ops{ERASE}{FAKE_ALL_CLEAR} `x` [link](https://e.vil)"),
            &[],
        )],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com, \
         title: Principal engineer of the platform and tooling team}\n",
        "scope: {email_domains: [example.com]}\ngroups: {unmanaged: report}\n",
    );
    (o, dir, evil_title)
}

/// Terminal injection through Slack: `plan` in text shows the title diff and the group's
/// notice with every control character escaped.
#[tokio::test(flavor = "multi_thread")]
async fn slack_values_cannot_write_control_sequences_to_the_text_plan() {
    let (o, dir, _) = hostile_slack().await;
    let out = crate::harness::scimsync(dir.path(), o.emu.token(), &["plan"]);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("~ update user"), "{stdout}");
    assert!(stdout.contains("· notice"), "{stdout}");
    assert!(
        stdout.contains(r"\u{1b}[2K\u{1b}[1A\n## ✅ Plan: no changes\n<!--"),
        "shown escaped: {stdout}"
    );
    assert_terminal_safe(&stdout);
    assert_terminal_safe(&stderr);
}

/// Markdown injection through Slack: the same values in the pull-request comment stay inside
/// the code block, each on its own line; JSON keeps them exactly (serde escapes them).
#[tokio::test(flavor = "multi_thread")]
async fn slack_values_cannot_write_markdown_into_the_comment() {
    let (o, dir, evil_title) = hostile_slack().await;
    let (code, md) = crate::harness::run_text(&o, dir.path(), &["plan", "--format", "markdown"]);
    assert_eq!(code, 0, "{md}");
    assert_markdown_structure_is_ours(&md);
    assert_terminal_safe(&md);
    let (_, json) = crate::harness::run_text(&o, dir.path(), &["plan", "--format", "json"]);
    let plan: serde_json::Value = serde_json::from_str(&json).unwrap();
    let from = &plan["ops"][0]["changes"][0]["from"];
    assert_eq!(from.as_str(), Some(evil_title.as_str()), "{json}");
}

/// A terminal shown the plan before the confirmation prompt: nothing a Slack value holds can
/// erase the lines above the question (only colour sequences reach the screen).
#[tokio::test(flavor = "multi_thread")]
async fn slack_values_cannot_erase_the_plan_above_the_confirmation_prompt() {
    let (o, dir, _) = hostile_slack().await;
    let token = o.emu.token().to_string();
    let path = dir.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        crate::tty::run_in_pty(
            &path,
            &["apply", "--config", "scimsync.yaml"],
            &[("SCIM_TOKEN", &token)],
            "no\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(run.code, 6, "{}", run.screen);
    assert!(run.screen.contains("Only 'yes' applies"), "{}", run.screen);
    assert!(!run.screen.contains(ERASE), "{:?}", run.screen);
    // Every escape sequence on the screen only paints (SGR).
    for (i, _) in run.screen.match_indices('\x1b') {
        let rest = &run.screen[i + 1..];
        let params = rest
            .strip_prefix('[')
            .unwrap_or_else(|| panic!("{:?}", &rest[..8.min(rest.len())]));
        let end = params
            .find(|c: char| !c.is_ascii_digit() && c != ';')
            .unwrap();
        assert_eq!(&params[end..=end], "m", "{:?}", &params[..=end]);
    }
}

/// The state file of a pull request names a source `people.yaml` + a fake "no changes"
/// heading + an HTML comment opener; the directory has no such source any more, so the shrink
/// guard trips and its message names it. The markdown comment shows the name as text, and the
/// text plan on one line.
#[tokio::test(flavor = "multi_thread")]
async fn a_source_name_in_the_state_cannot_write_markdown_through_a_guard_message() {
    let o = crate::harness::org().await;
    let dir = tempfile::tempdir().unwrap();
    let people: String = (0..5)
        .map(|i| format!("  - {{email: p{i}@example.com}}\n"))
        .collect();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        &format!("users:\n{people}"),
        "scope: {email_domains: [example.com]}\nunmanaged_users: report\n\
         safety: {max_source_shrink: 0.2}\n",
    );
    let (code, out) = crate::harness::run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    let state_path = std::fs::read_dir(dir.path().join(".scimsync-state"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("state-") && name.ends_with(".json")
        })
        .expect("the state file");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
    let evil = format!("people.yaml{FAKE_ALL_CLEAR}");
    let sources = find_key(&mut state, "source_users").expect("the state counts sources");
    sources[evil.as_str()] = serde_json::json!(5);
    std::fs::write(&state_path, serde_json::to_string_pretty(&state).unwrap()).unwrap();

    let (_, md) = crate::harness::run_text(&o, dir.path(), &["plan", "--format", "markdown"]);
    assert!(md.contains("max_source_shrink"), "the guard trips: {md}");
    assert!(
        md.contains(r"people\.yaml\\n\#\# ✅ Plan: no changes\\n&lt;\!\-\-"),
        "the name shown as text: {md}"
    );
    assert_markdown_structure_is_ours(&md);
    let (_, text) = crate::harness::run_text(&o, dir.path(), &["plan"]);
    assert!(
        text.contains(r"source people.yaml\n## ✅ Plan: no changes\n<!-- has 0 users"),
        "{text}"
    );
    assert_terminal_safe(&text);
    let (_, applied) = crate::harness::run_text(&o, dir.path(), &["apply"]);
    assert!(
        applied.contains("safety guard max_source_shrink tripped"),
        "{applied}"
    );
    assert_terminal_safe(&applied);
}

/// The first object member named `key`, anywhere in `v`.
fn find_key<'a>(v: &'a mut serde_json::Value, key: &str) -> Option<&'a mut serde_json::Value> {
    match v {
        serde_json::Value::Object(map) => {
            if map.contains_key(key) {
                return map.get_mut(key);
            }
            map.values_mut().find_map(|inner| find_key(inner, key))
        }
        serde_json::Value::Array(items) => items.iter_mut().find_map(|inner| find_key(inner, key)),
        _ => None,
    }
}
