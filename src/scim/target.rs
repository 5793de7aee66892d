//! The one rule for a SCIM target URL, used by the config compiler (`validate`) and by the
//! client (which refuses anything else): https, or plain http to a loopback address only (so
//! the token never crosses a network in clear); no credentials in the URL; the dialect from a
//! path ending in `/scim/v1` or `/scim/v2`.

use std::net::IpAddr;

use url::{Host, Url};

use super::Version;

/// Why a URL cannot be a SCIM target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetProblem {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    NotUrl(String),
    /// A URL without a host.
    #[error("no host")]
    NoHost,
    /// `http://` to a host that is not loopback.
    #[error("plain http is allowed only to localhost/loopback; use https")]
    PlainHttp,
    /// Neither https nor http.
    #[error("scheme {0:?} is not https")]
    Scheme(String),
    /// A user name or password in the URL.
    #[error("the URL must not carry credentials; use token_env or token_file")]
    Credentials,
}

/// Checks `url` as a SCIM target: https, or http to loopback; no credentials.
pub fn check(url: &str) -> Result<Url, TargetProblem> {
    let parsed = Url::parse(url).map_err(|e| TargetProblem::NotUrl(e.to_string()))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetProblem::Credentials);
    }
    let Some(host) = parsed.host() else {
        return Err(TargetProblem::NoHost);
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if is_loopback(&host) => Ok(parsed),
        "http" => Err(TargetProblem::PlainHttp),
        other => Err(TargetProblem::Scheme(other.to_string())),
    }
}

/// Whether a host is this machine: `localhost` or a loopback address.
pub fn is_loopback(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
    }
}

/// The dialect a URL's path names: `/scim/v1` or `/scim/v2` at its end (with or without a
/// trailing slash, any case).
pub fn version_from_path(url: &Url) -> Option<Version> {
    let path = url.path().trim_end_matches('/').to_ascii_lowercase();
    if path.ends_with("/scim/v1") {
        Some(Version::V1)
    } else if path.ends_with("/scim/v2") {
        Some(Version::V2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_anywhere_http_only_to_loopback() {
        assert!(check("https://api.slack.com/scim/v2/").is_ok());
        assert!(check("http://127.0.0.1:8080/scim/v1").is_ok());
        assert!(check("http://localhost/scim/v1").is_ok());
        assert!(check("http://[::1]:9/scim/v1").is_ok());
        assert_eq!(
            check("http://slack.example.com/scim/v2"),
            Err(TargetProblem::PlainHttp)
        );
        assert_eq!(
            check("https://u:secret@api.slack.com/scim/v2"),
            Err(TargetProblem::Credentials)
        );
        assert_eq!(
            check("ftp://x/scim/v2"),
            Err(TargetProblem::Scheme("ftp".into()))
        );
        assert!(matches!(check("not a url"), Err(TargetProblem::NotUrl(_))));
    }

    #[test]
    fn the_version_is_the_end_of_the_path() {
        let v = |u: &str| version_from_path(&Url::parse(u).unwrap());
        assert_eq!(v("https://api.slack.com/scim/v1"), Some(Version::V1));
        assert_eq!(v("https://api.slack.com/scim/v2/"), Some(Version::V2));
        assert_eq!(v("https://api.slack.com/SCIM/V2/"), Some(Version::V2));
        // Not just any `/v1` somewhere in the path.
        assert_eq!(v("https://proxy.example.com/v1/scim/x"), None);
        assert_eq!(v("https://example.com/"), None);
    }
}
