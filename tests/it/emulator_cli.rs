//! `scimsync emulator`'s flags for Slack's unkind readings, as the real binary takes them (the
//! names are kept stable: tests outside the crate use them).

use std::time::Duration;

use crate::harness;
use serde_json::{Value, json};

/// Starts the binary with `flags` (and no rate limits) and returns it with its v2 base URL.
async fn start(flags: &[&str]) -> (tokio::process::Child, String) {
    let mut c = harness::async_command();
    c.stderr(std::process::Stdio::null());
    let flags = [&["--no-rate-limits"], flags].concat();
    harness::emulator_process(c, &flags).await
}

async fn send(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let http = scimsync::scim::http_client_builder().build().unwrap();
    let mut r = http
        .request(method, format!("{url}{path}"))
        .bearer_auth("xoxp-it");
    if let Some(b) = body {
        r = r.json(&b);
    }
    let r = r.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name,
           "emails": [{"value": format!("{name}@example.com"), "primary": true}]})
}

fn group(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name})
}

#[tokio::test]
async fn the_flags_select_slacks_unkind_readings() {
    let (_child, url) = start(&[
        "--read-lag-ms",
        "1500",
        "--group-names",
        "duplicate",
        "--channels",
        "eng,#design",
    ])
    .await;
    use reqwest::Method;
    // A channel's name is taken for users, with no visible holder.
    let (status, body) = send(&url, Method::POST, "Users", Some(user("design"))).await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("username_taken"), "{body}");
    // Two groups of one name.
    assert_eq!(
        send(&url, Method::POST, "Groups", Some(group("Eng")))
            .await
            .0,
        201
    );
    assert_eq!(
        send(&url, Method::POST, "Groups", Some(group("Eng")))
            .await
            .0,
        201
    );
    // A new user is not listed until the lag has passed.
    let (status, created) = send(&url, Method::POST, "Users", Some(user("ada"))).await;
    assert_eq!(status, 201, "{created}");
    let filter = "Users?filter=userName%20eq%20%22ada%22";
    assert_eq!(
        send(&url, Method::GET, filter, None).await.1["totalResults"],
        0
    );
    tokio::time::sleep(Duration::from_millis(1700)).await;
    assert_eq!(
        send(&url, Method::GET, filter, None).await.1["totalResults"],
        1
    );
}

#[tokio::test]
async fn by_default_group_names_are_unique_and_reads_are_fresh() {
    let (_child, url) = start(&[]).await;
    use reqwest::Method;
    assert_eq!(
        send(&url, Method::POST, "Groups", Some(group("Eng")))
            .await
            .0,
        201
    );
    assert_eq!(
        send(&url, Method::POST, "Groups", Some(group("Eng")))
            .await
            .0,
        409
    );
    assert_eq!(
        send(&url, Method::POST, "Users", Some(user("general")))
            .await
            .0,
        409
    );
    assert_eq!(
        send(&url, Method::POST, "Users", Some(user("ada"))).await.0,
        201
    );
    let filter = "Users?filter=userName%20eq%20%22ada%22";
    assert_eq!(
        send(&url, Method::GET, filter, None).await.1["totalResults"],
        1
    );
}
