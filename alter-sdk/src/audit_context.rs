//! The ambient audit context: metadata that every credential request of a task carries.
//!
//! A credential request sends its audit context to the backend as `X-Alter-Context` and records
//! it in the audit row. A request that sets no context with
//! [`RequestBuilder::context`](crate::vault::RequestBuilder::context) takes the ambient one,
//! made current for a future with [`scope`]. `#[alter::tool]` uses it so that every
//! `vault.request()` inside a tool records the tool's name without passing it along.
//!
//! A request that sets keys of its own replaces the ambient context entirely; the two are not
//! merged. Connect sessions never carry a context. Like the identity scope, the ambient context
//! is a task-local value and does not cross `tokio::spawn`.
//!
//! ```no_run
//! use alter::protocol::context::AuditContext;
//! use alter::{Method, Vault, audit_context};
//!
//! # async fn run(vault: Vault) -> Result<(), alter::Error> {
//! let context = AuditContext::new().with("run_id", "run-42");
//! audit_context::scope(context, async {
//!     // Sent with `X-Alter-Context: {"run_id":"run-42"}`.
//!     vault
//!         .request(Method::GET, "https://api.github.com/user")
//!         .provider("github")
//!         .send()
//!         .await
//! })
//! .await?;
//! # Ok(()) }
//! ```

use std::future::Future;

use crate::protocol::context::AuditContext;

tokio::task_local! {
    static CURRENT_CONTEXT: AuditContext;
}

/// Runs `future` with `context` as the ambient audit context.
///
/// Scopes nest: an inner `scope` replaces the context until its future completes.
pub async fn scope<F: Future>(context: AuditContext, future: F) -> F::Output {
    CURRENT_CONTEXT.scope(context, future).await
}

/// Returns the ambient audit context, if the caller runs inside [`scope`].
pub fn current() -> Option<AuditContext> {
    CURRENT_CONTEXT.try_with(AuditContext::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn scope_sets_and_restores_context() {
        assert!(current().is_none());
        let outer = AuditContext::new().with("tool", "outer");
        scope(outer.clone(), async {
            assert_eq!(current(), Some(outer.clone()));
            let inner = AuditContext::new().with("tool", "inner");
            scope(inner.clone(), async {
                assert_eq!(current(), Some(inner));
            })
            .await;
            assert_eq!(current(), Some(outer));
        })
        .await;
        assert!(current().is_none());
    }

    #[tokio::test]
    async fn context_does_not_cross_spawn() {
        let context = AuditContext::new().with("tool", "t");
        let seen = scope(context, async { tokio::spawn(async { current() }).await })
            .await
            .unwrap();
        assert!(seen.is_none());
    }
}
