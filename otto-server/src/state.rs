//! What every handler can reach: configuration, metrics, readiness probes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_core::authentication::Authenticator;
use otto_core::ports::{
    CallRepository, CallTracking, CompanyDirectory, DashboardQueries, DeliveryLog, FollowUpStore,
    InsightStore, JobQueue, MessageLog, ProbeError, ProviderAccounts, ReadinessProbe,
    WebhookLedger,
};
use otto_core::rate_limit::RateLimiter;
use otto_core::webhooks::{IngestionPolicy, IngestionPorts, RememberedRoutes, WebhookIngestion};

use crate::config::Config;
use crate::http::webhook_signatures::WebhookVerifier;
use crate::live::hub::LiveHub;
use crate::telemetry::metrics::Metrics;

/// Shared application state, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The loaded configuration.
    pub config: Arc<Config>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// Dependency checks behind `/ready`.
    pub readiness: Arc<Readiness>,
    /// Verifies the credentials of authenticated operations.
    pub authenticator: Arc<Authenticator>,
    /// The tenants' calls.
    pub calls: Arc<dyn CallRepository>,
    /// The tenants' company records.
    pub companies: Arc<dyn CompanyDirectory>,
    /// Decides per-user and per-tenant limits.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Applies verified webhook deliveries exactly once.
    pub webhooks: Arc<WebhookIngestion>,
    /// Checks webhook signatures.
    pub webhook_verifier: Arc<WebhookVerifier>,
    /// The provider-account → tenant map.
    pub provider_accounts: Arc<dyn ProviderAccounts>,
    /// Tenant settings and data of follow-up work.
    pub follow_ups: Arc<dyn FollowUpStore>,
    /// Background jobs.
    pub jobs: Arc<dyn JobQueue>,
    /// Recordings, transcripts and analyses.
    pub insights: Arc<dyn InsightStore>,
    /// Text messages, by conversation.
    pub messages: Arc<dyn MessageLog>,
    /// The dashboard's counts.
    pub dashboard: Arc<dyn DashboardQueries>,
    /// CallRail's API, when configured.
    pub call_tracking: Option<Arc<dyn CallTracking>>,
    /// The live-event streams' fan-out.
    pub live: Arc<LiveHub>,
}

/// The ingestion service over a store's ledger, account map and delivery log, with
/// the configuration's development fallback tenant and body policy.
pub fn webhook_ingestion<S>(config: &Config, store: Arc<S>) -> WebhookIngestion
where
    S: WebhookLedger + ProviderAccounts + DeliveryLog + 'static,
{
    webhook_ingestion_routed_by(config, store.clone(), store)
}

/// [`webhook_ingestion`], routing deliveries through `accounts`.
pub fn webhook_ingestion_routed_by<S>(
    config: &Config,
    store: Arc<S>,
    accounts: Arc<dyn ProviderAccounts>,
) -> WebhookIngestion
where
    S: WebhookLedger + DeliveryLog + 'static,
{
    WebhookIngestion::new(
        IngestionPorts {
            ledger: store.clone(),
            accounts,
            log: store,
            clock: Arc::new(SystemClock),
            ids: Arc::new(UuidV7Ids),
        },
        IngestionPolicy {
            fallback_tenant: config.webhooks.default_tenant.clone(),
            keep_raw_bodies: config.webhooks.store_raw_bodies,
        },
    )
}

/// The store's account map, remembering found routes for OTTO_ROUTING_CACHE_SECONDS
/// (see [`RememberedRoutes`]); the store itself when that is zero.
pub fn routed_accounts<S: ProviderAccounts + 'static>(
    config: &Config,
    store: Arc<S>,
) -> Arc<dyn ProviderAccounts> {
    if config.webhooks.routing_cache.is_zero() {
        store
    } else {
        Arc::new(RememberedRoutes::new(
            store,
            Arc::new(SystemClock),
            config.webhooks.routing_cache,
        ))
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

/// The state of one dependency in a readiness report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentState {
    /// Configured, and answered (`true`) or not (`false`) in time.
    Checked(bool),
    /// Not configured in this deployment (not a failure).
    NotConfigured,
}

/// The readiness probes of this deployment.
pub struct Readiness {
    probes: Vec<Arc<dyn ReadinessProbe>>,
    not_configured: Vec<&'static str>,
    timeout: Duration,
    draining: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let components: Vec<&str> = self.probes.iter().map(|probe| probe.component()).collect();
        f.debug_struct("Readiness")
            .field("probes", &components)
            .field("not_configured", &self.not_configured)
            .field("timeout", &self.timeout)
            .field("draining", &self.draining)
            .finish()
    }
}

/// The outcome of checking every dependency.
#[derive(Debug, Clone)]
pub struct ReadinessOutcome {
    /// Whether every configured dependency answered.
    pub ready: bool,
    /// Each dependency's state, in a stable order.
    pub components: Vec<(&'static str, ComponentState)>,
    /// How long the whole check took.
    pub duration: Duration,
    /// Whether the process is shutting down (never ready again).
    pub draining: bool,
}

impl Readiness {
    /// Probes checked on every `/ready`, each bounded by `timeout`;
    /// `not_configured` components are reported as such.
    pub fn new(
        probes: Vec<Arc<dyn ReadinessProbe>>,
        not_configured: Vec<&'static str>,
        timeout: Duration,
    ) -> Self {
        Readiness {
            probes,
            not_configured,
            timeout,
            draining: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// From now on the process reports not ready: it is shutting down.
    pub fn drain(&self) {
        self.draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Checks every probe concurrently; a probe that does not answer in time is down.
    pub async fn check(&self) -> ReadinessOutcome {
        let started = Instant::now();
        let mut checks = tokio::task::JoinSet::new();
        for (index, probe) in self.probes.iter().enumerate() {
            let probe = probe.clone();
            let timeout = self.timeout;
            checks.spawn(async move {
                let result = match tokio::time::timeout(timeout, probe.check()).await {
                    Ok(result) => result,
                    Err(_) => Err(ProbeError::TimedOut),
                };
                (index, result)
            });
        }
        let mut results = vec![false; self.probes.len()];
        while let Some(joined) = checks.join_next().await {
            match joined {
                Ok((index, Ok(()))) => results[index] = true,
                Ok((index, Err(error))) => {
                    let component = self.probes[index].component();
                    tracing::warn!(component, error = %error, "readiness check failed");
                }
                Err(error) => tracing::error!(error = %error, "readiness check panicked"),
            }
        }
        let mut components: Vec<(&'static str, ComponentState)> = self
            .probes
            .iter()
            .zip(&results)
            .map(|(probe, up)| (probe.component(), ComponentState::Checked(*up)))
            .collect();
        components.extend(
            self.not_configured
                .iter()
                .map(|name| (*name, ComponentState::NotConfigured)),
        );
        let draining = self.draining.load(std::sync::atomic::Ordering::SeqCst);
        ReadinessOutcome {
            ready: !draining && results.iter().all(|up| *up),
            components,
            duration: started.elapsed(),
            draining,
        }
    }
}
