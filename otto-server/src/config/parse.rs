//! Turning an [`Environment`] into a [`Config`], collecting every error.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use otto_core::Rate;
use otto_core::jobs::{DailySchedule, RetryPolicy};
use otto_core::roles::RoleMap;
use otto_core::tenancy::TenantId;
use tracing::level_filters::LevelFilter;

use super::spec::{self, VARIABLES};
use super::{
    CallRailConfig, ClerkConfig, Config, ConfigError, ConfigErrors, Environment, MetricsConfig,
    ModelEndpoint, OttoEnv, PreviousSecrets, Secret, ServeWorker, TracesExporter, TwilioConfig,
    WebhookConfig, WorkerConfig,
};
use crate::http::cors::OriginPattern;

/// Origins allowed outside production when ALLOWED_ORIGINS is unset: a local frontend.
const DEVELOPMENT_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000";

struct Parser<'a> {
    env: &'a Environment,
    errors: Vec<ConfigError>,
}

impl Parser<'_> {
    fn fail(&mut self, variable: &'static str, problem: impl Into<String>) {
        self.errors.push(ConfigError {
            variable,
            problem: problem.into(),
        });
    }

    fn text(&self, name: &'static str) -> Option<String> {
        self.env.get(name).map(str::to_owned)
    }

    fn secret(&self, name: &'static str) -> Option<Secret> {
        self.env.get(name).map(Secret::new)
    }

    /// A secret that, when set, holds at least `min` characters (`hint` says why or how
    /// to make one); a shorter one is an error that never shows it.
    fn long_secret(&mut self, name: &'static str, min: usize, hint: &str) -> Option<Secret> {
        let secret = self.secret(name);
        if secret
            .as_ref()
            .is_some_and(|secret| secret.expose().trim().len() < min)
        {
            self.fail(name, format!("must be at least {min} characters ({hint})"));
        }
        secret
    }

    /// Parses `name` with `parse`, falling back to `default`; a bad value is an error
    /// that shows the accepted form (and the value, unless the variable is a secret).
    fn parsed<T, E: std::fmt::Display>(
        &mut self,
        name: &'static str,
        default: T,
        accepted: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> T {
        let Some(value) = self.env.get(name) else {
            return default;
        };
        match parse(value) {
            Ok(parsed) => parsed,
            Err(error) => {
                let secret = VARIABLES
                    .iter()
                    .any(|variable| variable.name == name && variable.secret);
                let shown = if secret { super::MASK } else { value };
                let problem = format!("`{shown}` is invalid ({error}); expected {accepted}");
                self.fail(name, problem);
                default
            }
        }
    }

    fn number<T: FromStr>(
        &mut self,
        name: &'static str,
        default: T,
        accepted: &str,
        valid: impl Fn(&T) -> bool,
    ) -> T
    where
        T::Err: std::fmt::Display,
    {
        self.parsed(name, default, accepted, |value| {
            value
                .parse::<T>()
                .map_err(|error| error.to_string())
                .and_then(|number| {
                    if valid(&number) {
                        Ok(number)
                    } else {
                        Err("out of range".to_owned())
                    }
                })
        })
    }

    fn boolean(&mut self, name: &'static str, default: bool) -> bool {
        self.parsed(
            name,
            default,
            "true or false (also 1/0, yes/no, on/off)",
            |value| match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err("not a boolean"),
            },
        )
    }

    /// A provider's base URL: `name`, else the built-in `default`.
    fn base_url(&mut self, name: &'static str, default: &str) -> url::Url {
        let fallback = url::Url::parse(default).expect("built-in default URLs parse");
        self.parsed(
            name,
            fallback,
            &format!("an http(s) URL such as {default}"),
            http_url,
        )
    }

    fn rate(&mut self, name: &'static str, default: &str) -> Rate {
        let fallback = default.parse().expect("built-in default rates parse");
        let Some(value) = self.env.get(name) else {
            return fallback;
        };
        match value.parse::<Rate>() {
            Ok(rate) => rate,
            Err(error) => {
                self.fail(name, error.to_string());
                fallback
            }
        }
    }
}

/// An absolute `http:` or `https:` URL.
fn http_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value).map_err(|error| error.to_string())?;
    if matches!(url.scheme(), "http" | "https") {
        Ok(url)
    } else {
        Err("not http(s)".to_owned())
    }
}

pub(super) fn load(env: &Environment) -> Result<Config, ConfigErrors> {
    let mut p = Parser {
        env,
        errors: Vec::new(),
    };

    let otto_env = p.parsed(
        "OTTO_ENV",
        OttoEnv::Development,
        "development, test or production",
        |value| match value.to_ascii_lowercase().as_str() {
            "development" | "dev" => Ok(OttoEnv::Development),
            "test" => Ok(OttoEnv::Test),
            "production" | "prod" => Ok(OttoEnv::Production),
            _ => Err("unknown environment"),
        },
    );
    let host = p.text("HOST").unwrap_or_else(|| "127.0.0.1".to_owned());
    let port = p.number("PORT", 8000u16, "a port number 0-65535", |_| true);
    let data_dir = PathBuf::from(p.text("OTTO_DATA_DIR").unwrap_or_else(|| "data".to_owned()));
    let (database_url, database_is_embedded) = match p.secret("DATABASE_URL") {
        Some(url) => {
            if otto_adapters::database::Backend::of(url.expose()).is_err() {
                p.fail(
                    "DATABASE_URL",
                    "unsupported scheme; expected postgres://... or sqlite://...",
                );
            }
            (url, false)
        }
        None => (
            Secret::new(format!("sqlite://{}/otto.db", data_dir.display())),
            true,
        ),
    };
    let migration_database_url = p.secret("OTTO_MIGRATION_DATABASE_URL");
    let sqlite_write_queue = p.number(
        "OTTO_SQLITE_WRITE_QUEUE",
        otto_adapters::store::DEFAULT_MAX_WAITING_WRITERS,
        "units of work, 0-100000 (0: no queue)",
        |waiting| *waiting <= 100_000,
    );
    if let Some(url) = &migration_database_url
        && otto_adapters::database::Backend::of(url.expose()).ok()
            != otto_adapters::database::Backend::of(database_url.expose()).ok()
    {
        p.fail(
            "OTTO_MIGRATION_DATABASE_URL",
            "must name the same kind of database as DATABASE_URL (the schema owner's login to it)",
        );
    }
    let database_scope_key = p.long_secret(
        "OTTO_DATABASE_SCOPE_KEY",
        32,
        "generate one with `openssl rand -hex 32`",
    );
    let redis_url = p.secret("REDIS_URL");
    if let Some(url) = &redis_url {
        let scheme = url.expose().split("://").next().unwrap_or_default();
        if !matches!(
            scheme,
            "redis" | "rediss" | "redis-cluster" | "redis-sentinel"
        ) {
            p.fail(
                "REDIS_URL",
                "unsupported scheme; expected redis://host:6379 or rediss://...",
            );
        }
    }

    let origins_text = p
        .text("ALLOWED_ORIGINS")
        .or_else(|| (otto_env != OttoEnv::Production).then(|| DEVELOPMENT_ORIGINS.to_owned()))
        .unwrap_or_default();
    // Parsed directly, not through `Parser::parsed`: the development default must be
    // parsed too, and `parsed` only parses values that are set.
    let allowed_origins = OriginPattern::parse_list(&origins_text).unwrap_or_else(|error| {
        p.fail(
            "ALLOWED_ORIGINS",
            format!(
                "{error}; expected comma-separated origins such as https://app.example.com, \
                 exp://* or https://*.vercel.app"
            ),
        );
        Vec::new()
    });
    let cors_max_age = Duration::from_secs(p.number(
        "CORS_MAX_AGE_SECONDS",
        600u64,
        "seconds (0-86400)",
        |s| *s <= 86_400,
    ));
    let rate_limit_user = p.rate("RATE_LIMIT_USER", "60/minute");
    let rate_limit_tenant = p.rate("RATE_LIMIT_TENANT", "600/minute");
    let rate_limit_routes = p.parsed(
        "RATE_LIMIT_ROUTES",
        Vec::new(),
        crate::http::rate_limit::ROUTE_OVERRIDES_FORMAT,
        crate::http::rate_limit::parse_route_overrides,
    );
    let rate_limit_redis_timeout = Duration::from_millis(p.number(
        "RATE_LIMIT_REDIS_TIMEOUT_MS",
        50u64,
        "milliseconds (1-5000)",
        |ms| (1..=5_000).contains(ms),
    ));
    let rate_limit_max_buckets = p.number(
        "RATE_LIMIT_MAX_BUCKETS",
        100_000usize,
        "a bucket count, at least 1000",
        |count| *count >= 1_000,
    );
    let log_level = p.parsed(
        "LOG_LEVEL",
        LevelFilter::INFO,
        "TRACE, DEBUG, INFO, WARN or ERROR",
        |value| match value.to_ascii_uppercase().as_str() {
            "TRACE" => Ok(LevelFilter::TRACE),
            "DEBUG" => Ok(LevelFilter::DEBUG),
            "INFO" => Ok(LevelFilter::INFO),
            "WARN" | "WARNING" => Ok(LevelFilter::WARN),
            "ERROR" | "CRITICAL" => Ok(LevelFilter::ERROR),
            "OFF" => Ok(LevelFilter::OFF),
            _ => Err("unknown level"),
        },
    );
    let redact_pii = p.boolean("OBS_REDACT_PII", true);
    let otlp_endpoint = p.parsed(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        None,
        "an http(s) URL such as http://localhost:4318",
        |value| http_url(value).map(Some),
    );
    // Quiet unless asked: a developer's console shows one line per request, and
    // spans go to a collector when one is configured.
    let default_exporter = if otlp_endpoint.is_some() {
        TracesExporter::Otlp
    } else {
        TracesExporter::None
    };
    let traces_exporter = p.parsed(
        "OTEL_TRACES_EXPORTER",
        default_exporter,
        "otlp, console or none",
        |value| match value.to_ascii_lowercase().as_str() {
            "otlp" => Ok(TracesExporter::Otlp),
            "console" | "stdout" => Ok(TracesExporter::Console),
            "none" => Ok(TracesExporter::None),
            _ => Err("unknown exporter"),
        },
    );
    if traces_exporter == TracesExporter::Otlp && otlp_endpoint.is_none() {
        p.fail(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "required when OTEL_TRACES_EXPORTER=otlp",
        );
    }
    let service_name_api = p
        .text("OTEL_SERVICE_NAME_API")
        .unwrap_or_else(|| "otto-api".to_owned());
    let service_name_worker = p
        .text("OTEL_SERVICE_NAME_WORKER")
        .unwrap_or_else(|| "otto-worker".to_owned());
    let idempotency_ttl_days = p.number(
        "IDEMPOTENCY_TTL_DAYS",
        90u32,
        "a whole number of days, at least 1",
        |days| *days >= 1,
    );
    let max_body_bytes = p.number(
        "OTTO_MAX_BODY_BYTES",
        1_048_576usize,
        "a byte count, at least 1024",
        |bytes| *bytes >= 1024,
    );
    let request_timeout = Duration::from_secs(p.number(
        "OTTO_REQUEST_TIMEOUT_SECONDS",
        30u64,
        "seconds (1-600)",
        |s| (1..=600).contains(s),
    ));
    let idle_timeout = Duration::from_secs(p.number(
        "OTTO_IDLE_TIMEOUT_SECONDS",
        60u64,
        "seconds (1-3600)",
        |s| (1..=3600).contains(s),
    ));
    let ready_timeout = Duration::from_millis(p.number(
        "OTTO_READY_TIMEOUT_MS",
        500u64,
        "milliseconds (10-30000)",
        |ms| (10..=30_000).contains(ms),
    ));
    let migrate_on_start = p.boolean("OTTO_MIGRATE_ON_START", true);
    let shutdown_grace = Duration::from_secs(p.number(
        "OTTO_SHUTDOWN_GRACE_SECONDS",
        10u64,
        "seconds (0-600)",
        |s| *s <= 600,
    ));
    let shutdown_drain = Duration::from_secs(p.number(
        "OTTO_SHUTDOWN_DRAIN_SECONDS",
        0u64,
        "seconds (0-300)",
        |s| *s <= 300,
    ));

    let clerk = ClerkConfig {
        secret_key: p.secret("CLERK_SECRET_KEY"),
        publishable_key: p.text("CLERK_PUBLISHABLE_KEY"),
        jwt_key: p.text("CLERK_JWT_KEY"),
        jwks_url: p.parsed(
            "CLERK_JWKS_URL",
            None,
            "an http(s) URL of a JWKS document",
            |value| http_url(value).map(Some),
        ),
        issuer: p.text("CLERK_ISSUER"),
        authorized_parties: p.parsed(
            "CLERK_AUTHORIZED_PARTIES",
            None,
            "comma-separated origins such as https://app.example.com or https://*.vercel.app",
            |value| OriginPattern::parse_list(value).map(Some),
        ),
        jwks_refetch_interval: Duration::from_secs(p.number(
            "CLERK_JWKS_REFETCH_SECONDS",
            30u64,
            "seconds (1-3600)",
            |seconds| (1..=3_600).contains(seconds),
        )),
    };
    if let Some(key) = &clerk.jwt_key
        && !key.contains("BEGIN PUBLIC KEY")
    {
        p.fail(
            "CLERK_JWT_KEY",
            "not a PEM public key (-----BEGIN PUBLIC KEY----- ...)",
        );
    }

    let webhooks = webhook_config(&mut p, otto_env, idempotency_ttl_days);
    let worker = worker_config(&mut p);
    let metrics = metrics_config(&mut p);
    let live = live_config(&mut p);
    let twilio_api_base_url = p.base_url("TWILIO_API_BASE_URL", "https://api.twilio.com");
    let deepgram = model_endpoint(
        &mut p,
        ("DEEPGRAM_API_BASE_URL", "https://api.deepgram.com"),
        ("DEEPGRAM_MODEL", "nova-3"),
    );
    let openai = model_endpoint(
        &mut p,
        ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        ("OPENAI_MODEL", "gpt-4o"),
    );
    let roles = p.parsed(
        "OTTO_ROLE_MAP",
        RoleMap::default(),
        "org_role=leadership|csr|rep pairs, comma-separated, such as admin=leadership,sales_rep=rep,*=csr",
        RoleMap::parse,
    );
    let callrail_base_url = p.base_url("CALLRAIL_BASE_URL", "https://api.callrail.com");
    let bland_api_base_url = p.base_url("BLAND_API_BASE_URL", "https://api.bland.ai");
    let provider_timeout = Duration::from_secs(p.number(
        "OTTO_PROVIDER_TIMEOUT_SECONDS",
        30u64,
        "seconds, 1-300",
        |s| (1..=300).contains(s),
    ));

    let allow_clerk_test_instance = p.boolean("CLERK_ALLOW_TEST_INSTANCE", false);
    if otto_env == OttoEnv::Production {
        check_production_values(env, &mut p, allow_clerk_test_instance);
    }

    let config = Config {
        env: otto_env,
        host,
        port,
        data_dir,
        database_url,
        migration_database_url,
        database_scope_key,
        database_is_embedded,
        sqlite_write_queue,
        redis_url,
        clerk,
        twilio: TwilioConfig {
            account_sid: p.text("TWILIO_ACCOUNT_SID"),
            auth_token: p.secret("TWILIO_AUTH_TOKEN"),
            from_number: p.text("TWILIO_FROM_NUMBER"),
            api_base_url: twilio_api_base_url,
        },
        callrail: CallRailConfig {
            api_key: p.secret("CALLRAIL_API_KEY"),
            account_id: p.text("CALLRAIL_ACCOUNT_ID"),
            base_url: Some(callrail_base_url),
        },
        deepgram_api_key: p.secret("DEEPGRAM_API_KEY"),
        openai_api_key: p.secret("OPENAI_API_KEY"),
        bland_api_key: p.secret("BLAND_API_KEY"),
        api_token_private_key: p.secret("OTTO_BISCUIT_PRIVATE_KEY"),
        allowed_origins,
        cors_max_age,
        rate_limit_user,
        rate_limit_tenant,
        rate_limit_routes,
        rate_limit_redis_timeout,
        rate_limit_max_buckets,
        log_level,
        redact_pii,
        otlp_endpoint,
        traces_exporter,
        service_name_api,
        service_name_worker,
        webhooks,
        idempotency_ttl_days,
        max_body_bytes,
        request_timeout,
        idle_timeout,
        ready_timeout,
        migrate_on_start,
        shutdown_grace,
        shutdown_drain,
        worker,
        metrics,
        provider_timeout,
        deepgram,
        openai,
        bland_api_base_url,
        roles,
        live,
    };
    if p.errors.is_empty() {
        Ok(config)
    } else {
        Err(ConfigErrors(p.errors))
    }
}

fn model_endpoint(
    p: &mut Parser<'_>,
    (url_variable, default_url): (&'static str, &str),
    (model_variable, default_model): (&'static str, &str),
) -> ModelEndpoint {
    let base_url = p.base_url(url_variable, default_url);
    let model = p
        .text(model_variable)
        .map(|model| model.trim().to_owned())
        .filter(|model| !model.is_empty())
        .unwrap_or_else(|| default_model.to_owned());
    ModelEndpoint { base_url, model }
}

fn worker_config(p: &mut Parser<'_>) -> WorkerConfig {
    let concurrency = p.number(
        "OTTO_WORKER_CONCURRENCY",
        4usize,
        "a number of jobs, 1-256",
        |n| (1..=256).contains(n),
    );
    let poll_interval = Duration::from_millis(p.number(
        "OTTO_WORKER_POLL_MS",
        1_000u64,
        "milliseconds, 10-60000",
        |ms| (10..=60_000).contains(ms),
    ));
    let lease = Duration::from_secs(p.number(
        "OTTO_JOB_LEASE_SECONDS",
        300u64,
        "seconds, 5-86400",
        |s| (5..=86_400).contains(s),
    ));
    let max_attempts = p.number(
        "OTTO_JOB_MAX_ATTEMPTS",
        8u32,
        "a number of attempts, 1-100",
        |n| (1..=100).contains(n),
    );
    let base_delay = Duration::from_secs(p.number(
        "OTTO_JOB_RETRY_BASE_SECONDS",
        30u64,
        "seconds, 1-3600",
        |s| (1..=3_600).contains(s),
    ));
    let max_delay = Duration::from_secs(p.number(
        "OTTO_JOB_RETRY_MAX_SECONDS",
        1_800u64,
        "seconds, 1-86400",
        |s| (1..=86_400).contains(s),
    ));
    let purge_at = p.parsed(
        "OTTO_PURGE_AT",
        DailySchedule::at(chrono::NaiveTime::from_hms_opt(2, 0, 0).expect("valid time")),
        "a UTC time of day such as 02:00",
        DailySchedule::parse,
    );
    let serve_worker = p.parsed(
        "OTTO_SERVE_WORKER",
        ServeWorker::Auto,
        "auto, true or false",
        |value| match value.to_ascii_lowercase().as_str() {
            "auto" => Ok(ServeWorker::Auto),
            "true" | "1" | "yes" | "on" => Ok(ServeWorker::On),
            "false" | "0" | "no" | "off" => Ok(ServeWorker::Off),
            _ => Err("not auto or a boolean"),
        },
    );
    let port = p.number("OTTO_WORKER_PORT", 9_101u16, "a TCP port", |port| *port > 0);
    WorkerConfig {
        concurrency,
        poll_interval,
        lease,
        retry: RetryPolicy {
            max_attempts,
            base_delay,
            max_delay: max_delay.max(base_delay),
        },
        purge_at,
        serve_worker,
        port,
    }
}

fn webhook_config(
    p: &mut Parser<'_>,
    otto_env: OttoEnv,
    idempotency_ttl_days: u32,
) -> WebhookConfig {
    let public_url = p.parsed(
        "OTTO_PUBLIC_URL",
        None,
        "the http(s) base URL providers reach Otto at, such as https://api.example.com",
        |value| http_url(value).map(Some),
    );
    let default_tenant = match (otto_env, p.text("OTTO_DEFAULT_TENANT")) {
        (OttoEnv::Production, Some(_)) => {
            p.fail(
                "OTTO_DEFAULT_TENANT",
                "development only: in production unroutable deliveries are stored for replay",
            );
            None
        }
        (OttoEnv::Production, None) => None,
        (_, _) => p.parsed(
            "OTTO_DEFAULT_TENANT",
            TenantId::parse("dev").ok(),
            "a tenant id (letters, digits, `_` and `-`)",
            |value| TenantId::parse(value).map(Some),
        ),
    };
    WebhookConfig {
        callrail_secret: p.secret("CALLRAIL_WEBHOOK_SECRET"),
        clerk_secret: p.secret("CLERK_WEBHOOK_SECRET"),
        bland_secret: p.secret("BLAND_WEBHOOK_SECRET"),
        previous_secrets: PreviousSecrets {
            callrail: p.secret("CALLRAIL_WEBHOOK_SECRET_PREVIOUS"),
            twilio: p.secret("TWILIO_AUTH_TOKEN_PREVIOUS"),
            clerk: p.secret("CLERK_WEBHOOK_SECRET_PREVIOUS"),
            bland: p.secret("BLAND_WEBHOOK_SECRET_PREVIOUS"),
        },
        public_url,
        default_tenant,
        store_raw_bodies: p.boolean("OTTO_STORE_WEBHOOK_BODIES", false),
        log_retention_days: p.number(
            "WEBHOOK_LOG_RETENTION_DAYS",
            idempotency_ttl_days,
            "a whole number of days, at least 1",
            |days| *days >= 1,
        ),
        routing_cache: std::time::Duration::from_secs(p.number(
            "OTTO_ROUTING_CACHE_SECONDS",
            5u64,
            "seconds (0-300; 0 asks the database for every delivery)",
            |s| *s <= 300,
        )),
    }
}

/// The live-event streams' retention, heartbeat, buffer and limits.
fn live_config(p: &mut Parser<'_>) -> super::LiveConfig {
    super::LiveConfig {
        retention: Duration::from_secs(
            3_600
                * p.number(
                    "OTTO_EVENT_RETENTION_HOURS",
                    24u64,
                    "a whole number of hours, 1-720",
                    |hours| (1..=720).contains(hours),
                ),
        ),
        heartbeat: Duration::from_secs(p.number(
            "OTTO_EVENT_HEARTBEAT_SECONDS",
            15u64,
            "seconds, 1-300",
            |seconds| (1..=300).contains(seconds),
        )),
        buffer: p.number(
            "OTTO_EVENT_BUFFER",
            256usize,
            "events, 16-65536",
            |events| (16..=65_536).contains(events),
        ),
        streams_per_user: p.number(
            "OTTO_EVENT_STREAMS_PER_USER",
            10usize,
            "streams, at least 1",
            |streams| *streams >= 1,
        ),
        streams_per_tenant: p.number(
            "OTTO_EVENT_STREAMS_PER_TENANT",
            500usize,
            "streams, at least 1",
            |streams| *streams >= 1,
        ),
        poll: Duration::from_secs(p.number(
            "OTTO_EVENT_POLL_SECONDS",
            5u64,
            "seconds, 1-300",
            |seconds| (1..=300).contains(seconds),
        )),
    }
}

/// The operators' listener: an IP address and port, and an optional bearer token of
/// at least 16 characters.
fn metrics_config(p: &mut Parser<'_>) -> MetricsConfig {
    let default: std::net::SocketAddr = ([127, 0, 0, 1], 9100).into();
    let address = p.parsed(
        "OTTO_METRICS_ADDR",
        default,
        "an IP address and port such as 127.0.0.1:9100 or [::]:9100 (port 0: any free port)",
        str::parse::<std::net::SocketAddr>,
    );
    let token = p.long_secret(
        "OTTO_METRICS_TOKEN",
        16,
        "it is the only protection of /metrics off loopback",
    );
    MetricsConfig { address, token }
}

/// Production refuses to start on a missing or placeholder value, one error per
/// variable, and never echoes the value (it may be a real secret in the wrong place).
/// Every production variable must be set; every secret that is set must be real too.
/// A Clerk test instance's keys (`sk_test_`, `pk_test_`) are refused unless
/// CLERK_ALLOW_TEST_INSTANCE says one is intended; the rest of such a key must still
/// be real.
fn check_production_values(env: &Environment, p: &mut Parser<'_>, allow_clerk_test_instance: bool) {
    for variable in VARIABLES {
        let value = env.raw(variable.name);
        let value = match value {
            None if variable.required_in_production => {
                p.fail(variable.name, "required in production but not set");
                continue;
            }
            Some(value) if value.trim().is_empty() && variable.required_in_production => {
                p.fail(variable.name, "required in production but empty");
                continue;
            }
            Some(value) if value.trim().is_empty() => continue,
            Some(value) if variable.required_in_production || variable.secret => value,
            _ => continue,
        };
        let placeholder = match spec::clerk_test_key_prefix(variable.name, value) {
            Some(_) if !allow_clerk_test_instance => {
                p.fail(
                    variable.name,
                    "is a Clerk test-instance key; production needs the live instance's key, \
                     or CLERK_ALLOW_TEST_INSTANCE=true when a test instance is intended",
                );
                continue;
            }
            Some(prefix) => spec::is_placeholder(variable.name, &value.trim()[prefix.len()..]),
            None => spec::is_placeholder(variable.name, value),
        };
        if placeholder {
            p.fail(
                variable.name,
                "holds a placeholder value in production; set the real value",
            );
        }
    }
}
