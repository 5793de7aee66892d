//! Every attribute Slack stores (issue 26), end to end against the emulator, v1 and v2: a
//! directory setting each new attribute applies and the next plans are empty (no perpetual
//! diff, the phone swap included), changing one value changes only that value, and `dump`
//! read back as the directory plans nothing.

use scimsync::emulator::{EmulatorConfig, StoredUser};
use scimsync::model::Attribute;

use crate::harness::{BOTH, org_with, run_text, store_of, yaml_setup};

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";

/// The new text attributes, with a value each.
const NEW_TEXT: [(Attribute, &str); 5] = [
    (Attribute::HonorificPrefix, "Dr."),
    (Attribute::SecondaryEmail, "ada.second@example.org"),
    (Attribute::Role, "Tech Lead"),
    (Attribute::Phone, "+1 555 0100"),
    (Attribute::MobilePhone, "+1 555 0199"),
];

/// A YAML directory with Ada (in Slack already) and Lin (new), both setting every new
/// attribute; `changed` replaces one value of Ada's.
fn directory(changed: Option<(Attribute, &str)>) -> String {
    let mut yaml = String::from("users:\n");
    for (email, suffix) in [("ada@example.com", ""), ("lin@example.com", "1")] {
        yaml.push_str(&format!("  - email: {email}\n    given_name: Someone\n"));
        for (a, value) in NEW_TEXT {
            let value = match changed {
                Some((c, v)) if c == a && suffix.is_empty() => v.to_string(),
                _ if a == Attribute::SecondaryEmail => format!("{}{suffix}", value),
                _ => value.to_string(),
            };
            yaml.push_str(&format!("    {a}: \"{value}\"\n"));
        }
    }
    yaml
}

fn ada() -> StoredUser {
    StoredUser {
        id: "W0ADA".into(),
        ..StoredUser::new("ada", "ada@example.com").with(Attribute::GivenName, "Someone")
    }
}

/// Applies, then plans `times` times expecting nothing to do.
fn apply_then_quiet(o: &crate::harness::Org, dir: &std::path::Path, what: &str, times: usize) {
    let (code, out) = run_text(o, dir, &["apply"]);
    assert_eq!(code, 0, "{what}: {out}");
    for pass in 0..times {
        let (code, out) = run_text(o, dir, &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{what}: plan {pass} after apply is empty: {out}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_new_text_attribute_applies_converges_and_changes_alone() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
        let dir = tempfile::tempdir().unwrap();
        yaml_setup(dir.path(), &o.emu.base_url(v), &directory(None), SCOPE);
        apply_then_quiet(&o, dir.path(), &format!("{v}"), 3);
        for email in ["ada@example.com", "lin@example.com"] {
            let u = o
                .emu
                .with_store(|s| s.user_by_email(email).unwrap().clone());
            for (a, value) in NEW_TEXT {
                let want = if a == Attribute::SecondaryEmail && email.starts_with("lin") {
                    format!("{value}1")
                } else {
                    value.to_string()
                };
                assert_eq!(u.text(a), Some(want.as_str()), "{v} {email} {a}");
            }
        }
        // Each value changed alone: the plan shows that one change only, and it converges.
        for (a, value) in NEW_TEXT {
            let new = format!("x{value}");
            yaml_setup(
                dir.path(),
                &o.emu.base_url(v),
                &directory(Some((a, &new))),
                SCOPE,
            );
            let (code, out) = run_text(&o, dir.path(), &["plan", "--format", "json"]);
            assert_eq!(code, 0, "{v} {a}: {out}");
            let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
            let ops = plan["ops"].as_array().unwrap();
            assert_eq!(ops.len(), 1, "{v} {a}: {out}");
            let text = ops[0]["fields"]["text"].as_object().unwrap();
            assert_eq!(text.len(), 1, "{v} {a}: only {a} changes: {out}");
            assert_eq!(text[a.name()], new.as_str(), "{v} {a}");
            apply_then_quiet(&o, dir.path(), &format!("{v} {a}"), 1);
            let u = o
                .emu
                .with_store(|s| s.user_by_email("ada@example.com").unwrap().clone());
            for (b, old) in NEW_TEXT {
                let want = if b == a { new.as_str() } else { old };
                assert_eq!(u.text(b), Some(want), "{v} {a} changed; {b}");
            }
            // Back to the first directory for the next attribute.
            yaml_setup(dir.path(), &o.emu.base_url(v), &directory(None), SCOPE);
            apply_then_quiet(&o, dir.path(), &format!("{v} {a} back"), 1);
        }
        // `dump`, read back as the directory, plans nothing.
        let (code, dump) = run_text(&o, dir.path(), &["dump"]);
        assert_eq!(code, 0, "{v}: {dump}");
        for (a, _) in NEW_TEXT {
            assert!(
                dump.contains(&format!("{a}:")),
                "{v}: dump writes {a}: {dump}"
            );
        }
        std::fs::write(dir.path().join("people.yaml"), &dump).unwrap();
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(
            code, 0,
            "{v}: the dump as the directory plans nothing: {out}"
        );
    }
}
