//! Every `/sdk/*` request is verified; each way of breaking the signature is rejected with its
//! own 401 body.

use alter::protocol::api_key::KeyType;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{Client, SignedRequest, expect_error, json_of, now, start};

const POLL: &str = "/sdk/oauth/connect/session/poll";

fn poll_request() -> SignedRequest {
    SignedRequest::post_json(POLL, &json!({"session_token": "unknown"}))
}

/// Sends a correctly signed poll for an unknown session. The handler's 404 shows that the
/// signature passed.
async fn assert_accepted(client: &Client, request: SignedRequest) {
    let response = client.send(request).await;
    expect_error(response, StatusCode::NOT_FOUND, "connect_session_not_found").await;
}

#[tokio::test]
async fn valid_signature_reaches_handler() {
    let dev = start(false).await;
    assert_accepted(&Client::new(&dev), poll_request()).await;
}

#[tokio::test]
async fn bad_signature_is_rejected() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let mut request = poll_request();
    request.signature_override = Some("0".repeat(64));
    let body = expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("legacy"),
        "{body}"
    );

    let mut request = poll_request();
    request.signature_override = Some("not hex".into());
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;

    let other_key = Client::with_key(
        dev.base_url(),
        dev.mint_api_key(KeyType::Runtime).expose_secret(),
    );
    let mut request = poll_request();
    request.signature_override =
        Some(alter::protocol::signing::SigningKey::derive(other_key.api_key.as_str()).sign("x"));
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
}

#[tokio::test]
async fn replayed_nonce_is_rejected() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let request = poll_request();
    assert_accepted(&client, request.clone()).await;
    let body = expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "nonce_reused",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("X-Alter-Nonce"),
        "{body}"
    );

    let mut fresh = poll_request();
    fresh.timestamp = now();
    assert_accepted(&client, fresh).await;
}

#[tokio::test]
async fn rejected_request_does_not_burn_its_nonce() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let request = poll_request();
    let mut forged = request.clone();
    forged.signature_override = Some("0".repeat(64));
    expect_error(
        client.send(forged).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    assert_accepted(&client, request).await;
}

#[tokio::test]
async fn stale_and_future_timestamps_are_rejected() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    for timestamp in [now() - 301, now() + 400, 1_700_000_000] {
        let mut request = poll_request();
        request.timestamp = timestamp;
        let body = expect_error(
            client.send(request).await,
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        )
        .await;
        assert!(
            body["message"].as_str().unwrap().contains("300 seconds"),
            "{body}"
        );
    }
    let mut request = poll_request();
    request.timestamp = now() - 250;
    assert_accepted(&client, request).await;
}

#[tokio::test]
async fn malformed_timestamp_and_nonce_are_rejected() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let mut request = poll_request();
    request.nonce = "00112233445566778899AABBCCDDEEFF".into();
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_nonce",
    )
    .await;

    let mut request = poll_request();
    request.nonce = "short".into();
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_nonce",
    )
    .await;
}

#[tokio::test]
async fn unknown_api_key_is_rejected() {
    let dev = start(false).await;
    let well_formed_but_foreign = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";
    for key in [well_formed_but_foreign, "alter_rk_garbage", "x"] {
        let client = Client::with_key(dev.base_url(), key);
        let body = expect_error(
            client.send(poll_request()).await,
            StatusCode::UNAUTHORIZED,
            "invalid_key",
        )
        .await;
        assert!(
            body["message"].as_str().unwrap().contains("did not mint"),
            "{key}: {body}"
        );
    }

    let other = start(false).await;
    let client = Client::with_key(dev.base_url(), other.api_key().expose_secret());
    expect_error(
        client.send(poll_request()).await,
        StatusCode::UNAUTHORIZED,
        "invalid_key",
    )
    .await;

    let client = Client::new(&dev);
    let mut request = poll_request();
    request.omit_header = Some("x-api-key");
    let response = client.send(request).await;
    assert!(response.headers().get("x-alter-actor-id").is_none());
    let body = expect_error(response, StatusCode::UNAUTHORIZED, "invalid_key").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("missing x-api-key"),
        "{body}"
    );
}

#[tokio::test]
async fn every_minted_key_type_is_accepted() {
    let dev = start(false).await;
    for key_type in [
        KeyType::Runtime,
        KeyType::Agent,
        KeyType::Derived,
        KeyType::Publishable,
        KeyType::Legacy,
    ] {
        let key = dev.mint_api_key(key_type);
        assert!(alter::protocol::api_key::is_valid_key(key.expose_secret()));
        assert_eq!(key.key_type(), key_type);
        assert_accepted(
            &Client::with_key(dev.base_url(), key.expose_secret()),
            poll_request(),
        )
        .await;
    }
    assert!(dev.api_key().expose_secret().starts_with("alter_rk_"));
}

#[tokio::test]
async fn body_hash_mismatch_is_rejected() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let mut request = poll_request();
    request.sent_body = Some(br#"{"session_token":"other"}"#.to_vec());
    let body = expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "content_hash_mismatch",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("SHA-256"),
        "{body}"
    );

    let mut request = poll_request();
    request.hash_override = Some(alter::protocol::signing::content_sha256(b""));
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "content_hash_mismatch",
    )
    .await;
}

#[tokio::test]
async fn missing_signature_headers_are_rejected() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    for header in [
        "X-Alter-Timestamp",
        "X-Alter-Nonce",
        "X-Alter-Content-SHA256",
        "X-Alter-Signature",
    ] {
        let mut request = poll_request();
        request.omit_header = Some(header);
        let body = expect_error(
            client.send(request).await,
            StatusCode::UNAUTHORIZED,
            "missing_signature",
        )
        .await;
        assert!(
            body["message"].as_str().unwrap().contains(header),
            "{header}: {body}"
        );
    }
}

#[tokio::test]
async fn identity_headers_need_v2_signature() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let with_caller = || {
        let mut request = poll_request();
        request.caller = Some("report-bot".into());
        request.caller_type = Some("service".into());
        request.context = Some(r#"{"tool":"list"}"#.into());
        request
    };
    assert_accepted(&client, with_caller()).await;

    let mut request = with_caller();
    request.omit_v2_header = true;
    let body = expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("X-Alter-Signature-V2"),
        "{body}"
    );

    // Signed without the caller, sent with it: the legacy digest does not cover the header.
    let mut request = poll_request();
    let legacy = client.sign(&request);
    assert!(!legacy.v2);
    request.caller = Some("report-bot".into());
    request.signature_override = Some(legacy.signature);
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "invalid_signature",
    )
    .await;

    let mut request = with_caller();
    request.caller_type = Some("robot".into());
    expect_error(
        client.send(request).await,
        StatusCode::BAD_REQUEST,
        "invalid_identity_header",
    )
    .await;

    let mut request = with_caller();
    request.context = Some("[1,2]".into());
    expect_error(
        client.send(request).await,
        StatusCode::BAD_REQUEST,
        "invalid_identity_header",
    )
    .await;
}

#[tokio::test]
async fn actor_id_must_be_the_keys_own() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let first = client.send(poll_request()).await;
    let actor_id = first.headers()["x-alter-actor-id"]
        .to_str()
        .unwrap()
        .to_owned();

    let mut request = poll_request();
    request.actor_id = Some(actor_id);
    assert_accepted(&client, request).await;

    let mut request = poll_request();
    request.actor_id = Some("0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21".into());
    expect_error(
        client.send(request).await,
        StatusCode::UNAUTHORIZED,
        "actor_id_mismatch",
    )
    .await;
}

#[tokio::test]
async fn canonical_path_comes_from_raw_target() {
    let dev = start(false).await;
    let client = Client::new(&dev);

    let mut request = poll_request();
    request.path = format!("{POLL}?z=1&a=%7E&a=b+c");
    assert_accepted(&client, request).await;

    // The signature covers the decoded path, but routing uses the raw one.
    let request = SignedRequest::new(Method::GET, "/sdk/%74oken", Vec::new());
    let body = expect_error(
        client.send(request).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert!(
        body["message"].as_str().unwrap().contains("/sdk/%74oken"),
        "{body}"
    );
}

#[tokio::test]
async fn signed_unknown_endpoint_is_not_found() {
    let dev = start(false).await;
    let client = Client::new(&dev);
    let response = client
        .send(SignedRequest::new(
            Method::POST,
            "/sdk/agents/me",
            b"{}".to_vec(),
        ))
        .await;
    assert!(response.headers().contains_key("x-alter-actor-id"));
    expect_error(response, StatusCode::NOT_FOUND, "not_found").await;

    let unsigned = reqwest::Client::new()
        .post(format!("{}/sdk/agents/me", dev.base_url()))
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(unsigned).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "unknown endpoints verify first: {body}"
    );
}
