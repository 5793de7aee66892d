//! `command:` sources: a program run (an argument vector, no shell) whose standard output is
//! the source.
//!
//! The output is trusted whole or not at all. A non-zero exit, a signal, a timeout, more
//! output than the cap, or an output that stays open after the program exits is a failure
//! of the source — nothing it wrote is read, so a half-read export never looks like a
//! company that lost half its people. The program runs in the config's folder with an
//! environment made of `PATH` and the variables the config lists (never the Slack token's:
//! the config refuses it), its standard input empty. Its standard error is shown with
//! secrets redacted — Slack token shapes and the values of the variables passed — and
//! escaped for a terminal.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::config::CommandSource;

/// How much of the program's standard error a failure shows (its end).
const STDERR_SHOWN: usize = 2000;

/// How much of its standard error is kept while it runs.
const STDERR_KEPT: u64 = 64 << 10;

/// How often a running program is looked at.
const POLL: Duration = Duration::from_millis(5);

/// What a reader thread of the program's output found.
enum Output {
    Stdout(std::io::Result<Vec<u8>>),
    Stderr(Vec<u8>),
}

/// Runs the command and returns everything it wrote to its standard output, or why the
/// source failed (its standard error included, redacted and escaped).
pub(crate) fn run(command: &CommandSource) -> Result<Vec<u8>, String> {
    // A pass loads its sources inside the runtime: waiting for the program (up to its
    // timeout) must not hold a worker the daemon's HTTP endpoints need.
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| run_blocking(command))
        }
        _ => run_blocking(command),
    }
}

/// [`run`], on this thread.
fn run_blocking(command: &CommandSource) -> Result<Vec<u8>, String> {
    let mut child = spawn(command)?;
    let (tx, rx) = mpsc::channel();
    let cap = command.max_output_bytes;
    if let Some(mut out) = child.stdout.take() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let read = (&mut out)
                .take(cap.saturating_add(1))
                .read_to_end(&mut bytes);
            let _ = tx.send(Output::Stdout(read.map(|_| bytes)));
        });
    }
    if let Some(err) = child.stderr.take() {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = err.take(STDERR_KEPT).read_to_end(&mut bytes);
            let _ = tx.send(Output::Stderr(bytes));
        });
    }
    let deadline = Instant::now() + command.timeout;
    let mut stdout = None;
    let mut stderr = Vec::new();
    let status = loop {
        while let Ok(output) = rx.try_recv() {
            match output {
                Output::Stdout(read) => stdout = Some(read),
                Output::Stderr(bytes) => stderr = bytes,
            }
        }
        if let Some(Ok(bytes)) = &stdout
            && bytes.len() as u64 > cap
        {
            stop(&mut child);
            return Err(format!("it wrote more than max_output_bytes ({cap} bytes)"));
        }
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                stop(&mut child);
                let stderr = drain_stderr(&rx, stderr);
                return Err(with_stderr(
                    format!(
                        "it did not finish within its timeout ({}s)",
                        command.timeout.as_secs()
                    ),
                    &stderr,
                    command,
                ));
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(e) => {
                stop(&mut child);
                return Err(format!("waiting for it failed: {e}"));
            }
        }
    };
    finish(command, status, stdout, stderr, &rx, deadline)
}

/// Starts the program: no shell, the config's folder, `PATH` and the listed variables only.
fn spawn(command: &CommandSource) -> Result<Child, String> {
    let (program, args) = command.argv.split_first().ok_or("no program")?;
    let mut cmd = Command::new(program);
    cmd.args(args)
        .current_dir(if command.dir.as_os_str().is_empty() {
            std::path::Path::new(".")
        } else {
            &command.dir
        })
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for name in std::iter::once("PATH").chain(command.env.iter().map(String::as_str)) {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.spawn()
        .map_err(|e| format!("it could not be started: {e}"))
}

/// Kills the program and reaps it.
fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The standard error read so far, or what its reader sends within a moment.
fn drain_stderr(rx: &mpsc::Receiver<Output>, mut stderr: Vec<u8>) -> Vec<u8> {
    let until = Instant::now() + Duration::from_millis(200);
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(Output::Stderr(bytes)) => {
                stderr = bytes;
                break;
            }
            Ok(Output::Stdout(_)) => {}
            Err(_) => break,
        }
    }
    stderr
}

/// The program exited: its output, once both readers are done (by the deadline), or why
/// the source failed.
fn finish(
    command: &CommandSource,
    status: std::process::ExitStatus,
    mut stdout: Option<std::io::Result<Vec<u8>>>,
    mut stderr: Vec<u8>,
    rx: &mpsc::Receiver<Output>,
    deadline: Instant,
) -> Result<Vec<u8>, String> {
    let mut stderr_done = !stderr.is_empty();
    while stdout.is_none() || !stderr_done {
        let left = deadline
            .checked_duration_since(Instant::now())
            .unwrap_or_default()
            .max(Duration::from_millis(50));
        match rx.recv_timeout(left) {
            Ok(Output::Stdout(read)) => stdout = Some(read),
            Ok(Output::Stderr(bytes)) => {
                stderr = bytes;
                stderr_done = true;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if stdout.is_none() {
                    return Err(
                        "it exited but its output stayed open (a process it started holds it) past its timeout".into(),
                    );
                }
                break;
            }
        }
    }
    if !status.success() {
        return Err(with_stderr(exit_reason(status), &stderr, command));
    }
    match stdout {
        Some(Ok(bytes)) if bytes.len() as u64 > command.max_output_bytes => Err(format!(
            "it wrote more than max_output_bytes ({} bytes)",
            command.max_output_bytes
        )),
        Some(Ok(bytes)) => Ok(bytes),
        Some(Err(e)) => Err(format!("reading its output failed: {e}")),
        None => Err("its output could not be read".into()),
    }
}

/// How the program ended, when it failed.
fn exit_reason(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("it exited with status {code}"),
        (None, Some(signal)) => format!("it was killed by signal {signal}"),
        (None, None) => "it ended abnormally".into(),
    }
}

/// `reason`, with the end of the program's standard error: Slack token shapes and the values
/// of the variables passed to it redacted, control characters escaped.
fn with_stderr(reason: String, stderr: &[u8], command: &CommandSource) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim();
    if text.is_empty() {
        return reason;
    }
    let mut text = crate::slack_rules::redact_tokens(text).into_owned();
    for name in &command.env {
        if let Ok(value) = std::env::var(name)
            && value.len() >= 4
        {
            text = text.replace(&value, "[redacted]");
        }
    }
    let start = text
        .char_indices()
        .rev()
        .nth(STDERR_SHOWN)
        .map_or(0, |(i, _)| i);
    let cut = if start > 0 { "…" } else { "" };
    let shown = crate::diag::escape::terminal(&text[start..]).into_owned();
    format!("{reason}; its standard error: {cut}{shown}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::COMMAND_MAX_OUTPUT;

    fn command(script: &str, env: &[&str], timeout: u64) -> CommandSource {
        CommandSource {
            argv: vec!["sh".into(), "-c".into(), script.into()],
            output: crate::config::CommandOutput::Yaml,
            dir: std::path::PathBuf::new(),
            timeout: Duration::from_secs(timeout),
            env: env.iter().map(|e| e.to_string()).collect(),
            max_output_bytes: COMMAND_MAX_OUTPUT,
        }
    }

    #[test]
    fn output_is_read_whole_and_failures_redact_the_variables_passed() {
        assert_eq!(run(&command("printf 'a\\nb'", &[], 5)).unwrap(), b"a\nb");
        let path = std::env::var("PATH").unwrap();
        let e = run(&command("echo \"p=$PATH\" >&2; exit 4", &["PATH"], 5)).unwrap_err();
        assert_eq!(
            e,
            "it exited with status 4; its standard error: p=[redacted]"
        );
        assert!(!e.contains(&path));
        let e = run(&command("kill -9 $$", &[], 5)).unwrap_err();
        assert_eq!(e, "it was killed by signal 9");
    }

    /// A process the program started that keeps its output open is no complete output.
    #[test]
    fn output_held_open_past_the_timeout_fails() {
        let started = Instant::now();
        let e = run(&command("sleep 3 & echo partial", &[], 1)).unwrap_err();
        assert!(e.contains("its output stayed open"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
}
