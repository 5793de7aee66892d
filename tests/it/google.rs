//! The `google_workspace:` source against a local server that answers as Google's OAuth
//! token endpoint and Admin SDK Directory API document (paging with `nextPageToken`, their
//! error bodies, `Retry-After`), from the shapes kept in tests/fixtures/google/.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use scimsync::directory::google::{GoogleError, GoogleSettings, GroupName, read};

/// The fixtures folder.
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/google")
}

/// A fixture's text.
fn fixture(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap()
}

/// The access token the server hands out.
const TOKEN: &str = "ya29.c.test-access-token";
/// The admin the service account acts as.
pub const SUBJECT: &str = "admin@example.com";

/// What the server does wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing.
    None,
    /// `users.list` page 3 answers 503 this many times.
    Page3Unavailable(u32),
    /// `users.list` page 2 answers 429 with `Retry-After: 1` once.
    Page2RateLimited,
    /// Every Directory API call answers 401.
    Unauthorized,
    /// The token endpoint refuses (domain-wide delegation not granted).
    NoDelegation,
}

/// The server's state: its fault and every request it saw.
#[derive(Debug)]
pub struct Seen {
    fault: Fault,
    /// `METHOD path?query → status`, in order.
    pub log: Vec<String>,
    token_uri: String,
}

type Shared = Arc<Mutex<Seen>>;

/// A running fake Google, with a key file whose `token_uri` points at it.
pub struct FakeGoogle {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// What it saw.
    pub seen: Shared,
    /// The service-account key file.
    pub key_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl FakeGoogle {
    /// Starts the server.
    pub async fn start(fault: Fault) -> FakeGoogle {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Seen {
            fault,
            log: Vec::new(),
            token_uri: format!("{url}/token"),
        }));
        let app = axum::Router::new()
            .route("/token", post(token))
            .route("/admin/directory/v1/users", get(users))
            .route("/admin/directory/v1/groups", get(groups))
            .route("/admin/directory/v1/groups/{id}/members", get(members))
            .with_state(Arc::clone(&seen));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("service-account.json");
        std::fs::write(
            &key_file,
            fixture("service-account.json").replace("TOKEN_URI", &format!("{url}/token")),
        )
        .unwrap();
        FakeGoogle {
            url,
            seen,
            key_file,
            _dir: dir,
        }
    }

    /// Settings reading this server, groups included, retries 10 ms apart.
    pub fn settings(&self) -> GoogleSettings {
        GoogleSettings {
            key_file: self.key_file.clone(),
            subject: SUBJECT.into(),
            customer: "my_customer".into(),
            api_base: self.url.clone(),
            groups: true,
            group_name: GroupName::Name,
            page_size: 10,
            timeout: Duration::from_secs(10),
            retry_base: Duration::from_millis(10),
        }
    }

    /// The requests seen.
    pub fn log(&self) -> Vec<String> {
        self.seen.lock().unwrap().log.clone()
    }
}

/// A JSON answer.
fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [("content-type", "application/json; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// Base64url (no padding) decoded.
fn unbase64url(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => panic!("not base64url: {c}"),
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        acc = (acc << 6) | u32::from(value(c));
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff).to_le_bytes()[0]);
        }
    }
    out
}

/// Why a JWT bearer assertion is refused, if it is: its RS256 signature must verify with the
/// fixture key's public half, and its claims must name the account, subject, audience and
/// read-only directory scopes.
fn refuse_assertion(assertion: &str, token_uri: &str) -> Option<String> {
    let parts: Vec<&str> = assertion.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Some("not a JWT".into());
    };
    let key: serde_json::Value = serde_json::from_str(&fixture("service-account.json")).unwrap();
    let pem = key["private_key"].as_str().unwrap();
    use rustls::pki_types::{PrivatePkcs8KeyDer, pem::PemObject};
    let der = PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes()).unwrap();
    let pair = ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap();
    use ring::signature::KeyPair;
    let public = ring::signature::UnparsedPublicKey::new(
        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        pair.public_key().as_ref().to_vec(),
    );
    if public
        .verify(
            format!("{header}.{claims}").as_bytes(),
            &unbase64url(signature),
        )
        .is_err()
    {
        return Some("Invalid JWT Signature.".into());
    }
    let header: serde_json::Value = serde_json::from_slice(&unbase64url(header)).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&unbase64url(claims)).unwrap();
    let scope = claims["scope"].as_str().unwrap_or_default();
    let good = header["alg"] == "RS256"
        && header["kid"] == key["private_key_id"]
        && claims["iss"] == key["client_email"]
        && claims["sub"] == SUBJECT
        && claims["aud"] == token_uri
        && scope.contains("admin.directory.user.readonly")
        && seen_groups_scope(scope)
        && claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() == 3600;
    (!good).then(|| format!("bad claims: {claims}"))
}

/// Whether the scopes are the user scope alone, or it with both group scopes.
fn seen_groups_scope(scope: &str) -> bool {
    let scopes: Vec<&str> = scope.split(' ').collect();
    let group = scopes
        .iter()
        .filter(|s| s.contains("admin.directory.group"))
        .count();
    scopes.len() == 1 + group && (group == 0 || group == 2)
}

async fn token(State(seen): State<Shared>, body: String) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap();
    let mut seen = seen.lock().unwrap();
    let answer = if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"unsupported_grant_type"}"#.into(),
        )
    } else if let Some(why) = refuse_assertion(&form["assertion"], &seen.token_uri) {
        let body = serde_json::json!({"error": "invalid_grant", "error_description": why});
        json(StatusCode::BAD_REQUEST, body.to_string())
    } else if seen.fault == Fault::NoDelegation {
        json(
            StatusCode::UNAUTHORIZED,
            fixture("token-unauthorized-client.json"),
        )
    } else {
        json(StatusCode::OK, fixture("token.json"))
    };
    seen.log
        .push(format!("POST /token → {}", answer.status().as_u16()));
    answer
}

/// The 401 answer unless the request carries the token handed out (or the fault is on).
fn unauthorised(seen: &Seen, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    (seen.fault == Fault::Unauthorized || bearer != Some(TOKEN))
        .then(|| json(StatusCode::UNAUTHORIZED, fixture("error-401.json")))
}

async fn users(
    State(seen): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let mut seen = seen.lock().unwrap();
    let page = q.get("pageToken").map_or("p1", String::as_str).to_string();
    assert_eq!(q["customer"], "my_customer");
    assert_eq!(q["maxResults"], "10");
    let answer = if let Some(denied) = unauthorised(&seen, &headers) {
        denied
    } else {
        match (seen.fault, page.as_str()) {
            (Fault::Page3Unavailable(n), "p3") if n > 0 => {
                seen.fault = Fault::Page3Unavailable(n - 1);
                json(StatusCode::SERVICE_UNAVAILABLE, fixture("error-503.json"))
            }
            (Fault::Page2RateLimited, "p2") => {
                seen.fault = Fault::None;
                let mut r = json(StatusCode::TOO_MANY_REQUESTS, fixture("error-429.json"));
                r.headers_mut().insert("retry-after", "1".parse().unwrap());
                r
            }
            (_, p) => json(
                StatusCode::OK,
                fixture(&format!("users-page{}.json", &p[1..])),
            ),
        }
    };
    seen.log
        .push(format!("GET users {page} → {}", answer.status().as_u16()));
    answer
}

async fn groups(State(seen): State<Shared>, headers: HeaderMap) -> Response {
    let mut seen = seen.lock().unwrap();
    let answer = unauthorised(&seen, &headers)
        .unwrap_or_else(|| json(StatusCode::OK, fixture("groups.json")));
    seen.log
        .push(format!("GET groups → {}", answer.status().as_u16()));
    answer
}

async fn members(
    State(seen): State<Shared>,
    headers: HeaderMap,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    let mut seen = seen.lock().unwrap();
    let answer = unauthorised(&seen, &headers)
        .unwrap_or_else(|| json(StatusCode::OK, fixture(&format!("members-{id}.json"))));
    seen.log
        .push(format!("GET members {id} → {}", answer.status().as_u16()));
    answer
}

/// Email → groups of a read.
fn emails_and_groups(
    people: &[scimsync::directory::google::GooglePerson],
) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<_> = people
        .iter()
        .map(|p| {
            let mail = p.fields.iter().find(|(k, _)| k == "primaryEmail").unwrap();
            (mail.1.clone(), p.groups.clone())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_page_and_every_group_is_read() {
    let google = FakeGoogle::start(Fault::None).await;
    let people = read(&google.settings()).await.unwrap();
    assert_eq!(people.len(), 23);
    let got = emails_and_groups(&people);
    let groups_of = |mail: &str| got.iter().find(|(m, _)| m == mail).unwrap().1.clone();
    assert_eq!(
        groups_of("donald.knuth@example.com"),
        ["backend", "engineering", "staff"]
    );
    assert_eq!(groups_of("ken.thompson@example.com"), ["sales", "staff"]);
    assert!(groups_of("tony.hoare@example.com").is_empty());
    let log = google.log();
    assert_eq!(
        log[..4],
        [
            "POST /token → 200",
            "GET users p1 → 200",
            "GET users p2 → 200",
            "GET users p3 → 200"
        ]
    );
    assert_eq!(log.len(), 4 + 1 + 4, "{log:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_503_on_page_3_is_retried_and_then_fails_the_read() {
    // Twice: the retries get through.
    let google = FakeGoogle::start(Fault::Page3Unavailable(2)).await;
    assert_eq!(read(&google.settings()).await.unwrap().len(), 23);
    // Always: four attempts, then the whole read fails.
    let google = FakeGoogle::start(Fault::Page3Unavailable(u32::MAX)).await;
    let e = read(&google.settings()).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "Google Directory API users.list page 3: HTTP 503 after 4 attempts: The service is currently unavailable."
    );
    let p3 = google
        .log()
        .iter()
        .filter(|l| l.starts_with("GET users p3"))
        .count();
    assert_eq!(p3, 4);
    assert!(!google.log().iter().any(|l| l.starts_with("GET groups")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_waits_its_retry_after() {
    let google = FakeGoogle::start(Fault::Page2RateLimited).await;
    let started = Instant::now();
    assert_eq!(read(&google.settings()).await.unwrap().len(), 23);
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert!(google.log().contains(&"GET users p2 → 429".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_401_or_a_refused_token_fails_at_once() {
    let google = FakeGoogle::start(Fault::Unauthorized).await;
    let e = read(&google.settings()).await.unwrap_err();
    assert!(
        matches!(&e, GoogleError::Call { call, reason } if call == "users.list page 1" && reason.starts_with("HTTP 401: Request had invalid authentication credentials")),
        "{e}"
    );
    assert_eq!(google.log().len(), 2);
    let google = FakeGoogle::start(Fault::NoDelegation).await;
    let e = read(&google.settings()).await.unwrap_err().to_string();
    assert!(
        e.starts_with(
            "Google refused the service account's token request: HTTP 401: unauthorized_client"
        ),
        "{e}"
    );
    assert!(!e.contains("ya29"));
    // Another subject: the assertion does not verify as the server expects.
    let google = FakeGoogle::start(Fault::None).await;
    let settings = GoogleSettings {
        subject: "someone@else.example".into(),
        ..google.settings()
    };
    let e = read(&settings).await.unwrap_err().to_string();
    assert!(e.contains("invalid_grant"), "{e}");
}

// ---- the source end to end: the binary against the emulator ----

use crate::harness::{org, run_text, write_config_with};
use scimsync::scim::Version;

const SCOPE: &str = "scope: {email_domains: [example.com]}\n";

/// The `google_workspace:` source block reading `google`, groups included.
fn google_source(google: &FakeGoogle) -> String {
    format!(
        "  - google_workspace:\n      key_file: {key}\n      subject: {SUBJECT}\n      \
         api_url: {url}\n      groups: true\n      page_size: 10\n    \
         columns: {{email: primaryEmail, given_name: name.givenName, family_name: \
         name.familyName, title: organizations.title, department: organizations.department}}\n    \
         min_users: 20\n",
        key = google.key_file.display(),
        url = google.url,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_google_source_plans_like_the_equivalent_csv() {
    let google = FakeGoogle::start(Fault::None).await;
    let o = org().await;
    let url = o.emu.base_url(Version::V2);
    let (from_csv, from_google) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::copy(
        fixtures().join("../ldap/people.csv"),
        from_csv.path().join("people.csv"),
    )
    .unwrap();
    let csv = "  - csv: people.csv\n    columns: {email: Email, given_name: First, family_name: \
               Last, title: Title, department: Department, groups: Groups}\n    min_users: 20\n";
    write_config_with(from_csv.path(), &url, csv, SCOPE);
    write_config_with(from_google.path(), &url, &google_source(&google), SCOPE);
    let csv_plan = crate::ldap::planned(&o, from_csv.path());
    assert_eq!(csv_plan["summary"]["create"], 23, "{csv_plan}");
    assert_eq!(csv_plan, crate::ldap::planned(&o, from_google.path()));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_google_read_failing_on_page_3_leaves_slack_untouched() {
    // 503 on every try of page 3 (the retries wait 1s, 2s, 4s: about 7 seconds).
    let google = FakeGoogle::start(Fault::Page3Unavailable(u32::MAX)).await;
    let o = org().await;
    let dir = tempfile::tempdir().unwrap();
    write_config_with(
        dir.path(),
        &o.emu.base_url(Version::V2),
        &google_source(&google),
        SCOPE,
    );
    let (code, out) = run_text(&o, dir.path(), &["apply"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the source google_workspace my_customer could not be read whole")
            && out.contains("users.list page 3: HTTP 503 after 4 attempts"),
        "{out}"
    );
    assert!(
        !out.contains(TOKEN) && !out.contains("PRIVATE KEY"),
        "{out}"
    );
    assert_eq!(o.emu.stats().writes, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn confined_a_google_source_and_its_key_file_are_refused_before_connecting() {
    let google = FakeGoogle::start(Fault::None).await;
    let o = org().await;
    let root = tempfile::tempdir().unwrap();
    let pr = root.path().join("pr");
    std::fs::create_dir(&pr).unwrap();
    std::fs::copy(&google.key_file, pr.join("key.json")).unwrap();
    let source = google_source(&google).replace(&google.key_file.display().to_string(), "key.json");
    std::fs::write(
        pr.join("scimsync.yaml"),
        format!("sources:\n{source}{SCOPE}"),
    )
    .unwrap();
    let ran = crate::harness::run_confined(
        &o,
        root.path(),
        &pr,
        &["plan", "--config", "pr/scimsync.yaml"],
    );
    let text = ran.text();
    assert_eq!(ran.code, 1, "{text}");
    assert!(
        text.contains("sources[0].google_workspace is refused under SCIMSYNC_CONFINE")
            && text.contains("sources[0].google_workspace.key_file is refused under SCIMSYNC_CONFINE, where a pull request's config cannot choose a key file to read"),
        "{text}"
    );
    assert!(google.log().is_empty(), "the server saw {:?}", google.log());
    assert_eq!(o.emu.stats().writes, 0);
}

#[test]
fn readmes_google_example_compiles_to_what_it_says() {
    use scimsync::config::{Config, EnvOverrides, SourceFormat};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scimsync.yaml"),
        crate::ldap::readme_example("google_workspace"),
    )
    .unwrap();
    let config = Config::load(&dir.path().join("scimsync.yaml"), &EnvOverrides::default())
        .unwrap_or_else(|e| panic!("{e:?}"));
    let SourceFormat::Google(google) = &config.sources[0].format else {
        panic!("a google_workspace source")
    };
    let s = &google.settings;
    assert_eq!(&*config.sources[0].display, "google_workspace my_customer");
    assert_eq!(s.key_file, Path::new("/run/secrets/google-sa.json"));
    assert_eq!(s.subject, "it-admin@example.com");
    assert_eq!(s.api_base, "https://admin.googleapis.com");
    assert!(s.groups);
    assert_eq!(s.group_name, GroupName::Name);
    // The groups column is there without being mapped.
    assert!(google.layout.columns.iter().any(|m| m.header == "groups"));
}
