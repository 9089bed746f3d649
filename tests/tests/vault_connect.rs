//! Connect sessions against the stand-in backend: the exact creation body, polling from
//! pending to completed, typed failures (denied, expired, malformed), and a rate-limited poll
//! retried after its `Retry-After` delay.

use std::time::Duration;

use alter::error::{ConnectError, ConnectErrorKind};
use alter::vault::ConnectStatus;
use alter::{Error, Vault};
use alter_tests::stand_in::fixtures::{
    CONNECT_CREATE_PATH, CONNECT_POLL_PATH, GRANT_ID, PROVIDER_ID, USER_TOKEN, api_key, bounded,
    vault_builder,
};
use alter_tests::stand_in::{Reply, StandIn};
use serde_json::{Value, json};

const SESSION_TOKEN: &str = "cs_stand_in_session";
const FAST_POLL: Duration = Duration::from_millis(10);

struct Setup {
    backend: StandIn,
    vault: Vault,
}

async fn setup() -> Setup {
    let backend = StandIn::backend().await;
    let vault = vault_builder(&backend)
        .build()
        .unwrap()
        .with_user_token(USER_TOKEN);
    backend.script(CONNECT_CREATE_PATH, Reply::json(200, &created_session()));
    Setup { backend, vault }
}

fn created_session() -> Value {
    json!({
        "session_token": SESSION_TOKEN,
        "connect_url": "https://connect.example/s/cs_stand_in_session",
        "expires_in": 600,
        "expires_at": "2030-01-01T00:10:00Z",
    })
}

fn pending() -> Reply {
    Reply::json(200, &json!({ "status": "pending" }))
}

fn completed() -> Reply {
    Reply::json(
        200,
        &json!({
            "status": "completed",
            "grants": [{
                "grant_id": GRANT_ID,
                "provider_id": PROVIDER_ID,
                "account_identifier": "octocat@example.com",
                "scopes": ["repo", "read:org"],
                "api_base_url": "https://api.github.com",
                "operation": "creation",
            }],
        }),
    )
}

fn connect_error(error: &Error) -> &ConnectError {
    match error {
        Error::Connect(connect) => connect,
        other => panic!("expected Error::Connect, got {other:?}"),
    }
}

impl Setup {
    fn wait(&self) -> alter::vault::WaitForConnect {
        self.vault
            .wait_for_connect_session(SESSION_TOKEN)
            .poll_interval(FAST_POLL)
            .timeout(Duration::from_secs(30))
    }

    fn polls(&self) -> usize {
        self.backend.received_at(CONNECT_POLL_PATH).len()
    }
}

#[tokio::test]
async fn create_sends_exact_body() {
    let setup = setup().await;
    let session = bounded(
        setup
            .vault
            .create_connect_session()
            .allowed_providers([PROVIDER_ID, "google"])
            .return_url("https://app.example/done")
            .allowed_origin("https://app.example")
            .metadata(
                Some("203.0.113.9".to_owned()),
                Some("Mozilla/5.0 \u{e9}".to_owned()),
            )
            .required_scopes(PROVIDER_ID, ["repo"])
            .label("work")
            .agent("agent-1")
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(session.session_token, SESSION_TOKEN);
    assert_eq!(
        session.connect_url,
        "https://connect.example/s/cs_stand_in_session"
    );
    assert_eq!(session.expires_in, Duration::from_secs(600));
    assert_eq!(session.expires_at, "2030-01-01T00:10:00Z");

    let created = setup.backend.received_at(CONNECT_CREATE_PATH);
    assert_eq!(created.len(), 1);
    let expected = format!(
        concat!(
            r#"{{"allowed_providers":["github","google"],"return_url":"https://app.example/done","#,
            r#""allowed_origin":"https://app.example","metadata":{{"ip_address":"203.0.113.9","#,
            r#""user_agent":"Mozilla/5.0 \u00e9"}},"required_scopes":{{"github":["repo"]}},"#,
            r#""requested_grant":{{"label":"work"}},"agent":"agent-1","user_token":"{}"}}"#
        ),
        USER_TOKEN
    );
    assert_eq!(created[0].text(), expected);
    assert_eq!(created[0].header("content-type"), Some("application/json"));
    assert!(created[0].has_valid_signature(&api_key()));
}

#[tokio::test]
async fn create_minimal_body() {
    let setup = setup().await;
    bounded(setup.vault.create_connect_session().send())
        .await
        .unwrap();
    let created = &setup.backend.received_at(CONNECT_CREATE_PATH)[0];
    assert_eq!(
        created.text(),
        format!(
            r#"{{"allowed_providers":null,"return_url":null,"allowed_origin":null,"metadata":null,"user_token":"{USER_TOKEN}"}}"#
        )
    );
}

#[tokio::test]
async fn create_rejects_bad_arguments_locally() {
    let setup = setup().await;
    let cases = [
        (
            setup
                .vault
                .create_connect_session()
                .allowed_providers(Vec::<String>::new()),
            "allowed providers is empty; leave it unset to offer every provider",
        ),
        (
            setup
                .vault
                .create_connect_session()
                .allowed_providers([" "]),
            "allowed providers contains a blank provider id",
        ),
        (
            setup.vault.create_connect_session().label(""),
            "the grant label must be 1 to 255 characters, got 0",
        ),
        (
            setup.vault.create_connect_session().label("x".repeat(256)),
            "the grant label must be 1 to 255 characters, got 256",
        ),
        (
            setup.vault.create_connect_session().agent(""),
            "the agent must not be empty",
        ),
    ];
    for (builder, expected) in cases {
        let error = bounded(builder.send()).await.unwrap_err();
        let Error::InvalidRequest(message) = &error else {
            panic!("expected Error::InvalidRequest, got {error:?}");
        };
        assert!(message.contains(expected), "{message}");
    }
    assert!(setup.backend.received().is_empty());
}

#[tokio::test]
async fn create_malformed_answer() {
    let setup = setup().await;
    let mut missing_url = created_session();
    missing_url.as_object_mut().unwrap().remove("connect_url");
    let cases = [
        (
            Reply::raw(200, "text/html", "<html/>"),
            "the body is not JSON",
        ),
        (
            Reply::json(200, &missing_url),
            "`connect_url` must be a non-empty string",
        ),
        (
            Reply::json(
                200,
                &json!({ "session_token": "s", "connect_url": "u", "expires_in": 1.5, "expires_at": "t" }),
            ),
            "`expires_in` must be an integer",
        ),
    ];
    for (reply, expected) in cases {
        setup.backend.script(CONNECT_CREATE_PATH, reply);
        let error = bounded(setup.vault.create_connect_session().send())
            .await
            .unwrap_err();
        let Error::MalformedResponse { endpoint, reason } = &error else {
            panic!("expected Error::MalformedResponse, got {error:?}");
        };
        assert_eq!(*endpoint, CONNECT_CREATE_PATH);
        assert!(reason.contains(expected), "{reason}");
    }
}

#[tokio::test]
async fn poll_pending_then_completed() {
    let setup = setup().await;
    setup
        .backend
        .script_sequence(CONNECT_POLL_PATH, [pending(), completed()]);

    let first = bounded(setup.vault.connect_session_status(SESSION_TOKEN))
        .await
        .unwrap();
    assert_eq!(
        first,
        ConnectStatus::Pending {
            declined: Vec::new()
        }
    );

    let second = bounded(setup.vault.connect_session_status(SESSION_TOKEN))
        .await
        .unwrap();
    let ConnectStatus::Completed { grants, failed } = second else {
        panic!("expected a completed session, got {second:?}");
    };
    assert!(failed.is_empty());
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].grant_id, GRANT_ID);
    assert_eq!(grants[0].provider_id, PROVIDER_ID);
    assert_eq!(
        grants[0].account_identifier.as_deref(),
        Some("octocat@example.com")
    );
    assert_eq!(grants[0].scopes, ["repo", "read:org"]);
    assert_eq!(
        grants[0].api_base_url.as_deref(),
        Some("https://api.github.com")
    );

    let polls = setup.backend.received_at(CONNECT_POLL_PATH);
    assert_eq!(polls.len(), 2);
    for poll in &polls {
        assert_eq!(
            poll.text(),
            format!(r#"{{"session_token":"{SESSION_TOKEN}"}}"#)
        );
        assert!(poll.has_valid_signature(&api_key()));
    }
}

#[tokio::test]
async fn wait_returns_grants() {
    let setup = setup().await;
    setup.backend.script_sequence(
        CONNECT_POLL_PATH,
        [
            pending(),
            Reply::json(
                200,
                &json!({
                    "status": "pending",
                    "declined_providers": [{ "provider_id": "google", "error_code": "access_denied" }],
                }),
            ),
            completed(),
        ],
    );
    let grants = bounded(setup.wait()).await.unwrap();
    assert_eq!(grants.len(), 1);
    assert_eq!(grants[0].grant_id, GRANT_ID);
    assert_eq!(setup.polls(), 3);
}

#[tokio::test]
async fn denied_session_is_typed() {
    let setup = setup().await;
    setup.backend.script_sequence(
        CONNECT_POLL_PATH,
        [
            pending(),
            Reply::json(
                200,
                &json!({
                    "status": "error",
                    "error": { "error_code": "connect_denied", "error_message": "the user declined access" },
                }),
            ),
        ],
    );
    let error = bounded(setup.wait()).await.unwrap_err();
    let connect = connect_error(&error);
    assert_eq!(connect.kind, ConnectErrorKind::Denied);
    assert_eq!(connect.code.as_deref(), Some("connect_denied"));
    assert_eq!(
        error.to_string(),
        "connect session failed: the user declined: the user declined access"
    );
    assert_eq!(setup.polls(), 2, "a denial ends the wait");
}

#[tokio::test]
async fn expired_after_pending_is_timeout() {
    let setup = setup().await;
    setup.backend.script_sequence(
        CONNECT_POLL_PATH,
        [pending(), Reply::json(200, &json!({ "status": "expired" }))],
    );
    let error = bounded(setup.wait()).await.unwrap_err();
    let connect = connect_error(&error);
    assert_eq!(connect.kind, ConnectErrorKind::Timeout);
    assert_eq!(connect.code.as_deref(), Some("session_expired"));
    assert_eq!(
        error.to_string(),
        "connect session failed: timed out: the connect session expired"
    );
    assert_eq!(setup.polls(), 2);
}

#[tokio::test]
async fn expired_without_pending_is_flow_error() {
    let setup = setup().await;
    setup.backend.script(
        CONNECT_POLL_PATH,
        Reply::json(200, &json!({ "status": "expired" })),
    );
    let error = bounded(setup.wait()).await.unwrap_err();
    let connect = connect_error(&error);
    assert_eq!(connect.kind, ConnectErrorKind::Flow);
    assert_eq!(connect.code.as_deref(), Some("session_expired"));
    assert_eq!(setup.polls(), 1);
}

#[tokio::test]
async fn rate_limited_poll_retried_after_delay() {
    let setup = setup().await;
    setup.backend.script_sequence(
        CONNECT_POLL_PATH,
        [
            pending(),
            Reply::json(
                429,
                &json!({ "error": "rate_limit_exceeded", "message": "slow down", "scope": "api_key" }),
            )
            .with_header("retry-after", "1"),
            completed(),
        ],
    );
    let grants = bounded(setup.wait()).await.unwrap();
    assert_eq!(grants[0].grant_id, GRANT_ID);

    let polls = setup.backend.received_at(CONNECT_POLL_PATH);
    assert_eq!(polls.len(), 3);
    // A lower bound only: the retry may come later on a slow machine, never earlier.
    let pause = polls[2].at.duration_since(polls[1].at);
    assert!(
        pause >= Duration::from_secs(1),
        "retried after {pause:?}, before Retry-After"
    );
}

#[tokio::test]
async fn rate_limited_past_deadline_stops() {
    let setup = setup().await;
    setup.backend.script(
        CONNECT_POLL_PATH,
        Reply::raw(429, "text/html", "<html>slow down</html>").with_header("retry-after", "3600"),
    );
    let error = bounded(
        setup
            .vault
            .wait_for_connect_session(SESSION_TOKEN)
            .poll_interval(FAST_POLL)
            .timeout(Duration::from_secs(2)),
    )
    .await
    .unwrap_err();
    let connect = connect_error(&error);
    assert_eq!(connect.kind, ConnectErrorKind::Timeout);
    assert_eq!(connect.code.as_deref(), Some("rate_limited"));
    assert_eq!(setup.polls(), 1, "no poll before the Retry-After delay");
}

#[tokio::test]
async fn deadline_elapses_while_pending() {
    let setup = setup().await;
    setup.backend.script(CONNECT_POLL_PATH, pending());
    let error = bounded(
        setup
            .vault
            .wait_for_connect_session(SESSION_TOKEN)
            .poll_interval(FAST_POLL)
            .timeout(Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    let connect = connect_error(&error);
    assert_eq!(connect.kind, ConnectErrorKind::Timeout);
    assert_eq!(connect.code.as_deref(), Some("poll_deadline_elapsed"));
    assert!(setup.polls() >= 2, "polled {} times", setup.polls());
}

#[tokio::test]
async fn zero_poll_interval_is_raised() {
    let setup = setup().await;
    setup.backend.script(CONNECT_POLL_PATH, pending());
    let timeout = Duration::from_millis(300);
    let error = bounded(
        setup
            .vault
            .wait_for_connect_session(SESSION_TOKEN)
            .poll_interval(Duration::ZERO)
            .timeout(timeout),
    )
    .await
    .unwrap_err();
    assert_eq!(connect_error(&error).kind, ConnectErrorKind::Timeout);
    // With at least 10 ms between polls, the wait has room for one poll per 10 ms and one more.
    let max_polls = usize::try_from(timeout.as_millis() / 10).unwrap() + 1;
    assert!(setup.polls() <= max_polls, "polled {} times", setup.polls());
    assert!(setup.polls() >= 2, "polled {} times", setup.polls());
}

#[tokio::test]
async fn poll_failures_end_the_wait() {
    let setup = setup().await;
    setup.backend.script(
        CONNECT_POLL_PATH,
        Reply::json(
            500,
            &json!({ "error": "internal_error", "message": "boom" }),
        ),
    );
    let error = bounded(setup.wait()).await.unwrap_err();
    assert_eq!(error.status(), Some(500));
    assert_eq!(setup.polls(), 1, "only a rate limit is retried");

    setup
        .backend
        .script(CONNECT_POLL_PATH, Reply::raw(200, "text/plain", "pending"));
    let error = bounded(setup.wait()).await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::MalformedResponse {
                endpoint: CONNECT_POLL_PATH,
                ..
            }
        ),
        "{error:?}"
    );

    setup.backend.script(
        CONNECT_POLL_PATH,
        Reply::json(
            200,
            &json!({ "status": "error", "error": { "error_code": "connect_denied" } }),
        ),
    );
    let error = bounded(setup.wait()).await.unwrap_err();
    assert!(
        matches!(&error, Error::MalformedResponse { reason, .. } if reason.contains("`error_message`")),
        "{error:?}"
    );
}

#[tokio::test]
async fn empty_session_token_rejected() {
    let setup = setup().await;
    let error = bounded(setup.vault.connect_session_status(""))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, Error::InvalidRequest(message) if message == "the session token is empty"),
        "{error:?}"
    );
    assert!(setup.backend.received().is_empty());
}

#[tokio::test]
async fn hanging_poll_bounded_by_wait_timeout() {
    let setup = setup().await;
    setup.backend.script(CONNECT_POLL_PATH, Reply::Hang);
    let error = bounded(
        setup
            .vault
            .wait_for_connect_session(SESSION_TOKEN)
            .poll_interval(FAST_POLL)
            .timeout(Duration::from_secs(1)),
    )
    .await
    .unwrap_err();
    let connect = connect_error(&error);
    assert_eq!(connect.kind, ConnectErrorKind::Timeout);
    assert_eq!(connect.code.as_deref(), Some("poll_deadline_elapsed"));
    assert!(
        connect.message.contains("before the deadline"),
        "{}",
        connect.message
    );
    assert!(setup.polls() <= 1, "a hanging poll was sent again");
}
