//! Trace propagation: with the `otel` feature, each backend request carries the active
//! OpenTelemetry span's W3C `traceparent` header, so the backend's spans join the app's trace.
//!
//! The header is not signed, and `tracestate` is never sent. Provider requests carry neither,
//! so third parties learn nothing about the app's traces.

use http::HeaderValue;

/// The W3C trace-context header name.
pub(crate) const TRACEPARENT_HEADER: &str = "traceparent";

/// Returns the `traceparent` value of the active span: `00-<trace id>-<span id>-<flags>`, or
/// `None` when no valid span is active or the `otel` feature is off.
pub(crate) fn current_traceparent() -> Option<HeaderValue> {
    #[cfg(feature = "otel")]
    {
        use opentelemetry::trace::TraceContextExt as _;

        let context = opentelemetry::Context::current();
        let span = context.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return None;
        }
        let value = format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        );
        HeaderValue::from_str(&value).ok()
    }
    #[cfg(not(feature = "otel"))]
    None
}

#[cfg(all(test, feature = "otel"))]
mod tests {
    use super::*;
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState,
    };

    #[test]
    fn no_span_no_header() {
        assert_eq!(current_traceparent(), None);
    }

    #[test]
    fn active_span_gives_traceparent() {
        let span_context = SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            TraceState::default(),
        );
        let _guard = opentelemetry::Context::current()
            .with_remote_span_context(span_context)
            .attach();
        assert_eq!(
            current_traceparent().unwrap(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        );
    }
}
