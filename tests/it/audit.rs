//! The audit log end to end: `scimsync apply` against the emulator, then the file read back —
//! the apply's start (config file and its SHA-256, plan digest), the guards it overrides and
//! by which flag, a create's attributes, a deactivation's reason, the end; mode 0600; the
//! stdout mirror; no token anywhere.

use std::os::unix::fs::PermissionsExt;

use scimsync::emulator::{EmulatorConfig, StoredUser};
use scimsync::scim::Version;
use serde_json::Value;

use crate::harness::{org_with, run_text, scimsync, store_of, yaml_setup};

const PEOPLE: &str = "users:\n  - {email: ada@example.com, given_name: Ada, family_name: Lovelace, \
                      title: Engineer, manager: grace@example.com}\n  - {email: grace@example.com, \
                      given_name: Grace, family_name: Hopper}\n";

/// Slack holds one account the directory does not list; with `max_deactivations: 0` its
/// deactivation trips a guard.
const POLICY: &str = "scope: {email_domains: [example.com]}\nunmanaged_users: deactivate\n\
                      safety: {max_deactivations: 0}\nrate_limit: {time_scale: 100}\n";

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn event<'a>(lines: &'a [Value], name: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["event"] == name).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_apply_is_audited_from_start_to_end_with_its_overrides_and_attributes() {
    let o = org_with(
        EmulatorConfig::default(),
        store_of(vec![StoredUser::new("leaver", "leaver@example.com")]),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        PEOPLE,
        &format!("{POLICY}audit_log: audit.jsonl\n"),
    );

    // The guard stops the apply: nothing is written, so nothing is audited.
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 3, "{out}");
    assert!(!dir.path().join("audit.jsonl").exists());

    let (code, out) = run_text(&o, dir.path(), &["apply", "--allow", "max-deactivations"]);
    assert_eq!(code, 0, "{out}");
    let path = dir.path().join("audit.jsonl");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "people's data is readable by its owner only");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(o.emu.token()), "no token in the audit log");
    let all = lines(&text);
    assert_eq!(all.first().unwrap()["event"], "apply_start", "{text}");
    assert_eq!(all.last().unwrap()["event"], "apply_end", "{text}");
    let apply = all[0]["apply"].as_str().unwrap();
    assert!(all.iter().all(|l| l["apply"] == apply), "one id: {text}");

    let start = all[0].clone();
    assert_eq!(start["config"], "scimsync.yaml");
    let config = std::fs::read(dir.path().join("scimsync.yaml")).unwrap();
    assert_eq!(
        start["config_sha256"],
        scimsync::config::sha256_hex(&config)
    );
    assert_eq!(start["target"], o.emu.base_url(Version::V2));
    assert_eq!(start["ops"], 3);
    assert_eq!(start["plan_digest"].as_str().unwrap().len(), 16, "{text}");

    let overrides = event(&all, "guards_overridden");
    assert_eq!(overrides.len(), 1, "{text}");
    assert_eq!(overrides[0]["overrides"][0]["guard"], "max_deactivations");
    assert_eq!(
        overrides[0]["overrides"][0]["flag"],
        "--allow max-deactivations"
    );
    assert!(
        overrides[0]["overrides"][0]["message"]
            .as_str()
            .unwrap()
            .contains('1'),
        "{text}"
    );

    let writes = event(&all, "write");
    assert_eq!(writes.len(), 3, "{text}");
    let ada = writes
        .iter()
        .find(|l| l["subject"] == "ada@example.com")
        .unwrap();
    assert_eq!(ada["op"], "create_user");
    let attributes = &ada["attributes"];
    assert_eq!(attributes["email"], "ada@example.com");
    assert_eq!(attributes["user_name"], "ada");
    assert_eq!(attributes["given_name"], "Ada");
    assert_eq!(attributes["family_name"], "Lovelace");
    assert_eq!(attributes["title"], "Engineer");
    assert_eq!(
        attributes["manager"], "grace@example.com",
        "a manager created in the same apply is named by email"
    );
    let leaver = writes
        .iter()
        .find(|l| l["subject"] == "leaver@example.com")
        .unwrap();
    assert_eq!(leaver["op"], "deactivate_user");
    assert_eq!(leaver["result"], "applied");
    assert!(leaver["reason"].as_str().is_some(), "{text}");

    let end = all.last().unwrap();
    assert_eq!(
        (
            &end["ops"],
            &end["applied"],
            &end["failed"],
            &end["skipped"]
        ),
        (&3.into(), &3.into(), &0.into(), &0.into())
    );
    assert_eq!(end["outcome"], "success");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_readable_audit_log_is_tightened_and_lines_can_go_to_stdout() {
    let o = org_with(EmulatorConfig::default(), store_of(vec![])).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V1),
        PEOPLE,
        "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n\
         audit_log: {path: logs/audit.jsonl, stdout: true}\n",
    );
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    let path = dir.path().join("logs/audit.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();

    let out = scimsync(dir.path(), o.emu.token(), &["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        stderr.contains("mode 644"),
        "the tightening is told: {stderr}"
    );

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("{\"earlier\":true}\n"),
        "earlier lines kept"
    );
    let file_lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(file_lines.len(), 4, "start, two creates, end: {text}");
    // The same lines, in the same order, on standard output.
    let mirrored: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"time\""))
        .collect();
    assert_eq!(mirrored, file_lines, "{stdout}");
    assert!(!stdout.contains(o.emu.token()));

    // Standard output alone is enough.
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        std::fs::read_to_string(dir.path().join("scimsync.yaml"))
            .unwrap()
            .replace("path: logs/audit.jsonl, ", ""),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("people.yaml"),
        PEOPLE.replace("title: Engineer", "title: Lead"),
    )
    .unwrap();
    let out = scimsync(dir.path(), o.emu.token(), &["apply"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let events: Vec<String> = stdout
        .lines()
        .filter(|l| l.starts_with("{\"time\""))
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["event"].to_string())
        .collect();
    assert_eq!(
        events,
        ["\"apply_start\"", "\"write\"", "\"apply_end\""],
        "{stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "the file is untouched"
    );
}
