//! The compiled settings of the directory-service sources (`ldap:`, `google_workspace:`)
//! and the checks that need no network: an LDAP URL and filters, a Google API URL. Kept in
//! the config layer so that the config compiles them, and the directory's clients read them.

use std::path::PathBuf;
use std::time::Duration;

use super::ldap_filter;

/// Google's Admin SDK host.
pub const GOOGLE_API_BASE: &str = "https://admin.googleapis.com";

/// A setting that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ServiceSettingError {
    /// The URL.
    #[error("{0}")]
    Url(String),
    /// A filter.
    #[error(transparent)]
    Filter(#[from] ldap_filter::FilterError),
}

/// How to read one LDAP source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapSettings {
    /// `ldaps://host[:port]` or `ldap://host[:port]`.
    pub url: String,
    /// StartTLS on an `ldap://` connection before binding.
    pub start_tls: bool,
    /// A PEM file of CA certificates to trust instead of the system's (a private CA).
    pub ca_file: Option<PathBuf>,
    /// The DN to bind as; anonymous when absent.
    pub bind_dn: Option<String>,
    /// Where the bind password is.
    pub password: Option<PasswordSource>,
    /// Where people are searched (whole subtree).
    pub base_dn: String,
    /// Which entries are people.
    pub filter: String,
    /// The attributes read for each person (what the columns map).
    pub attributes: Vec<String>,
    /// Where each person's groups come from, if anywhere.
    pub groups: Option<GroupsFrom>,
    /// Entries per page.
    pub page_size: u32,
    /// The deadline of each network step.
    pub timeout: Duration,
}

/// Where an LDAP bind password is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// An environment variable.
    Env(String),
    /// A file (surrounding whitespace trimmed).
    File(PathBuf),
}

/// Where a person's groups come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupsFrom {
    /// The person's own attribute (usually `memberOf`) listing group DNs; a group's name
    /// is the value of its DN's first part (`cn=Engineering,…` → `Engineering`).
    MemberOf {
        /// The attribute.
        attribute: String,
    },
    /// Group entries found by a second search, their `member` and `uniqueMember` values
    /// naming people or other groups (nested groups are flattened).
    Entries {
        /// Where groups are searched.
        base_dn: String,
        /// Which entries are groups.
        filter: String,
        /// The attribute holding a group's name (usually `cn`).
        name_attribute: String,
    },
}

/// How to read one Google Workspace directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoogleSettings {
    /// The service account's JSON key file.
    pub key_file: PathBuf,
    /// The admin the service account acts as (domain-wide delegation's subject).
    pub subject: String,
    /// The customer: `my_customer` (the subject's) or an id like `C03az79cb`.
    pub customer: String,
    /// The Admin SDK's base URL (Google's unless overridden, e.g. for a test server).
    pub api_base: String,
    /// Whether groups and their members are read.
    pub groups: bool,
    /// How a group is named: its `name` or its `email`.
    pub group_name: GroupName,
    /// Users per `users.list` page (at most 500).
    pub page_size: u32,
    /// Each request's deadline.
    pub timeout: Duration,
    /// The first retry's wait when no `Retry-After` is given (doubling after).
    pub retry_base: Duration,
}

/// Which field names a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupName {
    /// The group's display name.
    Name,
    /// The group's email address.
    Email,
}

/// The headers a layout maps, each once, in its order: what a directory service is asked
/// for, and the columns of the table it gives.
pub fn mapped_headers(layout: &super::CsvLayout) -> Vec<String> {
    let mut headers: Vec<String> = Vec::new();
    for mapping in &layout.columns {
        for header in std::iter::once(&mapping.header).chain(&mapping.fallbacks) {
            if !headers.iter().any(|h| h == header) {
                headers.push(header.clone());
            }
        }
    }
    headers
}

/// Checks a URL: https, or http to loopback only (a test server).
pub fn https_or_loopback(what: &str, url: &str) -> Result<url::Url, String> {
    let bad = |why: &str| format!("{what} {url:?}: {why}");
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let loopback = parsed
        .host()
        .is_some_and(|h| crate::scim::target::is_loopback(&h));
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        _ => Err(bad(
            "use https (plain http is allowed only to localhost/loopback)",
        )),
    }
}

impl LdapSettings {
    /// Checks what can be checked without the network: the URL (plain `ldap://` without
    /// StartTLS only to loopback, so a password never crosses a network in clear) and the
    /// filters.
    pub fn check(&self) -> Result<(), ServiceSettingError> {
        self.endpoint().map_err(ServiceSettingError::Url)?;
        ldap_filter::encode(&self.filter)?;
        if let Some(GroupsFrom::Entries { filter, .. }) = &self.groups {
            ldap_filter::encode(filter)?;
        }
        Ok(())
    }

    /// Host, port and whether the URL is `ldaps://`.
    pub fn endpoint(&self) -> Result<(String, u16, bool), String> {
        let bad = |why: &str| format!("LDAP url {:?}: {why}", self.url);
        let url = url::Url::parse(&self.url).map_err(|e| bad(&e.to_string()))?;
        let ldaps = match url.scheme() {
            "ldaps" => true,
            "ldap" => false,
            _ => return Err(bad("use ldaps:// or ldap:// (with start_tls)")),
        };
        if ldaps && self.start_tls {
            return Err(bad(
                "start_tls is for ldap:// URLs; ldaps:// is TLS already",
            ));
        }
        // ldap: is not a "special" scheme to the URL parser, so its IP hosts read as names.
        let host = match url.host().ok_or_else(|| bad("no host"))? {
            url::Host::Domain(name) => match name.parse::<std::net::IpAddr>() {
                Ok(std::net::IpAddr::V4(ip)) => url::Host::Ipv4(ip),
                Ok(std::net::IpAddr::V6(ip)) => url::Host::Ipv6(ip),
                Err(_) => url::Host::Domain(name),
            },
            other => other,
        };
        if !ldaps && !self.start_tls && !crate::scim::target::is_loopback(&host) {
            return Err(bad(
                "use ldaps://, or start_tls: true (a plain connection is allowed only to loopback, so the password never crosses a network in clear)",
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "credentials go in bind_dn and password_env or password_file",
            ));
        }
        if !matches!(url.path(), "" | "/") || url.query().is_some() {
            return Err(bad(
                "the base DN and filter go in base_dn and filter, not the URL",
            ));
        }
        let host = match host {
            url::Host::Ipv6(ip) => ip.to_string(),
            other => other.to_string(),
        };
        let port = url.port().unwrap_or(if ldaps { 636 } else { 389 });
        Ok((host, port, ldaps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, start_tls: bool) -> LdapSettings {
        LdapSettings {
            url: url.into(),
            start_tls,
            ca_file: None,
            bind_dn: None,
            password: None,
            base_dn: "dc=example,dc=com".into(),
            filter: "(objectClass=person)".into(),
            attributes: vec!["mail".into()],
            groups: None,
            page_size: 100,
            timeout: Duration::from_secs(5),
        }
    }

    #[test]
    fn plain_ldap_only_to_loopback_or_with_start_tls() {
        for ok in [
            ("ldaps://ldap.example.com", false),
            ("ldap://ldap.example.com", true),
            ("ldap://127.0.0.1:3389", false),
            ("ldap://[::1]:3389", false),
            ("ldap://localhost", false),
        ] {
            assert!(settings(ok.0, ok.1).check().is_ok(), "{ok:?}");
        }
        for (url, start_tls, why) in [
            (
                "ldap://ldap.example.com",
                false,
                "use ldaps://, or start_tls: true",
            ),
            ("ldap://10.0.0.1", false, "use ldaps://, or start_tls: true"),
            (
                "ldaps://ldap.example.com",
                true,
                "start_tls is for ldap:// URLs",
            ),
            ("http://ldap.example.com", false, "use ldaps:// or ldap://"),
            ("ldaps://h/dc=example,dc=com", false, "not the URL"),
        ] {
            let e = settings(url, start_tls).check().unwrap_err().to_string();
            assert!(e.contains(why), "{url}: {e}");
        }
        assert_eq!(
            settings("ldap://10.0.0.1", true).endpoint().unwrap(),
            ("10.0.0.1".to_string(), 389, false)
        );
        assert_eq!(
            settings("ldaps://h:1636", false).endpoint().unwrap(),
            ("h".to_string(), 1636, true)
        );
    }
}
