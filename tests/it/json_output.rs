//! Machine-readable output that is: `apply --format json` writes exactly one JSON document to
//! stdout (the plan and its outcome), and JSON log lines never repeat a key.

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::scim::Version;

use crate::harness::{org_with, scimsync, yaml_setup};

/// Whether a JSON text repeats a key inside one object (serde_json keeps only one of them).
fn repeated_key(text: &str) -> Option<String> {
    // A small scanner over objects: keys are the strings followed by ':' at each depth.
    let mut stack: Vec<std::collections::HashSet<String>> = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Default::default()),
            b'}' => {
                stack.pop();
            }
            b'"' => {
                let start = i + 1;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                let s = &text[start..i];
                let mut j = i + 1;
                while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < bytes.len()
                    && bytes[j] == b':'
                    && let Some(keys) = stack.last_mut()
                    && !keys.insert(s.to_string())
                {
                    return Some(s.to_string());
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[test]
fn the_scanner_finds_a_repeated_key() {
    assert_eq!(
        repeated_key(r#"{"a":{"message":"x","message":"y"}}"#),
        Some("message".into())
    );
    assert_eq!(
        repeated_key(r#"{"a":{"message":"x"},"b":{"message":"y"}}"#),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn apply_json_is_one_document_and_failed_ops_log_unique_keys() {
    // The default organisation's primary owner is in scope and not in the directory: its
    // deactivation is refused by Slack, so the apply has a failed op to log.
    let o = org_with(EmulatorConfig::default(), Store::default_org('W', 4)).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: ada@example.com}\n",
        "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n\
         unmanaged_users: deactivate\nsafety: {max_deactivation_ratio: 1.0}\n",
    );
    let out = scimsync(
        dir.path(),
        o.emu.token(),
        &["apply", "--format", "json", "--log-format", "json"],
    );
    assert_eq!(out.status.code(), Some(4));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is one JSON document ({e}):\n{stdout}"));
    assert_eq!(doc["summary"]["create"], 1);
    assert_eq!(doc["outcome"]["result"], "applied");
    assert_eq!(doc["outcome"]["applied"], 1);
    assert_eq!(doc["outcome"]["failed"], 1);
    assert_eq!(
        doc["outcome"]["ops"][1]["code"],
        "cannot_disable_primary_owner"
    );

    let stderr = String::from_utf8(out.stderr).unwrap();
    let failed: Vec<&str> = stderr.lines().filter(|l| l.contains("op failed")).collect();
    assert_eq!(failed.len(), 1, "{stderr}");
    for line in stderr.lines().filter(|l| l.starts_with('{')) {
        assert_eq!(repeated_key(line), None, "{line}");
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let v: serde_json::Value = serde_json::from_str(failed[0]).unwrap();
    assert!(
        v["fields"]["error"]
            .as_str()
            .unwrap()
            .contains("cannot_disable_primary_owner")
    );
}
