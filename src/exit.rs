//! The process contract's one mapping from a pass's report or error to an exit code (README,
//! "Exit codes"). Front ends call these and nothing else picks a code.
//!
//! One contract for every surface: `plan --detailed-exitcode` says what `apply` would do, and
//! a daemon pass's `outcome` label ([`PassReport::outcome`]) is `apply`'s code in words. When
//! several hold, the first of these wins: an error (1), a guard (3: nothing would be written),
//! Slack left short of the directory (5 for `plan`, 4 for `apply`: conflicts, rows skipped as
//! invalid, stuck ops held back — see [`crate::plan::Plan::falls_short`]), changes pending (2),
//! in sync (0). A plan that falls short outranks pending changes: the CI gate must fail on it
//! whether or not the pull request also changes something.

use crate::pass::{PassError, PassOutcome, PassReport};
use crate::shutdown::Signal;

/// In sync, or everything applied.
pub const OK: u8 = 0;
/// Configuration, source, auth or network error; nothing was written unless reported.
pub const ERROR: u8 = 1;
/// `plan --detailed-exitcode`: changes are pending.
pub const CHANGES: u8 = 2;
/// A safety guard tripped (`plan --detailed-exitcode`: `apply` would trip it): nothing was
/// written.
pub const GUARD: u8 = 3;
/// Partial: some objects failed or were skipped, or Slack cannot be made equal to the
/// directory (conflicts, rows skipped as invalid, stuck ops held back); the rest applied.
pub const PARTIAL: u8 = 4;
/// `plan --detailed-exitcode`: Slack cannot be made equal to the directory — the plan has
/// conflicts (changes Slack's rules or the directory's ambiguity prevent), rows skipped as
/// invalid, or stuck ops held back — whether or not other changes are pending. Never "in sync".
pub const CONFLICTS: u8 = 5;
/// `apply` on a terminal: the confirmation was answered with something other than `yes`
/// (or not at all); nothing was written.
pub const DECLINED: u8 = 6;
/// The command line is wrong (an unknown flag, a bad value): `sysexits.h`'s `EX_USAGE`, never
/// a code that a script reads as a plan's result.
pub const USAGE: u8 = 64;
/// `apply` stopped by SIGHUP (its terminal closed, or `kill -HUP`), as [`ABORTED`] is by
/// SIGINT. 128 + SIGHUP. (`run` takes SIGHUP as "reload and reconcile now" and goes on.)
pub const HANGUP: u8 = 129;
/// `apply` interrupted by SIGINT (Ctrl-C): no change started after it, those in flight
/// finished, what applied is reported. `run`: aborted by a second signal. 128 + SIGINT.
pub const ABORTED: u8 = 130;
/// `apply` stopped by SIGTERM, as [`ABORTED`] is by SIGINT. 128 + SIGTERM.
pub const TERMINATED: u8 = 143;

/// The exit code of `scimsync plan`: 0; with `detailed`, 3 when `apply` would trip a guard,
/// else 5 when the plan falls short of the directory, else 2 when changes are pending.
pub fn of_plan(report: &PassReport, detailed: bool) -> u8 {
    if !detailed {
        OK
    } else if !report.plan.guards.is_empty() {
        GUARD
    } else if report.plan.falls_short() {
        CONFLICTS
    } else if !report.plan.is_empty() {
        CHANGES
    } else {
        OK
    }
}

/// The exit code of `scimsync apply` (and of a dry run, which applies nothing).
pub fn of_apply(report: &PassReport) -> u8 {
    match report.outcome() {
        PassOutcome::Success => OK,
        PassOutcome::Partial => PARTIAL,
        PassOutcome::Guard => GUARD,
    }
}

/// The exit code of a pass that could not run.
pub fn of_error(_error: &PassError) -> u8 {
    ERROR
}

/// The exit code of `apply` stopped by `signal`: 128 + its number, as a shell reports a
/// process the signal ended ([`ABORTED`], [`TERMINATED`], [`HANGUP`]).
pub fn of_signal(signal: Signal) -> u8 {
    match signal {
        Signal::Interrupt => ABORTED,
        Signal::Terminate => TERMINATED,
        Signal::Hangup => HANGUP,
    }
}
