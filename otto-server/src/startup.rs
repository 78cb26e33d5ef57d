//! Wiring: from a [`Config`] to running adapters and the application state.

use std::sync::Arc;
use std::time::Duration;

use crate::http::webhook_signatures::WebhookVerifier;
use otto_adapters::api_tokens::{self, ApiTokens};
use otto_adapters::clerk::{self, ClerkJwtVerifier, ClerkSettings, KeySource};
use otto_adapters::database::{self, DatabaseProbe, PoolSettings};
use otto_adapters::providers::bland::BlandCaller;
use otto_adapters::providers::callrail::CallRailClient;
use otto_adapters::providers::deepgram::DeepgramTranscriber;
use otto_adapters::providers::http::ProviderHttp;
use otto_adapters::providers::openai::OpenAiAnalyzer;
use otto_adapters::providers::twilio::TwilioSms;
use otto_adapters::rate_limit::{InProcessLimiter, RedisLimiter, ResilientLimiter};
use otto_adapters::redis::{self as redis_adapter, RedisProbe};
use otto_adapters::store::SqlStore;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_core::authentication::Authenticator;
use otto_core::callrail::CallRailSync;
use otto_core::follow_ups::{AiFollowUp, Analysis, MissedCallRecovery, SendMessage, Transcription};
use otto_core::jobs::{JobKind, JobRunner};
use otto_core::origin::OriginPattern;
use otto_core::ports::{
    AiCaller, CallAnalyzer, CallTracking, Clock, CredentialVerifier, ReadinessProbe, SmsSender,
    Transcriber,
};
use otto_core::rate_limit::RateLimiter;
use sea_orm::DatabaseConnection;

use crate::config::{Config, OttoEnv};
use crate::live::hub::LiveHub;
use crate::state::{AppState, Readiness};
use crate::telemetry::metrics::Metrics;
use crate::worker::purge::WebhookPurgeHandler;

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] database::DatabaseError),
    /// Redis is misconfigured.
    #[error("redis: {0}")]
    Redis(#[from] redis_adapter::RedisConfigError),
    /// The database login may do more than a runtime login may (production).
    #[error(
        "the database login of DATABASE_URL may not serve in production: {0}; connect as \
         the runtime login and migrate with OTTO_MIGRATION_DATABASE_URL (docs/operations.md, \
         \"Database roles\")"
    )]
    Privileged(String),
    /// The configured scope key is not the database's.
    #[error(
        "OTTO_DATABASE_SCOPE_KEY is not the key `migrate up` stored in this database: \
         every tenant would look empty; give every process the key migrate up was given"
    )]
    ScopeKeyMismatch,
    /// Credentials are misconfigured (the operator's fix: exit code 2).
    #[error("{variable}: {problem}")]
    Credentials {
        /// The offending variable.
        variable: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl StartupError {
    /// Whether the fix is in the configuration (exit code 2) rather than the world.
    pub fn is_configuration(&self) -> bool {
        matches!(
            self,
            StartupError::Credentials { .. }
                | StartupError::Privileged(_)
                | StartupError::ScopeKeyMismatch
        )
    }
}

/// How session tokens are verified, from the first configured key source: the PEM
/// key, an explicit JWKS URL, the Frontend API named by the publishable key, or the
/// Backend API with the secret key. `None`: session tokens are not accepted.
pub fn clerk_settings(config: &Config) -> Option<ClerkSettings> {
    let clerk_config = &config.clerk;
    let frontend_host = clerk_config
        .publishable_key
        .as_deref()
        .and_then(clerk::frontend_api_host);
    let keys = if let Some(pem) = &clerk_config.jwt_key {
        KeySource::Pem(pem.clone())
    } else if let Some(url) = &clerk_config.jwks_url {
        KeySource::Jwks {
            url: url.to_string(),
            bearer: None,
        }
    } else if let Some(host) = &frontend_host {
        KeySource::Jwks {
            url: format!("https://{host}/.well-known/jwks.json"),
            bearer: None,
        }
    } else if let Some(secret) = &clerk_config.secret_key {
        KeySource::Jwks {
            url: clerk::BACKEND_API_JWKS_URL.to_owned(),
            bearer: Some(secret.expose().to_owned()),
        }
    } else {
        return None;
    };
    let issuer = clerk_config
        .issuer
        .clone()
        .or_else(|| frontend_host.map(|host| format!("https://{host}")));
    let authorized_parties = clerk_config.authorized_parties.clone().unwrap_or_else(|| {
        config
            .allowed_origins
            .iter()
            .filter(|origin| origin.is_web())
            .cloned()
            .collect::<Vec<OriginPattern>>()
    });
    Some(ClerkSettings {
        keys,
        issuer,
        authorized_parties,
        refetch_interval: clerk_config.jwks_refetch_interval,
        keys_ttl: Duration::from_secs(3_600),
    })
}

/// The file the development API-token key lives in when OTTO_BISCUIT_PRIVATE_KEY is unset.
pub fn development_key_file(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("api-token.key")
}

/// The API-token authority: OTTO_BISCUIT_PRIVATE_KEY, or outside production a key
/// kept in the data directory (created on first use). `None` in production without
/// a key: API tokens are not accepted.
pub fn api_tokens(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Option<ApiTokens>, StartupError> {
    let invalid = |problem: String| StartupError::Credentials {
        variable: "OTTO_BISCUIT_PRIVATE_KEY",
        problem,
    };
    let key = match &config.api_token_private_key {
        Some(key) => key.expose().to_owned(),
        None if config.env == OttoEnv::Production => return Ok(None),
        None => development_key(config).map_err(invalid)?,
    };
    ApiTokens::from_private_key(&key, clock)
        .map(Some)
        .map_err(|error| invalid(error.to_string()))
}

fn development_key(config: &Config) -> Result<String, String> {
    let path = development_key_file(config);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    let generated = api_tokens::generate_keys();
    let written = std::fs::create_dir_all(&config.data_dir)
        .and_then(|()| write_private_file(&path, &generated.private_key));
    match written {
        Ok(()) => {
            tracing::info!(path = %path.display(), "generated a development API-token key");
            Ok(generated.private_key)
        }
        // Another process (`serve` and `token issue` started together) won the race.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(&path)
                .map(|existing| existing.trim().to_owned())
                .map_err(|error| {
                    format!(
                        "cannot read the development key {}: {error}",
                        path.display()
                    )
                })
        }
        Err(error) => Err(format!(
            "cannot keep a development key in {}: {error}",
            path.display()
        )),
    }
}

fn write_private_file(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}

/// Every configured credential verifier, behind one authenticator.
pub fn authenticator(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Authenticator, StartupError> {
    let sessions: Option<Arc<dyn CredentialVerifier>> = match clerk_settings(config) {
        Some(settings) => Some(Arc::new(
            ClerkJwtVerifier::new(settings, clock.clone()).map_err(|error| {
                StartupError::Credentials {
                    variable: "CLERK_JWT_KEY",
                    problem: error.to_string(),
                }
            })?,
        )),
        None => None,
    };
    let tokens: Option<Arc<dyn CredentialVerifier>> = match api_tokens(config, clock)? {
        Some(tokens) => Some(Arc::new(tokens)),
        None => None,
    };
    Ok(Authenticator::new(sessions, tokens))
}

/// Live connections of a running process.
#[derive(Debug, Clone)]
pub struct Connections {
    /// The database pool.
    pub database: DatabaseConnection,
    /// The SQL store over `database`, one per process: its clones share the embedded
    /// database's queue of writers (API and in-process worker alike).
    pub store: SqlStore,
    /// The Redis client, when configured.
    pub redis: Option<fred::prelude::Client>,
}

/// Opens the database (creating and migrating the embedded SQLite file when that is
/// the configuration), checks its login, and starts connecting to Redis.
pub async fn connect(config: &Config) -> Result<Connections, StartupError> {
    if config.migrate_on_start {
        migrate(config).await?;
    }
    let database =
        database::connect(config.database_url.expose(), &PoolSettings::default()).await?;
    check_login(config, &database).await?;
    let redis = match &config.redis_url {
        Some(url) => Some(redis_adapter::connect(
            url.expose(),
            Duration::from_secs(2),
        )?),
        None => None,
    };
    let store = sql_store(config, database.clone());
    Ok(Connections {
        database,
        store,
        redis,
    })
}

/// Applies pending migrations as the schema owner (OTTO_MIGRATION_DATABASE_URL, else
/// DATABASE_URL), stores the scope key, and on PostgreSQL provisions and checks the
/// runtime login of DATABASE_URL when it is another login than the owner's.
pub async fn migrate(config: &Config) -> Result<(), StartupError> {
    let owner = database::connect(
        config.migration_url().expose(),
        &PoolSettings {
            max_connections: 2,
            ..PoolSettings::default()
        },
    )
    .await?;
    let migrated = migrate_as_owner(config, &owner).await;
    owner.close().await.ok();
    migrated
}

async fn migrate_as_owner(config: &Config, owner: &DatabaseConnection) -> Result<(), StartupError> {
    database::migrate_up(owner).await?;
    let key = config.database_scope_key.as_ref().map(|key| key.expose());
    database::provide_scope_key(owner, key)
        .await
        .map_err(database::DatabaseError::from)?;
    let runtime = database::roles::RuntimeLogin::of_url(config.database_url.expose());
    let owner_login = database::roles::RuntimeLogin::of_url(config.migration_url().expose());
    let (Some(runtime), Some(owner_login)) = (runtime, owner_login) else {
        return Ok(());
    };
    if runtime.name == owner_login.name {
        return Ok(());
    }
    let powers = database::roles::provision_runtime_login(owner, &runtime)
        .await
        .map_err(database::DatabaseError::from)?;
    report_powers(config, &powers.violations())?;
    tracing::info!(login = %powers.login, "runtime database login provisioned and checked");
    Ok(())
}

/// Refuses a privileged runtime login in production; warns elsewhere.
fn report_powers(config: &Config, violations: &[String]) -> Result<(), StartupError> {
    if violations.is_empty() {
        return Ok(());
    }
    if config.env == OttoEnv::Production {
        return Err(StartupError::Privileged(violations.join("; ")));
    }
    tracing::warn!(
        problems = %violations.join("; "),
        "the database login may do more than a runtime login should (refused in production)"
    );
    Ok(())
}

/// Checks the login this process serves with (PostgreSQL only).
async fn check_login(config: &Config, database: &DatabaseConnection) -> Result<(), StartupError> {
    if database.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
        return Ok(());
    }
    let powers = database::roles::login_powers(database, None)
        .await
        .map_err(database::DatabaseError::from)?;
    report_powers(config, &powers.violations())?;
    match sql_store(config, database.clone()).proves_platform().await {
        Ok(true) => Ok(()),
        Ok(false) => Err(StartupError::ScopeKeyMismatch),
        Err(error) => Err(StartupError::Database(database::DatabaseError::Db(
            sea_orm::DbErr::Custom(error.to_string()),
        ))),
    }
}

/// The SQL store over `database`, making scope proofs with the configured key (or the
/// stored one, which only the schema owner may read).
pub fn sql_store(config: &Config, database: DatabaseConnection) -> SqlStore {
    let store = SqlStore::new(database, Arc::new(UuidV7Ids));
    let store = match config.sqlite_write_queue {
        0 => store.without_write_queue(),
        waiting => store.with_write_queue(waiting),
    };
    match &config.database_scope_key {
        Some(key) => store.with_scope_key(key.expose()),
        None => store,
    }
}

/// The application state over live connections; an error names a provider client
/// that cannot be built from the configuration.
pub fn state(
    config: Config,
    connections: &Connections,
    authenticator: Authenticator,
) -> Result<AppState, String> {
    let mut probes: Vec<Arc<dyn ReadinessProbe>> =
        vec![Arc::new(DatabaseProbe::new(connections.database.clone()))];
    let mut not_configured = Vec::new();
    match &connections.redis {
        Some(client) => probes.push(Arc::new(RedisProbe::new(client.clone()))),
        None => not_configured.push("redis"),
    }
    let readiness = Readiness::new(probes, not_configured, config.ready_timeout);
    let rate_limiter = rate_limiter(&config, connections.redis.clone());
    let metrics = Arc::new(Metrics::new());
    let plain_store = connections.store.clone();
    // The hub reads through the store; the store tells the hub of its commits.
    let live = LiveHub::new(
        Arc::new(plain_store.clone()),
        config.live.clone(),
        metrics.clone(),
    );
    let store = Arc::new(plain_store.with_notifier(live.clone()));
    // One account map for routing and the admin API, so that links changed through
    // this server take effect at once.
    let accounts = crate::state::routed_accounts(&config, store.clone());
    let webhooks =
        crate::state::webhook_ingestion_routed_by(&config, store.clone(), accounts.clone());
    Ok(AppState {
        call_tracking: call_tracking(&config)?,
        webhooks: Arc::new(webhooks),
        webhook_verifier: Arc::new(WebhookVerifier::from_config(&config)),
        provider_accounts: accounts,
        follow_ups: store.clone(),
        jobs: store.clone(),
        insights: store.clone(),
        messages: store.clone(),
        dashboard: store.clone(),
        config: Arc::new(config),
        metrics,
        readiness: Arc::new(readiness),
        authenticator: Arc::new(authenticator),
        calls: store.clone(),
        companies: store,
        rate_limiter,
        live,
    })
}

/// In-place retries of a provider request refused for now (429, 502-504).
const PROVIDER_RETRIES: u32 = 2;

/// The HTTP client of `provider`, with the configured timeout.
fn provider_http(config: &Config, provider: &'static str) -> Result<ProviderHttp, String> {
    ProviderHttp::new(provider, config.provider_timeout, PROVIDER_RETRIES)
}

/// Twilio, when its account and token are configured.
pub fn sms_sender(config: &Config) -> Result<Option<Arc<dyn SmsSender>>, String> {
    let (Some(account_sid), Some(auth_token)) =
        (&config.twilio.account_sid, &config.twilio.auth_token)
    else {
        return Ok(None);
    };
    let twilio = TwilioSms::new(
        provider_http(config, "twilio")?,
        config.twilio.api_base_url.as_str(),
        account_sid,
        auth_token.expose(),
    )?;
    Ok(Some(Arc::new(twilio)))
}

/// Deepgram, when its key is configured.
pub fn transcriber(config: &Config) -> Result<Option<Arc<dyn Transcriber>>, String> {
    let Some(key) = &config.deepgram_api_key else {
        return Ok(None);
    };
    let http = provider_http(config, "deepgram")?;
    let deepgram = DeepgramTranscriber::new(
        http,
        config.deepgram.base_url.as_str(),
        key.expose(),
        &config.deepgram.model,
    )?;
    Ok(Some(Arc::new(deepgram)))
}

/// OpenAI, when its key is configured.
pub fn analyzer(config: &Config) -> Result<Option<Arc<dyn CallAnalyzer>>, String> {
    let Some(key) = &config.openai_api_key else {
        return Ok(None);
    };
    let http = provider_http(config, "openai")?;
    let openai = OpenAiAnalyzer::new(
        http,
        config.openai.base_url.as_str(),
        key.expose(),
        &config.openai.model,
    )?;
    Ok(Some(Arc::new(openai)))
}

/// CallRail's API, when its key and account are configured.
pub fn call_tracking(config: &Config) -> Result<Option<Arc<dyn CallTracking>>, String> {
    let (Some(key), Some(account)) = (&config.callrail.api_key, &config.callrail.account_id) else {
        return Ok(None);
    };
    let base = config
        .callrail
        .base_url
        .as_ref()
        .map_or("https://api.callrail.com", url::Url::as_str);
    let http = provider_http(config, "callrail")?;
    Ok(Some(Arc::new(CallRailClient::new(
        http,
        base,
        account,
        key.expose(),
    )?)))
}

/// Bland AI, when its key is configured.
pub fn ai_caller(config: &Config) -> Result<Option<Arc<dyn AiCaller>>, String> {
    let Some(key) = &config.bland_api_key else {
        return Ok(None);
    };
    let http = provider_http(config, "bland")?;
    let bland = BlandCaller::new(http, config.bland_api_base_url.as_str(), key.expose())?;
    Ok(Some(Arc::new(bland)))
}

/// Where Bland posts call results: Otto's public `/webhook/bland`.
fn bland_webhook_url(config: &Config) -> Option<String> {
    // Appended, not joined: a public URL with a path prefix keeps it.
    config
        .webhooks
        .public_url
        .as_ref()
        .map(|base| format!("{}/webhook/bland", base.as_str().trim_end_matches('/')))
}

/// The job runner with every handler this build has, over `store`.
pub fn job_runner(
    config: &Config,
    store: Arc<SqlStore>,
    metrics: Arc<Metrics>,
) -> Result<JobRunner, String> {
    let ingestion = crate::state::webhook_ingestion(config, store.clone());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sms = sms_sender(config)?;
    let recovery = MissedCallRecovery::new(
        store.clone(),
        sms.clone(),
        metrics.clone(),
        clock.clone(),
        config.twilio.from_number.clone(),
    );
    let send_message = SendMessage::new(
        store.clone(),
        sms,
        metrics.clone(),
        clock.clone(),
        config.twilio.from_number.clone(),
    );
    Ok(JobRunner::new(
        store.clone(),
        clock.clone(),
        config.worker.retry,
        config.worker.lease,
    )
    .with_handler(JobKind::MissedCallRecovery, Arc::new(recovery))
    .with_handler(JobKind::SendMessage, Arc::new(send_message))
    .with_handler(
        JobKind::CallRailSync,
        Arc::new(CallRailSync::new(call_tracking(config)?, store.clone())),
    )
    .with_handler(
        JobKind::Transcription,
        Arc::new(Transcription::new(
            store.clone(),
            transcriber(config)?,
            metrics.clone(),
            clock.clone(),
        )),
    )
    .with_handler(
        JobKind::AiFollowUp,
        Arc::new(AiFollowUp::new(
            store.clone(),
            ai_caller(config)?,
            clock.clone(),
            bland_webhook_url(config),
        )),
    )
    .with_handler(
        JobKind::Analysis,
        Arc::new(Analysis::new(
            store.clone(),
            analyzer(config)?,
            metrics.clone(),
            clock.clone(),
        )),
    )
    .with_handler(
        JobKind::WebhookPurge,
        Arc::new(
            WebhookPurgeHandler::new(
                ingestion,
                store.clone(),
                clock.clone(),
                (
                    config.idempotency_ttl_days,
                    config.webhooks.log_retention_days,
                ),
                metrics,
            )
            .with_live_events(store.clone(), config.live.retention),
        ),
    ))
}

/// Redis-backed limits with in-process fallback when Redis is configured, else
/// in-process limits.
pub fn rate_limiter(config: &Config, redis: Option<fred::prelude::Client>) -> Arc<dyn RateLimiter> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let in_process = InProcessLimiter::new(config.rate_limit_max_buckets, clock.clone());
    match redis {
        Some(client) => {
            prepare_redis(RedisLimiter::new(
                client.clone(),
                RATE_LIMIT_PREFIX,
                clock.clone(),
            ));
            Arc::new(ResilientLimiter::new(
                RedisLimiter::new(client, RATE_LIMIT_PREFIX, clock),
                in_process,
                config.rate_limit_redis_timeout,
            ))
        }
        None => Arc::new(in_process),
    }
}

/// The namespace of rate-limit keys in Redis.
const RATE_LIMIT_PREFIX: &str = "otto:rl:";

/// Once Redis answers: loads the limiter's script (on every primary of a cluster), so
/// decisions are one EVALSHA from the first, and reports a REDIS_URL that names one
/// node of a cluster as a plain Redis. In the background: Redis may come up later
/// (decisions are made in-process until then, and a missing script is loaded on
/// first use anyway).
fn prepare_redis(limiter: RedisLimiter) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        if redis_adapter::wait_until_connected(limiter.client(), Duration::from_secs(60))
            .await
            .is_err()
        {
            return;
        }
        if let Ok(true) = redis_adapter::names_one_node_of_a_cluster(limiter.client()).await {
            tracing::error!(
                "REDIS_URL names one node of a Redis Cluster: the other shards' tenants \
                 are rate-limited in-process only; use redis-cluster://node1:6379?node=node2:6379"
            );
        }
        if let Err(error) = limiter.load_script().await {
            tracing::warn!(error = %error, "the rate-limit script could not be loaded ahead");
        }
    });
}
