//! An LDAP directory (OpenLDAP, Active Directory, 389-ds, …) read as a source: a simple
//! bind, LDAPS or StartTLS with rustls, one search under a base DN with a filter, every page
//! of it (RFC 2696 paged results), and each person's groups either from their `memberOf`
//! values or from group entries (`member` / `uniqueMember`) with nested groups flattened.
//!
//! A source is trusted whole or not at all: any failure part way — the connection cut, an
//! error result on the Nth page, a size limit, a referral (never followed), a nested-group
//! cycle — fails the read, so a half-read directory never looks like people who left.
//!
//! The client is small and our own (BER in `ber`, filters in [`filter`], the connection
//! in `conn`): the `ldap3` crate would bring a second X.509 parser and a dozen crates for
//! the four operations needed here.

mod ber;
mod conn;
pub(crate) mod groups;

use std::path::Path;
use std::sync::Arc;

pub use crate::config::ldap_filter as filter;
pub use crate::config::services::{GroupsFrom, LdapSettings, PasswordSource};
pub use conn::Entry;

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

/// The attributes to ask for: the mapped ones, and `memberOf` when groups come from it.
fn requested_attributes(settings: &LdapSettings) -> Vec<String> {
    let mut attributes = settings.attributes.clone();
    if let Some(GroupsFrom::MemberOf { attribute }) = &settings.groups
        && !attributes.iter().any(|a| a.eq_ignore_ascii_case(attribute))
    {
        attributes.push(attribute.clone());
    }
    attributes
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
    let (host, port, ldaps) = settings.endpoint().map_err(LdapError::Url)?;
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
    let attributes = requested_attributes(settings);
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
