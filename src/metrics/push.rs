//! `scimsync apply --metrics-push URL`: the cron mode's metrics for a Prometheus Pushgateway.
//!
//! A CronJob's pod is gone before Prometheus could scrape it, and a Kubernetes node has no
//! textfile folder for it, so the run pushes instead: one `PUT` of the same series
//! `--metrics-textfile` writes (the text format 0.0.4), to the group
//! `/metrics/job/scimsync` (or the group the URL names). `PUT` replaces the whole group, so
//! the Pushgateway always holds the last run's series, and its own `push_time_seconds` tells
//! when that run ended: the `ScimsyncPushStale` alert tells a job that stopped running from
//! one that finished.
//!
//! A push that fails is a warning and leaves the exit code alone: the exit code is the
//! apply's outcome, which a monitoring hiccup must not hide (and a failing push is seen as a
//! stale push time). The URL is never printed with its password.

use std::time::Duration;

/// The group path appended to a URL that names none.
pub const DEFAULT_GROUP: &str = "metrics/job/scimsync";

/// How long one push may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a push failed.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// The URL is not an http(s) URL.
    #[error("{url}: {reason}")]
    Url {
        /// The URL as given, its password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No answer (connection refused, timeout, TLS).
    #[error("{url}: {cause}")]
    Transport {
        /// The group URL, its password hidden.
        url: String,
        /// The innermost cause.
        cause: String,
    },
    /// The Pushgateway answered with an error status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// The group URL, its password hidden.
        url: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// The start of its answer (the Pushgateway says what it refused).
        body: String,
    },
}

/// Where the metrics go: a Pushgateway group URL.
#[derive(Debug, Clone)]
pub struct Pushgateway {
    url: reqwest::Url,
}

impl Pushgateway {
    /// The Pushgateway at `url`: its base (`http://pushgateway:9091`), to which
    /// [`DEFAULT_GROUP`] is appended, or a group URL already naming `/metrics/job/…`
    /// (e.g. `…/metrics/job/scimsync/instance/prod`), used as it is.
    pub fn new(url: &str) -> Result<Pushgateway, PushError> {
        let invalid = |reason: String| PushError::Url {
            url: redact_text(url),
            reason,
        };
        let mut parsed = reqwest::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(invalid(
                "a Pushgateway URL is http:// or https:// and names a host".into(),
            ));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                "a Pushgateway URL has no query and no fragment".into(),
            ));
        }
        if !parsed.path().contains("/metrics/job/") {
            let path = format!("{}/{DEFAULT_GROUP}", parsed.path().trim_end_matches('/'));
            parsed.set_path(&path);
        }
        Ok(Pushgateway { url: parsed })
    }

    /// The group URL pushed to, its password hidden (for messages).
    pub fn shown(&self) -> String {
        redact(&self.url)
    }

    /// Replaces the group with `text` (Prometheus text format 0.0.4).
    pub async fn push(&self, text: &str) -> Result<(), PushError> {
        let client = crate::scim::http_client_builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("scimsync/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| PushError::Transport {
                url: self.shown(),
                cause: format!("cannot build the HTTP client: {e}"),
            })?;
        let mut request = client
            .put(self.url.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )
            .body(text.to_owned());
        if !self.url.username().is_empty() {
            request = request.basic_auth(self.url.username(), self.url.password());
        }
        let answer = request.send().await.map_err(|e| PushError::Transport {
            url: self.shown(),
            cause: crate::scim::client::transport_cause(&e, &self.endpoint()),
        })?;
        let status = answer.status();
        if status.is_success() {
            return Ok(());
        }
        let body = answer.text().await.unwrap_or_default();
        Err(PushError::Status {
            url: self.shown(),
            status,
            body: shown_text(&body.trim().chars().take(300).collect::<String>()),
        })
    }

    /// `host:port`, for transport messages.
    fn endpoint(&self) -> String {
        format!(
            "{}:{}",
            self.url.host_str().unwrap_or_default(),
            self.url.port_or_known_default().unwrap_or_default()
        )
    }
}

/// A URL with its password replaced by `***`.
fn redact(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    if shown.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    shown.to_string()
}

/// [`redact`] for a URL that may not parse: everything between `://` and the last `@` of the
/// authority goes.
fn redact_text(url: &str) -> String {
    if let Ok(parsed) = reqwest::Url::parse(url) {
        return redact(&parsed);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return shown_text(url);
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => shown_text(&format!("{scheme}://***{}", &rest[at..])),
        None => shown_text(url),
    }
}

/// Text from outside (a URL as given, the Pushgateway's answer), safe on a terminal.
fn shown_text(text: &str) -> String {
    crate::diag::escape::terminal(text).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_url_gets_the_scimsync_group_and_a_group_url_is_kept() {
        let base = Pushgateway::new("http://pushgateway.monitoring:9091").unwrap();
        assert_eq!(
            base.shown(),
            "http://pushgateway.monitoring:9091/metrics/job/scimsync"
        );
        let slash = Pushgateway::new("http://pg:9091/prefix/").unwrap();
        assert_eq!(slash.shown(), "http://pg:9091/prefix/metrics/job/scimsync");
        let group = Pushgateway::new("https://pg/metrics/job/scimsync/instance/prod").unwrap();
        assert_eq!(
            group.shown(),
            "https://pg/metrics/job/scimsync/instance/prod"
        );
    }

    #[test]
    fn a_password_is_never_shown() {
        let pg = Pushgateway::new("https://push:s3cret@pg:9091").unwrap();
        assert_eq!(pg.shown(), "https://push:***@pg:9091/metrics/job/scimsync");
        let e = Pushgateway::new("ftp://push:s3cret@pg:9091")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
        let e = Pushgateway::new("http://push:s3cret@[::zz]:9091")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn other_schemes_queries_and_fragments_are_refused() {
        for url in [
            "ftp://pg:9091",
            "pg:9091",
            "http://pg:9091/?a=1",
            "http://pg/#x",
        ] {
            assert!(Pushgateway::new(url).is_err(), "{url}");
        }
    }
}
