//! The worker process's own `/health` and `/metrics`, so that its job metrics are
//! scrapeable and its liveness checkable like the API's.

use std::sync::Arc;

use poem::web::{Data, Json};
use poem::{EndpointExt, IntoResponse, Route, get, handler};
use serde_json::json;

use crate::telemetry::metrics::Metrics;

/// The OpenMetrics text media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone)]
struct ServiceName(Arc<str>);

#[handler]
fn health(Data(service): Data<&ServiceName>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "healthy",
        "service": &*service.0,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

#[handler]
fn exposition(Data(metrics): Data<&Arc<Metrics>>) -> impl IntoResponse {
    metrics.encode().with_content_type(OPENMETRICS)
}

/// `/health` and `/metrics` of a worker named `service`.
pub fn routes(metrics: Arc<Metrics>, service: &str) -> impl poem::Endpoint + use<> {
    Route::new()
        .at("/health", get(health))
        .at("/metrics", get(exposition))
        .data(metrics)
        .data(ServiceName(Arc::from(service)))
}
