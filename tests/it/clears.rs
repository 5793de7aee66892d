//! The clear guard end to end (issue 23): under `blank: clear`, a column that arrives empty
//! would clear that attribute for everyone; `safety.max_clears` and `safety.max_clear_ratio`
//! stop it with zero writes (exit 3), each overridden by its own `--allow`, while one person's
//! blank cell applies.

use std::path::Path;

use scimsync::emulator::{EmulatorConfig, StoredUser};
use scimsync::model::Attribute;
use scimsync::scim::Version;

use crate::harness::{Org, org_with, run_text, store_of, write_config_with};

const PEOPLE: usize = 30;

fn email(i: usize) -> String {
    format!("p{i:02}@example.com")
}

/// `PEOPLE` engineers in Slack, each titled `Engineer`.
fn engineers() -> Vec<StoredUser> {
    (0..PEOPLE)
        .map(|i| StoredUser::new(&format!("p{i:02}"), &email(i)).with(Attribute::Title, "Engineer"))
        .collect()
}

/// The export: everyone, with `title(i)` in the Job Title column.
fn export(dir: &Path, title: impl Fn(usize) -> &'static str) {
    let mut csv = String::from("Email,Job Title\n");
    for i in 0..PEOPLE {
        csv.push_str(&format!("{},{}\n", email(i), title(i)));
    }
    std::fs::write(dir.join("people.csv"), csv).unwrap();
}

fn titles(o: &Org) -> Vec<Option<String>> {
    o.emu.with_store(|s| {
        (0..PEOPLE)
            .map(|i| {
                s.user_by_email(&email(i))
                    .unwrap()
                    .text(Attribute::Title)
                    .map(str::to_string)
            })
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_title_column_under_blank_clear_trips_the_clear_guard_with_zero_writes() {
    let o = org_with(EmulatorConfig::default(), store_of(engineers())).await;
    let dir = tempfile::tempdir().unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "  - csv: people.csv\n    columns: {email: Email, title: Job Title}\n",
        "scope: {email_domains: [example.com]}\nattributes:\n  title: {blank: clear}\n\
         rate_limit: {time_scale: 100}\n",
    );

    // One person's blank cell is one clear: it applies under the default limits.
    export(dir.path(), |i| if i == 7 { "" } else { "Engineer" });
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    let after = titles(&o);
    assert_eq!(after[7], None, "{out}");
    assert_eq!(after.iter().flatten().count(), PEOPLE - 1, "{out}");

    // The Job Title column arrives empty: 29 clears, over 25 and over 5% of 30 (1).
    export(dir.path(), |_| "");
    let written = o.emu.stats().writes;
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(o.emu.stats().writes, written, "nothing written: {out}");
    assert_eq!(titles(&o).iter().flatten().count(), PEOPLE - 1, "{out}");
    assert!(
        out.contains(
            "29 clears planned (blank cells under `blank: clear`: title 29), limit 25 (4 over)"
        ),
        "{out}"
    );
    assert!(
        out.contains("29 clears planned for 30 managed users (96.7%), limit 5.0% (1 clear)"),
        "{out}"
    );
    assert!(out.contains("--allow max-clears"), "{out}");
    assert!(out.contains("--allow max-clear-ratio"), "{out}");

    // Each guard has its own override: one lets its own guard through, not the other.
    let (code, out) = run_text(&o, dir.path(), &["apply", "--allow", "max-clears"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(o.emu.stats().writes, written, "nothing written: {out}");
    assert!(out.contains("max_clear_ratio"), "{out}");
    assert!(
        out.contains("error: safety guard max_clear_ratio tripped"),
        "{out}"
    );
    assert!(
        !out.contains("error: safety guard max_clears tripped"),
        "overridden: {out}"
    );

    let (code, out) = run_text(
        &o,
        dir.path(),
        &[
            "apply",
            "--allow",
            "max-clears",
            "--allow",
            "max-clear-ratio",
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(titles(&o).iter().all(Option::is_none), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_clear_limits_are_configured_under_safety() {
    let o = org_with(EmulatorConfig::default(), store_of(engineers())).await;
    let dir = tempfile::tempdir().unwrap();
    let config = |safety: &str| {
        write_config_with(
            dir.path(),
            &o.emu.base_url(Version::V2),
            "  - csv: people.csv\n    columns: {email: Email, title: Job Title}\n",
            &format!(
                "scope: {{email_domains: [example.com]}}\nattributes:\n  title: {{blank: clear}}\n\
                 rate_limit: {{time_scale: 100}}\nsafety: {safety}\n"
            ),
        );
    };
    // Five blank cells: within `max_clears: 5` and a 20% ratio (6 of 30)...
    export(dir.path(), |i| if i < 5 { "" } else { "Engineer" });
    config("{max_clears: 4, max_clear_ratio: 0.2}");
    let (_, out) = run_text(&o, dir.path(), &["plan"]);
    assert!(
        out.contains(
            "5 clears planned (blank cells under `blank: clear`: title 5), limit 4 (1 over)"
        ),
        "{out}"
    );
    config("{max_clears: 5, max_clear_ratio: 0.1}");
    let (_, out) = run_text(&o, dir.path(), &["plan"]);
    assert!(
        out.contains("5 clears planned for 30 managed users (16.7%), limit 10.0% (3 clears)"),
        "{out}"
    );
    config("{max_clears: 5, max_clear_ratio: 0.2}");
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(titles(&o).iter().flatten().count(), PEOPLE - 5, "{out}");
    // A ratio outside 0–1 is refused at its line.
    config("{max_clear_ratio: 1.5}");
    let (code, out) = run_text(&o, dir.path(), &["validate"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("error: safety.max_clear_ratio is 1.5, must be between 0 and 1"),
        "{out}"
    );
}
