//! Logging of Redis failures: one warning when Redis stops replying, a count of the failures
//! in between, and one line when it replies again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Whether the store is in an outage, and how many operations failed during it.
#[derive(Debug, Default)]
pub(super) struct Outage {
    active: AtomicBool,
    failures: AtomicU64,
}

impl Outage {
    /// Records a failed operation, logging a warning for the first one of an outage.
    pub(super) fn failed(&self, target: &str, operation: &'static str, reason: &str) {
        let count = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.active.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "alter::mcp::auth",
                redis = target,
                operation,
                reason,
                "the authorization store cannot reach redis; requests fail until it is reachable again"
            );
        } else {
            tracing::debug!(
                target: "alter::mcp::auth",
                redis = target,
                operation,
                reason,
                failures = count,
                "a redis operation of the authorization store failed"
            );
        }
    }

    /// Records a successful operation, logging the end of an outage.
    pub(super) fn succeeded(&self, target: &str) {
        if self.active.swap(false, Ordering::Relaxed) {
            let failures = self.failures.swap(0, Ordering::Relaxed);
            tracing::info!(
                target: "alter::mcp::auth",
                redis = target,
                failures,
                "the authorization store reaches redis again"
            );
        }
    }
}
