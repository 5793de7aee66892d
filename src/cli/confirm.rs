//! `scimsync apply`'s question on a terminal: after the plan, "Apply these N changes? Type
//! 'yes' to apply:". Only `yes` applies; anything else (or end of input) writes nothing and
//! exits [`crate::exit::DECLINED`]. Asked whenever stdin is a terminal — a person could answer
//! — whatever stdout is (`apply | tee apply.log` asks too: Terraform's rule), when the plan
//! would write something and no guard trips; `--yes` skips it. The question goes to the
//! terminal: stderr when it is one, else `/dev/tty`; the answer is read from stdin. Without a
//! terminal on stdin (cron, CI, a pipe) nothing is asked and `apply` applies as it always has.

use std::io::{BufRead, IsTerminal, Write};

use crate::plan::{Guard, Plan};

/// Whether a person is there to answer: stdin is a terminal. stdout may be a pipe or a file
/// (`apply | tee apply.log`): the person at the keyboard is still there.
pub fn interactive() -> bool {
    std::io::stdin().is_terminal()
}

/// Whether `apply` must ask before writing `plan`: not with `--yes`, not without a terminal,
/// not when nothing would be written (an empty plan, or a guard that trips and is not allowed).
pub fn needed(plan: &Plan, allow: &[Guard], yes: bool, interactive: bool) -> bool {
    let guard_trips = plan.guards.iter().any(|g| !allow.contains(&g.guard));
    ask_for(plan.ops.len(), guard_trips, yes, interactive)
}

/// [`needed`] on counts: `changes` writes planned, whether a guard will stop them.
fn ask_for(changes: usize, guard_trips: bool, yes: bool, interactive: bool) -> bool {
    !yes && interactive && changes > 0 && !guard_trips
}

/// The question for `changes` writes.
pub fn question(changes: usize) -> String {
    let what = if changes == 1 {
        "this change".to_string()
    } else {
        format!("these {changes} changes")
    };
    format!("\nApply {what} to Slack? Only 'yes' applies: ")
}

/// Whether `answer` (a line as typed) is a yes: `yes`, in any case, around whitespace.
pub fn is_yes(answer: &str) -> bool {
    answer.trim().eq_ignore_ascii_case("yes")
}

/// Asks on `out` and reads one line from `input`; true only for a yes.
pub fn ask(changes: usize, input: &mut impl BufRead, out: &mut impl Write) -> bool {
    let _ = out.write_all(question(changes).as_bytes());
    let _ = out.flush();
    let mut line = String::new();
    match input.read_line(&mut line) {
        Ok(0) | Err(_) => {
            // End of input (Ctrl-D): the cursor is still after the question.
            let _ = out.write_all(b"\n");
            false
        }
        Ok(_) => is_yes(&line),
    }
}

/// Whether `apply` may write `plan`: true without asking when [`needed`] says no question is
/// due; otherwise asks on the terminal and is true only for a yes. When the plan is not on the
/// terminal above the question — held back for the final JSON document, or sent down a pipe
/// or into a file — its summary is shown with the question, so the person knows what they are
/// answering.
pub async fn before_apply(plan: &Plan, allow: &[Guard], yes: bool, json: bool) -> bool {
    if !needed(plan, allow, yes, interactive()) {
        return true;
    }
    let summary = (json || !std::io::stdout().is_terminal()).then(|| {
        let (first, second) = crate::plan::render::summary_lines(plan);
        format!("\n{first}\n      {second}")
    });
    ask_on_terminal(plan.ops.len(), summary).await
}

/// Where the question is written: stderr when it is a terminal, else the terminal itself
/// (`/dev/tty`: `apply 2>apply.err` from a shell), else stderr all the same.
fn question_out() -> Box<dyn Write> {
    if !std::io::stderr().is_terminal()
        && let Ok(tty) = std::fs::OpenOptions::new().write(true).open("/dev/tty")
    {
        return Box::new(tty);
    }
    Box::new(std::io::stderr())
}

/// Asks on the terminal (see [`question_out`]; stdout carries only results), after `summary`
/// if given, and reads the answer from stdin. Blocks one worker thread, not the runtime.
pub async fn ask_on_terminal(changes: usize, summary: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let mut out = question_out();
        if let Some(summary) = summary {
            let _ = writeln!(out, "{summary}");
        }
        ask(changes, &mut std::io::stdin().lock(), &mut out)
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_yes_applies() {
        for yes in ["yes\n", "YES\n", "  yes \r\n", "Yes"] {
            assert!(is_yes(yes), "{yes:?}");
        }
        for no in ["", "\n", "y\n", "no\n", "yes please\n", "yess\n", "ye\n"] {
            assert!(!is_yes(no), "{no:?}");
        }
    }

    #[test]
    fn asks_once_and_reads_one_line() {
        let mut out = Vec::new();
        assert!(ask(3, &mut "yes\nno\n".as_bytes(), &mut out));
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\nApply these 3 changes to Slack? Only 'yes' applies: "
        );
        let mut out = Vec::new();
        assert!(
            !ask(1, &mut "".as_bytes(), &mut out),
            "end of input is a no"
        );
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("Apply this change to Slack?")
        );
    }

    #[test]
    fn asked_only_when_something_would_be_written() {
        assert!(
            !ask_for(0, false, false, true),
            "empty plan: nothing to ask"
        );
        assert!(ask_for(2, false, false, true));
        assert!(
            !ask_for(2, true, false, true),
            "a guard stops it: nothing to ask"
        );
        assert!(!ask_for(2, false, true, true), "--yes");
        assert!(!ask_for(2, false, false, false), "no terminal");
    }
}
