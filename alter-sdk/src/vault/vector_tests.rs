//! The official client's recorded requests, reproduced byte for byte through the real
//! `request()` flow with a recording transport.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::Value;

use super::Vault;
use super::backend::FixedSigning;
use super::transport::{HttpTransport, SendFuture};
use crate::audit_context;
use crate::error::Error;
use crate::protocol::context::AuditContext;

const APP_KEY: &str = "alter_rk_abcdefghijklmnopqrstuv_iwpykn";
const PYTHON_USER_AGENT: &str = "alter-sdk-python/0.29.0";
const GRANT_ID: &str = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f";
const GENERATION: &str = "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a";

/// A canned response: status, headers in order, body.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

impl Canned {
    fn json(status: u16, body: impl Into<String>) -> Self {
        let body = body.into();
        Self {
            status,
            headers: vec![("content-type", "application/json")],
            body,
        }
    }
}

/// Records every request and responds by path prefix.
#[derive(Default)]
struct Recorder {
    answers: HashMap<&'static str, Canned>,
    requests: Mutex<Vec<http::Request<Bytes>>>,
}

impl Recorder {
    fn answering(answers: &[(&'static str, Canned)]) -> Arc<Self> {
        Arc::new(Self {
            answers: answers.iter().cloned().collect(),
            requests: Mutex::default(),
        })
    }

    fn taken(&self) -> Vec<http::Request<Bytes>> {
        std::mem::take(&mut self.requests.lock().unwrap())
    }
}

impl HttpTransport for Recorder {
    fn send(&self, request: http::Request<Bytes>, _timeout: Duration) -> SendFuture<'_> {
        let path = request.uri().path().to_owned();
        let canned = self
            .answers
            .iter()
            .find(|(prefix, _)| path.starts_with(*prefix))
            .map(|(_, canned)| canned.clone())
            .unwrap_or_else(|| Canned::json(201, ""));
        self.requests.lock().unwrap().push(request);
        Box::pin(async move {
            let mut response = http::Response::builder().status(canned.status);
            for (name, value) in &canned.headers {
                response = response.header(*name, *value);
            }
            let length = canned.body.len().to_string();
            if !canned.body.is_empty() {
                response = response.header("content-length", length);
            }
            Ok(response.body(Bytes::from(canned.body)).unwrap())
        })
    }
}

fn vectors() -> Value {
    serde_json::from_str(include_str!("../../tests/data/protocol-vectors.json")).unwrap()
}

/// Returns the recorded requests of one case, in order.
fn recorded(name: &str) -> Vec<Value> {
    let vectors = vectors();
    let case = vectors["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .clone();
    case["requests"].as_array().unwrap().clone()
}

fn recorded_header<'a>(request: &'a Value, name: &str) -> Option<&'a str> {
    request["headers"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|pair| {
            let key = pair[0].as_str()?;
            key.eq_ignore_ascii_case(name).then(|| pair[1].as_str())?
        })
}

fn vault(builder: super::VaultBuilder, backend: &Arc<Recorder>, provider: &Arc<Recorder>) -> Vault {
    builder
        .base_url("https://backend.alterauth.com")
        .build_with(
            Arc::clone(backend) as Arc<dyn HttpTransport>,
            Arc::clone(provider) as Arc<dyn HttpTransport>,
            FixedSigning {
                timestamp: 1_700_000_000,
                nonce: "00112233445566778899aabbccddeeff".into(),
                correlation_id: "fixed-correlation-id".into(),
            },
        )
}

/// Asserts that a backend request matches the recorded one: path, body and every signed
/// header.
fn assert_backend_request(actual: &http::Request<Bytes>, expected: &Value) {
    let path = expected["raw_path"].as_str().unwrap();
    assert_eq!(actual.uri().path_and_query().unwrap().as_str(), path);
    assert_eq!(
        actual.method().as_str(),
        expected["method"].as_str().unwrap(),
        "{path}"
    );
    assert_eq!(
        std::str::from_utf8(actual.body()).unwrap(),
        expected["body"].as_str().unwrap(),
        "{path}: body"
    );
    for name in [
        "x-api-key",
        "X-Alter-Caller",
        "X-Alter-Caller-Type",
        "X-Alter-Actor-ID",
        "X-Alter-Context",
        "X-Alter-Timestamp",
        "X-Alter-Nonce",
        "X-Alter-Content-SHA256",
        "X-Alter-Signature",
        "X-Alter-Signature-V2",
        "Content-Type",
    ] {
        let actual_value = actual.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(
            actual_value,
            recorded_header(expected, name),
            "{path}: {name}"
        );
    }
}

/// Asserts that a provider request matches the recorded one: URL, body and the headers the SDK
/// sets (the user agent is the recording client's, set by the test).
fn assert_provider_request(actual: &http::Request<Bytes>, expected: &Value, headers: &[&str]) {
    assert_eq!(actual.uri().to_string(), expected["url"].as_str().unwrap());
    assert_eq!(
        actual.method().as_str(),
        expected["method"].as_str().unwrap()
    );
    assert_eq!(
        std::str::from_utf8(actual.body()).unwrap(),
        expected["body"].as_str().unwrap()
    );
    for name in headers {
        let actual_value = actual.headers().get(*name).map(|v| v.to_str().unwrap());
        assert_eq!(actual_value, recorded_header(expected, name), "{name}");
    }
}

fn by_path<'a>(requests: &'a [http::Request<Bytes>], path: &str) -> &'a http::Request<Bytes> {
    requests
        .iter()
        .find(|r| r.uri().path() == path)
        .unwrap_or_else(|| panic!("no request to {path}"))
}

#[tokio::test]
async fn grant_id_request_with_path_and_query_params() {
    let expected = recorded("1_request_grant_id_plain_post");
    let token = format!(
        r#"{{"access_token":"ya29.test-access-token","token_type":"Bearer","expires_in":3599,"scopes":["https://www.googleapis.com/auth/calendar.readonly"],"grant_id":"{GRANT_ID}","provider_id":"google","token_generation":"{GENERATION}","injection_header":"Authorization","injection_format":"Bearer {{token}}"}}"#
    );
    let backend = Recorder::answering(&[("/sdk/token", Canned::json(200, token))]);
    let provider = Recorder::answering(&[("/", Canned::json(200, r#"{"ok":true}"#))]);
    let vault = vault(Vault::builder(APP_KEY).app_scoped(), &backend, &provider);

    let response = vault
        .request(
            Method::GET,
            "https://www.googleapis.com/calendar/v3/calendars/{calendarId}/events",
        )
        .grant_id(GRANT_ID)
        .path_param("calendarId", "primary")
        .query("maxResults", "5")
        .reason("list events")
        .header("User-Agent", PYTHON_USER_AGENT)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    vault.flush().await;

    let backend_requests = backend.taken();
    assert_eq!(backend_requests.len(), 2);
    assert_backend_request(by_path(&backend_requests, "/sdk/token"), &expected[0]);
    assert_provider_request(
        &provider.taken()[0],
        &expected[1],
        &["Authorization", "User-Agent"],
    );
    assert_backend_request(
        by_path(&backend_requests, "/sdk/oauth/audit/api-call"),
        &expected[2],
    );
}

#[tokio::test]
async fn v2_signature_with_caller_context_and_actor_id() {
    let expected = recorded("4_v2_caller_type_context_actor");
    let token = format!(
        r#"{{"access_token":"ya29.test-access-token","grant_id":"{GRANT_ID}","provider_id":"google"}}"#
    );
    let mut canned = Canned::json(200, token);
    canned
        .headers
        .push(("X-Alter-Actor-ID", "0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21"));
    let backend = Recorder::answering(&[("/sdk/token", canned)]);
    let provider = Recorder::answering(&[("/", Canned::json(200, r#"{"ok":true}"#))]);
    let vault = vault(
        Vault::builder(APP_KEY).caller("billing-cron"),
        &backend,
        &provider,
    );

    vault
        .request(Method::POST, "https://api.example.com/v1/items")
        .provider("google")
        .account("alice@example.com")
        .user_token("eyJhbGciOiJSUzI1NiJ9.payload.sig")
        .context("tool", "list_emails")
        .context("run_id", "run-42")
        .context("note", "caf\u{e9}")
        .json(&serde_json::json!({"name": "caf\u{e9}"}))
        .header("User-Agent", PYTHON_USER_AGENT)
        .send()
        .await
        .unwrap();
    vault.flush().await;

    let backend_requests = backend.taken();
    assert_backend_request(by_path(&backend_requests, "/sdk/token"), &expected[0]);
    assert_provider_request(
        &provider.taken()[0],
        &expected[1],
        &["Authorization", "User-Agent", "Content-Type"],
    );
    assert_backend_request(
        by_path(&backend_requests, "/sdk/oauth/audit/api-call"),
        &expected[2],
    );
}

#[tokio::test]
async fn ambient_context_matches_explicit_vector() {
    let expected = recorded("4_v2_caller_type_context_actor");
    let token = format!(
        r#"{{"access_token":"ya29.test-access-token","grant_id":"{GRANT_ID}","provider_id":"google"}}"#
    );
    let mut canned = Canned::json(200, token);
    canned
        .headers
        .push(("X-Alter-Actor-ID", "0b7e5a52-3c1d-4e2f-9a8b-7c6d5e4f3a21"));
    let backend = Recorder::answering(&[("/sdk/token", canned)]);
    let provider = Recorder::answering(&[("/", Canned::json(200, r#"{"ok":true}"#))]);
    let vault = vault(
        Vault::builder(APP_KEY).caller("billing-cron"),
        &backend,
        &provider,
    );
    let ambient = AuditContext::new()
        .with("tool", "list_emails")
        .with("run_id", "run-42")
        .with("note", "caf\u{e9}");

    let request = vault
        .request(Method::POST, "https://api.example.com/v1/items")
        .provider("google")
        .account("alice@example.com")
        .user_token("eyJhbGciOiJSUzI1NiJ9.payload.sig")
        .json(&serde_json::json!({"name": "caf\u{e9}"}))
        .header("User-Agent", PYTHON_USER_AGENT);
    audit_context::scope(ambient, request.send()).await.unwrap();
    vault.flush().await;

    let backend_requests = backend.taken();
    assert_backend_request(by_path(&backend_requests, "/sdk/token"), &expected[0]);
    assert_backend_request(
        by_path(&backend_requests, "/sdk/oauth/audit/api-call"),
        &expected[2],
    );
}

#[tokio::test]
async fn explicit_context_replaces_ambient() {
    let token = format!(
        r#"{{"access_token":"ya29.test-access-token","grant_id":"{GRANT_ID}","provider_id":"google"}}"#
    );
    let backend = Recorder::answering(&[("/sdk/token", Canned::json(200, token))]);
    let provider = Recorder::answering(&[("/", Canned::json(200, r#"{"ok":true}"#))]);
    let vault = vault(Vault::builder(APP_KEY), &backend, &provider);
    let ambient = AuditContext::new().with("tool", "list_emails");

    let request = vault
        .request(Method::GET, "https://api.example.com/v1/items")
        .provider("google")
        .user_token("user-1")
        .context("run_id", "run-42");
    audit_context::scope(ambient, request.send()).await.unwrap();
    vault.flush().await;

    for request in backend.taken() {
        let context = request.headers().get("X-Alter-Context").unwrap();
        assert_eq!(context, r#"{"run_id":"run-42"}"#, "{}", request.uri());
    }
}

#[tokio::test]
async fn no_context_sends_no_header() {
    let token = format!(
        r#"{{"access_token":"ya29.test-access-token","grant_id":"{GRANT_ID}","provider_id":"google"}}"#
    );
    let backend = Recorder::answering(&[("/sdk/token", Canned::json(200, token))]);
    let provider = Recorder::answering(&[("/", Canned::json(200, r#"{"ok":true}"#))]);
    let vault = vault(Vault::builder(APP_KEY), &backend, &provider);

    vault
        .request(Method::GET, "https://api.example.com/v1/items")
        .provider("google")
        .user_token("user-1")
        .send()
        .await
        .unwrap();
    vault.flush().await;

    let requests = backend.taken();
    assert_eq!(requests.len(), 2);
    for request in requests {
        assert!(request.headers().get("X-Alter-Context").is_none());
    }
}

#[tokio::test]
async fn additional_injections_keep_url_query() {
    let expected = recorded("7_additional_injections");
    let token = format!(
        r#"{{"access_token":"sk_live_secret","grant_id":"{GRANT_ID}","provider_id":"acme","injection_header":"X-Api-Key","injection_format":"{{token}}","additional_credentials":{{"account_id":"acct_123"}},"additional_injections":[{{"target":"query_param","key":"api_key","value_source":"token"}},{{"target":"header","key":"X-Account","value_source":"additional_credentials.account_id"}}]}}"#
    );
    let backend = Recorder::answering(&[("/sdk/token", Canned::json(200, token))]);
    let provider = Recorder::answering(&[("/", Canned::json(200, r#"{"ok":true}"#))]);
    let vault = vault(Vault::builder(APP_KEY).app_scoped(), &backend, &provider);

    vault
        .request(Method::GET, "https://api.acme.example/v1/items?limit=5")
        .grant_id(GRANT_ID)
        .header("User-Agent", PYTHON_USER_AGENT)
        .send()
        .await
        .unwrap();
    vault.flush().await;

    let backend_requests = backend.taken();
    assert_backend_request(by_path(&backend_requests, "/sdk/token"), &expected[0]);
    assert_backend_request(
        by_path(&backend_requests, "/sdk/oauth/audit/api-call"),
        &expected[2],
    );

    // The recording client replaced the URL's `limit=5` with the injected parameter. This SDK
    // keeps both, so only the query differs from the recording.
    let sent = &provider.taken()[0];
    assert_eq!(
        sent.uri().to_string(),
        "https://api.acme.example/v1/items?limit=5&api_key=sk_live_secret"
    );
    for name in ["X-Api-Key", "X-Account", "User-Agent"] {
        assert_eq!(
            sent.headers().get(name).map(|v| v.to_str().unwrap()),
            recorded_header(&expected[1], name),
            "{name}"
        );
    }
}

#[tokio::test]
async fn provider_insufficient_scope_reports_mismatch() {
    let expected = recorded("9_provider_403_insufficient_scope");
    let token = format!(
        r#"{{"access_token":"ya29.test-access-token","grant_id":"{GRANT_ID}","provider_id":"google","token_generation":"{GENERATION}"}}"#
    );
    let backend = Recorder::answering(&[("/sdk/token", Canned::json(200, token))]);
    let forbidden = Canned {
        status: 403,
        headers: vec![
            ("content-type", "application/json"),
            (
                "www-authenticate",
                r#"Bearer realm="x", error="insufficient_scope", scope="gmail.send gmail.modify""#,
            ),
        ],
        body: r#"{"error":"forbidden"}"#.into(),
    };
    let provider = Recorder::answering(&[("/", forbidden)]);
    let vault = vault(Vault::builder(APP_KEY).app_scoped(), &backend, &provider);

    let error = vault
        .request(
            Method::GET,
            "https://gmail.googleapis.com/gmail/v1/users/me/messages",
        )
        .grant_id(GRANT_ID)
        .header("User-Agent", PYTHON_USER_AGENT)
        .send()
        .await
        .unwrap_err();
    vault.flush().await;

    let Error::ScopeReauthRequired(reauth) = &error else {
        panic!("expected a scope re-authorization error, got {error:?}");
    };
    assert_eq!(reauth.missing_scopes, ["gmail.send", "gmail.modify"]);
    assert_eq!(reauth.source, "provider_insufficient_scope");
    assert_eq!(error.provider_id(), Some("google"));
    assert_eq!(error.grant_id(), Some(GRANT_ID));
    assert!(error.needs_connect_session());

    let backend_requests = backend.taken();
    assert_eq!(backend_requests.len(), 3);
    assert_backend_request(by_path(&backend_requests, "/sdk/token"), &expected[0]);
    assert_backend_request(
        by_path(&backend_requests, "/sdk/oauth/audit/api-call"),
        &expected[2],
    );
    assert_backend_request(
        by_path(
            &backend_requests,
            &format!("/sdk/grants/{GRANT_ID}/report-scope-mismatch"),
        ),
        &expected[3],
    );
}

#[tokio::test]
async fn sign_in_session_poll_and_verify() {
    let expected = recorded("8_auth_session_poll_verify");
    let backend = Recorder::answering(&[
        (
            "/sdk/auth/session",
            Canned::json(
                201,
                r#"{"session_token":"as_test_token","auth_url":"https://auth.example/s/1","expires_in":600,"expires_at":"2023-11-14T22:23:20Z"}"#,
            ),
        ),
        (
            "/sdk/auth/poll",
            Canned::json(
                200,
                r#"{"status":"completed","user_token":"eyJ.idp.jwt","user_info":{"sub":"user-1"}}"#,
            ),
        ),
        (
            "/sdk/auth/verify-token",
            Canned::json(200, r#"{"sub":"user-1"}"#),
        ),
    ]);
    let provider = Recorder::answering(&[]);
    let vault = vault(Vault::builder(APP_KEY), &backend, &provider);

    let session = vault.create_auth_session().await.unwrap();
    assert_eq!(session.session_token, "as_test_token");
    assert_eq!(session.auth_url, "https://auth.example/s/1");
    let user = vault
        .poll_auth_session(&session.session_token)
        .timeout(Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(user.user_token.expose_secret(), "eyJ.idp.jwt");
    assert_eq!(user.user_info["sub"], "user-1");
    let subject = vault.verify_user_token("eyJ.idp.jwt").await.unwrap();
    assert_eq!(subject, "user-1");

    let requests = backend.taken();
    assert_eq!(requests.len(), 3);
    for (actual, expected) in requests.iter().zip(&expected) {
        assert_backend_request(actual, expected);
    }
    assert!(provider.taken().is_empty());
}

#[tokio::test]
async fn scope_constraint_on_connect_session() {
    let expected = recorded("5_scope_constraint");
    let backend = Recorder::answering(&[(
        "/sdk/oauth/connect/session",
        Canned::json(
            200,
            r#"{"session_token":"cs_test_token","connect_url":"https://connect.example/s","expires_in":600,"expires_at":"2023-11-14T22:23:20Z"}"#,
        ),
    )]);
    let provider = Recorder::answering(&[]);
    let vault = vault(Vault::builder(APP_KEY), &backend, &provider);
    let constrained = vault
        .with_constraints(super::Constraints::scopes(["connect:write", "grants:read"]))
        .unwrap();

    constrained
        .create_connect_session()
        .allowed_providers(["google"])
        .allowed_origin("https://app.example.com")
        .required_scopes("google", ["https://www.googleapis.com/auth/gmail.readonly"])
        .user_token("eyJhbGciOiJSUzI1NiJ9.payload.sig")
        .send()
        .await
        .unwrap();

    let requests = backend.taken();
    assert_eq!(requests.len(), 1);
    assert_backend_request(&requests[0], &expected[0]);
    assert_eq!(
        requests[0].headers()["X-Alter-Scope-Constraints"],
        recorded_header(&expected[0], "X-Alter-Scope-Constraints").unwrap()
    );
    assert!(requests[0].headers().get("X-Alter-Request-Rule").is_none());
}

#[tokio::test]
async fn request_rule_with_agent_caller() {
    const AGENT_KEY: &str = "alter_ak_a2b3c4d5e6f7g2h3i4j5k6_nis3d2";
    let expected = recorded("6_request_rule_agent_caller");
    let backend = Recorder::answering(&[(
        "/sdk/oauth/connect/session/poll",
        Canned::json(200, r#"{"status":"pending"}"#),
    )]);
    let provider = Recorder::answering(&[]);
    let vault = vault(
        Vault::builder(AGENT_KEY).caller("email-assistant"),
        &backend,
        &provider,
    );
    let constrained = vault
        .with_constraints(super::Constraints::rule(
            "json_match",
            serde_json::json!({"when": {"method": "POST"}, "effect": "deny"}),
        ))
        .unwrap();

    constrained
        .connect_session_status("cs_test_token")
        .await
        .unwrap();

    let requests = backend.taken();
    assert_eq!(requests.len(), 1);
    assert_backend_request(&requests[0], &expected[0]);
    assert_eq!(
        requests[0].headers()["X-Alter-Request-Rule"],
        recorded_header(&expected[0], "X-Alter-Request-Rule").unwrap()
    );
    assert!(
        requests[0]
            .headers()
            .get("X-Alter-Scope-Constraints")
            .is_none()
    );

    let nested = constrained.with_constraints(super::Constraints::scopes(["grants:read"]));
    assert!(
        matches!(nested, Err(Error::InvalidRequest(_))),
        "{nested:?}"
    );
}

#[cfg(feature = "otel")]
#[tokio::test(flavor = "current_thread")]
async fn traceparent_is_sent_but_not_signed() {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    let expected = recorded("8_auth_session_poll_verify");
    let backend = Recorder::answering(&[(
        "/sdk/auth/session",
        Canned::json(
            201,
            r#"{"session_token":"as_test_token","auth_url":"https://auth.example/s/1","expires_in":600,"expires_at":"2023-11-14T22:23:20Z"}"#,
        ),
    )]);
    let provider = Recorder::answering(&[]);
    let vault = vault(Vault::builder(APP_KEY), &backend, &provider);
    let span_context = SpanContext::new(
        TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
        SpanId::from_hex("00f067aa0ba902b7").unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let guard = opentelemetry::Context::current()
        .with_remote_span_context(span_context)
        .attach();
    vault.create_auth_session().await.unwrap();
    drop(guard);

    let requests = backend.taken();
    assert_eq!(
        requests[0].headers()["traceparent"],
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    );
    assert_backend_request(&requests[0], &expected[0]);
}
