//! How far an apply has got: a [`Progress`] handle the executor updates (atomics only, so any
//! task may read it), and its two renderings — a bar redrawn in place on a terminal, and a
//! log line every so often everywhere else (pipes, files, the daemon).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
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
}

impl Progress {
    /// A handle for a plan of `total` ops; the clock starts when the executor does.
    pub fn new(total: usize) -> Arc<Progress> {
        let p = Progress::default();
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
            "applied" => &self.applied,
            "failed" => &self.failed,
            _ => &self.skipped,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            total: self.total.load(Ordering::Relaxed),
            applied: self.applied.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            skipped: self.skipped.load(Ordering::Relaxed),
            elapsed: self.started.get().map(Instant::elapsed).unwrap_or_default(),
            lanes: std::array::from_fn(|i| {
                let (total, done) = &self.lanes[i];
                (total.load(Ordering::Relaxed), done.load(Ordering::Relaxed))
            }),
        }
    }
}

impl Snapshot {
    /// Ops that have ended, whatever their result.
    pub fn done(&self) -> usize {
        self.applied + self.failed + self.skipped
    }

    /// Ops ended per second so far.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            count(self.done()) / secs
        } else {
            0.0
        }
    }

    /// Time left: the slowest lane's, each at its own rate so far (a lane yet to start at the
    /// overall rate); none before the first op ends.
    pub fn eta(&self) -> Option<Duration> {
        let (rate, secs) = (self.rate(), self.elapsed.as_secs_f64());
        if rate <= 0.0 {
            return None;
        }
        let left = |(total, done): (usize, usize)| {
            let remaining = count(total.saturating_sub(done));
            if done > 0 {
                remaining / (count(done) / secs)
            } else {
                remaining / rate
            }
        };
        let slowest = self.lanes.iter().map(|&l| left(l)).fold(0.0, f64::max);
        let overall = count(self.total.saturating_sub(self.done())) / rate;
        // Lanes not filled in (a snapshot made by hand): the overall rate alone.
        let secs_left = if self.lanes.iter().all(|l| l.0 == 0) {
            overall
        } else {
            slowest
        };
        Duration::try_from_secs_f64(secs_left).ok()
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

/// `m:ss`, or `h:mm:ss` from an hour.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// Whether the bar is on screen: log lines written meanwhile clear it first
/// ([`CLEAR_LINE`]) so they never run into it; it is redrawn at the next tick.
pub static BAR_SHOWN: AtomicBool = AtomicBool::new(false);

/// Moves to the start of the line and erases it.
pub const CLEAR_LINE: &str = "\r\x1b[2K";

/// How progress is shown while an apply runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A bar on stderr, redrawn in place (stderr is a terminal).
    Bar,
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
        Style::Bar => BAR_PERIOD,
        Style::Lines => line_period(),
    };
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tokio::pin!(work);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = tick.tick() => show(&progress.snapshot(), style),
        }
    };
    if style == Style::Bar && BAR_SHOWN.swap(false, Ordering::SeqCst) {
        let _ = std::io::stderr().lock().write_all(CLEAR_LINE.as_bytes());
    }
    out
}

fn show(s: &Snapshot, style: Style) {
    if s.total == 0 {
        return;
    }
    match style {
        Style::Bar => {
            // The terminal's width when the shell exports it; else the classic 80.
            let columns = std::env::var("COLUMNS")
                .ok()
                .and_then(|c| c.parse::<usize>().ok())
                .unwrap_or(80);
            let line = format!("{CLEAR_LINE}{}", s.bar_line(20, columns.saturating_sub(1)));
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(line.as_bytes()).and_then(|()| err.flush());
            BAR_SHOWN.store(true, Ordering::SeqCst);
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
    fn rate_eta_and_bar() {
        let s = Snapshot {
            total: 3000,
            applied: 1190,
            failed: 10,
            skipped: 0,
            elapsed: Duration::from_secs(120),
            lanes: [(0, 0); LANES],
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
