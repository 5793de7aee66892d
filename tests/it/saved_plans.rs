//! Saved plans and the state cannot be turned against the organisation (issue "Saved plans and
//! the review flow cannot be abused"): each attack found in review, run with the real binary
//! against the emulator, checked by exit code, message and the emulator's write counters.

use std::path::Path;

use scimsync::emulator::{Emulator, EmulatorConfig, GroupNames, Snapshot, Store, StoredUser};
use serde_json::Value;

const TOKEN: &str = "xoxp-saved-plan-tests";

/// `scimsync ARGS --config CONFIG` in `dir` with the token in `SCIM_TOKEN` and `env` set; its
/// exit code and stdout then stderr as one text.
fn run_with(dir: &Path, config: &str, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let env = [&[("SCIM_TOKEN", TOKEN)], env].concat();
    let ran = crate::harness::run(dir, &[args, &["--config", config]].concat(), &env);
    (ran.code, ran.text())
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    run_with(dir, "scimsync.yaml", args, &[])
}

/// An emulator accepting [`TOKEN`], holding `u0…u{n-1}@corp.example`, seeded with `seed`
/// (another seed is another organisation), on `listen`.
async fn corp_on(n: usize, seed: u64, listen: &str, config: EmulatorConfig) -> Emulator {
    let config = EmulatorConfig {
        token: TOKEN.into(),
        ..config
    };
    let users: Vec<StoredUser> = (0..n)
        .map(|i| StoredUser::new(&format!("u{i}"), &format!("u{i}@corp.example")))
        .collect();
    let snapshot = Snapshot {
        users,
        groups: vec![],
    };
    // A port just given up (another organisation taking over a URL) may take a moment.
    for _ in 0..50 {
        let store = Store::from_snapshot(snapshot.clone(), 'U', seed, "corp").unwrap();
        match Emulator::start(config.clone(), store, listen.parse().unwrap()).await {
            Ok(emu) => return emu,
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{listen} stays in use")
}

async fn corp(n: usize) -> Emulator {
    corp_on(n, 1, "127.0.0.1:0", EmulatorConfig::default()).await
}

fn url(emu: &Emulator) -> String {
    emu.base_url(scimsync::scim::Version::V2)
}

/// A config for `people` (emails of corp.example) and the extra top-level YAML `extra`.
fn setup(dir: &Path, url: &str, people: &[&str], extra: &str) {
    let mut yaml = String::from("users:\n");
    for p in people {
        yaml.push_str(&format!("  - {{email: {p}@corp.example}}\n"));
    }
    std::fs::write(dir.join("people.yaml"), yaml).unwrap();
    let target = if url.is_empty() {
        "target: {token_env: SCIM_TOKEN}\n".to_string()
    } else {
        format!("target: {{url: \"{url}\", token_env: SCIM_TOKEN}}\n")
    };
    std::fs::write(
        dir.join("scimsync.yaml"),
        format!(
            "{target}sources:\n  - yaml: people.yaml\n\
             scope: {{email_domains: [corp.example]}}\nrate_limit: {{time_scale: 100}}\n\
             unmanaged_users: deactivate\n{extra}"
        ),
    )
    .unwrap();
}

fn active(emu: &Emulator, email: &str) -> bool {
    emu.with_store(|s| s.user_by_email(email).unwrap().active)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn write_json(path: &Path, v: &Value) {
    std::fs::write(path, serde_json::to_string_pretty(v).unwrap()).unwrap();
}

/// What an attacker can do to a plan's unkeyed digest: recompute it after an edit.
fn redigest(v: &mut Value) {
    let plan: scimsync::plan::Plan = serde_json::from_value(v.clone()).unwrap();
    v["digest"] = scimsync::plan::digest(&plan).into();
}

const RATIO: &str = "safety: {max_deactivation_ratio: 1.0}\n";

/// A plan made without `deactivation_grace`, applied under a config that has it, would have
/// deactivated someone who left seconds earlier.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_cannot_skip_the_grace_period() {
    let emu = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &url(&emu), &["u0", "u1"], RATIO);
    let (code, out) = run(
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        std::fs::read_to_string(dir.path().join("plan.json"))
            .unwrap()
            .contains("u2@corp.example")
    );
    setup(
        dir.path(),
        &url(&emu),
        &["u0", "u1"],
        "safety: {max_deactivation_ratio: 1.0, deactivation_grace: 24h}\n",
    );
    let (code, out) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("made with another config"), "{out}");
    assert!(active(&emu, "u2@corp.example"));
    // Under the grace config, a plan made now holds u2 back; a deactivation added to it by
    // hand (with u2's fingerprint and a recomputed digest, all anyone could forge before) is
    // refused: the seal is keyed.
    run(dir.path(), &["apply"]);
    let (code, out) = run(
        dir.path(),
        &["plan", "--format", "json", "--out", "p2.json"],
    );
    assert_eq!(code, 0, "{out}");
    let mut p2 = read_json(&dir.path().join("p2.json"));
    assert_eq!(p2["pending"].as_array().unwrap().len(), 1, "{p2}");
    let first = read_json(&dir.path().join("plan.json"));
    let op = first["ops"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["op"] == "deactivate_user")
        .unwrap()
        .clone();
    let id = op["id"].as_str().unwrap().to_string();
    p2["ops"].as_array_mut().unwrap().push(op);
    p2["fingerprints"][&id] = first["fingerprints"][&id].clone();
    redigest(&mut p2);
    write_json(&dir.path().join("p2.json"), &p2);
    let before = emu.stats().writes;
    let (code, out) = run(dir.path(), &["apply", "--plan", "p2.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("its seal does not hold"), "{out}");
    assert_eq!(emu.stats().writes, before);
    assert!(active(&emu, "u2@corp.example"));
}

/// `pending[].since` and `conflicts` lie outside the ops: editing them is refused too, the
/// state is never taken from the plan, and conflicts are recomputed (exit 4, not 0).
#[tokio::test(flavor = "multi_thread")]
async fn fields_outside_the_ops_are_sealed_and_memory_never_comes_from_the_plan() {
    let emu = corp(3).await;
    // An account outside scope holds the email a directory user wants: a conflict.
    emu.with_store(|s| {
        s.insert_user(StoredUser {
            id: "UOUTSIDER".into(),
            created: "2020-01-01T00:00:00+00:00".into(),
            secondary_email: Some("new@corp.example".into()),
            ..StoredUser::new("outsider", "x@partner.example")
        });
    });
    let dir = tempfile::tempdir().unwrap();
    setup(
        dir.path(),
        &url(&emu),
        &["u0", "u1"],
        "safety: {max_deactivation_ratio: 1.0, deactivation_grace: 1h}\n",
    );
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: u0@corp.example}\n  - {email: u1@corp.example}\n  \
         - {email: new@corp.example}\n",
    )
    .unwrap();
    assert_eq!(run(dir.path(), &["apply"]).0, 4, "the conflict");
    let state_before = state_files(dir.path());
    let (_, out) = run(
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    let plan = read_json(&dir.path().join("plan.json"));
    assert_eq!(plan["pending"].as_array().unwrap().len(), 1, "{out}");
    assert_eq!(plan["conflicts"].as_array().unwrap().len(), 1, "{plan}");
    let mut since = plan.clone();
    since["pending"][0]["since"] = "1970-01-01T00:00:00Z".into();
    write_json(&dir.path().join("since.json"), &since);
    let mut no_conflicts = plan.clone();
    no_conflicts["conflicts"] = Value::Array(vec![]);
    write_json(&dir.path().join("conflicts.json"), &no_conflicts);
    for file in ["since.json", "conflicts.json"] {
        let (code, out) = run(dir.path(), &["apply", "--plan", file]);
        assert_eq!(code, 1, "{file}: {out}");
        assert!(out.contains("its seal does not hold"), "{out}");
    }
    assert_eq!(
        state_files(dir.path()),
        state_before,
        "the state is untouched"
    );
    assert!(
        active(&emu, "u2@corp.example"),
        "still inside the grace period"
    );
    // The plan as made has nothing to write but its conflict: recomputed, exit 4.
    let (code, out) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 4, "{out}");
}

/// Each state file's bytes, by name.
fn state_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir.join(".scimsync-state"))
        .map(|d| {
            d.map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// An appended deactivation of someone still in the directory: refused without a fingerprint,
/// and with a copied one the seal no longer holds.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_op_is_refused() {
    let emu = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &url(&emu), &["u0", "u1", "u2"], RATIO);
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: u0@corp.example, title: Boss}\n  - {email: u1@corp.example}\n  \
         - {email: u2@corp.example}\n",
    )
    .unwrap();
    let (code, out) = run(
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{out}");
    let plan = read_json(&dir.path().join("plan.json"));
    let u0 = plan["ops"][0]["id"].as_str().unwrap().to_string();
    let u1 = emu.with_store(|s| s.user_by_email("u1@corp.example").unwrap().id.clone());
    let forge = |id: &str| {
        let mut p = plan.clone();
        p["ops"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({"op": "deactivate_user",
            "id": id, "email": "x@corp.example", "reason": {"kind": "absent"}}));
        redigest(&mut p);
        p
    };
    write_json(&dir.path().join("unprinted.json"), &forge(&u1));
    let (code, out) = run(dir.path(), &["apply", "--plan", "unprinted.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no fingerprint"), "{out}");
    write_json(&dir.path().join("printed.json"), &forge(&u0));
    let (code, out) = run(dir.path(), &["apply", "--plan", "printed.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("its seal does not hold"), "{out}");
    assert_eq!(emu.stats().writes, 0);
    assert!(active(&emu, "u0@corp.example") && active(&emu, "u1@corp.example"));
}

/// A plan of creates applied twice: the second time every create is already done, so it
/// writes nothing (not even on a Slack that accepts two groups of one name).
#[tokio::test(flavor = "multi_thread")]
async fn a_replayed_plan_of_creates_writes_nothing() {
    let config = EmulatorConfig {
        group_names: GroupNames::Duplicate,
        ..EmulatorConfig::default()
    };
    let emu = corp_on(1, 1, "127.0.0.1:0", config).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &url(&emu), &["u0", "ada", "bob"], "");
    let mut yaml = std::fs::read_to_string(dir.path().join("people.yaml")).unwrap();
    yaml.push_str("groups:\n  - {name: eng, members: [ada@corp.example]}\n");
    std::fs::write(dir.path().join("people.yaml"), yaml).unwrap();
    let (code, out) = run(
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{out}");
    let (code, out) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 0, "{out}");
    let writes = emu.stats().writes;
    assert_eq!(writes, 3, "two creates and a group: {out}");
    let (code, out) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("already held by account"), "{out}");
    assert!(out.contains("a group named \"eng\" exists"), "{out}");
    assert_eq!(emu.stats().writes, writes, "a replay writes nothing");
    let groups = emu.with_store(|s| s.snapshot().groups);
    assert_eq!(groups.iter().filter(|g| g.display_name == "eng").count(), 1);
}

/// A plan made against one target is refused by another, and one made against one
/// organisation is refused by another behind the same URL (the token now reaches it).
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_travels_neither_to_another_target_nor_to_another_organisation() {
    let a = corp(3).await;
    let b = corp_on(3, 2, "127.0.0.1:0", EmulatorConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), "", &["u0", "u1"], RATIO);
    let pin = |emu: &Emulator| [("SCIMSYNC_TARGET_URL", url(emu))];
    let env_a = pin(&a);
    let env_a: Vec<(&str, &str)> = env_a.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let env_b = pin(&b);
    let env_b: Vec<(&str, &str)> = env_b.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let plan = ["plan", "--format", "json", "--out", "plan.json"];
    assert_eq!(run_with(dir.path(), "scimsync.yaml", &plan, &env_a).0, 0);
    let apply = ["apply", "--plan", "plan.json"];
    let (code, out) = run_with(dir.path(), "scimsync.yaml", &apply, &env_b);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("it was made for the target"), "{out}");
    assert_eq!(b.stats().writes, 0);

    // Another organisation behind the same URL: A goes away, C (another seed) takes its port.
    let port = url(&a)
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    a.shutdown().await.unwrap();
    let c = corp_on(
        3,
        3,
        &format!("127.0.0.1:{port}"),
        EmulatorConfig::default(),
    )
    .await;
    let (code, out) = run_with(dir.path(), "scimsync.yaml", &apply, &env_a);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("made against the Slack organisation"), "{out}");
    assert_eq!(c.stats().writes, 0);
}

/// The state belongs to one organisation: pointed at another (same URL, the token of
/// another organisation), a pass is refused with how to start afresh, and writes nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_of_another_organisation_is_refused() {
    let a = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &url(&a), &["u0", "u1", "u2"], "");
    assert_eq!(run(dir.path(), &["apply"]).0, 0);
    let port = url(&a)
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    a.shutdown().await.unwrap();
    let b = corp_on(
        3,
        9,
        &format!("127.0.0.1:{port}"),
        EmulatorConfig::default(),
    )
    .await;
    setup(dir.path(), &url(&b), &["u0"], RATIO);
    for cmd in ["plan", "apply"] {
        let (code, out) = run(dir.path(), &[cmd]);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("belongs to the Slack organisation"), "{out}");
        assert!(out.contains(".bad"), "says how to start afresh: {out}");
    }
    assert_eq!(b.stats().writes, 0);
}

/// Two configs in one folder keep two states: one's runs never move the other's shrink base.
#[tokio::test(flavor = "multi_thread")]
async fn two_configs_in_one_folder_keep_their_own_state() {
    let emu = corp(0).await;
    let dir = tempfile::tempdir().unwrap();
    let config = |name: &str, source: &str| {
        std::fs::write(
            dir.path().join(name),
            format!(
                "target: {{url: \"{}\", token_env: SCIM_TOKEN}}\nsources:\n  - yaml: {source}\n\
                 scope: {{email_domains: [corp.example]}}\nrate_limit: {{time_scale: 100}}\n\
                 unmanaged_users: report\nsafety: {{max_source_shrink: 0.2}}\n",
                url(&emu)
            ),
        )
        .unwrap();
    };
    let people = |file: &str, prefix: &str, n: usize| {
        let mut y = String::from("users:\n");
        for i in 0..n {
            y.push_str(&format!("  - {{email: {prefix}{i}@corp.example}}\n"));
        }
        std::fs::write(dir.path().join(file), y).unwrap();
    };
    config("a.yaml", "people.yaml");
    config("b.yaml", "people.yaml");
    people("people.yaml", "a", 10);
    assert_eq!(run_with(dir.path(), "a.yaml", &["apply"], &[]).0, 0);
    // b runs on a 3-person file of the same name (a narrower export of its own).
    people("people.yaml", "a", 3);
    let (code, out) = run_with(dir.path(), "b.yaml", &["apply"], &[]);
    assert_eq!(code, 0, "b has no base yet: {out}");
    // a's export shrank 10 → 3: its own base says so, whatever b did.
    let (code, out) = run_with(dir.path(), "a.yaml", &["apply"], &[]);
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("max_source_shrink"), "{out}");
    let names: Vec<String> = state_files(dir.path())
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("state-")).count(),
        2,
        "{names:?}"
    );
}

/// A rehearsal against `embedded` with a production config never reads or writes
/// production's state, nor takes over a state of the first layout.
#[tokio::test(flavor = "multi_thread")]
async fn a_rehearsal_never_touches_the_real_targets_state() {
    let emu = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    setup(
        dir.path(),
        &url(&emu),
        &["u0", "u1"],
        "safety: {max_deactivation_ratio: 1.0, deactivation_grace: 24h}\n",
    );
    assert_eq!(run(dir.path(), &["apply"]).0, 0);
    // A state of the first layout (no deployment in it) is the real target's to take over,
    // never a rehearsal's.
    let legacy = dir.path().join(".scimsync-state/state.json");
    std::fs::write(
        &legacy,
        r#"{"format": "scimsync-state", "version": 1, "written_at": "2026-03-01T12:00:00Z"}"#,
    )
    .unwrap();
    let production = state_files(dir.path());
    let (code, out) = run_with(
        dir.path(),
        "scimsync.yaml",
        &["apply"],
        &[("SCIMSYNC_TARGET_URL", "embedded")],
    );
    assert!(code == 0 || code == 4, "{out}");
    let after = state_files(dir.path());
    for (name, bytes) in &production {
        let now = after.iter().find(|(n, _)| n == name).expect("still there");
        assert_eq!(&now.1, bytes, "{name} untouched by the rehearsal");
    }
    assert_eq!(
        after.len(),
        production.len() + 1,
        "the rehearsal's own state"
    );
}

/// The state's digests are keyed with a secret beside it: the digest of a likely value,
/// computed as anyone could, is not in the file; files are 0600 in a 0700 folder; a folder
/// anyone may write to is refused.
#[tokio::test(flavor = "multi_thread")]
async fn state_digests_are_keyed_and_the_folder_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let emu = corp(0).await;
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path(), &url(&emu), &[], "");
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: ada@corp.example, title: Engineer}\n",
    )
    .unwrap();
    assert_eq!(run(dir.path(), &["apply"]).0, 0);
    let folder = dir.path().join(".scimsync-state");
    let files = state_files(dir.path());
    let state = files.iter().find(|(n, _)| n.starts_with("state-")).unwrap();
    let text = String::from_utf8_lossy(&state.1);
    let unkeyed = scimsync::plan::fingerprint(&Some("Engineer"));
    assert!(
        !text.contains(&unkeyed),
        "a dictionary finds {unkeyed}: {text}"
    );
    assert!(text.contains("\"k1:"), "{text}");
    assert!(
        !text.contains("Engineer") && !text.contains("ada@"),
        "{text}"
    );
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&folder), 0o700);
    for (name, _) in &files {
        assert_eq!(mode(&folder.join(name)), 0o600, "{name}");
    }
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, out) = run(dir.path(), &["plan"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("anyone may create, replace or remove files"),
        "{out}"
    );
}

/// A state of the first layout (`state.json`, unkeyed digests) is taken over: its leaver keeps
/// the time first seen absent, and the old file is renamed.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_of_the_first_layout_is_migrated() {
    let emu = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    setup(
        dir.path(),
        &url(&emu),
        &["u0", "u1"],
        "safety: {max_deactivation_ratio: 1.0, deactivation_grace: 2h}\n",
    );
    let u2 = emu.with_store(|s| s.user_by_email("u2@corp.example").unwrap().id.clone());
    let since = chrono::Utc::now() - chrono::Duration::hours(3);
    let folder = dir.path().join(".scimsync-state");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(
        folder.join("state.json"),
        serde_json::json!({"format": "scimsync-state", "version": 1,
            "written_at": since, "leavers": {u2: since}})
        .to_string(),
    )
    .unwrap();
    let (code, out) = run(dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        !active(&emu, "u2@corp.example"),
        "absent for 3h of a 2h grace: {out}"
    );
    assert!(folder.join("state.json.migrated").is_file());
    assert!(!folder.join("state.json").exists());
}

/// The disk refuses the state after 20 creates were applied: the report still says what
/// applied (then that the state could not be saved), and the exit is 4, not 1.
#[tokio::test(flavor = "multi_thread")]
async fn the_outcome_survives_a_state_that_cannot_be_saved() {
    let emu = corp(0).await;
    let dir = tempfile::tempdir().unwrap();
    let people: Vec<String> = (0..20).map(|i| format!("new{i}")).collect();
    let people: Vec<&str> = people.iter().map(String::as_str).collect();
    setup(dir.path(), &url(&emu), &people, "");
    let mut yaml = String::from("users:\n");
    for p in &people {
        yaml.push_str(&format!(
            "  - {{email: {p}@corp.example, given_name: Given {p}, family_name: Family {p}, \
             title: Title of {p}}}\n"
        ));
    }
    std::fs::write(dir.path().join("people.yaml"), yaml).unwrap();
    // Files may hold at most 2 KiB: the state (over 4 KiB of digests) cannot be written,
    // as on a full disk; SIGXFSZ ignored so the write fails instead of killing the process.
    let out = crate::harness::wrapper("sh")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f 4; exec '{}' apply --format json --config scimsync.yaml",
            crate::harness::binary()
        ))
        .current_dir(dir.path())
        .env("SCIM_TOKEN", TOKEN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stdout}{stderr}");
    assert_eq!(emu.stats().writes, 20);
    let json: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["outcome"]["applied"], 20, "{json}");
    assert!(
        stderr.contains("the changes above were applied, but cannot write the state file"),
        "{stderr}"
    );
}

/// A state whose digests were made with another key than the folder's (the key file lost and
/// made again, or replaced) is refused rather than read as if nothing had been applied.
#[tokio::test(flavor = "multi_thread")]
async fn a_state_made_with_another_key_is_refused() {
    let emu = corp(3).await;
    let dir = tempfile::tempdir().unwrap();
    setup(
        dir.path(),
        &url(&emu),
        &["u0", "u1"],
        "safety: {max_deactivation_ratio: 1.0, deactivation_grace: 24h}\n",
    );
    assert_eq!(run(dir.path(), &["apply"]).0, 0);
    let key = dir.path().join(".scimsync-state/state.key");
    let mode = std::fs::metadata(&key).unwrap().permissions();
    std::fs::remove_file(&key).unwrap();
    std::fs::write(&key, format!("{}\n", "5a".repeat(32))).unwrap();
    std::fs::set_permissions(&key, mode).unwrap();
    let (code, out) = run(dir.path(), &["plan"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("its digests were made with another key than state.key holds"),
        "{out}"
    );
}

/// A plan made against the embedded emulator is sealed with the key of the state folder: once
/// that folder is gone (another folder, another key), the plan's seal no longer holds.
#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_plan_is_sealed_with_its_state_folders_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: u0@corp.example}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        "target: {url: embedded, emulator_state: emulator.json}\nsources:\n  - yaml: people.yaml\n\
         scope: {email_domains: [corp.example]}\n",
    )
    .unwrap();
    let (code, out) = run(dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    let folder = dir.path().join(".scimsync-state");
    assert!(folder.join("state.key").is_file(), "{out}");
    std::fs::write(
        dir.path().join("people.yaml"),
        "users:\n  - {email: u0@corp.example}\n  - {email: u1@corp.example}\n",
    )
    .unwrap();
    let (code, out) = run(
        dir.path(),
        &["plan", "--format", "json", "--out", "plan.json"],
    );
    assert_eq!(code, 0, "{out}");
    let kept = dir.path().join("kept-state");
    std::fs::rename(&folder, &kept).unwrap();
    // Without the folder it was made with (a new folder makes a new key): refused.
    let (code, out) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("its seal does not hold"), "{out}");
    // With it back: the seal holds and the plan applies.
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::rename(&kept, &folder).unwrap();
    let (code, out) = run(dir.path(), &["apply", "--plan", "plan.json"]);
    assert_eq!(code, 0, "{out}");
}
