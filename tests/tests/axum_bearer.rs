//! The bearer extractors over a real socket: which `Authorization` headers pass, and the `401`
//! responses for the rest.

use alter::UserToken;
use alter::Vault;
use alter::axum::AlterAxum;
use alter_tests::offline::offline_alter;
use alter_tests::server::TestServer;
use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use reqwest::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;

#[alter::handler]
async fn with_macro(vault: Vault) -> String {
    bound_token(&vault)
}

async fn with_extractor(vault: Vault) -> String {
    bound_token(&vault)
}

async fn with_token(token: UserToken) -> String {
    token.expose_secret().to_owned()
}

fn bound_token(vault: &Vault) -> String {
    vault
        .bound_user_token()
        .map(|token| token.expose_secret().to_owned())
        .unwrap_or_default()
}

const ROUTES: [&str; 3] = ["/macro", "/extractor", "/token"];

async fn start() -> TestServer {
    let router = Router::new()
        .route("/macro", get(with_macro))
        .route("/extractor", get(with_extractor))
        .route("/token", get(with_token))
        .with_state::<()>(offline_alter());
    TestServer::start(router).await
}

struct Answer {
    status: StatusCode,
    challenge: Option<String>,
    body: String,
}

async fn send(request: RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .map(|value| value.to_str().unwrap().to_owned());
    Answer {
        status: response.status(),
        challenge,
        body: response.text().await.unwrap(),
    }
}

fn json(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body).unwrap()
}

#[tokio::test]
async fn missing_header_is_401_with_challenge() {
    let server = start().await;
    let client = reqwest::Client::new();
    for route in ROUTES {
        let answer = send(client.get(server.url(route))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(answer.challenge.as_deref(), Some("Bearer"), "{route}");
        let body = json(&answer);
        assert_eq!(body["error"], "missing_bearer_token", "{route}");
        assert!(body["message"].as_str().unwrap().contains("Bearer <token>"));
    }
    server.stop().await;
}

#[tokio::test]
async fn malformed_headers_are_401_invalid_request() {
    let server = start().await;
    let client = reqwest::Client::new();
    let malformed: [&[u8]; 7] = [
        b"Basic dXNlcjpzZWNyZXQ=",
        b"Bearer",
        b"Bearer ",
        b"Bearer user-1 user-2",
        b"Bearer user,1",
        b"Bearer t\xc3\xb6ken",
        b"Token user-1",
    ];
    for route in ROUTES {
        for value in malformed {
            let header = HeaderValue::from_bytes(value).unwrap();
            let answer = send(client.get(server.url(route)).header(AUTHORIZATION, header)).await;
            let header_text = String::from_utf8_lossy(value);
            assert_eq!(
                answer.status,
                StatusCode::UNAUTHORIZED,
                "{route} {header_text}"
            );
            assert_eq!(
                answer.challenge.as_deref(),
                Some(r#"Bearer error="invalid_request""#),
                "{route} {header_text}"
            );
            assert_eq!(
                json(&answer)["error"],
                "invalid_request",
                "{route} {header_text}"
            );
            assert!(!answer.body.contains("dXNlcjpzZWNyZXQ"), "{}", answer.body);
            assert!(!answer.body.contains("user-1"), "{}", answer.body);
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn two_authorization_headers_are_rejected() {
    let server = start().await;
    let client = reqwest::Client::new();
    for route in ROUTES {
        let request = client
            .get(server.url(route))
            .header(AUTHORIZATION, "Bearer user-1")
            .header(AUTHORIZATION, "Bearer user-2");
        let answer = send(request).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(
            answer.challenge.as_deref(),
            Some(r#"Bearer error="invalid_request""#)
        );
        let body = json(&answer);
        assert_eq!(body["error"], "invalid_request");
        assert!(body["message"].as_str().unwrap().contains("not several"));
    }
    server.stop().await;
}

#[tokio::test]
async fn scheme_is_case_insensitive() {
    let server = start().await;
    let client = reqwest::Client::new();
    for route in ROUTES {
        for scheme in ["Bearer", "bearer", "BEARER"] {
            let request = client
                .get(server.url(route))
                .header(AUTHORIZATION, format!("{scheme} user-1.sig_~+/=="));
            let answer = send(request).await;
            assert_eq!(answer.status, StatusCode::OK, "{route} {scheme}");
            assert_eq!(answer.body, "user-1.sig_~+/==", "{route} {scheme}");
        }
    }
    server.stop().await;
}

#[derive(Clone)]
struct AppState {
    alter: AlterAxum,
}

impl FromRef<AppState> for AlterAxum {
    fn from_ref(state: &AppState) -> Self {
        state.alter.clone()
    }
}

#[tokio::test]
async fn alter_from_app_state_field() {
    let router = Router::new()
        .route("/macro", get(with_macro))
        .route("/extractor", get(with_extractor))
        .with_state(AppState {
            alter: offline_alter(),
        });
    let server = TestServer::start(router).await;
    let client = reqwest::Client::new();
    for route in ["/macro", "/extractor"] {
        let request = client
            .get(server.url(route))
            .header(AUTHORIZATION, "Bearer user-7");
        let answer = send(request).await;
        assert_eq!(answer.status, StatusCode::OK, "{route}");
        assert_eq!(answer.body, "user-7", "{route}");
    }
    server.stop().await;
}
