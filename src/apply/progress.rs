//! How far an apply has got: a [`Progress`] handle the executor updates (atomics only, so any
//! task may read it), and its two renderings — a bar redrawn in place on a terminal, and a
//! log line every so often everywhere else (pipes, files, the daemon).
//!
//! The time left is not a cumulative average (which swings: an apply starts in Slack's burst,
//! then settles at its rate): it is the time the remaining ops take at the rate of the last
//! minute, and never less than what the plan's own estimate leaves (the floor Slack's rate
//! limits set, `plan::estimate`).

use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The executor's lanes (one per Slack endpoint written to), for per-lane counts.
pub const LANES: usize = 6;

/// Counts of one apply, updated by the executor as each op ends.
#[derive(Debug, Default)]
pub struct Progress {
    total: AtomicUsize,
    applied: AtomicUsize,
    failed: AtomicUsize,
    skipped: AtomicUsize,
    /// Ops in each lane, and how many of them have ended.
    lanes: [(AtomicUsize, AtomicUsize); LANES],
    started: OnceLock<Instant>,
    /// The plan's estimate of the whole apply (its floor under Slack's rate limits).
    estimate: Option<Duration>,
    /// What had ended when each recent snapshot was taken: the last minute's, and the one
    /// just before it (the window's start).
    samples: Mutex<VecDeque<Sample>>,
}

/// How many ops of each lane had ended, and when.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    at: Duration,
    lanes: [usize; LANES],
}

/// How long the recent rate is measured over.
pub const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Ops ended over the recent window, in all and by lane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recent {
    /// The window's length: a minute, or since the start when the apply is younger.
    pub secs: f64,
    /// Ops ended in it.
    pub done: usize,
    /// Ops ended in it, by lane.
    pub lanes: [usize; LANES],
}

/// The counts at one moment, with the rate and the time left derived from them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Snapshot {
    /// Ops in the plan.
    pub total: usize,
    /// Ops Slack accepted.
    pub applied: usize,
    /// Ops sent and refused.
    pub failed: usize,
    /// Ops not sent (a dependency failed, or the apply is stopping).
    pub skipped: usize,
    /// Since the executor started.
    pub elapsed: Duration,
    /// Ops in each lane and how many have ended: lanes run side by side at their own
    /// endpoint's rate, so the time left is the slowest lane's.
    pub lanes: [(usize, usize); LANES],
    /// What ended over the last minute; none before a first snapshot has a window.
    pub recent: Option<Recent>,
    /// The plan's estimate of the whole apply, when known.
    pub estimate: Option<Duration>,
}

impl Progress {
    /// A handle for a plan of `total` ops; the clock starts when the executor does.
    pub fn new(total: usize) -> Arc<Progress> {
        Progress::planned(total, None)
    }

    /// A handle for a plan of `total` ops that the plan estimates to take `estimate`.
    pub fn planned(total: usize, estimate: Option<Duration>) -> Arc<Progress> {
        let p = Progress {
            estimate,
            ..Progress::default()
        };
        p.total.store(total, Ordering::Relaxed);
        Arc::new(p)
    }

    /// The executor has started with this many ops in each lane (only the first call
    /// counts).
    pub(super) fn start(&self, lanes: [usize; LANES]) {
        if self.started.set(Instant::now()).is_ok() {
            self.total.store(lanes.iter().sum(), Ordering::Relaxed);
            for (lane, n) in self.lanes.iter().zip(lanes) {
                lane.0.store(n, Ordering::Relaxed);
            }
        }
    }

    /// One op of `lane` ended with this result label (`applied`, `failed` or `skipped`).
    pub(super) fn record(&self, lane: usize, label: &str) {
        if let Some((_, done)) = self.lanes.get(lane) {
            done.fetch_add(1, Ordering::Relaxed);
        }
        let counter = match label {
            // The account was created: a write done, though its profile was dropped.
            "applied" | "profile_dropped" => &self.applied,
            "failed" => &self.failed,
            _ => &self.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now, with what ended over the last minute (each snapshot is also kept as a
    /// sample of the rate).
    pub fn snapshot(&self) -> Snapshot {
        let elapsed = self.started.get().map(Instant::elapsed);
        self.observe(elapsed)
    }

    /// [`Progress::snapshot`] at `elapsed` since the executor started (none: not started).
    fn observe(&self, elapsed: Option<Duration>) -> Snapshot {
        let lanes: [(usize, usize); LANES] = std::array::from_fn(|i| {
            let (total, done) = &self.lanes[i];
            (total.load(Ordering::Relaxed), done.load(Ordering::Relaxed))
        });
        let recent = elapsed.and_then(|at| {
            self.recent(Sample {
                at,
                lanes: lanes.map(|(_, done)| done),
            })
        });
        Snapshot {
            total: self.total.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            elapsed: elapsed.unwrap_or_default(),
            lanes,
            recent,
            estimate: self.estimate,
        }
    }

    /// Keeps `now` as a sample and returns what ended since the window's start: the latest
    /// sample at least [`RATE_WINDOW`] old, or the start of the apply.
    fn recent(&self, now: Sample) -> Option<Recent> {
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.is_empty() {
            samples.push_back(Sample {
                at: Duration::ZERO,
                lanes: [0; LANES],
            });
        }
        samples.push_back(now);
        let from = now.at.saturating_sub(RATE_WINDOW);
        while samples.len() > 2 && samples[1].at <= from {
            samples.pop_front();
        }
        let start = samples[0];
        let secs = now.at.saturating_sub(start.at).as_secs_f64();
        (secs > 0.0).then(|| {
            let lanes: [usize; LANES] =
                std::array::from_fn(|i| now.lanes[i].saturating_sub(start.lanes[i]));
            Recent {
                secs,
                done: lanes.iter().sum(),
                lanes,
            }
        })
    }
}

impl Snapshot {
    /// Ops that have ended, whatever their result.
    pub fn done(&self) -> usize {
        self.applied + self.failed + self.skipped
    }

    /// Ops ended per second: over the last minute when known, else since the start.
    pub fn rate(&self) -> f64 {
        match self.recent {
            Some(r) => count(r.done) / r.secs,
            None => {
                let secs = self.elapsed.as_secs_f64();
                if secs > 0.0 {
                    count(self.done()) / secs
                } else {
                    0.0
                }
            }
        }
    }

    /// Time left: the remaining ops at the recent rate — the slowest lane's, each at its own
    /// rate (a lane without any in the window at the overall rate) — but never less than the
    /// plan's estimate leaves. Before any op has ended, the estimate's; none when neither is
    /// known.
    pub fn eta(&self) -> Option<Duration> {
        if self.total > 0 && self.done() >= self.total {
            return Some(Duration::ZERO);
        }
        let floor = self.estimate.map(|e| e.saturating_sub(self.elapsed));
        let measured = self
            .measured_left()
            .and_then(|s| Duration::try_from_secs_f64(s).ok());
        match (measured, floor) {
            (Some(m), Some(f)) => Some(m.max(f)),
            (m, f) => m.or(f),
        }
    }

    /// Seconds the remaining ops take at the measured rate, if there is one.
    fn measured_left(&self) -> Option<f64> {
        let rate = self.rate();
        if rate <= 0.0 {
            return None;
        }
        // Lanes not filled in (a snapshot made by hand): the overall rate alone.
        if self.lanes.iter().all(|l| l.0 == 0) {
            return Some(count(self.total.saturating_sub(self.done())) / rate);
        }
        // Per lane: its own ops over the window (or since the start), else the overall rate.
        let (lane_done, secs): ([usize; LANES], f64) = match self.recent {
            Some(r) => (r.lanes, r.secs),
            None => (self.lanes.map(|(_, d)| d), self.elapsed.as_secs_f64()),
        };
        let left = |(total, done): (usize, usize), recent: usize| {
            let remaining = count(total.saturating_sub(done));
            if recent > 0 {
                remaining / (count(recent) / secs)
            } else {
                remaining / rate
            }
        };
        Some(
            self.lanes
                .iter()
                .zip(lane_done)
                .map(|(&l, d)| left(l, d))
                .fold(0.0, f64::max),
        )
    }

    /// One line for a terminal: a bar `width` cells wide, the changes done, those that failed
    /// or were skipped, the rate and the ETA — cut to `columns` characters, since a line that
    /// wraps cannot be redrawn in place.
    pub fn bar_line(&self, width: usize, columns: usize) -> String {
        let filled = (self.done() * width)
            .checked_div(self.total)
            .unwrap_or(width);
        let bar: String = "█".repeat(filled) + &"░".repeat(width - filled.min(width));
        let mut line = format!("applying {bar} {}/{}", self.done(), self.total);
        if self.failed > 0 {
            line.push_str(&format!(", {} failed", self.failed));
        }
        if self.skipped > 0 {
            line.push_str(&format!(", {} skipped", self.skipped));
        }
        line.push_str(&format!(
            "  {:.1}/s  ETA {}",
            self.rate(),
            self.eta().map_or_else(|| "--:--".to_string(), clock)
        ));
        line.chars().take(columns.max(1)).collect()
    }

    /// Deactivations done, and in all (the lane that matters most for security).
    pub fn leavers(&self) -> (usize, usize) {
        (self.lanes[2].1, self.lanes[2].0)
    }
}

/// A count as a float, for rates (exact below 2^53).
#[allow(clippy::cast_precision_loss)] // counts of ops stay far below 2^53
fn count(n: usize) -> f64 {
    n as f64
}

/// A wait as a log line states it, rounded to the second (`32s`, `15m 1s`, `2h 5m`), or in
/// milliseconds under a second: never `32.459421741s`.
pub fn rounded(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        // A wait is seconds to hours: far inside u64, and never negative.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let secs = d.as_secs_f64().round() as u64;
        crate::plan::render::remaining(secs)
    }
}

/// `m:ss`, or `h:mm:ss` from an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Moves to the start of the line and erases it.
pub const CLEAR_LINE: &str = "\r\x1b[2K";

/// stderr as the progress bar shares it: whatever else is written there (log lines, the
/// notice of an interruption) goes through [`Console::write`], which clears the bar first when
/// it is on screen so nothing runs into it; the bar is redrawn at its next tick. The front end
/// makes one and hands it to its log writer and to [`Style::Bar`].
#[derive(Debug, Default)]
pub struct Console {
    /// Whether the bar is on screen.
    bar_shown: AtomicBool,
}

impl Console {
    /// A console with no bar on screen.
    pub fn new() -> Arc<Console> {
        Arc::new(Console::default())
    }

    /// Writes `bytes` to stderr, clearing the bar first if it is on screen.
    pub fn write(&self, bytes: &[u8]) -> std::io::Result<()> {
        let mut err = std::io::stderr().lock();
        if self.bar_shown.swap(false, Ordering::SeqCst) {
            err.write_all(CLEAR_LINE.as_bytes())?;
        }
        err.write_all(bytes)
    }

    /// Draws the bar in place of the current line.
    fn draw(&self, bar: &str) {
        let mut err = std::io::stderr().lock();
        let line = format!("{CLEAR_LINE}{bar}");
        let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
        self.bar_shown.store(true, Ordering::SeqCst);
    }

    /// Erases the bar if it is on screen.
    fn clear(&self) {
        let _ = self.write(b"");
    }

    /// Whether the bar is on screen.
    pub fn bar_shown(&self) -> bool {
        self.bar_shown.load(Ordering::SeqCst)
    }
}

/// How progress is shown while an apply runs.
#[derive(Debug, Clone)]
pub enum Style {
    /// A bar on stderr, redrawn in place (stderr is a terminal), on this console.
    Bar(Arc<Console>),
    /// An `info` log line with the counts, rate and ETA every period (pipes, files, the
    /// daemon).
    Lines,
}

/// How often the bar is redrawn.
const BAR_PERIOD: Duration = Duration::from_millis(200);

/// The default period of progress log lines; `SCIMSYNC_PROGRESS_INTERVAL` (a duration such as
/// `30s`) changes it.
pub const LINE_PERIOD: Duration = Duration::from_secs(10);

/// The period of progress log lines: `SCIMSYNC_PROGRESS_INTERVAL` (`30s`, `2m`, `500ms`),
/// else [`LINE_PERIOD`].
pub fn line_period() -> Duration {
    std::env::var("SCIMSYNC_PROGRESS_INTERVAL")
        .ok()
        .and_then(|v| match v.trim().strip_suffix("ms") {
            Some(ms) => ms.parse().ok().map(Duration::from_millis),
            None => crate::config::parse_duration(&v),
        })
        .filter(|d| !d.is_zero())
        .unwrap_or(LINE_PERIOD)
}

/// Runs `work`, showing `progress` in `style` until it ends; the bar is erased at the end.
pub async fn show_while<F: Future>(progress: Arc<Progress>, style: Style, work: F) -> F::Output {
    let period = match style {
        Style::Bar(_) => BAR_PERIOD,
        Style::Lines => line_period(),
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tokio::pin!(work);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = tick.tick() => show(&progress.snapshot(), &style),
        }
    };
    if let Style::Bar(console) = &style {
        console.clear();
    }
    out
}

fn show(s: &Snapshot, style: &Style) {
    if s.total == 0 {
        return;
    }
    match style {
        Style::Bar(console) => {
            // The terminal's width when the shell exports it; else the classic 80.
            let columns = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<usize>().ok())
                .unwrap_or(80);
            console.draw(&s.bar_line(20, columns.saturating_sub(1)));
        }
        Style::Lines => tracing::info!(
            done = s.done(),
            total = s.total,
            applied = s.applied,
            failed = s.failed,
            skipped = s.skipped,
            rate_per_s = format!("{:.1}", s.rate()),
            eta = s.eta().map(clock),
            deactivated = s.leavers().0,
            to_deactivate = s.leavers().1,
            "progress: {}/{} changes, {:.1}/s, ETA {}",
            s.done(),
            s.total,
            s.rate(),
            s.eta().map_or_else(|| "unknown".to_string(), clock)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_knows_whether_its_bar_is_on_screen_and_clears_it_before_a_line() {
        let console = Console::new();
        assert!(!console.bar_shown());
        console.draw("[=====     ] 5/10");
        assert!(console.bar_shown());
        // A log line (or any other write) clears the bar first: it is no longer shown.
        console.write(b"").unwrap();
        assert!(!console.bar_shown());
        // Each console owns its own bar: another one is unaffected.
        let other = Console::new();
        console.draw("[=         ] 1/10");
        assert!(console.bar_shown() && !other.bar_shown());
        console.clear();
        assert!(!console.bar_shown());
    }

    #[test]
    fn rate_eta_and_bar() {
        let s = Snapshot {
            total: 3000,
            applied: 1190,
            failed: 10,
            skipped: 0,
            elapsed: Duration::from_secs(120),
            lanes: [(0, 0); LANES],
            recent: None,
            estimate: None,
        };
        assert_eq!(s.done(), 1200);
        assert!((s.rate() - 10.0).abs() < 1e-9);
        assert_eq!(s.eta(), Some(Duration::from_secs(180)));
        assert_eq!(
            s.bar_line(10, 80),
            "applying ████░░░░░░ 1200/3000, 10 failed  10.0/s  ETA 3:00"
        );
        assert_eq!(s.bar_line(10, 24), "applying ████░░░░░░ 1200");
        let fresh = Snapshot {
            elapsed: Duration::ZERO,
            applied: 0,
            failed: 0,
            ..s
        };
        assert_eq!(fresh.eta(), None);
        assert!(
            fresh.bar_line(4, 80).ends_with("ETA --:--"),
            "{}",
            fresh.bar_line(4, 80)
        );
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
        // Lanes: creates at 5/s with 900 left set the time left, not the overall 10/s.
        let lanes = Snapshot {
            lanes: [(1500, 600), (1000, 1000), (500, 0), (0, 0), (0, 0), (0, 0)],
            ..s
        };
        assert_eq!(lanes.eta(), Some(Duration::from_secs(180)));
        let creates_behind = Snapshot {
            lanes: [(1500, 300), (1000, 900), (500, 0), (0, 0), (0, 0), (0, 0)],
            ..s
        };
        assert_eq!(creates_behind.eta(), Some(Duration::from_secs(480)));
    }

    /// A progress of `total` creates (one lane) that the plan estimates at `estimate` seconds.
    fn creates(total: usize, estimate: u64) -> Progress {
        let p = Progress {
            estimate: Some(Duration::from_secs(estimate)),
            ..Progress::default()
        };
        p.start([total, 0, 0, 0, 0, 0]);
        p
    }

    /// Ends `n` creates.
    fn end(p: &Progress, n: usize) {
        for _ in 0..n {
            p.record(0, "applied");
        }
    }

    fn eta_at(p: &Progress, secs: u64) -> u64 {
        p.observe(Some(Duration::from_secs(secs)))
            .eta()
            .unwrap()
            .as_secs()
    }

    #[test]
    fn the_eta_is_the_last_minutes_rate_never_under_the_plans_estimate() {
        // 600 creates: Slack's burst takes 100 in two seconds, then one a second; the plan
        // estimates (600 − 100) / 1 = 500 s, which is right.
        let p = creates(600, 500);
        assert_eq!(
            p.observe(Some(Duration::ZERO)).eta(),
            Some(Duration::from_secs(500)),
            "before anything ends: the plan's estimate"
        );
        end(&p, 100);
        // A cumulative average would say 10 s here (50/s), and 45 s at 10 s.
        assert_eq!(eta_at(&p, 2), 498);
        end(&p, 8);
        assert_eq!(eta_at(&p, 10), 490);
        for t in (20..=200).step_by(10) {
            end(&p, 10);
            let eta = eta_at(&p, t);
            // True time left: 600 − 108 − (t − 10) ops at 1/s.
            let truth = 600 - 108 - (t - 10);
            assert!(
                eta.abs_diff(truth) <= 2,
                "at {t} s: ETA {eta} s, truly {truth} s"
            );
        }
        // Slack slows to one every four seconds: within a minute the ETA says so (a cumulative
        // average would still say about 200 s).
        for t in (210..=260).step_by(10) {
            end(&p, 2);
            let _ = eta_at(&p, t);
        }
        end(&p, 3);
        let eta = eta_at(&p, 270);
        assert!(eta > 1000, "{eta}");
        // Done: nothing left.
        end(&p, 600);
        assert_eq!(eta_at(&p, 300), 0);
    }

    #[test]
    fn waits_are_logged_rounded() {
        assert_eq!(rounded(Duration::from_secs_f64(32.459_421_741)), "32s");
        assert_eq!(rounded(Duration::from_secs_f64(901.6)), "15m 2s");
        assert_eq!(rounded(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn the_executor_counts_by_result() {
        let p = Progress::new(0);
        p.start([2, 0, 1, 0, 0, 0]);
        p.record(0, "applied");
        p.record(0, "failed");
        p.record(2, "skipped");
        let s = p.snapshot();
        assert_eq!((s.total, s.applied, s.failed, s.skipped), (3, 1, 1, 1));
        assert_eq!(s.lanes[0], (2, 2));
        assert_eq!(s.lanes[2], (1, 1));
    }
}
