//! The quickstart routes end to end: DevVault, the demo provider and the app on `127.0.0.1`,
//! driven with `reqwest` as the printed `curl` commands would.

use std::collections::HashMap;

use alter::axum::AlterAxum;
use alter::dev::DevVault;
use alter_examples::quickstart::{AppState, router};
use alter_tests::server::TestServer;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::task::JoinSet;

const USERS: usize = 50;
const REQUESTS_PER_USER: usize = 20;

struct Stack {
    dev: DevVault,
    alter: AlterAxum,
    app: TestServer,
    http: reqwest::Client,
}

impl Stack {
    async fn start() -> Self {
        let dev = DevVault::builder()
            .auto_approve(true)
            .start()
            .await
            .expect("DevVault starts");
        let alter = AlterAxum::new(dev.api_key().expose_secret())
            .caller("quickstart-e2e")
            .base_url(dev.base_url())
            .build()
            .expect("the vault builds");
        let app = TestServer::start(router(AppState {
            alter: alter.clone(),
            demo_api_url: dev.demo_api_url(),
        }))
        .await;
        Self {
            dev,
            alter,
            app,
            http: reqwest::Client::new(),
        }
    }

    async fn chat(&self, token: &str) -> reqwest::Response {
        self.http
            .post(self.app.url("/chat"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the app answers /chat")
    }

    /// Creates a connect session through the app and completes it headlessly by following the
    /// connect URL's redirects through the auto-approving consent page.
    async fn connect(&self, token: &str) {
        let session: Value = self
            .http
            .get(self.app.url("/connect"))
            .bearer_auth(token)
            .send()
            .await
            .expect("the app answers /connect")
            .json()
            .await
            .expect("/connect returns JSON");
        let connect_url = session["connect_url"].as_str().expect("a connect URL");
        let page = self
            .http
            .get(connect_url)
            .send()
            .await
            .expect("the connect flow completes");
        assert_eq!(page.status(), StatusCode::OK);
    }

    async fn stop(self) {
        self.app.stop().await;
        self.alter.shutdown().await;
        self.dev.shutdown().await;
    }
}

#[tokio::test]
async fn connect_then_chat_as_the_user() {
    let stack = Stack::start().await;
    let alice = stack.dev.user_token("alice");

    stack.connect(&alice).await;
    let response = stack.chat(&alice).await;
    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.unwrap();
    assert_eq!(profile["user"], "alice");
    assert!(profile["scopes"].is_array(), "{profile}");

    stack.alter.flush().await;
    let rows = stack.dev.audit_log();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].user, "alice");
    assert_eq!(rows[0].provider_id, "demo");
    assert_eq!(rows[0].response_status, 200);
    assert_eq!(rows[0].caller.as_deref(), Some("quickstart-e2e"));
    stack.stop().await;
}

#[tokio::test]
async fn user_without_grant_gets_connect_hint() {
    let stack = Stack::start().await;
    let alice = stack.dev.user_token("alice");
    let bob = stack.dev.user_token("bob");
    stack.connect(&alice).await;

    let response = stack.chat(&bob).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "grant_not_found");
    assert_eq!(body["connect_required"], true);
    assert_eq!(body["provider"], "demo");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("connect"), "{message}");
    assert!(
        !message.contains("127.0.0.1"),
        "no backend URL leaks: {message}"
    );

    // The typed error behind that response, straight from the vault.
    let error = stack
        .alter
        .vault()
        .with_user_token(bob.as_str())
        .request(
            alter::Method::GET,
            format!("{}/me", stack.dev.demo_api_url()),
        )
        .provider("demo")
        .send()
        .await
        .unwrap_err();
    assert!(matches!(error, alter::Error::GrantNotFound(_)), "{error:?}");
    assert_eq!(error.provider_id(), Some("demo"));
    assert!(error.needs_connect_session());
    stack.stop().await;
}

#[tokio::test]
async fn bad_bearer_gets_401_challenge() {
    let stack = Stack::start().await;
    let cases: [(&str, Option<&str>); 4] = [
        ("missing", None),
        ("basic", Some("Basic YWxpY2U6c2VjcmV0")),
        ("empty", Some("Bearer ")),
        ("scheme only", Some("Bearer")),
    ];
    for (name, header) in cases {
        let mut request = stack.http.post(stack.app.url("/chat"));
        if let Some(header) = header {
            request = request.header("Authorization", header);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        let challenge = response.headers()["www-authenticate"].to_str().unwrap();
        assert!(challenge.starts_with("Bearer"), "{name}: {challenge}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].is_string(), "{name}: {body}");
    }
    assert!(stack.dev.audit_log().is_empty());
    stack.stop().await;
}

/// 1,000 concurrent `/chat` requests from 50 users: every provider call must carry the
/// credential of the user who made the request, in the response and in DevVault's audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_users_never_mix_credentials() {
    let stack = std::sync::Arc::new(Stack::start().await);
    let users: Vec<(String, String)> = (0..USERS)
        .map(|i| {
            let name = format!("user{i:02}");
            let token = stack.dev.user_token(&name);
            (name, token)
        })
        .collect();

    let mut connects = JoinSet::new();
    for (_, token) in users.clone() {
        let stack = std::sync::Arc::clone(&stack);
        connects.spawn(async move { stack.connect(&token).await });
    }
    while let Some(result) = connects.join_next().await {
        result.expect("a connect task completes");
    }

    let mut chats = JoinSet::new();
    for round in 0..REQUESTS_PER_USER {
        for (name, token) in users.clone() {
            let stack = std::sync::Arc::clone(&stack);
            chats.spawn(async move {
                let response = stack.chat(&token).await;
                let status = response.status();
                let body: Value = response.json().await.expect("/chat returns JSON");
                (round, name, status, body)
            });
        }
    }
    let mut answered = 0;
    while let Some(result) = chats.join_next().await {
        let (round, name, status, body) = result.expect("a chat task completes");
        assert_eq!(status, StatusCode::OK, "{name} round {round}: {body}");
        assert_eq!(
            body["user"],
            name.as_str(),
            "{name} round {round} got another user's data"
        );
        answered += 1;
    }
    assert_eq!(answered, USERS * REQUESTS_PER_USER);

    stack.alter.flush().await;
    let rows = stack.dev.audit_log();
    assert_eq!(
        rows.len(),
        USERS * REQUESTS_PER_USER,
        "one audit row per provider call"
    );
    let mut per_user: HashMap<&str, usize> = HashMap::new();
    for row in &rows {
        let body: Value = serde_json::from_str(row.row["response_body"].as_str().unwrap())
            .expect("the audit row holds the demo API's JSON answer");
        assert_eq!(
            body["user"],
            row.user.as_str(),
            "the credential used belongs to the grant's user"
        );
        assert_eq!(row.response_status, 200);
        *per_user.entry(row.user.as_str()).or_default() += 1;
    }
    assert_eq!(per_user.len(), USERS);
    assert!(
        per_user.values().all(|&count| count == REQUESTS_PER_USER),
        "{per_user:?}"
    );
    drop(rows);

    let stack = std::sync::Arc::try_unwrap(stack)
        .unwrap_or_else(|_| panic!("every task that shared the stack has finished"));
    stack.stop().await;
}
