//! The request's identity: its request id, trace context and tracing span.
//!
//! The request id is the client's `X-Request-Id` when it is sane (at most 128
//! characters of `[A-Za-z0-9._-]`), else the trace id of a valid W3C `traceparent`,
//! else a new UUID. It is returned as `X-Request-Id` on every response and is the
//! `trace_id` of problem bodies and log lines.

use std::sync::{Arc, OnceLock};

use super::rate_limit::RateLimitHeaders;

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use poem::http::{HeaderMap, HeaderValue};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The response and request header carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// The same id under the original service's name.
pub const TRACE_ID_HEADER: &str = "x-trace-id";

const MAX_REQUEST_ID_LEN: usize = 128;

/// What every layer may know about the request in flight.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (see the module docs for how it is chosen).
    pub request_id: Arc<str>,
    /// The request's path: the `instance` of its problems.
    pub path: Arc<str>,
    /// Rate-limit headers, set when the request was rate-limited (allowed or not).
    pub rate_limit_headers: Arc<OnceLock<RateLimitHeaders>>,
}

tokio::task_local! {
    static CURRENT: RequestContext;
}

/// The context of the request this task is serving, if any. Lets code far from the
/// middleware (a response payload rendering a problem) stamp the right trace id.
pub fn current() -> Option<RequestContext> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Whether a client-supplied request id can be trusted into logs and headers.
pub fn is_sane_request_id(candidate: &str) -> bool {
    !candidate.is_empty()
        && candidate.len() <= MAX_REQUEST_ID_LEN
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

struct HeaderExtractor<'a>(&'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}

/// The remote parent of a valid `traceparent` header, if any.
fn remote_parent(headers: &HeaderMap) -> Option<opentelemetry::Context> {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    context.span().span_context().is_valid().then_some(context)
}

/// Chooses the request id from the headers (see the module docs).
pub fn choose_request_id(headers: &HeaderMap, parent: Option<&opentelemetry::Context>) -> String {
    if let Some(candidate) = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|candidate| is_sane_request_id(candidate))
    {
        return candidate.to_owned();
    }
    if let Some(parent) = parent {
        return parent.span().span_context().trace_id().to_string();
    }
    uuid::Uuid::new_v4().to_string()
}

/// The request's SERVER span, with the OpenTelemetry HTTP semantic conventions'
/// attributes known before routing; [`super::observe`] names it `{method} {route}`
/// and adds the route, the status and, for a 5xx, `error.type` and an error status.
/// The path is PII-redacted (it can hold a phone number); the query is left out (it
/// can hold a stream ticket).
fn server_span(request: &Request, request_id: &str) -> tracing::Span {
    let method = request.method().as_str();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    };
    let (host, port) = match header("host").rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => (host, port.parse::<u16>().ok()),
        _ => (header("host"), None),
    };
    let client = request
        .remote_addr()
        .as_socket_addr()
        .map(|address| address.ip().to_string())
        .unwrap_or_default();
    tracing::info_span!(
        "http.request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        trace_id = %request_id,
        otel_trace_id = tracing::field::Empty,
        method = method,
        route = tracing::field::Empty,
        status = tracing::field::Empty,
        tenant_id = tracing::field::Empty,
        user_id = tracing::field::Empty,
        "http.request.method" = method,
        "http.route" = tracing::field::Empty,
        "http.response.status_code" = tracing::field::Empty,
        "url.path" = %otto_core::redact_pii(request.uri().path()),
        "url.scheme" = request.uri().scheme_str().unwrap_or("http"),
        "server.address" = host,
        "server.port" = i64::from(port.unwrap_or_else(|| {
            request
                .local_addr()
                .as_socket_addr()
                .map_or(0, |address| address.port())
        })),
        "user_agent.original" = header("user-agent"),
        "client.address" = client,
        "error.type" = tracing::field::Empty,
    )
}

/// Middleware that assigns the request id, opens the request span (parented on an
/// incoming `traceparent`) and stamps `X-Request-Id` on every response.
#[derive(Debug, Clone, Copy, Default)]
pub struct AssignRequestContext;

impl<E: Endpoint> Middleware<E> for AssignRequestContext {
    type Output = AssignRequestContextEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AssignRequestContextEndpoint { inner }
    }
}

/// The endpoint produced by [`AssignRequestContext`].
#[derive(Debug)]
pub struct AssignRequestContextEndpoint<E> {
    inner: E,
}

impl<E: Endpoint> Endpoint for AssignRequestContextEndpoint<E> {
    type Output = Response;

    async fn call(&self, mut request: Request) -> Result<Response> {
        let parent = remote_parent(request.headers());
        let request_id = choose_request_id(request.headers(), parent.as_ref());
        let span = server_span(&request, &request_id);
        if let Some(parent) = parent {
            // Fails only when no OpenTelemetry layer is installed; then there is no
            // trace to join, and logs still carry the request id.
            let _ = span.set_parent(parent);
        }
        let otel_trace_id = span.context().span().span_context().trace_id();
        if otel_trace_id != TraceId::INVALID {
            span.record("otel_trace_id", tracing::field::display(otel_trace_id));
        }
        let context = RequestContext {
            request_id: Arc::from(request_id.as_str()),
            path: Arc::from(request.uri().path()),
            rate_limit_headers: Arc::default(),
        };
        let rate_limit_headers = context.rate_limit_headers.clone();
        request.set_data(context.clone());

        let call = CURRENT.scope(context, self.inner.call(request));
        let mut response = match call.instrument(span).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        };
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response
                .headers_mut()
                .insert(REQUEST_ID_HEADER, value.clone());
            response.headers_mut().insert(TRACE_ID_HEADER, value);
        }
        if let Some(headers) = rate_limit_headers.get() {
            headers.apply(response.headers_mut());
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).expect("valid header"));
        }
        map
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_sane_client_request_id_is_kept() {
        let map = headers(&[
            ("x-request-id", "req-123.abc_DEF"),
            ("traceparent", TRACEPARENT),
        ]);
        assert_eq!(
            choose_request_id(&map, remote_parent(&map).as_ref()),
            "req-123.abc_DEF"
        );
    }

    #[test]
    fn an_insane_request_id_falls_back_to_the_traceparent() {
        for bad in ["has space", "semi;colon", "<script>", &"a".repeat(129)] {
            let map = headers(&[("x-request-id", bad), ("traceparent", TRACEPARENT)]);
            assert_eq!(
                choose_request_id(&map, remote_parent(&map).as_ref()),
                "4bf92f3577b34da6a3ce929d0e0e4736" // pragma: allowlist secret (W3C example)
            );
        }
    }

    #[test]
    fn without_either_a_new_uuid_is_made() {
        for map in [
            headers(&[]),
            headers(&[(
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            )]),
        ] {
            let chosen = choose_request_id(&map, remote_parent(&map).as_ref());
            assert!(uuid::Uuid::parse_str(&chosen).is_ok(), "{chosen}");
        }
    }

    #[test]
    fn request_id_length_limit_is_inclusive() {
        assert!(is_sane_request_id(&"a".repeat(128)));
        assert!(!is_sane_request_id(&"a".repeat(129)));
        assert!(!is_sane_request_id(""));
    }
}
