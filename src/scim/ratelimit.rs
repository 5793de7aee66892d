//! Staying under Slack's rate limits (FACTS §7, DESIGN §5). Slack meters every SCIM app of an
//! organisation together, so scimsync takes only a `share` of each budget. Every request —
//! retries included — waits for a token from its set's bucket (reads or writes) and from its
//! endpoint's bucket; a 429 pauses the whole set for `Retry-After`, because the limit it hit
//! is organisation-wide. Leavers first: a deactivation waiting for the org-wide write bucket
//! gets its next token before any other write does, so when every endpoint is busy and the
//! org-wide budget binds, offboarding still runs at its own endpoint's full rate.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultDirectRateLimiter, Quota as GovQuota, RateLimiter};

use super::limits::{Endpoint, Quota, RateSet};

/// The client's buckets.
pub struct Limits {
    sets: HashMap<RateSet, DefaultDirectRateLimiter>,
    endpoints: HashMap<Endpoint, DefaultDirectRateLimiter>,
    paused_until: Mutex<HashMap<RateSet, Instant>>,
    waited_micros: AtomicU64,
    rate_limited: AtomicU64,
    /// How many times faster than Slack the budgets run (1 against Slack).
    time_scale: f64,
    /// Deactivations waiting for a token of the write set: while there are any, other writes
    /// leave the set's tokens to them.
    urgent: AtomicUsize,
    /// How often the write set gains a token: how long another write steps back for them.
    write_period: Duration,
}

/// Counts a deactivation among [`Limits::urgent`] for as long as it waits, however its wait
/// ends.
struct Urgent<'a>(&'a AtomicUsize);

impl Drop for Urgent<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits").finish_non_exhaustive()
    }
}

/// The part of each burst scimsync leaves unused. Once a bucket is drained, client and Slack
/// refill at the same rate and both sit near empty, so a few milliseconds of network jitter
/// would turn into 429s — each costing a whole second of `Retry-After`. Keeping a quarter of
/// the burst in Slack's bucket absorbs that jitter; the sustained rate is unchanged.
const BURST_RESERVE: f64 = 0.25;

/// `share` of `q`, `time_scale` times faster: burst and rate both scaled by the share.
fn scaled(q: Quota, share: f64, time_scale: f64) -> GovQuota {
    let period = period(q, share, time_scale);
    // `share` is at most 1 (`Limits::new` clamps it), so this is at most `q.burst`: a u32.
    #[allow(clippy::cast_possible_truncation)]
    let burst = ((f64::from(q.burst) * share * (1.0 - BURST_RESERVE)).floor() as u32).max(1);
    GovQuota::with_period(period)
        .expect("a positive period")
        .allow_burst(NonZeroU32::new(burst).expect("at least 1"))
}

/// How often a bucket of `share` of `q` gains a token, `time_scale` times faster.
fn period(q: Quota, share: f64, time_scale: f64) -> Duration {
    let per_minute = (f64::from(q.per_minute) * share).max(1.0);
    Duration::from_secs_f64(60.0 / (per_minute * time_scale))
}

impl Limits {
    /// `share` of Slack's budgets, in (0, 1]; `time_scale` > 1 only against an emulator
    /// running its limits that many times faster.
    pub fn new(share: f64, time_scale: f64) -> Limits {
        let share = share.clamp(0.001, 1.0);
        let time_scale = if time_scale > 0.0 { time_scale } else { 1.0 };
        Limits {
            sets: [RateSet::Read, RateSet::Write]
                .into_iter()
                .map(|s| (s, RateLimiter::direct(scaled(s.quota(), share, time_scale))))
                .collect(),
            endpoints: Endpoint::ALL
                .into_iter()
                .filter_map(|e| {
                    e.quota()
                        .map(|q| (e, RateLimiter::direct(scaled(q, share, time_scale))))
                })
                .collect(),
            paused_until: Mutex::new(HashMap::new()),
            waited_micros: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            time_scale,
            urgent: AtomicUsize::new(0),
            write_period: period(RateSet::Write.quota(), share, time_scale),
        }
    }

    /// Waits until a request to `endpoint` may go.
    pub async fn acquire(&self, endpoint: Endpoint) {
        let start = Instant::now();
        let set = endpoint.set();
        loop {
            let until = self.lock().get(&set).copied();
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => break,
            }
        }
        if let Some(ep) = self.endpoints.get(&endpoint) {
            ep.until_ready().await;
        }
        self.take_from_set(endpoint).await;
        let waited = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.waited_micros.fetch_add(waited, Ordering::Relaxed);
    }

    /// Waits for a token of `endpoint`'s set; a deactivation's wait comes before any other
    /// write's.
    async fn take_from_set(&self, endpoint: Endpoint) {
        let set = &self.sets[&endpoint.set()];
        let urgent = endpoint == Endpoint::UserDelete;
        let _urgent = urgent.then(|| {
            self.urgent.fetch_add(1, Ordering::SeqCst);
            Urgent(&self.urgent)
        });
        loop {
            if !urgent && endpoint.set() == RateSet::Write && self.urgent.load(Ordering::SeqCst) > 0
            {
                tokio::time::sleep(self.write_period).await;
                continue;
            }
            match set.check() {
                Ok(()) => return,
                Err(not_until) => {
                    let wait = not_until.wait_time_from(set.clock().now());
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Slack answered 429: nothing of `set` goes before `retry_after` has passed.
    /// Under a time scale (a rehearsal against a sped-up emulator, whose `Retry-After` is a
    /// whole number of seconds it cannot scale) the wait is divided by it, so a 429 costs a
    /// rehearsal what it would cost against Slack.
    pub fn pause(&self, set: RateSet, retry_after: Duration) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
        let until = Instant::now() + retry_after.div_f64(self.time_scale);
        let mut paused = self.lock();
        let slot = paused.entry(set).or_insert(until);
        if *slot < until {
            *slot = until;
        }
    }

    /// Total time requests spent waiting for the limiter.
    pub fn waited(&self) -> Duration {
        Duration::from_micros(self.waited_micros.load(Ordering::Relaxed))
    }

    /// 429 answers seen.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<RateSet, Instant>> {
        self.paused_until.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod time_scale_tests {
    use super::*;

    #[tokio::test]
    async fn retry_after_is_divided_by_the_time_scale() {
        let limits = Limits::new(1.0, 60.0);
        limits.pause(RateSet::Write, Duration::from_secs(60));
        let t = Instant::now();
        limits.acquire(Endpoint::UserCreate).await;
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        let real = Limits::new(1.0, 1.0);
        real.pause(RateSet::Write, Duration::from_secs(60));
        let until = real.lock().get(&RateSet::Write).copied().unwrap();
        assert!(until > Instant::now() + Duration::from_secs(59));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_deactivation_takes_the_org_wide_write_token_before_a_waiting_create() {
        // A hundredth of Slack's budgets, ×60: the write set gains a token every 167 ms and
        // holds one; each endpoint bucket holds one too.
        let limits = Arc::new(Limits::new(0.01, 60.0));
        limits.acquire(Endpoint::GroupUpdate).await; // the write set is now empty
        let order = Arc::new(Mutex::new(Vec::new()));
        let take = |endpoint: Endpoint| {
            let (limits, order) = (limits.clone(), order.clone());
            tokio::spawn(async move {
                limits.acquire(endpoint).await;
                order.lock().unwrap().push(endpoint);
            })
        };
        let create = take(Endpoint::UserCreate);
        tokio::time::sleep(Duration::from_millis(20)).await;
        let deactivation = take(Endpoint::UserDelete);
        let (a, b) = tokio::join!(create, deactivation);
        a.unwrap();
        b.unwrap();
        assert_eq!(
            *order.lock().unwrap(),
            [Endpoint::UserDelete, Endpoint::UserCreate],
            "the create waited first, the deactivation went first"
        );
        assert_eq!(limits.urgent.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn creates_are_held_to_the_shared_budget() {
        // share 0.5 of 180/min burst 20 → burst 7 (10 less the reserve), then 90/min; at ×600
        // that is 900/s.
        let limits = Limits::new(0.5, 600.0);
        let t = Instant::now();
        for _ in 0..7 {
            limits.acquire(Endpoint::UserCreate).await;
        }
        assert!(t.elapsed() < Duration::from_millis(20), "the burst is free");
        let t = Instant::now();
        for _ in 0..90 {
            limits.acquire(Endpoint::UserCreate).await;
        }
        let took = t.elapsed().as_secs_f64();
        assert!((0.08..1.0).contains(&took), "90 more at 900/s took {took}s");
    }

    #[tokio::test]
    async fn a_pause_holds_the_whole_set() {
        let limits = Limits::new(1.0, 1.0);
        limits.pause(RateSet::Write, Duration::from_millis(800));
        let t = Instant::now();
        limits.acquire(Endpoint::UsersList).await;
        assert!(
            t.elapsed() < Duration::from_millis(400),
            "reads are not paused"
        );
        limits.acquire(Endpoint::GroupUpdate).await;
        assert!(
            t.elapsed() >= Duration::from_millis(790),
            "writes wait out the pause"
        );
        assert_eq!(limits.rate_limited(), 1);
    }
}
