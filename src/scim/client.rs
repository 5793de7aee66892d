//! The SCIM client: one HTTP attempt per call, errors parsed from either dialect's body.
//! Rate limiting, retries and listings are [`super::caller::Caller`]'s; this layer only reports
//! what happened, including `Retry-After` on a 429.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Version;
use super::token::Token;
use super::types::ErrorBody;

/// Why one SCIM request did not succeed. Paths are relative to the base URL and carry no
/// token: the error is safe to log.
#[derive(Debug, thiserror::Error)]
pub enum ScimError {
    /// Slack answered with a non-2xx status.
    #[error("{method} {path}: HTTP {status}{}", describe(.code, .message))]
    Status {
        /// The request's method.
        method: Method,
        /// The request's path below the base URL (`Users/U123`).
        path: String,
        /// The HTTP status code.
        status: u16,
        /// Slack's error code (`email_taken`, `invalid_authentication`, …).
        code: Option<String>,
        /// Slack's explanation, when the body had one.
        message: Option<String>,
        /// The `Retry-After` header (whole seconds), as Slack sends on a 429.
        retry_after: Option<Duration>,
    },
    /// No answer: connect failure, timeout or dropped connection.
    #[error("{method} {path}: {cause}")]
    Transport {
        /// The request's method.
        method: Method,
        /// The request's path below the base URL.
        path: String,
        /// What went wrong, in words that name the cause and the host: "connection refused
        /// by 127.0.0.1:9", "DNS lookup of slack.example failed", "timed out", a TLS error.
        cause: String,
        /// The HTTP client's error, with the URL stripped.
        #[source]
        source: reqwest::Error,
    },
    /// A 2xx answer whose body was not the JSON expected.
    #[error("{method} {path}: unexpected response body: {message}")]
    Decode {
        /// The request's method.
        method: Method,
        /// The request's path below the base URL.
        path: String,
        /// The JSON decoder's complaint.
        message: String,
    },
    /// A target URL refused before any request (or an HTTP client that could not be built).
    #[error("{0}")]
    Url(String),
    /// Not sent: the circuit breaker is open after a run of requests that got no answer.
    #[error(
        "not sent: Slack did not answer {failures} requests in a row (last: {cause}); \
         the next pass tries again"
    )]
    CircuitOpen {
        /// The consecutive requests that got no answer.
        failures: u32,
        /// The last one's cause.
        cause: String,
    },
}

fn describe(code: &Option<String>, message: &Option<String>) -> String {
    match (code, message) {
        (_, Some(m)) => format!(": {m}"),
        (Some(c), None) => format!(": {c}"),
        (None, None) => String::new(),
    }
}

impl ScimError {
    /// The HTTP status, when Slack answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ScimError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Slack's error code as the body wrote it (`email_taken`), documented or not.
    pub fn code(&self) -> Option<&str> {
        match self {
            ScimError::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// Slack's error code, if it is one Slack documents.
    pub fn error_code(&self) -> Option<crate::slack_rules::ErrorCode> {
        self.code().and_then(crate::slack_rules::ErrorCode::parse)
    }

    /// How long Slack asked to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ScimError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Whether trying again may succeed: 5xx, timeouts, dropped connections (429 is handled
    /// separately: it is a pause, not a failure).
    pub fn is_transient(&self) -> bool {
        match self {
            ScimError::Status { status, .. } => *status >= 500,
            ScimError::Transport { .. } => true,
            ScimError::Decode { .. } | ScimError::Url(_) | ScimError::CircuitOpen { .. } => false,
        }
    }
}

/// The key that seals saved plans, derived from a secret (the token, or for the embedded
/// emulator the state folder's secret): an HMAC-SHA256 of a fixed label under it.
pub fn plan_key_from(secret: &[u8]) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let tag = ring::hmac::sign(&key, b"scimsync saved-plan seal, v1");
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Names the cause of a request that got no answer, from the error and its sources: a refused
/// or reset connection, a DNS failure, a TLS failure or a timeout, with the host; otherwise the
/// innermost message. reqwest's own text alone ("error sending request") names none of these.
pub fn transport_cause(error: &reqwest::Error, endpoint: &str) -> String {
    let mut chain: Vec<String> = Vec::new();
    let mut io_kind = None;
    let mut tls = false;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            io_kind.get_or_insert(io.kind());
            tls |= io
                .get_ref()
                .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        }
        tls |= e.downcast_ref::<rustls::Error>().is_some();
        let text = e.to_string();
        if !chain.iter().any(|c| c.contains(&text)) {
            chain.push(text);
        }
        source = e.source();
    }
    let all = chain.join(": ").to_ascii_lowercase();
    let detail = chain.last().cloned().unwrap_or_default();
    let host = endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h);
    if error.is_timeout() || all.contains("timed out") {
        return format!("timed out waiting for {endpoint}");
    }
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => {
            return format!("connection refused by {endpoint}");
        }
        Some(std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted) => {
            return format!("connection reset by {endpoint}");
        }
        _ => {}
    }
    if all.contains("dns error")
        || all.contains("failed to lookup")
        || all.contains("name or service")
    {
        return format!("DNS lookup of {host} failed ({detail})");
    }
    // rustls words its errors so: "received corrupt message", "invalid peer certificate",
    // "received fatal alert", "peer is incompatible", "peer misbehaved".
    let tls_words = [
        "certificate",
        "tls",
        "handshake",
        "corrupt message",
        "fatal alert",
        "peer is incompatible",
        "peer misbehaved",
    ];
    if tls || tls_words.iter().any(|w| all.contains(w)) {
        return format!("TLS handshake with {endpoint} failed ({detail})");
    }
    if error.is_connect() {
        return format!("cannot connect to {endpoint} ({detail})");
    }
    if all.contains("connection closed") || all.contains("incomplete message") {
        return format!("{endpoint} closed the connection before answering ({detail})");
    }
    format!("no answer from {endpoint} ({detail})")
}

/// A successful response: its status and raw body.
#[derive(Debug)]
pub struct Reply {
    /// A 2xx status (201 for creates, 204 for deletes, …).
    pub status: StatusCode,
    /// The body as received; empty for a 204.
    pub body: Vec<u8>,
}

/// One Slack SCIM endpoint (base URL, dialect, token) over a shared HTTP client. Makes exactly
/// one attempt per call: pacing and retries are [`super::caller::Caller`]'s. `Debug` never
/// shows the token.
pub struct ScimClient {
    http: reqwest::Client,
    /// Ends with `/`, e.g. `https://api.slack.com/scim/v2/`.
    base: String,
    version: Version,
    token: Token,
}

impl std::fmt::Debug for ScimClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScimClient")
            .field("base", &self.base)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

/// Checks a target URL: https, or http to loopback only; the dialect from the path
/// (`/scim/v1/` or `/scim/v2/`) unless given.
pub fn parse_target(url: &str, version: Option<Version>) -> Result<(String, Version), ScimError> {
    let parsed = super::target::check(url).map_err(|e| ScimError::Url(format!("{url}: {e}")))?;
    let mut base = parsed.to_string();
    if !base.ends_with('/') {
        base.push('/');
    }
    let version = version
        .or_else(|| super::target::version_from_path(&parsed))
        .ok_or_else(|| {
            ScimError::Url(format!(
                "{url}: cannot tell the SCIM version from the path; end it in /scim/v1/ or /scim/v2/"
            ))
        })?;
    Ok((base, version))
}

/// How long an idle connection is kept for the next request. A server closes idle
/// connections on its own clock (a load balancer's idle timeout, the emulator's 10 s), and a
/// write sent on a connection at the moment it is closed is lost without an answer: a create
/// whose outcome is unknown. reqwest's default keeps one 90 s; closed at 5 s here, a
/// connection is reused only while writes follow each other closely, and a new one costs a
/// handshake.
const POOL_IDLE: Duration = Duration::from_secs(5);

impl ScimClient {
    /// A client for `url` (checked by [`parse_target`]); `timeout` bounds each whole request,
    /// and connecting takes at most 10 s of it.
    pub fn new(
        url: &str,
        version: Option<Version>,
        token: Token,
        timeout: Duration,
    ) -> Result<ScimClient, ScimError> {
        let (base, version) = parse_target(url, version)?;
        let http = super::http_client_builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(POOL_IDLE)
            .user_agent(concat!("scimsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ScimError::Url(format!("cannot build the HTTP client: {e}")))?;
        Ok(ScimClient {
            http,
            base,
            version,
            token,
        })
    }

    /// The SCIM dialect spoken: given, or read from the URL's path.
    pub fn version(&self) -> Version {
        self.version
    }

    /// `host:port` of the target, for messages.
    fn endpoint(&self) -> String {
        match reqwest::Url::parse(&self.base) {
            Ok(u) => format!(
                "{}:{}",
                u.host_str().unwrap_or_default(),
                u.port_or_known_default().unwrap_or_default()
            ),
            Err(_) => self.base.clone(),
        }
    }

    /// The base URL, ending with `/`; request paths are appended to it.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// One request; non-2xx answers become [`ScimError::Status`] with Slack's code.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ScimError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .http
            .request(method.clone(), &url)
            .header(reqwest::header::AUTHORIZATION, self.token.header())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/json; charset=utf-8",
                )
                .body(serde_json::to_vec(b).expect("JSON values serialise"));
        }
        let endpoint = self.endpoint();
        let transport = |source: reqwest::Error| ScimError::Transport {
            method: method.clone(),
            path: path.to_string(),
            cause: transport_cause(&source, &endpoint),
            source: source.without_url(),
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = resp.bytes().await.map_err(transport)?.to_vec();
        if status.is_success() {
            return Ok(Reply {
                status,
                body: bytes,
            });
        }
        let parsed: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
        Err(ScimError::Status {
            method,
            path: path.to_string(),
            status: status.as_u16(),
            code: parsed.as_ref().and_then(|e| e.code().map(str::to_string)),
            message: parsed
                .as_ref()
                .and_then(|e| e.message().map(str::to_string)),
            retry_after,
        })
    }

    /// The key that seals saved plans made with this token (see `plan::seal`): an HMAC-SHA256
    /// of a fixed label under the token, so only a holder of the token can make it, and the
    /// token cannot be had back from it or from a seal.
    pub fn plan_key(&self) -> [u8; 32] {
        plan_key_from(self.token.expose().as_bytes())
    }

    /// The URL of Slack's Web API method `auth.test` for this target: `https://slack.com/api/`
    /// for Slack's own hosts, the target's origin otherwise (the emulator serves it there).
    fn auth_test_url(&self) -> String {
        match reqwest::Url::parse(&self.base) {
            Ok(u)
                if u.host_str()
                    .is_some_and(|h| h == "slack.com" || h.ends_with(".slack.com")) =>
            {
                "https://slack.com/api/auth.test".to_string()
            }
            Ok(u) => format!("{}/api/auth.test", u.origin().ascii_serialization()),
            Err(_) => format!("{}api/auth.test", self.base),
        }
    }

    /// The organisation the token belongs to, as Slack's Web API `auth.test` names it: the
    /// Enterprise Grid org id (`E…`) for an org-wide install, else the workspace id (`T…`).
    /// SCIM itself never says which organisation it is, and every organisation shares one
    /// SCIM URL, so this is what binds a saved plan and the state to one organisation.
    pub async fn organisation(&self) -> Result<String, ScimError> {
        let path = "auth.test";
        let endpoint = self.endpoint();
        let transport = |source: reqwest::Error| ScimError::Transport {
            method: Method::POST,
            path: path.to_string(),
            cause: transport_cause(&source, &endpoint),
            source: source.without_url(),
        };
        let resp = self
            .http
            .post(self.auth_test_url())
            .header(reqwest::header::AUTHORIZATION, self.token.header())
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let field = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        let refused = |code: Option<String>| ScimError::Status {
            method: Method::POST,
            path: path.to_string(),
            status: status.as_u16(),
            code,
            message: None,
            retry_after: None,
        };
        if !status.is_success() || body.get("ok").and_then(Value::as_bool) != Some(true) {
            return Err(refused(field("error")));
        }
        let org = field("enterprise_id")
            .or_else(|| field("team_id"))
            .ok_or_else(|| ScimError::Decode {
                method: Method::POST,
                path: path.to_string(),
                message: "no team_id in the answer".into(),
            })?;
        // An id goes into files and messages: Slack's are short and alphanumeric.
        if org.len() > 32 || !org.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(ScimError::Decode {
                method: Method::POST,
                path: path.to_string(),
                message: "the team id is not a Slack id".into(),
            });
        }
        Ok(org)
    }

    /// A request whose answer is a JSON body of type `T`.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ScimError> {
        let reply = self.send(method.clone(), path, body).await?;
        serde_json::from_slice(&reply.body).map_err(|e| ScimError::Decode {
            method,
            path: path.to_string(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let (base, v) = parse_target("https://api.slack.com/scim/v2", None).unwrap();
        assert_eq!(
            (base.as_str(), v),
            ("https://api.slack.com/scim/v2/", Version::V2)
        );
        let (_, v) = parse_target("http://127.0.0.1:9/scim/v1/", None).unwrap();
        assert_eq!(v, Version::V1);
        assert!(parse_target("http://slack.example.com/scim/v2/", None).is_err());
        assert!(parse_target("http://[::1]:9/scim/v2/", None).is_ok());
        assert!(parse_target("http://localhost:9/scim/v2/", None).is_ok());
        assert!(parse_target("https://example.com/", None).is_err());
        assert_eq!(
            parse_target("https://example.com/", Some(Version::V1))
                .unwrap()
                .1,
            Version::V1
        );
    }
}
