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

/// The photo Slack holds for `email`.
fn photo_of(o: &crate::harness::Org, email: &str) -> Option<String> {
    o.emu
        .with_store(|s| s.user_by_email(email).unwrap().photo.clone())
}

/// A photo is sent once and never again while the directory's value stays, whether Slack
/// answers a URL of its own (rehost) or the one it was sent (echo), in both dialects; a change
/// is sent once; `dump` read back plans nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_photo_is_sent_once_and_compared_by_what_was_applied() {
    use scimsync::emulator::PhotoReading;
    for reading in [PhotoReading::Rehost, PhotoReading::Echo] {
        for v in BOTH {
            let what = format!("{v} {reading:?}");
            let config = EmulatorConfig {
                photo_reading: reading,
                ..EmulatorConfig::default()
            };
            let o = org_with(config, store_of(vec![ada()])).await;
            let dir = tempfile::tempdir().unwrap();
            let yaml = |url: &str| {
                format!(
                    "users:\n  - {{email: ada@example.com, given_name: Someone, photo: \"{url}\"}}\n  \
                     - {{email: lin@example.com, given_name: Lin, photo: \"{url}\"}}\n"
                )
            };
            let first = "https://hr.example/photos/ada.png";
            yaml_setup(dir.path(), &o.emu.base_url(v), &yaml(first), SCOPE);
            apply_then_quiet(&o, dir.path(), &what, 3);
            let held = photo_of(&o, "ada@example.com").unwrap();
            match reading {
                PhotoReading::Rehost => assert_ne!(held, first, "{what}: Slack's own URL"),
                PhotoReading::Echo => assert_eq!(held, first, "{what}"),
            }
            assert_eq!(photo_of(&o, "lin@example.com").unwrap(), held, "{what}");
            // Applies send nothing while the directory's photo stays.
            o.emu.reset_stats();
            let (code, out) = run_text(&o, dir.path(), &["apply"]);
            assert_eq!(code, 0, "{what}: {out}");
            assert_eq!(o.emu.stats().writes, 0, "{what}: never re-sent: {out}");
            // A change is sent once (Ada's only: Lin keeps hers by another directory value).
            let second = "data:image/png;base64,iVBORw0KGgo=";
            yaml_setup(dir.path(), &o.emu.base_url(v), &yaml(second), SCOPE);
            o.emu.reset_stats();
            apply_then_quiet(&o, dir.path(), &what, 3);
            assert_eq!(o.emu.stats().writes, 2, "{what}: each account once");
            assert_ne!(photo_of(&o, "ada@example.com").unwrap(), held, "{what}");
            // `dump` read back as the directory plans nothing.
            let (code, dump) = run_text(&o, dir.path(), &["dump"]);
            assert_eq!(code, 0, "{what}: {dump}");
            assert!(dump.contains("photo:"), "{what}: {dump}");
            std::fs::write(dir.path().join("people.yaml"), &dump).unwrap();
            let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
            assert_eq!(code, 0, "{what}: the dump plans nothing: {out}");
        }
    }
}

/// Without a state folder a photo can only be set on create: `validate` refuses a photo
/// explicitly enforced, and by default an existing account's photo is never updated while a
/// new account gets it.
#[tokio::test(flavor = "multi_thread")]
async fn without_state_a_photo_is_create_only() {
    let v = scimsync::scim::Version::V2;
    let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "users:\n  - {email: ada@example.com, given_name: Someone, photo: \"https://hr.example/a.png\"}\n  \
                - {email: lin@example.com, given_name: Lin, photo: \"https://hr.example/l.png\"}\n";
    let stateless = format!("{SCOPE}state_dir: false\n");
    let enforced = format!("{stateless}attributes:\n  photo: {{mode: enforce}}\n");
    yaml_setup(dir.path(), &o.emu.base_url(v), yaml, &enforced);
    let (code, out) = run_text(&o, dir.path(), &["validate"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("error: attributes.photo: enforce (Slack answers a photo URL of its own")
            && out.contains("needs the state kept between passes"),
        "{out}"
    );
    yaml_setup(dir.path(), &o.emu.base_url(v), yaml, &stateless);
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(photo_of(&o, "ada@example.com"), None, "{out}");
    assert!(photo_of(&o, "lin@example.com").is_some(), "{out}");
    let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

/// The new attributes as CSV columns, by their names under `columns:`: applied, then nothing
/// to do.
#[tokio::test(flavor = "multi_thread")]
async fn the_new_attributes_read_from_csv_columns_converge() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("people.csv"),
            "Email,First,Other,Prefix,Role,Phone,Mobile,Photo\n\
             ada@example.com,Someone,ada@home.example,Dr.,Tech Lead,+1 555 0100,+1 555 0199,https://hr.example/a.png\n\
             lin@example.com,Lin,,,,,+1 555 0142,\n",
        )
        .unwrap();
        crate::harness::write_config_with(
            dir.path(),
            &o.emu.base_url(v),
            "  - csv: people.csv\n    columns: {email: Email, given_name: First, \
             secondary_email: Other, honorific_prefix: Prefix, role: Role, phone: Phone, \
             mobile_phone: Mobile, photo: Photo}\n",
            SCOPE,
        );
        apply_then_quiet(&o, dir.path(), &format!("{v} csv"), 2);
        let (ada, lin) = o.emu.with_store(|s| {
            (
                s.user_by_email("ada@example.com").unwrap().clone(),
                s.user_by_email("lin@example.com").unwrap().clone(),
            )
        });
        assert_eq!(
            ada.text(Attribute::SecondaryEmail),
            Some("ada@home.example")
        );
        assert_eq!(ada.text(Attribute::HonorificPrefix), Some("Dr."));
        assert_eq!(ada.text(Attribute::Role), Some("Tech Lead"));
        assert_eq!(ada.text(Attribute::Phone), Some("+1 555 0100"));
        assert_eq!(ada.text(Attribute::MobilePhone), Some("+1 555 0199"));
        assert!(ada.photo.is_some(), "{v}");
        // A mobile phone alone is Slack's mobilePhone, not its primary one.
        assert_eq!(lin.text(Attribute::MobilePhone), Some("+1 555 0142"));
        assert_eq!(lin.text(Attribute::Phone), None, "{v}");
    }
}

/// The address parts, with a value each, as the directory writes them under `address:`.
const ADDRESS: [(Attribute, &str); 5] = [
    (Attribute::AddressStreet, "12 Analytical Row"),
    (Attribute::AddressLocality, "London"),
    (Attribute::AddressRegion, "Greater London"),
    (Attribute::AddressPostalCode, "NW1 6XE"),
    (Attribute::AddressCountry, "GB"),
];

/// Ada (in Slack already) and Lin (new), both with the whole address (a part written with
/// white space around it, which Slack may trim); `changed` replaces one part of Ada's.
fn address_directory(changed: Option<(Attribute, &str)>) -> String {
    let mut yaml = String::from("users:\n");
    for email in ["ada@example.com", "lin@example.com"] {
        yaml.push_str(&format!(
            "  - email: {email}\n    given_name: Someone\n    address:\n"
        ));
        for (a, value) in ADDRESS {
            let value = match changed {
                Some((c, v)) if c == a && email.starts_with("ada") => v,
                _ => value,
            };
            let part = a.address_part().unwrap();
            yaml.push_str(&format!("      {part}: \"  {value} \"\n"));
        }
    }
    yaml
}

/// The address Slack holds for `email`, part by part.
fn address_of(o: &crate::harness::Org, email: &str) -> Vec<Option<String>> {
    let u = o
        .emu
        .with_store(|s| s.user_by_email(email).unwrap().clone());
    ADDRESS
        .iter()
        .map(|(a, _)| u.text(*a).map(|v| v.trim().to_string()))
        .collect()
}

/// An address applies as one, in both dialects, whether Slack trims its parts or not, and the
/// next three plans are empty; changing one part shows that part only and keeps the others
/// (Slack replaces the whole address on a write, so every part is sent); `dump` read back
/// plans nothing.
#[tokio::test(flavor = "multi_thread")]
async fn an_address_applies_whole_converges_and_changes_part_by_part() {
    use scimsync::emulator::AddressReading;
    let whole: Vec<Option<String>> = ADDRESS.iter().map(|(_, v)| Some(v.to_string())).collect();
    for reading in [AddressReading::Keep, AddressReading::Trim] {
        for v in BOTH {
            let what = format!("{v} {reading:?}");
            let config = EmulatorConfig {
                address_reading: reading,
                ..EmulatorConfig::default()
            };
            let o = org_with(config, store_of(vec![ada()])).await;
            let dir = tempfile::tempdir().unwrap();
            yaml_setup(
                dir.path(),
                &o.emu.base_url(v),
                &address_directory(None),
                SCOPE,
            );
            apply_then_quiet(&o, dir.path(), &what, 3);
            assert_eq!(address_of(&o, "ada@example.com"), whole, "{what}");
            assert_eq!(address_of(&o, "lin@example.com"), whole, "{what}");
            for (a, value) in ADDRESS {
                let new = format!("x{value}");
                let changed = address_directory(Some((a, &new)));
                yaml_setup(dir.path(), &o.emu.base_url(v), &changed, SCOPE);
                let (code, out) = run_text(&o, dir.path(), &["plan", "--format", "json"]);
                assert_eq!(code, 0, "{what} {a}: {out}");
                let plan: serde_json::Value = serde_json::from_str(&out).unwrap();
                let ops = plan["ops"].as_array().unwrap();
                assert_eq!(ops.len(), 1, "{what} {a}: {out}");
                let changes = ops[0]["changes"].as_array().unwrap();
                assert_eq!(changes.len(), 1, "{what} {a}: only {a} changes: {out}");
                assert_eq!(changes[0]["attribute"], a.name(), "{what}: {out}");
                apply_then_quiet(&o, dir.path(), &format!("{what} {a}"), 1);
                let want: Vec<Option<String>> = ADDRESS
                    .iter()
                    .map(|(b, old)| {
                        Some(if *b == a {
                            new.clone()
                        } else {
                            old.to_string()
                        })
                    })
                    .collect();
                assert_eq!(address_of(&o, "ada@example.com"), want, "{what} {a}");
                yaml_setup(
                    dir.path(),
                    &o.emu.base_url(v),
                    &address_directory(None),
                    SCOPE,
                );
                apply_then_quiet(&o, dir.path(), &format!("{what} {a} back"), 1);
            }
            let (code, dump) = run_text(&o, dir.path(), &["dump"]);
            assert_eq!(code, 0, "{what}: {dump}");
            assert!(dump.contains("address:\n"), "{what}: {dump}");
            std::fs::write(dir.path().join("people.yaml"), &dump).unwrap();
            let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
            assert_eq!(code, 0, "{what}: the dump plans nothing: {out}");
        }
    }
}

/// The address as CSV columns, by the parts' names under `columns:`; a blank part clears
/// nothing by default.
#[tokio::test(flavor = "multi_thread")]
async fn an_address_reads_from_csv_columns() {
    let v = scimsync::scim::Version::V1;
    let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("people.csv"),
        "Email,First,Street,City,State,Zip,Country\n\
         ada@example.com,Someone,12 Analytical Row,London,,NW1 6XE,GB\n",
    )
    .unwrap();
    crate::harness::write_config_with(
        dir.path(),
        &o.emu.base_url(v),
        "  - csv: people.csv\n    columns: {email: Email, given_name: First, \
         address.street: Street, address.locality: City, address.region: State, \
         address.postal_code: Zip, address.country: Country}\n",
        SCOPE,
    );
    apply_then_quiet(&o, dir.path(), "csv", 2);
    let mut want: Vec<Option<String>> = ADDRESS.iter().map(|(_, v)| Some(v.to_string())).collect();
    want[2] = None;
    assert_eq!(address_of(&o, "ada@example.com"), want);
}

/// The profile URL Slack shows for `email`, as a listing renders it.
fn profile_url_of(o: &crate::harness::Org, email: &str) -> Option<String> {
    o.emu
        .with_store(|s| s.user_by_email(email).unwrap().profile_url.clone())
}

/// A profile URL: Slack answers a URL of its own (or echoes a create's) and ignores updates
/// (FACTS §2.2, §10 #8), so it is compared by what scimsync last applied: sent once, never
/// again while the directory's value stays, under both readings and in both dialects; a
/// change is sent once; `dump` read back plans nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_profile_url_is_sent_once_and_compared_by_what_was_applied() {
    use scimsync::emulator::ProfileUrlReading;
    for reading in [ProfileUrlReading::Slack, ProfileUrlReading::Echo] {
        for v in BOTH {
            let what = format!("{v} {reading:?}");
            let config = EmulatorConfig {
                profile_url_reading: reading,
                ..EmulatorConfig::default()
            };
            let o = org_with(config, store_of(vec![ada()])).await;
            let dir = tempfile::tempdir().unwrap();
            let yaml = |url: &str| {
                format!(
                    "users:\n  - {{email: ada@example.com, given_name: Someone, profile_url: \"{url}/ada\"}}\n  \
                     - {{email: lin@example.com, given_name: Lin, profile_url: \"{url}/lin\"}}\n"
                )
            };
            let first = "https://hr.example/people";
            yaml_setup(dir.path(), &o.emu.base_url(v), &yaml(first), SCOPE);
            apply_then_quiet(&o, dir.path(), &what, 3);
            let lin = profile_url_of(&o, "lin@example.com");
            match reading {
                ProfileUrlReading::Slack => assert_eq!(lin, None, "{what}: Slack's own URL"),
                ProfileUrlReading::Echo => {
                    assert_eq!(
                        lin.as_deref(),
                        Some("https://hr.example/people/lin"),
                        "{what}"
                    );
                }
            }
            // Updates are ignored by Slack: Ada's stays Slack's own.
            assert_eq!(profile_url_of(&o, "ada@example.com"), None, "{what}");
            o.emu.reset_stats();
            let (code, out) = run_text(&o, dir.path(), &["apply"]);
            assert_eq!(code, 0, "{what}: {out}");
            assert_eq!(o.emu.stats().writes, 0, "{what}: never re-sent: {out}");
            // A change is sent once per account.
            yaml_setup(
                dir.path(),
                &o.emu.base_url(v),
                &yaml("https://hr2.example/p"),
                SCOPE,
            );
            o.emu.reset_stats();
            apply_then_quiet(&o, dir.path(), &what, 3);
            assert_eq!(o.emu.stats().writes, 2, "{what}: each account once");
            let (code, dump) = run_text(&o, dir.path(), &["dump"]);
            assert_eq!(code, 0, "{what}: {dump}");
            assert!(dump.contains("profile_url:"), "{what}: {dump}");
            std::fs::write(dir.path().join("people.yaml"), &dump).unwrap();
            let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
            assert_eq!(code, 0, "{what}: the dump plans nothing: {out}");
        }
    }
}

/// Without a state folder a profile URL can only be set on create, as a photo.
#[tokio::test(flavor = "multi_thread")]
async fn without_state_a_profile_url_is_create_only() {
    let v = scimsync::scim::Version::V1;
    let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "users:\n  - {email: ada@example.com, given_name: Someone, profile_url: \"https://hr.example/a\"}\n";
    let stateless = format!("{SCOPE}state_dir: false\n");
    let enforced = format!("{stateless}attributes:\n  profile_url: {{mode: enforce}}\n");
    yaml_setup(dir.path(), &o.emu.base_url(v), yaml, &enforced);
    let (code, out) = run_text(&o, dir.path(), &["validate"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains(
            "error: attributes.profile_url: enforce (Slack answers a profile URL of its own"
        ),
        "{out}"
    );
    yaml_setup(dir.path(), &o.emu.base_url(v), yaml, &stateless);
    o.emu.reset_stats();
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(o.emu.stats().writes, 0, "{out}");
    let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
    assert_eq!(code, 0, "{out}");
}

/// A value Slack documents as invalid for its field is an error of its row at `validate`:
/// a photo that is neither a public URL nor a `data:` URL (FACTS §2.2).
#[tokio::test(flavor = "multi_thread")]
async fn a_photo_slack_documents_as_invalid_is_an_error_of_its_row() {
    let v = scimsync::scim::Version::V2;
    let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
    let dir = tempfile::tempdir().unwrap();
    let yaml = "users:\n  - {email: ada@example.com, given_name: Someone, photo: \"hr.example/a.png\"}\n  \
                - {email: lin@example.com, given_name: Lin, photo: \"data:,x\"}\n";
    yaml_setup(dir.path(), &o.emu.base_url(v), yaml, SCOPE);
    let (code, out) = run_text(&o, dir.path(), &["validate"]);
    assert_ne!(code, 0, "{out}");
    assert!(
        out.contains("people.yaml:2:")
            && out.contains(
                "photo \"hr.example/a.png\" is not a public URL (https://…) or a data: URL"
            ),
        "{out}"
    );
    assert!(!out.contains("people.yaml:3:"), "{out}");
}

/// Slack drops a new account's whole custom profile when one value is invalid (FACTS TL;DR
/// 7): the apply reports the create as applied with its profile dropped, not a success (exit
/// 4, the plan after it not empty); the next pass writes the values again, one at a time when
/// Slack refuses them together, so every value Slack takes is repaired, and a value Slack
/// keeps refusing becomes a stuck op with Slack's code as its cause; once the directory's
/// value is one Slack takes, the profile is repaired and nothing is left to do. Both dialects.
#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_profile_is_reported_written_again_and_stuck_while_refused() {
    for v in BOTH {
        let config = EmulatorConfig {
            invalid_values: vec!["title=*!*".parse().unwrap()],
            ..EmulatorConfig::default()
        };
        let o = org_with(config, store_of(vec![ada()])).await;
        let dir = tempfile::tempdir().unwrap();
        let yaml = |title: &str| {
            format!(
                "users:\n  - {{email: lin@example.com, given_name: Lin, title: \"{title}\", phone: \"+1 555 0100\", \
                 address: {{locality: Paris}}}}\n"
            )
        };
        let settings = format!("{SCOPE}stuck: {{after: 2, backoff: 1h}}\n");
        yaml_setup(dir.path(), &o.emu.base_url(v), &yaml("Lead!"), &settings);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{v}: a dropped profile is not a success: {out}");
        assert!(
            out.contains("create_user")
                && out.contains("lin@example.com")
                && out.contains("applied, profile dropped")
                && out.contains("lacks address.locality, phone, title"),
            "{v}: {out}"
        );
        let lin = o
            .emu
            .with_store(|s| s.user_by_email("lin@example.com").unwrap().clone());
        assert_eq!(lin.text(Attribute::GivenName), Some("Lin"), "{v}");
        assert_eq!(lin.text(Attribute::Phone), None, "{v}: dropped");
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 2, "{v}: the dropped values are planned again: {out}");
        assert!(out.contains("~ update user"), "{v}: {out}");
        assert!(
            out.contains("custom profile fields: 3 of Slack's 50"),
            "{v}: the plan estimates the fields the directory needs: {out}"
        );
        assert!(
            !out.contains("~ drift"),
            "{v}: values never applied are no hand edit: {out}"
        );
        // Slack refuses the title on update: the values it takes are written one at a time
        // (the profile is repaired but for the title), and the title, refused pass after
        // pass, becomes a stuck op (its count starts again once it is an op of its own).
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{v}: {out}");
        assert!(
            out.contains("invalid_attribute_format")
                && out.contains("Slack refused title")
                && out.contains("applied one at a time: address.locality, phone"),
            "{v}: {out}"
        );
        let lin = o
            .emu
            .with_store(|s| s.user_by_email("lin@example.com").unwrap().clone());
        assert_eq!(lin.text(Attribute::Phone), Some("+1 555 0100"), "{v}");
        assert_eq!(lin.text(Attribute::AddressLocality), Some("Paris"), "{v}");
        assert_eq!(lin.text(Attribute::Title), None, "{v}");
        for pass in 2..=3 {
            let (code, out) = run_text(&o, dir.path(), &["apply"]);
            assert_eq!(code, 4, "{v} pass {pass}: {out}");
            assert!(out.contains("invalid_attribute_format"), "{v}: {out}");
        }
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 5, "{v}: {out}");
        assert!(
            out.contains("! stuck           update_user lin@example.com")
                && out.contains("invalid_attribute_format"),
            "{v}: the cause is Slack's code: {out}"
        );
        // A title Slack takes: the op is another one, applied, and the profile is whole.
        yaml_setup(dir.path(), &o.emu.base_url(v), &yaml("Lead"), &settings);
        apply_then_quiet(&o, dir.path(), &format!("{v} repaired"), 2);
        let lin = o
            .emu
            .with_store(|s| s.user_by_email("lin@example.com").unwrap().clone());
        assert_eq!(lin.text(Attribute::Title), Some("Lead"), "{v}");
        assert_eq!(lin.text(Attribute::Phone), Some("+1 555 0100"), "{v}");
        assert_eq!(lin.text(Attribute::AddressLocality), Some("Paris"), "{v}");
    }
}

/// The organisation's 51st custom profile field is refused (FACTS §2.8): the failure says so
/// plainly and names the attribute whose field Slack could not create.
#[tokio::test(flavor = "multi_thread")]
async fn the_51st_custom_profile_field_is_refused_with_a_clear_message() {
    for v in BOTH {
        let config = EmulatorConfig {
            custom_profile_fields: 49,
            ..EmulatorConfig::default()
        };
        let o = org_with(config, store_of(vec![ada()])).await;
        let dir = tempfile::tempdir().unwrap();
        // Ada's title makes the 50th field; Lin's department would be the 51st.
        let yaml = "users:\n  - {email: ada@example.com, given_name: Someone, title: Lead}\n  \
                    - {email: lin@example.com, given_name: Lin, title: Cook, department: Kitchen}\n";
        let settings = format!("{SCOPE}stuck: {{after: 1, backoff: 1h}}\n");
        yaml_setup(dir.path(), &o.emu.base_url(v), yaml, &settings);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 4, "{v}: {out}");
        assert!(
            out.contains("unable_to_create_team_profile_fields")
                && out.contains("the organisation has the 50 custom profile fields Slack allows")
                && out.contains("department (\"Department\")")
                && !out.contains("title (\"Title\")"),
            "{v}: {out}"
        );
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 5, "{v}: stuck: {out}");
        assert!(
            out.contains("unable_to_create_team_profile_fields"),
            "{v}: {out}"
        );
    }
}

/// A role Slack reads back in another case (FACTS is silent: both readings) is no change:
/// the next plans are empty, a changed role is one op, `dump` read back plans nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_role_read_back_in_another_case_converges() {
    use scimsync::emulator::RoleReading;
    for reading in [RoleReading::Exact, RoleReading::Lower] {
        for v in BOTH {
            let what = format!("{v} {reading:?}");
            let config = EmulatorConfig {
                role_reading: reading,
                ..EmulatorConfig::default()
            };
            let o = org_with(config, store_of(vec![ada()])).await;
            let dir = tempfile::tempdir().unwrap();
            let yaml = |role: &str| {
                format!(
                    "users:\n  - {{email: ada@example.com, given_name: Someone, role: \"{role}\"}}\n"
                )
            };
            yaml_setup(dir.path(), &o.emu.base_url(v), &yaml("Tech Lead"), SCOPE);
            apply_then_quiet(&o, dir.path(), &what, 3);
            let held = o.emu.with_store(|s| {
                s.user_by_email("ada@example.com")
                    .unwrap()
                    .text(Attribute::Role)
                    .map(str::to_string)
            });
            let want = match reading {
                RoleReading::Exact => "Tech Lead",
                RoleReading::Lower => "tech lead",
            };
            assert_eq!(held.as_deref(), Some(want), "{what}");
            yaml_setup(
                dir.path(),
                &o.emu.base_url(v),
                &yaml("Staff Engineer"),
                SCOPE,
            );
            o.emu.reset_stats();
            apply_then_quiet(&o, dir.path(), &what, 2);
            assert_eq!(o.emu.stats().writes, 1, "{what}");
            let (code, dump) = run_text(&o, dir.path(), &["dump"]);
            assert_eq!(code, 0, "{what}: {dump}");
            std::fs::write(dir.path().join("people.yaml"), &dump).unwrap();
            let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
            assert_eq!(code, 0, "{what}: the dump plans nothing: {out}");
        }
    }
}

/// Slack shows a photo change late (FACTS §2.2; the emulator's `--lag-scope photo`): the plan
/// right after the apply is empty all the same (a photo is compared by what was applied), and
/// the photo is not sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_photo_change_shown_late_is_not_sent_again() {
    use scimsync::emulator::LagScope;
    for v in BOTH {
        let config = EmulatorConfig {
            read_lag: std::time::Duration::from_secs(3),
            lag_scope: LagScope::Photo,
            ..EmulatorConfig::default()
        };
        let o = org_with(config, store_of(vec![ada()])).await;
        let dir = tempfile::tempdir().unwrap();
        let yaml = |url: &str| {
            format!(
                "users:\n  - {{email: ada@example.com, given_name: Someone, photo: \"{url}\"}}\n"
            )
        };
        yaml_setup(
            dir.path(),
            &o.emu.base_url(v),
            &yaml("https://hr.example/1.png"),
            SCOPE,
        );
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        yaml_setup(
            dir.path(),
            &o.emu.base_url(v),
            &yaml("https://hr.example/2.png"),
            SCOPE,
        );
        o.emu.reset_stats();
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        let (code, out) = run_text(&o, dir.path(), &["plan", "--detailed-exitcode"]);
        assert_eq!(code, 0, "{v}: the late photo is no change: {out}");
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        assert_eq!(
            o.emu.stats().writes,
            1,
            "{v}: the photo is sent once: {out}"
        );
    }
}

/// A hand edit of one address part under `report` is not reverted, and a directory change of
/// another part then writes the whole address with the hand-edited part as Slack has it (Slack
/// replaces the whole address on a write).
#[tokio::test(flavor = "multi_thread")]
async fn a_reported_address_part_is_kept_when_another_part_is_written() {
    for v in BOTH {
        let o = org_with(EmulatorConfig::default(), store_of(vec![ada()])).await;
        let dir = tempfile::tempdir().unwrap();
        let settings = format!("{SCOPE}attributes:\n  address.street: report\n");
        yaml_setup(
            dir.path(),
            &o.emu.base_url(v),
            &address_directory(None),
            &settings,
        );
        apply_then_quiet(&o, dir.path(), &format!("{v}"), 1);
        o.emu.with_store(|s| {
            let edited = s
                .user_by_email("ada@example.com")
                .unwrap()
                .clone()
                .with(Attribute::AddressStreet, "1 Hand Edit Lane");
            s.replace_user(edited);
        });
        let changed = address_directory(Some((Attribute::AddressLocality, "Cambridge")));
        yaml_setup(dir.path(), &o.emu.base_url(v), &changed, &settings);
        let (code, out) = run_text(&o, dir.path(), &["apply"]);
        assert_eq!(code, 0, "{v}: {out}");
        let held = address_of(&o, "ada@example.com");
        assert_eq!(held[0].as_deref(), Some("1 Hand Edit Lane"), "{v}: {out}");
        assert_eq!(held[1].as_deref(), Some("Cambridge"), "{v}: {out}");
        assert_eq!(held[4].as_deref(), Some("GB"), "{v}: {out}");
    }
}
