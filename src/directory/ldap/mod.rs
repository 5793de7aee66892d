//! An LDAP directory (OpenLDAP, Active Directory, 389-ds, …) read as a source: a simple
//! bind, LDAPS or StartTLS with rustls, one search under a base DN with a filter, every page
//! of it (RFC 2696 paged results), and each person's groups either from their `memberOf`
//! values or from group entries (`member` / `uniqueMember`) with nested groups flattened.
//!
//! A source is trusted whole or not at all: any failure part way — the connection cut, an
//! error result on the Nth page, a size limit, a referral (never followed), a nested-group
//! cycle — fails the read, so a half-read directory never looks like people who left.
//!
//! The client is small and our own (BER in [`ber`], filters in [`filter`], the connection
//! in [`conn`]): the `ldap3` crate would bring a second X.509 parser and a dozen crates for
//! the four operations needed here.

mod ber;
mod conn;
pub mod filter;
pub(crate) mod groups;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use conn::Entry;

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

/// One person read: their DN, their attributes, and the names of their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdapPerson {
    /// The person's DN.
    pub dn: String,
    /// Attribute (as the server names it) → values.
    pub attributes: Vec<(String, Vec<String>)>,
    /// Group names, sorted, nested groups included.
    pub groups: Vec<String>,
}

/// Why an LDAP source could not be read whole. Never holds the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LdapError {
    /// The URL is not one this client speaks.
    #[error("{0}")]
    Url(String),
    /// The filter does not parse.
    #[error(transparent)]
    Filter(#[from] filter::FilterError),
    /// The password's variable is unset or empty, or its file unreadable.
    #[error("the LDAP bind password: {0}")]
    Password(String),
    /// The CA file is unreadable or holds no certificate.
    #[error("the LDAP CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The TCP connection could not be made.
    #[error("cannot connect to the LDAP server: {0}")]
    Connect(String),
    /// TLS failed (the handshake, the certificate).
    #[error("TLS with the LDAP server failed: {0}")]
    Tls(String),
    /// A step took longer than the timeout.
    #[error("the LDAP server did not answer in time ({what}, {seconds}s)")]
    Timeout {
        /// The step.
        what: &'static str,
        /// The timeout.
        seconds: u64,
    },
    /// The connection was cut before the read finished.
    #[error("the connection to the LDAP server was cut before the read finished: {0}")]
    Cut(String),
    /// The server said it is disconnecting.
    #[error("the LDAP server ended the session: {0}")]
    Disconnected(String),
    /// An operation failed (bind, a search page, StartTLS).
    #[error("LDAP {operation} failed: {result}")]
    Failed {
        /// The operation.
        operation: &'static str,
        /// The result code, its name and the server's message.
        result: String,
    },
    /// The server sent a referral, which is never followed.
    #[error(
        "the LDAP server sent a referral (referrals are not followed; point the source at the server holding the entries)"
    )]
    Referral,
    /// A message did not parse.
    #[error("the LDAP server sent a malformed message: {0}")]
    Protocol(&'static str),
    /// A value that is not text (a photo, a binary GUID) in a mapped attribute.
    #[error("attribute {attribute} of {dn} is not text")]
    NotText {
        /// The entry.
        dn: String,
        /// The attribute.
        attribute: String,
    },
    /// Nested groups that contain themselves.
    #[error("nested LDAP groups form a cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

impl From<ber::BerError> for LdapError {
    fn from(e: ber::BerError) -> Self {
        LdapError::Protocol(e.0)
    }
}

impl LdapSettings {
    /// Checks what can be checked without the network: the URL (plain `ldap://` without
    /// StartTLS only to loopback, so a password never crosses a network in clear) and the
    /// filters.
    pub fn check(&self) -> Result<(), LdapError> {
        self.endpoint_parts()?;
        filter::encode(&self.filter)?;
        if let Some(GroupsFrom::Entries { filter, .. }) = &self.groups {
            filter::encode(filter)?;
        }
        Ok(())
    }

    /// Host, port and whether the URL is `ldaps://`.
    fn endpoint_parts(&self) -> Result<(String, u16, bool), LdapError> {
        let bad = |why: &str| LdapError::Url(format!("LDAP url {:?}: {why}", self.url));
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

    /// The attributes to ask for: the mapped ones, and `memberOf` when groups come from it.
    fn requested_attributes(&self) -> Vec<String> {
        let mut attributes = self.attributes.clone();
        if let Some(GroupsFrom::MemberOf { attribute }) = &self.groups
            && !attributes.iter().any(|a| a.eq_ignore_ascii_case(attribute))
        {
            attributes.push(attribute.clone());
        }
        attributes
    }
}

/// The bind password, from its variable or file; never printed.
fn read_password(source: &PasswordSource) -> Result<String, LdapError> {
    let value = match source {
        PasswordSource::Env(name) => std::env::var(name).map_err(|_| {
            LdapError::Password(format!("the environment variable {name} is not set"))
        })?,
        PasswordSource::File(path) => {
            let bytes = crate::diag::data_file::read_data_file(path)
                .map_err(|e| LdapError::Password(format!("cannot read {}: {e}", path.display())))?;
            String::from_utf8(bytes)
                .map_err(|_| LdapError::Password(format!("{} is not UTF-8 text", path.display())))?
        }
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        let place = match source {
            PasswordSource::Env(name) => format!("the environment variable {name}"),
            PasswordSource::File(path) => path.display().to_string(),
        };
        return Err(LdapError::Password(format!("{place} is empty")));
    }
    Ok(value)
}

/// The TLS settings: rustls on `ring`, trusting the CA file's certificates or the system's.
fn tls_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, LdapError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapError::Tls(e.to_string()))?;
    let config = match ca_file {
        Some(path) => builder
            .with_root_certificates(ca_roots(path)?)
            .with_no_client_auth(),
        None => {
            use rustls_platform_verifier::BuilderVerifierExt;
            builder
                .with_platform_verifier()
                .map_err(|e| LdapError::Tls(e.to_string()))?
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

/// The certificates of a PEM CA file.
fn ca_roots(path: &Path) -> Result<rustls::RootCertStore, LdapError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let fail = |reason: String| LdapError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let bytes = crate::diag::data_file::read_data_file(path).map_err(|e| fail(e.to_string()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&bytes) {
        let cert = cert.map_err(|e| fail(e.to_string()))?;
        roots.add(cert).map_err(|e| fail(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(fail("no PEM certificate in it".into()));
    }
    Ok(roots)
}

/// Reads every person the settings select, with their groups: the whole directory or an
/// error.
pub async fn read(settings: &LdapSettings) -> Result<Vec<LdapPerson>, LdapError> {
    let (host, port, ldaps) = settings.endpoint_parts()?;
    let people_filter = filter::encode(&settings.filter)?;
    let password = settings.password.as_ref().map(read_password).transpose()?;
    let tls = if ldaps || settings.start_tls {
        Some(tls_config(settings.ca_file.as_deref())?)
    } else {
        None
    };
    let endpoint = conn::Endpoint {
        host,
        port,
        ldaps,
        start_tls: settings.start_tls,
        tls,
        timeout: settings.timeout,
    };
    let mut connection = conn::Connection::open(&endpoint).await?;
    if let Some(dn) = &settings.bind_dn {
        // Never an empty password: servers read that as an anonymous bind that "succeeds".
        let password = password.as_deref().ok_or_else(|| {
            LdapError::Password("bind_dn is set but no password_env or password_file".into())
        })?;
        connection.bind(dn, password).await?;
    }
    let attributes = settings.requested_attributes();
    let people = connection
        .search(&conn::Search {
            base: &settings.base_dn,
            filter: &people_filter,
            attributes: &attributes,
            page_size: settings.page_size,
        })
        .await?;
    let group_entries = match &settings.groups {
        Some(GroupsFrom::Entries {
            base_dn,
            filter,
            name_attribute,
        }) => {
            let encoded = filter::encode(filter)?;
            let wanted = groups::group_attributes(name_attribute);
            let entries = connection
                .search(&conn::Search {
                    base: base_dn,
                    filter: &encoded,
                    attributes: &wanted,
                    page_size: settings.page_size,
                })
                .await?;
            Some(entries)
        }
        _ => None,
    };
    connection.close().await;
    groups::assign(settings, people, group_entries.as_deref())
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
            settings("ldap://10.0.0.1", true).endpoint_parts().unwrap(),
            ("10.0.0.1".to_string(), 389, false)
        );
        assert_eq!(
            settings("ldaps://h:1636", false).endpoint_parts().unwrap(),
            ("h".to_string(), 1636, true)
        );
    }
}
