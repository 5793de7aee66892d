//! The binary on a terminal: `apply`'s confirmation and colour, run under a pseudo-terminal
//! against the emulator over loopback. [`run_in_pty`] is the reusable part: util-linux
//! `script` gives the child a pty as stdin, stdout and stderr and forwards what the test types
//! (`.ci/run` installs it when missing).

use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use scimsync::emulator::{EmulatorConfig, Store};
use scimsync::scim::Version;

use crate::harness::{Org, org_with, run_text, yaml_setup};

/// What a run on a terminal showed and how it ended.
pub struct PtyRun {
    /// The exit code (`script -e` passes the child's on).
    pub code: i32,
    /// Everything the terminal showed: stdout and stderr interleaved, with `\r\n` line ends
    /// and any escape sequences as written.
    pub screen: String,
}

/// A word for `sh -c`, single-quoted.
fn sh_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Runs `scimsync ARGS` in `dir` on a pseudo-terminal, typing `input` (e.g. `"yes\n"`; it
/// waits in the terminal's buffer until the program reads it), with `env` set over an
/// environment cleared of `NO_COLOR` and every `SCIMSYNC_*` override. Gives up after a minute.
pub fn run_in_pty(dir: &Path, args: &[&str], env: &[(&str, &str)], input: &str) -> PtyRun {
    run_line_in_pty(dir, &scimsync_line(args), env, input)
}

/// `scimsync ARGS` as a quoted `sh` command line.
fn scimsync_line(args: &[&str]) -> String {
    let words: Vec<String> = std::iter::once(crate::harness::binary())
        .chain(args.iter().copied())
        .map(sh_quote)
        .collect();
    words.join(" ")
}

/// [`run_in_pty`] for any `sh` command line (pipes, redirections): the terminal is the
/// line's, and each command of it decides what it connects there.
pub fn run_line_in_pty(dir: &Path, line: &str, env: &[(&str, &str)], input: &str) -> PtyRun {
    let mut command = crate::harness::wrapper("script");
    command
        .args(["--quiet", "--return", "--command"])
        .arg(line)
        .arg("/dev/null")
        .current_dir(dir)
        .env("SHELL", "/bin/sh")
        .env("TERM", "xterm")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command
        .spawn()
        .expect("util-linux `script` runs (.ci/run installs it)");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut bytes);
        bytes
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{line} on a terminal did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let screen = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    PtyRun {
        code: status.code().unwrap_or(-1),
        screen,
    }
}

const SCOPE: &str = "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n";
const TWO: &str = "users:\n  - {email: ada@example.com}\n  - {email: alan@example.com}\n";
const QUESTION: &str = "Apply these 2 changes to Slack? Only 'yes' applies:";

/// An empty organisation and a directory of two people to create.
async fn two_to_create(extra: &str) -> (Org, tempfile::TempDir) {
    let o = org_with(EmulatorConfig::default(), Store::new('W', 3)).await;
    let dir = tempfile::tempdir().unwrap();
    yaml_setup(
        dir.path(),
        &o.emu.base_url(Version::V2),
        TWO,
        &format!("{SCOPE}{extra}"),
    );
    (o, dir)
}

/// `scimsync ARGS --config scimsync.yaml` on a terminal in `dir`, with the emulator's token.
async fn on_terminal(
    o: &Org,
    dir: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> PtyRun {
    let dir = dir.to_path_buf();
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_string()).collect();
    args.extend(["--config".into(), "scimsync.yaml".into()]);
    let mut env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    env.push(("SCIM_TOKEN".into(), o.emu.token().to_string()));
    let input = input.to_string();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        run_in_pty(&dir, &args, &env, &input)
    })
    .await
    .unwrap()
}

fn users_in_slack(o: &Org) -> usize {
    o.emu.with_store(|s| s.user_count())
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_answering_no_writes_nothing() {
    for answer in ["no\n", "y\n", "\n"] {
        let (o, dir) = two_to_create("").await;
        let run = on_terminal(&o, dir.path(), &["apply"], &[], answer).await;
        assert_eq!(run.code, 6, "{answer:?}: {}", run.screen);
        assert!(run.screen.contains(QUESTION), "{}", run.screen);
        assert!(
            run.screen.contains("Nothing was written."),
            "{}",
            run.screen
        );
        assert_eq!(
            o.emu.stats().writes,
            0,
            "{answer:?}: no write reached Slack"
        );
        assert_eq!(users_in_slack(&o), 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_answering_yes_applies_and_then_asks_nothing() {
    let (o, dir) = two_to_create("").await;
    let run = on_terminal(&o, dir.path(), &["apply"], &[], "yes\n").await;
    assert_eq!(run.code, 0, "{}", run.screen);
    assert!(run.screen.contains(QUESTION), "{}", run.screen);
    assert!(
        run.screen.contains("Applied 2 of 2 changes"),
        "{}",
        run.screen
    );
    assert_eq!(users_in_slack(&o), 2);
    // Now in sync: an empty plan asks nothing (and types nothing, so a question would fail).
    let run = on_terminal(&o, dir.path(), &["apply"], &[], "").await;
    assert_eq!(run.code, 0, "{}", run.screen);
    assert!(!run.screen.contains("Only 'yes'"), "{}", run.screen);
    assert!(run.screen.contains("No changes"), "{}", run.screen);
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_yes_flag_does_not_ask() {
    let (o, dir) = two_to_create("").await;
    let run = on_terminal(&o, dir.path(), &["apply", "--yes"], &[], "").await;
    assert_eq!(run.code, 0, "{}", run.screen);
    assert!(!run.screen.contains("Only 'yes'"), "{}", run.screen);
    assert_eq!(users_in_slack(&o), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_a_tripped_guard_asks_nothing() {
    let (o, dir) = two_to_create("safety: {min_directory_users: 5}\n").await;
    let run = on_terminal(&o, dir.path(), &["apply"], &[], "").await;
    assert_eq!(run.code, 3, "{}", run.screen);
    assert!(!run.screen.contains("Only 'yes'"), "{}", run.screen);
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_without_a_terminal_apply_applies_without_asking() {
    let (o, dir) = two_to_create("").await;
    let d = dir.path().to_path_buf();
    let (code, text) = {
        let o = &o;
        tokio::task::block_in_place(|| run_text(o, &d, &["apply"]))
    };
    assert_eq!(code, 0, "{text}");
    assert!(!text.contains("Only 'yes'"), "{text}");
    assert_eq!(users_in_slack(&o), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_colour_on_a_terminal_unless_no_color_or_never() {
    let (o, dir) = two_to_create("").await;
    let plan = |env: &'static [(&'static str, &'static str)], flags: &'static [&'static str]| {
        let mut args = vec!["plan"];
        args.extend_from_slice(flags);
        let o = &o;
        let dir = dir.path();
        async move { on_terminal(o, dir, &args, env, "").await }
    };
    let coloured = plan(&[], &[]).await;
    assert_eq!(coloured.code, 0, "{}", coloured.screen);
    assert!(
        coloured.screen.contains("\x1b[32m+ create user"),
        "{}",
        coloured.screen
    );
    for (env, flags) in [
        (&[("NO_COLOR", "1")][..], &[][..]),
        (&[][..], &["--color", "never"][..]),
        (&[("NO_COLOR", "1")][..], &["--log-format", "text"][..]),
    ] {
        let run = plan(env, flags).await;
        assert_eq!(run.code, 0, "{}", run.screen);
        assert!(run.screen.contains("+ create user"), "{}", run.screen);
        assert!(
            !run.screen.contains('\x1b'),
            "{env:?} {flags:?}: {}",
            run.screen
        );
    }
    // An empty NO_COLOR does not count; --color always beats NO_COLOR.
    let run = plan(&[("NO_COLOR", "")], &[]).await;
    assert!(run.screen.contains('\x1b'), "{}", run.screen);
    let run = plan(&[("NO_COLOR", "1")], &["--color", "always"]).await;
    assert!(
        run.screen.contains("\x1b[32m+ create user"),
        "{}",
        run.screen
    );
    // clap's help follows the flag as well.
    let help = plan(&[], &["--help"]).await;
    assert!(help.screen.contains('\x1b'), "{}", help.screen);
    let help = plan(&[], &["--color", "never", "--help"]).await;
    assert!(!help.screen.contains('\x1b'), "{}", help.screen);
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_json_apply_shows_the_summary_before_asking() {
    let (o, dir) = two_to_create("").await;
    let run = on_terminal(&o, dir.path(), &["apply", "--format", "json"], &[], "no\n").await;
    assert_eq!(run.code, 6, "{}", run.screen);
    let summary = run.screen.find("Plan: 2 to create").expect("the summary");
    let question = run.screen.find(QUESTION).expect("the question");
    assert!(summary < question, "{}", run.screen);
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn tty_diagnostics_are_drawn_and_coloured_unless_no_color() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.yaml"),
        "target: {url: embedded}\nsources: []\nbogus: 1\n",
    )
    .unwrap();
    let validate = |env: &'static [(&'static str, &'static str)]| {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            run_in_pty(&dir, &["validate", "--config", "bad.yaml"], env, "")
        })
    };
    let coloured = validate(&[]).await.unwrap();
    assert_eq!(coloured.code, 1, "{}", coloured.screen);
    assert!(
        coloured.screen.contains("bogus: 1"),
        "a snippet: {}",
        coloured.screen
    );
    assert!(coloured.screen.contains('\x1b'), "{}", coloured.screen);
    let plain = validate(&[("NO_COLOR", "1")]).await.unwrap();
    assert_eq!(plain.code, 1, "{}", plain.screen);
    assert!(
        plain.screen.contains("bogus: 1"),
        "still a snippet: {}",
        plain.screen
    );
    assert!(!plain.screen.contains('\x1b'), "{}", plain.screen);
}

/// `scimsync apply --config scimsync.yaml` with `redirect` after it, piped into `cat`, on a
/// terminal typing `input`: the screen, with `exit N` (apply's code) written to the terminal.
async fn apply_piped_into_cat(o: &Org, dir: &Path, redirect: &str, input: &str) -> PtyRun {
    let apply = scimsync_line(&["apply", "--config", "scimsync.yaml"]);
    let line = format!("{{ {apply} {redirect}; echo \"exit $?\" >/dev/tty; }} | cat");
    let (dir, token, input) = (
        dir.to_path_buf(),
        o.emu.token().to_string(),
        input.to_string(),
    );
    tokio::task::spawn_blocking(move || {
        run_line_in_pty(&dir, &line, &[("SCIM_TOKEN", token.as_str())], &input)
    })
    .await
    .unwrap()
}

/// `apply | cat` (or `| tee apply.log`) from an interactive shell: stdout is a pipe, but a
/// person is at the keyboard, so the question is asked (Terraform's rule: stdin decides).
#[tokio::test(flavor = "multi_thread")]
async fn tty_apply_piped_into_cat_still_asks() {
    let (o, dir) = two_to_create("").await;
    let run = apply_piped_into_cat(&o, dir.path(), "", "no\n").await;
    assert!(run.screen.contains(QUESTION), "{}", run.screen);
    assert!(run.screen.contains("exit 6"), "{}", run.screen);
    assert!(
        run.screen.contains("Nothing was written."),
        "{}",
        run.screen
    );
    assert_eq!(o.emu.stats().writes, 0, "no write without a yes");
    // What is asked about is on the terminal next to the question, whatever the pipe does.
    assert!(run.screen.contains("Plan: 2 to create"), "{}", run.screen);

    let run = apply_piped_into_cat(&o, dir.path(), "", "yes\n").await;
    assert!(run.screen.contains(QUESTION), "{}", run.screen);
    assert!(run.screen.contains("exit 0"), "{}", run.screen);
    assert_eq!(users_in_slack(&o), 2);
}

/// With stdout and stderr both sent to files, the question goes to the terminal itself
/// (/dev/tty), after the plan's summary (the plan is in the file), and the answer still comes
/// from stdin.
#[tokio::test(flavor = "multi_thread")]
async fn tty_apply_with_stdout_and_stderr_redirected_asks_on_the_terminal() {
    let (o, dir) = two_to_create("").await;
    let run = apply_piped_into_cat(&o, dir.path(), ">apply.out 2>apply.err", "no\n").await;
    let summary = run.screen.find("Plan: 2 to create").expect("the summary");
    let question = run.screen.find(QUESTION).expect("the question");
    assert!(summary < question, "{}", run.screen);
    assert!(run.screen.contains("exit 6"), "{}", run.screen);
    assert_eq!(o.emu.stats().writes, 0, "no write without a yes");
    let err = std::fs::read_to_string(dir.path().join("apply.err")).unwrap();
    assert!(
        !err.contains(QUESTION),
        "the question is not in the log: {err}"
    );
}

/// stdin not a terminal (a pipe, /dev/null: a script, cron) on an otherwise interactive
/// terminal: nothing is asked and `apply` applies, as it always has — what the pipe holds is
/// not an answer.
#[tokio::test(flavor = "multi_thread")]
async fn tty_stdin_not_a_terminal_does_not_ask() {
    let (o, dir) = two_to_create("").await;
    let apply = scimsync_line(&["apply", "--config", "scimsync.yaml"]);
    let line = format!("echo no | {apply}");
    let token = o.emu.token().to_string();
    let run = {
        let dir = dir.path().to_path_buf();
        tokio::task::spawn_blocking(move || {
            run_line_in_pty(&dir, &line, &[("SCIM_TOKEN", token.as_str())], "")
        })
        .await
        .unwrap()
    };
    assert_eq!(run.code, 0, "{}", run.screen);
    assert!(!run.screen.contains("Only 'yes'"), "{}", run.screen);
    assert_eq!(users_in_slack(&o), 2);
}
