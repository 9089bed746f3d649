//! The harness: DevVault, an application with the authorization server's routes, a guarded
//! MCP endpoint and a guarded REST route, all on `127.0.0.1`, and helpers that drive them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alter::UserToken;
use alter::axum::AlterAxum;
use alter::dev::DevVault;
use alter::mcp::auth::store::{
    AuthStore, AuthorizationCode, CodeRedemption, FamilyId, IssuedTokens, NextTokens,
    PendingAuthorization, RegisteredClient, Rotation, SecretHash, SignInOutcome, StoreError,
    StoreFuture, TokenGrant, UnixSeconds,
};
use alter::mcp::auth::{AuthorizedClient, McpAuth, MemoryStore, StoreLimits};
use alter::mcp::{AlterContext, HasVault};
use alter::rmcp::handler::server::router::tool::ToolRouter;
use alter::rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use alter::rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use alter::rmcp::{Json, ServerHandler, tool_handler, tool_router};
use alter::{Method, Vault, rmcp, schemars};
use axum::routing::{any, get};
use axum::{Extension, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The redirect URI the test client registers.
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:33418/callback";
/// A PKCE verifier, 43 characters.
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

/// The demo account whose credential a tool call used.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub(crate) struct Me {
    /// The DevVault user whose grant was used.
    pub(crate) user: String,
}

/// An MCP server with one tool that reports the caller's demo account.
#[derive(Clone)]
pub(crate) struct Tools {
    vault: Vault,
    me_url: Arc<str>,
    tool_router: ToolRouter<Self>,
}

impl HasVault for Tools {
    fn vault(&self) -> &Vault {
        &self.vault
    }
}

#[tool_router]
impl Tools {
    /// Returns the caller's demo account.
    #[alter::tool(provider = "demo")]
    async fn whoami(&self, ctx: AlterContext) -> Result<Json<Me>, alter::Error> {
        let me = ctx
            .request(Method::GET, self.me_url.to_string())
            .send()
            .await?
            .json()?;
        Ok(Json(me))
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {}

/// A store that fails with [`StoreError::Unavailable`] while `down` is set, and otherwise
/// passes every call to a [`MemoryStore`].
pub(crate) struct SwitchableStore {
    pub(crate) memory: MemoryStore,
    pub(crate) down: AtomicBool,
}

impl SwitchableStore {
    /// Returns the stored registration metadata of `client_id`.
    pub(crate) async fn client_metadata(&self, client_id: &str) -> Option<Value> {
        let client = self.memory.client(client_id).await.unwrap()?;
        Some(Value::Object(client.metadata))
    }

    fn check<T: Send + 'static>(&self) -> Option<StoreFuture<'_, T>> {
        self.down.load(Ordering::SeqCst).then(|| {
            Box::pin(std::future::ready(Err(StoreError::Unavailable(
                "the test switched the store off".to_owned(),
            )))) as StoreFuture<'_, T>
        })
    }
}

impl AuthStore for SwitchableStore {
    fn insert_client(&self, client: RegisteredClient) -> StoreFuture<'_, ()> {
        self.check()
            .unwrap_or_else(|| self.memory.insert_client(client))
    }

    fn client<'a>(&'a self, client_id: &'a str) -> StoreFuture<'a, Option<RegisteredClient>> {
        self.check()
            .unwrap_or_else(|| self.memory.client(client_id))
    }

    fn insert_pending(
        &self,
        handle: SecretHash,
        pending: PendingAuthorization,
    ) -> StoreFuture<'_, ()> {
        self.check()
            .unwrap_or_else(|| self.memory.insert_pending(handle, pending))
    }

    fn pending(&self, handle: SecretHash) -> StoreFuture<'_, Option<PendingAuthorization>> {
        self.check().unwrap_or_else(|| self.memory.pending(handle))
    }

    fn set_outcome(&self, handle: SecretHash, outcome: SignInOutcome) -> StoreFuture<'_, bool> {
        self.check()
            .unwrap_or_else(|| self.memory.set_outcome(handle, outcome))
    }

    fn exchange_pending_for_code(
        &self,
        handle: SecretHash,
        code_hash: SecretHash,
        code: AuthorizationCode,
    ) -> StoreFuture<'_, bool> {
        self.check().unwrap_or_else(|| {
            self.memory
                .exchange_pending_for_code(handle, code_hash, code)
        })
    }

    fn remove_pending(&self, handle: SecretHash) -> StoreFuture<'_, ()> {
        self.check()
            .unwrap_or_else(|| self.memory.remove_pending(handle))
    }

    fn redeem_code(&self, code_hash: SecretHash) -> StoreFuture<'_, CodeRedemption> {
        self.check()
            .unwrap_or_else(|| self.memory.redeem_code(code_hash))
    }

    fn insert_tokens(&self, tokens: IssuedTokens) -> StoreFuture<'_, ()> {
        self.check()
            .unwrap_or_else(|| self.memory.insert_tokens(tokens))
    }

    fn access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        self.check()
            .unwrap_or_else(|| self.memory.access_token(access_hash))
    }

    fn refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<TokenGrant>> {
        self.check()
            .unwrap_or_else(|| self.memory.refresh_token(refresh_hash))
    }

    fn rotate_refresh(
        &self,
        refresh_hash: SecretHash,
        next: NextTokens,
        now: UnixSeconds,
        grace_seconds: u64,
    ) -> StoreFuture<'_, Rotation> {
        self.check().unwrap_or_else(|| {
            self.memory
                .rotate_refresh(refresh_hash, next, now, grace_seconds)
        })
    }

    fn revoke_access_token(&self, access_hash: SecretHash) -> StoreFuture<'_, ()> {
        self.check()
            .unwrap_or_else(|| self.memory.revoke_access_token(access_hash))
    }

    fn revoke_refresh_token(&self, refresh_hash: SecretHash) -> StoreFuture<'_, Option<FamilyId>> {
        self.check()
            .unwrap_or_else(|| self.memory.revoke_refresh_token(refresh_hash))
    }

    fn revoke_family(&self, family: FamilyId) -> StoreFuture<'_, ()> {
        self.check()
            .unwrap_or_else(|| self.memory.revoke_family(family))
    }

    fn sweep(&self, now: UnixSeconds) -> StoreFuture<'_, ()> {
        self.check().unwrap_or_else(|| self.memory.sweep(now))
    }
}

/// Settings of the authorization server under test.
pub(crate) struct Settings {
    pub(crate) refresh_grace: Duration,
    pub(crate) access_token_lifetime: Duration,
    pub(crate) mcp_path: &'static str,
    pub(crate) limits: StoreLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            refresh_grace: Duration::from_secs(30),
            access_token_lifetime: Duration::from_secs(3600),
            mcp_path: "/mcp",
            limits: StoreLimits::default(),
        }
    }
}

/// DevVault and the application under test.
pub(crate) struct Harness {
    pub(crate) dev: DevVault,
    pub(crate) alter: AlterAxum,
    pub(crate) auth: McpAuth,
    pub(crate) store: Arc<SwitchableStore>,
    pub(crate) http: reqwest::Client,
    base_url: String,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Harness {
    /// Starts everything with the default settings.
    pub(crate) async fn start() -> Self {
        Self::start_with(Settings::default()).await
    }

    /// Starts everything with `settings`.
    pub(crate) async fn start_with(settings: Settings) -> Self {
        let dev = DevVault::builder()
            .auto_approve(true)
            .start()
            .await
            .expect("DevVault starts");
        let alter = AlterAxum::new(dev.api_key().expose_secret())
            .base_url(dev.base_url())
            .caller("mcp-auth-tests")
            .build()
            .expect("the vault builds");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let base_url = format!("http://{}", listener.local_addr().unwrap());
        let store = Arc::new(SwitchableStore {
            memory: MemoryStore::with_limits(settings.limits),
            down: AtomicBool::new(false),
        });
        let auth = alter
            .mcp_auth(format!("{base_url}{}", settings.mcp_path))
            .provider("demo", ["read"])
            .refresh_grace(settings.refresh_grace)
            .access_token_lifetime(settings.access_token_lifetime)
            .store(store.clone())
            .build()
            .expect("the authorization server builds");

        let tools = Tools {
            vault: alter.vault().clone(),
            me_url: format!("{}/me", dev.demo_api_url()).into(),
            tool_router: Tools::tool_router(),
        };
        let mcp = StreamableHttpService::new(
            move || Ok(tools.clone()),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default(),
        );
        let rest = Router::new()
            .route("/api/me", get(rest_me))
            .route("/api/any-method", any(|| async { "the handler ran" }))
            .route_layer(auth.layer());
        let router = Router::new()
            .merge(auth.routes())
            .merge(rest)
            .nest_service(settings.mcp_path, auth.protect(mcp));

        let (shutdown, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            dev,
            alter,
            auth,
            store,
            http: reqwest::Client::new(),
            base_url,
            shutdown,
            task,
        }
    }

    /// Returns the absolute URL of `path` on the application.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Registers a public client with [`REDIRECT_URI`] and returns its id.
    pub(crate) async fn register(&self) -> String {
        let response = self
            .http
            .post(self.url("/register"))
            .json(&json!({
                "client_name": "mcp-auth-tests",
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "token_endpoint_auth_method": "none",
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["client_id"].as_str().unwrap().to_owned()
    }

    /// Stores a code for `client_id` and `user`, as `/authorize` and the sign-in would,
    /// bound to the MCP endpoint and challenged with [`VERIFIER`]. Returns the code.
    pub(crate) async fn issue_code(&self, client_id: &str, user: &str) -> String {
        self.issue_code_for(client_id, user, &self.auth.resource())
            .await
    }

    /// Like [`Harness::issue_code`], with the code bound to `resource`.
    pub(crate) async fn issue_code_for(
        &self,
        client_id: &str,
        user: &str,
        resource: &str,
    ) -> String {
        let now = unix_now();
        let handle = random_secret();
        let code = random_secret();
        let user_token = UserToken::from(self.dev.user_token(user));
        let pending = PendingAuthorization {
            client_id: client_id.to_owned(),
            redirect_uri: REDIRECT_URI.to_owned(),
            state: None,
            code_challenge: challenge(VERIFIER),
            resource: resource.to_owned(),
            scopes: vec!["mcp".to_owned()],
            sign_in_session: UserToken::from("unused"),
            sign_in_url: self.url("/unused"),
            created_at: now,
            expires_at: now + 300,
            outcome: SignInOutcome::SignedIn(user_token.clone()),
        };
        self.store
            .insert_pending(SecretHash::of(&handle), pending)
            .await
            .unwrap();
        let authorization = AuthorizationCode {
            client_id: client_id.to_owned(),
            redirect_uri: REDIRECT_URI.to_owned(),
            code_challenge: challenge(VERIFIER),
            resource: resource.to_owned(),
            scopes: vec!["mcp".to_owned()],
            user_token,
            family: FamilyId(random_secret()),
            expires_at: now + 300,
        };
        let exchanged = self
            .store
            .exchange_pending_for_code(
                SecretHash::of(&handle),
                SecretHash::of(&code),
                authorization,
            )
            .await
            .unwrap();
        assert!(exchanged);
        code
    }

    /// Posts `form` to the token endpoint.
    pub(crate) async fn token_request(&self, form: &[(&str, &str)]) -> reqwest::Response {
        post_form(&self.http, &self.url("/token"), form)
            .send()
            .await
            .unwrap()
    }

    /// Exchanges `code` and returns the token response, which must be a success.
    pub(crate) async fn exchange(&self, client_id: &str, code: &str) -> Value {
        let resource = self.auth.resource();
        let response = self
            .token_request(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("client_id", client_id),
                ("code_verifier", VERIFIER),
                ("resource", &resource),
            ])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Registers a client, issues a code for `user` and exchanges it.
    pub(crate) async fn sign_in(&self, user: &str) -> (String, Value) {
        let client_id = self.register().await;
        let code = self.issue_code(&client_id, user).await;
        let tokens = self.exchange(&client_id, &code).await;
        (client_id, tokens)
    }

    /// Refreshes with `refresh_token`.
    pub(crate) async fn refresh(&self, client_id: &str, refresh_token: &str) -> reqwest::Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("client_id", client_id),
        ])
        .await
    }

    /// Connects `user` to the demo provider the way a browser would.
    pub(crate) async fn connect(&self, user: &str) {
        let session = self
            .alter
            .vault()
            .with_user_token(self.dev.user_token(user))
            .create_connect_session()
            .allowed_providers(["demo"])
            .send()
            .await
            .expect("the connect session starts");
        let response = reqwest::get(&session.connect_url).await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
    }

    /// Posts a JSON-RPC message to the MCP endpoint with the headers given.
    pub(crate) async fn mcp_post(
        &self,
        access_token: Option<&str>,
        session_id: Option<&str>,
        message: &Value,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.auth.resource())
            .header(ACCEPT, "application/json, text/event-stream")
            .header(CONTENT_TYPE, "application/json");
        if let Some(token) = access_token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(session_id) = session_id {
            request = request
                .header("mcp-session-id", session_id)
                .header("mcp-protocol-version", "2025-11-25");
        }
        request.json(message).send().await.unwrap()
    }

    /// Opens an MCP session with `access_token` and returns its id.
    pub(crate) async fn open_session(&self, access_token: &str) -> String {
        let initialize = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "mcp-auth-tests", "version": "0"},
            },
        });
        let response = self.mcp_post(Some(access_token), None, &initialize).await;
        assert_eq!(response.status(), 200);
        let session_id = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = self
            .mcp_post(Some(access_token), Some(&session_id), &initialized)
            .await;
        assert_eq!(response.status(), 202);
        session_id
    }

    /// Calls `whoami` on a session and returns the JSON-RPC reply, or the HTTP status when
    /// the request was not let through.
    pub(crate) async fn whoami(
        &self,
        access_token: &str,
        session_id: &str,
        id: u64,
    ) -> Result<Value, u16> {
        let call = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        });
        let response = self
            .mcp_post(Some(access_token), Some(session_id), &call)
            .await;
        if response.status() != 200 {
            return Err(response.status().as_u16());
        }
        Ok(last_message(&response.text().await.unwrap()))
    }

    /// Stops everything.
    pub(crate) async fn stop(self) {
        let _ = self.shutdown.send(());
        self.task.await.unwrap().unwrap();
        self.alter.shutdown().await;
        self.dev.shutdown().await;
    }
}

/// A REST route behind the guard: returns the client and whether the user's token reached
/// the handler.
async fn rest_me(
    Extension(client): Extension<AuthorizedClient>,
    user: UserToken,
) -> axum::Json<Value> {
    axum::Json(json!({
        "client_id": client.client_id,
        "scopes": client.scopes,
        "has_user": !user.expose_secret().is_empty(),
    }))
}

/// Builds a POST of `form` as `application/x-www-form-urlencoded`.
pub(crate) fn post_form<K, V>(
    http: &reqwest::Client,
    url: &str,
    form: &[(K, V)],
) -> reqwest::RequestBuilder
where
    K: AsRef<str>,
    V: AsRef<str>,
{
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            form.iter()
                .map(|(name, value)| (name.as_ref(), value.as_ref())),
        )
        .finish();
    http.post(url)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
}

/// Returns the S256 challenge of `verifier`.
pub(crate) fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn random_secret() -> String {
    URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

pub(crate) fn unix_now() -> UnixSeconds {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Returns the last JSON message of an SSE or JSON body.
pub(crate) fn last_message(body: &str) -> Value {
    if let Ok(value) = serde_json::from_str(body) {
        return value;
    }
    body.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .map(str::trim)
        .filter(|data| !data.is_empty())
        .filter_map(|data| serde_json::from_str(data).ok())
        .next_back()
        .unwrap_or_else(|| panic!("no JSON-RPC message in {body:?}"))
}

/// Returns the `user` a successful `whoami` reply reports.
pub(crate) fn served_user(reply: &Value) -> &str {
    reply["result"]["structuredContent"]["user"]
        .as_str()
        .unwrap_or_else(|| panic!("not a successful whoami: {reply}"))
}
