//! `alter::Error` as a tool result: a fixed, safe message per error, never the backend's or
//! the provider's own text, a URL, a request id or a secret.
//!
//! A tool that returns `Result<_, alter::Error>` gets a result with `isError: true`, the
//! message as text, and `{"error": <code>, "message": <text>}` as structured content, plus
//! `"provider"` where one is known. A tool that returns `Result<_, rmcp::ErrorData>` and uses
//! `?` on vault calls gets the JSON-RPC error `-32603` with the same object as `data`.
//!
//! Every error that a connect session fixes has the code `authorization_required`, the
//! provider when the error names it, and the scopes the user must add as `missing_scopes` when
//! the provider named them.
//! `#[alter::tool]` recognises that object and responds with a connect URL.

use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::{Map, Value, json};

use super::authorization::AuthorizationNeeded;
use crate::error::{ConnectErrorKind, Error};

/// The `error` code of every result that a connect session for the provider fixes.
pub(crate) const AUTHORIZATION_REQUIRED: &str = "authorization_required";

/// A tool result with `isError: true` describing the error.
impl IntoCallToolResult for Error {
    fn into_call_tool_result(self) -> Result<CallToolResponse, ErrorData> {
        let report = Report::of(&self);
        report.log(&self);
        let mut result = CallToolResult::error(vec![ContentBlock::text(report.message.clone())]);
        result.structured_content = Some(Value::Object(report.into_object()));
        Ok(result.into())
    }
}

/// The JSON-RPC error `-32603` describing the error, for tools that return
/// `Result<_, rmcp::ErrorData>`.
impl From<Error> for ErrorData {
    fn from(error: Error) -> Self {
        let report = Report::of(&error);
        report.log(&error);
        let message = report.message.clone();
        ErrorData::internal_error(message, Some(Value::Object(report.into_object())))
    }
}

/// Reads the provider and scopes the user must authorize from a tool's response, when it is an
/// error that carries the `authorization_required` object without a connect URL yet.
/// `tool_provider` replaces a provider the error does not name.
pub(crate) fn authorization_needed(
    answer: &Result<CallToolResponse, ErrorData>,
    tool_provider: Option<&str>,
) -> Option<AuthorizationNeeded> {
    let object = match answer {
        Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => {
            result.structured_content.as_ref()?
        }
        Err(error) => error.data.as_ref()?,
        Ok(_) => return None,
    }
    .as_object()?;
    if object.get("error")?.as_str()? != AUTHORIZATION_REQUIRED
        || object.contains_key("connect_url")
    {
        return None;
    }
    let provider = object
        .get("provider")
        .and_then(Value::as_str)
        .or(tool_provider)?
        .to_owned();
    let missing_scopes = object
        .get("missing_scopes")
        .and_then(Value::as_array)
        .map(|scopes| {
            scopes
                .iter()
                .filter_map(|scope| scope.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    Some(AuthorizationNeeded {
        provider,
        missing_scopes,
    })
}

/// The safe description of an error.
#[derive(Debug)]
struct Report {
    code: &'static str,
    message: String,
    provider: Option<String>,
    missing_scopes: Vec<String>,
    /// Whether the error is a fault of the application or an upstream service, which the
    /// user cannot fix, so the full error goes to the log.
    logged: bool,
}

impl Report {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            provider: None,
            missing_scopes: Vec::new(),
            logged: false,
        }
    }

    fn logged(mut self) -> Self {
        self.logged = true;
        self
    }

    fn of(error: &Error) -> Self {
        if error.needs_connect_session() {
            let provider = error.provider_id();
            return Self {
                code: AUTHORIZATION_REQUIRED,
                message: connect_message(error, provider.unwrap_or("the provider")),
                provider: provider.map(str::to_owned),
                missing_scopes: error.missing_scopes().to_vec(),
                logged: false,
            };
        }
        let report = match error {
            Error::MissingUserToken => Self::new(
                "missing_user_token",
                "this tool needs a signed-in user; sign in and call it again",
            ),
            Error::UserTokenRejected(_) => Self::new(
                "invalid_token",
                "the user's token was rejected; sign in again",
            ),
            Error::StepUpRequired(_) => Self::new(
                "insufficient_user_authentication",
                "this tool needs a recent sign-in; sign in again",
            ),
            Error::AmbiguousGrant(_) => Self::new(
                "ambiguous_grant",
                "several connected accounts match this request; choose one",
            ),
            Error::PolicyViolation(_) | Error::RedactDischargeFailed(_) => {
                Self::new("policy_violation", "a vault policy denied this request")
            }
            Error::GrantNotDelegable(_) => Self::new(
                "grant_not_delegable",
                "the connected account may not be delegated to this agent",
            ),
            Error::Connect(connect) if connect.kind == ConnectErrorKind::Denied => {
                Self::new("connect_denied", "the user declined to connect the account")
            }
            Error::Connect(connect) if connect.kind == ConnectErrorKind::Timeout => Self::new(
                "connect_timeout",
                "the connect session expired before the user finished",
            ),
            Error::RateLimited(_) => Self::new("rate_limited", "too many requests; retry later"),
            Error::QuotaExceeded(_) => Self::new("quota_exceeded", "the usage quota is exhausted"),
            Error::TokenRefreshInProgress(_) => Self::new(
                "temporarily_unavailable",
                "the account's credential is being refreshed; retry shortly",
            ),
            Error::Provider(provider) if provider.status == 429 => Self::new(
                "provider_rate_limited",
                "the provider is rate limiting requests; retry later",
            ),
            Error::Provider(provider) => Self::new(
                "provider_error",
                format!("the provider returned HTTP {}", provider.status),
            ),
            Error::Timeout { .. } => Self::new(
                "timeout",
                "an upstream service did not answer in time; retry later",
            )
            .logged(),
            Error::Network { .. }
            | Error::Decode(_)
            | Error::MalformedResponse { .. }
            | Error::Connect(_) => {
                Self::new("upstream_error", "an upstream service failed; retry later").logged()
            }
            Error::Backend(backend) if backend.status >= 500 => {
                Self::new("upstream_error", "an upstream service failed; retry later").logged()
            }
            _ => Self::new(
                "internal_error",
                "the tool failed because of a server error; the server log has the details",
            )
            .logged(),
        };
        Self {
            provider: error.provider_id().map(str::to_owned),
            ..report
        }
    }

    fn log(&self, error: &Error) {
        if self.logged {
            tracing::error!(target: "alter::mcp", code = self.code, %error, "tool call failed");
        } else {
            tracing::debug!(target: "alter::mcp", code = self.code, "tool call rejected");
        }
    }

    fn into_object(self) -> Map<String, Value> {
        let mut object = Map::new();
        object.insert("error".into(), json!(self.code));
        object.insert("message".into(), json!(self.message));
        if let Some(provider) = self.provider {
            object.insert("provider".into(), json!(provider));
        }
        if !self.missing_scopes.is_empty() {
            object.insert("missing_scopes".into(), json!(self.missing_scopes));
        }
        object
    }
}

fn connect_message(error: &Error, provider: &str) -> String {
    match error {
        Error::GrantNotFound(_) | Error::NoDelegatedGrant(_) => {
            format!("the user has not connected {provider}; connect it and call the tool again")
        }
        Error::ScopeReauthRequired(_) => {
            format!("the connection to {provider} lacks required permissions; authorize it again")
        }
        _ => format!("the connection to {provider} is no longer valid; connect it again"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{BackendError, GrantError, ProviderError, ScopeReauth};

    fn grant_not_found(provider: Option<&str>) -> Error {
        let mut backend = BackendError::new(404, Some("grant_not_found".into()), "secret detail");
        backend.request_id = Some("req-123".into());
        let mut grant = GrantError::from_backend(backend);
        grant.provider_id = provider.map(str::to_owned);
        Error::GrantNotFound(grant)
    }

    fn result_object(error: Error) -> (CallToolResult, Map<String, Value>) {
        let Ok(CallToolResponse::Complete(result)) = error.into_call_tool_result() else {
            panic!("an error becomes a complete result");
        };
        let object = result.structured_content.clone().unwrap();
        (result, object.as_object().unwrap().clone())
    }

    #[test]
    fn grant_not_found_is_authorization_required() {
        let (result, object) = result_object(grant_not_found(Some("github")));
        assert_eq!(result.is_error, Some(true));
        assert_eq!(object["error"], "authorization_required");
        assert_eq!(object["provider"], "github");
        assert!(!object.contains_key("connect_url"));
        let answer = Ok(CallToolResponse::Complete(result));
        let needed = authorization_needed(&answer, Some("demo")).unwrap();
        assert_eq!(needed.provider, "github");
        assert!(needed.missing_scopes.is_empty());
    }

    #[test]
    fn scope_reauth_carries_missing_scopes() {
        let error = Error::ScopeReauthRequired(ScopeReauth {
            status: 403,
            provider_id: Some("demo".into()),
            grant_id: Some("g-1".into()),
            missing_scopes: vec!["messages.write".into()],
            source: "provider_insufficient_scope".into(),
            backend: None,
        });
        let answer = Err(ErrorData::from(error));
        let needed = authorization_needed(&answer, None).unwrap();
        assert_eq!(needed.provider, "demo");
        assert_eq!(needed.missing_scopes, ["messages.write"]);
    }

    #[test]
    fn grant_not_found_without_provider_uses_tool_provider() {
        let (result, object) = result_object(grant_not_found(None));
        assert_eq!(object["error"], "authorization_required");
        assert!(!object.contains_key("provider"));
        let answer = Ok(CallToolResponse::Complete(result));
        assert!(authorization_needed(&answer, None).is_none());
        let needed = authorization_needed(&answer, Some("github")).unwrap();
        assert_eq!(needed.provider, "github");
    }

    #[test]
    fn messages_never_leak_backend_details() {
        let error = Error::Provider(ProviderError {
            status: 500,
            method: "GET".into(),
            url: "https://api.example.com/private?q=1".into(),
            grant_id: Some("g-1".into()),
            provider_id: Some("example".into()),
            www_authenticate: None,
            body: "stack trace".into(),
        });
        let (result, object) = result_object(error);
        let text = serde_json::to_string(&result).unwrap();
        for secret in ["api.example.com", "stack trace", "g-1"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(object["error"], "provider_error");
        assert_eq!(object["message"], "the provider returned HTTP 500");

        let (result, _) = result_object(grant_not_found(Some("github")));
        let text = serde_json::to_string(&result).unwrap();
        for secret in ["secret detail", "req-123"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn answer_with_connect_url_is_final() {
        let mut result = CallToolResult::error(vec![]);
        result.structured_content = Some(json!({
            "error": "authorization_required",
            "provider": "demo",
            "connect_url": "https://c/s",
        }));
        assert!(authorization_needed(&Ok(result.into()), Some("demo")).is_none());
    }

    #[test]
    fn successful_result_is_never_authorization() {
        let result = CallToolResult::structured(json!({
            "error": "authorization_required",
            "provider": "demo",
        }));
        assert!(authorization_needed(&Ok(result.into()), Some("demo")).is_none());
    }

    #[test]
    fn timeout_has_its_own_code() {
        let error = Error::Timeout {
            target: "https://api.example.com".into(),
            timeout: std::time::Duration::from_secs(1),
        };
        let (_, object) = result_object(error);
        assert_eq!(object["error"], "timeout");
        assert!(!object.contains_key("provider"));
    }
}
