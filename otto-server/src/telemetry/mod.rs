//! Logs, traces and metrics.
//!
//! [`init`] installs the global subscriber: the JSON log layer (filtered by
//! LOG_LEVEL) and, when span export is on, the OpenTelemetry layer. Metrics live in
//! [`metrics::Metrics`], owned by the application state.

pub mod json_log;
pub mod log_writer;
pub mod metrics;
pub mod span_export;
pub mod trace_context;

use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub use json_log::{JsonLogLayer, Service};
pub use log_writer::BackgroundWriter;

use crate::config::Config;

/// Where log lines go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDestination {
    /// Standard output (the server and worker).
    Stdout,
    /// Standard error (CLI commands whose stdout is their result).
    Stderr,
}

/// Flushes and shuts span export down, then writes out the buffered log lines,
/// when dropped.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    logs: Option<BackgroundWriter>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // Nothing useful can be done with a failed flush at exit.
            let _ = provider.shutdown();
        }
        if let Some(logs) = self.logs.take() {
            logs.flush();
        }
    }
}

/// Dependencies whose chatter stays at WARN unless LOG_LEVEL asks for less.
const QUIET_DEPENDENCIES: &[&str] = &[
    "sqlx",
    "sea_orm",
    "sea_orm_migration",
    "fred",
    "hyper",
    "h2",
    "reqwest",
    "rustls",
];

fn log_filter(level: LevelFilter) -> Targets {
    QUIET_DEPENDENCIES
        .iter()
        .fold(Targets::new().with_default(level), |targets, target| {
            targets.with_target(*target, level.min(LevelFilter::WARN))
        })
}

/// Installs logging and span export for `service`. Call once, first thing.
pub fn init(
    config: &Config,
    service: Service,
    destination: LogDestination,
) -> Result<TelemetryGuard, String> {
    let service_name = match service {
        Service::Api => &config.service_name_api,
        Service::Worker => &config.service_name_worker,
    };
    let environment = match config.env {
        crate::config::OttoEnv::Development => "development",
        crate::config::OttoEnv::Test => "test",
        crate::config::OttoEnv::Production => "production",
    };
    let provider = span_export::tracer_provider(
        config.traces_exporter,
        config.otlp_endpoint.as_ref(),
        service_name,
        environment,
    )
    .map_err(|error| error.to_string())?;
    // The server's and worker's lines are written off the request path; a CLI
    // command's stay in order with what it prints.
    let background = match destination {
        LogDestination::Stdout => Some(
            BackgroundWriter::spawn(std::io::stdout())
                .map_err(|error| format!("cannot start the log writer: {error}"))?,
        ),
        LogDestination::Stderr => None,
    };
    let logs = match &background {
        Some(writer) => JsonLogLayer::new(service, config.redact_pii, writer.clone()).boxed(),
        None => JsonLogLayer::new(service, config.redact_pii, std::io::stderr).boxed(),
    }
    .with_filter(log_filter(config.log_level));
    let spans = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(span_export::tracer(provider))
            // Spans are exported whatever LOG_LEVEL says: traces and logs are
            // separate signals.
            .with_filter(LevelFilter::INFO)
    });
    tracing_subscriber::registry()
        .with(logs)
        .with(spans)
        .try_init()
        .map_err(|error| format!("telemetry already initialised: {error}"))?;
    Ok(TelemetryGuard {
        provider,
        logs: background,
    })
}
