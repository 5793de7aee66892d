//! `scimsync run`: the reconcile loop (the kube-runtime shape). Level-triggered: every pass
//! re-reads the config and the sources, re-lists Slack, re-plans and applies; nothing is
//! remembered between passes. A pass every `interval` (± jitter); failures back off
//! exponentially and recover on their own; `POST /reconcile` starts a pass now.
//!
//! The config is re-read at the start of every pass, and SIGHUP ("reload") starts a pass now,
//! so a reload is a pass: a config that no longer compiles is logged with its problems and
//! counted (`scimsync_config_reloads_total{result="failure"}`), and the last good one stays in
//! force — a typo in an edit never stops the offboarding the old config was doing. A SIGHUP
//! during a pass does not disturb it: the next pass starts as soon as it ends.
//!
//! Shutdown is two-stage: the first SIGTERM (or Ctrl-C) stops scheduling and lets the pass in
//! flight finish — no new write starts, requests already sent complete — within the shutdown
//! deadline, then the process exits 0; a second signal aborts at once.

mod http;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::Instrument;

use crate::apply::progress;
use crate::config::Config;
use crate::diag::Severity;
use crate::exit::{Failure, Outcome};
use crate::metrics::Metrics;
use crate::pass::{self, Applied, PassError, PassOutcome, PassReport, Request};
use crate::plan::GuardTrip;
use crate::shutdown::{Hangups, Shutdown};

/// The first retry after a failed pass; doubled per consecutive failure, capped at the
/// interval.
const FIRST_BACKOFF: Duration = Duration::from_secs(5);

/// What `scimsync run` was given on the command line; `None` means "as the config says".
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The config file, re-read at the start of every pass (the last good one is kept when
    /// it does not compile).
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
    /// `POST /reconcile` and SIGHUP wake the loop (a wake during a pass starts the next pass
    /// as soon as it ends).
    pub reconcile: Notify,
    /// Set while a pass runs.
    pub in_pass: AtomicBool,
}

impl DaemonState {
    /// Fresh state: not ready, no pass running, the metrics at zero.
    fn new() -> DaemonState {
        DaemonState {
            metrics: Metrics::new(),
            ready: AtomicBool::new(false),
            reconcile: Notify::new(),
            in_pass: AtomicBool::new(false),
        }
    }
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

/// Runs until `shutdown` stops it (the front end triggers it on SIGTERM and Ctrl-C); returns
/// how it ended ([`crate::exit::of`] says the exit code). Errors are logged, as everything
/// the daemon says.
pub async fn run(options: RunOptions, shutdown: Shutdown) -> Outcome {
    let state = Arc::new(DaemonState::new());
    // First: SIGHUP's default would end the process.
    watch_hangups(state.clone());
    let config = match pass::load_config(&options.config) {
        Ok(c) => c,
        Err(e) => {
            log_error(&e);
            return Outcome::Failed(Failure::Logged);
        }
    };
    let listen = options.listen.unwrap_or(config.daemon.listen);
    state
        .metrics
        .set_interval(options.interval.unwrap_or(config.daemon.interval));
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("cannot listen on {listen}: {e}");
            return Outcome::Failed(Failure::Logged);
        }
    };
    let bound = listener.local_addr().unwrap_or(listen);
    tracing::info!(listen = %bound, "serving /healthz /readyz /metrics, POST /reconcile");
    let server = tokio::spawn(http::serve(listener, state.clone()));
    let outcome = reconcile_loop(&options, config, &state, &shutdown).await;
    server.abort();
    tracing::info!("stopped");
    outcome
}

/// The loop: a pass, a wait (the interval, a backoff, or until woken), again — until
/// `shutdown` stops it: [`Outcome::Done`], or [`Outcome::Aborted`] by a second signal. Each
/// pass re-reads the config ([`reload`]) and runs in its own task ([`guarded`]); [`schedule`]
/// times them.
async fn reconcile_loop(
    options: &RunOptions,
    config: Config,
    state: &Arc<DaemonState>,
    shutdown: &Shutdown,
) -> Outcome {
    // Stage one: stop scheduling and let the pass in flight finish; stage two: abort.
    tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            shutdown.stopping().await;
            tracing::info!("shutting down: no new pass, no new write; finishing the one in flight");
            shutdown.aborting().await;
            tracing::warn!("second signal: aborting");
        }
    });
    let mut last_good = config;
    let next = |pass_id: u64| {
        let span = tracing::info_span!("pass", pass_id);
        let config = span.in_scope(|| reload(&options.config, &mut last_good, &state.metrics));
        let interval = options.interval.unwrap_or(config.daemon.interval);
        state.metrics.set_interval(interval);
        let jitter = config.daemon.jitter;
        let pass = {
            let (config_path, state) = (options.config.clone(), state.clone());
            let stop = shutdown.clone();
            async move { run_pass(config, &config_path, &state, &stop).await }
        };
        Turn {
            pass: guarded(pass, state.clone(), span),
            interval,
            jitter,
        }
    };
    schedule(state, shutdown, options.shutdown_deadline, next).await
}

/// One turn of the loop as [`schedule`] sees it: the pass to run, and the interval and jitter
/// of the config it runs with (which set the wait after it).
struct Turn<F> {
    pass: F,
    interval: Duration,
    jitter: f64,
}

/// The daemon's time rules, apart from what a pass does: `next(pass_id)` gives each pass; the
/// next starts [`next_wait`] after the last ended (the interval ± jitter, or a backoff after
/// failures), at once when `state.reconcile` wakes the loop, and never once `shutdown` is
/// stopping. The pass in flight then has `deadline` to finish; a second signal abandons it.
async fn schedule<F>(
    state: &DaemonState,
    shutdown: &Shutdown,
    deadline: Duration,
    mut next: impl FnMut(u64) -> Turn<F>,
) -> Outcome
where
    F: Future<Output = PassEnd>,
{
    let mut failures: u32 = 0;
    let mut pass_id: u64 = 0;
    let mut end = Outcome::Done;
    while !shutdown.is_stopping() {
        pass_id += 1;
        let turn = next(pass_id);
        state.in_pass.store(true, Ordering::SeqCst);
        let result = tokio::select! {
            r = turn.pass => Some(r),
            () = async {
                shutdown.stopping().await;
                tokio::time::sleep(deadline).await;
            } => {
                tracing::warn!(?deadline, "the pass did not finish within the shutdown deadline");
                None
            }
            () = shutdown.aborting() => {
                end = Outcome::Aborted;
                None
            }
        };
        state.in_pass.store(false, Ordering::SeqCst);
        let Some(outcome) = result else {
            break;
        };
        failures = if outcome == PassEnd::Error {
            failures + 1
        } else {
            0
        };
        let wait = next_wait(turn.interval, turn.jitter, failures);
        tracing::info!(outcome = outcome.label(), next_in = %progress::rounded(wait), "pass finished");
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = state.reconcile.notified() => tracing::info!("reconcile requested"),
            () = shutdown.stopping() => {}
        }
    }
    end
}

/// SIGHUP — `systemctl reload scimsync`, `kill -HUP` — is "reload and reconcile now": it wakes
/// the loop as `POST /reconcile` does, and every pass starts by re-reading the config. A
/// signal during a pass leaves that pass alone; the next starts as soon as it ends.
fn watch_hangups(state: Arc<DaemonState>) {
    let mut hangups = Hangups::install();
    tokio::spawn(async move {
        loop {
            hangups.next().await;
            if state.in_pass.load(Ordering::SeqCst) {
                tracing::info!(
                    "SIGHUP: the config will be re-read and a pass started as soon as the \
                     pass in flight ends"
                );
            } else {
                tracing::info!("SIGHUP: re-reading the config and starting a pass now");
            }
            state.reconcile.notify_one();
        }
    });
}

/// The config a pass runs with: the file as it is now, or — when it no longer compiles — the
/// last good one, with the problems logged at error level and the failure counted. Every read
/// is counted in `scimsync_config_reloads_total`.
fn reload(path: &Path, last_good: &mut Config, metrics: &Metrics) -> Config {
    match pass::load_config(path) {
        Ok(config) => {
            metrics.record_config_reload(true);
            if config.digest != last_good.digest {
                tracing::info!(
                    file = %config.file,
                    digest = %config.digest,
                    "the config changed: this pass runs with the new one"
                );
                if config.daemon.listen != last_good.daemon.listen {
                    tracing::warn!(
                        listen = %config.daemon.listen,
                        "daemon.listen changed: it takes effect when the daemon restarts"
                    );
                }
            }
            *last_good = config.clone();
            config
        }
        Err(e) => {
            metrics.record_config_reload(false);
            log_error(&e);
            tracing::error!(
                error = %e,
                digest = %last_good.digest,
                "the config does not compile: keeping the last good config for this pass; \
                 fix the file (scimsync validate) — every pass reads it again"
            );
            last_good.clone()
        }
    }
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

/// One pass with `config` (read from `config_path`).
async fn run_pass(
    config: Config,
    config_path: &Path,
    state: &DaemonState,
    stop: &Shutdown,
) -> PassEnd {
    let started = Instant::now();
    let result = async {
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
        let apply = prepared.apply(&request.allow, stop);
        progress::show_while(progress, progress::Style::Lines, apply).await
    }
    .await;
    let end = match result {
        Ok(report) => {
            log_report(&report, config_path);
            state.metrics.record_report(&report);
            PassEnd::Ran(report.outcome())
        }
        Err(e @ PassError::Locked(_)) => {
            tracing::warn!(error = %e, "skipping this pass");
            PassEnd::Locked
        }
        Err(e) => {
            log_error(&e);
            PassEnd::Error
        }
    };
    state
        .metrics
        .record_pass_end(end.label(), started.elapsed());
    end
}

/// One pass in its own task, so that a panic inside it is a failed pass — logged with its
/// message and counted — never a dead daemon.
async fn guarded(
    pass: impl Future<Output = PassEnd> + Send + 'static,
    state: Arc<DaemonState>,
    span: tracing::Span,
) -> PassEnd {
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
            PassEnd::Error
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
/// `scimsync apply` prints, as log lines — but a guard trip names the daemon's way out (the
/// one-shot `apply --allow` with this config), not a flag `run` does not have.
fn log_report(report: &PassReport, config_path: &Path) {
    let trips = match &report.applied {
        Applied::GuardTripped(trips) => trips.as_slice(),
        _ => &[],
    };
    for f in report.findings() {
        if f.topic == "guard" && !trips.is_empty() {
            continue;
        }
        match f.severity {
            Severity::Error => tracing::error!(topic = f.topic, "{}", f.text),
            Severity::Warning => tracing::warn!(topic = f.topic, "{}", f.text),
        }
    }
    if !trips.is_empty() {
        let way_out = way_out_of(trips, config_path);
        for g in trips {
            tracing::error!(
                topic = "guard",
                "safety guard {} tripped: {} — {way_out}",
                g.guard,
                g.message
            );
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

/// What the daemon says after a guard trip: every pass trips again until the cause is fixed
/// or the limit raised; to let these changes through once, a one-shot `scimsync apply` with
/// the same config and an `--allow` per tripped guard. It takes the same pass lock (one per
/// config), so it never runs beside a daemon pass. The command comes last, ready to copy.
fn way_out_of(trips: &[GuardTrip], config_path: &Path) -> String {
    let config = std::path::absolute(config_path).unwrap_or_else(|_| config_path.to_path_buf());
    let mut command = format!(
        "scimsync apply --config {}",
        shell_word(&config.to_string_lossy())
    );
    let mut flags: Vec<String> = trips.iter().map(|g| g.guard.flag()).collect();
    flags.dedup();
    for flag in flags {
        command.push(' ');
        command.push_str(&flag);
    }
    format!("nothing is written while it trips; to let these changes through once, run: {command}")
}

/// `word` as one `sh` word: as it is when only safe characters make it, else single-quoted.
fn shell_word(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@%=".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_in_a_pass_is_a_failed_pass_not_a_dead_daemon() {
        let state = Arc::new(DaemonState::new());
        let boom = async {
            if state_is_odd() {
                panic!("boom at the third user");
            }
            PassEnd::Error
        };
        let end = guarded(boom, state.clone(), tracing::Span::none()).await;
        assert_eq!(end, PassEnd::Error);
        assert!(
            state
                .metrics
                .encode()
                .contains("scimsync_passes_total{outcome=\"error\"} 1")
        );
        // The loop goes on: the next pass runs.
        let fine = async { PassEnd::Ran(PassOutcome::Success) };
        let end = guarded(fine, state, tracing::Span::none()).await;
        assert_eq!(end, PassEnd::Ran(PassOutcome::Success));
    }

    /// Always true; keeps the panic reachable for the compiler.
    fn state_is_odd() -> bool {
        std::hint::black_box(true)
    }

    fn trip(guard: crate::plan::Guard) -> GuardTrip {
        GuardTrip {
            guard,
            limit: 1.0,
            actual: 2.0,
            message: String::new(),
        }
    }

    #[test]
    fn the_way_out_of_a_guard_is_one_apply_allowing_every_tripped_guard() {
        use crate::plan::Guard;
        let trips = [
            trip(Guard::MaxDeactivations),
            trip(Guard::MaxDeactivationRatio),
        ];
        let text = way_out_of(&trips, Path::new("/etc/scimsync/scimsync.yaml"));
        assert!(
            text.ends_with(
                "run: scimsync apply --config /etc/scimsync/scimsync.yaml \
                 --allow max-deactivations --allow max-deactivation-ratio"
            ),
            "{text}"
        );
        // A relative path is made absolute: the command works from any folder.
        let text = way_out_of(&trips[..1], Path::new("scimsync.yaml"));
        let cwd = std::env::current_dir().unwrap();
        assert!(
            text.contains(&format!("--config {}", cwd.join("scimsync.yaml").display()))
                || text.contains("--config '"),
            "{text}"
        );
    }

    #[test]
    fn a_path_is_one_shell_word() {
        assert_eq!(
            shell_word("/etc/scimsync/a-b_c.yaml"),
            "/etc/scimsync/a-b_c.yaml"
        );
        assert_eq!(shell_word("/srv/my config.yaml"), "'/srv/my config.yaml'");
        assert_eq!(shell_word("/srv/it's.yaml"), r"'/srv/it'\''s.yaml'");
        assert_eq!(
            shell_word("/srv/$(rm -rf ~).yaml"),
            "'/srv/$(rm -rf ~).yaml'"
        );
        assert_eq!(shell_word(""), "''");
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

    // ---- The time rules, on tokio's paused clock (kube-runtime's scheduler tests) ----

    use crate::shutdown::Signal;
    use tokio::time::Instant as Clock;

    /// [`schedule`] in a task, with a stand-in pass that ends as `end(pass_id)` says after
    /// `took`, and the instant each pass started.
    struct Running {
        state: Arc<DaemonState>,
        shutdown: Shutdown,
        starts: Arc<std::sync::Mutex<Vec<Clock>>>,
        task: tokio::task::JoinHandle<Outcome>,
    }

    fn start(
        interval: Duration,
        jitter: f64,
        took: Duration,
        end: impl Fn(u64) -> PassEnd + Send + Sync + 'static,
    ) -> Running {
        let state = Arc::new(DaemonState::new());
        let shutdown = Shutdown::new();
        let starts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (state, shutdown, starts) = (state.clone(), shutdown.clone(), starts.clone());
            async move {
                let next = |pass_id| {
                    starts.lock().unwrap().push(Clock::now());
                    let outcome = end(pass_id);
                    Turn {
                        pass: async move {
                            tokio::time::sleep(took).await;
                            outcome
                        },
                        interval,
                        jitter,
                    }
                };
                schedule(&state, &shutdown, Duration::from_secs(5), next).await
            }
        });
        Running {
            state,
            shutdown,
            starts,
            task,
        }
    }

    impl Running {
        fn passes(&self) -> usize {
            self.starts.lock().unwrap().len()
        }

        /// The time from each pass's start to the next one's.
        fn gaps(&self) -> Vec<Duration> {
            let starts = self.starts.lock().unwrap();
            starts.windows(2).map(|w| w[1] - w[0]).collect()
        }

        /// Moves the paused clock by `by` and lets the loop catch up.
        async fn advance(&self, by: Duration) {
            tokio::time::advance(by).await;
            settle().await;
        }
    }

    /// Lets every task that can run, run (the clock does not move meanwhile).
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    const SUCCESS: PassEnd = PassEnd::Ran(PassOutcome::Success);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[tokio::test(start_paused = true)]
    async fn no_pass_comes_before_the_interval_and_one_comes_at_it() {
        let r = start(secs(60), 0.0, Duration::ZERO, |_| SUCCESS);
        settle().await;
        assert_eq!(r.passes(), 1, "the first pass starts at once");
        r.advance(secs(59)).await;
        assert_eq!(r.passes(), 1, "none before the interval");
        r.advance(secs(1)).await;
        assert_eq!(r.passes(), 2, "one at it");
        r.advance(secs(60)).await;
        assert_eq!(r.passes(), 3);
        assert_eq!(r.gaps(), [secs(60), secs(60)]);
        r.shutdown.trigger(Signal::Terminate);
        let starts = r.starts.clone();
        assert!(matches!(r.task.await.unwrap(), Outcome::Done));
        assert_eq!(starts.lock().unwrap().len(), 3, "no pass once stopping");
    }

    #[tokio::test(start_paused = true)]
    async fn the_interval_runs_from_the_end_of_a_pass() {
        let r = start(secs(60), 0.0, secs(30), |_| SUCCESS);
        settle().await;
        r.advance(secs(30)).await; // the pass ends
        r.advance(secs(59)).await;
        assert_eq!(r.passes(), 1);
        r.advance(secs(1)).await;
        assert_eq!(r.passes(), 2, "30 s of pass, then 60 s of wait");
    }

    #[tokio::test(start_paused = true)]
    async fn jitter_spreads_the_waits_within_its_bound() {
        let r = start(secs(100), 0.25, Duration::ZERO, |_| SUCCESS);
        while r.passes() < 60 {
            tokio::time::sleep(secs(100)).await; // the paused clock runs ahead on its own
        }
        let gaps = r.gaps();
        let (low, high) = (secs(75), secs(125) + Duration::from_millis(1));
        assert!(gaps.iter().all(|g| *g >= low && *g <= high), "{gaps:?}");
        assert!(
            gaps.iter().any(|g| *g < secs(95)) && gaps.iter().any(|g| *g > secs(105)),
            "the waits spread on both sides: {gaps:?}"
        );
        let wild = start(secs(100), 7.0, Duration::ZERO, |_| SUCCESS);
        while wild.passes() < 30 {
            tokio::time::sleep(secs(100)).await;
        }
        let gaps = wild.gaps();
        assert!(
            gaps.iter()
                .all(|g| *g <= secs(200) + Duration::from_millis(1)),
            "{gaps:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failed_passes_back_off_doubling_up_to_the_interval_and_a_success_resets_it() {
        let r = start(secs(60), 0.0, Duration::ZERO, |id| {
            if id <= 6 { PassEnd::Error } else { SUCCESS }
        });
        while r.passes() < 9 {
            tokio::time::sleep(secs(60)).await;
        }
        assert_eq!(
            r.gaps()[..8],
            [5, 10, 20, 40, 60, 60, 60, 60].map(secs),
            "five failures: 5 s, 10 s, 20 s, 40 s, then the interval"
        );
        let locked = start(secs(60), 0.0, Duration::ZERO, |_| PassEnd::Locked);
        settle().await;
        locked.advance(secs(59)).await;
        assert_eq!(
            locked.passes(),
            1,
            "a locked pass is no failure: no backoff"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_wake_starts_a_pass_at_once_and_a_stop_waits_out_the_deadline_only() {
        let r = start(secs(3600), 0.0, Duration::ZERO, |_| SUCCESS);
        settle().await;
        r.state.reconcile.notify_one();
        settle().await;
        assert_eq!(r.passes(), 2, "POST /reconcile or SIGHUP: a pass now");

        let slow = start(secs(60), 0.0, secs(3600), |_| SUCCESS);
        settle().await;
        slow.shutdown.trigger(Signal::Terminate);
        settle().await;
        slow.advance(secs(4)).await;
        assert!(
            !slow.task.is_finished(),
            "the pass in flight has its deadline"
        );
        slow.advance(secs(1)).await;
        assert!(slow.task.is_finished(), "and no more");
        assert_eq!(slow.passes(), 1);
    }
}
