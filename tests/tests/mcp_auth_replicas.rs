//! Two replicas of an app with the MCP authorization server, sharing one Redis and one
//! DevVault, as a deployment behind a load balancer runs them. Each test drives the OAuth flow
//! over real sockets and moves between the replicas at every step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alter::UserToken;
use alter::axum::AlterAxum;
use alter::dev::DevVault;
use alter::mcp::auth::redis::{EncryptionKey, RedisStore};
use alter_examples::mcp_server::{Account, DemoTools, service};
use alter_tests::redis_server::{RedisServer, dump_keyspace};
use alter_tests::server::TestServer;
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The URL clients use for the MCP endpoint: the load balancer's, the same on every replica.
/// Nothing listens there; the tests call each replica on its own port.
const PUBLIC_MCP_URL: &str = "http://127.0.0.1:8000/mcp";
const REDIRECT_URI: &str = "http://127.0.0.1:3000/callback";

/// The user tokens the guard put into requests, as a tool saw them.
type SeenUserTokens = Arc<Mutex<Vec<String>>>;

/// DevVault, Redis and two replicas of the app.
struct Cluster {
    dev: DevVault,
    redis: RedisServer,
    replicas: Vec<TestServer>,
    seen_user_tokens: SeenUserTokens,
}

impl Cluster {
    /// Starts everything; refresh tokens may be presented again for `grace` after rotation.
    async fn start(grace: Duration) -> Self {
        let dev = DevVault::builder()
            .auto_approve(true)
            .start()
            .await
            .expect("DevVault starts");
        let redis = tokio::task::spawn_blocking(RedisServer::start)
            .await
            .expect("redis-server starts");
        let key = EncryptionKey::generate();
        let seen_user_tokens = SeenUserTokens::default();
        let mut replicas = Vec::new();
        for _ in 0..2 {
            let router = replica(&dev, &redis, &key, grace, seen_user_tokens.clone()).await;
            replicas.push(TestServer::start(router).await);
        }
        let cluster = Self {
            dev,
            redis,
            replicas,
            seen_user_tokens,
        };
        cluster.connect_demo_provider().await;
        cluster
    }

    fn a(&self) -> &TestServer {
        &self.replicas[0]
    }

    fn b(&self) -> &TestServer {
        &self.replicas[1]
    }

    /// Connects DevVault's sign-in user to the demo provider, so the tools can call it.
    async fn connect_demo_provider(&self) {
        let vault = alter::Vault::builder(self.dev.api_key().expose_secret())
            .base_url(self.dev.base_url())
            .build()
            .expect("the vault builds");
        let session = vault
            .with_user_token(self.dev.user_token(alter::dev::DEFAULT_SIGN_IN_USER))
            .create_connect_session()
            .allowed_providers(["demo"])
            .send()
            .await
            .expect("the connect session starts");
        let response = reqwest::get(&session.connect_url)
            .await
            .expect("the connect page answers");
        assert!(response.status().is_success(), "{}", response.status());
    }

    async fn stop(self) {
        for replica in self.replicas {
            replica.stop().await;
        }
        drop(self.redis);
        self.dev.shutdown().await;
    }
}

/// Builds one replica: the demo tools behind the guard, the OAuth routes, the shared store.
async fn replica(
    dev: &DevVault,
    redis: &RedisServer,
    key: &EncryptionKey,
    grace: Duration,
    seen_user_tokens: SeenUserTokens,
) -> Router {
    let alter = AlterAxum::new(dev.api_key().expose_secret())
        .base_url(dev.base_url())
        .build()
        .expect("AlterAxum builds");
    let store = RedisStore::builder(redis.url(), key.clone())
        .command_timeout(Duration::from_millis(500))
        .connect()
        .await
        .expect("the store connects");
    let auth = alter
        .mcp_auth(PUBLIC_MCP_URL)
        .provider("demo", ["profile"])
        .refresh_grace(grace)
        .store(store)
        .build()
        .expect("the authorization server builds");
    let tools = DemoTools::new(alter.vault().clone(), &dev.demo_api_url());
    let guarded =
        Router::new()
            .fallback_service(service(tools))
            .layer(middleware::from_fn_with_state(
                seen_user_tokens,
                record_user_token,
            ));
    Router::new()
        .merge(auth.routes())
        .nest_service("/mcp", auth.protect(guarded))
}

/// Records the user token the guard resolved, for the keyspace scan.
async fn record_user_token(
    State(seen): State<SeenUserTokens>,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = request.extensions().get::<UserToken>() {
        seen.lock()
            .expect("the token list")
            .push(token.expose_secret().to_owned());
    }
    next.run(request).await
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("the HTTP client builds")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// Registers a public client and returns its id.
async fn register(replica: &TestServer) -> String {
    let response = http()
        .post(replica.url("/register"))
        .json(&json!({
            "client_name": "Replica test client",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_method": "none",
        }))
        .send()
        .await
        .expect("POST /register");
    assert_eq!(response.status(), StatusCode::CREATED);
    let body: Value = response.json().await.expect("a JSON registration");
    body["client_id"].as_str().expect("a client id").to_owned()
}

/// A code from `/authorize`, with the PKCE verifier that redeems it.
struct Authorization {
    code: String,
    verifier: String,
}

/// Runs `/authorize`; DevVault completes the sign-in at once, so the response redirects to the
/// client with the code.
async fn authorize(replica: &TestServer, client_id: &str) -> Authorization {
    let verifier = format!(
        "verifier-{}-{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = url::Url::parse(&replica.url("/authorize")).expect("a valid URL");
    url.query_pairs_mut().extend_pairs([
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT_URI),
        ("code_challenge", &challenge),
        ("code_challenge_method", "S256"),
        ("state", "replica-state"),
        ("resource", PUBLIC_MCP_URL),
    ]);
    let response = http().get(url).send().await.expect("GET /authorize");
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"]
        .to_str()
        .expect("an ASCII location")
        .to_owned();
    let location = url::Url::parse(&location).expect("an absolute location");
    let query: HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(
        query.get("state").map(String::as_str),
        Some("replica-state")
    );
    Authorization {
        code: query.get("code").expect("a code").clone(),
        verifier,
    }
}

async fn exchange(
    replica: &TestServer,
    client_id: &str,
    authorization: &Authorization,
) -> reqwest::Response {
    post_token(
        replica,
        &[
            ("grant_type", "authorization_code"),
            ("code", &authorization.code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", client_id),
            ("code_verifier", &authorization.verifier),
            ("resource", PUBLIC_MCP_URL),
        ],
    )
    .await
}

async fn refresh(replica: &TestServer, client_id: &str, refresh_token: &str) -> reqwest::Response {
    post_token(
        replica,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ],
    )
    .await
}

/// Posts `fields` form-encoded to `/token`.
async fn post_token(replica: &TestServer, fields: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    http()
        .post(replica.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST /token")
}

/// An access and refresh token from a successful token response.
struct Tokens {
    access: String,
    refresh: String,
}

async fn tokens_of(response: reqwest::Response) -> Tokens {
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON token response");
    assert_eq!(status, StatusCode::OK, "{body}");
    Tokens {
        access: body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned(),
        refresh: body["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_owned(),
    }
}

/// Returns the `error` of an RFC 6749 error response with `status`.
async fn oauth_error(response: reqwest::Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("a JSON error");
    body["error"].as_str().expect("an error code").to_owned()
}

/// Calls the `whoami` tool with rmcp's client and returns the account.
async fn whoami(replica: &TestServer, access_token: &str) -> Account {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(replica.url("/mcp"))
            .auth_header(access_token),
    );
    let client = ClientConfig::default()
        .serve(transport)
        .await
        .expect("the MCP client connects");
    let result = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await
        .expect("whoami answers");
    client.cancel().await.expect("the MCP client closes");
    let structured = result.structured_content.expect("structured content");
    serde_json::from_value(structured).expect("an account")
}

/// Sends one MCP request with plain HTTP and returns the status and `WWW-Authenticate`.
async fn mcp_status(replica: &TestServer, access_token: &str) -> (StatusCode, String) {
    let response = http()
        .post(replica.url("/mcp"))
        .bearer_auth(access_token)
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .expect("POST /mcp");
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (response.status(), challenge)
}

/// Runs register, authorize and code exchange across the replicas.
async fn sign_in(cluster: &Cluster) -> (String, Tokens) {
    let client_id = register(cluster.a()).await;
    let authorization = authorize(cluster.b(), &client_id).await;
    let tokens = tokens_of(exchange(cluster.a(), &client_id, &authorization).await).await;
    (client_id, tokens)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flow_spans_replicas() {
    let cluster = Cluster::start(Duration::from_secs(30)).await;
    let client_id = register(cluster.a()).await;
    let authorization = authorize(cluster.b(), &client_id).await;
    let first = tokens_of(exchange(cluster.a(), &client_id, &authorization).await).await;
    let refreshed = tokens_of(refresh(cluster.b(), &client_id, &first.refresh).await).await;

    let on_a = whoami(cluster.a(), &refreshed.access).await;
    let on_b = whoami(cluster.b(), &refreshed.access).await;
    assert_eq!(on_a.user, alter::dev::DEFAULT_SIGN_IN_USER);
    assert_eq!(on_b.user, alter::dev::DEFAULT_SIGN_IN_USER);
    let earlier = whoami(cluster.b(), &first.access).await;
    assert_eq!(earlier.user, alter::dev::DEFAULT_SIGN_IN_USER);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_race_across_replicas() {
    let cluster = Cluster::start(Duration::from_secs(30)).await;
    let client_id = register(cluster.a()).await;
    let authorization = authorize(cluster.a(), &client_id).await;

    let (on_a, on_b) = tokio::join!(
        exchange(cluster.a(), &client_id, &authorization),
        exchange(cluster.b(), &client_id, &authorization)
    );
    let statuses = [on_a.status(), on_b.status()];
    let (winner, loser) = if on_a.status() == StatusCode::OK {
        (on_a, on_b)
    } else {
        (on_b, on_a)
    };
    assert_eq!(winner.status(), StatusCode::OK, "{statuses:?}");
    let error = oauth_error(loser, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    // The replay revoked the family, so the winner's tokens no longer work either.
    let tokens = tokens_of(winner).await;
    let (status, challenge) = mcp_status(cluster.a(), &tokens.access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_reuse_revokes_everywhere() {
    let cluster = Cluster::start(Duration::from_secs(1)).await;
    let (client_id, first) = sign_in(&cluster).await;
    let rotated_at = unix_now();
    let second = tokens_of(refresh(cluster.a(), &client_id, &first.refresh).await).await;
    assert_eq!(
        whoami(cluster.b(), &second.access).await.user,
        alter::dev::DEFAULT_SIGN_IN_USER
    );

    // The grace window counts whole seconds from the rotation.
    while unix_now() <= rotated_at + 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let replay = refresh(cluster.b(), &client_id, &first.refresh).await;
    assert_eq!(
        oauth_error(replay, StatusCode::BAD_REQUEST).await,
        "invalid_grant"
    );

    for replica in [cluster.a(), cluster.b()] {
        for access in [&first.access, &second.access] {
            let (status, challenge) = mcp_status(replica, access).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            assert!(challenge.contains("invalid_token"), "{challenge}");
        }
        let newest = refresh(replica, &client_id, &second.refresh).await;
        assert_eq!(
            oauth_error(newest, StatusCode::BAD_REQUEST).await,
            "invalid_grant"
        );
    }
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_then_recovery() {
    let mut cluster = Cluster::start(Duration::from_secs(30)).await;
    let (client_id, tokens) = sign_in(&cluster).await;

    cluster.redis.stop();
    for replica in [cluster.a(), cluster.b()] {
        let (status, _) = mcp_status(replica, &tokens.access).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let response = refresh(replica, &client_id, &tokens.refresh).await;
        let error = oauth_error(response, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(error, "temporarily_unavailable");
        let response = http()
            .post(replica.url("/register"))
            .json(&json!({"redirect_uris": [REDIRECT_URI]}))
            .send()
            .await
            .expect("POST /register");
        assert_eq!(
            oauth_error(response, StatusCode::SERVICE_UNAVAILABLE).await,
            "temporarily_unavailable"
        );
    }

    // The restarted Redis is empty, because the test server persists nothing, so the client
    // signs in again; the replicas themselves were never restarted.
    tokio::task::block_in_place(|| cluster.redis.start_again());
    let (status, challenge) = mcp_status(cluster.a(), &tokens.access).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let (_, renewed) = sign_in(&cluster).await;
    assert_eq!(
        whoami(cluster.b(), &renewed.access).await.user,
        alter::dev::DEFAULT_SIGN_IN_USER
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyspace_has_no_plain_secrets() {
    let cluster = Cluster::start(Duration::from_secs(30)).await;
    let client_id = register(cluster.a()).await;
    let authorization = authorize(cluster.b(), &client_id).await;
    let first = tokens_of(exchange(cluster.a(), &client_id, &authorization).await).await;
    let second = tokens_of(refresh(cluster.b(), &client_id, &first.refresh).await).await;
    whoami(cluster.a(), &second.access).await;
    let pending = authorize(cluster.a(), &client_id).await;

    let mut secrets = vec![
        authorization.code.clone(),
        pending.code.clone(),
        first.access,
        first.refresh,
        second.access,
        second.refresh,
    ];
    let seen = cluster
        .seen_user_tokens
        .lock()
        .expect("the token list")
        .clone();
    assert!(
        !seen.is_empty(),
        "the guard passed a user token to the tool"
    );
    secrets.extend(seen);

    let keyspace = dump_keyspace(&mut cluster.redis.connection());
    assert!(!keyspace.is_empty());
    for (key, value) in &keyspace {
        for secret in &secrets {
            assert!(!key.contains(secret.as_str()), "a secret in the key {key}");
            assert!(
                !value.contains(secret.as_str()),
                "a secret in the value of {key}"
            );
        }
    }
    cluster.stop().await;
}
