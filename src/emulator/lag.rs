//! Eventually consistent reads (FACTS TL;DR 16: after a DELETE, Slack's own tests poll up to
//! 10 s for `active:false`). With a read lag, each write the store records here becomes visible
//! to reads only `lag` after it was made, while writes and uniqueness checks see the true state
//! at once. Which writes are recorded is the store's [`super::LagScope`]: every one, or only a
//! deactivation or photo change (what Slack's own tests saw lag).
//!
//! The store is not copied per write: [`History`] keeps, per resource, the versions that were
//! replaced within the lag — `(instant of the write, version before it)` — and a read at `now`
//! sees, for a resource written after `now - lag`, the version before the oldest such write.
//! Entries older than the lag are pruned on every write, so the history holds at most the
//! writes of one lag period.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The recent past of one kind of resource (users or groups), keyed by id.
#[derive(Debug, Clone)]
pub struct History<T> {
    lag: Duration,
    /// id → `(instant of a write, the version before it)`, oldest first; `None` when the
    /// write created the resource.
    versions: HashMap<String, VecDeque<(Instant, Option<T>)>>,
    /// Every recorded write, oldest first, for pruning in order.
    order: VecDeque<(Instant, String)>,
}

impl<T> Default for History<T> {
    fn default() -> History<T> {
        History {
            lag: Duration::ZERO,
            versions: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<T> History<T> {
    /// Sets the lag; with `Duration::ZERO` nothing is recorded and reads see the true state.
    pub fn set_lag(&mut self, lag: Duration) {
        self.lag = lag;
        if lag.is_zero() {
            self.versions.clear();
            self.order.clear();
        }
    }

    /// The lag in force.
    pub fn lag(&self) -> Duration {
        self.lag
    }

    /// Remembers that resource `id` was written at `now`, replacing `previous` (`None`: the
    /// write created it).
    pub fn record(&mut self, id: &str, previous: Option<T>, now: Instant) {
        if self.lag.is_zero() {
            return;
        }
        self.prune(now);
        self.versions
            .entry(id.to_string())
            .or_default()
            .push_back((now, previous));
        self.order.push_back((now, id.to_string()));
    }

    /// Forgets the writes that every read can see by now.
    fn prune(&mut self, now: Instant) {
        let Some(cutoff) = now.checked_sub(self.lag) else {
            return;
        };
        while self.order.front().is_some_and(|(at, _)| *at <= cutoff) {
            let Some((_, id)) = self.order.pop_front() else {
                break;
            };
            if let Some(queue) = self.versions.get_mut(&id) {
                queue.pop_front();
                if queue.is_empty() {
                    self.versions.remove(&id);
                }
            }
        }
    }

    /// Whether a write made at `at` is still hidden from a read at `now`.
    fn hidden(&self, at: Instant, now: Instant) -> bool {
        now.checked_sub(self.lag).is_none_or(|cutoff| at > cutoff)
    }

    /// The version of `id` a read at `now` sees, given the true `current` one (`None`: the
    /// resource does not exist, or not yet for this read).
    pub fn visible<'a>(&'a self, id: &str, current: Option<&'a T>, now: Instant) -> Option<&'a T> {
        let Some(queue) = self.versions.get(id) else {
            return current;
        };
        match queue.iter().find(|(at, _)| self.hidden(*at, now)) {
            Some((_, previous)) => previous.as_ref(),
            None => current,
        }
    }

    /// The ids with a write a read at `now` cannot see yet, in no particular order. Empty
    /// unless something was written within the lag.
    pub fn pending(&self, now: Instant) -> impl Iterator<Item = &str> {
        self.versions.iter().filter_map(move |(id, queue)| {
            let (at, _) = queue.back()?;
            self.hidden(*at, now).then_some(id.as_str())
        })
    }

    /// Whether a read at `now` sees the true state of every resource.
    pub fn is_settled(&self, now: Instant) -> bool {
        self.pending(now).next().is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAG: Duration = Duration::from_secs(10);

    #[test]
    fn a_read_sees_the_version_before_the_oldest_hidden_write() {
        let t0 = Instant::now() + Duration::from_secs(60);
        let mut h: History<&str> = History::default();
        h.set_lag(LAG);
        h.record("u", None, t0); // created "v1"
        h.record("u", Some("v1"), t0 + Duration::from_secs(4)); // → "v2"
        let current = Some(&"v2");
        assert_eq!(h.visible("u", current, t0 + Duration::from_secs(1)), None);
        assert_eq!(
            h.visible("u", current, t0 + Duration::from_secs(11)),
            Some(&"v1")
        );
        assert_eq!(
            h.visible("u", current, t0 + Duration::from_secs(14)),
            Some(&"v2")
        );
        assert_eq!(h.visible("other", Some(&"x"), t0), Some(&"x"));
        assert_eq!(h.pending(t0 + Duration::from_secs(11)).count(), 1);
        assert!(h.is_settled(t0 + Duration::from_secs(14)));
    }

    #[test]
    fn writes_older_than_the_lag_are_pruned() {
        let t0 = Instant::now() + Duration::from_secs(60);
        let mut h: History<u32> = History::default();
        h.set_lag(LAG);
        for i in 0..100 {
            h.record(&format!("u{i}"), Some(i), t0);
        }
        h.record("late", None, t0 + LAG + Duration::from_secs(1));
        assert_eq!(h.versions.len(), 1);
        assert_eq!(h.order.len(), 1);
    }

    #[test]
    fn no_lag_records_nothing() {
        let mut h: History<u32> = History::default();
        h.record("u", None, Instant::now());
        assert_eq!(h.visible("u", Some(&1), Instant::now()), Some(&1));
        assert!(h.versions.is_empty());
    }
}
