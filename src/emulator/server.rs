//! HTTP: routing by Slack's paths, bearer auth, rate limits, per-resource write locks, fault
//! injection, request counters and persistence. Each SCIM request passes the same steps in
//! order — route, authenticate, rate-limit, roll faults, lock, handle, count — so each of
//! Slack's unkindnesses lives in one place.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::error::ApiError;
use super::groups;
use super::limiter::{Limiter, retry_after_secs};
use super::policy::{
    AddressReading, GroupFilters, GroupNames, InvalidValue, LagScope, Parsing, PhotoReading,
    ProfileErrors, ProfileUrlReading, RoleReading, Rules, TokenRole,
};
use super::reads::{View, query};
use super::render;
use super::site::Site;
use super::store::Store;
use super::strict;
use super::users;
use crate::scim::limits::{Endpoint, RateSet};
use crate::scim::{ErrorCode, Version};

/// How often a dirty state is written to the persistence file.
const PERSIST_EVERY: Duration = Duration::from_millis(250);

/// How long a client may take to send a request's headers (see
/// [`EmulatorConfig::header_timeout`]).
const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a request refused with `resource_locked` is told to wait: Slack's writes take
/// well under a second.
const LOCKED_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Fault injection; seeded, so a failing test is repeatable.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Probability that a request is answered 500 or 503 (nothing is changed).
    pub error_rate: f64,
    /// Probability that the connection is dropped without an answer — half the time before
    /// the request is processed, half the time after (the write happened, the reply is lost).
    pub drop_rate: f64,
    /// Latency added to every SCIM request.
    pub latency: Duration,
    /// Seed of the random source that decides which requests fail.
    pub seed: u64,
}

/// How the emulator behaves. `Default` is a fast, permissive-where-Slack-allows-it emulator:
/// no rate limits, no faults, no read lag, unique group names, invalid custom-profile data
/// dropped on create (Slack's documented behaviour).
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The bearer token the emulator accepts.
    pub token: String,
    /// `Some(scale)`: Slack's limits, `scale` times faster; `None`: no limits.
    pub rate_limit_scale: Option<f64>,
    /// Fault injection.
    pub faults: Faults,
    /// How long a write holds its resource's lock (Slack locks a user or group while it
    /// processes a write; overlapping writes get 429 `resource_locked`).
    pub write_hold: Duration,
    /// Whose token it is: an admin's token cannot modify owners.
    pub token_role: TokenRole,
    /// Workspace subdomain in `profileUrl`.
    pub workspace: String,
    /// Where to persist the state after writes, if anywhere.
    pub persist: Option<PathBuf>,
    /// Eventual consistency (FACTS TL;DR 16): reads — listings, filtered listings and reads by
    /// id — show each write only `read_lag` after it was made, so a created user is missing
    /// and a deactivated one still active until then. Writes and uniqueness checks (409
    /// `email_taken`, `username_taken`) see the true state at once. Default: zero.
    pub read_lag: Duration,
    /// Whether two groups may share a displayName (undocumented). Default: `Unique`.
    pub group_names: GroupNames,
    /// What a create with invalid custom-profile data gets. Default: `Drop`, Slack's
    /// documented behaviour (FACTS TL;DR 7).
    pub profile_errors: ProfileErrors,
    /// Channel names of the organisation besides `#general` and `#random` (which every
    /// workspace has). Users share their namespace: creating or renaming a user to a channel's
    /// name gets 409 `username_taken` (FACTS TL;DR 6). Written with or without `#`,
    /// compared case-insensitively. Default: none.
    pub channels: Vec<String>,
    /// How long a client may take to send a request's headers, from when the emulator starts
    /// waiting for them (a new connection, or an idle kept-alive one) to the blank line that
    /// ends them; a client slower than that is disconnected, so a trickle of header lines
    /// cannot hold a connection (and its file descriptor) forever. Default: 10 s.
    pub header_timeout: Duration,
    /// Which writes `read_lag` applies to. Default: `All` (a stress setting beyond Slack's
    /// evidence; [`Preset::LikeSlack`] lags only deactivations).
    pub lag_scope: LagScope,
    /// How strictly bodies, headers and filters are read. Default: `Lenient`.
    pub parsing: Parsing,
    /// What a `/Groups` filter gets. Default: `Honour`.
    pub group_filters: GroupFilters,
    /// How a photo written reads back (FACTS is silent: both readings). Default: `Rehost`.
    pub photo_reading: PhotoReading,
    /// How the profile URL a create sent reads back (FACTS §10 #8: both readings). Default:
    /// `Slack`, a URL of Slack's own.
    pub profile_url_reading: ProfileUrlReading,
    /// How the parts of an address read back (FACTS is silent on trimming). Default: `Keep`.
    pub address_reading: AddressReading,
    /// How a role reads back (FACTS is silent on its case). Default: `Exact`.
    pub role_reading: RoleReading,
    /// How many custom profile fields the organisation has besides those SCIM writes create;
    /// a write needing one past [`crate::model::CUSTOM_PROFILE_FIELD_LIMIT`] is refused with
    /// 400 `unable_to_create_team_profile_fields`. Default: 0.
    pub custom_profile_fields: usize,
    /// Values Slack finds invalid for a custom profile field (FACTS does not say which):
    /// a create carrying one loses its custom profile (under `profile_errors: Drop`), an
    /// update is refused. Default: none.
    pub invalid_values: Vec<InvalidValue>,
}

/// A named set of settings, on top of which single settings may still be changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// [`EmulatorConfig::default`]: fast and lenient, for tests of one behaviour at a time.
    #[default]
    Kind,
    /// [`EmulatorConfig::like_slack`]: never kinder than Slack where FACTS speaks, the
    /// unkinder reading where it is silent — the way to rehearse.
    LikeSlack,
}

/// The read lag of [`Preset::LikeSlack`]: Slack's deactivations show "about a second,
/// sometimes more" (FACTS TL;DR 16), so a few seconds.
pub const LIKE_SLACK_READ_LAG: Duration = Duration::from_secs(3);

/// The probability of an injected 5xx, and of a dropped reply, under [`Preset::LikeSlack`].
pub const LIKE_SLACK_FAULT_RATE: f64 = 0.02;

impl EmulatorConfig {
    /// What user and group writes obey under this configuration.
    pub(crate) fn rules(&self) -> Rules {
        let mut rules = Rules::new(
            self.token_role,
            self.group_names,
            self.profile_errors,
            &self.channels,
        );
        rules.parsing = self.parsing;
        rules.group_filters = self.group_filters;
        rules.photo_reading = self.photo_reading;
        rules.profile_url_reading = self.profile_url_reading;
        rules.address_reading = self.address_reading;
        rules.role_reading = self.role_reading;
        rules.custom_profile_fields = self.custom_profile_fields;
        rules.invalid_values.clone_from(&self.invalid_values);
        rules
    }

    /// The settings of a preset.
    pub fn preset(preset: Preset) -> EmulatorConfig {
        match preset {
            Preset::Kind => EmulatorConfig::default(),
            Preset::LikeSlack => EmulatorConfig::like_slack(),
        }
    }

    /// As unkind as Slack: its rate limits at its rates, deactivations seen
    /// [`LIKE_SLACK_READ_LAG`] late (creates, patches and replaces at once, as the evidence
    /// says), duplicate group names allowed, invalid profile data dropped, a few 5xx and lost
    /// replies, strict bodies and filters, `/Groups` filters refused. Channels are added by
    /// the caller (`--channels-file`).
    pub fn like_slack() -> EmulatorConfig {
        EmulatorConfig {
            rate_limit_scale: Some(1.0),
            faults: Faults {
                error_rate: LIKE_SLACK_FAULT_RATE,
                drop_rate: LIKE_SLACK_FAULT_RATE,
                ..Faults::default()
            },
            read_lag: LIKE_SLACK_READ_LAG,
            lag_scope: LagScope::Deactivation,
            group_names: GroupNames::Duplicate,
            profile_errors: ProfileErrors::Drop,
            parsing: Parsing::Strict,
            group_filters: GroupFilters::Refuse,
            ..EmulatorConfig::default()
        }
    }
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            token: "xoxp-emulator-token".into(),
            rate_limit_scale: None,
            faults: Faults::default(),
            write_hold: Duration::ZERO,
            token_role: TokenRole::Owner,
            workspace: "emulator".into(),
            persist: None,
            read_lag: Duration::ZERO,
            group_names: GroupNames::Unique,
            profile_errors: ProfileErrors::Drop,
            channels: Vec::new(),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            lag_scope: LagScope::All,
            parsing: Parsing::Lenient,
            group_filters: GroupFilters::Honour,
            photo_reading: PhotoReading::default(),
            profile_url_reading: ProfileUrlReading::default(),
            address_reading: AddressReading::default(),
            role_reading: RoleReading::default(),
            custom_profile_fields: 0,
            invalid_values: Vec::new(),
        }
    }
}

/// Request counters, readable in-process ([`Emulator::stats`]) and at `GET /_emulator/stats`.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    /// `"GET users_list"` → count, for every SCIM request received (answered or not).
    pub requests: BTreeMap<String, u64>,
    /// HTTP status → count.
    pub statuses: BTreeMap<u16, u64>,
    /// Read requests received (GET).
    pub reads: u64,
    /// Write requests received (POST, PUT, PATCH, DELETE), whatever their outcome.
    pub writes: u64,
    /// Writes that changed state (2xx).
    pub writes_applied: u64,
    /// Requests refused with 429 `too_many_requests`.
    pub rate_limited: u64,
    /// Writes refused with 429 `resource_locked`.
    pub locked: u64,
    /// Requests answered with an injected 500 or 503.
    pub injected_errors: u64,
    /// Connections dropped by fault injection.
    pub dropped_connections: u64,
    /// Seconds since the emulator started, of each applied write, for rate assertions.
    #[serde(skip)]
    pub write_times: Vec<Duration>,
}

impl Stats {
    /// How many requests of `method` reached `endpoint`.
    pub fn count(&self, method: &str, endpoint: Endpoint) -> u64 {
        self.requests
            .get(&format!("{method} {}", endpoint.name()))
            .copied()
            .unwrap_or(0)
    }

    /// The most applied writes seen in any window of `window` length.
    pub fn max_writes_in(&self, window: Duration) -> usize {
        let t = &self.write_times;
        let mut best = 0;
        let mut lo = 0;
        for hi in 0..t.len() {
            while t[hi] - t[lo] >= window {
                lo += 1;
            }
            best = best.max(hi - lo + 1);
        }
        best
    }
}

struct Shared {
    config: EmulatorConfig,
    rules: Rules,
    store: Mutex<Store>,
    limiter: Option<Mutex<Limiter>>,
    locks: Mutex<HashSet<String>>,
    stats: Mutex<Stats>,
    /// The fault settings in force (changeable at run time) and their random source.
    faults: Mutex<(Faults, fastrand::Rng)>,
    site: Site,
    dirty: AtomicBool,
    started: Instant,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running emulator. Dropping it stops serving.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Marks a response whose connection is to be dropped instead.
#[derive(Debug, Clone)]
struct DropConnection;

impl std::fmt::Display for DropConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for DropConnection {}

impl Emulator {
    /// Serves `store` on `listen` (port 0 for an ephemeral port).
    pub async fn start(
        config: EmulatorConfig,
        mut store: Store,
        listen: SocketAddr,
    ) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        store.set_read_lag(config.read_lag);
        store.set_lag_scope(config.lag_scope);
        let shared = Arc::new(Shared {
            limiter: config.rate_limit_scale.map(|s| Mutex::new(Limiter::new(s))),
            faults: Mutex::new((
                config.faults.clone(),
                fastrand::Rng::with_seed(config.faults.seed),
            )),
            site: Site {
                base_url: format!("http://{addr}"),
                workspace: config.workspace.clone(),
            },
            rules: config.rules(),
            config,
            store: Mutex::new(store),
            locks: Mutex::new(HashSet::new()),
            stats: Mutex::new(Stats::default()),
            dirty: AtomicBool::new(false),
            started: Instant::now(),
        });
        let (shutdown, stop) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(accept_loop(
            listener,
            router(&shared),
            stop,
            shared.config.header_timeout,
        ))];
        if shared.config.persist.is_some() {
            tasks.push(tokio::spawn(persist_loop(shared.clone())));
        }
        Ok(Emulator {
            addr,
            shared,
            shutdown,
            tasks,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/scim/v1/` (with the trailing slash the SDKs need).
    pub fn base_url(&self, version: Version) -> String {
        format!("http://{}/scim/{version}/", self.addr)
    }

    /// The bearer token it accepts.
    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    /// The request counters so far.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    /// Zeroes the request counters.
    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// Changes fault injection from now on (re-seeding the random source).
    pub fn set_faults(&self, faults: Faults) {
        let rng = fastrand::Rng::with_seed(faults.seed);
        *lock(&self.shared.faults) = (faults, rng);
    }

    /// Direct access to the organisation, for tests. Reads here see the true state; writes
    /// are subject to the read lag like any other.
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let r = f(&mut lock(&self.shared.store));
        self.shared.dirty.store(true, Ordering::SeqCst);
        r
    }

    /// Stops serving and writes the state one last time if persistence is on.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
        }
        self.shared.persist_if_dirty()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn router(shared: &Arc<Shared>) -> Router {
    Router::new()
        .route("/_emulator/stats", get(stats_handler))
        .route("/_emulator/stats/reset", post(reset_stats_handler))
        .route("/_emulator/state", get(state_handler))
        .route("/api/auth.test", get(auth_test).post(auth_test))
        .fallback(scim_handler)
        .layer(DefaultBodyLimit::max(64 << 20))
        .with_state(shared.clone())
}

/// Pauses between failed `accept`s: when file descriptors run out (EMFILE) the listener stays
/// ready, and retrying at once would spin a core until a connection closes. The pause starts
/// at 10 ms and doubles up to 1 s; a success resets it. A streak of failures is logged once
/// when it starts and once when it ends, not per failure.
#[derive(Debug)]
struct AcceptBackoff {
    /// Failures since the last success.
    failures: u64,
    /// The next pause.
    next: Duration,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn new() -> AcceptBackoff {
        AcceptBackoff {
            failures: 0,
            next: Self::FIRST,
        }
    }

    /// Records a failure and returns how long to wait before accepting again.
    fn failed(&mut self, error: &std::io::Error) -> Duration {
        if self.failures == 0 {
            tracing::warn!(
                error = %error,
                "emulator: cannot accept connections; retrying with pauses growing to {:?} \
                 until one succeeds",
                Self::MAX
            );
        }
        self.failures += 1;
        let pause = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        pause
    }

    /// Records a success, ending a streak of failures.
    fn succeeded(&mut self) {
        if self.failures > 0 {
            tracing::info!(
                failures = self.failures,
                "emulator: accepting connections again"
            );
            *self = AcceptBackoff::new();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    mut stop: watch::Receiver<bool>,
    header_timeout: Duration,
) {
    let mut backoff = AcceptBackoff::new();
    loop {
        let pause = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    backoff.succeeded();
                    tokio::spawn(serve_connection(stream, app.clone(), header_timeout));
                    continue;
                }
                Err(e) => backoff.failed(&e),
            },
        };
        tokio::select! {
            _ = stop.changed() => break,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

async fn persist_loop(shared: Arc<Shared>) {
    loop {
        tokio::time::sleep(PERSIST_EVERY).await;
        if let Err(e) = shared.persist_if_dirty() {
            tracing::error!(error = %e, "emulator: cannot persist state");
        }
    }
}

/// Serves one connection. A client that takes longer than `header_timeout` to send a
/// request's headers is disconnected (hyper's header read timeout, run on tokio's timer).
async fn serve_connection(stream: tokio::net::TcpStream, app: Router, header_timeout: Duration) {
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(req.map(Body::new))
                .await
                .unwrap_or_else(|never| match never {});
            if response.extensions().get::<DropConnection>().is_some() {
                Err(DropConnection)
            } else {
                Ok(response)
            }
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

impl Shared {
    fn persist_if_dirty(&self) -> std::io::Result<()> {
        let Some(path) = &self.config.persist else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::SeqCst) {
            return Ok(());
        }
        let snapshot = lock(&self.store).snapshot();
        let text = serde_json::to_vec_pretty(&snapshot).map_err(std::io::Error::other)?;
        // An unpredictable temporary name, created exclusively, renamed over the file: a link
        // planted at either name is never written through. Private: the state holds emails.
        crate::files::write_atomically(path, &text, Some(0o600))
    }

    fn count(&self, method: &Method, endpoint: Option<Endpoint>) {
        let mut stats = lock(&self.stats);
        let name = endpoint.map_or("other", Endpoint::name);
        *stats
            .requests
            .entry(format!("{method} {name}"))
            .or_default() += 1;
        if *method == Method::GET {
            stats.reads += 1;
        } else {
            stats.writes += 1;
        }
    }
}

async fn stats_handler(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(lock(&shared.stats).clone()).into_response()
}

async fn reset_stats_handler(State(shared): State<Arc<Shared>>) -> Response {
    *lock(&shared.stats) = Stats::default();
    StatusCode::NO_CONTENT.into_response()
}

async fn state_handler(State(shared): State<Arc<Shared>>) -> Response {
    let snapshot = lock(&shared.store).snapshot();
    axum::Json(snapshot).into_response()
}

/// The Java SDK's metrics side call (FACTS §9.2).
/// Slack's Web API `auth.test` (FACTS §10; the Java SDK's metrics call, and how scimsync learns
/// which organisation a token belongs to): the organisation's id for the accepted token,
/// `{"ok":false,"error":"invalid_auth"}` (HTTP 200, as the Web API answers) for any other.
async fn auth_test(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let authorised = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == shared.config.token);
    if !authorised {
        return axum::Json(json!({"ok": false, "error": "invalid_auth"})).into_response();
    }
    let (team, grid) = {
        let store = lock(&shared.store);
        (store.team_id(), store.is_grid())
    };
    axum::Json(
        json!({"ok": true, "url": "https://emulator.slack.com/", "team": "emulator",
        "team_id": team, "enterprise_id": if grid { team.as_str() } else { "" },
        "is_enterprise_install": grid}),
    )
    .into_response()
}

/// Where a SCIM request is going.
enum Route {
    Users,
    User(String),
    Groups,
    Group(String),
    ServiceProviderConfig,
    /// `ResourceTypes` (v2 only), or one of them by id.
    ResourceTypes(Option<String>),
    Schemas(Option<String>),
}

fn route(version: Version, rest: &str) -> Option<Route> {
    let rest = rest.trim_end_matches('/');
    let (head, tail) = match rest.split_once('/') {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let one = |t: &str| (!t.contains('/')).then(|| t.to_string());
    Some(match (head, tail) {
        ("Users", None) => Route::Users,
        ("Users", Some(id)) => Route::User(one(id)?),
        ("Groups", None) => Route::Groups,
        ("Groups", Some(id)) => Route::Group(one(id)?),
        ("ServiceProviderConfigs" | "ServiceProviderConfig", None) => Route::ServiceProviderConfig,
        // "Not applicable to SCIM v1.1" (FACTS §1.2).
        ("ResourceTypes", None) if version == Version::V2 => Route::ResourceTypes(None),
        ("ResourceTypes", Some(id)) if version == Version::V2 => {
            Route::ResourceTypes(Some(one(id)?))
        }
        ("Schemas", Some(kind)) => Route::Schemas(Some(kind.to_string())),
        ("Schemas", None) if version == Version::V2 => Route::Schemas(None),
        _ => return None,
    })
}

fn endpoint_of(route: &Route, method: &Method) -> Option<Endpoint> {
    Some(match (route, method.as_str()) {
        (Route::Users, "GET") => Endpoint::UsersList,
        (Route::Users, "POST") => Endpoint::UserCreate,
        (Route::User(_), "GET") => Endpoint::UserGet,
        (Route::User(_), "PUT" | "PATCH") => Endpoint::UserUpdate,
        (Route::User(_), "DELETE") => Endpoint::UserDelete,
        (Route::Groups, "GET") => Endpoint::GroupsList,
        (Route::Groups, "POST") => Endpoint::GroupCreate,
        (Route::Group(_), "GET") => Endpoint::GroupGet,
        (Route::Group(_), "PUT" | "PATCH") => Endpoint::GroupUpdate,
        (Route::Group(_), "DELETE") => Endpoint::GroupDelete,
        (Route::ServiceProviderConfig | Route::ResourceTypes(_) | Route::Schemas(_), "GET") => {
            Endpoint::Metadata
        }
        _ => return None,
    })
}

fn json_response(status: u16, body: &Value) -> Response {
    bytes_response(status, serde_json::to_vec(body).unwrap_or_default())
}

/// A response with a JSON body already written.
fn bytes_response(status: u16, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn error_response(version: Version, e: &ApiError) -> Response {
    json_response(e.status, &e.body(version))
}

fn too_many(version: Version, code: ErrorCode, wait: Duration) -> Response {
    let mut r = error_response(version, &ApiError::new(429, code));
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from(retry_after_secs(wait)),
    );
    r
}

fn empty(status: StatusCode) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = status;
    r
}

async fn scim_handler(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let response = scim(&shared, &method, &uri, &headers, &body).await;
    *lock(&shared.stats)
        .statuses
        .entry(response.status().as_u16())
        .or_default() += 1;
    response
}

/// A SCIM request that has a version, a route and an endpoint.
struct Request<'a> {
    version: Version,
    method: &'a Method,
    route: Route,
    endpoint: Endpoint,
    uri: &'a Uri,
    body: &'a Bytes,
    /// The `Content-Type` header, if sent (and readable).
    content_type: Option<&'a str>,
}

async fn scim(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let req = match resolve(shared, method, uri, body) {
        Ok(mut req) => {
            req.content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok());
            req
        }
        Err((version, e)) => return error_response(version, &e),
    };
    if let Err(e) = authenticate(shared, &req, headers) {
        return error_response(req.version, &e);
    }
    if let Some(refused) = rate_limit(shared, &req) {
        return refused;
    }
    let faults = FaultRoll::roll(shared);
    if faults.latency > Duration::ZERO {
        tokio::time::sleep(faults.latency).await;
    }
    if let Some(status) = faults.error_status {
        lock(&shared.stats).injected_errors += 1;
        let e = ApiError::new(status, ErrorCode::InternalError);
        return error_response(req.version, &e);
    }
    if faults.drop_before {
        return dropped(shared);
    }
    let response = locked_handle(shared, &req).await;
    if faults.drop_after {
        return dropped(shared);
    }
    response
}

/// Splits the path into version and route, and counts the request.
fn resolve<'a>(
    shared: &Shared,
    method: &'a Method,
    uri: &'a Uri,
    body: &'a Bytes,
) -> Result<Request<'a>, (Version, ApiError)> {
    let not_found = |version, code| {
        shared.count(method, None);
        Err((version, ApiError::new(404, code)))
    };
    let Some(after) = uri.path().strip_prefix("/scim/") else {
        return not_found(Version::V1, ErrorCode::BadEndpoint);
    };
    let (ver, rest) = after.split_once('/').unwrap_or((after, ""));
    let Some(version) = Version::from_path_segment(ver) else {
        return not_found(Version::V1, ErrorCode::UnsupportedVersion);
    };
    let Some(route) = route(version, rest) else {
        return not_found(version, ErrorCode::BadEndpoint);
    };
    let endpoint = endpoint_of(&route, method);
    shared.count(method, endpoint);
    let Some(endpoint) = endpoint else {
        return Err((version, ApiError::new(405, ErrorCode::MethodNotAllowed)));
    };
    Ok(Request {
        version,
        method,
        route,
        endpoint,
        uri,
        body,
        content_type: None,
    })
}

/// Checks the bearer token. Slack answers ServiceProviderConfigs even to a bogus token
/// (FACTS §1.1).
fn authenticate(shared: &Shared, req: &Request<'_>, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(req.route, Route::ServiceProviderConfig) {
        return Ok(());
    }
    match headers.get(header::AUTHORIZATION).map(HeaderValue::to_str) {
        None => Err(ApiError::new(401, ErrorCode::MissingAuthentication)),
        Some(Ok(v))
            if v.strip_prefix("Bearer ")
                .is_some_and(|t| t.trim() == shared.config.token) =>
        {
            Ok(())
        }
        Some(_) => Err(ApiError::new(401, ErrorCode::InvalidAuthentication)),
    }
}

/// Takes a token from the request's buckets, or answers 429 `too_many_requests`.
fn rate_limit(shared: &Shared, req: &Request<'_>) -> Option<Response> {
    let limiter = shared.limiter.as_ref()?;
    let wait = lock(limiter).acquire(req.endpoint, Instant::now()).err()?;
    lock(&shared.stats).rate_limited += 1;
    Some(too_many(req.version, ErrorCode::TooManyRequests, wait))
}

/// What fault injection decided for one request.
struct FaultRoll {
    latency: Duration,
    /// Answer 500 or 503 without doing anything.
    error_status: Option<u16>,
    /// Drop the connection without doing anything.
    drop_before: bool,
    /// Do the work, then drop the connection.
    drop_after: bool,
}

impl FaultRoll {
    fn roll(shared: &Shared) -> FaultRoll {
        let mut guard = lock(&shared.faults);
        let (faults, rng) = &mut *guard;
        let error = rng.f64() < faults.error_rate;
        let status = if rng.bool() { 500 } else { 503 };
        let dropped = !error && rng.f64() < faults.drop_rate;
        let before = dropped && rng.bool();
        FaultRoll {
            latency: faults.latency,
            error_status: error.then_some(status),
            drop_before: before,
            drop_after: dropped && !before,
        }
    }
}

/// Handles the request under its resource's write lock (Slack's per-resource lock: a second
/// write to a user or group in flight gets 429 `resource_locked`, FACTS §7), and counts
/// applied writes.
async fn locked_handle(shared: &Shared, req: &Request<'_>) -> Response {
    let write = req.endpoint.set() == RateSet::Write;
    let lock_key = match (&req.route, write) {
        (Route::User(id), true) => Some(format!("U/{id}")),
        (Route::Group(id), true) => Some(format!("G/{id}")),
        _ => None,
    };
    if let Some(key) = &lock_key {
        if !lock(&shared.locks).insert(key.clone()) {
            lock(&shared.stats).locked += 1;
            return too_many(req.version, ErrorCode::ResourceLocked, LOCKED_RETRY_AFTER);
        }
        if shared.config.write_hold > Duration::ZERO {
            tokio::time::sleep(shared.config.write_hold).await;
        }
    }
    let response = handle(shared, req);
    if let Some(key) = &lock_key {
        lock(&shared.locks).remove(key);
    }
    if write && response.status().is_success() {
        shared.dirty.store(true, Ordering::SeqCst);
        let at = shared.started.elapsed();
        let mut stats = lock(&shared.stats);
        stats.writes_applied += 1;
        stats.write_times.push(at);
    }
    response
}

fn dropped(shared: &Shared) -> Response {
    lock(&shared.stats).dropped_connections += 1;
    let mut r = empty(StatusCode::INTERNAL_SERVER_ERROR);
    r.extensions_mut().insert(DropConnection);
    r
}

fn parse_body(body: &Bytes) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Err(ApiError::payload("empty body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::payload(format!("invalid JSON: {e}")))
}

fn handle(shared: &Shared, req: &Request<'_>) -> Response {
    let result = if *req.method == Method::GET {
        read(shared, req).map(|body| bytes_response(200, body))
    } else {
        write(shared, req)
    };
    result.unwrap_or_else(|e| error_response(req.version, &e))
}

/// A `GET`: what the store looked like `read_lag` ago, as JSON bytes.
fn read(shared: &Shared, req: &Request<'_>) -> Result<Vec<u8>, ApiError> {
    let (version, site) = (req.version, &shared.site);
    let store = lock(&shared.store);
    let view = View::lagged(&store, Instant::now());
    let value = match &req.route {
        // Pages are written straight to bytes.
        Route::Users => {
            return view.list_users(version, site, &query(req.uri.query()), &shared.rules);
        }
        Route::Groups => {
            return view.list_groups(version, site, &query(req.uri.query()), &shared.rules);
        }
        Route::User(id) => view.get_user(version, site, id)?,
        Route::Group(id) => view.get_group(version, site, id)?,
        Route::ServiceProviderConfig => render::service_provider_config(version),
        Route::ResourceTypes(None) => render::resource_types(site),
        Route::ResourceTypes(Some(id)) => render::resource_type(site, id).ok_or_else(|| {
            ApiError::with(404, ErrorCode::BadEndpoint, format!("resource_type={id}"))
        })?,
        Route::Schemas(None) => {
            let all: Vec<Value> = ["Users", "Groups"]
                .iter()
                .filter_map(|k| render::schema(version, k))
                .collect();
            let total = all.len();
            render::list(version, all, total, 1)
        }
        Route::Schemas(Some(kind)) => render::schema(version, kind)
            .ok_or_else(|| ApiError::new(404, ErrorCode::BadEndpoint))?,
    };
    Ok(serde_json::to_vec(&value).unwrap_or_default())
}

/// A write, on the true state; its answer shows the true state too.
fn write(shared: &Shared, req: &Request<'_>) -> Result<Response, ApiError> {
    let (version, site, rules) = (req.version, &shared.site, &shared.rules);
    if rules.parsing == Parsing::Strict {
        strict::check_write(req.content_type, req.body)?;
    }
    let mut guard = lock(&shared.store);
    let store = &mut *guard;
    let user = |store: &Store, id: &str| {
        let u = store.user(id).expect("the user was just written");
        View::current(store).render_user(version, site, u)
    };
    let group = |store: &Store, id: &str| {
        let g = store.group(id).expect("the group was just written");
        View::current(store).render_group(version, site, g)
    };
    Ok(match (&req.route, req.method.as_str()) {
        (Route::Users, "POST") => {
            let id = users::create(store, &parse_body(req.body)?, rules)?;
            json_response(201, &user(store, &id))
        }
        (Route::User(id), "PATCH") => {
            users::patch(store, version, id, &parse_body(req.body)?, rules)?;
            json_response(200, &user(store, id))
        }
        (Route::User(id), "PUT") => {
            users::replace(store, id, &parse_body(req.body)?, rules)?;
            json_response(200, &user(store, id))
        }
        (Route::User(id), "DELETE") => {
            users::deactivate(store, id, rules)?;
            match version {
                Version::V1 => empty(StatusCode::OK),
                Version::V2 => empty(StatusCode::NO_CONTENT),
            }
        }
        (Route::Groups, "POST") => {
            let id = groups::create(store, &parse_body(req.body)?, rules.group_names)?;
            json_response(201, &group(store, &id))
        }
        (Route::Group(id), "PATCH") => {
            groups::patch(
                store,
                version,
                id,
                &parse_body(req.body)?,
                rules.group_names,
            )?;
            match version {
                Version::V1 => empty(StatusCode::NO_CONTENT),
                Version::V2 => json_response(200, &group(store, id)),
            }
        }
        (Route::Group(id), "PUT") => {
            groups::replace(store, id, &parse_body(req.body)?, rules.group_names)?;
            json_response(200, &group(store, id))
        }
        (Route::Group(id), "DELETE") => {
            groups::delete(store, id)?;
            empty(StatusCode::NO_CONTENT)
        }
        _ => return Err(ApiError::new(405, ErrorCode::MethodNotAllowed)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_accepts_wait_longer_and_longer_up_to_a_second_until_one_succeeds() {
        let emfile = std::io::Error::from_raw_os_error(libc::EMFILE);
        let mut backoff = AcceptBackoff::new();
        let pauses: Vec<u128> = (0..9)
            .map(|_| backoff.failed(&emfile).as_millis())
            .collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff.failures, 9);
        backoff.succeeded();
        assert_eq!(backoff.failures, 0);
        assert_eq!(backoff.failed(&emfile), Duration::from_millis(10));
    }
}
