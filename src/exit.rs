//! The process contract's one mapping from what a command ended with to an exit code (README,
//! "Exit codes"). A command handler returns an [`Outcome`] (a report, a [`Failure`], a declined
//! confirmation, an interruption with its signal); [`of`] maps it, and nothing else picks a
//! code.
//!
//! One contract for every surface: `plan --detailed-exitcode` says what `apply` would do, and
//! a daemon pass's `outcome` label ([`PassReport::outcome`]) is `apply`'s code in words. When
//! several hold, the first of these wins: an error (1), a guard (3: nothing would be written),
//! Slack left short of the directory (5 for `plan`, 4 for `apply`: conflicts, rows skipped as
//! invalid, stuck ops held back — see [`crate::plan::Plan::falls_short`]), changes pending (2),
//! in sync (0). A plan that falls short outranks pending changes: the CI gate must fail on it
//! whether or not the pull request also changes something.

use std::path::PathBuf;

use crate::pass::{Applied, PassError, PassOutcome, PassReport};
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

/// What a command ended with. The front end prints what it says (an error, a declined
/// confirmation, an interruption) in one place and exits with [`of`] it.
#[derive(Debug)]
pub enum Outcome {
    /// The command did what it was asked (0).
    Done,
    /// `validate`: the config or a source has problems, already shown (1).
    Invalid,
    /// `plan`'s report, or `apply --dry-run`'s: with `detailed`, the code says what `apply`
    /// would do ([`of_plan`]).
    Planned {
        /// The pass's report.
        report: Box<PassReport>,
        /// `--detailed-exitcode`.
        detailed: bool,
    },
    /// `apply`'s report ([`of_apply`]).
    Applied(Box<PassReport>),
    /// `apply` stopped by `signal`: no change started after it, those in flight finished.
    Interrupted {
        /// The pass's report: what applied.
        report: Box<PassReport>,
        /// The first signal.
        signal: Signal,
    },
    /// `apply` on a terminal, answered with something other than `yes`: nothing written (6).
    Declined,
    /// `run` aborted by a second signal (130).
    Aborted,
    /// The command line is wrong; the parser has said why (64).
    Usage,
    /// The command could not do its work.
    Failed(Failure),
}

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A pass could not run: the config, the sources, Slack, the lock… (1).
    #[error(transparent)]
    Pass(#[from] PassError),
    /// A file could not be written (1).
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Flags that parse but do not go together (64).
    #[error("{0}")]
    Usage(String),
    /// `healthcheck`: the daemon did not answer as healthy (1).
    #[error("{0}")]
    Unhealthy(String),
    /// Anything else, in words (1).
    #[error("{0}")]
    Other(String),
    /// Already reported as log events, as the daemon reports everything (1).
    #[error("see the log")]
    Logged,
}

/// The exit code of `outcome`.
pub fn of(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Done => OK,
        Outcome::Invalid => ERROR,
        Outcome::Planned { report, detailed } => of_plan(report, *detailed),
        Outcome::Applied(report) => of_apply(report),
        Outcome::Interrupted { signal, .. } => of_signal(*signal),
        Outcome::Declined => DECLINED,
        Outcome::Aborted => ABORTED,
        Outcome::Usage | Outcome::Failed(Failure::Usage(_)) => USAGE,
        Outcome::Failed(Failure::Pass(e)) => of_error(e),
        Outcome::Failed(_) => ERROR,
    }
}

/// `apply`'s outcome once its pass has run: interrupted when a signal stopped it while it was
/// applying, else its report.
pub fn of_applied(report: PassReport, signal: Option<Signal>) -> Outcome {
    match signal {
        Some(signal) if matches!(report.applied, Applied::Done(_)) => Outcome::Interrupted {
            report: Box::new(report),
            signal,
        },
        _ => Outcome::Applied(Box::new(report)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::apply::{OpOutcome, OpResult, Outcome as ApplyOutcome};
    use crate::plan::{Guard, GuardTrip, Op, Plan, PlannedOp};

    /// A plan of `ops` creates, no guard tripped (an empty directory trips one of its own).
    fn plan(ops: usize) -> Plan {
        let mut policy = crate::config::Policy::default();
        policy.scope.email_domains = vec!["example.com".into()];
        let mut p = crate::plan::plan(
            &crate::directory::Directory::default(),
            &crate::model::LiveState::default(),
            &policy,
        );
        p.guards.clear();
        for i in 0..ops {
            p.ops.push(PlannedOp::new(Op::CreateUser {
                email: format!("p{i}@example.com"),
                user_name: format!("p{i}"),
                fields: crate::model::UserFields::default(),
                source: "people.csv:2".into(),
            }));
        }
        p
    }

    fn report(plan: Plan, applied: Applied) -> Box<PassReport> {
        let yaml = "target: {url: \"http://127.0.0.1:9/scim/v2/\", token_env: SCIM_TOKEN}\n\
                    sources:\n  - csv: people.csv\n    columns: {email: Email}\n\
                    scope: {email_domains: [example.com]}\n";
        let (config, _warnings) = crate::config::compile(
            &Arc::from("scimsync.yaml"),
            yaml.as_bytes(),
            &crate::config::EnvOverrides::default(),
        )
        .unwrap();
        Box::new(PassReport {
            config,
            plan,
            source_problems: Vec::new(),
            applied,
            unconfirmed: Vec::new(),
            state_unsaved: None,
        })
    }

    fn done(results: Vec<OpResult>) -> Applied {
        let ops = results
            .into_iter()
            .map(|result| OpOutcome {
                kind: crate::plan::OpKind::CreateUser,
                subject: "p0@example.com".into(),
                resource: None,
                result,
            })
            .collect();
        Applied::Done(ApplyOutcome {
            ops,
            ..ApplyOutcome::default()
        })
    }

    fn tripped() -> Applied {
        Applied::GuardTripped(vec![GuardTrip {
            guard: Guard::MaxDeactivations,
            limit: 1.0,
            actual: 2.0,
            message: String::new(),
        }])
    }

    #[test]
    fn every_plain_outcome_has_its_code() {
        assert_eq!(of(&Outcome::Done), OK);
        assert_eq!(of(&Outcome::Invalid), ERROR);
        assert_eq!(of(&Outcome::Declined), DECLINED);
        assert_eq!(of(&Outcome::Aborted), ABORTED);
        assert_eq!(of(&Outcome::Usage), USAGE);
        let usage = Failure::Usage("--max-bytes bounds --format markdown only".into());
        assert_eq!(of(&Outcome::Failed(usage)), USAGE);
        for failure in [
            Failure::Pass(PassError::Locked("held".into())),
            Failure::Write {
                path: "out.txt".into(),
                source: std::io::Error::other("disk full"),
            },
            Failure::Unhealthy("http://x answered 503".into()),
            Failure::Other("cannot listen".into()),
            Failure::Logged,
        ] {
            assert_eq!(of(&Outcome::Failed(failure)), ERROR);
        }
    }

    #[test]
    fn a_plan_says_what_apply_would_do_only_when_asked() {
        let planned = |plan: Plan, detailed| Outcome::Planned {
            report: report(plan, Applied::NotRequested),
            detailed,
        };
        assert_eq!(of(&planned(plan(2), false)), OK);
        assert_eq!(of(&planned(plan(2), true)), CHANGES);
        assert_eq!(of(&planned(plan(0), true)), OK);
        let mut short = plan(2);
        short.conflicts.push(crate::plan::Conflict {
            subject: "dup@example.com".into(),
            reason: "taken".into(),
            source: None,
        });
        assert_eq!(of(&planned(short.clone(), true)), CONFLICTS);
        short.guards = vec![GuardTrip {
            guard: Guard::MaxDeactivations,
            limit: 1.0,
            actual: 2.0,
            message: String::new(),
        }];
        assert_eq!(of(&planned(short, true)), GUARD);
    }

    #[test]
    fn an_apply_is_ok_partial_or_guarded() {
        let applied = |applied| Outcome::Applied(report(plan(1), applied));
        assert_eq!(
            of(&applied(done(vec![OpResult::Applied { note: None }]))),
            OK
        );
        let failed = OpResult::Failed {
            status: Some(500),
            code: None,
            message: "boom".into(),
        };
        assert_eq!(of(&applied(done(vec![failed]))), PARTIAL);
        assert_eq!(of(&applied(tripped())), GUARD);
        assert_eq!(of(&applied(Applied::NothingToDo)), OK);
    }

    #[test]
    fn an_interrupted_apply_exits_128_plus_its_signal() {
        for (signal, code) in [
            (Signal::Interrupt, ABORTED),
            (Signal::Terminate, TERMINATED),
            (Signal::Hangup, HANGUP),
        ] {
            assert_eq!(code, 128 + signal.number());
            let stopped = OpResult::Skipped {
                reason: "scimsync is shutting down".into(),
            };
            let outcome = of_applied(*report(plan(1), done(vec![stopped])), Some(signal));
            assert!(
                matches!(outcome, Outcome::Interrupted { .. }),
                "{outcome:?}"
            );
            assert_eq!(of(&outcome), code);
            // A signal before anything was applied (a guard tripped) is no interruption.
            let outcome = of_applied(*report(plan(1), tripped()), Some(signal));
            assert_eq!(of(&outcome), GUARD);
        }
        let outcome = of_applied(*report(plan(0), Applied::NothingToDo), None);
        assert_eq!(of(&outcome), OK);
    }
}
