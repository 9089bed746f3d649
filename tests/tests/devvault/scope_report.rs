//! Scope mismatches end to end: the demo API rejects a token that lacks a scope, the vault
//! client reports it in the background, DevVault flags the grant, and a connect session for
//! the error asks for the missing scope and clears the flag.

use std::time::Duration;

use alter::{Error, Method, Vault};
use serde_json::json;

use crate::support::{Client, follow, start};

#[tokio::test]
async fn insufficient_scope_is_reported_and_repaired() {
    let dev = start(true).await;
    let vault = Vault::builder(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .unwrap();
    let user_token = dev.user_token("alice");
    let alice = vault.with_user_token(user_token.as_str());
    let session = alice.create_connect_session().send().await.unwrap();
    follow(&session.connect_url).await;
    alice
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();
    let messages = format!("{}/messages", dev.demo_api_url());

    let error = alice
        .request(Method::POST, &messages)
        .provider("demo")
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap_err();
    let Error::ScopeReauthRequired(reauth) = &error else {
        panic!("expected a scope re-authorization error, got {error:?}");
    };
    assert_eq!(reauth.missing_scopes, ["messages.write"]);
    assert_eq!(reauth.source, "provider_insufficient_scope");
    vault.flush().await;

    let reports = dev.scope_mismatch_reports();
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let report = &reports[0];
    assert_eq!(report.user, "alice");
    assert_eq!(report.provider_status_code, 403);
    assert_eq!(report.provider_error_code, "insufficient_scope");
    assert_eq!(
        report.missing_scopes.as_deref(),
        Some(&["messages.write".to_owned()][..])
    );
    assert_eq!(report.api_endpoint, messages);
    assert_eq!(report.detection_source, "www_authenticate_rfc6750");
    assert_eq!(report.sdk_correlation_id.len(), 22);
    assert!(report.raw_www_authenticate.contains("insufficient_scope"));
    let client = Client::new(&dev);
    assert_eq!(client.demo_token(&user_token).await["scope_mismatch"], true);

    let session = alice
        .create_connect_session_for_error(&error)
        .unwrap()
        .send()
        .await
        .unwrap();
    follow(&session.connect_url).await;
    let grants = alice
        .wait_for_connect_session(session.session_token)
        .timeout(Duration::from_secs(30))
        .poll_interval(Duration::from_millis(20))
        .await
        .unwrap();
    assert!(grants[0].scopes.contains(&"messages.write".to_owned()));
    assert_eq!(grants[0].operation, "reauth");
    assert!(
        client
            .demo_token(&user_token)
            .await
            .get("scope_mismatch")
            .is_none(),
        "authorizing again clears the flag"
    );
    let posted = alice
        .request(Method::POST, &messages)
        .provider("demo")
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert!(posted.status().is_success());
}

#[tokio::test]
async fn scope_report_rejects_bad_bodies() {
    use crate::support::expect_error;
    use reqwest::StatusCode;

    let dev = start(true).await;
    let client = Client::new(&dev);
    let user_token = dev.user_token("alice");
    let grant = client.connect(&user_token, json!({})).await;
    let grant_id = grant["grant_id"].as_str().unwrap();
    let path = format!("/sdk/grants/{grant_id}/report-scope-mismatch");
    let valid = json!({
        "provider_status_code": 403,
        "provider_error_code": "insufficient_scope",
        "missing_scopes": null,
        "raw_www_authenticate": "Bearer error=\"insufficient_scope\"",
        "api_endpoint": "https://api.example/x",
        "detection_source": "www_authenticate_rfc6750",
        "sdk_correlation_id": "abc",
    });
    let accepted = client.post(&path, &valid).await;
    assert_eq!(accepted.status(), StatusCode::NO_CONTENT);

    for (key, value) in [
        ("provider_status_code", json!("403")),
        ("provider_status_code", json!(1000)),
        ("missing_scopes", json!("scope")),
        ("missing_scopes", json!([1])),
        ("api_endpoint", json!(null)),
        ("sdk_correlation_id", json!("")),
    ] {
        let mut body = valid.clone();
        body[key] = value.clone();
        let response = client.post(&path, &body).await;
        expect_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
    let unknown = client
        .post(
            "/sdk/grants/6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f/report-scope-mismatch",
            &valid,
        )
        .await;
    expect_error(unknown, StatusCode::NOT_FOUND, "grant_not_found").await;
}
