//! `#[alter::handler]` and the plain extractors in a running application: the user they bind,
//! the identity scope, optional routes, other extractors beside them, and a hand-set token.

use alter::axum::{AlterAxum, OptionalUserVault};
use alter::{Method, Vault};
use alter_tests::offline::offline_alter;
use alter_tests::server::TestServer;
use axum::extract::{FromRef, Path, Query, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone)]
struct AppState {
    alter: AlterAxum,
    greeting: &'static str,
}

impl FromRef<AppState> for AlterAxum {
    fn from_ref(state: &AppState) -> Self {
        state.alter.clone()
    }
}

#[derive(Deserialize)]
struct Page {
    page: u32,
}

fn secret(token: Option<&alter::UserToken>) -> Value {
    token.map_or(Value::Null, |token| json!(token.expose_secret()))
}

fn current_user() -> Value {
    secret(alter::identity::current().as_ref())
}

/// Reads the user three calls down, after giving up the thread, without receiving the vault.
async fn deep_helper() -> Value {
    tokio::task::yield_now().await;
    deeper_helper().await
}

async fn deeper_helper() -> Value {
    tokio::task::yield_now().await;
    current_user()
}

#[alter::handler]
async fn with_macro(
    State(state): State<AppState>,
    vault: Vault,
    Path(name): Path<String>,
    Query(page): Query<Page>,
    Json(body): Json<Value>,
) -> Json<Value> {
    Json(json!({
        "greeting": state.greeting,
        "name": name,
        "page": page.page,
        "body": body,
        "bound": secret(vault.bound_user_token()),
        "current": current_user(),
        "deep": deep_helper().await,
    }))
}

async fn with_extractor(
    State(state): State<AppState>,
    vault: Vault,
    Path(name): Path<String>,
) -> Json<Value> {
    Json(json!({
        "greeting": state.greeting,
        "name": name,
        "bound": secret(vault.bound_user_token()),
        "current": current_user(),
    }))
}

#[alter::handler(optional)]
async fn optional_with_macro(vault: Vault) -> Json<Value> {
    Json(json!({
        "bound": secret(vault.bound_user_token()),
        "current": current_user(),
        "deep": deep_helper().await,
    }))
}

#[alter::handler(optional)]
async fn optional_connect(vault: Vault) -> Result<String, alter::Error> {
    let session = vault.create_connect_session().send().await?;
    Ok(session.connect_url)
}

#[alter::handler(optional)]
async fn optional_request(vault: Vault) -> Result<String, alter::Error> {
    let response = vault
        .request(Method::GET, "https://api.github.com/user")
        .provider("github")
        .send()
        .await?;
    Ok(response.text()?.to_owned())
}

async fn optional_extractor(OptionalUserVault(vault): OptionalUserVault) -> Json<Value> {
    Json(json!({ "bound": secret(vault.bound_user_token()) }))
}

async fn option_extractor(vault: Option<Vault>) -> Json<Value> {
    Json(json!({ "present": vault.is_some() }))
}

/// Stands for an authentication layer that validated the user by other means.
async fn session_layer(mut request: Request, next: Next) -> Response {
    AlterAxum::set_user_token(&mut request, "user-from-session");
    next.run(request).await
}

async fn start() -> TestServer {
    let state = AppState {
        alter: offline_alter(),
        greeting: "hello",
    };
    let layered = Router::new()
        .route("/layered", get(with_extractor_for_layer))
        .route_layer(middleware::from_fn(session_layer));
    let router = Router::new()
        .route("/macro/{name}", post(with_macro))
        .route("/extractor/{name}", get(with_extractor))
        .route("/optional", get(optional_with_macro))
        .route("/optional/connect", post(optional_connect))
        .route("/optional/request", get(optional_request))
        .route("/optional-extractor", get(optional_extractor))
        .route("/option-extractor", get(option_extractor))
        .merge(layered)
        .with_state(state);
    TestServer::start(router).await
}

#[alter::handler]
async fn with_extractor_for_layer(vault: Vault) -> Json<Value> {
    Json(json!({
        "bound": secret(vault.bound_user_token()),
        "current": current_user(),
    }))
}

async fn get_json(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn macro_route_binds_user_beside_other_extractors() {
    let server = start().await;
    let request = reqwest::Client::new()
        .post(server.url("/macro/octocat?page=3"))
        .header(AUTHORIZATION, "Bearer user-1")
        .json(&json!({"hello": "world"}));
    let (status, body) = get_json(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["greeting"], "hello");
    assert_eq!(body["name"], "octocat");
    assert_eq!(body["page"], 3);
    assert_eq!(body["body"], json!({"hello": "world"}));
    assert_eq!(body["bound"], "user-1");
    assert_eq!(body["current"], "user-1");
    assert_eq!(body["deep"], "user-1");
    server.stop().await;
}

#[tokio::test]
async fn macro_route_rejects_before_reading_the_body() {
    let server = start().await;
    let response = reqwest::Client::new()
        .post(server.url("/macro/octocat?page=3"))
        .json(&json!({"hello": "world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
    server.stop().await;
}

#[tokio::test]
async fn plain_extractor_binds_user_without_scope() {
    let server = start().await;
    let request = reqwest::Client::new()
        .get(server.url("/extractor/octocat"))
        .header(AUTHORIZATION, "Bearer user-2");
    let (status, body) = get_json(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["greeting"], "hello");
    assert_eq!(body["name"], "octocat");
    assert_eq!(body["bound"], "user-2");
    assert_eq!(body["current"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn optional_route_without_header_has_no_user() {
    let server = start().await;
    let (status, body) = get_json(reqwest::Client::new().get(server.url("/optional"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bound"], Value::Null);
    assert_eq!(body["current"], Value::Null);
    assert_eq!(body["deep"], Value::Null);
    server.stop().await;
}

#[tokio::test]
async fn optional_route_with_header_scopes_user() {
    let server = start().await;
    let request = reqwest::Client::new()
        .get(server.url("/optional"))
        .header(AUTHORIZATION, "bearer user-3");
    let (status, body) = get_json(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bound"], "user-3");
    assert_eq!(body["current"], "user-3");
    assert_eq!(body["deep"], "user-3");
    server.stop().await;
}

#[tokio::test]
async fn optional_route_rejects_malformed_header() {
    let server = start().await;
    let response = reqwest::Client::new()
        .get(server.url("/optional"))
        .header(AUTHORIZATION, "Basic dXNlcjpzZWNyZXQ=")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.headers()[WWW_AUTHENTICATE],
        r#"Bearer error="invalid_request""#
    );
    server.stop().await;
}

#[tokio::test]
async fn optional_route_fails_closed_without_user() {
    let server = start().await;
    let client = reqwest::Client::new();
    let requests = [
        client.post(server.url("/optional/connect")),
        client.get(server.url("/optional/request")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let url = response.url().clone();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{url}");
        assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer", "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "missing_bearer_token", "{url}");
    }
    server.stop().await;
}

#[tokio::test]
async fn optional_extractor_without_header() {
    let server = start().await;
    let client = reqwest::Client::new();
    let (status, body) = get_json(client.get(server.url("/optional-extractor"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bound"], Value::Null);
    let request = client
        .get(server.url("/optional-extractor"))
        .header(AUTHORIZATION, "Bearer user-4");
    let (status, body) = get_json(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bound"], "user-4");
    server.stop().await;
}

#[tokio::test]
async fn option_of_vault() {
    let server = start().await;
    let client = reqwest::Client::new();
    let (status, body) = get_json(client.get(server.url("/option-extractor"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["present"], false);
    let request = client
        .get(server.url("/option-extractor"))
        .header(AUTHORIZATION, "Bearer user-5");
    let (status, body) = get_json(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["present"], true);
    let response = client
        .get(server.url("/option-extractor"))
        .header(AUTHORIZATION, "Bearer a b")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    server.stop().await;
}

#[tokio::test]
async fn hand_set_token_wins_over_header() {
    let server = start().await;
    let client = reqwest::Client::new();
    let request = client
        .get(server.url("/layered"))
        .header(AUTHORIZATION, "Bearer user-from-header");
    let (status, body) = get_json(request).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bound"], "user-from-session");
    assert_eq!(body["current"], "user-from-session");
    let (status, body) = get_json(client.get(server.url("/layered"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["bound"], "user-from-session");
    server.stop().await;
}
