//! Whether `attributes: {title: report}` can be reverted (issue 23): once, an `apply` reverted
//! a hand edit of a title a plan had just reported. Each test here is a path by which the
//! state could forget what scimsync last applied and learn the hand edit instead: a pass in
//! which the person's row is skipped as invalid, one in which their title cell is blank, a
//! rejoiner's reactivation; then the stress test, with hand edits landing at random moments
//! between the state read, the listing, the apply and the state save, under read lag.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use scimsync::apply::OpResult;
use scimsync::config::{Config, EnvOverrides};
use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::model::Attribute;
use scimsync::pass::{Applied, PassReport, Request};
use scimsync::plan::Op;
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
    o.emu.with_store(|s| {
        s.user_by_email(email)
            .and_then(|u| u.text(Attribute::Title).map(str::to_string))
    })
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

/// A small deterministic generator (xorshift64*): the stress test's choices, reproducible
/// from the seed it prints.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const STRESS_PEOPLE: usize = 8;
const HAND_TITLES: [&str; 3] = ["Chief", "Boss", "Lead"];

/// One person of the stress test's directory, as the export has them now.
#[derive(Clone)]
struct Row {
    title: String,
    /// The row breaks a rule this pass (skipped as invalid).
    broken: bool,
    /// The title cell is blank this pass.
    blank: bool,
}

fn stress_email(i: usize) -> String {
    format!("p{i}@acme.com")
}

fn write_export(dir: &Path, rows: &[Row]) {
    let mut y = String::from("users:\n");
    for (i, r) in rows.iter().enumerate() {
        let title = if r.blank { "''" } else { r.title.as_str() };
        let extra = if r.broken {
            ", start_date: someday"
        } else {
            ""
        };
        y.push_str(&format!(
            "  - {{email: {}, title: {title}, department: D{i}{extra}}}\n",
            stress_email(i)
        ));
    }
    std::fs::write(dir.join("people.yaml"), y).unwrap();
}

/// A hand edit: who, what, and a moment before it was sent.
struct HandEdit {
    person: usize,
    title: String,
    at: Instant,
}

/// One in-process pass on the config in `dir`: `apply` when `write`, else `plan`.
async fn pass(dir: &Path, write: bool) -> PassReport {
    let config = Config::load(&dir.join("scimsync.yaml"), &EnvOverrides::default()).unwrap();
    let request = Request {
        apply: write,
        ..Request::default()
    };
    // Another test of this process may fork a child while this one's lock file is open: the
    // child's copy of the descriptor (closed at its exec) holds the lock for a moment after
    // the last pass released it. A pass that finds it so retries, as the next daemon pass would.
    let mut tries = 0;
    let prepared = loop {
        match scimsync::pass::prepare(config.clone(), &request, chrono::Utc::now().date_naive())
            .await
        {
            Err(scimsync::pass::PassError::Locked(_)) if tries < 40 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other.unwrap_or_else(|e| panic!("the pass: {e}")),
        }
    };
    if write {
        prepared
            .apply(&[], &scimsync::shutdown::Shutdown::new())
            .await
            .unwrap()
    } else {
        prepared.finish().await.unwrap()
    }
}

/// Edits random people's titles by hand, at random moments, until `stop`.
async fn hand_editor(
    base: String,
    token: String,
    seed: u64,
    edits: Arc<Mutex<Vec<HandEdit>>>,
    stop: Arc<AtomicBool>,
    ids: Vec<String>,
    directory: Arc<Mutex<Vec<Row>>>,
) {
    let http = scimsync::scim::http_client_builder().build().unwrap();
    let mut rng = Rng(seed);
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(rng.below(30))).await;
        let person = usize::try_from(rng.below(STRESS_PEOPLE as u64)).unwrap();
        // Now and then the admin puts the directory's title back by hand.
        let title = match rng.below(4) {
            3 => directory.lock().unwrap()[person].title.clone(),
            k => HAND_TITLES[usize::try_from(k).unwrap()].to_string(),
        };
        let at = Instant::now();
        let r = http
            .patch(format!("{base}Users/{}", ids[person]))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": title}]
            }))
            .send()
            .await
            .unwrap();
        if r.status() == 429 {
            // Slack refused the admin's edit (the org's write budget, shared with scimsync's
            // pass, ran out on a loaded machine): no edit happened; wait as Slack says.
            let wait = r.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            tokio::time::sleep(Duration::from_secs(wait).min(Duration::from_millis(200))).await;
            continue;
        }
        assert_eq!(r.status(), 200);
        edits.lock().unwrap().push(HandEdit { person, title, at });
    }
}

/// The title writes in an apply's report that revert a hand edit: scimsync wrote a title over
/// a value set by hand after it had applied the directory's current title. A write of a new
/// directory title not applied yet (`unapplied`) is that change: it is applied whatever Slack
/// holds (README: `report` updates when the directory changes it); the pass that writes it
/// clears `unapplied` and moves `applied_at` to its end.
fn reverts(
    report: &PassReport,
    edits: &[HandEdit],
    unapplied: &mut [bool],
    applied_at: &mut [Instant],
) -> Vec<String> {
    let Applied::Done(outcome) = &report.applied else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut written = Vec::new();
    for (op, result) in report.plan.ops.iter().zip(&outcome.ops) {
        let Op::UpdateUser { email, changes, .. } = &op.op else {
            continue;
        };
        if !matches!(result.result, OpResult::Applied { .. }) {
            continue;
        }
        let person = (0..STRESS_PEOPLE)
            .find(|&i| stress_email(i) == *email)
            .unwrap();
        for c in changes.iter().filter(|c| c.attribute.name() == "title") {
            if unapplied[person] {
                written.push(person);
                continue;
            }
            let by_hand = edits.iter().any(|e| {
                e.person == person
                    && e.at > applied_at[person]
                    && Some(e.title.as_str()) == c.from.as_deref()
                    && c.from != c.to
            });
            if by_hand {
                out.push(format!("{email}: {:?} → {:?}", c.from, c.to));
            }
        }
    }
    for person in written {
        unapplied[person] = false;
        applied_at[person] = Instant::now();
    }
    out
}

/// Hand edits land at random moments between the state read, the listing, the apply, the
/// confirmation and the state save of many passes (plans and applies), with Slack's reads
/// lagging or not, while the export changes titles (a real change: applied), breaks a row
/// for a pass (skipped as invalid) or blanks a title cell for a pass. Under
/// `attributes: {title: report}` no hand edit made after the directory last changed that
/// title is ever written over.
#[tokio::test(flavor = "multi_thread")]
async fn hand_edits_at_random_moments_are_never_reverted_under_report() {
    for (seed, lag_ms) in [(0x5eed_0001_u64, 0_u64), (0x5eed_0002, 150)] {
        let o = crate::harness::org_with(
            EmulatorConfig {
                read_lag: Duration::from_millis(lag_ms),
                ..EmulatorConfig::default()
            },
            Store::default_org('W', seed),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        std::fs::write(&token, o.emu.token()).unwrap();
        std::fs::set_permissions(&token, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        std::fs::write(
            dir.path().join("scimsync.yaml"),
            format!(
                "target: {{url: \"{}\", token_file: token}}\nsources:\n  - yaml: people.yaml\n\
                 scope: {{email_domains: [acme.com]}}\ninvalid_users: skip\n\
                 attributes: {{title: report}}\nrate_limit: {{time_scale: 100}}\n",
                o.emu.base_url(Version::V2)
            ),
        )
        .unwrap();
        let rows: Vec<Row> = (0..STRESS_PEOPLE)
            .map(|i| Row {
                title: format!("Engineer {i}"),
                broken: false,
                blank: false,
            })
            .collect();
        write_export(dir.path(), &rows);
        let first = pass(dir.path(), true).await;
        assert!(matches!(first.applied, Applied::Done(_)), "seed {seed:x}");
        tokio::time::sleep(Duration::from_millis(lag_ms + 50)).await;
        let ids: Vec<String> = (0..STRESS_PEOPLE)
            .map(|i| {
                o.emu
                    .with_store(|s| s.user_by_email(&stress_email(i)).unwrap().id.clone())
            })
            .collect();
        let directory = Arc::new(Mutex::new(rows));
        let edits = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let editor = tokio::spawn(hand_editor(
            o.emu.base_url(Version::V2),
            o.emu.token().to_string(),
            seed ^ 0xabcd,
            edits.clone(),
            stop.clone(),
            ids,
            directory.clone(),
        ));
        let mut applied_at = vec![Instant::now(); STRESS_PEOPLE];
        let mut unapplied = vec![false; STRESS_PEOPLE];
        let mut rng = Rng(seed);
        let mut found = Vec::new();
        for round in 0..if lag_ms == 0 { 60 } else { 40 } {
            // The export as HR sends it this round: a detour lasts one pass.
            let rows = {
                let mut d = directory.lock().unwrap();
                for r in d.iter_mut() {
                    r.broken = false;
                    r.blank = false;
                }
                let person = usize::try_from(rng.below(STRESS_PEOPLE as u64)).unwrap();
                match rng.below(6) {
                    0 => {
                        d[person].title = format!("Engineer {person}.{round}");
                        unapplied[person] = true;
                    }
                    1 => d[person].broken = true,
                    2 => d[person].blank = true,
                    _ => {}
                }
                d.clone()
            };
            write_export(dir.path(), &rows);
            let report = pass(dir.path(), rng.below(3) != 0).await;
            let all = edits.lock().unwrap();
            found.extend(
                reverts(&report, &all, &mut unapplied, &mut applied_at)
                    .into_iter()
                    .map(|r| format!("round {round}: {r}")),
            );
        }
        stop.store(true, Ordering::SeqCst);
        editor.await.unwrap();
        let n = edits.lock().unwrap().len();
        assert!(n > 40, "seed {seed:x}: only {n} hand edits");
        assert!(
            found.is_empty(),
            "seed {seed:x}, read lag {lag_ms} ms: hand edits reverted under report:\n{}",
            found.join("\n")
        );
    }
}
