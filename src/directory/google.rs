//! Google Workspace's directory read as a source: a service account with domain-wide
//! delegation signs a JWT (RS256, with `ring`), trades it for an access token at its key's
//! `token_uri`, then reads the Admin SDK Directory API — `users.list`, and when groups are
//! wanted `groups.list` and `members.list` per group — following every `nextPageToken`.
//!
//! Google pushes no SCIM to custom apps, so this is how a Workspace company keeps Slack in
//! step without a script. A source is trusted whole or not at all: a 429 or 5xx is retried
//! a bounded number of times (after `Retry-After` when given), and any page that still fails
//! fails the read, so a partial list never looks like people who left.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::ldap::groups::{GroupNode, flatten_groups};

pub use crate::config::services::{GOOGLE_API_BASE as DEFAULT_API_BASE, GoogleSettings, GroupName};
/// The read-only scope for users the service account must be granted (domain-wide
/// delegation).
pub const USER_SCOPE: &str = "https://www.googleapis.com/auth/admin.directory.user.readonly";
/// The read-only scopes for groups and their members, asked for only when groups are read
/// (Google refuses a token for any scope not granted).
pub const GROUP_SCOPES: &str = "https://www.googleapis.com/auth/admin.directory.group.readonly \
    https://www.googleapis.com/auth/admin.directory.group.member.readonly";
/// Attempts per request (the first and three retries).
const ATTEMPTS: u32 = 4;
/// The longest `Retry-After` honoured; a longer one fails the read (the next run retries).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// One user read: Google's id, their fields flattened to `path → text`, and their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GooglePerson {
    /// Google's user id.
    pub id: String,
    /// Fields by dotted path (`primaryEmail`, `name.givenName`, `organizations.department`,
    /// `relations.manager.value`, …).
    pub fields: Vec<(String, String)>,
    /// Group names, sorted, nested groups included.
    pub groups: Vec<String>,
}

/// Why a Google directory could not be read whole. Never holds the key or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GoogleError {
    /// The key file is unreadable or not a service-account key.
    #[error("the Google service-account key {path}: {reason}")]
    Key {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A URL is not https (nor http to loopback).
    #[error("{0}")]
    Url(String),
    /// The token exchange failed.
    #[error("Google refused the service account's token request: {0}")]
    Token(String),
    /// A request failed for good.
    #[error("Google Directory API {call}: {reason}")]
    Call {
        /// The call and page (`users.list page 3`).
        call: String,
        /// Why.
        reason: String,
    },
    /// Nested groups that contain themselves.
    #[error("nested Google groups form a cycle: {}", .0.join(" → "))]
    Cycle(Vec<String>),
}

/// The fields of a service-account key used here.
#[derive(Deserialize)]
struct Key {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    private_key: String,
    #[serde(default)]
    private_key_id: Option<String>,
    token_uri: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("client_email", &self.client_email)
            .finish_non_exhaustive()
    }
}

/// Checks a URL: https, or http to loopback only (a test server).
pub fn check_url(what: &str, url: &str) -> Result<url::Url, GoogleError> {
    crate::config::services::https_or_loopback(what, url).map_err(GoogleError::Url)
}

/// The key file, parsed.
fn read_key(path: &Path) -> Result<Key, GoogleError> {
    let fail = |reason: String| GoogleError::Key {
        path: path.display().to_string(),
        reason,
    };
    let bytes = crate::diag::data_file::read_data_file(path).map_err(|e| fail(e.to_string()))?;
    let key: Key = serde_json::from_slice(&bytes)
        .map_err(|e| fail(format!("not a service-account key ({e})")))?;
    if key.kind != "service_account" {
        return Err(fail(format!(
            "its type is {:?}, not \"service_account\"",
            key.kind
        )));
    }
    Ok(key)
}

/// Base64url without padding (JWT's encoding).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The signed assertion a service account trades for a token (RFC 7523).
fn assertion(key: &Key, settings: &GoogleSettings, now: i64) -> Result<String, String> {
    use rustls::pki_types::{PrivatePkcs8KeyDer, pem::PemObject};
    let der = PrivatePkcs8KeyDer::from_pem_slice(key.private_key.as_bytes())
        .map_err(|e| format!("private_key is not a PKCS#8 PEM key ({e})"))?;
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der())
        .map_err(|e| format!("private_key is not an RSA key ({e})"))?;
    let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = &key.private_key_id {
        header["kid"] = kid.clone().into();
    }
    let claims = serde_json::json!({
        "iss": key.client_email,
        "sub": settings.subject,
        "scope": if settings.groups {
            format!("{USER_SCOPE} {GROUP_SCOPES}")
        } else {
            USER_SCOPE.to_string()
        },
        "aud": key.token_uri,
        "iat": now,
        "exp": now + 3600,
    });
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let mut signature = vec![0; pair.public().modulus_len()];
    pair.sign(
        &ring::signature::RSA_PKCS1_SHA256,
        &ring::rand::SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| "signing failed".to_string())?;
    Ok(format!("{signing_input}.{}", base64url(&signature)))
}

/// An authorised session with the API.
struct Session {
    http: reqwest::Client,
    token: String,
    api: url::Url,
    retry_base: Duration,
}

/// The access token for `settings`' subject.
async fn access_token(
    http: &reqwest::Client,
    key: &Key,
    settings: &GoogleSettings,
) -> Result<String, GoogleError> {
    let token_uri = check_url("the key's token_uri", &key.token_uri)?;
    let now = chrono::Utc::now().timestamp();
    let jwt = assertion(key, settings, now).map_err(|reason| GoogleError::Key {
        path: settings.key_file.display().to_string(),
        reason,
    })?;
    let body = serde_urlencoded::to_string([
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", jwt.as_str()),
    ])
    .map_err(|e| GoogleError::Token(e.to_string()))?;
    let response = http
        .post(token_uri)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| GoogleError::Token(e.without_url().to_string()))?;
    let status = response.status();
    let json: Value = response
        .json()
        .await
        .map_err(|e| GoogleError::Token(format!("HTTP {status}, not JSON ({e})")))?;
    match json.get("access_token").and_then(Value::as_str) {
        Some(token) if status.is_success() => Ok(token.to_string()),
        _ => Err(GoogleError::Token(format!(
            "HTTP {}: {} {}",
            status.as_u16(),
            json.get("error")
                .and_then(Value::as_str)
                .unwrap_or("no token"),
            json.get("error_description")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ))),
    }
}

impl Session {
    /// Every page of a list call: `path` with `query`, items under `items`.
    async fn list(
        &self,
        call: &str,
        path: &str,
        query: &[(&str, String)],
        items: &str,
    ) -> Result<Vec<Value>, GoogleError> {
        let mut all = Vec::new();
        let mut page_token: Option<String> = None;
        for page in 1.. {
            let mut url = self.api.clone();
            url.set_path(&format!("{}{path}", self.api.path().trim_end_matches('/')));
            {
                let mut pairs = url.query_pairs_mut();
                for (k, v) in query {
                    pairs.append_pair(k, v);
                }
                if let Some(t) = &page_token {
                    pairs.append_pair("pageToken", t);
                }
            }
            let where_ = format!("{call} page {page}");
            let json = self.get(&where_, url).await?;
            if let Some(list) = json.get(items) {
                let list = list.as_array().ok_or_else(|| GoogleError::Call {
                    call: where_.clone(),
                    reason: format!("{items:?} is not a list"),
                })?;
                all.extend(list.iter().cloned());
            }
            page_token = json
                .get("nextPageToken")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_string);
            if page_token.is_none() {
                break;
            }
        }
        Ok(all)
    }

    /// One GET, retried on 429 and 5xx up to [`ATTEMPTS`] times.
    async fn get(&self, call: &str, url: url::Url) -> Result<Value, GoogleError> {
        let fail = |reason: String| GoogleError::Call {
            call: call.to_string(),
            reason,
        };
        let mut wait = self.retry_base;
        for attempt in 1..=ATTEMPTS {
            let response = match self
                .http
                .get(url.clone())
                .bearer_auth(&self.token)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) if attempt < ATTEMPTS => {
                    tracing::warn!(call, error = %e.without_url(), "Google request failed; retrying");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                    continue;
                }
                Err(e) => return Err(fail(e.without_url().to_string())),
            };
            let status = response.status();
            if status.is_success() {
                return response
                    .json()
                    .await
                    .map_err(|e| fail(format!("the answer is not whole JSON ({e})")));
            }
            let retry_after = retry_after(&response);
            let message = error_message(response).await;
            let retryable = status.as_u16() == 429 || status.is_server_error();
            if !retryable || attempt == ATTEMPTS {
                let tries = if retryable {
                    format!(" after {ATTEMPTS} attempts")
                } else {
                    String::new()
                };
                return Err(fail(format!("HTTP {}{tries}: {message}", status.as_u16())));
            }
            let delay = retry_after.unwrap_or(wait);
            if delay > MAX_RETRY_AFTER {
                return Err(fail(format!(
                    "HTTP {}: asked to retry after {}s",
                    status.as_u16(),
                    delay.as_secs()
                )));
            }
            tracing::warn!(
                call,
                status = status.as_u16(),
                "Google answered an error; retrying"
            );
            tokio::time::sleep(delay).await;
            wait *= 2;
        }
        unreachable!("the last attempt returns")
    }
}

/// A `Retry-After` in seconds.
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
        .map(Duration::from_secs)
}

/// Google's `error.message`, or the body's start.
async fn error_message(response: reqwest::Response) -> String {
    let text = response.text().await.unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_string))
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// Reads every user of the customer (and every group with its members, if asked): the
/// whole directory or an error.
pub async fn read(settings: &GoogleSettings) -> Result<Vec<GooglePerson>, GoogleError> {
    let api = check_url("google_workspace api_url", &settings.api_base)?;
    let key = read_key(&settings.key_file)?;
    let http = crate::scim::http_client_builder()
        .timeout(settings.timeout)
        .build()
        .map_err(|e| GoogleError::Token(e.to_string()))?;
    let token = access_token(&http, &key, settings).await?;
    let session = Session {
        http,
        token,
        api,
        retry_base: settings.retry_base,
    };
    let users = session
        .list(
            "users.list",
            "/admin/directory/v1/users",
            &[
                ("customer", settings.customer.clone()),
                ("maxResults", settings.page_size.to_string()),
                ("projection", "full".into()),
                ("orderBy", "email".into()),
            ],
            "users",
        )
        .await?;
    let memberships = if settings.groups {
        read_groups(&session, settings).await?
    } else {
        HashMap::new()
    };
    Ok(users
        .iter()
        .map(|user| {
            let id = user.get("id").and_then(Value::as_str).unwrap_or_default();
            GooglePerson {
                id: id.to_string(),
                fields: flatten_fields(user),
                groups: memberships
                    .get(id)
                    .map(|g| g.iter().cloned().collect())
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// User id → the names of every group they are in, nested groups flattened.
async fn read_groups(
    session: &Session,
    settings: &GoogleSettings,
) -> Result<HashMap<String, BTreeSet<String>>, GoogleError> {
    let groups = session
        .list(
            "groups.list",
            "/admin/directory/v1/groups",
            &[
                ("customer", settings.customer.clone()),
                ("maxResults", "200".into()),
            ],
            "groups",
        )
        .await?;
    let mut nodes = Vec::with_capacity(groups.len());
    for group in &groups {
        let text = |field: &str| group.get(field).and_then(Value::as_str).unwrap_or_default();
        let (id, email) = (text("id"), text("email"));
        let members = session
            .list(
                &format!("members.list of {email}"),
                &format!("/admin/directory/v1/groups/{id}/members"),
                &[("maxResults", "200".into())],
                "members",
            )
            .await?;
        let name = match settings.group_name {
            GroupName::Name if !text("name").is_empty() => text("name"),
            _ => email,
        };
        nodes.push(GroupNode {
            key: id.to_string(),
            name: name.to_string(),
            members: members
                .iter()
                .filter_map(|m| m.get("id").and_then(Value::as_str).map(str::to_string))
                .collect(),
        });
    }
    flatten_groups(nodes).map_err(GoogleError::Cycle)
}

/// A user's fields as `dotted.path → text`: objects nest with dots; a list of objects gives
/// its primary (or first) element under the list's name and each typed element under its
/// type (`relations.manager.value`); a list of plain values is joined with `;`.
pub fn flatten_fields(user: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    flatten_into(&mut out, String::new(), user);
    out
}

/// [`flatten_fields`] under `prefix`.
fn flatten_into(out: &mut Vec<(String, String)>, prefix: String, value: &Value) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_string()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                flatten_into(out, join(key), v);
            }
        }
        Value::Array(items) if items.iter().all(Value::is_object) => {
            let primary = items
                .iter()
                .find(|i| i.get("primary") == Some(&Value::Bool(true)))
                .or(items.first());
            if let Some(p) = primary {
                flatten_into(out, prefix.clone(), p);
            }
            for item in items {
                if let Some(kind) = item.get("type").and_then(Value::as_str)
                    && !kind.is_empty()
                {
                    flatten_into(out, join(kind), item);
                }
            }
        }
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().filter_map(scalar).collect();
            out.push((prefix, texts.join(";")));
        }
        other => {
            if let Some(text) = scalar(other) {
                out.push((prefix, text));
            }
        }
    }
}

/// A scalar as text (`null` as nothing).
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_no_padding_and_url_safe_letters() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn user_fields_flatten_to_dotted_paths() {
        let user = serde_json::json!({
            "primaryEmail": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "suspended": false,
            "organizations": [
                {"title": "Old", "department": "X"},
                {"title": "Engineer", "department": "Engineering", "primary": true}
            ],
            "relations": [{"type": "manager", "value": "grace@example.com"}],
            "nonEditableAliases": ["a@example.com", "b@example.com"],
            "thumbnailPhotoUrl": null
        });
        let fields: HashMap<_, _> = flatten_fields(&user).into_iter().collect();
        assert_eq!(fields["primaryEmail"], "ada@example.com");
        assert_eq!(fields["name.givenName"], "Ada");
        assert_eq!(fields["suspended"], "false");
        assert_eq!(fields["organizations.title"], "Engineer");
        assert_eq!(fields["organizations.department"], "Engineering");
        assert_eq!(fields["relations.manager.value"], "grace@example.com");
        assert_eq!(fields["nonEditableAliases"], "a@example.com;b@example.com");
        assert!(!fields.contains_key("thumbnailPhotoUrl"));
    }

    #[test]
    fn urls_are_https_or_loopback_http() {
        assert!(check_url("x", "https://oauth2.googleapis.com/token").is_ok());
        assert!(check_url("x", "http://127.0.0.1:8080/token").is_ok());
        let e = check_url("the key's token_uri", "http://evil.example/token").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the key's token_uri \"http://evil.example/token\": use https (plain http is allowed only to localhost/loopback)"
        );
    }
}
