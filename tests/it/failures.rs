//! Every failure names its cause: a request that gets no answer says whether the connection
//! was refused or reset, the TLS handshake failed or the wait timed out, with the host — not
//! reqwest's bare "error sending request".

use std::time::Duration;

use reqwest::Method;
use scimsync::scim::{ScimClient, Token, Version};

fn client(url: &str, timeout: Duration) -> ScimClient {
    ScimClient::new(
        url,
        Some(Version::V2),
        Token::new("xoxp-test-token").unwrap(),
        timeout,
    )
    .unwrap()
}

async fn error_of(url: &str, timeout: Duration) -> String {
    client(url, timeout)
        .send(Method::GET, "Users", None)
        .await
        .unwrap_err()
        .to_string()
}

#[tokio::test]
async fn a_refused_connection_names_the_host_and_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // dropped: nothing listens there now
    let e = error_of(
        &format!("http://127.0.0.1:{port}/scim/v2/"),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(
        e,
        format!("GET Users: connection refused by 127.0.0.1:{port}")
    );
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _hold = tokio::spawn(async move {
        let mut held = Vec::new();
        loop {
            let (s, _) = listener.accept().await.unwrap();
            held.push(s); // accept, never answer
        }
    });
    let e = error_of(
        &format!("http://127.0.0.1:{port}/scim/v2/"),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(
        e,
        format!("GET Users: timed out waiting for 127.0.0.1:{port}")
    );
}

#[tokio::test]
async fn a_dropped_connection_says_so() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (s, _) = listener.accept().await.unwrap();
            drop(s); // close without a word
        }
    });
    let e = error_of(
        &format!("http://127.0.0.1:{port}/scim/v2/"),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "GET Users: 127.0.0.1:{port} closed the connection"
        )) || e.starts_with(&format!("GET Users: connection reset by 127.0.0.1:{port}")),
        "{e}"
    );
}

#[tokio::test]
async fn https_to_a_plain_server_is_a_tls_failure() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        loop {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").await;
        }
    });
    let e = error_of(
        &format!("https://127.0.0.1:{port}/scim/v2/"),
        Duration::from_secs(5),
    )
    .await;
    assert!(
        e.starts_with(&format!(
            "GET Users: TLS handshake with 127.0.0.1:{port} failed"
        )),
        "{e}"
    );
    assert!(!e.contains("xoxp-"), "no token in an error");
}
