//! Where a tool call finds its user: the HTTP request that carried the call, never the session.

use std::time::Duration;

use serde_json::{Value, json};

use crate::raw::RawSession;
use crate::support::{Harness, SESSION_HEADER};

fn served_user(reply: &Value) -> &str {
    reply["result"]["structuredContent"]["user"]
        .as_str()
        .unwrap_or_else(|| panic!("not a successful whoami: {reply}"))
}

#[tokio::test]
async fn session_serves_whoever_sends_the_call() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    harness.connect("bob", None).await;
    let (alice, bob) = (harness.token("alice"), harness.token("bob"));
    let session = RawSession::open(&harness.mcp_url(), &alice).await;

    let first = session.call(&alice, 1, "whoami", json!({})).await;
    assert_eq!(served_user(&first), "alice");
    let second = session.call(&bob, 2, "whoami", json!({})).await;
    assert_eq!(served_user(&second), "bob");
    let third = session.call(&alice, 3, "whoami", json!({})).await;
    assert_eq!(served_user(&third), "alice");

    harness.stop().await;
}

#[tokio::test]
async fn layer_token_wins_over_header() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    harness.connect("bob", None).await;
    let (alice, bob) = (harness.token("alice"), harness.token("bob"));
    let session = RawSession::open(&harness.session_mcp_url(), &bob).await;

    let bearer_bob = format!("Bearer {bob}");
    let headers = [
        ("authorization", bearer_bob.as_str()),
        (SESSION_HEADER, alice.as_str()),
    ];
    let reply = session
        .call_with_headers(&headers, 1, "whoami", json!({}))
        .await;
    assert_eq!(served_user(&reply), "alice");
    let reply = session
        .call_with_headers(&[("authorization", &bearer_bob)], 2, "whoami", json!({}))
        .await;
    assert_eq!(served_user(&reply), "bob");

    harness.stop().await;
}

#[tokio::test]
async fn call_without_user_is_rejected() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("alice", None).await;
    let session = RawSession::open(&harness.mcp_url(), &harness.token("alice")).await;

    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[], "this tool needs a signed-in user"),
        (
            &[("authorization", "Basic dXNlcjpwYXNz")],
            "uses a scheme other than Bearer",
        ),
        (
            &[("authorization", "Bearer a b")],
            "has data after the bearer token",
        ),
    ];
    for (id, (headers, message)) in (1..).zip(cases) {
        let reply = session
            .call_with_headers(headers, id, "whoami", json!({}))
            .await;
        assert_eq!(reply["error"]["code"], -32600, "{reply}");
        let text = reply["error"]["message"].as_str().unwrap();
        assert!(text.contains(message), "{text}");
        assert!(!text.contains("dXNlcjpwYXNz"), "{text}");
    }
    let reply = session
        .call(&harness.token("alice"), 9, "whoami", json!({}))
        .await;
    assert_eq!(served_user(&reply), "alice", "the session keeps serving");

    harness.stop().await;
}
