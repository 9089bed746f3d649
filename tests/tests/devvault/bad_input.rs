//! Malformed and hostile input gets a clear 4xx with a JSON error body, never a 5xx.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Client, SignedRequest, expect_error, json_of, start};

const SIGNED_ENDPOINTS: [&str; 4] = [
    "/sdk/token",
    "/sdk/oauth/audit/api-call",
    "/sdk/oauth/connect/session",
    "/sdk/oauth/connect/session/poll",
];

#[tokio::test]
async fn garbage_bodies_get_400_everywhere() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let bodies: [&[u8]; 9] = [
        b"",
        b"{",
        b"[]",
        b"null",
        b"\"text\"",
        b"42",
        b"{\"a\":1}{}",
        b"\xff\xfe",
        b"{\"provider_id\":{\"nested\":[1,2,3]},\"grant_id\":[],\"user_token\":7}",
    ];
    for path in SIGNED_ENDPOINTS {
        for body in bodies {
            let response = client
                .send(SignedRequest::new(Method::POST, path, body.to_vec()))
                .await;
            let (status, answer) = json_of(response).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body:?}: {answer}");
            assert_eq!(answer["error"], "invalid_request", "{path} {body:?}");
            assert!(answer["message"].is_string(), "{path} {body:?}");
        }
    }
}

#[tokio::test]
async fn token_request_shape_errors() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    let cases: Vec<(Value, &str)> = vec![
        (json!({"reason": null, "user_token": alice}), "provider_id"),
        (
            json!({"provider_id": "demo", "grant_id": "x", "user_token": alice}),
            "not both",
        ),
        (
            json!({"provider_id": "demo", "label": 3, "user_token": alice}),
            "label",
        ),
        (
            json!({"provider_id": "demo", "reason": 1, "user_token": alice}),
            "reason",
        ),
        (
            json!({"provider_id": "demo", "request": {"method": "GET"}, "user_token": alice}),
            "request.url",
        ),
        (
            json!({"provider_id": "demo", "request": "GET /", "user_token": alice}),
            "request",
        ),
        (json!({"grant_id": "x", "label": "work"}), "label"),
        (
            json!({"provider_id": "demo", "user_token": alice, "app_user_id": "bob"}),
            "app_user_id",
        ),
    ];
    for (body, mentioned) in cases {
        let response = client.post("/sdk/token", &body).await;
        let error = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(mentioned), "{body}: {message}");
    }

    let response = client
        .post(
            "/sdk/token",
            &json!({"provider_id": "demo", "reason": null}),
        )
        .await;
    expect_error(response, StatusCode::BAD_REQUEST, "user_token_required").await;
}

#[tokio::test]
async fn connect_session_shape_errors() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    let long_label = "x".repeat(256);
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (json!({}), StatusCode::BAD_REQUEST, "user_token_required"),
        (
            json!({"user_token": alice, "allowed_providers": []}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "allowed_providers": [""]}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "allowed_providers": "demo"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "allowed_providers": ["github"]}),
            StatusCode::BAD_REQUEST,
            "unknown_provider",
        ),
        (
            json!({"user_token": alice, "return_url": "javascript:alert(1)"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "return_url": "/relative"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "requested_grant": {"label": long_label}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "requested_grant": {}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "requested_grant": {"label": "a", "colour": "red"}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "requested_grant": {"label": "a", "restrictions": {"allowed_verbs": ["GET"]}}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "requested_grant": {"label": "a", "restrictions": {"allowed_methods": []}}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "requested_grant": {"label": "a", "restrictions": ["GET"]}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "agent": "helper"}),
            StatusCode::NOT_FOUND,
            "agent_not_found",
        ),
        (
            json!({"user_token": alice, "grant_policy": {"max_ttl_seconds": 60, "ttl": 5}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "scope_constraint": ["*"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope_constraint",
        ),
        (
            json!({"user_token": alice, "scope_constraint": ["calendar.read"]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scope_constraint",
        ),
        (
            json!({"user_token": alice, "required_scopes": {"demo": "messages.write"}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "required_scopes": {"demo": ["a b"]}}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "required_scopes": {"github": ["repo"]}}),
            StatusCode::BAD_REQUEST,
            "unknown_provider",
        ),
        (
            json!({"user_token": alice, "metadata": "x"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "direct": true, "allowed_providers": null, "switch_account": "yes"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"user_token": alice, "repair_grant_id": "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"}),
            StatusCode::NOT_FOUND,
            "grant_not_found",
        ),
    ];
    for (body, status, code) in cases {
        let response = client.post("/sdk/oauth/connect/session", &body).await;
        let (actual, answer) = json_of(response).await;
        assert_eq!(actual, status, "{body}: {answer}");
        assert_eq!(answer["error"], code, "{body}: {answer}");
    }

    let response = client
        .post(
            "/sdk/oauth/connect/session/poll",
            &json!({"session_token": 5}),
        )
        .await;
    expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn bad_user_names_are_rejected() {
    let dev = start(true).await;
    let http = reqwest::Client::new();
    let long = "a".repeat(65);
    for name in [
        "Alice",
        "-alice",
        "al%20ice",
        "al%2Fice",
        "%FF",
        long.as_str(),
        "caf%C3%A9",
    ] {
        let response = http
            .post(format!("{}/dev/users/{name}/token", dev.base_url()))
            .send()
            .await
            .unwrap();
        let body = expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
        assert!(
            body["message"].as_str().unwrap().contains("user name"),
            "{name}: {body}"
        );
    }
    for query in [
        "expires_in=0",
        "expires_in=-5",
        "expires_in=soon",
        "expires_in=99999999999",
    ] {
        let response = http
            .post(format!("{}/dev/users/alice/token?{query}", dev.base_url()))
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    assert!(
        dev.users().is_empty(),
        "no user is created by a rejected request"
    );
}

#[tokio::test]
async fn oversized_body_is_rejected() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let body = vec![b' '; 2 * 1024 * 1024];
    let response = client
        .send(SignedRequest::new(Method::POST, "/sdk/token", body))
        .await;
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn oversized_demo_bodies_are_rejected() {
    let dev = start(true).await;
    let http = reqwest::Client::new();
    let body = vec![b'a'; 3 * 1024 * 1024];
    for path in [
        "/demo/oauth/token",
        "/demo/oauth/authorize",
        "/demo/api/messages",
    ] {
        let response = http
            .post(format!("{}{path}", dev.base_url()))
            .bearer_auth("x")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{path}: {status}");
    }
    let response = http
        .post(format!("{}/demo/oauth/token", dev.base_url()))
        .body(body)
        .send()
        .await
        .unwrap();
    expect_error(response, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let dev = start(true).await;
    let http = reqwest::Client::new();
    let missing = http
        .get(format!("{}/nowhere", dev.base_url()))
        .send()
        .await
        .unwrap();
    expect_error(missing, StatusCode::NOT_FOUND, "not_found").await;

    let wrong_method = http
        .get(format!("{}/dev/users/alice/token", dev.base_url()))
        .send()
        .await
        .unwrap();
    expect_error(
        wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;

    let client = Client::new(&dev);
    let signed_get = client
        .send(SignedRequest::new(Method::GET, "/sdk/token", Vec::new()))
        .await;
    expect_error(
        signed_get,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn demo_api_rejects_bad_bearer_and_bodies() {
    let dev = start(true).await;
    let client = Client::new(&dev);
    let alice = dev.user_token("alice");
    client
        .connect(
            &alice,
            json!({"required_scopes": {"demo": ["messages.write"]}}),
        )
        .await;
    let token = client.demo_token(&alice).await;
    let access_token = token["access_token"].as_str().unwrap();
    let http = reqwest::Client::new();
    let me = format!("{}/me", dev.demo_api_url());
    let messages = format!("{}/messages", dev.demo_api_url());

    let missing = http.get(&me).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    let challenge = missing.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(
        !challenge.contains("error="),
        "no error code without credentials: {challenge}"
    );

    for authorization in [
        "Bearer nope",
        "Basic abc",
        "Bearer",
        &format!("Token {access_token}"),
    ] {
        let response = http
            .get(&me)
            .header("authorization", authorization)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{authorization}"
        );
    }
    let lower_case = http
        .get(&me)
        .header("authorization", format!("bearer {access_token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lower_case.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );

    for body in [
        json!({}),
        json!({"text": ""}),
        json!({"text": 5}),
        json!({"text": "x".repeat(501)}),
    ] {
        let response = http
            .post(&messages)
            .bearer_auth(access_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let not_json = http
        .post(&messages)
        .bearer_auth(access_token)
        .body("text=hi")
        .send()
        .await
        .unwrap();
    expect_error(not_json, StatusCode::BAD_REQUEST, "invalid_request").await;
}
