//! Local files opened safely, end to end: the audit log, the metrics textfile and the
//! emulator's `--persist` file are never written through a symbolic link planted at their
//! name or at a temporary name; an audit log that is a FIFO fails `apply` at once instead of
//! hanging with the lock held; a folder anyone may write to is refused (the audit log) or
//! warned about (the metrics file). And the emulator, which listens on a port in the
//! quickstart, survives slow clients and running out of file descriptors.

use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use scimsync::emulator::{Emulator, EmulatorConfig, Store};
use scimsync::scim::Version;

use crate::harness::{Org, org, scimsync, yaml_setup};

const PEOPLE: &str = "users:\n  - {email: ada@example.com}\n  - {email: bob@example.com}\n";
const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";
const VICTIM: &str = "precious: do not touch\n";

/// A file outside the config's folder that an attacker would like scimsync to write to.
fn victim(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("victim.txt");
    std::fs::write(&path, VICTIM).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    path
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Writes the emulator received (applied or not).
fn writes(o: &Org) -> u64 {
    o.emu.stats().writes
}

/// `scimsync apply` in `dir`, killed if it has not ended within `limit`: its exit code (`None`
/// when it had to be killed), stdout then stderr, and how long it ran.
fn apply_within(dir: &Path, token: &str, limit: Duration) -> (Option<i32>, String, Duration) {
    crate::harness::run_within(&mut crate::harness::apply_command(dir, token), limit)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_log_that_is_a_symlink_is_refused_and_its_target_untouched() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = victim(outside.path());
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        PEOPLE,
        &format!("{SCOPE}audit_log: audit.jsonl\n"),
    );
    std::os::unix::fs::symlink(&target, dir.path().join("audit.jsonl")).unwrap();

    let (code, text, _) = apply_within(dir.path(), o.emu.token(), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("audit.jsonl") && text.contains("symbolic link"),
        "the error names the file and why: {text}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), VICTIM);
    assert_eq!(mode(&target), 0o644, "the link's target is not chmod'ed");
    assert_eq!(writes(&o), 0, "nothing was written to Slack");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_log_that_is_a_fifo_fails_apply_at_once_and_frees_the_lock() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        PEOPLE,
        &format!("{SCOPE}audit_log: audit.jsonl\nlock_file: pass.lock\n"),
    );
    let fifo = dir.path().join("audit.jsonl");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo()
    );

    let (code, text, took) = apply_within(dir.path(), o.emu.token(), Duration::from_secs(20));
    assert_eq!(code, Some(1), "apply ended on its own ({took:?}): {text}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(
        text.contains("audit.jsonl") && text.contains("FIFO"),
        "the error names the file and what it is: {text}"
    );
    assert_eq!(writes(&o), 0, "nothing was written to Slack");
    // The lock is free: another process takes it at once.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("pass.lock"))
        .unwrap();
    assert!(lock.try_lock().is_ok(), "the pass lock was released");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_audit_log_in_a_folder_anyone_may_write_to_is_refused() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o777)).unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        PEOPLE,
        &format!("{SCOPE}audit_log: logs/audit.jsonl\n"),
    );
    let (code, text, _) = apply_within(dir.path(), o.emu.token(), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("logs") && text.contains("anyone may"),
        "the error names the folder and why: {text}"
    );
    assert!(!logs.join("audit.jsonl").exists());
    assert_eq!(writes(&o), 0, "nothing was written to Slack");

    // A sticky folder (like /tmp) still lets anyone plant the name first: refused too.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (code, text, _) = apply_within(dir.path(), o.emu.token(), Duration::from_secs(60));
    assert_eq!(code, Some(1), "{text}");
    assert_eq!(writes(&o), 0);

    // Made private, the same config applies.
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o700)).unwrap();
    let (code, text, _) = apply_within(dir.path(), o.emu.token(), Duration::from_secs(60));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(mode(&logs.join("audit.jsonl")), 0o600);
}

/// `apply --metrics-textfile NAME` in `dir`: its exit code and stdout then stderr.
fn apply_with_textfile(dir: &Path, token: &str, name: &str) -> (i32, String) {
    let out = scimsync(dir, token, &["apply", "--metrics-textfile", name]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_symlink_as_the_metrics_textfile_is_replaced_not_read_or_written_through() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    yaml_setup(dir.path(), &o.emu.base_url(Version::V2), PEOPLE, SCOPE);
    // The link's target looks like an earlier textfile: were it read, its counts would carry.
    let target = outside.path().join("other.prom");
    let other = "scimsync_passes_total{outcome=\"success\"} 41\n";
    std::fs::write(&target, other).unwrap();
    let prom = dir.path().join("m.prom");
    std::os::unix::fs::symlink(&target, &prom).unwrap();

    let (code, text) = apply_with_textfile(dir.path(), o.emu.token(), "m.prom");
    assert_eq!(code, 0, "{text}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), other);
    let meta = std::fs::symlink_metadata(&prom).unwrap();
    assert!(meta.file_type().is_file(), "the link itself was replaced");
    let written = std::fs::read_to_string(&prom).unwrap();
    assert!(
        written.contains("scimsync_passes_total{outcome=\"success\"} 1\n"),
        "nothing was carried from the link's target: {written}"
    );
    assert_eq!(mode(&prom), 0o644);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_metrics_folder_anyone_may_write_to_is_refused_unless_sticky() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(dir.path(), &o.emu.base_url(Version::V2), PEOPLE, SCOPE);
    let open = dir.path().join("open");
    std::fs::create_dir(&open).unwrap();
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, text) = apply_with_textfile(dir.path(), o.emu.token(), "open/m.prom");
    assert_eq!(code, 0, "the run's exit code stays: {text}");
    assert!(
        text.contains("cannot write the metrics file") && text.contains("anyone may"),
        "{text}"
    );
    assert!(!open.join("m.prom").exists());

    // Sticky, like /tmp: others cannot replace the file, only take its name first. Written,
    // with a warning.
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (code, text) = apply_with_textfile(dir.path(), o.emu.token(), "open/m.prom");
    assert_eq!(code, 0, "{text}");
    assert!(open.join("m.prom").is_file(), "{text}");
    assert!(text.contains("sticky"), "the warning says why: {text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_persists_without_following_a_planted_link() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = victim(outside.path());
    let persist = dir.path().join("state.json");
    // The names today's code used beside the file, and the file itself, all links.
    for name in ["state.tmp", ".state.json.tmp"] {
        std::os::unix::fs::symlink(&target, dir.path().join(name)).unwrap();
    }
    let other = outside.path().join("other.json");
    std::fs::write(&other, "{}").unwrap();
    std::os::unix::fs::symlink(&other, &persist).unwrap();
    let emu = Emulator::start(
        EmulatorConfig {
            persist: Some(persist.clone()),
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    emu.with_store(|_| ());
    emu.shutdown().await.unwrap();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), VICTIM);
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "{}");
    assert!(std::fs::symlink_metadata(&persist).unwrap().is_file());
    let saved = std::fs::read_to_string(&persist).unwrap();
    assert!(saved.contains("\"users\""), "{saved}");
}

/// A raw HTTP/1.1 client that sends one header line every 300 ms is disconnected once the
/// header timeout passes; a normal request on another connection is served meanwhile.
#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_drops_a_client_that_trickles_its_headers() {
    let o = crate::harness::org_with(
        EmulatorConfig {
            header_timeout: Duration::from_millis(1000),
            ..EmulatorConfig::default()
        },
        Store::default_org('U', 1),
    )
    .await;
    let addr = o.emu.addr();
    let slow = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        let mut sent = 0;
        let lines = std::iter::once("GET /_emulator/stats HTTP/1.1\r\n".to_string())
            .chain((0..).map(|i| format!("X-Slow-{i}: a\r\n")));
        for line in lines {
            if stream.write_all(line.as_bytes()).is_err() || started.elapsed().as_secs() >= 8 {
                break;
            }
            sent += 1;
            std::thread::sleep(Duration::from_millis(300));
        }
        (started.elapsed(), sent)
    });
    // Meanwhile an ordinary request is answered.
    tokio::time::sleep(Duration::from_millis(400)).await;
    let r = o.get(Version::V2, "Users?count=1").await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let (took, sent) = tokio::task::spawn_blocking(move || slow.join().unwrap())
        .await
        .unwrap();
    assert!(
        took < Duration::from_secs(4),
        "disconnected after {took:?} ({sent} lines sent)"
    );
}

/// CPU time (user + system, in clock ticks) of a process so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which is in parentheses): state is field 3; utime and
    // stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The emulator under a limit of 64 file descriptors, with many more connections held open:
/// `accept` fails with EMFILE, and the emulator waits rather than spinning a core; once the
/// connections go, it serves again.
#[tokio::test(flavor = "multi_thread")]
async fn the_emulator_backs_off_when_file_descriptors_run_out() {
    let mut sh = crate::harness::wrapper("sh");
    sh.arg("-c")
        .arg("ulimit -n 64 && exec \"$0\" \"$@\"")
        .arg(crate::harness::binary())
        .stderr(Stdio::piped());
    let (mut child, url) =
        crate::harness::emulator_process(tokio::process::Command::from(sh), &["--no-rate-limits"])
            .await;
    let pid = child.id().unwrap();
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let held: Vec<std::net::TcpStream> = (0..100)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_ticks(pid);
    let window = Duration::from_secs(2);
    tokio::time::sleep(window).await;
    let spent = cpu_ticks(pid) - before;
    // Clock ticks are 1/100 s on Linux: a spinning loop spends ~200 in two seconds.
    assert!(spent < 30, "{spent} ticks of CPU in {window:?}");

    drop(held);
    let http = scimsync::scim::http_client_builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let started = Instant::now();
    let served = loop {
        let r = http
            .get(format!("{url}Users?count=1"))
            .bearer_auth("xoxp-it");
        if let Ok(r) = r.send().await {
            break r.status().as_u16();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "never served again"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(served, 200);
    child.kill().await.unwrap();
    let mut stderr = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr)
        .await
        .unwrap();
    let told = stderr.matches("cannot accept").count();
    assert!(
        (1..=3).contains(&told),
        "once per streak, not per failure: {stderr}"
    );
}
