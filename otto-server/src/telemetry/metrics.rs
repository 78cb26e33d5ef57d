//! Prometheus metrics (prometheus-client). Every family is registered when
//! [`Metrics::new`] runs, so `/metrics` lists them all before their first use.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use otto_core::ports::UsageMeter;
use otto_core::tenancy::TenantId;

/// Latency buckets in milliseconds: from a cache hit to a slow provider call.
const LATENCY_BUCKETS_MS: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1_000.0, 2_500.0, 5_000.0, 10_000.0,
    30_000.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS_MS)
}

/// Labels of `http_requests_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpRequestLabels {
    /// Route template (`/api/v1/calls/{id}`), or `unmatched`.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Status code.
    pub status: String,
}

/// Labels of `http_request_duration_ms`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// Route template, or `unmatched`.
    pub route: String,
    /// HTTP method.
    pub method: String,
}

/// Labels of `worker_task_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabels {
    /// Job kind.
    pub name: String,
    /// Outcome: succeeded, failed, skipped, dead.
    pub status: String,
}

/// Labels of `worker_task_duration_ms`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskNameLabels {
    /// Job kind.
    pub name: String,
}

/// Labels of the webhook counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// callrail, twilio, clerk or bland.
    pub provider: String,
    /// The tenant the delivery was routed to (`unknown` before routing).
    pub tenant_id: String,
}

/// Labels of `webhook_failures_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookFailureLabels {
    /// callrail, twilio, clerk or bland.
    pub provider: String,
    /// The tenant, or `unknown` when the delivery failed before routing.
    pub tenant_id: String,
    /// Why: `missing_signature`, `bad_signature`, `malformed_signature`,
    /// `stale_timestamp`, `invalid_payload`, `unsupported_media_type`, `storage`.
    pub reason: String,
}

/// Labels of `webhook_unroutable_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ProviderLabels {
    /// callrail, twilio, clerk or bland.
    pub provider: String,
}

/// Labels of `webhook_signature_verified_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SignatureLabels {
    /// callrail, twilio, clerk or bland.
    pub provider: String,
    /// Which secret matched: `current`, `previous` (during a rotation) or `none`
    /// (no secret configured, development only).
    pub secret: String,
}

/// Labels of `rate_limit_hits_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RateLimitLabels {
    /// Route template.
    pub route: String,
    /// `user` or `tenant`.
    pub limit_type: String,
}

/// Labels of per-tenant business counters.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    /// Tenant id.
    pub tenant_id: String,
}

/// Labels of `llm_tokens_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LlmLabels {
    /// Tenant id.
    pub tenant_id: String,
    /// Model name.
    pub model: String,
}

/// Labels of `events_published_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EventTypeLabels {
    /// The event's type (`call.created`, ...).
    pub r#type: String,
}

/// Labels of `event_stream_connections`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TransportLabels {
    /// `sse` or `websocket`.
    pub transport: String,
}

/// Labels of `event_stream_dropped_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DropLabels {
    /// Why the stream was ended by the server: `slow_consumer`, `shutdown`.
    pub reason: String,
}

/// Labels of `readiness_status`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CheckLabels {
    /// The dependency checked (`database`, `redis`).
    pub check: String,
}

/// Every family: name (without `_total`), help and OpenMetrics type.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "http_requests",
        "HTTP requests by route template, method and status",
        "counter",
    ),
    (
        "http_request_duration_ms",
        "HTTP request latency in milliseconds",
        "histogram",
    ),
    (
        "worker_task",
        "Background jobs run, by kind and outcome",
        "counter",
    ),
    (
        "worker_task_duration_ms",
        "Background job duration in milliseconds",
        "histogram",
    ),
    (
        "webhook_processed",
        "Webhook deliveries processed for the first time",
        "counter",
    ),
    (
        "webhook_duplicates",
        "Duplicate webhook deliveries ignored",
        "counter",
    ),
    (
        "webhook_failures",
        "Webhook deliveries refused or failed",
        "counter",
    ),
    (
        "webhook_unroutable",
        "Webhook deliveries stored because no tenant is linked to their account",
        "counter",
    ),
    (
        "webhook_idempotency_purged",
        "Expired webhook idempotency keys purged",
        "counter",
    ),
    (
        "webhook_key_conflicts",
        "Duplicate webhook keys whose body differs from the first delivery's",
        "counter",
    ),
    (
        "webhook_signature_verified",
        "Webhook deliveries whose signature was accepted, by the secret that matched",
        "counter",
    ),
    (
        "rate_limit_hits",
        "Requests refused by a rate limit",
        "counter",
    ),
    ("asr_minutes", "Minutes of audio transcribed", "counter"),
    ("llm_tokens", "LLM tokens consumed", "counter"),
    ("sms_sent", "SMS messages sent", "counter"),
    (
        "rate_limit_backend_errors",
        "Rate-limit decisions the shared backend (Redis) failed or timed out on, decided in-process instead",
        "counter",
    ),
    (
        "events_published",
        "Live events this process committed, by type",
        "counter",
    ),
    (
        "event_stream_connections",
        "Open live-event streams of this process, by transport",
        "gauge",
    ),
    (
        "event_delivery_lag_ms",
        "Milliseconds from an event's commit to its hand-over to this process's streams",
        "histogram",
    ),
    (
        "event_stream_dropped",
        "Live-event streams the server ended, by reason",
        "counter",
    ),
    (
        "job_queue_oldest_age_seconds",
        "Seconds the oldest due job has waited to be leased (0 when none waits), at the last look",
        "gauge",
    ),
    (
        "readiness_status",
        "Whether each readiness check passed at the last /ready probe (1) or failed (0)",
        "gauge",
    ),
];

fn help(name: &str) -> &'static str {
    FAMILIES
        .iter()
        .find(|(family, _, _)| *family == name)
        .map_or("", |(_, help, _)| help)
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every metric Otto exposes.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// `http_requests_total{route,method,status}`
    pub http_requests: Family<HttpRequestLabels, Counter>,
    /// `http_request_duration_ms{route,method}`
    pub http_request_duration_ms: HistogramFamily<RouteLabels>,
    /// `worker_task_total{name,status}`
    pub worker_tasks: Family<TaskLabels, Counter>,
    /// `worker_task_duration_ms{name}`
    pub worker_task_duration_ms: HistogramFamily<TaskNameLabels>,
    /// `webhook_processed_total{provider,tenant_id}`
    pub webhook_processed: Family<WebhookLabels, Counter>,
    /// `webhook_duplicates_total{provider,tenant_id}`
    pub webhook_duplicates: Family<WebhookLabels, Counter>,
    /// `webhook_failures_total{provider,tenant_id,reason}`
    pub webhook_failures: Family<WebhookFailureLabels, Counter>,
    /// `webhook_unroutable_total{provider}`
    pub webhook_unroutable: Family<ProviderLabels, Counter>,
    /// `webhook_key_conflicts_total{provider}`
    pub webhook_key_conflicts: Family<ProviderLabels, Counter>,
    /// `webhook_signature_verified_total{provider,secret}`
    pub webhook_signature_verified: Family<SignatureLabels, Counter>,
    /// `webhook_idempotency_purged_total`
    pub webhook_idempotency_purged: Counter,
    /// `rate_limit_hits_total{route,limit_type}`
    pub rate_limit_hits: Family<RateLimitLabels, Counter>,
    /// `rate_limit_backend_errors_total`
    pub rate_limit_backend_errors: Counter,
    /// `asr_minutes_total{tenant_id}`
    pub asr_minutes: Family<TenantLabels, Counter<f64, AtomicU64>>,
    /// `llm_tokens_total{tenant_id,model}`
    pub llm_tokens: Family<LlmLabels, Counter>,
    /// `sms_sent_total{tenant_id}`
    pub sms_sent: Family<TenantLabels, Counter>,
    /// `events_published_total{type}`
    pub events_published: Family<EventTypeLabels, Counter>,
    /// `event_stream_connections{transport}`
    pub event_stream_connections: Family<TransportLabels, Gauge>,
    /// `event_delivery_lag_ms`
    pub event_delivery_lag_ms: Histogram,
    /// `event_stream_dropped_total{reason}`
    pub event_stream_dropped: Family<DropLabels, Counter>,
    /// `job_queue_oldest_age_seconds`
    pub job_queue_oldest_age_seconds: Gauge,
    /// `readiness_status{check}`
    pub readiness_status: Family<CheckLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::default();
        let http_request_duration_ms: HistogramFamily<RouteLabels> =
            Family::new_with_constructor(latency_histogram);
        let worker_tasks = Family::default();
        let worker_task_duration_ms: HistogramFamily<TaskNameLabels> =
            Family::new_with_constructor(latency_histogram);
        let webhook_processed = Family::default();
        let webhook_duplicates = Family::default();
        let webhook_failures = Family::default();
        let webhook_unroutable = Family::default();
        let webhook_signature_verified = Family::default();
        let webhook_key_conflicts = Family::default();
        let webhook_idempotency_purged = Counter::default();
        let rate_limit_hits = Family::default();
        let rate_limit_backend_errors = Counter::default();
        let asr_minutes = Family::default();
        let llm_tokens = Family::default();
        let sms_sent = Family::default();
        let events_published = Family::default();
        let event_stream_connections = Family::default();
        let event_delivery_lag_ms = latency_histogram();
        let event_stream_dropped = Family::default();
        let job_queue_oldest_age_seconds = Gauge::default();
        let readiness_status = Family::default();

        // prometheus-client appends `_total` to counters itself.
        registry.register(
            "http_requests",
            help("http_requests"),
            http_requests.clone(),
        );
        registry.register(
            "http_request_duration_ms",
            help("http_request_duration_ms"),
            http_request_duration_ms.clone(),
        );
        registry.register("worker_task", help("worker_task"), worker_tasks.clone());
        registry.register(
            "worker_task_duration_ms",
            help("worker_task_duration_ms"),
            worker_task_duration_ms.clone(),
        );
        registry.register(
            "webhook_processed",
            help("webhook_processed"),
            webhook_processed.clone(),
        );
        registry.register(
            "webhook_duplicates",
            help("webhook_duplicates"),
            webhook_duplicates.clone(),
        );
        registry.register(
            "webhook_failures",
            help("webhook_failures"),
            webhook_failures.clone(),
        );
        registry.register(
            "webhook_unroutable",
            help("webhook_unroutable"),
            webhook_unroutable.clone(),
        );
        registry.register(
            "webhook_key_conflicts",
            help("webhook_key_conflicts"),
            webhook_key_conflicts.clone(),
        );
        registry.register(
            "webhook_signature_verified",
            help("webhook_signature_verified"),
            webhook_signature_verified.clone(),
        );
        registry.register(
            "webhook_idempotency_purged",
            help("webhook_idempotency_purged"),
            webhook_idempotency_purged.clone(),
        );
        registry.register(
            "rate_limit_hits",
            help("rate_limit_hits"),
            rate_limit_hits.clone(),
        );
        registry.register(
            "rate_limit_backend_errors",
            help("rate_limit_backend_errors"),
            rate_limit_backend_errors.clone(),
        );
        registry.register("asr_minutes", help("asr_minutes"), asr_minutes.clone());
        registry.register("llm_tokens", help("llm_tokens"), llm_tokens.clone());
        registry.register("sms_sent", help("sms_sent"), sms_sent.clone());
        registry.register(
            "events_published",
            help("events_published"),
            events_published.clone(),
        );
        registry.register(
            "event_stream_connections",
            help("event_stream_connections"),
            event_stream_connections.clone(),
        );
        registry.register(
            "event_delivery_lag_ms",
            help("event_delivery_lag_ms"),
            event_delivery_lag_ms.clone(),
        );
        registry.register(
            "event_stream_dropped",
            help("event_stream_dropped"),
            event_stream_dropped.clone(),
        );
        registry.register(
            "job_queue_oldest_age_seconds",
            help("job_queue_oldest_age_seconds"),
            job_queue_oldest_age_seconds.clone(),
        );
        registry.register(
            "readiness_status",
            help("readiness_status"),
            readiness_status.clone(),
        );

        Metrics {
            registry,
            http_requests,
            http_request_duration_ms,
            worker_tasks,
            worker_task_duration_ms,
            webhook_processed,
            webhook_duplicates,
            webhook_failures,
            webhook_unroutable,
            webhook_signature_verified,
            webhook_key_conflicts,
            webhook_idempotency_purged,
            rate_limit_hits,
            rate_limit_backend_errors,
            asr_minutes,
            llm_tokens,
            sms_sent,
            events_published,
            event_stream_connections,
            event_delivery_lag_ms,
            event_stream_dropped,
            job_queue_oldest_age_seconds,
            readiness_status,
        }
    }

    /// The OpenMetrics text exposition of every metric.
    ///
    /// prometheus-client leaves out a labelled family until its first series exists;
    /// Otto declares those families anyway (HELP and TYPE, no samples), so dashboards
    /// and alerts can rely on every family from the first scrape.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        let declared: String = FAMILIES
            .iter()
            .filter(|(name, _, kind)| !text.contains(&format!("# TYPE {name} {kind}\n")))
            .map(|(name, help, kind)| format!("# HELP {name} {help}.\n# TYPE {name} {kind}\n"))
            .collect();
        match text.rfind("# EOF") {
            Some(eof) => text.insert_str(eof, &declared),
            None => text.push_str(&declared),
        }
        text
    }
}

/// The media type of [`Metrics::encode`]'s output.
pub const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl UsageMeter for Metrics {
    fn sms_sent(&self, tenant: &TenantId) {
        self.sms_sent
            .get_or_create(&TenantLabels {
                tenant_id: tenant.to_string(),
            })
            .inc();
    }

    fn asr_seconds(&self, tenant: &TenantId, seconds: f64) {
        self.asr_minutes
            .get_or_create(&TenantLabels {
                tenant_id: tenant.to_string(),
            })
            .inc_by(seconds / 60.0);
    }

    fn llm_tokens(&self, tenant: &TenantId, model: &str, tokens: u64) {
        self.llm_tokens
            .get_or_create(&LlmLabels {
                tenant_id: tenant.to_string(),
                model: model.to_owned(),
            })
            .inc_by(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every family of the exposition says what it measures: a HELP that is empty,
    /// a lone `.`, or a copy of the family's name tells an operator nothing.
    #[test]
    fn every_family_has_a_real_help_text() {
        let text = Metrics::new().encode();
        let mut families = 0;
        for line in text.lines().filter(|line| line.starts_with("# HELP ")) {
            let rest = &line["# HELP ".len()..];
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let words = help.trim_end_matches('.').split_whitespace().count();
            assert!(
                words >= 3 && !help.contains(name.trim_end_matches("_total")),
                "`{name}` has no real HELP: `{help}`"
            );
            families += 1;
        }
        assert_eq!(families, FAMILIES.len(), "every family is declared once");
    }
}
