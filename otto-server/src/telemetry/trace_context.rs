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
}
