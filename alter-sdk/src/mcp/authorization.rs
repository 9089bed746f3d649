//! Responses to a tool call that needs the user to connect a provider first.
//!
//! The tool creates a connect session for the call's user and responds in the shape the client
//! understands:
//!
//! | client | response |
//! |---|---|
//! | protocol `2026-07-28` or later, declared `elicitation.url` | an `input_required` result with one URL-mode `elicitation/create` request |
//! | protocol `2025-11-25`, declared `elicitation.url` | the JSON-RPC error `-32042` with one URL-mode elicitation |
//! | any other | a result with `isError: true`, the URL in its text, and `{"error": "authorization_required", "provider", "connect_url"}` as structured content |
//!
//! When the connect session cannot be created, every client gets the last shape with
//! `connect_url: null` and a message to try again later, and the failure is logged.

use std::collections::BTreeMap;

use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::model::{
    CallToolResponse, CallToolResult, ContentBlock, ElicitRequest, ElicitRequestParams, ErrorCode,
    InputRequest, InputRequiredResult, ProtocolVersion,
};
use rmcp::service::RequestContext;
use serde_json::{Value, json};

use super::context::AlterContext;
use super::tool_error::AUTHORIZATION_REQUIRED;

/// The JSON-RPC error code of a URL-mode elicitation the client must complete before it
/// retries the request, from MCP `2025-11-25`.
const URL_ELICITATION_REQUIRED: ErrorCode = ErrorCode(-32042);
/// The key of the connect request in an `input_required` result's `inputRequests`.
const CONNECT_INPUT_KEY: &str = "alter_connect";

/// What the client of a call declared, as far as the response shape depends on it.
#[derive(Clone, Debug)]
pub(crate) struct ClientProfile {
    protocol_version: Option<ProtocolVersion>,
    url_elicitation: bool,
}

impl ClientProfile {
    /// Reads the protocol version and capabilities of the call's client.
    ///
    /// NOTE: on a stateless HTTP server (`legacy_session_mode` off) a client on a protocol
    /// before `2026-07-28` sends its capabilities only with `initialize`, which rmcp 3.11 does
    /// not keep, so such a client gets the `isError` result even when it declared
    /// `elicitation.url`.
    pub(crate) fn of(request: &RequestContext<RoleServer>) -> Self {
        let url_elicitation = request
            .client_capabilities()
            .and_then(|capabilities| capabilities.elicitation)
            .is_some_and(|elicitation| elicitation.url.is_some());
        Self {
            protocol_version: request.protocol_version(),
            url_elicitation,
        }
    }

    fn shape(&self) -> Shape {
        let Some(version) = &self.protocol_version else {
            return Shape::ToolError;
        };
        if !self.url_elicitation {
            Shape::ToolError
        } else if !version.has_initialize() {
            Shape::InputRequired
        } else if version.as_str() >= ProtocolVersion::V_2025_11_25.as_str() {
            Shape::UrlElicitationError
        } else {
            Shape::ToolError
        }
    }
}

/// The three ways to tell a client that the user must connect a provider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    InputRequired,
    UrlElicitationError,
    ToolError,
}

/// A provider the user must connect, or authorize again for more scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AuthorizationNeeded {
    pub(crate) provider: String,
    pub(crate) missing_scopes: Vec<String>,
}

/// Creates a connect session for the call's user and responds in the client's shape.
pub(crate) async fn respond(
    context: &AlterContext,
    needed: AuthorizationNeeded,
) -> Result<CallToolResponse, ErrorData> {
    let mut session = context
        .vault()
        .create_connect_session()
        .allowed_providers([needed.provider.as_str()]);
    if context.provider() == Some(needed.provider.as_str())
        && let Some(label) = context.label()
    {
        session = session.label(label);
    }
    if !needed.missing_scopes.is_empty() {
        session = session.required_scopes(&needed.provider, &needed.missing_scopes);
    }
    let connect_url = match session.send().await {
        Ok(session) => session.connect_url,
        Err(error) => {
            tracing::error!(
                target: "alter::mcp",
                provider = %needed.provider,
                %error,
                "cannot create the connect session for a tool call that needs authorization"
            );
            return Ok(unavailable(&needed.provider).into());
        }
    };
    tracing::debug!(
        target: "alter::mcp",
        provider = %needed.provider,
        shape = ?context.client().shape(),
        "responding to a tool call that needs authorization"
    );

    let message = connect_message(&needed);
    match context.client().shape() {
        Shape::InputRequired => Ok(input_required(message, connect_url).into()),
        Shape::UrlElicitationError => Err(url_elicitation_error(message, connect_url)),
        Shape::ToolError => Ok(tool_error(&needed.provider, &message, &connect_url).into()),
    }
}

fn connect_message(needed: &AuthorizationNeeded) -> String {
    if needed.missing_scopes.is_empty() {
        format!("Connect your {} account to continue.", needed.provider)
    } else {
        format!(
            "Authorize {} again to grant the missing permissions: {}.",
            needed.provider,
            needed.missing_scopes.join(", ")
        )
    }
}

/// Builds a URL-mode elicitation with a fresh id. The id has no meaning beyond this response,
/// because the next tool call finds the new grant, so the server never sends
/// `notifications/elicitation/complete`.
///
/// NOTE: rmcp 3.11 serializes `elicitationId` for every protocol version, although
/// `2026-07-28` dropped the field; clients of that version ignore it.
fn url_elicitation(message: String, url: String) -> ElicitRequestParams {
    ElicitRequestParams::UrlElicitationParams {
        meta: None,
        message,
        url,
        elicitation_id: uuid::Uuid::new_v4().to_string(),
    }
}

fn input_required(message: String, url: String) -> InputRequiredResult {
    let request = InputRequest::Elicitation(ElicitRequest::new(url_elicitation(message, url)));
    InputRequiredResult::from_input_requests(BTreeMap::from([(
        CONNECT_INPUT_KEY.to_owned(),
        request,
    )]))
}

fn url_elicitation_error(message: String, url: String) -> ErrorData {
    let elicitation = url_elicitation(message.clone(), url);
    ErrorData::new(
        URL_ELICITATION_REQUIRED,
        message,
        Some(json!({ "elicitations": [elicitation] })),
    )
}

fn tool_error(provider: &str, message: &str, url: &str) -> CallToolResult {
    let mut result = CallToolResult::error(vec![ContentBlock::text(format!(
        "{message} Open {url} to connect, then call the tool again."
    ))]);
    result.structured_content = Some(json!({
        "error": AUTHORIZATION_REQUIRED,
        "provider": provider,
        "connect_url": url,
    }));
    result
}

fn unavailable(provider: &str) -> CallToolResult {
    let message = format!(
        "This tool needs access to your {provider} account, but the connect link could not be \
         created. Try again later."
    );
    let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
    result.structured_content = Some(json!({
        "error": AUTHORIZATION_REQUIRED,
        "provider": provider,
        "connect_url": Value::Null,
    }));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(version: Option<ProtocolVersion>, url_elicitation: bool) -> ClientProfile {
        ClientProfile {
            protocol_version: version,
            url_elicitation,
        }
    }

    #[test]
    fn shape_by_version_and_capability() {
        let cases = [
            (
                Some(ProtocolVersion::V_2026_07_28),
                true,
                Shape::InputRequired,
            ),
            (Some(ProtocolVersion::V_2026_07_28), false, Shape::ToolError),
            (
                Some(ProtocolVersion::V_2025_11_25),
                true,
                Shape::UrlElicitationError,
            ),
            (Some(ProtocolVersion::V_2025_11_25), false, Shape::ToolError),
            (Some(ProtocolVersion::V_2025_06_18), true, Shape::ToolError),
            (Some(ProtocolVersion::V_2024_11_05), false, Shape::ToolError),
            (None, true, Shape::ToolError),
        ];
        for (version, url, expected) in cases {
            let shape = profile(version.clone(), url).shape();
            assert_eq!(shape, expected, "{version:?} url={url}");
        }
    }

    #[test]
    fn url_elicitation_error_wire_format() {
        let error = url_elicitation_error("Connect.".into(), "https://connect.example/s".into());
        let value = serde_json::to_value(&error).unwrap();
        assert_eq!(value["code"], -32042);
        assert_eq!(value["message"], "Connect.");
        let elicitation = &value["data"]["elicitations"][0];
        assert_eq!(elicitation["mode"], "url");
        assert_eq!(elicitation["url"], "https://connect.example/s");
        assert_eq!(elicitation["message"], "Connect.");
        assert!(
            elicitation["elicitationId"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
    }

    #[test]
    fn input_required_wire_format() {
        let result = input_required("Connect.".into(), "https://connect.example/s".into());
        let value = serde_json::to_value(&result).unwrap();
        assert_eq!(value["resultType"], "input_required");
        let request = &value["inputRequests"][CONNECT_INPUT_KEY];
        assert_eq!(request["method"], "elicitation/create");
        assert_eq!(request["params"]["mode"], "url");
        assert_eq!(request["params"]["url"], "https://connect.example/s");
    }

    #[test]
    fn tool_error_carries_the_url() {
        let result = tool_error(
            "demo",
            "Connect your demo account to continue.",
            "https://c/s",
        );
        assert_eq!(result.is_error, Some(true));
        let structured = result.structured_content.unwrap();
        assert_eq!(
            structured,
            json!({"error": "authorization_required", "provider": "demo", "connect_url": "https://c/s"})
        );
        let text = serde_json::to_value(&result.content).unwrap().to_string();
        assert!(text.contains("https://c/s"), "{text}");
    }

    #[test]
    fn message_names_missing_scopes() {
        let needed = AuthorizationNeeded {
            provider: "demo".into(),
            missing_scopes: vec!["messages.write".into()],
        };
        assert_eq!(
            connect_message(&needed),
            "Authorize demo again to grant the missing permissions: messages.write."
        );
    }
}
