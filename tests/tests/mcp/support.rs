//! The harness: DevVault, the MCP server over streamable HTTP on `127.0.0.1`, a provider that
//! never responds, and the clients that call them.

use std::time::Duration;

use alter::Vault;
use alter::axum::AlterAxum;
use alter::dev::DevVault;
use alter::rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use alter::rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use alter_tests::server::TestServer;
use axum::Router;
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitationCapability, Implementation,
    ProtocolVersion, UrlElicitationCapability,
};
use rmcp::service::RunningService;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{RoleClient, ServiceExt as _};
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::tools::Tools;

/// The header a stand-in session layer reads the user's token from, to exercise
/// `AlterAxum::set_user_token`.
pub(crate) const SESSION_HEADER: &str = "x-test-session-token";

/// DevVault with auto-approve, and an MCP server whose tools call it.
pub(crate) struct Harness {
    pub(crate) dev: DevVault,
    pub(crate) vault: Vault,
    server: TestServer,
    hanging: JoinHandle<()>,
}

impl Harness {
    /// Starts DevVault and the MCP server; every backend and provider request of the server's
    /// vault may take up to `timeout`.
    pub(crate) async fn start(timeout: Duration) -> Self {
        let dev = DevVault::builder()
            .auto_approve(true)
            .start()
            .await
            .expect("DevVault starts");
        let vault = Vault::builder(dev.api_key().expose_secret())
            .base_url(dev.base_url())
            .caller("mcp-tests")
            .timeout(timeout)
            .build()
            .expect("the vault builds");
        let (hanging_url, hanging) = hanging_provider().await;
        let tools = Tools::new(vault.clone(), &dev.demo_api_url(), &hanging_url);

        let mcp = StreamableHttpService::new(
            move || Ok(tools.clone()),
            LocalSessionManager::default().into(),
            StreamableHttpServerConfig::default(),
        );
        let behind_session_layer = Router::new()
            .nest_service("/mcp-session", mcp.clone())
            .layer(middleware::from_fn(session_layer));
        let router = Router::new()
            .nest_service("/mcp", mcp)
            .merge(behind_session_layer);
        let server = TestServer::start(router).await;
        Self {
            dev,
            vault,
            server,
            hanging,
        }
    }

    /// Returns the URL of the MCP endpoint that reads the `Authorization` header.
    pub(crate) fn mcp_url(&self) -> String {
        self.server.url("/mcp")
    }

    /// Returns the URL of the MCP endpoint behind the stand-in session layer.
    pub(crate) fn session_mcp_url(&self) -> String {
        self.server.url("/mcp-session")
    }

    /// Mints a DevVault token for `user`.
    pub(crate) fn token(&self, user: &str) -> String {
        self.dev.user_token(user)
    }

    /// Connects `user` to the demo provider the way a browser would, with `label` if given.
    pub(crate) async fn connect(&self, user: &str, label: Option<&str>) {
        let mut session = self
            .vault
            .with_user_token(self.token(user))
            .create_connect_session()
            .allowed_providers(["demo"]);
        if let Some(label) = label {
            session = session.label(label);
        }
        let session = session.send().await.expect("the connect session starts");
        follow_connect_url(&session.connect_url).await;
    }

    /// Waits until every audit row was stored, then stops everything.
    pub(crate) async fn stop(self) {
        self.vault.flush().await;
        self.server.stop().await;
        self.hanging.abort();
        self.dev.shutdown().await;
    }
}

/// Follows a connect URL like a browser; DevVault's auto-approve completes the flow.
pub(crate) async fn follow_connect_url(url: &str) {
    let response = reqwest::get(url).await.expect("the connect page answers");
    assert!(
        response.status().is_success(),
        "the connect flow ended with {}",
        response.status()
    );
}

/// Stores the token of the session header as the request's user, as a cookie session layer
/// would.
async fn session_layer(mut request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(SESSION_HEADER)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if let Some(token) = token {
        AlterAxum::set_user_token(&mut request, token);
    }
    next.run(request).await
}

/// Starts a provider that accepts connections and never responds.
async fn hanging_provider() -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hang", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    (url, task)
}

/// Returns a client config that declares URL-mode elicitation on protocol `2025-11-25`.
pub(crate) fn url_elicitation_client() -> ClientConfig {
    client_config(true).with_protocol_version(ProtocolVersion::V_2025_11_25)
}

/// Returns a client config that declares no elicitation, on protocol `2025-11-25`.
pub(crate) fn plain_client() -> ClientConfig {
    client_config(false).with_protocol_version(ProtocolVersion::V_2025_11_25)
}

/// Returns a client config with or without URL-mode elicitation.
pub(crate) fn client_config(url_elicitation: bool) -> ClientConfig {
    let mut capabilities = ClientCapabilities::default();
    if url_elicitation {
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_url(UrlElicitationCapability::new()));
    }
    ClientConfig::new(capabilities, Implementation::new("alter-tests", "0"))
}

/// Connects an rmcp client with `config` to `url`, sending `token` as the bearer token.
pub(crate) async fn connect_client<C>(
    url: &str,
    token: &str,
    client: C,
) -> RunningService<RoleClient, C>
where
    C: rmcp::ClientHandler,
{
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    client.serve(transport).await.expect("the client connects")
}

/// Builds a `tools/call` for `name` with `arguments`.
pub(crate) fn call(name: &'static str, arguments: Value) -> CallToolRequestParams {
    let request = CallToolRequestParams::new(name);
    match arguments {
        Value::Object(arguments) => request.with_arguments(arguments),
        Value::Null => request.with_arguments(Map::new()),
        other => panic!("tool arguments must be an object, not {other}"),
    }
}
