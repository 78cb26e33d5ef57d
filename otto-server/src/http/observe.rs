//! Metrics and the access log: one `http_requests_total` increment, one latency
//! observation and one access log line per request, labelled by route template so
//! that label cardinality stays bounded. A probe that succeeded (`GET /health` or
//! `GET /ready` answered 2xx) logs its line at DEBUG: load balancers and orchestrators
//! ask every few seconds, and writing each answer cost a quarter of the server's
//! throughput on `/health` (`docs/benchmarks.md`). A failed probe logs as any request.

use std::sync::Arc;

use opentelemetry::trace::TraceContextExt;
use std::time::Instant;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use poem::PathPattern;
use poem::http::Method;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::route_names::RouteNames;
use crate::telemetry::metrics::{HttpRequestLabels, Metrics, RouteLabels};

/// The route label of requests that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The probe routes whose successful answers are logged at DEBUG.
const PROBE_ROUTES: [&str; 2] = ["/health", "/ready"];

/// Whether a request is a probe that succeeded (the narrowest condition: the two probe
/// routes as matched, by GET, with a 2xx answer).
fn is_successful_probe(method: &'static str, route: &str, status: u16) -> bool {
    method == "GET" && PROBE_ROUTES.contains(&route) && (200..300).contains(&status)
}

/// Methods become labels as they are; anything unusual shares one label.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The middleware; see the module docs.
#[derive(Debug, Clone)]
pub struct Observe {
    metrics: Arc<Metrics>,
    routes: Arc<RouteNames>,
}

impl Observe {
    /// Records into `metrics`, labelling routes with their documented `routes` names.
    pub fn new(metrics: Arc<Metrics>, routes: Arc<RouteNames>) -> Self {
        Observe { metrics, routes }
    }
}

impl<E: Endpoint> Middleware<E> for Observe {
    type Output = ObserveEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ObserveEndpoint {
            inner,
            metrics: self.metrics.clone(),
            routes: self.routes.clone(),
        }
    }
}

/// The endpoint produced by [`Observe`].
#[derive(Debug)]
pub struct ObserveEndpoint<E> {
    inner: E,
    metrics: Arc<Metrics>,
    routes: Arc<RouteNames>,
}

impl<E: Endpoint> Endpoint for ObserveEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Response> {
        let started = Instant::now();
        let method = method_label(request.method());
        let path = request.uri().path().to_owned();
        let response = match self.inner.call(request).await {
            Ok(output) => output.into_response(),
            Err(error) => error.into_response(),
        };
        let latency = started.elapsed();
        let latency_ms = latency.as_secs_f64() * 1_000.0;
        // A 404 below a nested service carries its mount point's empty pattern.
        let route = response
            .data::<PathPattern>()
            .map(|pattern| self.routes.template(&pattern.0))
            .filter(|template| !template.is_empty())
            .unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
        let status = response.status().as_u16();

        self.metrics
            .http_requests
            .get_or_create(&HttpRequestLabels {
                route: route.clone(),
                method: method.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.metrics
            .http_request_duration_ms
            .get_or_create(&RouteLabels {
                route: route.clone(),
                method: method.to_owned(),
            })
            .observe(latency_ms);

        let span = tracing::Span::current();
        span.record("route", route.as_str());
        span.record("status", status);
        span.record("http.response.status_code", i64::from(status));
        if route != UNMATCHED_ROUTE {
            span.record("http.route", route.as_str());
            // The span exists already (the trace id was read from it), so its name
            // is changed on the OpenTelemetry span itself.
            span.context()
                .span()
                .update_name(format!("{method} {route}"));
        }
        if status >= 500 {
            span.record("error.type", status.to_string());
            span.record("otel.status_code", "ERROR");
        }
        let latency_ms = (latency_ms * 1_000.0).round() / 1_000.0;
        if status >= 500 {
            tracing::error!(status, latency_ms, path = %path, "request completed");
        } else if is_successful_probe(method, &route, status) {
            tracing::debug!(status, latency_ms, path = %path, "request completed");
        } else {
            tracing::info!(status, latency_ms, path = %path, "request completed");
        }
        Ok(response)
    }
}
