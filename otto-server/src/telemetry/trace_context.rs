//! W3C trace context carried across the job queue: the request that enqueues a job
//! stores its `traceparent`, and the worker's span for the job continues that trace.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: &str = "traceparent";

/// The `traceparent` of the current span, when it belongs to a valid trace (span
/// export is on).
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes `span` a child of the span that `traceparent` names; an invalid value is
/// ignored (the span starts its own trace).
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let parent = TraceContextPropagator::new().extract(&carrier);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The trace id a `traceparent` names (`00-<trace id>-<span id>-<flags>`), if it is
/// well formed.
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    let valid = trace_id.len() == 32
        && trace_id.bytes().all(|b| b.is_ascii_hexdigit())
        && trace_id.bytes().any(|b| b != b'0');
    valid.then_some(trace_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::TracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn a_job_span_continues_the_trace_of_the_request_that_enqueued_it() {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let request = tracing::info_span!("request");
            let stored = request
                .in_scope(current_traceparent)
                .expect("a valid trace");
            let request_trace = request.context().span().span_context().trace_id();
            assert!(stored.contains(&request_trace.to_string()), "{stored}");

            let job = tracing::info_span!("job");
            continue_trace(&job, &stored);
            assert_eq!(
                job.context().span().span_context().trace_id(),
                request_trace
            );

            let orphan = tracing::info_span!("job");
            continue_trace(&orphan, "not-a-traceparent");
            assert_ne!(
                orphan.context().span().span_context().trace_id(),
                request_trace
            );
        });
        assert_eq!(current_traceparent(), None, "no trace outside a span");
    }

    #[test]
    fn the_trace_id_of_a_traceparent_is_read_and_garbage_is_not() {
        // The W3C specification's example traceparent.
        let example = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; // pragma: allowlist secret
        assert_eq!(trace_id_of(example), Some(&example[3..35]));
        for bad in [
            "",
            "00",
            "00-xyz-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-1-01",
        ] {
            assert_eq!(trace_id_of(bad), None, "{bad}");
        }
    }
}
