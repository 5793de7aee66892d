//! HTTP: routing by Slack's paths, bearer auth, rate limits, per-resource write locks, fault
//! injection, request counters and persistence.

use std::collections::{BTreeMap, HashMap, HashSet};
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
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::ServiceExt;

use super::error::ApiError;
use super::filter;
use super::groups::{self, GroupView};
use super::limiter::{Limiter, retry_after_secs};
use super::render::{self, Site};
use super::store::{Store, StoredUser};
use super::users::{self, TokenRole, UserView};
use crate::scim::Version;
use crate::scim::limits::{Endpoint, RateSet};

/// Slack's default page size and its silent cap (FACTS §4).
const DEFAULT_COUNT: usize = 10;
const MAX_COUNT: usize = 1000;

/// How often a dirty state is written to the persistence file.
const PERSIST_EVERY: Duration = Duration::from_millis(250);

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
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// The bearer token the emulator accepts.
    pub token: String,
    /// `Some(scale)`: Slack's limits, `scale` times faster; `None`: no limits.
    pub rate_limit_scale: Option<f64>,
    pub faults: Faults,
    /// How long a write holds its resource's lock (Slack locks a user or group while it
    /// processes a write; overlapping writes get 429 `resource_locked`).
    pub write_hold: Duration,
    pub token_role: TokenRole,
    /// Workspace subdomain in `profileUrl`.
    pub workspace: String,
    /// Where to persist the state after writes, if anywhere.
    pub persist: Option<PathBuf>,
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
    pub reads: u64,
    /// Write requests received (POST, PUT, PATCH, DELETE), whatever their outcome.
    pub writes: u64,
    /// Writes that changed state (2xx).
    pub writes_applied: u64,
    pub rate_limited: u64,
    pub locked: u64,
    pub injected_errors: u64,
    pub dropped_connections: u64,
    /// Seconds since the emulator started, of each applied write, for rate assertions.
    #[serde(skip)]
    pub write_times: Vec<Duration>,
}

impl Stats {
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
        store: Store,
        listen: SocketAddr,
    ) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
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
            config,
            store: Mutex::new(store),
            locks: Mutex::new(HashSet::new()),
            stats: Mutex::new(Stats::default()),
            dirty: AtomicBool::new(false),
            started: Instant::now(),
        });
        let app = Router::new()
            .route("/_emulator/stats", get(stats_handler))
            .route("/_emulator/stats/reset", post(reset_stats_handler))
            .route("/_emulator/state", get(state_handler))
            .route("/api/auth.test", get(auth_test).post(auth_test))
            .fallback(scim_handler)
            .layer(DefaultBodyLimit::max(64 << 20))
            .with_state(shared.clone());
        let (shutdown, mut stop) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.changed() => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let app = app.clone();
                        tokio::spawn(serve_connection(stream, app));
                    }
                }
            }
        })];
        if shared.config.persist.is_some() {
            let shared = shared.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::time::sleep(PERSIST_EVERY).await;
                    if let Err(e) = shared.persist_if_dirty() {
                        tracing::error!(error = %e, "emulator: cannot persist state");
                    }
                }
            }));
        }
        Ok(Emulator {
            addr,
            shared,
            shutdown,
            tasks,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/scim/v1/` (with the trailing slash the SDKs need).
    pub fn base_url(&self, version: Version) -> String {
        format!("http://{}/scim/{version}/", self.addr)
    }

    pub fn token(&self) -> &str {
        &self.shared.config.token
    }

    pub fn stats(&self) -> Stats {
        lock(&self.shared.stats).clone()
    }

    pub fn reset_stats(&self) {
        *lock(&self.shared.stats) = Stats::default();
    }

    /// Changes fault injection from now on (re-seeding the random source).
    pub fn set_faults(&self, faults: Faults) {
        let rng = fastrand::Rng::with_seed(faults.seed);
        *lock(&self.shared.faults) = (faults, rng);
    }

    /// Direct access to the organisation, for tests.
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

async fn serve_connection(stream: tokio::net::TcpStream, app: Router) {
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
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, path)
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
async fn auth_test() -> Response {
    axum::Json(
        json!({"ok": true, "url": "https://emulator.slack.com/", "team": "emulator",
        "team_id": "E0EMULATOR", "enterprise_id": "E0EMULATOR", "is_enterprise_install": true}),
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
    ResourceTypes,
    Schemas(Option<String>),
}

fn route(version: Version, rest: &str) -> Option<Route> {
    let rest = rest.trim_end_matches('/');
    let (head, tail) = match rest.split_once('/') {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    Some(match (head, tail) {
        ("Users", None) => Route::Users,
        ("Users", Some(id)) if !id.contains('/') => Route::User(id.to_string()),
        ("Groups", None) => Route::Groups,
        ("Groups", Some(id)) if !id.contains('/') => Route::Group(id.to_string()),
        ("ServiceProviderConfigs" | "ServiceProviderConfig", None) => Route::ServiceProviderConfig,
        ("ResourceTypes", _) if version == Version::V2 => Route::ResourceTypes,
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
        (Route::ServiceProviderConfig | Route::ResourceTypes | Route::Schemas(_), "GET") => {
            Endpoint::Metadata
        }
        _ => return None,
    })
}

fn json_response(status: u16, body: &Value) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(body).unwrap_or_default()));
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

fn too_many(version: Version, code: &str, wait: Duration) -> Response {
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

async fn scim(
    shared: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let path = uri.path();
    let Some(after) = path.strip_prefix("/scim/") else {
        shared.count(method, None);
        return error_response(Version::V1, &ApiError::new(404, "bad_endpoint"));
    };
    let (ver, rest) = after.split_once('/').unwrap_or((after, ""));
    let Some(version) = Version::from_path_segment(ver) else {
        shared.count(method, None);
        return error_response(Version::V1, &ApiError::new(404, "unsupported_version"));
    };
    let Some(route) = route(version, rest) else {
        shared.count(method, None);
        return error_response(version, &ApiError::new(404, "bad_endpoint"));
    };
    let endpoint = endpoint_of(&route, method);
    shared.count(method, endpoint);
    let Some(endpoint) = endpoint else {
        return error_response(version, &ApiError::new(405, "method_not_allowed"));
    };

    // Slack answers ServiceProviderConfigs even to a bogus token (FACTS §1.1).
    if !matches!(route, Route::ServiceProviderConfig) {
        match headers.get(header::AUTHORIZATION).map(HeaderValue::to_str) {
            None => {
                return error_response(version, &ApiError::new(401, "missing_authentication"));
            }
            Some(Ok(v))
                if v.strip_prefix("Bearer ")
                    .is_some_and(|t| t.trim() == shared.config.token) => {}
            Some(_) => {
                return error_response(version, &ApiError::new(401, "invalid_authentication"));
            }
        }
    }

    if let Some(limiter) = &shared.limiter {
        let acquired = lock(limiter).acquire(endpoint, Instant::now());
        if let Err(wait) = acquired {
            lock(&shared.stats).rate_limited += 1;
            return too_many(version, "too_many_requests", wait);
        }
    }

    let (latency, inject_error, error_status, drop_before, drop_after) = {
        let mut guard = lock(&shared.faults);
        let (faults, rng) = &mut *guard;
        let error = rng.f64() < faults.error_rate;
        let status = if rng.bool() { 500 } else { 503 };
        let dropped = !error && rng.f64() < faults.drop_rate;
        let before = dropped && rng.bool();
        (faults.latency, error, status, before, dropped && !before)
    };
    if latency > Duration::ZERO {
        tokio::time::sleep(latency).await;
    }
    if inject_error {
        lock(&shared.stats).injected_errors += 1;
        return error_response(version, &ApiError::new(error_status, "internal_error"));
    }
    if drop_before {
        return dropped(shared);
    }

    let write = endpoint.set() == RateSet::Write;
    let lock_key = match (&route, write) {
        (Route::User(id), true) => Some(format!("U/{id}")),
        (Route::Group(id), true) => Some(format!("G/{id}")),
        _ => None,
    };
    if let Some(key) = &lock_key {
        if !lock(&shared.locks).insert(key.clone()) {
            lock(&shared.stats).locked += 1;
            return too_many(version, "resource_locked", Duration::from_secs(1));
        }
        if shared.config.write_hold > Duration::ZERO {
            tokio::time::sleep(shared.config.write_hold).await;
        }
    }
    let response = handle(shared, version, method, &route, uri, body);
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
    if drop_after {
        return dropped(shared);
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

fn handle(
    shared: &Shared,
    version: Version,
    method: &Method,
    route: &Route,
    uri: &Uri,
    body: &Bytes,
) -> Response {
    let result = (|| -> Result<Response, ApiError> {
        let role = shared.config.token_role;
        let site = &shared.site;
        let mut store = lock(&shared.store);
        let store = &mut *store;
        Ok(match (route, method.as_str()) {
            (Route::Users, "GET") => {
                json_response(200, &list_users(store, version, site, &query(uri))?)
            }
            (Route::Users, "POST") => {
                let id = users::create(store, &parse_body(body)?, role)?;
                json_response(201, &user_json(store, version, site, &id))
            }
            (Route::User(id), "GET") => {
                store
                    .user(id)
                    .ok_or_else(|| ApiError::with(404, "no_such_user", format!("id={id}")))?;
                json_response(200, &user_json(store, version, site, id))
            }
            (Route::User(id), "PATCH") => {
                users::patch(store, version, id, &parse_body(body)?, role)?;
                json_response(200, &user_json(store, version, site, id))
            }
            (Route::User(id), "PUT") => {
                users::replace(store, id, &parse_body(body)?, role)?;
                json_response(200, &user_json(store, version, site, id))
            }
            (Route::User(id), "DELETE") => {
                users::deactivate(store, id, role)?;
                match version {
                    Version::V1 => empty(StatusCode::OK),
                    Version::V2 => empty(StatusCode::NO_CONTENT),
                }
            }
            (Route::Groups, "GET") => {
                json_response(200, &list_groups(store, version, site, &query(uri))?)
            }
            (Route::Groups, "POST") => {
                let id = groups::create(store, &parse_body(body)?)?;
                json_response(201, &group_json(store, version, site, &id))
            }
            (Route::Group(id), "GET") => {
                store
                    .group(id)
                    .ok_or_else(|| ApiError::with(404, "no_such_group", format!("id={id}")))?;
                json_response(200, &group_json(store, version, site, id))
            }
            (Route::Group(id), "PATCH") => {
                groups::patch(store, version, id, &parse_body(body)?)?;
                match version {
                    Version::V1 => empty(StatusCode::NO_CONTENT),
                    Version::V2 => json_response(200, &group_json(store, version, site, id)),
                }
            }
            (Route::Group(id), "PUT") => {
                groups::replace(store, id, &parse_body(body)?)?;
                json_response(200, &group_json(store, version, site, id))
            }
            (Route::Group(id), "DELETE") => {
                groups::delete(store, id)?;
                empty(StatusCode::NO_CONTENT)
            }
            (Route::ServiceProviderConfig, _) => {
                json_response(200, &render::service_provider_config(version))
            }
            (Route::ResourceTypes, _) => json_response(200, &render::resource_types(site)),
            (Route::Schemas(None), _) => {
                let all: Vec<Value> = ["Users", "Groups"]
                    .iter()
                    .filter_map(|k| render::schema(version, k))
                    .collect();
                json_response(200, &render::list(version, all.clone(), all.len(), 1))
            }
            (Route::Schemas(Some(kind)), _) => match render::schema(version, kind) {
                Some(s) => json_response(200, &s),
                None => return Err(ApiError::new(404, "bad_endpoint")),
            },
            _ => return Err(ApiError::new(405, "method_not_allowed")),
        })
    })();
    result.unwrap_or_else(|e| error_response(version, &e))
}

fn query(uri: &Uri) -> HashMap<String, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect()
}

/// `startIndex` (1-based, default 1) and `count` (default 10, silently capped at 1000).
fn paging(q: &HashMap<String, String>) -> Result<(usize, usize), ApiError> {
    let num = |key: &str, default: i64| -> Result<i64, ApiError> {
        q.get(key).map_or(Ok(default), |v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::with(400, "invalid_query", format!("{key}={v}")))
        })
    };
    let start = num("startindex", 1)?.max(1) as usize;
    let count = (num("count", DEFAULT_COUNT as i64)?.max(0) as usize).min(MAX_COUNT);
    Ok((start, count))
}

fn parse_filter(
    q: &HashMap<String, String>,
    known: &dyn Fn(&str) -> bool,
) -> Result<Option<filter::Filter>, ApiError> {
    let Some(raw) = q.get("filter") else {
        return Ok(None);
    };
    let f = filter::parse(raw).map_err(|e| ApiError::with(400, e.code, e.detail))?;
    f.validate(known)
        .map_err(|e| ApiError::with(400, e.code, e.detail))?;
    Ok(Some(f))
}

fn user_json(store: &Store, version: Version, site: &Site, id: &str) -> Value {
    let u = store.user(id).expect("the user exists");
    render_user(store, version, site, u)
}

fn render_user(store: &Store, version: Version, site: &Site, u: &StoredUser) -> Value {
    let groups = store
        .groups_of(&u.id)
        .map(|g| (g.id.clone(), g.display_name.clone()));
    render::user(u, version, site, groups)
}

fn group_json(store: &Store, version: Version, site: &Site, id: &str) -> Value {
    let g = store.group(id).expect("the group exists");
    render::group(g, version, site, |m| {
        store
            .user(m)
            .map(|u| {
                u.display_name
                    .clone()
                    .unwrap_or_else(|| u.user_name.clone())
            })
            .unwrap_or_default()
    })
}

fn list_users(
    store: &Store,
    version: Version,
    site: &Site,
    q: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let (start, count) = paging(q)?;
    let filter = parse_filter(q, &users::is_user_filter_attr)?;
    let (total, page): (usize, Vec<&StoredUser>) = match &filter {
        None => {
            let page = (start - 1..(start - 1).saturating_add(count))
                .map_while(|i| store.user_at(i))
                .collect();
            (store.user_count(), page)
        }
        Some(f) => {
            // Equality on an indexed key is a lookup, not a scan.
            let matches: Vec<&StoredUser> = match f.as_equality() {
                Some((attr, value)) if attr == "username" => {
                    store.user_by_user_name(value).into_iter().collect()
                }
                Some((attr, value)) if attr == "email" || attr == "emails" => {
                    store.user_by_email(value).into_iter().collect()
                }
                _ => store.users().filter(|u| f.matches(&UserView(u))).collect(),
            };
            let total = matches.len();
            (
                total,
                matches.into_iter().skip(start - 1).take(count).collect(),
            )
        }
    };
    let resources = page
        .into_iter()
        .map(|u| render_user(store, version, site, u))
        .collect();
    Ok(render::list(version, resources, total, start))
}

fn list_groups(
    store: &Store,
    version: Version,
    site: &Site,
    q: &HashMap<String, String>,
) -> Result<Value, ApiError> {
    let (start, count) = paging(q)?;
    let filter = parse_filter(q, &groups::is_group_filter_attr)?;
    let (total, ids): (usize, Vec<String>) = match &filter {
        None => (
            store.group_count(),
            (start - 1..(start - 1).saturating_add(count))
                .map_while(|i| store.group_at(i))
                .map(|g| g.id.clone())
                .collect(),
        ),
        Some(f) => {
            let matches: Vec<&str> = store
                .groups()
                .filter(|g| f.matches(&GroupView(g)))
                .map(|g| g.id.as_str())
                .collect();
            let page = matches.iter().skip(start - 1).take(count);
            (matches.len(), page.map(|id| id.to_string()).collect())
        }
    };
    let resources = ids
        .iter()
        .map(|id| group_json(store, version, site, id))
        .collect();
    Ok(render::list(version, resources, total, start))
}
