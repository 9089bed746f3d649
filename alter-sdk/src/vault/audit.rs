//! The background audit queue.
//!
//! Each provider exchange schedules one `POST /sdk/oauth/audit/api-call` that runs beside the
//! caller, so the caller never waits for it. A failed row is logged and dropped: the protocol
//! makes one attempt. [`AuditQueue::flush`] waits for every row scheduled so far, which a
//! graceful shutdown calls so that no row is lost.

use std::sync::Arc;

use tokio_util::task::TaskTracker;

use super::backend::{Backend, Call};

pub(crate) const AUDIT_PATH: &str = "/sdk/oauth/audit/api-call";

pub(crate) struct AuditQueue {
    tracker: TaskTracker,
}

impl AuditQueue {
    pub(crate) fn new() -> Self {
        Self {
            tracker: TaskTracker::new(),
        }
    }

    /// Schedules one audit row; `body` is the encoded row and `context` the encoded audit
    /// context of the call it records.
    pub(crate) fn schedule(&self, backend: Arc<Backend>, body: Vec<u8>, context: Option<String>) {
        self.tracker.spawn(async move {
            let mut call = Call::post_json(AUDIT_PATH, body);
            call.context = context.as_deref();
            match backend.send(call).await {
                Ok(reply) if reply.status.is_success() => {
                    tracing::trace!(target: "alter::audit", "audit row recorded");
                }
                Ok(reply) => tracing::warn!(
                    target: "alter::audit",
                    status = reply.status.as_u16(),
                    message = %backend_message(&reply.body),
                    "backend rejected an audit row"
                ),
                Err(error) => tracing::warn!(
                    target: "alter::audit",
                    %error,
                    "failed to send an audit row"
                ),
            }
        });
    }

    /// Waits for every audit row scheduled before this call.
    pub(crate) async fn flush(&self) {
        // Closing lets `wait` finish once the tracked tasks are done; reopening right after
        // keeps the queue usable. Rows scheduled while waiting are waited for as well.
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker.reopen();
    }

    #[cfg(test)]
    pub(crate) fn pending(&self) -> usize {
        self.tracker.len()
    }
}

/// Reads a short message from an error answer: a top-level `message`, or FastAPI's `detail`.
fn backend_message(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let message = value
        .get("message")
        .or_else(|| value.get("detail"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("no message");
    message.chars().take(200).collect()
}
