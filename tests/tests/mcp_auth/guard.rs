//! The bearer guard in front of the rmcp endpoint and a REST route.

use std::sync::atomic::Ordering;
use std::time::Duration;

use reqwest::Method;
use rmcp::ServiceExt as _;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};

use crate::support::{Harness, Settings, served_user};

fn access_token(tokens: &Value) -> String {
    tokens["access_token"].as_str().unwrap().to_owned()
}

/// Signs in Alice and Bob, each with a connected grant, and opens a session for each. Returns
/// their access tokens and session ids, Alice's first.
async fn two_users_with_sessions(harness: &Harness) -> ((String, String), (String, String)) {
    harness.connect("alice").await;
    harness.connect("bob").await;
    let (_, alice) = harness.sign_in("alice").await;
    let (_, bob) = harness.sign_in("bob").await;
    let (alice, bob) = (access_token(&alice), access_token(&bob));
    let alice_session = harness.open_session(&alice).await;
    let bob_session = harness.open_session(&bob).await;
    ((alice, alice_session), (bob, bob_session))
}

#[tokio::test]
async fn session_belongs_to_its_opener() {
    let harness = Harness::start().await;
    let ((alice, alice_session), (bob, bob_session)) = two_users_with_sessions(&harness).await;
    let reply = harness.whoami(&alice, &alice_session, 1).await.unwrap();
    assert_eq!(served_user(&reply), "alice");
    let reply = harness.whoami(&bob, &bob_session, 2).await.unwrap();
    assert_eq!(served_user(&reply), "bob");

    // Bob's valid token on Alice's session neither runs as Alice nor reaches the session.
    assert_eq!(harness.whoami(&bob, &alice_session, 3).await, Err(404));
    let delete = harness
        .http
        .delete(harness.auth.resource())
        .header("authorization", format!("Bearer {bob}"))
        .header("mcp-session-id", &alice_session)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 404);
    let reply = harness.whoami(&alice, &alice_session, 4).await.unwrap();
    assert_eq!(served_user(&reply), "alice");
    harness.stop().await;
}

#[tokio::test]
async fn foreign_session_rejected_in_any_form() {
    let harness = Harness::start().await;
    let ((alice, alice_session), (bob, bob_session)) = two_users_with_sessions(&harness).await;

    // The stream of server messages on Alice's session opens for Alice only.
    let open_stream = |token: String| {
        harness
            .http
            .get(harness.auth.resource())
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "text/event-stream")
            .header("Mcp-Session-Id", &alice_session)
            .header("mcp-protocol-version", "2025-11-25")
            .send()
    };
    let stream = open_stream(alice.clone()).await.unwrap();
    assert_eq!(stream.status(), 200);
    drop(stream);
    let stream = open_stream(bob.clone()).await.unwrap();
    assert_eq!(stream.status(), 404);

    // rmcp reads the first of several session headers, and so does the guard.
    let call = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}},
    });
    let duplicated = harness
        .http
        .post(harness.auth.resource())
        .header("authorization", format!("Bearer {bob}"))
        .header("accept", "application/json, text/event-stream")
        .header("MCP-SESSION-ID", &alice_session)
        .header("mcp-session-id", &bob_session)
        .header("mcp-protocol-version", "2025-11-25")
        .json(&call)
        .send()
        .await
        .unwrap();
    assert_eq!(duplicated.status(), 404);
    harness.stop().await;
}

#[tokio::test]
async fn refreshed_token_keeps_session() {
    let harness = Harness::start().await;
    harness.connect("alice").await;
    let (client_id, tokens) = harness.sign_in("alice").await;
    let session = harness.open_session(&access_token(&tokens)).await;

    let response = harness
        .refresh(&client_id, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    let reply = harness
        .whoami(&access_token(&refreshed), &session, 1)
        .await
        .unwrap();
    assert_eq!(served_user(&reply), "alice");

    // A new authorization of the same user is a new family: it opens its own session.
    let (_, again) = harness.sign_in("alice").await;
    assert_eq!(
        harness.whoami(&access_token(&again), &session, 2).await,
        Err(404)
    );
    harness.stop().await;
}

#[tokio::test]
async fn session_needs_token_on_every_request() {
    let harness = Harness::start().await;
    harness.connect("alice").await;
    let (_, alice) = harness.sign_in("alice").await;
    let session = harness.open_session(&access_token(&alice)).await;
    let call = json!({
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "whoami", "arguments": {}},
    });
    let response = harness.mcp_post(None, Some(&session), &call).await;
    assert_eq!(response.status(), 401);
    let response = harness
        .mcp_post(Some("alter_at_forged"), Some(&session), &call)
        .await;
    assert_eq!(response.status(), 401);
    harness.stop().await;
}

#[tokio::test]
async fn rmcp_client_calls_tool() {
    let harness = Harness::start().await;
    harness.connect("alice").await;
    let (_, tokens) = harness.sign_in("alice").await;
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(harness.auth.resource())
            .auth_header(access_token(&tokens)),
    );
    let client = ().serve(transport).await.expect("the client connects");
    let tools = client.list_tools(None).await.unwrap();
    assert!(tools.tools.iter().any(|tool| tool.name == "whoami"));
    let result = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .unwrap();
    assert_eq!(result.structured_content.unwrap()["user"], "alice");
    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn token_for_other_resource_rejected() {
    let harness = Harness::start().await;
    let client_id = harness.register().await;
    let code = harness
        .issue_code_for(&client_id, "alice", "http://127.0.0.1:1/mcp")
        .await;
    let response = harness
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", crate::support::REDIRECT_URI),
            ("client_id", &client_id),
            ("code_verifier", crate::support::VERIFIER),
        ])
        .await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let message = json!({"jsonrpc": "2.0", "id": 0, "method": "tools/list"});
    let response = harness
        .mcp_post(Some(&access_token(&tokens)), None, &message)
        .await;
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    harness.stop().await;
}

#[tokio::test]
async fn expired_access_token_rejected() {
    let harness = Harness::start_with(Settings {
        access_token_lifetime: Duration::from_secs(1),
        ..Settings::default()
    })
    .await;
    let (_, tokens) = harness.sign_in("alice").await;
    assert_eq!(tokens["expires_in"], 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let response = harness
        .http
        .get(harness.url("/api/me"))
        .bearer_auth(access_token(&tokens))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    harness.stop().await;
}

#[tokio::test]
async fn rest_route_needs_token() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .get(harness.url("/api/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer resource_metadata="),
        "{challenge}"
    );
    let response = harness
        .http
        .get(harness.url("/api/me"))
        .header("authorization", "Basic dXNlcjpwYXNz")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    harness.stop().await;
}

#[tokio::test]
async fn options_without_token_skips_handler() {
    let harness = Harness::start().await;
    let response = harness
        .http
        .request(Method::OPTIONS, harness.url("/api/any-method"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["allow"], "GET, POST, DELETE, OPTIONS");
    assert_eq!(response.text().await.unwrap(), "");

    let response = harness
        .http
        .post(harness.url("/api/any-method"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    harness.stop().await;
}

#[tokio::test]
async fn store_unavailable_gets_503() {
    let harness = Harness::start().await;
    let (_, tokens) = harness.sign_in("alice").await;
    harness.store.down.store(true, Ordering::SeqCst);
    let response = harness
        .http
        .get(harness.url("/api/me"))
        .bearer_auth(access_token(&tokens))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    harness.store.down.store(false, Ordering::SeqCst);
    harness.stop().await;
}
