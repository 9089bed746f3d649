//! The refresh-token grant: rotation, the grace window, reuse detection and concurrency.

use std::time::Duration;

use serde_json::Value;

use crate::support::{Harness, Settings, post_form};

fn token(body: &Value, name: &str) -> String {
    body[name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {body}"))
        .to_owned()
}

async fn refreshed(harness: &Harness, client_id: &str, refresh_token: &str) -> Value {
    let response = harness.refresh(client_id, refresh_token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn error_code(response: reqwest::Response) -> String {
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().unwrap().to_owned()
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

/// Returns settings with a grace window of two seconds. A test waits three seconds to be past
/// it.
fn short_grace() -> Settings {
    Settings {
        refresh_grace: Duration::from_secs(2),
        ..Settings::default()
    }
}

const PAST_GRACE: Duration = Duration::from_secs(3);

#[tokio::test]
async fn refresh_rotates_token() {
    let harness = Harness::start().await;
    let (client_id, first) = harness.sign_in("alice").await;
    let rt1 = token(&first, "refresh_token");
    let second = refreshed(&harness, &client_id, &rt1).await;
    let rt2 = token(&second, "refresh_token");
    assert_ne!(rt1, rt2);
    assert_eq!(second["token_type"], "Bearer");
    assert_eq!(second["scope"], "mcp");
    assert_eq!(
        api_status(&harness, &token(&second, "access_token")).await,
        200
    );
    let third = refreshed(&harness, &client_id, &rt2).await;
    assert_eq!(
        api_status(&harness, &token(&third, "access_token")).await,
        200
    );
    harness.stop().await;
}

#[tokio::test]
async fn reuse_within_grace_issues_sibling() {
    let harness = Harness::start().await;
    let (client_id, first) = harness.sign_in("alice").await;
    let rt1 = token(&first, "refresh_token");
    let second = refreshed(&harness, &client_id, &rt1).await;
    let sibling = refreshed(&harness, &client_id, &rt1).await;
    let (rt2, rt2b) = (
        token(&second, "refresh_token"),
        token(&sibling, "refresh_token"),
    );
    assert_ne!(rt2, rt2b);
    for body in [&second, &sibling] {
        assert_eq!(
            api_status(&harness, &token(body, "access_token")).await,
            200
        );
    }
    refreshed(&harness, &client_id, &rt2).await;
    refreshed(&harness, &client_id, &rt2b).await;
    harness.stop().await;
}

#[tokio::test]
async fn reuse_after_grace_revokes_family() {
    let harness = Harness::start_with(short_grace()).await;
    let (client_id, first) = harness.sign_in("alice").await;
    let rt1 = token(&first, "refresh_token");
    let second = refreshed(&harness, &client_id, &rt1).await;
    let rt2 = token(&second, "refresh_token");
    let at2 = token(&second, "access_token");

    tokio::time::sleep(PAST_GRACE).await;
    let reuse = harness.refresh(&client_id, &rt1).await;
    assert_eq!(error_code(reuse).await, "invalid_grant");
    let after = harness.refresh(&client_id, &rt2).await;
    assert_eq!(error_code(after).await, "invalid_grant");
    assert_eq!(api_status(&harness, &at2).await, 401);
    assert_eq!(
        api_status(&harness, &token(&first, "access_token")).await,
        401
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_refreshes_leave_working_token() {
    let harness = Harness::start_with(short_grace()).await;
    let (client_id, first) = harness.sign_in("alice").await;
    let rt1 = token(&first, "refresh_token");

    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..5 {
        let http = harness.http.clone();
        let url = harness.url("/token");
        let form = [
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", rt1.clone()),
            ("client_id", client_id.clone()),
        ];
        requests.spawn(async move {
            let response = post_form(&http, &url, &form).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let mut successes = Vec::new();
    for (status, body) in requests.join_all().await {
        if status == 200 {
            successes.push(body);
        } else {
            assert_eq!(body["error"], "invalid_grant", "{body}");
        }
    }
    assert!(!successes.is_empty(), "no refresh succeeded");

    // Whichever response the client keeps last, its tokens work, also after the window.
    tokio::time::sleep(PAST_GRACE).await;
    for body in &successes {
        assert_eq!(
            api_status(&harness, &token(body, "access_token")).await,
            200
        );
        let next = refreshed(&harness, &client_id, &token(body, "refresh_token")).await;
        assert_eq!(
            api_status(&harness, &token(&next, "access_token")).await,
            200
        );
    }
    harness.stop().await;
}

#[tokio::test]
async fn wider_scope_rejected() {
    let harness = Harness::start().await;
    let (client_id, first) = harness.sign_in("alice").await;
    let rt1 = token(&first, "refresh_token");
    let response = harness
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
            ("client_id", &client_id),
            ("scope", "mcp admin"),
        ])
        .await;
    assert_eq!(error_code(response).await, "invalid_scope");
    let response = harness
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &rt1),
            ("client_id", &client_id),
            ("scope", "mcp"),
        ])
        .await;
    assert_eq!(response.status(), 200);
    harness.stop().await;
}

#[tokio::test]
async fn refresh_by_other_client_rejected() {
    let harness = Harness::start().await;
    let (_, first) = harness.sign_in("alice").await;
    let other_client = harness.register().await;
    let response = harness
        .refresh(&other_client, &token(&first, "refresh_token"))
        .await;
    assert_eq!(error_code(response).await, "invalid_grant");
    harness.stop().await;
}

#[tokio::test]
async fn refresh_with_foreign_resource_rejected() {
    let harness = Harness::start().await;
    let (client_id, first) = harness.sign_in("alice").await;
    let response = harness
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &token(&first, "refresh_token")),
            ("client_id", &client_id),
            ("resource", "http://other.example/mcp"),
        ])
        .await;
    assert_eq!(error_code(response).await, "invalid_target");
    harness.stop().await;
}

#[tokio::test]
async fn access_token_used_as_refresh_rejected() {
    let harness = Harness::start().await;
    let (client_id, first) = harness.sign_in("alice").await;
    let response = harness
        .refresh(&client_id, &token(&first, "access_token"))
        .await;
    assert_eq!(error_code(response).await, "invalid_grant");
    harness.stop().await;
}
