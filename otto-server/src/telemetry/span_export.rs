//! OpenTelemetry span export: OTLP/HTTP to a collector, or JSON lines on standard
//! error ("console"), or nothing.
//!
//! The console exporter writes one JSON object per finished span to stderr, so that
//! stdout stays one JSON log object per line.

use std::io::Write;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use serde_json::{Map, Value, json};

use crate::config::TracesExporter;

/// Writes finished spans as JSON lines to standard error.
#[derive(Debug, Default)]
pub struct ConsoleSpanExporter {
    service_name: String,
}

fn millis_since_epoch(time: std::time::SystemTime) -> u128 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis())
}

/// A span as one JSON object.
pub fn span_to_json(span: &SpanData, service_name: &str) -> Value {
    let attributes: Map<String, Value> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), Value::from(kv.value.to_string())))
        .collect();
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    json!({
        "span": span.name,
        "service": service_name,
        "trace_id": span.span_context.trace_id().to_string(),
        "span_id": span.span_context.span_id().to_string(),
        "parent_span_id": span.parent_span_id.to_string(),
        "kind": format!("{:?}", span.span_kind),
        "start_unix_ms": millis_since_epoch(span.start_time),
        "duration_ms": duration.as_secs_f64() * 1_000.0,
        "status": format!("{:?}", span.status),
        "attributes": attributes,
    })
}

impl SpanExporter for ConsoleSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut text = String::new();
        for span in &batch {
            let mut line = span_to_json(span, &self.service_name);
            if let Value::Object(map) = &mut line {
                for value in map.values_mut() {
                    if let Value::String(text) = value {
                        *text = otto_core::redact_pii(text).into_owned();
                    }
                }
            }
            text.push_str(&line.to_string());
            text.push('\n');
        }
        // Spans that cannot be written are dropped rather than failing the request.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        Ok(())
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(name) = resource.get(&opentelemetry::Key::new("service.name")) {
            self.service_name = name.to_string();
        }
    }
}

/// Why span export could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up OTLP span export: {0}")]
pub struct SpanExportError(String);

/// Builds the tracer provider for `exporter`, or `None` when spans are not exported.
pub fn tracer_provider(
    exporter: TracesExporter,
    otlp_endpoint: Option<&url::Url>,
    service_name: &str,
    environment: &str,
) -> Result<Option<SdkTracerProvider>, SpanExportError> {
    let resource = Resource::builder()
        .with_service_name(service_name.to_owned())
        .with_attributes([
            opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
            opentelemetry::KeyValue::new("deployment.environment.name", environment.to_owned()),
        ])
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    let provider = match (exporter, otlp_endpoint) {
        (TracesExporter::None, _) => return Ok(None),
        (TracesExporter::Console, _) => builder
            .with_simple_exporter(ConsoleSpanExporter {
                service_name: service_name.to_owned(),
            })
            .build(),
        (TracesExporter::Otlp, Some(endpoint)) => {
            // The exporter's HTTP client needs the process's TLS provider, which a
            // caller other than `main` (a test, an embedding service) may not have
            // installed yet.
            otto_adapters::tls::ensure_crypto_provider();
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(traces_url(endpoint))
                .build()
                .map_err(|error| SpanExportError(error.to_string()))?;
            builder.with_batch_exporter(exporter).build()
        }
        (TracesExporter::Otlp, None) => {
            return Err(SpanExportError(
                "OTEL_EXPORTER_OTLP_ENDPOINT is not set".to_owned(),
            ));
        }
    };
    Ok(Some(provider))
}

/// The OTLP/HTTP traces URL for a collector base URL: like the OpenTelemetry SDKs
/// do with OTEL_EXPORTER_OTLP_ENDPOINT, `/v1/traces` is appended to a bare base.
pub fn traces_url(endpoint: &url::Url) -> String {
    let base = endpoint.as_str().trim_end_matches('/');
    if base.ends_with("/v1/traces") {
        base.to_owned()
    } else {
        format!("{base}/v1/traces")
    }
}

/// A tracer from `provider`, for the tracing-opentelemetry layer.
pub fn tracer(provider: &SdkTracerProvider) -> opentelemetry_sdk::trace::Tracer {
    provider.tracer("otto")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_traces_url_is_derived_from_the_collector_base() {
        let base = url::Url::parse("http://collector:4318").expect("url");
        assert_eq!(traces_url(&base), "http://collector:4318/v1/traces");
        let full = url::Url::parse("http://collector:4318/v1/traces").expect("url");
        assert_eq!(traces_url(&full), "http://collector:4318/v1/traces");
    }
}
