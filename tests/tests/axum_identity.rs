//! Concurrent requests never see each other's user, whether the handler reads the bound vault
//! or the identity scope, before or after giving up its thread to other tasks.

use std::time::Duration;

use alter::Vault;
use alter_tests::offline::offline_alter;
use alter_tests::server::TestServer;
use axum::routing::get;
use axum::{Json, Router};
use reqwest::StatusCode;
use reqwest::header::AUTHORIZATION;
use serde_json::{Value, json};
use tokio::task::JoinSet;

/// Each request holds a client and a server socket, so 300 stays well under the common
/// default limit of 1024 open files.
const REQUESTS: usize = 300;

fn current_user() -> Value {
    alter::identity::current().map_or(Value::Null, |token| json!(token.expose_secret()))
}

async fn helper_after_sleep(delay: Duration) -> Value {
    tokio::time::sleep(delay).await;
    current_user()
}

#[alter::handler]
async fn whoami(vault: Vault) -> Json<Value> {
    let before = current_user();
    tokio::task::yield_now().await;
    let after_yield = current_user();
    let token = vault.bound_user_token().unwrap().expose_secret().to_owned();
    // Varying delays make the handlers finish in an order unrelated to their start.
    let delay = Duration::from_millis(token.len() as u64 % 7);
    let after_sleep = helper_after_sleep(delay).await;
    Json(json!({
        "bound": token,
        "before": before,
        "after_yield": after_yield,
        "after_sleep": after_sleep,
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_requests_see_only_their_own_user() {
    let router = Router::new()
        .route("/whoami", get(whoami))
        .with_state(offline_alter());
    let server = TestServer::start(router).await;
    let client = reqwest::Client::new();
    let url = server.url("/whoami");

    let mut requests = JoinSet::new();
    for index in 0..REQUESTS {
        let request = client.get(&url).header(
            AUTHORIZATION,
            format!("Bearer user-{index}-{}", "x".repeat(index % 13)),
        );
        requests.spawn(async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (index, status, body)
        });
    }

    let mut answered = 0;
    while let Some(joined) = requests.join_next().await {
        let (index, status, body) = joined.unwrap();
        let expected = format!("user-{index}-{}", "x".repeat(index % 13));
        assert_eq!(status, StatusCode::OK, "request {index}: {body}");
        assert_eq!(body["bound"], expected, "request {index}");
        assert_eq!(body["before"], expected, "request {index}");
        assert_eq!(body["after_yield"], expected, "request {index}");
        assert_eq!(body["after_sleep"], expected, "request {index}");
        answered += 1;
    }
    assert_eq!(answered, REQUESTS);
    server.stop().await;
}
