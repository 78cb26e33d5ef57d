//! What every handler can reach: configuration, metrics, readiness probes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use otto_adapters::rate_limit::InProcessLimiter;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_core::authentication::Authenticator;
use otto_core::calls::{Call, CallCursor, CallFilter, NewCall, OutcomeChange, Page};
use otto_core::messages::{Conversation, ConversationCursor, Message, MessageCursor};
use otto_core::ports::{
    AnalysisResult, Application, CallAnalysis, CallRepository, CallTracking, Claim, Company,
    CompanyDirectory, DashboardQueries, DeliveryCursor, DeliveryFilter, DeliveryLog,
    FollowUpSettings, FollowUpStore, IdempotencyKey, InsightStore, JobQueue, LogScope,
    LoggedDelivery, MessageLog, OutboundAction, OutboundClaim, OutboundKind, ProbeError,
    ProviderAccounts, ReadinessProbe, Recording, RecordingRef, ReplayRecord, StoreError, Target,
    Transcript, WebhookLedger,
};
use otto_core::rate_limit::RateLimiter;
use otto_core::tenancy::TenantScope;
use otto_core::webhooks::{
    AccountRef, Effect, IngestionPolicy, IngestionPorts, RememberedRoutes, WebhookIngestion,
};

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
impl AppState {
    /// State with no live dependency and no credential accepted, for producing the
    /// OpenAPI document.
    pub fn detached(config: Config) -> Self {
        let readiness = Readiness::new(Vec::new(), Vec::new(), config.ready_timeout);
        let webhooks = webhook_ingestion(&config, Arc::new(DetachedStore));
        let metrics = Arc::new(Metrics::new());
        AppState {
            live: LiveHub::new(
                Arc::new(DetachedStore),
                config.live.clone(),
                metrics.clone(),
            ),
            webhooks: Arc::new(webhooks),
            webhook_verifier: Arc::new(WebhookVerifier::from_config(&config)),
            provider_accounts: Arc::new(DetachedStore),
            follow_ups: Arc::new(DetachedStore),
            jobs: Arc::new(DetachedStore),
            insights: Arc::new(DetachedStore),
            messages: Arc::new(DetachedStore),
            dashboard: Arc::new(DetachedStore),
            call_tracking: None,
            config: Arc::new(config),
            metrics,
            readiness: Arc::new(readiness),
            authenticator: Arc::new(Authenticator::default()),
            calls: Arc::new(DetachedStore),
            companies: Arc::new(DetachedStore),
            rate_limiter: Arc::new(InProcessLimiter::new(1_000, Arc::new(SystemClock))),
        }
    }
}

/// The store of a [`AppState::detached`] state: there is no database, so every call
/// answers "unavailable".
#[derive(Debug, Clone, Copy)]
struct DetachedStore;

impl DetachedStore {
    fn unavailable<T>() -> Result<T, StoreError> {
        Err(StoreError::Unavailable(
            "this process has no database".to_owned(),
        ))
    }
}

#[async_trait::async_trait]
impl CallRepository for DetachedStore {
    async fn record(&self, _: &TenantScope, _: NewCall) -> Result<Call, StoreError> {
        Self::unavailable()
    }

    async fn list(
        &self,
        _: &TenantScope,
        _: &CallFilter,
        _: Option<CallCursor>,
        _: u32,
    ) -> Result<Page<Call, CallCursor>, StoreError> {
        Self::unavailable()
    }

    async fn get(&self, _: &TenantScope, _: uuid::Uuid) -> Result<Option<Call>, StoreError> {
        Self::unavailable()
    }

    async fn update_outcome(
        &self,
        _: &TenantScope,
        _: uuid::Uuid,
        _: &OutcomeChange,
    ) -> Result<Option<Call>, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl InsightStore for DetachedStore {
    async fn recording_of(
        &self,
        _: &TenantScope,
        _: uuid::Uuid,
    ) -> Result<Option<Recording>, StoreError> {
        Self::unavailable()
    }

    async fn transcript(
        &self,
        _: &TenantScope,
        _: &RecordingRef,
    ) -> Result<Option<Transcript>, StoreError> {
        Self::unavailable()
    }

    async fn save_transcript(
        &self,
        _: &TenantScope,
        _: &RecordingRef,
        _: &Transcript,
        _: &otto_core::jobs::NewJob,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn analysis(
        &self,
        _: &TenantScope,
        _: &RecordingRef,
    ) -> Result<Option<CallAnalysis>, StoreError> {
        Self::unavailable()
    }

    async fn save_analysis(
        &self,
        _: &TenantScope,
        _: &RecordingRef,
        _: &AnalysisResult,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl MessageLog for DetachedStore {
    async fn conversations(
        &self,
        _: &TenantScope,
        _: Option<ConversationCursor>,
        _: u32,
    ) -> Result<Page<Conversation, ConversationCursor>, StoreError> {
        Self::unavailable()
    }

    async fn messages_with(
        &self,
        _: &TenantScope,
        _: &str,
        _: Option<MessageCursor>,
        _: u32,
    ) -> Result<Page<Message, MessageCursor>, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl DashboardQueries for DetachedStore {
    async fn summary(
        &self,
        _: &TenantScope,
        _: chrono::DateTime<chrono::Utc>,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<otto_core::dashboard::DashboardSummary, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl CompanyDirectory for DetachedStore {
    async fn company(&self, _: &TenantScope) -> Result<Option<Company>, StoreError> {
        Self::unavailable()
    }

    async fn save_company(&self, _: &TenantScope, _: &Company) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn members(&self, _: &TenantScope) -> Result<Vec<otto_core::ports::Member>, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl WebhookLedger for DetachedStore {
    async fn apply(&self, _: &Application<'_>) -> Result<Claim, StoreError> {
        Self::unavailable()
    }

    async fn reapply(
        &self,
        _: &Target,
        _: &IdempotencyKey,
        _: &str,
        _: &[Effect],
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn purge_keys(
        &self,
        _: chrono::DateTime<chrono::Utc>,
        _: u32,
    ) -> Result<u64, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl DeliveryLog for DetachedStore {
    async fn record(&self, _: &LoggedDelivery) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn list(
        &self,
        _: &LogScope,
        _: &DeliveryFilter,
        _: Option<DeliveryCursor>,
        _: u32,
    ) -> Result<Page<LoggedDelivery, DeliveryCursor>, StoreError> {
        Self::unavailable()
    }

    async fn get(&self, _: &LogScope, _: uuid::Uuid) -> Result<Option<LoggedDelivery>, StoreError> {
        Self::unavailable()
    }

    async fn pending_unroutable(&self, _: u32) -> Result<Vec<LoggedDelivery>, StoreError> {
        Self::unavailable()
    }

    async fn record_replay(&self, _: uuid::Uuid, _: &ReplayRecord) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn purge(&self, _: chrono::DateTime<chrono::Utc>, _: u32) -> Result<u64, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl ProviderAccounts for DetachedStore {
    async fn tenant_of(
        &self,
        _: &[AccountRef],
    ) -> Result<Option<otto_core::tenancy::TenantId>, StoreError> {
        Self::unavailable()
    }

    async fn link(
        &self,
        _: &AccountRef,
        _: &otto_core::tenancy::TenantId,
    ) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn set_signing_key(&self, _: &AccountRef, _: Option<&str>) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn signing_keys(&self, _: &[AccountRef]) -> Result<Vec<String>, StoreError> {
        Self::unavailable()
    }

    async fn unlink(&self, _: &AccountRef) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn links(&self) -> Result<Vec<otto_core::ports::AccountLink>, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl FollowUpStore for DetachedStore {
    async fn call_by_external_id(
        &self,
        _: &TenantScope,
        _: &str,
        _: &str,
    ) -> Result<Option<Call>, StoreError> {
        Self::unavailable()
    }

    async fn follow_up_settings(
        &self,
        _: &TenantScope,
    ) -> Result<(FollowUpSettings, Option<String>), StoreError> {
        Self::unavailable()
    }

    async fn save_follow_up_settings(
        &self,
        _: &TenantScope,
        _: &FollowUpSettings,
    ) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn is_opted_out(&self, _: &TenantScope, _: &str) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn begin_outbound(
        &self,
        _: &TenantScope,
        _: &OutboundAction,
    ) -> Result<OutboundClaim, StoreError> {
        Self::unavailable()
    }

    async fn complete_outbound(
        &self,
        _: &TenantScope,
        _: OutboundKind,
        _: &str,
        _: &str,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl JobQueue for DetachedStore {
    async fn enqueue(
        &self,
        _: otto_core::jobs::NewJob,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<otto_core::jobs::Enqueued, StoreError> {
        Self::unavailable()
    }

    async fn lease(
        &self,
        _: &[otto_core::jobs::JobKind],
        _: chrono::DateTime<chrono::Utc>,
        _: std::time::Duration,
        _: u32,
    ) -> Result<Vec<otto_core::jobs::Job>, StoreError> {
        Self::unavailable()
    }

    async fn finish(
        &self,
        _: &otto_core::jobs::Job,
        _: otto_core::jobs::Finish,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn release(
        &self,
        _: &otto_core::jobs::Job,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn job(&self, _: uuid::Uuid) -> Result<Option<otto_core::jobs::Job>, StoreError> {
        Self::unavailable()
    }

    async fn tenant_job(
        &self,
        _: &otto_core::tenancy::TenantScope,
        _: uuid::Uuid,
    ) -> Result<Option<otto_core::jobs::Job>, StoreError> {
        Self::unavailable()
    }

    async fn jobs(
        &self,
        _: Option<otto_core::jobs::JobStatus>,
        _: u32,
    ) -> Result<Vec<otto_core::jobs::Job>, StoreError> {
        Self::unavailable()
    }

    async fn retry(
        &self,
        _: uuid::Uuid,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn cancel(
        &self,
        _: uuid::Uuid,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Self::unavailable()
    }

    async fn purge_finished(
        &self,
        _: chrono::DateTime<chrono::Utc>,
        _: u32,
    ) -> Result<u64, StoreError> {
        Self::unavailable()
    }

    async fn oldest_due(
        &self,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
        Self::unavailable()
    }
}

#[async_trait::async_trait]
impl otto_core::ports::LiveEventLog for DetachedStore {
    async fn events_after(
        &self,
        _: &TenantScope,
        _: u64,
        _: u32,
    ) -> Result<Vec<otto_core::live::LiveEvent>, StoreError> {
        Self::unavailable()
    }

    async fn last_sequence(&self, _: &TenantScope) -> Result<u64, StoreError> {
        Self::unavailable()
    }

    async fn issue_ticket(
        &self,
        _: &TenantScope,
        _: &otto_core::live::NewTicket,
    ) -> Result<(), StoreError> {
        Self::unavailable()
    }

    async fn redeem_ticket(
        &self,
        _: &TenantScope,
        _: &str,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<otto_core::live::TicketHolder>, StoreError> {
        Self::unavailable()
    }

    async fn purge_events(
        &self,
        _: chrono::DateTime<chrono::Utc>,
        _: u32,
    ) -> Result<u64, StoreError> {
        Self::unavailable()
    }
}
