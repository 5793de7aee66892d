//! The SCIM client against the emulator: complete listings in `ceil(n/1000)` requests, both
//! error shapes parsed, and the token never in an error.

use std::sync::Arc;
use std::time::Duration;

use scimsync::emulator::{EmulatorConfig, Snapshot, Store, StoredGroup, StoredUser};
use scimsync::scim::caller::Caller;
use scimsync::scim::limits::Endpoint;
use scimsync::scim::{ScimClient, Token, Version};

use crate::harness::{BOTH, org, org_with};

fn client(url: &str, token: &str) -> Caller {
    let c = ScimClient::new(
        url,
        None,
        Token::new(token).unwrap(),
        Duration::from_secs(10),
    );
    let mut caller = Caller::new(Arc::new(c.unwrap()), 1.0, 1.0);
    caller.policy.max_attempts = 2;
    caller.policy.base = Duration::from_millis(1);
    caller
}

#[tokio::test]
async fn lists_everything_in_ceil_n_over_1000_pages() {
    let users = (0..2500)
        .map(|i| StoredUser::new(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let groups = (0..3)
        .map(|g| StoredGroup {
            display_name: format!("g{g}"),
            members: vec![format!("u{g}")],
            ..StoredGroup::default()
        })
        .collect();
    let store = Store::from_snapshot(Snapshot { users, groups }, 'W', 1, "t").unwrap();
    let o = org_with(EmulatorConfig::default(), store).await;
    for v in BOTH {
        o.emu.reset_stats();
        let c = client(&o.emu.base_url(v), o.emu.token());
        assert_eq!(c.client.version(), v);
        let users = c.list_users().await.unwrap();
        let groups = c.list_groups().await.unwrap();
        assert_eq!(users.len(), 2500);
        assert_eq!(groups.len(), 3);
        let mut ids: Vec<_> = users
            .iter()
            .map(|u| u.id.value().unwrap().clone())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 2500, "no duplicates");
        let s = o.emu.stats();
        assert_eq!(s.count("GET", Endpoint::UsersList), 3);
        assert_eq!(s.count("GET", Endpoint::GroupsList), 1);
        assert_eq!(s.writes, 0);
    }
}

#[tokio::test]
async fn errors_carry_slack_codes_and_never_the_token() {
    let o = org().await;
    for v in BOTH {
        let c = client(&o.emu.base_url(v), "xoxp-wrong-but-secret-1234");
        let err = c.list_users().await.unwrap_err();
        assert_eq!(err.status(), Some(401));
        assert_eq!(err.code(), Some("invalid_authentication"));
        let shown = format!("{err} {err:?} {:?}", c.client);
        assert!(!shown.contains("secret-1234"), "{shown}");
        assert!(shown.contains("invalid_authentication"), "{shown}");

        let c = client(&o.emu.base_url(v), o.emu.token());
        let err = c
            .client
            .send(reqwest::Method::GET, "Users/UNOPE", None)
            .await
            .unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (Some(404), Some("no_such_user"))
        );
        assert!(!err.is_transient());
    }
    let refused = ScimClient::new(
        "http://slack.example.com/scim/v2/",
        None,
        Token::new("x").unwrap(),
        Duration::from_secs(1),
    );
    assert!(refused.unwrap_err().to_string().contains("plain http"));
}

#[tokio::test]
async fn a_failed_page_fails_the_whole_listing() {
    let users = (0..1500)
        .map(|i| StoredUser::new(&format!("u{i}"), &format!("u{i}@example.com")))
        .collect();
    let store = Store::from_snapshot(
        Snapshot {
            users,
            groups: vec![],
        },
        'W',
        1,
        "t",
    )
    .unwrap();
    let faults = scimsync::emulator::Faults {
        error_rate: 1.0,
        ..Default::default()
    };
    let o = org_with(
        EmulatorConfig {
            faults,
            ..EmulatorConfig::default()
        },
        store,
    )
    .await;
    let c = client(&o.emu.base_url(Version::V2), o.emu.token());
    let err = c.list_users().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

/// A connection left idle past 5 s is not used again (a server may be closing it at that
/// moment, and a write sent on it would be lost unanswered); one used again within 5 s is
/// kept. A keep-alive server that counts the connections it accepts.
#[tokio::test(flavor = "multi_thread")]
async fn a_connection_idle_for_five_seconds_is_never_used_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/scim/v2/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                // Answers each request's headers (GETs: no body) on the same connection.
                while let Ok(n) = stream.read(&mut buf).await {
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let body = r#"{"totalResults": 0, "Resources": []}"#;
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: keep-alive\r\n\r\n{body}",
                            body.len()
                        );
                        if stream.write_all(reply.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    let client = ScimClient::new(
        &url,
        None,
        Token::new("xoxp-pool").unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    let get = || client.send(reqwest::Method::GET, "Users?count=1", None);
    get().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    get().await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "used again within 5 s");
    tokio::time::sleep(Duration::from_millis(6500)).await;
    get().await.unwrap();
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "idle past 5 s: a new connection"
    );
}
