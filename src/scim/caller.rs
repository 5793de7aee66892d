//! The [`Caller`]: the one way a request reaches Slack, and the listings built on it. Every
//! attempt goes through the limiter and the circuit breaker, with retries (STYLE habit 5: the
//! classifier decides what is retriable, the limiter gates every attempt): 429 → wait
//! `Retry-After` for the whole set and try again, never counted as a failure; 5xx, timeouts
//! and dropped connections → exponential backoff with full jitter, a bounded number of times;
//! any other 4xx → no retry. Listings are paged here too ([`Caller::list_each`], the lean
//! [`Caller::list_users_lean`]), [`PAGE_SIZE`] at a time.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::client::{Reply, ScimClient, ScimError};
use super::limits::Endpoint;
use super::listed_user::{LeanGroup, LeanUser, Str};
use super::observe::RequestObserver;
use super::ratelimit::Limits;
use super::types::{Group, ListResponse, User};

/// Slack's largest page (FACTS §4).
pub const PAGE_SIZE: usize = 1000;

/// A listing stops after this many pages even if Slack keeps claiming more: a guard against a
/// server that never ends (10M resources).
const MAX_PAGES: usize = 10_000;

/// How hard [`Caller::call`] tries before it reports a failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts for transient failures (5xx, timeouts, dropped connections), first included.
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; doubled per further failure.
    pub base: Duration,
    /// The backoff ceiling's upper bound, however many failures.
    pub cap: Duration,
    /// 429s tolerated for one request before giving up (each waits `Retry-After`).
    pub max_rate_limited: u32,
}

impl Default for RetryPolicy {
    /// Six attempts with 0.25–8 s of jittered backoff ride out a minute-long Slack incident
    /// without holding a pass forever.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            max_rate_limited: 50,
        }
    }
}

/// Slack's `Retry-After` when a 429 has none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// A failed call: the last error and how many attempts were made.
#[derive(Debug)]
pub struct CallError {
    /// The last attempt's error.
    pub error: ScimError,
    /// Attempts sent, 429 pauses not counted: above 1, an earlier attempt may have been
    /// applied although its answer was lost.
    pub attempts: u32,
}

/// Requests in a row that may get no answer (refused, reset, timed out) before the breaker
/// opens. With four requests in flight and retries, Slack gone away opens it within seconds;
/// a single flaky connection never does, since any answer (even a 5xx) closes the run.
pub const BREAKER_THRESHOLD: u32 = 8;

/// A circuit breaker shared by every clone of a [`Caller`]: after [`BREAKER_THRESHOLD`]
/// consecutive requests without an answer it opens, and no further request is sent. It lives
/// as long as one pass's connection, so the next pass starts closed.
#[derive(Debug, Default)]
pub struct Breaker {
    consecutive: AtomicU32,
    /// Set once open: the failures counted and the last cause.
    open: Mutex<Option<(u32, String)>>,
}

impl Breaker {
    /// The error a request gets instead of being sent, once open.
    fn check(&self) -> Result<(), ScimError> {
        match &*self.open.lock().unwrap_or_else(|p| p.into_inner()) {
            Some((failures, cause)) => Err(ScimError::CircuitOpen {
                failures: *failures,
                cause: cause.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Counts one attempt's result: an answer of any status closes the run; no answer extends
    /// it, and opens the breaker at the threshold.
    fn record(&self, result: &Result<Reply, ScimError>) {
        match result {
            Err(ScimError::Transport { cause, .. }) => {
                let n = self.consecutive.fetch_add(1, Ordering::SeqCst) + 1;
                if n >= BREAKER_THRESHOLD {
                    let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
                    if open.is_none() {
                        tracing::warn!(failures = n, cause = %cause, "Slack is not answering: no new request will be sent this pass");
                        *open = Some((n, cause.clone()));
                    }
                }
            }
            _ => self.consecutive.store(0, Ordering::SeqCst),
        }
    }

    /// Whether the breaker has opened.
    pub fn is_open(&self) -> bool {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

/// A client with limits and retries.
#[derive(Clone)]
pub struct Caller {
    /// The endpoint, one attempt per send.
    pub client: Arc<ScimClient>,
    /// The client-side limiter every attempt waits on; shared by clones, so concurrent ops
    /// stay under one budget.
    pub limits: Arc<Limits>,
    /// When to retry.
    pub policy: RetryPolicy,
    /// Stops sending once Slack stops answering; shared by clones.
    pub breaker: Arc<Breaker>,
    /// Told about every attempt sent (the daemon's request metrics), when set.
    pub observer: Option<Arc<dyn RequestObserver>>,
}

impl Caller {
    /// A caller taking `share` of Slack's budgets (`time_scale` only against a sped-up
    /// emulator).
    pub fn new(client: Arc<ScimClient>, share: f64, time_scale: f64) -> Caller {
        Caller {
            client,
            limits: Arc::new(Limits::new(share, time_scale)),
            policy: RetryPolicy::default(),
            breaker: Arc::new(Breaker::default()),
            observer: None,
        }
    }

    /// Every user, de-duplicated by id. All or nothing: a failed page fails the listing, so a
    /// partial read can never look like "these people left".
    pub async fn list_users(&self) -> Result<Vec<User>, ScimError> {
        self.list_each(
            "Users",
            Endpoint::UsersList,
            |u: &User| u.id.value().map(String::as_str),
            Some,
        )
        .await
    }

    /// Every group, de-duplicated by id.
    pub async fn list_groups(&self) -> Result<Vec<Group>, ScimError> {
        self.list_each(
            "Groups",
            Endpoint::GroupsList,
            |g: &Group| g.id.value().map(String::as_str),
            Some,
        )
        .await
    }

    /// Every resource of a listing, each turned into what the caller keeps by `keep` as its
    /// page is decoded, so only one page of full SCIM bodies is ever held; de-duplicated by
    /// id (the first seen is kept: resources may shift between pages while the org changes).
    /// A resource `keep` turns into `None` is left out. All or nothing.
    pub async fn list_each<T: DeserializeOwned, K>(
        &self,
        resource: &str,
        endpoint: Endpoint,
        id_of: impl Fn(&T) -> Option<&str>,
        mut keep: impl FnMut(T) -> Option<K>,
    ) -> Result<Vec<K>, ScimError> {
        self.list_pages(resource, endpoint, |body, seen, kept| {
            let page: ListResponse<T> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
            absorb(page, &id_of, &mut keep, seen, kept)
        })
        .await
    }

    /// Every user, each decoded lean ([`LeanUser`]: only what the planner reads, borrowed
    /// from the page) and turned into what the caller keeps by `keep`, as [`Self::list_each`].
    pub async fn list_users_lean<K>(
        &self,
        mut keep: impl FnMut(&LeanUser<'_>) -> Option<K>,
    ) -> Result<Vec<K>, ScimError> {
        self.list_pages("Users", Endpoint::UsersList, |body, seen, kept| {
            let page: ListResponse<LeanUser<'_>> =
                serde_json::from_slice(body).map_err(|e| e.to_string())?;
            absorb(
                page,
                |u: &LeanUser<'_>| u.id.value().map(Str::as_str),
                |u| keep(&u),
                seen,
                kept,
            )
        })
        .await
    }

    /// Every group, each decoded lean ([`LeanGroup`]: its id, name and members' ids, borrowed
    /// from the page) and turned into what the caller keeps by `keep`, as [`Self::list_each`].
    pub async fn list_groups_lean<K>(
        &self,
        mut keep: impl FnMut(&LeanGroup<'_>) -> Option<K>,
    ) -> Result<Vec<K>, ScimError> {
        self.list_pages("Groups", Endpoint::GroupsList, |body, seen, kept| {
            let page: ListResponse<LeanGroup<'_>> =
                serde_json::from_slice(body).map_err(|e| e.to_string())?;
            absorb(
                page,
                |g: &LeanGroup<'_>| g.id.value().map(Str::as_str),
                |g| keep(&g),
                seen,
                kept,
            )
        })
        .await
    }

    /// Pages through a listing; `decode` takes each page's body into `kept` and says how many
    /// resources it had and the listing's total.
    async fn list_pages<K>(
        &self,
        resource: &str,
        endpoint: Endpoint,
        mut decode: impl FnMut(&[u8], &mut Seen, &mut Vec<K>) -> Result<(usize, usize), String>,
    ) -> Result<Vec<K>, ScimError> {
        let mut seen = Seen::default();
        let mut kept = Vec::new();
        let mut start = 1usize;
        let decode_error = |path: &str, message: String| ScimError::Decode {
            method: Method::GET,
            path: path.to_string(),
            message,
        };
        for _ in 0..MAX_PAGES {
            let path = format!("{resource}?startIndex={start}&count={PAGE_SIZE}");
            let (reply, _) = self
                .call(endpoint, Method::GET, &path, None)
                .await
                .map_err(|e| e.error)?;
            let (got, total) =
                decode(&reply.body, &mut seen, &mut kept).map_err(|m| decode_error(&path, m))?;
            drop(reply);
            start += got;
            if got == 0 || start > total {
                kept.shrink_to_fit();
                return Ok(kept);
            }
        }
        Err(decode_error(
            resource,
            format!("listing did not end after {MAX_PAGES} pages"),
        ))
    }

    /// Sends one logical request, retrying as the policy allows. On success also says how many
    /// attempts it took (a create that needed a retry may have been applied twice over).
    pub async fn call(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(Reply, u32), CallError> {
        let mut attempts = 0;
        let mut rate_limited = 0;
        loop {
            self.limits.acquire(endpoint).await;
            if let Err(error) = self.breaker.check() {
                return Err(CallError { error, attempts });
            }
            attempts += 1;
            let sent = std::time::Instant::now();
            let result = self.client.send(method.clone(), path, body).await;
            if let Some(observer) = &self.observer {
                let status = match &result {
                    Ok(reply) => Some(reply.status.as_u16()),
                    Err(e) => e.status(),
                };
                observer.request(endpoint, status, sent.elapsed());
            }
            self.breaker.record(&result);
            match result {
                Ok(reply) => return Ok((reply, attempts)),
                Err(e)
                    if e.status() == Some(429) && rate_limited < self.policy.max_rate_limited =>
                {
                    rate_limited += 1;
                    attempts -= 1; // a pause, not a failed attempt
                    let wait = e.retry_after().unwrap_or(DEFAULT_RETRY_AFTER);
                    tracing::debug!(endpoint = endpoint.name(), ?wait, "429: pausing the set");
                    self.limits.pause(endpoint.set(), wait);
                }
                Err(e) if e.is_transient() && attempts < self.policy.max_attempts => {
                    let wait = self.backoff(attempts);
                    tracing::debug!(endpoint = endpoint.name(), attempts, ?wait, error = %e, "retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(error) => return Err(CallError { error, attempts }),
            }
        }
    }

    /// Full jitter: a uniform wait in [0, min(cap, base·2^(n-1))] after `attempt` failures.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .policy
            .base
            .saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let ceiling = exp.min(self.policy.cap);
        ceiling.mul_f64(fastrand::f64())
    }
}

/// The ids a listing has seen.
type Seen = HashSet<Box<str>, foldhash::fast::RandomState>;

/// One decoded page into `kept`, de-duplicated by id: how many resources it had and the
/// listing's total.
fn absorb<T, K>(
    page: ListResponse<T>,
    id_of: impl Fn(&T) -> Option<&str>,
    mut keep: impl FnMut(T) -> Option<K>,
    seen: &mut Seen,
    kept: &mut Vec<K>,
) -> Result<(usize, usize), String> {
    let resources = page.resources.into_value().unwrap_or_default();
    let got = resources.len();
    kept.reserve(got);
    for r in resources {
        let id = id_of(&r).ok_or_else(|| "a resource without an id".to_string())?;
        if seen.insert(id.into()) {
            kept.extend(keep(r));
        }
    }
    let total = page.total_results.value().copied().unwrap_or(0);
    Ok((got, usize::try_from(total).unwrap_or(usize::MAX)))
}
