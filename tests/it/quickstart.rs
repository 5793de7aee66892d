//! The quickstart exactly as the README says, on a copy of the repository's `config/` and
//! `examples/`: `scimsync apply` on the embedded emulator shows a real plan and applies it;
//! running it again changes nothing. Also every shipped config validates.

use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn scimsync(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let ran = crate::harness::run(dir, args, &[]);
    (ran.code, ran.stdout, ran.stderr)
}

#[test]
fn quickstart_applies_then_changes_nothing() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("examples"), &dir.path().join("examples"));

    let (code, out, err) = scimsync(dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("Plan: 5 to create, 1 to reactivate, 1 to update, 0 to deactivate"),
        "{out}"
    );
    assert!(
        out.contains("↺ reactivate     omar.haddad@example.com"),
        "{out}"
    );
    assert!(
        out.contains("title        \"Engineering Manager\" → \"VP Engineering\""),
        "{out}"
    );
    assert!(
        out.contains("Applied 13 of 13 changes: 0 failed, 0 skipped."),
        "{out}"
    );
    assert!(
        dir.path().join(".scimsync-state.json").exists(),
        "the embedded org is kept"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(
        audit
            .lines()
            .filter(|l| l.contains("\"event\":\"write\""))
            .count(),
        13,
        "one line per write"
    );
    assert_eq!(audit.lines().count(), 15, "and the apply's start and end");

    let (code, out, err) = scimsync(dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("Plan: 0 to create, 0 to reactivate, 0 to update, 0 to deactivate, 0 membership changes."), "{out}");
    assert!(out.contains("No changes"), "{out}");
}

#[test]
fn every_shipped_config_validates() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for config in [
        "config/scimsync.yaml",
        "examples/production.yaml",
        "deploy/kubernetes/overlays/example/scimsync.yaml",
        "deploy/kubernetes/overlays/cronjob/scimsync.yaml",
    ] {
        let (code, out, err) = scimsync(repo, &["validate", "--config", config]);
        assert_eq!(code, 0, "{config}: {out}{err}");
    }
}

#[test]
fn every_deployment_manifest_is_well_formed_yaml() {
    use serde::Deserialize;
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for dir in [
        "deploy/kubernetes/base",
        "deploy/kubernetes/components/cron",
        "deploy/kubernetes/components/hr-export",
        "deploy/kubernetes/overlays/example",
        "deploy/kubernetes/overlays/cronjob",
        "deploy/ci",
        ".github/workflows",
    ] {
        for entry in std::fs::read_dir(repo.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let text = std::fs::read_to_string(&path).unwrap();
                for doc in serde_yaml::Deserializer::from_str(&text) {
                    let value = serde_yaml::Value::deserialize(doc)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                    assert!(!value.is_null(), "{}: an empty document", path.display());
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 7, "{checked} manifests");
}

/// The production example, rehearsed as its header says (`SCIMSYNC_TARGET_URL=embedded`),
/// plans no write to the protected primary owner: a copied example is no foot-gun.
#[test]
fn the_production_example_leaves_the_primary_owner_alone() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = crate::harness::command()
        .current_dir(repo)
        .env("SCIMSYNC_TARGET_URL", "embedded")
        .env("NO_COLOR", "1")
        .args(["plan", "--config", "examples/production.yaml"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("5 to create"), "{text}");
    assert!(text.contains("0 to deactivate"), "{text}");
    assert!(!text.contains("primary-owner@example.com"), "{text}");
}

/// The quickstart as written, but with `target.emulator: {preset: like-slack}`: Slack's rate
/// limits, lagging deactivations, duplicate group names, a few 5xx and lost replies, strict
/// bodies and filters. It converges: a failed write is retried by the next run, and after a
/// few runs the plan is empty (`plan --detailed-exitcode` exits 0).
#[test]
fn quickstart_converges_under_like_slack() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&repo.join("config"), &dir.path().join("config"));
    copy_dir(&repo.join("examples"), &dir.path().join("examples"));
    let config = dir.path().join("config/scimsync.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let state_line = "  emulator_state: ../.scimsync-state.json\n";
    assert!(
        text.contains(state_line),
        "the quickstart config changed: {text}"
    );
    std::fs::write(
        &config,
        text.replace(
            state_line,
            &format!("{state_line}  emulator: {{preset: like-slack}}\n"),
        ),
    )
    .unwrap();
    let (code, out, err) = scimsync(dir.path(), &["validate"]);
    assert_eq!(code, 0, "{out}{err}");

    let mut runs = String::new();
    for _ in 0..5 {
        let (code, out, err) = scimsync(dir.path(), &["plan", "--detailed-exitcode"]);
        if code == 0 {
            assert!(out.contains("No changes"), "{out}");
            assert!(
                runs.contains("Applied "),
                "the quickstart applied something:\n{runs}"
            );
            eprintln!("{runs}");
            return;
        }
        runs.push_str(&format!("plan exit {code}\n{out}{err}"));
        let (code, out, err) = scimsync(dir.path(), &["apply"]);
        runs.push_str(&format!("apply exit {code}\n{out}{err}"));
    }
    panic!("no convergence in 5 runs:\n{runs}");
}
