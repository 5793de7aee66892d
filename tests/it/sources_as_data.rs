//! Sources are data, not a window onto the machine (issue 21): a config (say, from a pull
//! request) that names `/proc/self/environ`, a private key, a `.env` file, a FIFO or a folder
//! as a source gets a clear error that quotes none of it, fails fast, and writes nothing.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use scimsync::scim::Version;

use crate::harness::{Org, org};

const CANARY: &str = "s3cr3t-canary-value";

/// A fake PEM key: its body is what must never be printed.
const PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDkeyMATERIALxyz\n\
QWERTYkeymaterialLINE2abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH\n\
-----END PRIVATE KEY-----\n";

/// A `.env` file: names and values that must never be printed.
const DOTENV: &str = "API_KEY=sk-live-4f9a8b7c6d5e4f3a2b1c\nDB_PASSWORD=hunter2-very-secret\n";

/// `scimsync ARGS --config scimsync.yaml` in `dir` with `env` set (and the overrides cleared):
/// exit code and stdout + stderr; fails the test if it runs for more than `limit`.
fn run_limited(dir: &Path, args: &[&str], env: &[(&str, &str)], limit: Duration) -> (i32, String) {
    let mut command = crate::harness::command();
    command
        .args(args)
        .args(["--config", "scimsync.yaml"])
        .current_dir(dir);
    for (k, v) in env {
        command.env(k, v);
    }
    let (code, text, _) = crate::harness::run_within(&mut command, limit);
    let code = code
        .unwrap_or_else(|| panic!("scimsync {args:?} still running after {limit:?}: it blocked"));
    (code, text)
}

fn run(o: &Org, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut all = vec![("SCIM_TOKEN", o.emu.token())];
    all.extend_from_slice(env);
    run_limited(dir, args, &all, Duration::from_secs(30))
}

/// A config against `o` whose only source is `source` (a `sources:` item).
fn config(o: &Org, dir: &Path, source: &str) {
    std::fs::write(
        dir.join("scimsync.yaml"),
        format!(
            "target: {{url: \"{}\", token_env: SCIM_TOKEN}}\nsources:\n{source}\
             scope: {{email_domains: [example.com]}}\nstate_dir: false\n",
            o.emu.base_url(Version::V2)
        ),
    )
    .unwrap();
}

fn csv(path: &str) -> String {
    format!("  - csv: \"{path}\"\n    columns: {{email: Email}}\n")
}

fn yaml(path: &str) -> String {
    format!("  - yaml: \"{path}\"\n")
}

/// Every command that reads the sources: each fails with exit 1, and nothing is written.
fn refused_everywhere(o: &Org, dir: &Path, env: &[(&str, &str)], check: impl Fn(&str)) {
    for args in [&["validate"][..], &["plan"], &["apply"]] {
        let (code, text) = run(o, dir, args, env);
        assert_eq!(code, 1, "{args:?}: {text}");
        check(&text);
    }
    assert_eq!(o.emu.stats().writes, 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread")]
async fn proc_self_environ_as_a_csv_source_prints_no_environment() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("link.csv")).unwrap();
    for source in ["/proc/self/environ", "link.csv"] {
        config(&o, dir.path(), &csv(source));
        refused_everywhere(&o, dir.path(), &[("CANARY_SECRET", CANARY)], |text| {
            assert!(
                !text.contains(CANARY),
                "{source}: the environment leaked:\n{text}"
            );
            assert!(!text.contains("CANARY_SECRET"), "{source}: {text}");
            assert!(!text.contains("PATH="), "{source}: {text}");
            assert!(
                text.contains("/proc, the kernel's"),
                "{source}: says why: {text}"
            );
        });
    }
}

/// The same bytes in a regular file are a CSV with a strange header: the error names the
/// missing column and quotes none of the header.
#[tokio::test(flavor = "multi_thread")]
async fn a_copy_of_the_environment_as_a_csv_source_is_not_quoted() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("environ.csv"),
        format!("CANARY_SECRET={CANARY}\0HOME=/root\0PATH=/usr/bin\0"),
    )
    .unwrap();
    config(&o, dir.path(), &csv("environ.csv"));
    refused_everywhere(&o, dir.path(), &[], |text| {
        assert!(!text.contains(CANARY), "the header leaked:\n{text}");
        assert!(!text.contains("PATH="), "{text}");
        assert!(text.contains("no column \"Email\""), "{text}");
    });
}

/// A private key and a `.env` file are valid YAML (one long string): the error says what the
/// file holds instead of a directory, and quotes none of it, in plain text or on a terminal.
#[tokio::test(flavor = "multi_thread")]
async fn a_private_key_or_a_dotenv_file_as_a_yaml_source_is_not_quoted() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("key.pem"), PEM).unwrap();
    std::fs::write(dir.path().join(".env"), DOTENV).unwrap();
    let secrets = [
        "MIIEvQ",
        "keymaterial",
        "sk-live",
        "4f9a8b7c",
        "hunter2",
        "API_KEY",
        "DB_PASSWORD",
    ];
    for source in [yaml("key.pem"), yaml(".env"), csv("key.pem"), csv(".env")] {
        config(&o, dir.path(), &source);
        refused_everywhere(&o, dir.path(), &[], |text| {
            for secret in secrets {
                assert!(!text.contains(secret), "{source}: {secret} leaked:\n{text}");
            }
        });
        let screen = crate::tty::run_in_pty(
            dir.path(),
            &["validate", "--config", "scimsync.yaml"],
            &[],
            "",
        );
        assert_eq!(screen.code, 1, "{}", screen.screen);
        for secret in secrets {
            assert!(
                !screen.screen.contains(secret),
                "{source}: {secret} shown on a terminal:\n{}",
                screen.screen
            );
        }
    }
}

/// A FIFO never blocks the open (nobody writes to it): it is refused at once, by name.
#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_source_fails_fast_with_a_clear_error() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    let made = Command::new("mkfifo")
        .arg(dir.path().join("people.csv"))
        .status()
        .unwrap();
    assert!(made.success());
    for source in [csv("people.csv"), yaml("people.csv")] {
        config(&o, dir.path(), &source);
        for args in [&["validate"][..], &["plan"]] {
            let t = Instant::now();
            let (code, text) = run_limited(
                dir.path(),
                args,
                &[("SCIM_TOKEN", o.emu.token())],
                Duration::from_secs(10),
            );
            assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
            assert_eq!(code, 1, "{text}");
            assert!(text.contains("people.csv"), "names the source: {text}");
            assert!(text.contains("FIFO"), "says why: {text}");
        }
    }
    assert_eq!(o.emu.stats().writes, 0);
}

/// A folder, a socket and a device are not files of data either.
#[tokio::test(flavor = "multi_thread")]
async fn a_folder_a_socket_or_a_device_as_a_source_is_refused_by_what_it_is() {
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("people")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(dir.path().join("sock.csv")).unwrap();
    for (source, what) in [
        (csv("people"), "a folder"),
        (yaml("people"), "a folder"),
        (csv("sock.csv"), "a socket"),
        (csv("/dev/null"), "/dev, the system's devices"),
    ] {
        config(&o, dir.path(), &source);
        refused_everywhere(&o, dir.path(), &[], |text| {
            assert!(
                text.contains(what),
                "{source}: expected {what:?} in:\n{text}"
            );
        });
    }
}
