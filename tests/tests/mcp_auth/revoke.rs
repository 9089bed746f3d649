//! The revocation endpoint.

use serde_json::Value;

use crate::support::{Harness, post_form};

async fn revoke(harness: &Harness, form: &[(&str, &str)]) -> reqwest::Response {
    post_form(&harness.http, &harness.url("/revoke"), form)
        .send()
        .await
        .unwrap()
}

async fn api_status(harness: &Harness, access_token: &str) -> u16 {
    harness
        .http
        .get(harness.url("/api/me"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn token<'a>(body: &'a Value, name: &str) -> &'a str {
    body[name].as_str().unwrap()
}

#[tokio::test]
async fn unknown_token_gets_200() {
    let harness = Harness::start().await;
    for form in [
        &[("token", "alter_rt_unknown")][..],
        &[("token", "whatever"), ("token_type_hint", "access_token")],
        &[("token", "whatever"), ("token_type_hint", "something_else")],
    ] {
        let response = revoke(&harness, form).await;
        assert_eq!(response.status(), 200);
    }
    harness.stop().await;
}

#[tokio::test]
async fn revoking_refresh_token_revokes_family() {
    let harness = Harness::start().await;
    let (client_id, first) = harness.sign_in("alice").await;
    let response = harness
        .refresh(&client_id, token(&first, "refresh_token"))
        .await;
    let second: Value = response.json().await.unwrap();

    let response = revoke(
        &harness,
        &[
            ("token", token(&second, "refresh_token")),
            ("token_type_hint", "refresh_token"),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        api_status(&harness, token(&first, "access_token")).await,
        401
    );
    assert_eq!(
        api_status(&harness, token(&second, "access_token")).await,
        401
    );
    let refresh = harness
        .refresh(&client_id, token(&second, "refresh_token"))
        .await;
    assert_eq!(refresh.status(), 400);
    harness.stop().await;
}

#[tokio::test]
async fn revoking_access_token_keeps_refresh() {
    let harness = Harness::start().await;
    let (client_id, tokens) = harness.sign_in("alice").await;
    let response = revoke(&harness, &[("token", token(&tokens, "access_token"))]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        api_status(&harness, token(&tokens, "access_token")).await,
        401
    );
    let refresh = harness
        .refresh(&client_id, token(&tokens, "refresh_token"))
        .await;
    assert_eq!(refresh.status(), 200);
    harness.stop().await;
}

#[tokio::test]
async fn wrong_hint_still_revokes() {
    let harness = Harness::start().await;
    let (client_id, tokens) = harness.sign_in("alice").await;
    let response = revoke(
        &harness,
        &[
            ("token", token(&tokens, "refresh_token")),
            ("token_type_hint", "access_token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    let refresh = harness
        .refresh(&client_id, token(&tokens, "refresh_token"))
        .await;
    assert_eq!(refresh.status(), 400);

    let (_, tokens) = harness.sign_in("bob").await;
    let response = revoke(
        &harness,
        &[
            ("token", token(&tokens, "access_token")),
            ("token_type_hint", "refresh_token"),
        ],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        api_status(&harness, token(&tokens, "access_token")).await,
        401
    );
    harness.stop().await;
}

#[tokio::test]
async fn other_client_cannot_revoke() {
    let harness = Harness::start().await;
    let (_, tokens) = harness.sign_in("alice").await;
    let other_client = harness.register().await;
    let response = revoke(
        &harness,
        &[
            ("token", token(&tokens, "access_token")),
            ("client_id", &other_client),
        ],
    )
    .await;
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(
        api_status(&harness, token(&tokens, "access_token")).await,
        200
    );
    harness.stop().await;
}

#[tokio::test]
async fn malformed_revocations_rejected() {
    let harness = Harness::start().await;
    let response = revoke(&harness, &[("token_type_hint", "access_token")]).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    let response = harness
        .http
        .post(harness.url("/revoke"))
        .json(&serde_json::json!({"token": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    harness.stop().await;
}
