//! Dynamic client registration over HTTP, including hostile input.

use alter::mcp::auth::redirect_uri_matches;
use serde_json::{Value, json};

use crate::support::Harness;

async fn register(harness: &Harness, metadata: &Value) -> reqwest::Response {
    harness
        .http
        .post(harness.url("/register"))
        .json(metadata)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn claude_code_registration() {
    let harness = Harness::start().await;
    let response = register(
        &harness,
        &json!({
            "client_name": "claude-code",
            "redirect_uris": ["http://localhost:53123/callback"],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert!(
        body["client_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{body}"
    );
    assert!(body["client_id_issued_at"].as_u64().is_some(), "{body}");
    assert_eq!(body["client_name"], "claude-code");
    assert_eq!(body["token_endpoint_auth_method"], "none");
    assert_eq!(
        body["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(body["response_types"], json!(["code"]));
    assert_eq!(
        body["redirect_uris"],
        json!(["http://localhost:53123/callback"])
    );

    let client_id = body["client_id"].as_str().unwrap();
    let stored = harness.store.client_metadata(client_id).await;
    assert_eq!(stored, Some(body.clone()));
    harness.stop().await;
}

#[tokio::test]
async fn native_application_type_echoed() {
    let harness = Harness::start().await;
    let response = register(
        &harness,
        &json!({
            "redirect_uris": ["http://127.0.0.1:33418/"],
            "application_type": "native",
        }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["application_type"], "native");
    harness.stop().await;
}

#[tokio::test]
async fn invalid_redirect_uris_rejected() {
    let harness = Harness::start().await;
    for uri in [
        "http://localhost.evil.example:51353/callback",
        "http://example.com/callback",
        "https://app.example/callback#fragment",
        "callback",
        "javascript:alert(document.domain)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
    ] {
        let response = register(&harness, &json!({"redirect_uris": [uri]})).await;
        assert_eq!(response.status(), 400, "{uri}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_redirect_uri", "{uri}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn unsupported_metadata_rejected() {
    let harness = Harness::start().await;
    for metadata in [
        json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": "client_secret_basic"}),
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["implicit"]}),
        json!({"redirect_uris": ["https://app.example/cb"], "response_types": ["token"]}),
        json!({"redirect_uris": ["https://app.example/cb"], "client_name": 5}),
        json!(["https://app.example/cb"]),
    ] {
        let response = register(&harness, &metadata).await;
        assert_eq!(response.status(), 400, "{metadata}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{metadata}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn malformed_bodies_rejected() {
    let harness = Harness::start().await;
    let cases: [(&str, &str); 3] = [
        ("application/json", "{not json"),
        (
            "application/x-www-form-urlencoded",
            "redirect_uris=https://a.example/cb",
        ),
        ("text/plain", "{}"),
    ];
    for (content_type, body) in cases {
        let response = harness
            .http
            .post(harness.url("/register"))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{content_type}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client_metadata", "{content_type}");
    }
    harness.stop().await;
}

#[tokio::test]
async fn one_mebibyte_body_rejected() {
    let harness = Harness::start().await;
    let name = "x".repeat(1024 * 1024);
    let response = register(
        &harness,
        &json!({"redirect_uris": ["https://app.example/cb"], "client_name": name}),
    )
    .await;
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    harness.stop().await;
}

#[tokio::test]
async fn ten_thousand_redirect_uris_rejected() {
    let harness = Harness::start().await;
    let uris: Vec<String> = (0..10_000)
        .map(|i| format!("https://a.example/{i}"))
        .collect();
    let response = register(&harness, &json!({"redirect_uris": uris})).await;
    assert!(response.status().is_client_error(), "{}", response.status());
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");

    // Under the body cap, the count cap rejects the list.
    let uris: Vec<&str> = vec!["https://a.example/cb"; 11];
    let response = register(&harness, &json!({"redirect_uris": uris})).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_redirect_uri");
    harness.stop().await;
}

#[tokio::test]
async fn eight_kibibyte_values_rejected() {
    let harness = Harness::start().await;
    let long = "a".repeat(8 * 1024);
    let long_uri = format!("https://app.example/{long}");
    for (metadata, error) in [
        (json!({"redirect_uris": [long_uri]}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "client_name": long}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "token_endpoint_auth_method": long}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": ["https://app.example/cb"], "grant_types": [long]}),
            "invalid_client_metadata",
        ),
    ] {
        let response = register(&harness, &metadata).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], error);
        let description = body["error_description"].as_str().unwrap();
        assert!(
            description.len() < 1024,
            "the description repeats the value"
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn deeply_nested_json_rejected() {
    let harness = Harness::start().await;
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let response = harness
        .http
        .post(harness.url("/register"))
        .header("content-type", "application/json")
        .body(nested)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client_metadata");
    harness.stop().await;
}

#[test]
fn redirect_matching_cases() {
    assert!(redirect_uri_matches(
        "http://127.0.0.1:33418/",
        "http://127.0.0.1:40001/"
    ));
    assert!(!redirect_uri_matches(
        "https://app.example/cb",
        "https://app.example:8443/cb"
    ));
    assert!(!redirect_uri_matches(
        "http://localhost:51353/callback",
        "http://localhost.evil.example:51353/callback"
    ));
}
