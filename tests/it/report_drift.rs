//! Whether `attributes: {title: report}` can be reverted (issue 23): once, an `apply` reverted
//! a hand edit of a title a plan had just reported. Each test here is a path by which the
//! state could forget what scimsync last applied and learn the hand edit instead: a pass in
//! which the person's row is skipped as invalid, one in which their title cell is blank, a
//! rejoiner's reactivation; then the stress test, with hand edits landing at random moments
//! between the state read, the listing, the apply and the state save, under read lag.

use std::path::Path;

use scimsync::scim::Version;
use serde_json::Value;

use crate::harness::{Org, org, run_text, yaml_setup};

const REPORT: &str = "scope: {email_domains: [acme.com]}\ninvalid_users: skip\n\
                      attributes: {title: report}\n";

fn people(dir: &Path, o: &Org, rows: &str) {
    yaml_setup(
        dir,
        &o.emu.base_url(Version::V2),
        &format!("users:\n  - {{email: bob@acme.com, title: Designer}}\n{rows}"),
        REPORT,
    );
}

fn title(o: &Org, email: &str) -> Option<String> {
    o.emu
        .with_store(|s| s.user_by_email(email).and_then(|u| u.title.clone()))
}

async fn hand_edit_title(o: &Org, email: &str, title: &str) {
    let id = o
        .emu
        .with_store(|s| s.user_by_email(email).map(|u| u.id.clone()))
        .unwrap();
    let r = o
        .patch(
            Version::V2,
            &format!("Users/{id}"),
            serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": title}]
            }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.raw);
}

fn apply(o: &Org, dir: &Path) -> String {
    let (code, out) = run_text(o, dir, &["apply"]);
    assert!(code == 0 || code == 4 || code == 5, "{code}: {out}");
    out
}

/// The drift the plan reports for ada's title, if any.
fn reported(o: &Org, dir: &Path) -> Option<Value> {
    let (_, out) = run_text(o, dir, &["plan", "--format", "json"]);
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    json["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["attribute"] == "title" && d["email"] == "ada@acme.com")
        .cloned()
}

/// Ada applied as an Engineer, then retitled Chief by hand: the plan reports it.
async fn edited(o: &Org, dir: &Path) {
    people(dir, o, "  - {email: ada@acme.com, title: Engineer}\n");
    apply(o, dir);
    hand_edit_title(o, "ada@acme.com", "Chief").await;
    let drift = reported(o, dir).expect("the hand edit is reported");
    assert_eq!(drift["action"], "report", "{drift}");
}

/// After the detour, the row is as it was: the hand edit is still reported, never reverted.
fn still_reported(o: &Org, dir: &Path) {
    people(dir, o, "  - {email: ada@acme.com, title: Engineer}\n");
    let drift = reported(o, dir);
    let out = apply(o, dir);
    assert_eq!(
        title(o, "ada@acme.com").as_deref(),
        Some("Chief"),
        "the hand edit was reverted: {out}"
    );
    assert_eq!(drift.expect("still reported")["action"], "report");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_that_skips_the_row_does_not_make_the_hand_edit_the_last_applied_value() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    edited(&o, dir.path()).await;
    // One export with a broken row for ada (skipped as invalid), and a change for bob so that
    // the pass writes and saves its state.
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: bob@acme.com, title: Lead Designer}\n  \
         - {email: ada@acme.com, title: Engineer, start_date: someday}\n",
        REPORT,
    );
    let out = apply(&o, dir.path());
    assert_eq!(title(&o, "bob@acme.com").as_deref(), Some("Lead Designer"));
    assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Chief"), "{out}");
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        "users:\n  - {email: bob@acme.com, title: Lead Designer}\n  \
         - {email: ada@acme.com, title: Engineer}\n",
        REPORT,
    );
    let drift = reported(&o, dir.path());
    let out = apply(&o, dir.path());
    assert_eq!(
        title(&o, "ada@acme.com").as_deref(),
        Some("Chief"),
        "the hand edit was reverted: {out}"
    );
    assert_eq!(drift.expect("still reported")["action"], "report");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pass_whose_export_has_no_title_for_the_person_does_not_forget_what_was_applied() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    edited(&o, dir.path()).await;
    // A blank cell is no value (`blank: keep`): the title is not managed this pass.
    people(dir.path(), &o, "  - {email: ada@acme.com, title: ''}\n");
    let out = apply(&o, dir.path());
    assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Chief"), "{out}");
    still_reported(&o, dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejoiner_s_title_is_remembered_from_the_pass_that_reactivates_them() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    people(
        dir.path(),
        &o,
        "  - {email: ada@acme.com, title: Engineer}\n",
    );
    apply(&o, dir.path());
    people(
        dir.path(),
        &o,
        "  - {email: ada@acme.com, title: Engineer, active: false}\n",
    );
    apply(&o, dir.path());
    people(
        dir.path(),
        &o,
        "  - {email: ada@acme.com, title: Engineer}\n",
    );
    apply(&o, dir.path());
    // Back, with her title: an admin then retitles her by hand.
    hand_edit_title(&o, "ada@acme.com", "Chief").await;
    still_reported(&o, dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_value_the_directory_adopts_from_slack_is_learned_without_a_write() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    edited(&o, dir.path()).await;
    // HR adopts the title Slack shows: in sync, nothing to write, and the state learns it.
    people(dir.path(), &o, "  - {email: ada@acme.com, title: Chief}\n");
    let written = o.emu.stats().writes;
    apply(&o, dir.path());
    assert_eq!(o.emu.stats().writes, written);
    // A later hand edit is drift from that value: reported, not reverted.
    hand_edit_title(&o, "ada@acme.com", "Boss").await;
    let drift = reported(&o, dir.path()).expect("reported");
    assert_eq!(drift["expected"], "Chief", "{drift}");
    apply(&o, dir.path());
    assert_eq!(title(&o, "ada@acme.com").as_deref(), Some("Boss"));
}
