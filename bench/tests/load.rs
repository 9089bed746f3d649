//! The load generator against a small axum server on 127.0.0.1: what it counts as a success
//! and what as an error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use alter_bench::load::{self, FixedRequest, LoadOptions, LoadReport};
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use http::{HeaderMap, Method};

async fn serve() -> SocketAddr {
    let app = Router::new()
        .route("/profile", get(|| async { "{\"user\":\"bench-user-1\"}" }))
        .route("/other", get(|| async { "{\"user\":\"someone\"}" }))
        .route(
            "/broken",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    address
}

async fn run(address: SocketAddr, path: &str, expected: Option<&str>) -> LoadReport {
    let uri = format!("http://{address}{path}").parse().unwrap();
    let source = FixedRequest::new(Method::GET, uri, HeaderMap::new(), Bytes::new(), &[]).unwrap();
    let options = LoadOptions {
        connections: 2,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(300),
    };
    let expected = expected.map(|text| Arc::from(text.as_bytes()));
    load::run(Arc::new(source), address, options, expected).await
}

#[tokio::test]
async fn counts_successful_responses() {
    let address = serve().await;
    let report = run(address, "/profile", Some("bench-user-")).await;
    assert!(report.requests > 0, "{:?}", report.to_json());
    assert_eq!(report.errors, 0, "{:?}", report.to_json());
    assert!(report.first_error.is_none());
    assert!(report.latency_micros(0.5) > 0);
}

#[tokio::test]
async fn body_without_expected_bytes_fails() {
    let address = serve().await;
    let report = run(address, "/other", Some("bench-user-")).await;
    assert_eq!(report.requests, 0);
    assert!(report.errors > 0);
    let first_error = report.first_error.unwrap();
    assert!(first_error.contains("200"), "{first_error}");
    assert!(first_error.contains("someone"), "{first_error}");
}

#[tokio::test]
async fn error_status_fails() {
    let address = serve().await;
    let report = run(address, "/broken", None).await;
    assert_eq!(report.requests, 0);
    assert!(report.errors > 0);
    let first_error = report.first_error.unwrap();
    assert!(first_error.contains("500"), "{first_error}");
}

#[tokio::test]
async fn refused_connection_fails() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let report = run(address, "/profile", None).await;
    assert_eq!(report.requests, 0);
    assert!(report.errors > 0);
    let first_error = report.first_error.unwrap();
    assert!(first_error.contains("failed to connect"), "{first_error}");
}

#[test]
fn token_with_newline_rejected() {
    let uri = "http://127.0.0.1:9/profile".parse().unwrap();
    let tokens = ["good-token".to_owned(), "bad\ntoken".to_owned()];
    let error =
        FixedRequest::new(Method::GET, uri, HeaderMap::new(), Bytes::new(), &tokens).unwrap_err();
    assert!(error.contains("token 2"), "{error}");
    assert!(!error.contains("bad"), "{error}");
}
