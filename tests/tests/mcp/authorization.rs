//! A user without a grant calls a tool: the response in each client's shape, the connect flow
//! completed headlessly (DevVault approves without a click), and the same call succeeding.

use std::time::Duration;

use rmcp::model::{
    CallToolResponse, CallToolResult, ElicitRequestParams, ElicitResult, ElicitationAction,
    ErrorCode, InputRequest, ProtocolVersion,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{
    ClientHandler, ClientLifecycleMode, ClientServiceExt as _, ErrorData, RoleClient, ServiceError,
};
use serde_json::{Value, json};

use crate::support::{
    Harness, call, client_config, connect_client, follow_connect_url, plain_client,
    url_elicitation_client,
};

/// Connects a client on protocol `2026-07-28`, which has no `initialize`.
async fn connect_modern<C: ClientHandler>(
    url: &str,
    token: &str,
    client: C,
) -> RunningService<RoleClient, C> {
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(url).auth_header(token),
    );
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    client
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .expect("the client connects")
}

/// Asserts a successful `whoami`-style result for `user`.
fn assert_served_as(result: &CallToolResult, user: &str) {
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let structured = result
        .structured_content
        .as_ref()
        .expect("structured content");
    assert_eq!(structured["user"], user, "{structured}");
}

fn text_of(result: &CallToolResult) -> String {
    serde_json::to_value(&result.content).unwrap().to_string()
}

/// Asserts that `url` is a DevVault connect page.
fn assert_connect_url(harness: &Harness, url: &str) {
    assert!(url.starts_with(harness.dev.base_url()), "{url}");
}

#[tokio::test]
async fn url_elicitation_error_on_2025_11_25() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_client(
        &harness.mcp_url(),
        &harness.token("ann"),
        url_elicitation_client(),
    )
    .await;

    let error = client
        .call_tool(call("whoami", Value::Null))
        .await
        .unwrap_err();
    let ServiceError::McpError(error) = error else {
        panic!("expected a JSON-RPC error, got {error:?}");
    };
    assert_eq!(error.code, ErrorCode(-32042));
    assert_eq!(error.message, "Connect your demo account to continue.");
    let data = error.data.expect("the error carries the elicitation");
    let elicitations = data["elicitations"].as_array().unwrap();
    assert_eq!(elicitations.len(), 1, "{data}");
    assert_eq!(elicitations[0]["mode"], "url");
    assert!(
        elicitations[0]["elicitationId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let url = elicitations[0]["url"].as_str().unwrap();
    assert_connect_url(&harness, url);

    follow_connect_url(url).await;
    let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
    assert_served_as(&result, "ann");

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn input_required_on_2026_07_28() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_modern(
        &harness.mcp_url(),
        &harness.token("ben"),
        client_config(true),
    )
    .await;

    let response = client
        .call_tool_once(call("whoami", Value::Null))
        .await
        .unwrap();
    let CallToolResponse::InputRequired(required) = response else {
        panic!("expected an input_required result, got {response:?}");
    };
    let requests = required.input_requests.expect("the result asks for input");
    assert_eq!(requests.len(), 1, "{requests:?}");
    let InputRequest::Elicitation(elicitation) = &requests["alter_connect"] else {
        panic!("expected an elicitation, got {requests:?}");
    };
    let ElicitRequestParams::UrlElicitationParams { url, message, .. } = &elicitation.params else {
        panic!("expected a URL-mode elicitation, got {elicitation:?}");
    };
    assert_eq!(message, "Connect your demo account to continue.");
    assert_connect_url(&harness, url);

    follow_connect_url(url).await;
    let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
    assert_served_as(&result, "ben");

    client.cancel().await.unwrap();
    harness.stop().await;
}

/// A client that opens every URL elicitation like a browser and accepts it.
#[derive(Clone)]
struct BrowsingClient;

impl ClientHandler for BrowsingClient {
    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        let ElicitRequestParams::UrlElicitationParams { url, .. } = request else {
            return Ok(ElicitResult::new(ElicitationAction::Decline));
        };
        follow_connect_url(&url).await;
        Ok(ElicitResult::new(ElicitationAction::Accept))
    }

    fn get_info(&self) -> rmcp::model::ClientConfig {
        client_config(true)
    }
}

#[tokio::test]
async fn rmcp_client_completes_input_required_by_itself() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_modern(&harness.mcp_url(), &harness.token("bea"), BrowsingClient).await;

    let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
    assert_served_as(&result, "bea");
    assert!(harness.dev.grant_for("bea", "demo").is_some());

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn error_result_for_other_clients() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    // Without the capability, or with it on a protocol before URL-mode elicitation.
    let older = client_config(true).with_protocol_version(ProtocolVersion::V_2025_06_18);
    for config in [plain_client(), older] {
        let user = format!("cal-{}", config.protocol_version);
        let client = connect_client(&harness.mcp_url(), &harness.token(&user), config).await;

        let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
        assert_eq!(result.is_error, Some(true), "{result:?}");
        let structured = result.structured_content.clone().unwrap();
        assert_eq!(
            structured["error"], "authorization_required",
            "{structured}"
        );
        assert_eq!(structured["provider"], "demo", "{structured}");
        let url = structured["connect_url"].as_str().unwrap().to_owned();
        assert_connect_url(&harness, &url);
        assert!(text_of(&result).contains(&url), "{result:?}");

        follow_connect_url(&url).await;
        let result = client.call_tool(call("whoami", Value::Null)).await.unwrap();
        assert_served_as(&result, &user);
        client.cancel().await.unwrap();
    }
    harness.stop().await;
}

#[tokio::test]
async fn modern_client_without_url_elicitation_gets_error_result() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_modern(
        &harness.mcp_url(),
        &harness.token("cid"),
        client_config(false),
    )
    .await;

    let response = client
        .call_tool_once(call("whoami", Value::Null))
        .await
        .unwrap();
    let CallToolResponse::Complete(result) = response else {
        panic!("expected a complete result, got {response:?}");
    };
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let structured = result.structured_content.unwrap();
    assert_eq!(
        structured["error"], "authorization_required",
        "{structured}"
    );

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn scope_reauth_requires_missing_scope() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("sam", None).await;
    let before = harness.dev.grant_for("sam", "demo").unwrap();
    assert_eq!(before.scopes, ["messages.read"]);
    let client = connect_client(&harness.mcp_url(), &harness.token("sam"), plain_client()).await;
    let post = || call("post_message", json!({"text": "hello"}));

    let result = client.call_tool(post()).await.unwrap();
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(
        structured["error"], "authorization_required",
        "{structured}"
    );
    assert!(text_of(&result).contains("messages.write"), "{result:?}");
    let url = structured["connect_url"].as_str().unwrap();

    follow_connect_url(url).await;
    let after = harness.dev.grant_for("sam", "demo").unwrap();
    assert_eq!(
        after.id, before.id,
        "the connect flow re-authorizes the grant"
    );
    assert!(
        after.scopes.iter().any(|scope| scope == "messages.write"),
        "{after:?}"
    );
    let result = client.call_tool(post()).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let posted = result.structured_content.unwrap();
    assert_eq!(posted["from"], "sam", "{posted}");
    assert_eq!(posted["text"], "hello", "{posted}");

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn label_names_the_connected_grant() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    harness.connect("lea", None).await;
    let client = connect_client(&harness.mcp_url(), &harness.token("lea"), plain_client()).await;

    let result = client
        .call_tool(call("whoami_work", Value::Null))
        .await
        .unwrap();
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(
        structured["error"], "authorization_required",
        "{structured}"
    );
    follow_connect_url(structured["connect_url"].as_str().unwrap()).await;

    let labels: Vec<Option<String>> = harness
        .dev
        .grants()
        .into_iter()
        .filter(|grant| grant.user == "lea")
        .map(|grant| grant.label)
        .collect();
    assert_eq!(labels, [None, Some("work".to_owned())]);
    let result = client
        .call_tool(call("whoami_work", Value::Null))
        .await
        .unwrap();
    assert_served_as(&result, "lea");

    client.cancel().await.unwrap();
    harness.stop().await;
}

#[tokio::test]
async fn failed_connect_session_gives_safe_message() {
    let harness = Harness::start(Duration::from_secs(30)).await;
    let client = connect_client(
        &harness.mcp_url(),
        &harness.token("dan"),
        url_elicitation_client(),
    )
    .await;

    let result = client
        .call_tool(call("unconfigured", Value::Null))
        .await
        .unwrap();
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let structured = result.structured_content.clone().unwrap();
    assert_eq!(
        structured,
        json!({"error": "authorization_required", "provider": "not-configured", "connect_url": null})
    );
    let text = serde_json::to_string(&result).unwrap();
    assert!(text.contains("Try again later"), "{text}");
    for internal in [harness.dev.base_url(), "configured:", "request"] {
        assert!(!text.contains(internal), "{internal} leaked in {text}");
    }

    client.cancel().await.unwrap();
    harness.stop().await;
}
