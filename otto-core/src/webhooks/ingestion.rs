//! The webhook ingestion service: plan a verified delivery, route it to its tenant,
//! and apply it exactly once through the ledger; keep what cannot be routed and
//! replay it later; purge expired keys.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::delivery::Delivery;
use super::log_body::redact_body;
use super::payload::PayloadError;
use super::plan::{Plan, Routing};
use crate::jobs::NewJob;
use crate::ports::{
    Application, Claim, Clock, DeliveryLog, DeliveryOutcome, IdGenerator, IdempotencyKey, LogScope,
    LoggedDelivery, ProviderAccounts, ReplayRecord, StoreError, Target, WebhookLedger, in_batches,
};
use crate::tenancy::{TenantId, TenantScope};

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Receipt {
    /// First delivery of its key: applied.
    Processed {
        /// Its id in the delivery log.
        id: Uuid,
        /// Its key.
        key: IdempotencyKey,
    },
    /// Its key was already processed: nothing applied.
    Duplicate {
        /// Its id in the delivery log.
        id: Uuid,
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
        /// The delivery-log id of the delivery that processed the key.
        first_delivery_id: Option<Uuid>,
    },
    /// No tenant could be found: kept for replay.
    Unroutable {
        /// Its id in the delivery log.
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
    /// Could not be planned or applied; kept as failed (replay it by id once fixed).
    pub failed: u32,
}

impl ReplayReport {
    fn count(&mut self, outcome: DeliveryOutcome) {
        match outcome {
            DeliveryOutcome::Processed => self.processed += 1,
            DeliveryOutcome::DuplicateIgnored => self.duplicates += 1,
            DeliveryOutcome::Unroutable => self.still_unroutable += 1,
            DeliveryOutcome::Failed => self.failed += 1,
        }
    }
}

/// A replayed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// The delivery as logged after the replay; its `tenant` is where it went.
    pub delivery: LoggedDelivery,
    /// The tenant it was logged for before the replay (`None`: unroutable until now).
    pub logged_for: Option<TenantId>,
}

impl Replayed {
    /// Whether the replay took the delivery to another tenant than it was logged for
    /// (only a platform-wide replay can: its account was linked elsewhere since).
    pub fn moved(&self) -> bool {
        self.logged_for.is_some() && self.logged_for != self.delivery.tenant
    }
}

/// Why a logged delivery was not replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// No such delivery in the caller's scope.
    #[error("no such delivery")]
    NotFound,
    /// It was processed already; only a forced replay re-applies it.
    #[error("the delivery was {} already; replay with force to re-apply it", .0.as_str())]
    AlreadyApplied(DeliveryOutcome),
    /// The caller's company may replay only into itself, and the delivery would now
    /// go elsewhere (its account was linked to another company, or unlinked, since
    /// it was received). Nothing was applied. The other company is not named.
    #[error(
        "this delivery would no longer be applied to your company (its provider account \
         was linked elsewhere or unlinked since it arrived); only a platform operator can \
         replay it"
    )]
    RoutesElsewhere,
    /// The caller's company may not replay a platform-wide delivery (Clerk's
    /// organizations, users and memberships): it changes the directory Clerk owns, and
    /// an old one would undo what Clerk did since. Nothing was applied.
    #[error(
        "this delivery changes the platform's directory (Clerk's organizations, users and \
         memberships); only a platform operator can replay it"
    )]
    PlatformDelivery,
    /// A forced replay needs the raw body, and only the redacted form was kept.
    #[error(
        "only the redacted body of this delivery was kept (OTTO_STORE_WEBHOOK_BODIES is off), \
         so it cannot be re-applied"
    )]
    BodyRedacted,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The ports the ingestion service works through.
#[derive(Clone)]
pub struct IngestionPorts {
    /// The idempotency ledger.
    pub ledger: Arc<dyn WebhookLedger>,
    /// Provider account → tenant.
    pub accounts: Arc<dyn ProviderAccounts>,
    /// The delivery log.
    pub log: Arc<dyn DeliveryLog>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Ids of logged deliveries.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for IngestionPorts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestionPorts").finish_non_exhaustive()
    }
}

/// How the ingestion service treats deliveries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestionPolicy {
    /// Development only: receives deliveries that map to no tenant instead of
    /// storing them as unroutable.
    pub fallback_tenant: Option<TenantId>,
    /// Keep processed deliveries' bodies as received (OTTO_STORE_WEBHOOK_BODIES)
    /// instead of redacted.
    pub keep_raw_bodies: bool,
}

/// The ingestion service.
#[derive(Clone)]
pub struct WebhookIngestion {
    ports: IngestionPorts,
    policy: IngestionPolicy,
}

impl std::fmt::Debug for WebhookIngestion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookIngestion")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// A delivery's key, route and plan once its body could be read.
struct Planned {
    plan: Plan,
    target: Target,
    key: IdempotencyKey,
    /// Its jobs, carrying the tenant and the delivery's trace.
    jobs: Vec<NewJob>,
    body_digest: String,
}

impl WebhookIngestion {
    /// A service over these ports with this policy.
    pub fn new(ports: IngestionPorts, policy: IngestionPolicy) -> Self {
        WebhookIngestion { ports, policy }
    }

    /// The delivery log it writes.
    pub fn log(&self) -> &Arc<dyn DeliveryLog> {
        &self.ports.log
    }

    /// Applies a delivery whose signature has been verified, and logs it.
    pub async fn receive(&self, delivery: &Delivery) -> Result<Receipt, IngestError> {
        let id = self.ports.ids.new_id();
        let plan = match delivery.plan() {
            Ok(plan) => plan,
            Err(error) => {
                self.keep_failed(id, delivery, None, &error.to_string())
                    .await;
                return Err(error.into());
            }
        };
        let Some(planned) = self.route(delivery, plan).await? else {
            let entry = self.entry(id, delivery, None, DeliveryOutcome::Unroutable);
            self.ports.log.record(&entry).await?;
            return Ok(Receipt::Unroutable { id });
        };
        let entry = self.entry(id, delivery, Some(&planned), DeliveryOutcome::Processed);
        let claim = self
            .ports
            .ledger
            .apply(&application(delivery, &planned, Some(&entry)))
            .await;
        let claim = match claim {
            Ok(claim) => claim,
            Err(error) => {
                if !matches!(error, StoreError::Unavailable(_)) {
                    self.keep_failed(id, delivery, Some(&planned), &error.to_string())
                        .await;
                }
                return Err(error.into());
            }
        };
        Ok(receipt(id, planned.key, claim, planned.body_digest))
    }

    /// The log entry of `delivery`. Bodies that still have to be processed are kept
    /// raw, so that a replay can process them; processed ones per the policy.
    fn entry(
        &self,
        id: Uuid,
        delivery: &Delivery,
        planned: Option<&Planned>,
        outcome: DeliveryOutcome,
    ) -> LoggedDelivery {
        let redact = outcome.is_applied() && !self.policy.keep_raw_bodies;
        let plan = planned.map(|planned| &planned.plan);
        LoggedDelivery {
            id,
            tenant: planned.and_then(|planned| planned.key.tenant.clone()),
            route: delivery.event,
            event: plan.map_or_else(
                || delivery.event.name().to_owned(),
                |plan| plan.event_name.clone(),
            ),
            external_id: plan.map(|plan| plan.external_id.clone()),
            outcome,
            conflict: false,
            attempts: 1,
            error: None,
            // A routed delivery's digest was taken once, for its key.
            body_digest: planned.map_or_else(
                || delivery.body_digest(),
                |planned| planned.body_digest.clone(),
            ),
            body: if redact {
                redact_body(&delivery.body, delivery.event.is_form())
            } else {
                delivery.body.clone()
            },
            body_redacted: redact,
            content_type: delivery.content_type.clone(),
            message_id: delivery.message_id.clone(),
            accounts: plan.map(accounts_of).unwrap_or_default(),
            trace_id: delivery.trace_id.clone(),
            received_at: delivery.received_at,
            replays: 0,
            last_replayed_at: None,
        }
    }

    /// Logs a delivery that could not be applied. Best effort: the delivery is not
    /// acknowledged either way and the caller logs its refusal, so a log that cannot
    /// be written (the database is likely the cause) changes nothing for the provider.
    async fn keep_failed(
        &self,
        id: Uuid,
        delivery: &Delivery,
        planned: Option<&Planned>,
        error: &str,
    ) {
        let mut entry = self.entry(id, delivery, planned, DeliveryOutcome::Failed);
        entry.error = Some(error.to_owned());
        let _unlogged = self.ports.log.record(&entry).await;
    }

    /// Finds the tenant of a planned delivery; `None` when it names none linked.
    async fn route(&self, delivery: &Delivery, plan: Plan) -> Result<Option<Planned>, StoreError> {
        let (target, tenant) = if let Routing::Platform { owner } = &plan.routing {
            (Target::Platform, owner.clone())
        } else {
            let Some(tenant) = self.tenant_of(&plan.routing).await? else {
                return Ok(None);
            };
            (
                Target::Tenant(TenantScope::for_verified_delivery(tenant.clone())),
                Some(tenant),
            )
        };
        let jobs = match &tenant {
            Some(tenant) => plan
                .jobs
                .iter()
                .map(|job| {
                    job.to_new_job(tenant, delivery.received_at, delivery.trace_context.clone())
                })
                .collect(),
            None => Vec::new(),
        };
        Ok(Some(Planned {
            key: IdempotencyKey {
                tenant,
                provider: plan.event.provider(),
                event: plan.event_name.clone(),
                external_id: plan.external_id.clone(),
            },
            target,
            jobs,
            body_digest: delivery.body_digest(),
            plan,
        }))
    }

    /// The tenant of a delivery routed to one (by the tenant it names or its linked
    /// accounts), else the development fallback.
    async fn tenant_of(&self, routing: &Routing) -> Result<Option<TenantId>, StoreError> {
        let found = match routing {
            Routing::Tenant(tenant) => Some(tenant.clone()),
            Routing::Accounts(accounts) if !accounts.is_empty() => {
                self.ports.accounts.tenant_of(accounts).await?
            }
            Routing::Accounts(_) | Routing::Platform { .. } => None,
        };
        Ok(found.or_else(|| self.policy.fallback_tenant.clone()))
    }

    /// Replays logged delivery `id`, visible in `scope`, through the same
    /// processing, and returns it as logged afterwards. A processed one is refused
    /// unless `force`, which applies its domain changes again without enqueuing any
    /// job: nothing is texted or called twice.
    ///
    /// A company's replay stays in that company: when today's account links would
    /// route the delivery anywhere else, it is refused with
    /// [`ReplayError::RoutesElsewhere`] before anything is applied. A platform-wide
    /// replay goes where today's links say, and the answer says where that was and
    /// which tenant the delivery was logged for before.
    pub async fn replay(
        &self,
        scope: &LogScope,
        id: Uuid,
        force: bool,
    ) -> Result<Replayed, ReplayError> {
        let stored = self
            .ports
            .log
            .get(scope, id)
            .await?
            .ok_or(ReplayError::NotFound)?;
        if stored.outcome.is_applied() {
            if !force {
                return Err(ReplayError::AlreadyApplied(stored.outcome));
            }
            if stored.body_redacted {
                return Err(ReplayError::BodyRedacted);
            }
        }
        let confined_to = match scope {
            LogScope::Tenant(scope) => Some(scope.tenant_id()),
            LogScope::Platform => None,
        };
        let record = self.rerun(&stored, force, confined_to).await?;
        self.ports.log.record_replay(id, &record).await?;
        // An unroutable delivery replayed by a tenant-less caller is now its tenant's;
        // the platform scope reads it back wherever it went.
        let scope = match scope {
            LogScope::Tenant(_) if record.tenant.as_ref() == stored.tenant.as_ref() => scope,
            _ => &LogScope::Platform,
        };
        let delivery = self
            .ports
            .log
            .get(scope, id)
            .await?
            .ok_or(ReplayError::NotFound)?;
        Ok(Replayed {
            delivery,
            logged_for: stored.tenant,
        })
    }

    /// Runs a logged delivery again; `force` re-applies one already applied. With
    /// `confined_to`, a delivery that would now route to any other tenant (or to none)
    /// is refused before anything is applied.
    async fn rerun(
        &self,
        stored: &LoggedDelivery,
        force: bool,
        confined_to: Option<&TenantId>,
    ) -> Result<ReplayRecord, ReplayError> {
        let delivery = Delivery {
            event: stored.route,
            content_type: stored.content_type.clone(),
            body: stored.body.clone(),
            message_id: stored.message_id.clone(),
            received_at: stored.received_at,
            // The request that stored it is long over; the replay starts a trace.
            trace_context: None,
            trace_id: stored.trace_id.clone(),
        };
        let mut record = ReplayRecord {
            outcome: DeliveryOutcome::Failed,
            tenant: stored.tenant.clone(),
            event: stored.event.clone(),
            external_id: stored.external_id.clone(),
            error: None,
            body: None,
            at: self.ports.clock.now(),
        };
        let plan = match delivery.plan() {
            Ok(plan) => plan,
            Err(error) => {
                record.error = Some(error.to_string());
                return Ok(record);
            }
        };
        record.event.clone_from(&plan.event_name);
        record.external_id = Some(plan.external_id.clone());
        let planned = self.route(&delivery, plan).await?;
        if let Some(own) = confined_to {
            let routed_to = planned
                .as_ref()
                .and_then(|planned| planned.key.tenant.as_ref());
            if routed_to != Some(own) {
                return Err(ReplayError::RoutesElsewhere);
            }
        }
        let Some(planned) = planned else {
            record.outcome = DeliveryOutcome::Unroutable;
            return Ok(record);
        };
        if confined_to.is_some() && planned.target == Target::Platform {
            return Err(ReplayError::PlatformDelivery);
        }
        record.tenant.clone_from(&planned.key.tenant);
        let applied = if force && stored.outcome.is_applied() {
            self.ports
                .ledger
                .reapply(
                    &planned.target,
                    &planned.key,
                    &planned.body_digest,
                    &planned.plan.effects,
                    delivery.received_at,
                )
                .await
                .map(|()| DeliveryOutcome::Processed)
        } else {
            self.ports
                .ledger
                .apply(&application(&delivery, &planned, None))
                .await
                .map(|claim| match claim {
                    Claim::Processed { .. } => DeliveryOutcome::Processed,
                    Claim::Duplicate { .. } => DeliveryOutcome::DuplicateIgnored,
                })
        };
        match applied {
            Ok(outcome) => {
                record.outcome = outcome;
                if !self.policy.keep_raw_bodies && !stored.body_redacted {
                    record.body = Some(redact_body(&stored.body, stored.route.is_form()));
                }
            }
            // Unreachable storage is the caller's to retry, not the delivery's failure.
            Err(error @ StoreError::Unavailable(_)) => return Err(error.into()),
            Err(error) => record.error = Some(error.to_string()),
        }
        Ok(record)
    }

    /// Replays up to `limit` unroutable deliveries, oldest first (run after linking
    /// their accounts).
    pub async fn replay_unroutable(&self, limit: u32) -> Result<ReplayReport, StoreError> {
        let mut report = ReplayReport::default();
        for stored in self.ports.log.pending_unroutable(limit).await? {
            let record = match self.rerun(&stored, false, None).await {
                Ok(record) => record,
                Err(ReplayError::Store(error)) => return Err(error),
                Err(other) => return Err(StoreError::Internal(other.to_string())),
            };
            report.count(record.outcome);
            self.ports.log.record_replay(stored.id, &record).await?;
        }
        Ok(report)
    }

    /// Deletes logged deliveries received more than `retention` ago whose work is
    /// done, `batch` rows per statement; returns how many.
    pub async fn purge_log(
        &self,
        retention: chrono::Duration,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let cutoff = self.ports.clock.now() - retention;
        let log = &self.ports.log;
        in_batches(batch, |batch| log.purge(cutoff, batch)).await
    }

    /// Deletes idempotency keys last seen more than `ttl` ago, `batch` rows per
    /// statement so that no lock is held long; returns how many.
    pub async fn purge(&self, ttl: chrono::Duration, batch: u32) -> Result<u64, StoreError> {
        let cutoff = self.ports.clock.now() - ttl;
        let ledger = &self.ports.ledger;
        in_batches(batch, |batch| ledger.purge_keys(cutoff, batch)).await
    }
}

/// The ledger application of a planned delivery.
fn application<'a>(
    delivery: &Delivery,
    planned: &'a Planned,
    log: Option<&'a LoggedDelivery>,
) -> Application<'a> {
    Application {
        target: &planned.target,
        key: &planned.key,
        body_digest: &planned.body_digest,
        effects: &planned.plan.effects,
        jobs: &planned.jobs,
        at: delivery.received_at,
        log,
    }
}

fn receipt(id: Uuid, key: IdempotencyKey, claim: Claim, body_digest: String) -> Receipt {
    match claim {
        Claim::Processed { .. } => Receipt::Processed { id, key },
        Claim::Duplicate {
            first_processed_at,
            attempts,
            first_body_digest,
            first_delivery_id,
        } => Receipt::Duplicate {
            id,
            key,
            first_processed_at,
            attempts,
            first_body_digest,
            body_digest,
            first_delivery_id,
        },
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
