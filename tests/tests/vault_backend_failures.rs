//! A misbehaving backend or provider: error statuses, bodies that are not JSON, hangs, closed
//! connections and redirects. Each gives a typed error and never a panic, the provider is not
//! called when the credential could not be fetched, and a failed provider exchange still
//! reaches the audit log.

use std::time::Duration;

use alter::{Error, Method, Vault};
use alter_tests::stand_in::fixtures::{
    AUDIT_PATH, GRANT_ID, PROVIDER_ID, TOKEN_PATH, USER_TOKEN, api_key, bounded, vault_builder,
};
use alter_tests::stand_in::{RawServer, Reply, StandIn};
use serde_json::{Value, json};

/// The vault timeout of tests whose backend or provider never finishes responding. It is long
/// enough that a loaded machine still completes every request that does get a response.
const SHORT_TIMEOUT: Duration = Duration::from_secs(1);

struct Setup {
    backend: StandIn,
    provider: StandIn,
    vault: Vault,
}

async fn setup() -> Setup {
    setup_with_timeout(alter::vault::DEFAULT_TIMEOUT).await
}

async fn setup_with_timeout(timeout: Duration) -> Setup {
    let backend = StandIn::backend().await;
    let provider = StandIn::provider().await;
    let vault = vault_builder(&backend)
        .timeout(timeout)
        .build()
        .unwrap()
        .with_user_token(USER_TOKEN);
    Setup {
        backend,
        provider,
        vault,
    }
}

impl Setup {
    /// Scripts `/sdk/token` to respond with `reply` and returns the error of one request.
    async fn token_error(&self, reply: Reply) -> Error {
        self.backend.script(TOKEN_PATH, reply);
        self.send_error().await
    }

    async fn send_error(&self) -> Error {
        bounded(
            self.vault
                .request(Method::GET, self.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .send(),
        )
        .await
        .expect_err("the request must fail")
    }

    /// Asserts that the requests stopped at `/sdk/token`: no provider call and no audit row.
    async fn assert_provider_not_called(&self) {
        self.vault.flush().await;
        assert!(
            self.provider.received().is_empty(),
            "the provider was called"
        );
        assert!(
            self.backend.received_at(AUDIT_PATH).is_empty(),
            "an audit row was sent"
        );
    }
}

fn backend_error(error: &Error) -> &alter::error::BackendError {
    match error {
        Error::Backend(backend) => backend,
        other => panic!("expected Error::Backend, got {other:?}"),
    }
}

#[tokio::test]
async fn backend_500_is_retryable() {
    let setup = setup().await;
    let error = setup
        .token_error(Reply::json(
            500,
            &json!({ "error": "internal_error", "message": "the database is unavailable" }),
        ))
        .await;
    let backend = backend_error(&error);
    assert_eq!(backend.status, 500);
    assert_eq!(backend.code.as_deref(), Some("internal_error"));
    assert!(error.is_retryable());
    assert_eq!(
        error.to_string(),
        "backend returned HTTP 500 (internal_error): the database is unavailable"
    );

    let error = setup
        .token_error(Reply::raw(500, "text/plain", "Internal Server Error"))
        .await;
    assert_eq!(backend_error(&error).status, 500);
    assert!(error.is_retryable());
    assert!(
        error
            .to_string()
            .contains("the backend returned HTTP 500 with a body that is not JSON"),
        "{error}"
    );
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn backend_502_is_retryable() {
    let setup = setup().await;
    let error = setup
        .token_error(Reply::raw(
            502,
            "text/html",
            "<html><h1>502 Bad Gateway</h1></html>",
        ))
        .await;
    assert_eq!(backend_error(&error).status, 502);
    assert!(error.is_retryable());
    assert!(error.to_string().contains("HTTP 502"), "{error}");

    let error = setup
        .token_error(Reply::json(502, &json!({ "error": "bad_gateway" })))
        .await;
    assert_eq!(backend_error(&error).status, 502);
    assert_eq!(
        error.to_string(),
        "backend returned HTTP 502 (bad_gateway): the backend is unavailable (HTTP 502); retry later"
    );
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn backend_503_reports_retry_after() {
    let setup = setup().await;
    let error = setup
        .token_error(
            Reply::json(503, &json!({ "detail": "Service Unavailable" }))
                .with_header("retry-after", "7"),
        )
        .await;
    assert_eq!(backend_error(&error).status, 503);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(7)));
    assert!(error.is_retryable());
    assert!(
        error
            .to_string()
            .contains("the backend is unavailable (HTTP 503); retry later"),
        "{error}"
    );

    let error = setup
        .token_error(
            Reply::raw(503, "text/html", "<html>maintenance</html>")
                .with_header("retry-after", "120"),
        )
        .await;
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));

    let error = setup
        .token_error(Reply::empty(503).with_header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"))
        .await;
    assert_eq!(backend_error(&error).status, 503);
    assert_eq!(error.retry_after(), None, "an HTTP-date is ignored");
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn hanging_backend_times_out() {
    let setup = setup_with_timeout(SHORT_TIMEOUT).await;
    let error = setup.token_error(Reply::Hang).await;
    let Error::Timeout { target, timeout } = &error else {
        panic!("expected Error::Timeout, got {error:?}");
    };
    assert_eq!(target, "the Alter backend");
    assert_eq!(*timeout, SHORT_TIMEOUT);
    assert!(error.is_timeout());
    assert!(error.is_retryable());
    assert_eq!(
        error.to_string(),
        "request to the Alter backend timed out after 1 s"
    );
    assert_eq!(setup.backend.received_at(TOKEN_PATH).len(), 1);
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn closed_connection_is_network_error() {
    let closing = RawServer::closing().await;
    let provider = StandIn::provider().await;
    let vault = Vault::builder(api_key())
        .base_url(closing.url())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    let error = bounded(
        vault
            .request(Method::GET, provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .user_token(USER_TOKEN)
            .send(),
    )
    .await
    .unwrap_err();
    let Error::Network { target, .. } = &error else {
        panic!("expected Error::Network, got {error:?}");
    };
    assert_eq!(target, "the Alter backend");
    assert!(error.is_retryable());
    assert!(
        error
            .to_string()
            .starts_with("network error calling the Alter backend: "),
        "{error}"
    );

    vault.flush().await;
    assert_eq!(
        closing.request_lines(),
        ["POST /sdk/token HTTP/1.1"],
        "sent once, no retry"
    );
    assert!(provider.received().is_empty());
}

#[tokio::test]
async fn refused_connection_is_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = listener.local_addr().unwrap().port();
    drop(listener);
    let provider = StandIn::provider().await;
    let vault = Vault::builder(api_key())
        .base_url(format!("http://127.0.0.1:{closed_port}"))
        .build()
        .unwrap();
    let error = bounded(
        vault
            .request(Method::GET, provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .user_token(USER_TOKEN)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, Error::Network { target, .. } if target == "the Alter backend"),
        "{error:?}"
    );
    assert!(provider.received().is_empty());
}

#[tokio::test]
async fn non_json_success_is_malformed() {
    let setup = setup().await;
    let cases = [
        (
            Reply::raw(200, "text/html", "<html>login</html>"),
            "the body is not valid JSON",
        ),
        (Reply::empty(200), "the body is not valid JSON"),
        (
            Reply::json(200, &json!([{ "access_token": "x" }])),
            "the body is JSON an array, not an object",
        ),
        (
            Reply::json(200, &json!("token")),
            "the body is JSON a string, not an object",
        ),
        (
            Reply::raw(200, "application/json", "{\"access_token\": \"x\""),
            "the body is not valid JSON",
        ),
    ];
    for (reply, expected) in cases {
        let error = setup.token_error(reply).await;
        let Error::MalformedResponse { endpoint, reason } = &error else {
            panic!("expected Error::MalformedResponse, got {error:?}");
        };
        assert_eq!(*endpoint, "/sdk/token");
        assert!(reason.starts_with(expected), "{reason}");
    }
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn non_json_client_errors_mapped_by_status() {
    let setup = setup().await;
    let html = |status| Reply::raw(status, "text/html", "<html>error page</html>");

    let error = setup.token_error(html(400)).await;
    assert_eq!(backend_error(&error).status, 400);
    assert!(!error.is_retryable());

    let error = setup.token_error(html(401)).await;
    assert_eq!(backend_error(&error).status, 401);

    let error = setup.token_error(html(403)).await;
    assert!(matches!(error, Error::PolicyViolation(_)), "{error:?}");
    assert_eq!(error.status(), Some(403));

    let error = setup.token_error(html(404)).await;
    assert!(matches!(error, Error::GrantNotFound(_)), "{error:?}");
    assert_eq!(error.status(), Some(404));

    let error = setup.token_error(html(410)).await;
    assert!(matches!(error, Error::GrantDeleted(_)), "{error:?}");

    let error = setup.token_error(html(422)).await;
    assert_eq!(backend_error(&error).status, 422);

    let error = setup
        .token_error(html(429).with_header("retry-after", "5"))
        .await;
    let Error::RateLimited(limit) = &error else {
        panic!("expected Error::RateLimited, got {error:?}");
    };
    assert_eq!(limit.retry_after, Some(Duration::from_secs(5)));
    assert!(error.is_retryable());
    assert!(error.to_string().contains("retry after 5 s"), "{error}");

    for status in [400, 401, 403, 404, 422] {
        let message = setup.token_error(html(status)).await.to_string();
        assert!(
            message.contains(&format!("HTTP {status} with a body that is not JSON")),
            "{status}: {message}"
        );
    }
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn backend_redirect_not_followed() {
    let setup = setup().await;
    let elsewhere = StandIn::backend().await;
    let error = setup
        .token_error(Reply::empty(302).with_header("location", &elsewhere.url_of(TOKEN_PATH)))
        .await;
    assert!(
        matches!(
            &error,
            Error::MalformedResponse {
                endpoint: "/sdk/token",
                ..
            }
        ),
        "{error:?}"
    );
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
    setup.assert_provider_not_called().await;
}

#[tokio::test]
async fn provider_timeout_still_audited() {
    let setup = setup_with_timeout(SHORT_TIMEOUT).await;
    setup.provider.script("/slow", Reply::Hang);
    let error = bounded(
        setup
            .vault
            .request(Method::POST, setup.provider.url_of("/slow"))
            .provider(PROVIDER_ID)
            .json(&json!({ "q": 1 }))
            .reason("nightly sync")
            .send(),
    )
    .await
    .unwrap_err();
    let Error::Timeout { target, timeout } = &error else {
        panic!("expected Error::Timeout, got {error:?}");
    };
    assert_eq!(target, &setup.provider.url());
    assert_eq!(*timeout, SHORT_TIMEOUT);
    assert_eq!(
        error.to_string(),
        format!("request to {} timed out after 1 s", setup.provider.url())
    );

    setup.vault.flush().await;
    assert_eq!(setup.provider.received_at("/slow").len(), 1);
    let audit = setup.backend.received_at(AUDIT_PATH);
    assert_eq!(audit.len(), 1);
    let row = audit[0].json();
    assert_eq!(row["grant_id"], GRANT_ID);
    assert_eq!(row["method"], "POST");
    assert_eq!(row["url"], setup.provider.url_of("/slow"));
    assert_eq!(row["request_body"], json!({ "q": 1 }));
    assert_eq!(row["response_status"], 0);
    assert_eq!(row["response_headers"], Value::Null);
    assert_eq!(
        row["response_body"],
        "<transport error: timeout after 1000ms>"
    );
    assert_eq!(row["reason"], "nightly sync");
}

#[tokio::test]
async fn provider_closed_connection_still_audited() {
    let setup = setup().await;
    let closing = RawServer::closing().await;
    let url = format!("{}/items", closing.url());
    let error = bounded(
        setup
            .vault
            .request(Method::GET, url.as_str())
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, Error::Network { target, .. } if *target == closing.url()),
        "{error:?}"
    );
    setup.vault.flush().await;
    assert_eq!(
        closing.request_lines(),
        ["GET /items HTTP/1.1"],
        "sent once, no retry"
    );
    let audit = setup.backend.received_at(AUDIT_PATH);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].json()["response_status"], 0);
    assert_eq!(
        audit[0].json()["response_body"],
        "<transport error: network>"
    );
}

#[tokio::test]
async fn failed_audit_post_does_not_fail_the_call() {
    let setup = setup().await;
    setup.backend.script(
        AUDIT_PATH,
        Reply::json(500, &json!({ "error": "internal_error" })),
    );
    let response = bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    bounded(setup.vault.flush()).await;
    assert_eq!(
        setup.backend.received_at(AUDIT_PATH).len(),
        1,
        "one attempt, no retry"
    );
}

#[tokio::test]
async fn hanging_audit_endpoint_does_not_block_flush() {
    let setup = setup_with_timeout(SHORT_TIMEOUT).await;
    setup.backend.script(AUDIT_PATH, Reply::Hang);
    let response = bounded(
        setup
            .vault
            .request(Method::GET, setup.provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    bounded(setup.vault.flush()).await;
    assert_eq!(setup.backend.received_at(AUDIT_PATH).len(), 1);
}

#[tokio::test]
async fn actor_id_from_backend_validated() {
    let setup = setup().await;
    let send = || {
        bounded(
            setup
                .vault
                .request(Method::GET, setup.provider.url_of("/user"))
                .provider(PROVIDER_ID)
                .send(),
        )
    };
    let token = || Reply::json(200, &alter_tests::stand_in::fixtures::token_response());
    let actor_id = "0b5e5c1e-2f7a-4c1d-9a3b-5d6e7f8a9b0c";

    setup.backend.script(
        TOKEN_PATH,
        token().with_header("x-alter-actor-id", "not-a-uuid"),
    );
    send().await.unwrap();
    send().await.unwrap();
    let requests = setup.backend.received_at(TOKEN_PATH);
    assert_eq!(
        requests[1].header("x-alter-actor-id"),
        None,
        "an invalid actor id was kept"
    );

    setup.backend.script(
        TOKEN_PATH,
        token().with_header("x-alter-actor-id", actor_id),
    );
    send().await.unwrap();
    setup.backend.script(
        TOKEN_PATH,
        token().with_header("x-alter-actor-id", "1b5e5c1e-2f7a-4c1d-9a3b-5d6e7f8a9b0c"),
    );
    send().await.unwrap();
    send().await.unwrap();
    let requests = setup.backend.received_at(TOKEN_PATH);
    assert_eq!(requests[3].header("x-alter-actor-id"), Some(actor_id));
    assert_eq!(
        requests[4].header("x-alter-actor-id"),
        Some(actor_id),
        "the first actor id wins"
    );
    assert!(requests[4].has_valid_signature(&api_key()));
}

#[tokio::test]
async fn stalled_provider_body_times_out() {
    let setup = setup_with_timeout(SHORT_TIMEOUT).await;
    let stalling = RawServer::stalling_body().await;
    let url = format!("{}/export", stalling.url());
    let error = bounded(
        setup
            .vault
            .request(Method::GET, url.as_str())
            .provider(PROVIDER_ID)
            .send(),
    )
    .await
    .unwrap_err();
    let Error::Timeout { target, timeout } = &error else {
        panic!("expected Error::Timeout, got {error:?}");
    };
    assert_eq!(target, &stalling.url());
    assert_eq!(*timeout, SHORT_TIMEOUT);
    assert_eq!(stalling.request_lines(), ["GET /export HTTP/1.1"]);

    setup.vault.flush().await;
    let audit = setup.backend.received_at(AUDIT_PATH);
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].json()["response_status"], 0);
    assert_eq!(
        audit[0].json()["response_body"],
        "<transport error: timeout after 1000ms>"
    );
}

#[tokio::test]
async fn stalled_backend_body_times_out() {
    let stalling = RawServer::stalling_body().await;
    let provider = StandIn::provider().await;
    let vault = Vault::builder(api_key())
        .base_url(stalling.url())
        .timeout(SHORT_TIMEOUT)
        .build()
        .unwrap();
    let error = bounded(
        vault
            .request(Method::GET, provider.url_of("/user"))
            .provider(PROVIDER_ID)
            .user_token(USER_TOKEN)
            .send(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, Error::Timeout { target, .. } if target == "the Alter backend"),
        "{error:?}"
    );
    assert!(provider.received().is_empty());
}
