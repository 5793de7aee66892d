//! What the client reports about each HTTP attempt it makes: the endpoint class, the status
//! (or none when no answer came) and how long the attempt took. The scim layer only defines
//! the hook; the daemon's metrics implement it (`scimsync_slack_requests_total` and
//! `scimsync_slack_request_duration_seconds`), so scim never depends on who listens.

use std::time::Duration;

use super::limits::Endpoint;

/// Told about every attempt [`super::caller::Caller`] sends, retries and 429s included; never
/// about a request the limiter or the circuit breaker kept back. Labels are bounded: no path,
/// id or email reaches it.
pub trait RequestObserver: Send + Sync + std::fmt::Debug {
    /// One attempt ended: `status` is the HTTP status Slack answered with, `None` when no
    /// answer came (connect failure, reset, timeout); `elapsed` is the attempt's wall time,
    /// limiter waits excluded.
    fn request(&self, endpoint: Endpoint, status: Option<u16>, elapsed: Duration);
}

/// The `status` label for an attempt: the HTTP status code, or `transport_error` when no
/// answer came.
pub fn status_label(status: Option<u16>) -> String {
    status.map_or_else(|| TRANSPORT_ERROR.to_string(), |s| s.to_string())
}

/// The `status` label of an attempt that got no answer.
pub const TRANSPORT_ERROR: &str = "transport_error";
