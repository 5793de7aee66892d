//! Slack's rate limits as token buckets, enforced the way Slack does (FACTS §7): every request
//! takes a token from its set's bucket (reads or writes, org-wide) and, where Slack has one,
//! from its endpoint's bucket; if either is empty the answer is 429 with `Retry-After`.
//!
//! Both buckets are checked and taken under one lock, so a refused request consumes nothing.
//! `time_scale` speeds every refill up (60 = a minute of Slack's budget per second) so tests
//! exercise the real numbers quickly.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::scim::limits::{Endpoint, Quota, RateSet};

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    fn new(q: Quota, time_scale: f64, now: Instant) -> Bucket {
        Bucket {
            capacity: f64::from(q.burst),
            tokens: f64::from(q.burst),
            per_second: f64::from(q.per_minute) / 60.0 * time_scale,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    fn wait(&self) -> Duration {
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
        }
    }
}

/// Slack's org-wide and per-endpoint buckets (FACTS §7).
#[derive(Debug)]
pub struct Limiter {
    sets: HashMap<RateSet, Bucket>,
    endpoints: HashMap<Endpoint, Bucket>,
}

impl Limiter {
    /// Full buckets, refilling `time_scale` times faster than Slack's.
    pub fn new(time_scale: f64) -> Limiter {
        let now = Instant::now();
        let sets = [RateSet::Read, RateSet::Write]
            .into_iter()
            .map(|s| (s, Bucket::new(s.quota(), time_scale, now)))
            .collect();
        let endpoints = Endpoint::ALL
            .into_iter()
            .filter_map(|e| e.quota().map(|q| (e, Bucket::new(q, time_scale, now))))
            .collect();
        Limiter { sets, endpoints }
    }

    /// Takes a token for `endpoint`, or says how long until one is available.
    pub fn acquire(&mut self, endpoint: Endpoint, now: Instant) -> Result<(), Duration> {
        let set = self.sets.get_mut(&endpoint.set()).expect("both sets exist");
        set.refill(now);
        let mut wait = set.wait();
        if let Some(ep) = self.endpoints.get_mut(&endpoint) {
            ep.refill(now);
            wait = wait.max(ep.wait());
        }
        if wait > Duration::ZERO {
            return Err(wait);
        }
        self.sets.get_mut(&endpoint.set()).expect("exists").tokens -= 1.0;
        if let Some(ep) = self.endpoints.get_mut(&endpoint) {
            ep.tokens -= 1.0;
        }
        Ok(())
    }
}

/// `Retry-After` in whole seconds, at least 1: Slack's clients parse it as an integer.
pub fn retry_after_secs(wait: Duration) -> u64 {
    let whole = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    whole.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_creates_burst_20_then_refill_at_180_per_minute() {
        let start = Instant::now();
        let mut l = Limiter::new(1.0);
        for i in 0..20 {
            assert!(l.acquire(Endpoint::UserCreate, start).is_ok(), "create {i}");
        }
        let wait = l.acquire(Endpoint::UserCreate, start).unwrap_err();
        assert!((wait.as_secs_f64() - 60.0 / 180.0).abs() < 1e-6, "{wait:?}");
        // Another write endpoint still has budget: the set (burst 180) is not exhausted.
        assert!(l.acquire(Endpoint::UserUpdate, start).is_ok());
        assert!(
            l.acquire(Endpoint::UserCreate, start + Duration::from_millis(334))
                .is_ok()
        );
    }

    #[test]
    fn the_write_set_caps_all_write_endpoints_together() {
        let t = Instant::now();
        let mut l = Limiter::new(1.0);
        let eps = [
            Endpoint::UserCreate,
            Endpoint::UserUpdate,
            Endpoint::UserDelete,
            Endpoint::GroupCreate,
            Endpoint::GroupUpdate,
            Endpoint::GroupDelete,
        ];
        let ok = (0..600)
            .filter(|i| l.acquire(eps[i % eps.len()], t).is_ok())
            .count();
        // 20+20+20+20+80+20 = 180 endpoint tokens, and the set's burst is 180 as well.
        assert_eq!(ok, 180);
    }

    #[test]
    fn time_scale_speeds_refill() {
        let t = Instant::now();
        let mut l = Limiter::new(60.0);
        for _ in 0..20 {
            l.acquire(Endpoint::UserCreate, t).unwrap();
        }
        let wait = l.acquire(Endpoint::UserCreate, t).unwrap_err();
        assert!(wait < Duration::from_millis(6), "{wait:?}");
        assert_eq!(retry_after_secs(wait), 1);
    }
}
