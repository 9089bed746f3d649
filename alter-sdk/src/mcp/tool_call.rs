//! The runtime behind `#[alter::tool]`, reached through `alter::__private::mcp`.
//!
//! The macro turns the tool body into a future and hands it to [`ToolCall::finish`], which
//! runs it in the user's identity scope and the tool's audit context, turns a panic into an
//! error result, and responds to an `authorization_required` error with a connect URL.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use rmcp::ErrorData;
use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use serde_json::json;

use super::authorization;
use super::context::{AlterContext, HasVault};
use super::tool_error::authorization_needed;
use crate::audit_context;
use crate::identity;
use crate::protocol::context::AuditContext;

/// One call of an `#[alter::tool]` function.
#[derive(Debug)]
pub struct ToolCall {
    context: AlterContext,
    tool: &'static str,
}

impl ToolCall {
    /// Prepares the call of the tool named `tool`, and returns it with the context the body
    /// receives: `provider` and `label` preset, and the audit context `{"tool": tool}`.
    ///
    /// When the call runs inside another tool's body (the ambient audit context names
    /// another tool), that tool becomes `parent_tool`.
    pub fn start(
        context: AlterContext,
        provider: &'static str,
        label: Option<&'static str>,
        tool: &'static str,
    ) -> (Self, AlterContext) {
        let base = audit_context::current().unwrap_or_else(|| context.audit_context().clone());
        let context = context.for_tool(provider, label, tool_audit_context(base, tool));
        let call = Self {
            context: context.clone(),
            tool,
        };
        (call, context)
    }

    /// Runs the tool body and turns its output into the tool's response.
    ///
    /// # Errors
    ///
    /// Returns the body's JSON-RPC error, or `-32042` when the user must connect a provider
    /// and the client takes URL elicitations as that error.
    pub async fn finish<R, F>(self, body: F) -> Result<CallToolResponse, ErrorData>
    where
        F: Future<Output = R>,
        R: IntoCallToolResult,
    {
        let user = self.context.user_token().clone();
        let audit = self.context.audit_context().clone();
        let guarded = AssertUnwindSafe(body).catch_unwind();
        let output = identity::scope(user, audit_context::scope(audit, guarded)).await;

        let answer = match output {
            Ok(output) => output.into_call_tool_result(),
            Err(panic) => return Ok(self.panicked(panic.as_ref()).into()),
        };
        match authorization_needed(&answer, self.context.provider()) {
            Some(needed) => authorization::respond(&self.context, needed).await,
            None => answer,
        }
    }

    fn panicked(&self, panic: &(dyn Any + Send)) -> CallToolResult {
        let reason = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a panic payload that is not a string");
        tracing::error!(target: "alter::mcp", tool = self.tool, reason, "tool panicked");

        let message = "the tool failed because of a server error; the server log has the details";
        let mut result = CallToolResult::error(vec![ContentBlock::text(message)]);
        result.structured_content = Some(json!({ "error": "internal_error", "message": message }));
        result
    }
}

/// Compiles only for a server type that implements [`HasVault`], so that a server without a
/// vault gets that trait's explanation instead of an error about rmcp's tool routes.
pub fn assert_has_vault<S: HasVault + ?Sized>() {}

/// Sets `tool` in `base`, moving a different tool already there to `parent_tool`.
fn tool_audit_context(mut base: AuditContext, tool: &str) -> AuditContext {
    if let Some(outer) = base.get("tool").filter(|outer| *outer != tool) {
        let outer = outer.to_owned();
        base.insert("parent_tool", outer);
    }
    base.insert("tool", tool);
    base
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_tool() {
        let context = tool_audit_context(AuditContext::new(), "whoami");
        assert_eq!(context, AuditContext::new().with("tool", "whoami"));
    }

    #[test]
    fn nested_tool_records_parent() {
        let outer = AuditContext::new()
            .with("tool", "outer")
            .with("run_id", "r");
        let context = tool_audit_context(outer, "inner");
        let pairs: Vec<_> = context.iter().collect();
        assert_eq!(
            pairs,
            [("tool", "inner"), ("run_id", "r"), ("parent_tool", "outer")]
        );
    }

    #[test]
    fn same_tool_keeps_parent() {
        let base = AuditContext::new()
            .with("tool", "inner")
            .with("parent_tool", "outer");
        let context = tool_audit_context(base.clone(), "inner");
        assert_eq!(context, base);
    }
}
