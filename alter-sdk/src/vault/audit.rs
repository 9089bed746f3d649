//! The background queue for audit rows and scope-mismatch reports.
//!
//! Each provider exchange schedules one `POST /sdk/oauth/audit/api-call` (and, after a
//! provider's `insufficient_scope` response, one scope-mismatch report) that runs beside the
//! caller, so the caller never waits for it. A failed post is logged and dropped: the protocol
//! makes one attempt. [`AuditQueue::flush`] waits for every post scheduled so far, which a
//! graceful shutdown calls so that no audit row is lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio_util::task::TaskTracker;

use super::backend::{Backend, Call};

/// One background POST.
pub(crate) struct BackgroundPost {
    pub(crate) path: String,
    pub(crate) body: Vec<u8>,
    /// Whether to send the actor id and the audit context.
    pub(crate) actor_headers: bool,
    /// The encoded audit context.
    pub(crate) context: Option<String>,
    /// A shorter timeout than the client's, for reports.
    pub(crate) timeout: Option<Duration>,
}

#[derive(Clone)]
pub(crate) struct AuditQueue {
    tracker: TaskTracker,
    /// Held for the whole of one flush, so that concurrent flushes take turns. Shared by clones,
    /// like the tracker.
    flushing: Arc<Mutex<()>>,
}

impl AuditQueue {
    pub(crate) fn new() -> Self {
        Self {
            tracker: TaskTracker::new(),
            flushing: Arc::new(Mutex::new(())),
        }
    }

    /// Schedules one signed background POST of `body` to `path`.
    pub(crate) fn schedule(&self, backend: Arc<Backend>, post: BackgroundPost) {
        self.tracker.spawn(async move {
            let mut call = Call::post_json(&post.path, post.body);
            call.actor_headers = post.actor_headers;
            call.context = post.context.as_deref();
            call.timeout = post.timeout;
            match backend.send(call).await {
                Ok(reply) if reply.status.is_success() => {
                    tracing::trace!(target: "alter::audit", path = %post.path, "background post accepted");
                }
                Ok(reply) => tracing::warn!(
                    target: "alter::audit",
                    path = %post.path,
                    status = reply.status.as_u16(),
                    message = %backend_message(&reply.body),
                    "backend rejected a background post"
                ),
                Err(error) => tracing::warn!(
                    target: "alter::audit",
                    path = %post.path,
                    %error,
                    "failed to send a background post"
                ),
            }
        });
    }

    /// Waits for every post scheduled before this call.
    pub(crate) async fn flush(&self) {
        // Closing lets `wait` finish once the tracked tasks are done; reopening right after
        // keeps the queue usable. Rows scheduled while waiting are waited for as well. Flushes
        // take turns because one flush reopening the tracker between another's `close` and
        // `wait` would leave that `wait` pending until some later flush closed it again.
        let _turn = self.flushing.lock().await;
        self.tracker.close();
        self.tracker.wait().await;
        self.tracker.reopen();
    }
}

/// Reads a short message from an error response: a top-level `message`, or FastAPI's `detail`.
fn backend_message(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let message = value
        .get("message")
        .or_else(|| value.get("detail"))
        .and_then(serde_json::Value::as_str)
        .unwrap_or("no message");
    message.chars().take(200).collect()
}
