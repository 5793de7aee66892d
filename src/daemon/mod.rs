//! `scimsync run`: the reconcile loop (the kube-runtime shape). Level-triggered: every pass
//! re-reads the config and the sources, re-lists Slack, re-plans and applies; nothing is
//! remembered between passes. A pass every `interval` (± jitter); failures back off
//! exponentially and recover on their own; `POST /reconcile` starts a pass now.
//!
//! Shutdown is two-stage: the first SIGTERM (or Ctrl-C) stops scheduling and lets the pass in
//! flight finish — no new write starts, requests already sent complete — within the shutdown
//! deadline, then the process exits 0; a second signal aborts at once.

mod http;
pub mod metrics;
pub mod state_metrics;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, watch};
use tracing::Instrument;

use crate::apply::progress;
use crate::config::Config;
use crate::diag::Severity;
use crate::exit;
use crate::pass::{self, Applied, PassError, PassOutcome, PassReport, Request};
use metrics::Metrics;

/// The first retry after a failed pass; doubled per consecutive failure, capped at the
/// interval.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);

/// What `scimsync run` was given on the command line; `None` means "as the config says".
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The config file, re-read at the start of every pass.
    pub config: PathBuf,
    /// Overrides `daemon.listen`.
    pub listen: Option<SocketAddr>,
    /// Overrides `daemon.interval`.
    pub interval: Option<Duration>,
    /// How long the pass in flight may take to finish after SIGTERM.
    pub shutdown_deadline: Duration,
}

/// What the HTTP endpoints share with the loop.
pub struct DaemonState {
    /// Served on `/metrics`; updated by the loop after each pass.
    pub metrics: Metrics,
    /// Set once a pass has reached Slack.
    pub ready: AtomicBool,
    /// `POST /reconcile` wakes the loop.
    pub reconcile: Notify,
}

/// How a daemon pass ended, as the `outcome` label says it: the pass's own outcome, or why it
/// did not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PassEnd {
    Ran(PassOutcome),
    Error,
    Locked,
}

impl PassEnd {
    fn label(self) -> &'static str {
        match self {
            PassEnd::Ran(PassOutcome::Success) => "success",
            PassEnd::Ran(PassOutcome::Partial) => "partial",
            PassEnd::Ran(PassOutcome::Guard) => "guard",
            PassEnd::Error => "error",
            PassEnd::Locked => "locked",
        }
    }
}

/// Runs until a signal; returns the exit code.
pub async fn run(options: RunOptions) -> u8 {
    let config = match pass::load_config(&options.config) {
        Ok(c) => c,
        Err(e) => {
            log_error(&e);
            return exit::of_error(&e);
        }
    };
    let listen = options.listen.unwrap_or(config.daemon.listen);
    let state = Arc::new(DaemonState {
        metrics: Metrics::new(),
        ready: AtomicBool::new(false),
        reconcile: Notify::new(),
    });
    state
        .metrics
        .set_interval(options.interval.unwrap_or(config.daemon.interval));
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {listen}: {e}");
            return exit::ERROR;
        }
    };
    let bound = listener.local_addr().unwrap_or(listen);
    tracing::info!(listen = %bound, "serving /healthz /readyz /metrics, POST /reconcile");
    let server = tokio::spawn(http::serve(listener, state.clone()));

    // Stage one: stop scheduling and let the pass in flight finish; stage two: abort.
    let stop = Arc::new(AtomicBool::new(false));
    let (stopping_tx, stopping) = watch::channel(false);
    let (abort_tx, mut aborted) = watch::channel(false);
    tokio::spawn({
        let stop = stop.clone();
        async move {
            wait_for_signal().await;
            tracing::info!("shutting down: no new pass, no new write; finishing the one in flight");
            stop.store(true, Ordering::SeqCst);
            let _ = stopping_tx.send(true);
            wait_for_signal().await;
            tracing::warn!("second signal: aborting");
            let _ = abort_tx.send(true);
        }
    });

    let mut interval = options.interval.unwrap_or(config.daemon.interval);
    let mut jitter = config.daemon.jitter;
    let mut failures: u32 = 0;
    let mut pass_id: u64 = 0;
    let mut code = exit::OK;
    while !stop.load(Ordering::SeqCst) {
        pass_id += 1;
        let span = tracing::info_span!("pass", pass_id);
        let pass = {
            let (config, state, stop) = (options.config.clone(), state.clone(), stop.clone());
            async move { run_pass(&config, &state, stop).await }
        };
        let work = guarded(pass, state.clone(), span);
        let mut stopping_rx = stopping.clone();
        let deadline = options.shutdown_deadline;
        let result = tokio::select! {
            r = work => Some(r),
            _ = async {
                let _ = stopping_rx.wait_for(|s| *s).await;
                tokio::time::sleep(deadline).await;
            } => {
                tracing::warn!(?deadline, "the pass did not finish within the shutdown deadline");
                None
            }
            _ = aborted.wait_for(|a| *a) => {
                code = exit::ABORTED;
                None
            }
        };
        let Some((outcome, config_now)) = result else {
            break;
        };
        if let Some(c) = config_now {
            interval = options.interval.unwrap_or(c.daemon.interval);
            state.metrics.set_interval(interval);
            jitter = c.daemon.jitter;
        }
        failures = if outcome == PassEnd::Error {
            failures + 1
        } else {
            0
        };
        let wait = next_wait(interval, jitter, failures);
        tracing::info!(outcome = outcome.label(), next_in = %progress::rounded(wait), "pass finished");
        let mut stopping_rx = stopping.clone();
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = state.reconcile.notified() => tracing::info!("reconcile requested"),
            _ = stopping_rx.wait_for(|s| *s) => {}
        }
    }
    server.abort();
    tracing::info!("stopped");
    code
}

/// The wait before the next pass: the interval ± jitter, or after `failures` consecutive
/// failures an exponential backoff capped at the interval.
fn next_wait(interval: Duration, jitter: f64, failures: u32) -> Duration {
    if failures > 0 {
        let backoff = FIRST_BACKOFF.saturating_mul(1 << (failures - 1).min(16));
        return backoff.min(interval).max(Duration::from_millis(100));
    }
    let spread = jitter.clamp(0.0, 1.0) * (2.0 * fastrand::f64() - 1.0);
    // Never overflows or goes negative, whatever the interval: the config bounds it, and the
    // arithmetic saturates besides.
    Duration::try_from_secs_f64(interval.as_secs_f64() * (1.0 + spread)).unwrap_or(interval)
}

/// One pass; also returns the config it used, so interval changes take effect.
async fn run_pass(
    config_path: &Path,
    state: &DaemonState,
    stop: Arc<AtomicBool>,
) -> (PassEnd, Option<Config>) {
    let started = Instant::now();
    let result = async {
        let config = pass::load_config(config_path)?;
        let request = Request {
            apply: true,
            observer: Some(state.metrics.slack_observer()),
            ..Request::default()
        };
        let prepared = pass::prepare(config, &request, chrono::Utc::now().date_naive()).await?;
        state.ready.store(true, Ordering::SeqCst);
        state.metrics.record_plan(&prepared.plan);
        log_plan(&prepared.plan);
        let progress = prepared.progress.clone();
        let apply = prepared.apply(&request.allow, Some(stop));
        progress::show_while(progress, progress::Style::Lines, apply).await
    }
    .await;
    let (end, config) = match result {
        Ok(report) => {
            log_report(&report);
            state.metrics.record_report(&report);
            (PassEnd::Ran(report.outcome()), Some(report.config))
        }
        Err(e @ PassError::Locked(_)) => {
            tracing::warn!(error = %e, "skipping this pass");
            (PassEnd::Locked, None)
        }
        Err(e) => {
            log_error(&e);
            (PassEnd::Error, None)
        }
    };
    state
        .metrics
        .record_pass_end(end.label(), started.elapsed());
    (end, config)
}

/// One pass in its own task, so that a panic inside it is a failed pass — logged with its
/// message and counted — never a dead daemon.
async fn guarded(
    pass: impl Future<Output = (PassEnd, Option<Config>)> + Send + 'static,
    state: Arc<DaemonState>,
    span: tracing::Span,
) -> (PassEnd, Option<Config>) {
    let task = tokio::spawn(pass.instrument(span.clone()));
    match task.await {
        Ok(result) => result,
        Err(e) => {
            let message = match e.try_into_panic() {
                Ok(payload) => payload
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".into()),
                Err(e) => e.to_string(),
            };
            span.in_scope(|| tracing::error!(panic = %message, "the pass failed: internal error"));
            state
                .metrics
                .record_pass_end(PassEnd::Error.label(), Duration::ZERO);
            (PassEnd::Error, None)
        }
    }
}

/// The plan's summary and its conflicts.
fn log_plan(plan: &crate::plan::Plan) {
    let summary = plan.summary();
    for c in &plan.conflicts {
        tracing::warn!(subject = %c.subject, reason = %c.reason, "conflict");
    }
    tracing::info!(
        create = summary.create,
        reactivate = summary.reactivate,
        update = summary.update,
        deactivate = summary.deactivate,
        membership = summary.membership_changes,
        conflicts = summary.conflicts,
        "planned"
    );
}

/// The pass's findings (skipped rows, source warnings, guard trips) and outcome: what
/// `scimsync apply` prints, as log lines.
fn log_report(report: &PassReport) {
    for f in report.findings() {
        match f.severity {
            Severity::Error => tracing::error!(topic = f.topic, "{}", f.text),
            Severity::Warning => tracing::warn!(topic = f.topic, "{}", f.text),
        }
    }
    match &report.applied {
        Applied::GuardTripped(_) => tracing::error!("nothing written: a safety guard tripped"),
        Applied::Done(o) => {
            for op in o.ops.iter().filter(|op| op.result.label() != "applied") {
                tracing::warn!(
                    kind = op.kind.as_str(),
                    subject = %op.subject,
                    resource = op.resource.as_deref(),
                    result = op.result.label(),
                    detail = ?op.result,
                    "op did not apply"
                );
            }
            tracing::info!(
                applied = o.applied(),
                failed = o.failed(),
                skipped = o.skipped(),
                "applied"
            );
        }
        Applied::NotRequested | Applied::NothingToDo => {}
    }
}

fn log_error(e: &PassError) {
    match e {
        PassError::Config(c) => {
            for p in &c.problems {
                tracing::error!(problem = %p, "config");
            }
        }
        PassError::Directory(d) => {
            for p in &d.problems {
                tracing::error!(problem = %p, "directory");
            }
        }
        other => tracing::error!(error = %other, "pass failed"),
    }
}

/// Waits for SIGTERM or Ctrl-C; returns the exit code that says which ([`exit::ABORTED`] for
/// SIGINT, [`exit::TERMINATED`] for SIGTERM).
pub(crate) async fn wait_for_signal() -> u8 {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => exit::ABORTED,
            _ = term.recv() => exit::TERMINATED,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        exit::ABORTED
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_pass_is_a_failed_pass_not_a_dead_daemon() {
        let state = Arc::new(DaemonState {
            metrics: Metrics::new(),
            ready: AtomicBool::new(false),
            reconcile: Notify::new(),
        });
        let boom = async {
            if state_is_odd() {
                panic!("boom at the third user");
            }
            (PassEnd::Error, None)
        };
        let (end, config) = guarded(boom, state.clone(), tracing::Span::none()).await;
        assert_eq!(end, PassEnd::Error);
        assert!(config.is_none());
        assert!(
            state
                .metrics
                .encode()
                .contains("scimsync_passes_total{outcome=\"error\"} 1")
        );
        // The loop goes on: the next pass runs.
        let fine = async { (PassEnd::Ran(PassOutcome::Success), None) };
        let (end, _) = guarded(fine, state, tracing::Span::none()).await;
        assert_eq!(end, PassEnd::Ran(PassOutcome::Success));
    }

    /// Always true; keeps the panic reachable for the compiler.
    fn state_is_odd() -> bool {
        std::hint::black_box(true)
    }

    #[test]
    fn no_interval_overflows_the_wait() {
        for interval in [
            Duration::MAX,
            Duration::from_secs(5_124_095_576_030_431 * 3600),
        ] {
            for failures in [0, 1, 40, u32::MAX] {
                let _ = next_wait(interval, 1.0, failures);
            }
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped_by_the_interval() {
        let i = Duration::from_secs(60);
        assert_eq!(next_wait(i, 0.1, 1), Duration::from_secs(5));
        assert_eq!(next_wait(i, 0.1, 2), Duration::from_secs(10));
        assert_eq!(next_wait(i, 0.1, 10), i);
        for _ in 0..100 {
            let w = next_wait(i, 0.1, 0);
            assert!(
                w >= Duration::from_secs(54) && w <= Duration::from_secs(66),
                "{w:?}"
            );
        }
    }
}
