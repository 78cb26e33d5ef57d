//! The operators' listener: `/health` and `/metrics`, apart from the public API port.
//!
//! Metrics are labelled by tenant (webhooks, SMS, ASR minutes, tokens per company),
//! so they are never served on the public port. `serve` answers them on
//! OTTO_METRICS_ADDR (loopback by default), the worker on its own port. With
//! OTTO_METRICS_TOKEN set, `/metrics` also requires `Authorization: Bearer <token>`
//! (compared in constant time); `/health` stays open for orchestrators' probes.

use std::sync::Arc;

use poem::http::{StatusCode, header};
use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, get, handler};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::telemetry::metrics::Metrics;

/// The OpenMetrics text media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct ServiceName(Arc<str>);

/// The bearer token `/metrics` requires, if any.
#[derive(Clone)]
struct MetricsToken(Option<Arc<str>>);

impl MetricsToken {
    fn admits(&self, request: &Request) -> bool {
        let Some(expected) = &self.0 else {
            return true;
        };
        let presented = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .unwrap_or_default();
        presented.as_bytes().ct_eq(expected.as_bytes()).into()
    }
}

#[handler]
fn health(Data(service): Data<&ServiceName>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "healthy",
        "service": &*service.0,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

#[handler]
fn exposition(
    request: &Request,
    Data(metrics): Data<&Arc<Metrics>>,
    Data(token): Data<&MetricsToken>,
) -> Response {
    if !token.admits(request) {
        return Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(header::WWW_AUTHENTICATE, "Bearer realm=\"otto-metrics\"")
            .content_type("application/problem+json")
            .body(
                json!({
                    "type": "/problems/unauthorized",
                    "title": "Unauthorized",
                    "status": 401,
                    "detail": "/metrics needs `Authorization: Bearer` with OTTO_METRICS_TOKEN.",
                    "instance": "/metrics",
                })
                .to_string(),
            );
    }
    metrics
        .encode()
        .with_content_type(OPENMETRICS)
        .into_response()
}

/// `/health` and `/metrics` of the process named `service`; `/metrics` requires
/// `token` when one is given.
pub fn routes(
    metrics: Arc<Metrics>,
    service: &str,
    token: Option<&str>,
) -> impl poem::Endpoint + use<> {
    Route::new()
        .at("/health", get(health))
        .at("/metrics", get(exposition))
        .data(metrics)
        .data(ServiceName(Arc::from(service)))
        .data(MetricsToken(token.map(Arc::from)))
}

/// Warns when an operators' listener bound to `ip` (`None`: a host name, left to the
/// operator) serves `/metrics` beyond loopback without a token.
pub fn warn_if_exposed(ip: Option<std::net::IpAddr>, address: &str, token: Option<&str>) {
    if token.is_none() && ip.is_some_and(|ip| !ip.is_loopback()) {
        tracing::warn!(
            address = %address,
            "metrics listen beyond loopback without OTTO_METRICS_TOKEN: they name every tenant, \
             so keep this port off the public network"
        );
    }
}
