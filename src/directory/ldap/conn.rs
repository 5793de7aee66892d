//! One LDAPv3 connection: TCP, then TLS (LDAPS, or StartTLS on `ldap://`), a simple bind,
//! searches with the paged-results control (RFC 2696) followed to the last page, and an
//! unbind. Every step has a deadline, and anything short of a clean end — the connection
//! closing, an error result on any page, a referral, a message that does not parse — is an
//! error: the caller never sees part of a search.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

use super::LdapError;
use super::ber::{self, BOOLEAN, ENUMERATED, INTEGER, OCTET_STRING, Reader, SEQUENCE, SET};

/// The paged-results control's OID (RFC 2696).
const PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// The StartTLS extended operation's OID (RFC 4511 §4.14).
const START_TLS: &str = "1.3.6.1.4.1.1466.20037";

/// A byte stream, plain or TLS.
trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The host name (checked against the server's certificate).
    pub host: String,
    /// The port.
    pub port: u16,
    /// `ldaps://`: TLS from the first byte.
    pub ldaps: bool,
    /// StartTLS on a plain connection before the bind.
    pub start_tls: bool,
    /// The TLS settings, when TLS is used.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The deadline of each step.
    pub timeout: Duration,
}

/// One search entry: its DN and the requested attributes' values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's distinguished name.
    pub dn: String,
    /// Attribute (as the server names it) → values.
    pub attributes: Vec<(String, Vec<String>)>,
}

/// A search: base, filter (BER), attributes, page size.
#[derive(Debug, Clone)]
pub(crate) struct Search<'a> {
    /// The base DN.
    pub base: &'a str,
    /// The filter, BER-encoded.
    pub filter: &'a [u8],
    /// The attributes asked for.
    pub attributes: &'a [String],
    /// Entries per page.
    pub page_size: u32,
}

/// An open connection.
pub(crate) struct Connection {
    stream: Box<dyn Io>,
    buffer: Vec<u8>,
    next_id: i64,
    timeout: Duration,
}

/// One message read (its id checked): its protocol op's tag and content, and its controls.
struct Message {
    tag: u8,
    op: Vec<u8>,
    controls: Vec<u8>,
}

impl Connection {
    /// Connects, with TLS as the endpoint says.
    pub(crate) async fn open(endpoint: &Endpoint) -> Result<Connection, LdapError> {
        let address = (endpoint.host.as_str(), endpoint.port);
        let tcp = deadline(endpoint.timeout, "connecting", TcpStream::connect(address))
            .await?
            .map_err(|e| LdapError::Connect(e.to_string()))?;
        let mut connection = Connection {
            stream: Box::new(tcp),
            buffer: Vec::new(),
            next_id: 1,
            timeout: endpoint.timeout,
        };
        if endpoint.start_tls {
            connection.start_tls().await?;
        }
        if endpoint.ldaps || endpoint.start_tls {
            connection = connection.handshake(endpoint).await?;
        }
        Ok(connection)
    }

    /// The TLS handshake over the connection's stream.
    async fn handshake(self, endpoint: &Endpoint) -> Result<Connection, LdapError> {
        let config = endpoint
            .tls
            .clone()
            .ok_or_else(|| LdapError::Tls("no TLS settings".into()))?;
        let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone())
            .map_err(|e| LdapError::Tls(e.to_string()))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let tls = deadline(
            self.timeout,
            "the TLS handshake",
            connector.connect(name, self.stream),
        )
        .await?
        .map_err(|e| LdapError::Tls(e.to_string()))?;
        Ok(Connection {
            stream: Box::new(tls),
            ..self
        })
    }

    /// The StartTLS extended operation; TLS follows.
    async fn start_tls(&mut self) -> Result<(), LdapError> {
        let op = ber::wrap(0x77, &ber::wrap(0x80, START_TLS.as_bytes()));
        let id = self.send(&op, &[]).await?;
        let answer = self.receive(id).await?;
        if answer.tag != 0x78 {
            return Err(LdapError::Protocol(
                "StartTLS answered with another operation",
            ));
        }
        check_result("StartTLS", &answer.op)
    }

    /// A simple bind.
    pub(crate) async fn bind(&mut self, dn: &str, password: &str) -> Result<(), LdapError> {
        let mut content = Vec::new();
        ber::integer(&mut content, INTEGER, 3);
        ber::tlv(&mut content, OCTET_STRING, dn.as_bytes());
        ber::tlv(&mut content, 0x80, password.as_bytes());
        let id = self.send(&ber::wrap(0x60, &content), &[]).await?;
        let answer = self.receive(id).await?;
        if answer.tag != 0x61 {
            return Err(LdapError::Protocol("bind answered with another operation"));
        }
        check_result("bind", &answer.op)
    }

    /// Every entry `search` matches, page after page to the last.
    pub(crate) async fn search(&mut self, search: &Search<'_>) -> Result<Vec<Entry>, LdapError> {
        let mut entries = Vec::new();
        let mut cookie = Vec::new();
        loop {
            let id = self
                .send(
                    &search_request(search),
                    &paged_control(search.page_size, &cookie),
                )
                .await?;
            cookie = self.read_page(id, &mut entries).await?;
            if cookie.is_empty() {
                return Ok(entries);
            }
        }
    }

    /// The entries of one page, up to its SearchResultDone; the cookie of the next page
    /// (empty after the last).
    async fn read_page(&mut self, id: i64, entries: &mut Vec<Entry>) -> Result<Vec<u8>, LdapError> {
        loop {
            let message = self.receive(id).await?;
            match message.tag {
                0x64 => entries.push(parse_entry(&message.op)?),
                0x73 => return Err(LdapError::Referral),
                0x79 => {}
                0x65 => {
                    check_result("search", &message.op)?;
                    return paged_cookie(&message.controls);
                }
                _ => return Err(LdapError::Protocol("unexpected operation in a search")),
            }
        }
    }

    /// Unbinds and closes (best effort: the data is already read).
    pub(crate) async fn close(mut self) {
        let _ = self.send(&[0x42, 0x00], &[]).await;
        let _ = tokio::time::timeout(self.timeout, self.stream.shutdown()).await;
    }

    /// Sends one message; its id.
    async fn send(&mut self, op: &[u8], controls: &[u8]) -> Result<i64, LdapError> {
        let id = self.next_id;
        self.next_id += 1;
        let mut content = Vec::with_capacity(op.len() + controls.len() + 8);
        ber::integer(&mut content, INTEGER, id);
        content.extend_from_slice(op);
        if !controls.is_empty() {
            ber::tlv(&mut content, 0xa0, controls);
        }
        let message = ber::wrap(SEQUENCE, &content);
        deadline(self.timeout, "sending", self.stream.write_all(&message))
            .await?
            .map_err(|e| LdapError::Cut(e.to_string()))?;
        Ok(id)
    }

    /// The next message, which must answer `id` (a notice of disconnection is an error).
    async fn receive(&mut self, id: i64) -> Result<Message, LdapError> {
        let bytes = self.read_message().await?;
        let mut outer = Reader::new(&bytes);
        let mut message = outer.nested(SEQUENCE)?;
        let got = message.integer(INTEGER)?;
        let (tag, op) = message.any()?;
        let controls = message.optional(0xa0)?.unwrap_or_default().to_vec();
        if got == 0 && tag == 0x78 {
            let reason = result_of(op).map_or_else(|e| e.to_string(), |r| r.describe());
            return Err(LdapError::Disconnected(reason));
        }
        if got != id {
            return Err(LdapError::Protocol("an answer to another request"));
        }
        Ok(Message {
            tag,
            op: op.to_vec(),
            controls,
        })
    }

    /// The bytes of the next whole message.
    async fn read_message(&mut self) -> Result<Vec<u8>, LdapError> {
        loop {
            if let Some(size) = ber::message_size(&self.buffer)?
                && self.buffer.len() >= size
            {
                let rest = self.buffer.split_off(size);
                return Ok(std::mem::replace(&mut self.buffer, rest));
            }
            let mut chunk = [0u8; 16 * 1024];
            let read = deadline(self.timeout, "reading", self.stream.read(&mut chunk))
                .await?
                .map_err(|e| LdapError::Cut(e.to_string()))?;
            if read == 0 {
                return Err(LdapError::Cut("the server closed the connection".into()));
            }
            self.buffer.extend_from_slice(&chunk[..read]);
        }
    }
}

/// `future`, or a timeout error naming `what`.
async fn deadline<T>(
    timeout: Duration,
    what: &'static str,
    future: impl Future<Output = T>,
) -> Result<T, LdapError> {
    tokio::time::timeout(timeout, future)
        .await
        .map_err(|_| LdapError::Timeout {
            what,
            seconds: timeout.as_secs(),
        })
}

/// A SearchRequest: whole subtree, never dereferencing aliases, no size or time limit of
/// its own (the server's apply, and hitting one is an error).
fn search_request(search: &Search<'_>) -> Vec<u8> {
    let mut content = Vec::new();
    ber::tlv(&mut content, OCTET_STRING, search.base.as_bytes());
    ber::integer(&mut content, ENUMERATED, 2);
    ber::integer(&mut content, ENUMERATED, 0);
    ber::integer(&mut content, INTEGER, 0);
    ber::integer(&mut content, INTEGER, 0);
    ber::tlv(&mut content, BOOLEAN, &[0x00]);
    content.extend_from_slice(search.filter);
    let mut attributes = Vec::new();
    for attribute in search.attributes {
        ber::tlv(&mut attributes, OCTET_STRING, attribute.as_bytes());
    }
    ber::tlv(&mut content, SEQUENCE, &attributes);
    ber::wrap(0x63, &content)
}

/// The paged-results control, critical (a server that cannot page refuses the search
/// rather than answering with a first page only).
fn paged_control(size: u32, cookie: &[u8]) -> Vec<u8> {
    let mut value = Vec::new();
    ber::integer(&mut value, INTEGER, i64::from(size));
    ber::tlv(&mut value, OCTET_STRING, cookie);
    let mut control = Vec::new();
    ber::tlv(&mut control, OCTET_STRING, PAGED_RESULTS.as_bytes());
    ber::tlv(&mut control, BOOLEAN, &[0xff]);
    ber::tlv(&mut control, OCTET_STRING, &ber::wrap(SEQUENCE, &value));
    ber::wrap(SEQUENCE, &control)
}

/// The cookie in a SearchResultDone's paged-results control; a done without the control
/// is an error (the server did not page, so the result may be short).
fn paged_cookie(controls: &[u8]) -> Result<Vec<u8>, LdapError> {
    let mut list = Reader::new(controls);
    while !list.is_empty() {
        let mut control = list.nested(SEQUENCE)?;
        let oid = control.text(OCTET_STRING)?;
        control.optional(BOOLEAN)?;
        let value = control.optional(OCTET_STRING)?.unwrap_or_default();
        if oid == PAGED_RESULTS {
            let mut value = Reader::new(value).nested(SEQUENCE)?;
            value.integer(INTEGER)?;
            return Ok(value.expect(OCTET_STRING)?.to_vec());
        }
    }
    Err(LdapError::Protocol(
        "the search ended without the paged-results control",
    ))
}

/// A SearchResultEntry's DN and attributes.
fn parse_entry(op: &[u8]) -> Result<Entry, LdapError> {
    let mut entry = Reader::new(op);
    let dn = entry.text(OCTET_STRING)?;
    let mut list = entry.nested(SEQUENCE)?;
    let mut attributes = Vec::new();
    while !list.is_empty() {
        let mut attribute = list.nested(SEQUENCE)?;
        let name = attribute.text(OCTET_STRING)?;
        let mut set = attribute.nested(SET)?;
        let mut values = Vec::new();
        while !set.is_empty() {
            let value = set.expect(OCTET_STRING)?;
            let text = std::str::from_utf8(value).map_err(|_| LdapError::NotText {
                dn: dn.clone(),
                attribute: name.clone(),
            })?;
            values.push(text.to_string());
        }
        attributes.push((name, values));
    }
    Ok(Entry { dn, attributes })
}

/// An LDAPResult.
pub(crate) struct LdapResult {
    /// The result code.
    pub code: i64,
    /// The server's diagnostic message.
    pub message: String,
}

impl LdapResult {
    /// `name (code): message`.
    pub(crate) fn describe(&self) -> String {
        let name = result_name(self.code);
        if self.message.is_empty() {
            format!("{name} ({})", self.code)
        } else {
            format!("{name} ({}): {}", self.code, self.message)
        }
    }
}

/// The LDAPResult at the start of a response's content.
fn result_of(op: &[u8]) -> Result<LdapResult, ber::BerError> {
    let mut reader = Reader::new(op);
    let code = reader.integer(ENUMERATED)?;
    let _matched = reader.expect(OCTET_STRING)?;
    let message = String::from_utf8_lossy(reader.expect(OCTET_STRING)?).into_owned();
    Ok(LdapResult { code, message })
}

/// Success, or the result as an error of `operation`.
fn check_result(operation: &'static str, op: &[u8]) -> Result<(), LdapError> {
    let result = result_of(op)?;
    match result.code {
        0 => Ok(()),
        _ => Err(LdapError::Failed {
            operation,
            result: result.describe(),
        }),
    }
}

/// RFC 4511's name for a result code.
fn result_name(code: i64) -> &'static str {
    match code {
        1 => "operationsError",
        2 => "protocolError",
        3 => "timeLimitExceeded",
        4 => "sizeLimitExceeded",
        7 => "authMethodNotSupported",
        8 => "strongerAuthRequired",
        10 => "referral",
        11 => "adminLimitExceeded",
        12 => "unavailableCriticalExtension",
        13 => "confidentialityRequired",
        32 => "noSuchObject",
        34 => "invalidDNSyntax",
        48 => "inappropriateAuthentication",
        49 => "invalidCredentials",
        50 => "insufficientAccessRights",
        51 => "busy",
        52 => "unavailable",
        53 => "unwillingToPerform",
        _ => "error",
    }
}
