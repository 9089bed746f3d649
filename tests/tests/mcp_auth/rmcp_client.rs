//! rmcp's own OAuth client against the quickstart app: a 401 with the challenge, discovery,
//! dynamic registration, `/authorize` redirecting at once under DevVault's auto-approved sign-in,
//! the token exchange, and tool calls that act for the signed-in user.

use alter::Vault;
use alter::dev::DevVault;
use reqwest::StatusCode;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientCapabilities, ClientConfig, Implementation};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::auth::{AuthClient, AuthorizationRequest, OAuthState};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use serde_json::Map;

use crate::quickstart_app::{QuickstartApp, REDIRECT_URI, client, location};

fn client_config() -> ClientConfig {
    ClientConfig::new(
        ClientCapabilities::default(),
        Implementation::new("alter-tests-oauth", "0"),
    )
}

/// Connects `user`'s demo account, as the REST routes' connect flow does.
async fn connect_demo(vault: &Vault, user_token: String) {
    let user = vault.with_user_token(user_token);
    let session = user
        .create_connect_session()
        .allowed_providers(["demo"])
        .send()
        .await
        .unwrap();
    // DevVault's consent page approves at once; following the redirects completes the flow.
    let page = reqwest::get(&session.connect_url).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    user.wait_for_connect_session(session.session_token)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_client_signs_in_and_calls_tool() {
    let app =
        QuickstartApp::start(DevVault::builder().auto_approve(true).sign_in_as("alice")).await;
    connect_demo(app.alter.vault(), app.dev.user_token("alice")).await;
    let url = app.mcp_url();

    // Without a token the endpoint returns 401 with the challenge.
    let unauthorized = client_config()
        .serve(StreamableHttpClientTransport::from_uri(url.as_str()))
        .await;
    let challenge = match unauthorized {
        Ok(_) => panic!("the client connected without a token"),
        Err(error) => error
            .auth_challenge()
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no challenge in {error:?}")),
    };
    assert!(challenge.contains("resource_metadata="), "{challenge}");

    let mut oauth = OAuthState::new(url.as_str(), None).await.unwrap();
    oauth
        .start_authorization(
            AuthorizationRequest::new(REDIRECT_URI)
                .with_client_name("rmcp-e2e")
                .with_challenge(challenge),
        )
        .await
        .unwrap();
    let authorization_url = oauth.get_authorization_url().await.unwrap();
    assert!(
        authorization_url.starts_with(&app.url("/authorize?")),
        "{authorization_url}"
    );
    assert!(authorization_url.contains("code_challenge_method=S256"));
    assert!(authorization_url.contains("resource="));

    // No browser: auto-approved sign-in makes /authorize redirect straight to the client.
    let response = client().get(&authorization_url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let callback = location(&response).unwrap();
    assert!(callback.starts_with(REDIRECT_URI), "{callback}");
    oauth.handle_callback_url(&callback).await.unwrap();
    let manager = oauth
        .into_authorization_manager()
        .expect("the state is authorized");

    let transport = StreamableHttpClientTransport::with_client(
        AuthClient::new(reqwest::Client::default(), manager),
        StreamableHttpClientTransportConfig::with_uri(url.as_str()),
    );
    let mcp = client_config().serve(transport).await.unwrap();
    let tools = mcp.list_tools(Default::default()).await.unwrap();
    let names: Vec<&str> = tools.tools.iter().map(|tool| tool.name.as_ref()).collect();
    assert!(names.contains(&"whoami"), "{names:?}");
    assert!(names.contains(&"post_message"), "{names:?}");

    app.alter.flush().await;
    let audit_rows_before = app.dev.audit_log().len();
    let result = mcp
        .call_tool(CallToolRequestParams::new("whoami").with_arguments(Map::new()))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let account = result.structured_content.expect("structured content");
    assert_eq!(account["user"], "alice", "{account}");

    // The provider call used alice's grant, and the audit row names her. Audit rows are sent
    // in the background, so flush them first.
    app.alter.flush().await;
    let audit = app.dev.audit_log();
    let row = audit
        .get(audit_rows_before..)
        .and_then(|rows| rows.iter().find(|row| row.url.ends_with("/me")))
        .unwrap_or_else(|| panic!("no audit row for the tool call in {audit:#?}"));
    assert_eq!(row.user, "alice");
    assert_eq!(row.provider_id, "demo");
    let grant = app.dev.grant_for("alice", "demo").expect("alice's grant");
    assert_eq!(row.grant_id, grant.id);

    mcp.cancel().await.unwrap();
    app.stop().await;
}
