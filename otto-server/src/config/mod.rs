//! Otto's typed configuration, loaded once from the environment and `.env`.
//!
//! Every variable is described in [`spec::VARIABLES`] and documented in
//! `docs/configuration.md`. Loading collects *every* problem before failing, so an
//! operator fixes a broken deployment in one pass.

mod environment;
mod parse;
mod report;
mod secret;
pub mod spec;

use std::path::PathBuf;
use std::time::Duration;

use otto_core::Rate;
use tracing::level_filters::LevelFilter;

use crate::http::cors::OriginPattern;
use crate::http::rate_limit::RouteOverride;
pub use environment::Environment;
pub use report::{effective_settings, unconfigured_components};
pub use secret::{MASK, Secret, mask_url_password};

/// The deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OttoEnv {
    /// A developer's machine: nothing is required.
    Development,
    /// Automated tests.
    Test,
    /// A real deployment: every production variable must hold a real value.
    Production,
}

/// Where finished spans go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TracesExporter {
    /// OTLP over HTTP to `OTEL_EXPORTER_OTLP_ENDPOINT`.
    Otlp,
    /// One JSON line per span on standard error.
    Console,
    /// Spans are not exported.
    None,
}

/// Clerk credentials and session-token verification settings.
#[derive(Debug, Clone)]
pub struct ClerkConfig {
    /// Backend API secret key.
    pub secret_key: Option<Secret>,
    /// Publishable key (names the Frontend API host).
    pub publishable_key: Option<String>,
    /// PEM public key for fully offline verification.
    pub jwt_key: Option<String>,
    /// An explicit JWKS URL.
    pub jwks_url: Option<url::Url>,
    /// The expected `iss` (else derived from the publishable key).
    pub issuer: Option<String>,
    /// Accepted `azp` origins (else the web entries of ALLOWED_ORIGINS).
    pub authorized_parties: Option<Vec<OriginPattern>>,
    /// Least time between JWKS fetches caused by unknown key ids.
    pub jwks_refetch_interval: Duration,
}

impl ClerkConfig {
    /// Whether any source of session-token keys is configured.
    pub fn has_key_source(&self) -> bool {
        self.jwt_key.is_some()
            || self.jwks_url.is_some()
            || self.secret_key.is_some()
            || self
                .publishable_key
                .as_deref()
                .and_then(otto_adapters::clerk::frontend_api_host)
                .is_some()
    }
}

/// Twilio credentials.
#[derive(Debug, Clone)]
pub struct TwilioConfig {
    /// Account SID.
    pub account_sid: Option<String>,
    /// Auth token (also the webhook signing key).
    pub auth_token: Option<Secret>,
    /// The number SMS are sent from.
    pub from_number: Option<String>,
    /// Base URL of Twilio's REST API.
    pub api_base_url: url::Url,
}

/// CallRail credentials.
#[derive(Debug, Clone, Default)]
pub struct CallRailConfig {
    /// API key.
    pub api_key: Option<Secret>,
    /// Account id.
    pub account_id: Option<String>,
    /// Base URL of CallRail's API.
    pub base_url: Option<url::Url>,
}

/// How webhook deliveries are verified and routed.
#[derive(Debug, Clone, Default)]
pub struct WebhookConfig {
    /// CallRail's signing key (`Signature`).
    pub callrail_secret: Option<Secret>,
    /// Clerk's Svix signing secret (`whsec_...`).
    pub clerk_secret: Option<Secret>,
    /// Bland AI's webhook signing secret (`X-Webhook-Signature`).
    pub bland_secret: Option<Secret>,
    /// The secrets being rotated out, per provider (`*_PREVIOUS`): a delivery signed
    /// with one is still accepted, and counted, until it is removed.
    pub previous_secrets: PreviousSecrets,
    /// The public base URL providers call (Twilio signs the URL it called).
    pub public_url: Option<url::Url>,
    /// Development only: the tenant of deliveries that map to no tenant.
    pub default_tenant: Option<otto_core::tenancy::TenantId>,
    /// Keep processed deliveries' bodies as received in the delivery log instead of
    /// redacted (OTTO_STORE_WEBHOOK_BODIES).
    pub store_raw_bodies: bool,
    /// Days the delivery log keeps deliveries (WEBHOOK_LOG_RETENTION_DAYS, by default
    /// IDEMPOTENCY_TTL_DAYS).
    pub log_retention_days: u32,
    /// How long a found account → tenant route is remembered
    /// (OTTO_ROUTING_CACHE_SECONDS; zero: asked for every delivery).
    pub routing_cache: std::time::Duration,
}

/// The previous signing secret of each provider, during a rotation.
#[derive(Debug, Clone, Default)]
pub struct PreviousSecrets {
    /// CALLRAIL_WEBHOOK_SECRET_PREVIOUS.
    pub callrail: Option<Secret>,
    /// TWILIO_AUTH_TOKEN_PREVIOUS (Twilio's secondary auth token).
    pub twilio: Option<Secret>,
    /// CLERK_WEBHOOK_SECRET_PREVIOUS.
    pub clerk: Option<Secret>,
    /// BLAND_WEBHOOK_SECRET_PREVIOUS.
    pub bland: Option<Secret>,
}

/// Whether `serve` also runs jobs in its own process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServeWorker {
    /// On the embedded database (one process is the whole product), off otherwise
    /// (run `otto-server worker` processes).
    Auto,
    /// Always.
    On,
    /// Never.
    Off,
}

/// How workers lease, retry and schedule jobs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs one worker process runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs.
    pub poll_interval: Duration,
    /// How long a leased job is held before another worker may take it over.
    pub lease: Duration,
    /// The retry policy.
    pub retry: otto_core::jobs::RetryPolicy,
    /// When the daily idempotency purge runs (UTC).
    pub purge_at: otto_core::jobs::DailySchedule,
    /// Whether `serve` runs jobs too.
    pub serve_worker: ServeWorker,
    /// Port of the worker's own `/health` and `/metrics`.
    pub port: u16,
}

impl WorkerConfig {
    /// Whether `serve` runs an in-process worker with this database.
    pub fn serve_runs_jobs(&self, database_is_embedded: bool) -> bool {
        match self.serve_worker {
            ServeWorker::Auto => database_is_embedded,
            ServeWorker::On => true,
            ServeWorker::Off => false,
        }
    }
}

/// The operators' listener of `serve` (`/metrics`, `/health`), apart from the public
/// port: the metrics name every tenant.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Address of the listener (OTTO_METRICS_ADDR); port 0 picks a free one.
    pub address: std::net::SocketAddr,
    /// Bearer token `/metrics` requires, on this listener and the worker's port
    /// (OTTO_METRICS_TOKEN); none: the listener's network is the protection.
    pub token: Option<Secret>,
}

impl MetricsConfig {
    /// The bearer token `/metrics` requires, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(Secret::expose)
    }
}

/// The whole configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Deployment environment.
    pub env: OttoEnv,
    /// Interface to listen on.
    pub host: String,
    /// Port to listen on.
    pub port: u16,
    /// Directory of the embedded SQLite database.
    pub data_dir: PathBuf,
    /// Effective database URL (the embedded SQLite file when DATABASE_URL is unset).
    pub database_url: Secret,
    /// Whether `database_url` is the embedded default.
    pub database_is_embedded: bool,
    /// Most units of work waiting for their turn to write on SQLite before more are
    /// refused with 503 (OTTO_SQLITE_WRITE_QUEUE); 0: no queue, writers wait in
    /// SQLite's busy handler.
    pub sqlite_write_queue: usize,
    /// The schema owner's URL, for migrations (OTTO_MIGRATION_DATABASE_URL); `None`:
    /// `database_url` migrates too (development).
    pub migration_database_url: Option<Secret>,
    /// The key of the database's scope proofs (OTTO_DATABASE_SCOPE_KEY); `None`: read
    /// from the database, which only the schema owner may do.
    pub database_scope_key: Option<Secret>,
    /// Redis, when configured.
    pub redis_url: Option<Secret>,
    /// Clerk credentials.
    pub clerk: ClerkConfig,
    /// Twilio credentials.
    pub twilio: TwilioConfig,
    /// CallRail credentials.
    pub callrail: CallRailConfig,
    /// Deepgram API key.
    pub deepgram_api_key: Option<Secret>,
    /// OpenAI API key.
    pub openai_api_key: Option<Secret>,
    /// Bland AI API key.
    pub bland_api_key: Option<Secret>,
    /// Root private key of API tokens (biscuit).
    pub api_token_private_key: Option<Secret>,
    /// Browser origins allowed by CORS.
    pub allowed_origins: Vec<OriginPattern>,
    /// How long browsers may cache a preflight answer.
    pub cors_max_age: Duration,
    /// Per-user rate limit.
    pub rate_limit_user: Rate,
    /// Per-tenant rate limit.
    pub rate_limit_tenant: Rate,
    /// Per-route limit overrides.
    pub rate_limit_routes: Vec<RouteOverride>,
    /// How long a Redis rate-limit decision may take before deciding in-process.
    pub rate_limit_redis_timeout: Duration,
    /// Most buckets the in-process limiter keeps.
    pub rate_limit_max_buckets: usize,
    /// Most verbose log level written.
    pub log_level: LevelFilter,
    /// Whether phone numbers and e-mail addresses are redacted from logs.
    pub redact_pii: bool,
    /// OTLP/HTTP collector endpoint.
    pub otlp_endpoint: Option<url::Url>,
    /// Where spans go.
    pub traces_exporter: TracesExporter,
    /// Service name of API spans.
    pub service_name_api: String,
    /// Service name of worker spans.
    pub service_name_worker: String,
    /// Webhook verification and routing.
    pub webhooks: WebhookConfig,
    /// Days webhook idempotency keys are kept.
    pub idempotency_ttl_days: u32,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Longest a request may take, from its headers to its answer.
    pub request_timeout: Duration,
    /// How long a connection may stay silent before it is closed.
    pub idle_timeout: Duration,
    /// Timeout of each readiness check.
    pub ready_timeout: Duration,
    /// Whether `serve` applies pending migrations at start.
    pub migrate_on_start: bool,
    /// Time in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Time `/ready` answers 503 before the server stops accepting, so load
    /// balancers stop routing to it first.
    pub shutdown_drain: Duration,
    /// Background jobs.
    pub worker: WorkerConfig,
    /// Where Prometheus scrapes `serve`'s metrics, and the token it must present.
    pub metrics: MetricsConfig,
    /// Timeout of each request to a provider's API.
    pub provider_timeout: Duration,
    /// Deepgram's API base URL and model.
    pub deepgram: ModelEndpoint,
    /// OpenAI's API base URL and model.
    pub openai: ModelEndpoint,
    /// Bland AI's API base URL.
    pub bland_api_base_url: url::Url,
    /// From organization roles to Otto's roles.
    pub roles: otto_core::roles::RoleMap,
    /// The live-event streams.
    pub live: LiveConfig,
}

/// The live-event streams (`/api/v1/events`).
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// How long events can be resumed from (OTTO_EVENT_RETENTION_HOURS).
    pub retention: Duration,
    /// How often an idle stream is sent a heartbeat (OTTO_EVENT_HEARTBEAT_SECONDS).
    pub heartbeat: Duration,
    /// Events held for one subscriber before it is cut off as too slow
    /// (OTTO_EVENT_BUFFER).
    pub buffer: usize,
    /// Most open streams of one user in one process (OTTO_EVENT_STREAMS_PER_USER).
    pub streams_per_user: usize,
    /// Most open streams of one tenant in one process (OTTO_EVENT_STREAMS_PER_TENANT).
    pub streams_per_tenant: usize,
    /// How often a followed tenant is read even without a notification, for events
    /// whose notification could not reach this process (OTTO_EVENT_POLL_SECONDS).
    pub poll: Duration,
}

/// Where a model provider is reached, and which model is used.
#[derive(Debug, Clone)]
pub struct ModelEndpoint {
    /// The API's base URL.
    pub base_url: url::Url,
    /// The model name.
    pub model: String,
}

/// One problem with one variable. Never contains a secret value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending variable.
    pub variable: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.variable, self.problem)
    }
}

/// Every problem found while loading, one per offending variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "configuration error: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl Config {
    /// The URL migrations run with: the schema owner's.
    pub fn migration_url(&self) -> &Secret {
        self.migration_database_url
            .as_ref()
            .unwrap_or(&self.database_url)
    }

    /// Loads the configuration from the process environment and `./.env`.
    pub fn from_process_env() -> Result<Config, ConfigErrors> {
        Config::load(&Environment::from_process())
    }

    /// Loads the configuration from an explicit environment (tests use this).
    pub fn load(env: &Environment) -> Result<Config, ConfigErrors> {
        parse::load(env)
    }

    /// The socket address to bind, bracketing IPv6 literals.
    pub fn bind_address(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
