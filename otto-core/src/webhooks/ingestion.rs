//! The webhook ingestion service: plan a verified delivery, route it to its tenant,
//! and apply it exactly once through the ledger; keep what cannot be routed and
//! replay it later; purge expired keys.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::delivery::Delivery;
use super::payload::PayloadError;
use super::plan::{Plan, Routing};
use crate::jobs::NewJob;
use crate::ports::{
    Claim, Clock, IdGenerator, IdempotencyKey, ProviderAccounts, StoreError, Target,
    UnroutableDelivery, WebhookLedger,
};
use crate::tenancy::{TenantId, TenantScope};

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// First delivery of its key: applied.
    Processed {
        /// Its key.
        key: IdempotencyKey,
    },
    /// Its key was already processed: nothing applied.
    Duplicate {
        /// Its key.
        key: IdempotencyKey,
        /// When the first delivery was processed.
        first_processed_at: DateTime<Utc>,
        /// Deliveries of the key so far.
        attempts: i32,
        /// The first delivery's body digest.
        first_body_digest: String,
        /// This delivery's body digest: when it differs, the key was reused for
        /// another body.
        body_digest: String,
    },
    /// No tenant could be found: kept for replay.
    Unroutable {
        /// The stored delivery's id.
        id: Uuid,
    },
}

/// Why a delivery was not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    /// The body cannot be read: the provider's mistake, a retry fails alike (4xx).
    #[error(transparent)]
    Payload(#[from] PayloadError),
    /// Storage failed: nothing was kept, the provider should retry (5xx).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a replay of unroutable deliveries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Replayed and processed.
    pub processed: u32,
    /// Replayed and found already processed.
    pub duplicates: u32,
    /// Still without a tenant; left for a later replay.
    pub still_unroutable: u32,
    /// Could not be planned or applied; left for a later replay.
    pub failed: u32,
}

/// The ingestion service.
#[derive(Clone)]
pub struct WebhookIngestion {
    ledger: Arc<dyn WebhookLedger>,
    accounts: Arc<dyn ProviderAccounts>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    fallback_tenant: Option<TenantId>,
}

impl std::fmt::Debug for WebhookIngestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookIngestion")
            .field("fallback_tenant", &self.fallback_tenant)
            .finish_non_exhaustive()
    }
}

impl WebhookIngestion {
    /// A service over these ports. `fallback_tenant` (development only) receives
    /// deliveries that map to no tenant instead of storing them as unroutable.
    pub fn new(
        ledger: Arc<dyn WebhookLedger>,
        accounts: Arc<dyn ProviderAccounts>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        fallback_tenant: Option<TenantId>,
    ) -> Self {
        WebhookIngestion {
            ledger,
            accounts,
            clock,
            ids,
            fallback_tenant,
        }
    }

    /// Applies a delivery whose signature has been verified.
    pub async fn receive(&self, delivery: &Delivery) -> Result<Receipt, IngestError> {
        let plan = delivery.plan()?;
        match self.route(&plan).await? {
            Some((target, tenant)) => self.apply(delivery, &plan, target, tenant).await,
            None => {
                let id = self.ids.new_id();
                self.ledger
                    .store_unroutable(&UnroutableDelivery {
                        id,
                        event: delivery.event,
                        content_type: delivery.content_type.clone(),
                        body: delivery.body.clone(),
                        message_id: delivery.message_id.clone(),
                        accounts: accounts_of(&plan),
                        received_at: delivery.received_at,
                    })
                    .await?;
                Ok(Receipt::Unroutable { id })
            }
        }
    }

    async fn route(&self, plan: &Plan) -> Result<Option<(Target, Option<TenantId>)>, StoreError> {
        let tenant = match &plan.routing {
            Routing::Platform { owner } => return Ok(Some((Target::Platform, owner.clone()))),
            Routing::Tenant(tenant) => Some(tenant.clone()),
            Routing::Accounts(accounts) if accounts.is_empty() => None,
            Routing::Accounts(accounts) => self.accounts.tenant_of(accounts).await?,
        };
        Ok(tenant
            .or_else(|| self.fallback_tenant.clone())
            .map(|tenant| {
                (
                    Target::Tenant(TenantScope::for_verified_delivery(tenant.clone())),
                    Some(tenant),
                )
            }))
    }

    async fn apply(
        &self,
        delivery: &Delivery,
        plan: &Plan,
        target: Target,
        tenant: Option<TenantId>,
    ) -> Result<Receipt, IngestError> {
        let key = IdempotencyKey {
            tenant,
            provider: plan.event.provider(),
            event: plan.event_name.clone(),
            external_id: plan.external_id.clone(),
        };
        let jobs: Vec<NewJob> = match &key.tenant {
            Some(tenant) => plan
                .jobs
                .iter()
                .map(|job| {
                    job.to_new_job(tenant, delivery.received_at, delivery.trace_context.clone())
                })
                .collect(),
            None => Vec::new(),
        };
        let body_digest = delivery.body_digest();
        let claim = self
            .ledger
            .apply(
                &target,
                &key,
                &body_digest,
                &plan.effects,
                &jobs,
                delivery.received_at,
            )
            .await?;
        Ok(match claim {
            Claim::Processed { .. } => Receipt::Processed { key },
            Claim::Duplicate {
                first_processed_at,
                attempts,
                first_body_digest,
            } => Receipt::Duplicate {
                key,
                first_processed_at,
                attempts,
                first_body_digest,
                body_digest,
            },
        })
    }

    /// Replays up to `limit` stored unroutable deliveries through the same
    /// processing (run after linking their accounts).
    pub async fn replay_unroutable(&self, limit: u32) -> Result<ReplayReport, StoreError> {
        let mut report = ReplayReport::default();
        for stored in self.ledger.pending_unroutable(limit).await? {
            let delivery = Delivery {
                event: stored.event,
                content_type: stored.content_type.clone(),
                body: stored.body.clone(),
                message_id: stored.message_id.clone(),
                received_at: stored.received_at,
                // The request that stored it is long over; the replay starts a trace.
                trace_context: None,
            };
            let Ok(plan) = delivery.plan() else {
                report.failed += 1;
                continue;
            };
            let Some((target, tenant)) = self.route(&plan).await? else {
                report.still_unroutable += 1;
                continue;
            };
            match self.apply(&delivery, &plan, target, tenant).await {
                Ok(receipt) => {
                    self.ledger
                        .mark_replayed(stored.id, self.clock.now())
                        .await?;
                    match receipt {
                        Receipt::Duplicate { .. } => report.duplicates += 1,
                        _ => report.processed += 1,
                    }
                }
                Err(_) => report.failed += 1,
            }
        }
        Ok(report)
    }

    /// Deletes idempotency keys last seen more than `ttl` ago, `batch` rows per
    /// statement so that no lock is held long; returns how many.
    pub async fn purge(&self, ttl: chrono::Duration, batch: u32) -> Result<u64, StoreError> {
        let cutoff = self.clock.now() - ttl;
        let batch = batch.max(1);
        let mut total = 0;
        loop {
            let deleted = self.ledger.purge_keys(cutoff, batch).await?;
            total += deleted;
            if deleted < u64::from(batch) {
                return Ok(total);
            }
        }
    }
}

fn accounts_of(plan: &Plan) -> String {
    match &plan.routing {
        Routing::Accounts(accounts) => accounts
            .iter()
            .map(|account| format!("{}:{}", account.provider, account.account_id))
            .collect::<Vec<_>>()
            .join(","),
        Routing::Tenant(tenant) => format!("tenant:{tenant}"),
        Routing::Platform { .. } => String::new(),
    }
}
