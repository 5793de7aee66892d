//! The operator's view of a long apply, from the real binary: a bar redrawn in place on a
//! terminal (a pseudo-terminal here), progress log lines when stderr is not one, and what an
//! interrupted apply (SIGINT, SIGTERM, SIGHUP) does, prints and exits with.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use scimsync::emulator::{EmulatorConfig, Faults, Store};
use scimsync::scim::Version;

use crate::harness::{Org, org_with, yaml_setup};

/// `creates` new people and `leavers` people to deactivate (seeded in the emulator), with
/// `rate_limit` in the config.
fn setup(o: &Org, dir: &Path, creates: usize, leavers: usize, rate_limit: &str) {
    let mut y = String::from("users:\n");
    for i in 0..creates {
        y.push_str(&format!("  - {{email: new{i:03}@example.com}}\n"));
    }
    for i in 0..leavers {
        y.push_str(&format!(
            "  - {{email: gone{i:03}@example.com, active: false}}\n"
        ));
    }
    o.emu.with_store(|s| {
        for i in 0..leavers {
            s.insert_user(scimsync::emulator::StoredUser {
                id: format!("W{i:03}"),
                ..scimsync::emulator::StoredUser::new(
                    &format!("gone{i:03}"),
                    &format!("gone{i:03}@example.com"),
                )
            });
        }
    });
    yaml_setup(
        dir,
        &o.emu.base_url(Version::V2),
        &y,
        &format!(
            "scope: {{email_domains: [example.com]}}\n\
             safety: {{max_deactivations: 1000, max_deactivation_ratio: 1.0}}\n\
             audit_log: audit.jsonl\n\
             rate_limit: {rate_limit}\n"
        ),
    );
}

/// An emulator with Slack's limits ten times faster: 100 creates take about 3 s.
async fn slow_org() -> Org {
    let config = EmulatorConfig {
        rate_limit_scale: Some(10.0),
        ..EmulatorConfig::default()
    };
    org_with(config, Store::new('W', 1)).await
}

const TEN_TIMES: &str = "{share: 1.0, time_scale: 10}";

/// Runs `command` under a pseudo-terminal (util-linux `script`), in `dir`; returns everything
/// the terminal showed and the exit code.
fn under_pty(dir: &Path, token: &str, command: &str) -> (i32, String) {
    let out = crate::harness::wrapper("script")
        .args(["-qec", command, "/dev/null"])
        .current_dir(dir)
        .env("SCIM_TOKEN", token)
        .stdin(Stdio::null())
        .output()
        .expect("util-linux script runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_terminal_gets_a_bar_redrawn_in_place_with_counts_rate_and_eta() {
    let o = slow_org().await;
    let dir = tempfile::tempdir().unwrap();
    setup(&o, dir.path(), 100, 0, TEN_TIMES);
    let bin = crate::harness::binary();
    let (code, screen) = tokio::task::spawn_blocking({
        let (dir, token) = (dir.path().to_path_buf(), o.emu.token().to_string());
        move || {
            under_pty(
                &dir,
                &token,
                &format!("{bin} apply --yes --config scimsync.yaml"),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("Applied 100 of 100 changes"), "{screen}");
    // Each redraw returns to the start of the line and erases it; the bar moves forward.
    let frames: Vec<&str> = screen
        .split("\r\x1b[2K")
        .filter(|f| f.starts_with("applying "))
        .collect();
    assert!(frames.len() >= 3, "{} frames: {screen:?}", frames.len());
    let done = |f: &str| -> usize {
        let counts = f.split_whitespace().nth(2).unwrap();
        counts.split('/').next().unwrap().parse().unwrap()
    };
    let counts: Vec<usize> = frames.iter().map(|f| done(f)).collect();
    assert!(
        counts.windows(2).all(|w| w[0] <= w[1]) && counts.iter().any(|&c| c > 0 && c < 100),
        "{counts:?}"
    );
    let mid = frames.iter().find(|f| done(f) > 0).unwrap();
    assert!(
        mid.contains("/100  ") && mid.contains("/s  ETA ") && mid.contains('█'),
        "{mid:?}"
    );
    // No frame is left behind once the apply reports.
    let report = screen.find("Applied 100 of 100").unwrap();
    assert!(
        screen[report..].split("\r\x1b[2K").count() == 1,
        "{screen:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_terminal_progress_is_a_log_line_every_period() {
    let o = slow_org().await;
    let dir = tempfile::tempdir().unwrap();
    setup(&o, dir.path(), 100, 0, TEN_TIMES);
    let out = crate::harness::apply_command(dir.path(), o.emu.token())
        .env("SCIMSYNC_PROGRESS_INTERVAL", "500ms")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains('\x1b'), "no terminal control in a log: {err}");
    let lines: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("progress: "))
        })
        .collect();
    assert!(
        lines.len() >= 2,
        "{err}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let done: Vec<u64> = lines
        .iter()
        .map(|l| l["fields"]["done"].as_u64().unwrap())
        .collect();
    assert!(done.windows(2).all(|w| w[0] <= w[1]), "{done:?}");
    let f = &lines[1]["fields"];
    assert_eq!(f["total"], 100, "{f}");
    assert_eq!(f["to_deactivate"], 0, "{f}");
    assert!(
        f["rate_per_s"].as_str().unwrap().parse::<f64>().unwrap() > 0.0,
        "{f}"
    );
    assert!(f["eta"].as_str().unwrap().contains(':'), "{f}");
}

/// Starts `scimsync apply` on a slow emulator (every request takes 150 ms), sends `signal`
/// once some changes have applied, and checks what it printed, wrote and exited with.
async fn interrupted_by(signal: &str, expected_code: i32) {
    const CREATES: usize = 40;
    const LEAVERS: usize = 40;
    const CONCURRENCY: u64 = 2;
    let o = org_with(EmulatorConfig::default(), Store::new('W', 1)).await;
    let dir = tempfile::tempdir().unwrap();
    setup(
        &o,
        dir.path(),
        CREATES,
        LEAVERS,
        &format!("{{share: 1.0, time_scale: 100, concurrency: {CONCURRENCY}}}"),
    );
    o.emu.set_faults(Faults {
        latency: Duration::from_millis(150),
        ..Faults::default()
    });
    let child = crate::harness::apply_command(dir.path(), o.emu.token())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while o.emu.stats().writes_applied < 6 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the apply never wrote"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let at_signal = o.emu.stats().writes;
    crate::harness::signal(child.id(), signal);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(expected_code), "{stdout}{stderr}");
    let s = o.emu.stats();
    // Nothing started after the signal beyond what was already on its way: at most one op per
    // permit of the two busy lanes (creates, deactivations).
    assert!(
        s.writes <= at_signal + 2 * CONCURRENCY,
        "{} writes at the signal, {} in the end",
        at_signal,
        s.writes
    );
    // Every write sent finished and is reported: Slack, the report and the audit agree.
    let applied = usize::try_from(s.writes_applied).unwrap();
    assert_eq!(s.writes, s.writes_applied);
    let total = CREATES + LEAVERS;
    assert!(applied < total, "the signal came too late to test anything");
    assert!(
        stdout.contains(&format!("Applied {applied} of {total} changes: 0 failed")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "- {} changes not started: scimsync is shutting down",
            total - applied
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("Applied: "),
        "the applied changes by kind: {stdout}"
    );
    assert!(
        stderr.contains("interrupted: starting no more changes")
            && stderr.contains(&format!(
                "interrupted: {applied} of {total} changes applied, {} not started; exit {expected_code}",
                total - applied
            )),
        "{stderr}"
    );
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    let writes = audit
        .lines()
        .filter(|l| l.contains(r#""event":"write""#))
        .count();
    assert_eq!(writes, applied, "{audit}");
    assert!(
        audit
            .lines()
            .last()
            .unwrap()
            .contains(r#""event":"apply_end""#),
        "{audit}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_finishes_what_is_in_flight_starts_nothing_more_and_exits_130() {
    interrupted_by("-INT", 130).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_does_the_same_and_exits_143() {
    interrupted_by("-TERM", 143).await;
}

/// A closed terminal (or `kill -HUP`) is not a crash: the same summary and audit end, 129.
#[tokio::test(flavor = "multi_thread")]
async fn sighup_does_the_same_and_exits_129() {
    interrupted_by("-HUP", 129).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_report_states_the_estimated_apply_time_in_every_format() {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 1)).await;
    let dir = tempfile::tempdir().unwrap();
    // 200 creates at half of POST /Users' 180/min, burst 20: (200 − 10) / 1.5 per second =
    // 2m 07s against Slack; 1.27 s in a rehearsal a hundred times faster.
    setup(&o, dir.path(), 200, 0, "{share: 0.5, time_scale: 100}");
    let run = |format: &str| {
        let out =
            crate::harness::scimsync(dir.path(), o.emu.token(), &["plan", "--format", format]);
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let sentence = "Estimated apply time: at least 2s at 50% of Slack's rate limits, time-scaled \
                    ×100 (bound by user_create: 200 requests).";
    let text = run("text");
    assert!(
        text.lines().nth(2).is_some_and(|l| l.trim() == sentence),
        "{text}"
    );
    assert!(run("markdown").contains(&format!("\n{sentence}\n")));
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let e = &json["estimate"];
    assert!(
        (e["seconds"].as_f64().unwrap() - 190.0 / 1.5 / 100.0).abs() < 1e-6,
        "{e}"
    );
    assert_eq!(e["share"], 0.5);
    assert_eq!(e["time_scale"], 100.0);
    assert_eq!(e["bound_by"], "user_create");
    assert_eq!(e["requests"]["user_create"], 200);
    // The saved plan still applies: the estimate is not part of its digest.
    std::fs::write(dir.path().join("plan.json"), run("json")).unwrap();
    let out =
        crate::harness::scimsync(dir.path(), o.emu.token(), &["apply", "--plan", "plan.json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
