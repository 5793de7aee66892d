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

/// Slack goes away in the middle of an apply: after a short run of requests without an answer
/// the breaker opens, no new op is sent, the rest are skipped naming the cause, and `apply`
/// exits within seconds instead of retrying every remaining op in turn.
#[tokio::test(flavor = "multi_thread")]
async fn when_slack_goes_away_mid_apply_the_rest_is_skipped_within_seconds() {
    use scimsync::emulator::{EmulatorConfig, Faults, Store};
    let config = EmulatorConfig {
        faults: Faults {
            latency: Duration::from_millis(30),
            ..Faults::default()
        },
        ..EmulatorConfig::default()
    };
    let o = crate::harness::org_with(config, Store::new('W', 3)).await;
    // Slack, as reached through a proxy that the test pulls out: every connection dies and
    // new ones are refused.
    let upstream = o.emu.base_url(Version::V2);
    let upstream_addr = upstream
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let proxy = Proxy::start(upstream_addr).await;
    let url = upstream.replace(
        upstream
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap(),
        &proxy.addr,
    );
    let dir = tempfile::tempdir().unwrap();
    let mut people = String::from("users:\n");
    for i in 0..120 {
        people.push_str(&format!("  - {{email: p{i}@example.com}}\n"));
    }
    std::fs::write(dir.path().join("people.yaml"), people).unwrap();
    crate::harness::write_config_with(
        dir.path(),
        &url,
        "  - yaml: people.yaml\n",
        "scope: {email_domains: [example.com]}\nrate_limit: {time_scale: 100}\n",
    );
    let child =
        tokio::process::Command::from(crate::harness::apply_command(dir.path(), o.emu.token()))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let t = std::time::Instant::now();
    while o.emu.stats().writes < 10 {
        assert!(t.elapsed() < Duration::from_secs(20), "never wrote");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    proxy.pull_out();
    let gone = std::time::Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("apply ends")
        .unwrap();
    let waited = gone.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        waited < Duration::from_secs(12),
        "gave up {waited:?} after Slack went away"
    );
    assert!(
        stdout.contains("skipped, not sent: Slack did not answer")
            && stdout.contains("connection refused by 127.0.0.1:"),
        "{stdout}"
    );
}

/// A TCP proxy to the emulator that can be pulled out: its listener closes and every
/// connection through it dies.
struct Proxy {
    addr: String,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
            // Dropping the task drops the listener and the JoinSet, aborting every connection.
        });
        Proxy { addr, task }
    }

    fn pull_out(&self) {
        self.task.abort();
    }
}
