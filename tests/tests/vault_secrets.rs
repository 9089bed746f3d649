//! Secrets never reach a log line or a `Debug` output.
//!
//! A `tracing` subscriber captures every event and span at TRACE level for every target,
//! including `log` records from reqwest and rustls. Meanwhile successful and failing flows carry
//! the API key, the user token, the provider access token and an additional credential value.
//! None of them may appear in any captured line, in the `Debug` output of the values those
//! flows produce, or in the audit rows and scope reports sent to the backend.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use alter::identity::UserToken;
use alter::protocol::api_key::ApiKey;
use alter::protocol::inject::plan_injection;
use alter::protocol::token_response::parse_token_response;
use alter::{Error, Method, Vault};
use alter_tests::stand_in::fixtures::{
    ACCESS_TOKEN, ADDITIONAL_CREDENTIAL, API_KEY_RANDOM, AUDIT_PATH, CONNECT_CREATE_PATH,
    PROVIDER_ID, TOKEN_PATH, USER_TOKEN, api_key, bounded, scope_report_path, secrets,
    token_response, vault_builder,
};
use alter_tests::stand_in::{RawServer, Reply, StandIn};
use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Distinctive parts of each secret, so that a truncated or partly encoded leak is found too.
const SECRET_FRAGMENTS: [&str; 4] = [
    API_KEY_RANDOM,
    "user-token-canary",
    "accessTokenCanary",
    "credential-canary",
];

/// Everything the subscriber wrote, shared by every writer it makes.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Installs the capturing subscriber for the whole test binary, once.
fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        // `try_init` also routes `log` records (reqwest, rustls) into the subscriber.
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::FULL)
            .with_ansi(false)
            .with_target(true)
            .with_writer(capture.clone())
            .try_init()
            .expect("no other global subscriber in this test binary");
        capture
    })
}

/// Returns every secret and fragment that `text` contains.
fn leaked_in(text: &str) -> Vec<String> {
    secrets()
        .into_iter()
        .chain(SECRET_FRAGMENTS.map(str::to_owned))
        .filter(|secret| text.contains(secret.as_str()))
        .collect()
}

/// Returns a token response that uses every secret: the access token in `Authorization`, and
/// the additional credential both in a header and in the query.
fn full_token_response() -> Value {
    let mut response = token_response();
    response["additional_credentials"] = json!({ "api_key": ADDITIONAL_CREDENTIAL });
    response["additional_injections"] = json!([
        { "target": "header", "key": "X-Api-Key", "value_source": "additional_credentials.api_key" },
        { "target": "query_param", "key": "key", "value_source": "additional_credentials.api_key" },
    ]);
    response
}

/// What the flows produced, for the `Debug` checks.
struct Outcomes {
    errors: Vec<Error>,
    responses: Vec<alter::vault::Response>,
}

/// Runs a successful call and several failing ones, every one with all four secrets in play.
async fn run_flows() -> Outcomes {
    let backend = StandIn::backend().await;
    let provider = StandIn::provider().await;
    backend.script(TOKEN_PATH, Reply::json(200, &full_token_response()));
    let vault = vault_builder(&backend)
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap()
        .with_user_token(USER_TOKEN);
    let send = |path: &str| {
        vault
            .request(Method::POST, provider.url_of(path))
            .provider(PROVIDER_ID)
            .json(&json!({ "note": "hello" }))
            .context("job", "secrets-test")
            .send()
    };
    let mut outcomes = Outcomes {
        errors: Vec::new(),
        responses: Vec::new(),
    };

    let response = bounded(send("/ok")).await.unwrap();
    let received = &provider.received_at("/ok")[0];
    assert_eq!(
        received.header("authorization"),
        Some(format!("Bearer {ACCESS_TOKEN}").as_str()),
        "the flow must carry the access token"
    );
    assert_eq!(received.header("x-api-key"), Some(ADDITIONAL_CREDENTIAL));
    assert_eq!(
        received.query.as_deref(),
        Some(format!("key={ADDITIONAL_CREDENTIAL}").as_str())
    );
    assert_eq!(
        backend.received_at(TOKEN_PATH)[0].json()["user_token"],
        USER_TOKEN
    );
    outcomes.responses.push(response);

    provider.script("/unauthorized", Reply::empty(401));
    provider.script(
        "/scope",
        Reply::empty(403).with_header(
            "www-authenticate",
            r#"Bearer error="insufficient_scope", scope="repo""#,
        ),
    );
    provider.script("/slow", Reply::Hang);
    for path in ["/unauthorized", "/scope", "/slow"] {
        outcomes.errors.push(bounded(send(path)).await.unwrap_err());
    }

    let closing = RawServer::closing().await;
    let closed = vault
        .request(Method::GET, format!("{}/closed", closing.url()))
        .provider(PROVIDER_ID)
        .send();
    outcomes.errors.push(bounded(closed).await.unwrap_err());

    let mut forbidden = full_token_response();
    forbidden["injection_header"] = json!("Cookie");
    backend.script(TOKEN_PATH, Reply::json(200, &forbidden));
    outcomes
        .errors
        .push(bounded(send("/never")).await.unwrap_err());

    backend.script(
        TOKEN_PATH,
        Reply::json(
            401,
            &json!({ "error": "jwt_validation_error", "message": "token expired" }),
        ),
    );
    outcomes
        .errors
        .push(bounded(send("/never")).await.unwrap_err());

    backend.script(TOKEN_PATH, Reply::json(200, &full_token_response()));
    backend.script(
        AUDIT_PATH,
        Reply::json(500, &json!({ "message": "audit store unavailable" })),
    );
    bounded(send("/ok")).await.unwrap();

    backend.script(
        CONNECT_CREATE_PATH,
        Reply::json(
            200,
            &json!({
                "session_token": "cs_1",
                "connect_url": "https://connect.example/s/cs_1",
                "expires_in": 600,
                "expires_at": "2030-01-01T00:00:00Z",
            }),
        ),
    );
    bounded(vault.create_connect_session().send())
        .await
        .unwrap();
    backend.script(CONNECT_CREATE_PATH, Reply::Hang);
    outcomes.errors.push(
        bounded(vault.create_connect_session().send())
            .await
            .unwrap_err(),
    );

    bounded(vault.flush()).await;
    assert_eq!(backend.received_at(&scope_report_path()).len(), 1);
    let audit = backend.received_at(AUDIT_PATH);
    assert!(audit.len() >= 5, "every provider exchange was audited");
    for posted in audit
        .iter()
        .chain(&backend.received_at(&scope_report_path()))
    {
        let leaked = leaked_in(posted.text());
        assert!(leaked.is_empty(), "{} body shows {leaked:?}", posted.path);
    }
    outcomes
}

#[test]
fn secrets_never_logged() {
    let capture = capture();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_flows());

    let text = capture.text();
    assert!(
        text.contains("alter::backend"),
        "the SDK's own trace events were not captured"
    );
    assert!(
        text.contains("reqwest::connect"),
        "reqwest's log records were not captured"
    );
    assert!(
        text.contains("hyper_util::client"),
        "hyper-util's trace events were not captured"
    );
    assert!(
        text.contains("alter::audit"),
        "the audit failure warning was not captured"
    );
    let leaks: Vec<(&str, Vec<String>)> = text
        .lines()
        .map(|line| (line, leaked_in(line)))
        .filter(|(_, leaked)| !leaked.is_empty())
        .collect();
    assert!(leaks.is_empty(), "secrets in log lines: {leaks:#?}");
}

#[tokio::test]
async fn secrets_absent_from_debug() {
    let outcomes = run_flows().await;
    assert_eq!(outcomes.errors.len(), 7);

    let backend = StandIn::backend().await;
    let vault = vault_builder(&backend).build().unwrap();
    let bound = vault.with_user_token(USER_TOKEN);
    let request = bound
        .request(Method::GET, "https://api.example.com/user")
        .provider(PROVIDER_ID)
        .header("X-Api-Key", ADDITIONAL_CREDENTIAL)
        .header("Authorization", format!("Bearer {ACCESS_TOKEN}"))
        .user_token(USER_TOKEN);
    let token = parse_token_response(&serde_json::to_vec(&full_token_response()).unwrap()).unwrap();
    let injection = plan_injection(&token).unwrap();
    assert!(
        injection.query_params()[0].1.expose_secret() == ADDITIONAL_CREDENTIAL,
        "the injection must carry the credential"
    );

    let mut outputs = vec![
        ("Vault", format!("{vault:?}")),
        ("bound Vault", format!("{bound:#?}")),
        ("RequestBuilder", format!("{request:#?}")),
        ("TokenResponse", format!("{token:#?}")),
        ("Injection", format!("{injection:#?}")),
        ("UserToken", format!("{:?}", UserToken::from(USER_TOKEN))),
        ("UserToken display", UserToken::from(USER_TOKEN).to_string()),
        (
            "ApiKey",
            format!("{:?}", ApiKey::parse(&api_key()).unwrap()),
        ),
        (
            "ApiKey display",
            ApiKey::parse(&api_key()).unwrap().to_string(),
        ),
        ("VaultBuilder", format!("{:?}", Vault::builder(api_key()))),
    ];
    for response in &outcomes.responses {
        outputs.push(("Response", format!("{response:#?}")));
    }
    for error in &outcomes.errors {
        outputs.push(("Error", format!("{error:#?}")));
        outputs.push(("Error display", error.to_string()));
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            outputs.push(("Error source", format!("{cause:?} / {cause}")));
            source = cause.source();
        }
    }

    for (what, output) in &outputs {
        let leaked = leaked_in(output);
        assert!(leaked.is_empty(), "{what} shows {leaked:?}: {output}");
    }
}
