//! The webhook delivery log: every delivery that passed signature verification, with
//! what became of it, kept for operators to inspect and replay.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::repositories::StoreError;
use super::webhooks::Claim;
use crate::calls::{CallCursor, Page};
use crate::tenancy::{TenantId, TenantScope};
use crate::webhooks::{Provider, WebhookEvent};

/// What became of a delivery (the latest word: a replay updates it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeliveryOutcome {
    /// Applied: the first delivery of its idempotency key.
    Processed,
    /// Its key had been processed already; nothing was applied.
    DuplicateIgnored,
    /// Its body could not be read or applying it failed; nothing was applied.
    Failed,
    /// No tenant was linked to the accounts it names; nothing was applied.
    Unroutable,
}

impl DeliveryOutcome {
    /// Every outcome.
    pub const ALL: [DeliveryOutcome; 4] = [
        DeliveryOutcome::Processed,
        DeliveryOutcome::DuplicateIgnored,
        DeliveryOutcome::Failed,
        DeliveryOutcome::Unroutable,
    ];

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryOutcome::Processed => "processed",
            DeliveryOutcome::DuplicateIgnored => "duplicate_ignored",
            DeliveryOutcome::Failed => "failed",
            DeliveryOutcome::Unroutable => "unroutable",
        }
    }

    /// The outcome named `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|outcome| outcome.as_str() == text)
    }

    /// Whether the delivery's effects are in the database (a replay would be a
    /// duplicate unless forced).
    pub fn is_applied(self) -> bool {
        matches!(
            self,
            DeliveryOutcome::Processed | DeliveryOutcome::DuplicateIgnored
        )
    }
}

/// One logged delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedDelivery {
    /// Otto's id of the delivery.
    pub id: Uuid,
    /// The tenant it was routed to; `None` while unroutable and for platform events
    /// that concern no tenant.
    pub tenant: Option<TenantId>,
    /// The route it came through.
    pub route: WebhookEvent,
    /// The event of its idempotency key (Clerk's event type, else the route name).
    pub event: String,
    /// Its external id, when its body could be read.
    pub external_id: Option<String>,
    /// What became of it.
    pub outcome: DeliveryOutcome,
    /// A duplicate whose body differs from its key's first delivery.
    pub conflict: bool,
    /// Deliveries of its idempotency key so far, this one included (1 when the key
    /// is unknown).
    pub attempts: i32,
    /// Why it failed, for `Failed`.
    pub error: Option<String>,
    /// Hex SHA-256 of the raw body as received.
    pub body_digest: String,
    /// The body: raw while it still has to be processed (unroutable, failed) or when
    /// OTTO_STORE_WEBHOOK_BODIES is on, else with personal data redacted.
    pub body: Vec<u8>,
    /// Whether `body` is the redacted form (a forced replay needs the raw one).
    pub body_redacted: bool,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// Svix's message id, if any.
    pub message_id: Option<String>,
    /// The provider accounts it names (`provider:id`, comma separated).
    pub accounts: String,
    /// The request id (`trace_id` of logs and problems) of the request that carried it.
    pub trace_id: Option<String>,
    /// When Otto received it.
    pub received_at: DateTime<Utc>,
    /// Replays so far.
    pub replays: i32,
    /// When it was last replayed.
    pub last_replayed_at: Option<DateTime<Utc>>,
}

impl LoggedDelivery {
    /// The delivery's provider.
    pub fn provider(&self) -> Provider {
        self.route.provider()
    }

    /// The listing position after this delivery.
    pub fn cursor(&self) -> DeliveryCursor {
        DeliveryCursor {
            started_at: self.received_at,
            id: self.id,
        }
    }

    /// This delivery as the ledger logs it once its key (claimed with `body_digest`)
    /// was claimed or found taken.
    pub fn with_claim(&self, claim: &Claim, body_digest: &str) -> LoggedDelivery {
        let mut logged = self.clone();
        match claim {
            Claim::Processed { .. } => {
                logged.outcome = DeliveryOutcome::Processed;
                logged.attempts = 1;
            }
            Claim::Duplicate {
                attempts,
                first_body_digest,
                ..
            } => {
                logged.outcome = DeliveryOutcome::DuplicateIgnored;
                logged.attempts = *attempts;
                logged.conflict = first_body_digest != body_digest;
            }
        }
        logged
    }
}

/// What a replay changed about a logged delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayRecord {
    /// The outcome now.
    pub outcome: DeliveryOutcome,
    /// The tenant it was routed to now.
    pub tenant: Option<TenantId>,
    /// The idempotency key's event and external id, once the body could be read.
    pub event: String,
    /// Its external id.
    pub external_id: Option<String>,
    /// Why it failed, when it failed again.
    pub error: Option<String>,
    /// The body to keep from now on (the redacted form once processed), or `None` to
    /// keep the stored one.
    pub body: Option<Vec<u8>>,
    /// When the replay ran.
    pub at: DateTime<Utc>,
}

/// Whose deliveries a read may see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogScope {
    /// One tenant's (through its row-level security scope).
    Tenant(TenantScope),
    /// Every tenant's, and those routed to none: platform administrators.
    Platform,
}

/// A log listing's filters; `None` matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this provider's.
    pub provider: Option<Provider>,
    /// Only this event's (the idempotency key's event).
    pub event: Option<String>,
    /// Only those with this outcome.
    pub outcome: Option<DeliveryOutcome>,
    /// Received at or after.
    pub from: Option<DateTime<Utc>>,
    /// Received before.
    pub to: Option<DateTime<Utc>>,
    /// Only one tenant's (platform scope only; a tenant scope sees its own anyway).
    pub tenant: Option<TenantId>,
}

/// The position after a delivery in a listing: `(received_at, id)`, newest first,
/// encoded like call cursors.
pub type DeliveryCursor = CallCursor;

/// The delivery log.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::DeliveryOutcome::{Failed, Unroutable};
/// use otto_core::ports::{DeliveryFilter, DeliveryLog, LogScope};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_core::webhooks::WebhookEvent;
/// use otto_testkit::InMemoryStore;
/// use otto_testkit::contracts::logged_delivery;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let log = InMemoryStore::default();
/// let route = WebhookEvent::CallRailCallComplete;
/// let at = "2026-12-06T10:00:00Z".parse()?;
/// // Deliveries that were not applied, as the ingestion service logs them.
/// let failed = logged_delivery(Some("org_acme"), route, "CAL1", Failed, at);
/// let unroutable = logged_delivery(None, route, "CAL2", Unroutable, at);
/// log.record(&failed).await?;
/// log.record(&unroutable).await?;
///
/// // A company sees its own deliveries; platform administrators see every one.
/// let acme = LogScope::Tenant(TenantScope::for_job(TenantId::parse("org_acme")?));
/// let all = DeliveryFilter::default();
/// assert_eq!(log.list(&acme, &all, None, 50).await?.items, [failed]);
/// assert!(log.get(&acme, unroutable.id).await?.is_none());
/// assert_eq!(log.list(&LogScope::Platform, &all, None, 50).await?.items.len(), 2);
/// // Purging keeps the deliveries that still wait for their tenant.
/// assert_eq!(log.purge("2026-12-07T00:00:00Z".parse()?, 100).await?, 1);
/// assert_eq!(log.pending_unroutable(10).await?, [unroutable]);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait DeliveryLog: Send + Sync {
    /// Keeps a delivery that was not applied (unroutable or failed). Applied ones
    /// are logged by [`super::WebhookLedger::apply`] in their own transaction.
    async fn record(&self, delivery: &LoggedDelivery) -> Result<(), StoreError>;

    /// The deliveries `scope` may see that match `filter`, newest first, `limit` at
    /// most, after `cursor`.
    async fn list(
        &self,
        scope: &LogScope,
        filter: &DeliveryFilter,
        cursor: Option<DeliveryCursor>,
        limit: u32,
    ) -> Result<Page<LoggedDelivery, DeliveryCursor>, StoreError>;

    /// One delivery, if `scope` may see it.
    async fn get(&self, scope: &LogScope, id: Uuid) -> Result<Option<LoggedDelivery>, StoreError>;

    /// Unroutable deliveries, oldest first.
    async fn pending_unroutable(&self, limit: u32) -> Result<Vec<LoggedDelivery>, StoreError>;

    /// Records a replay of delivery `id`: its new outcome and tenant, one more replay.
    async fn record_replay(&self, id: Uuid, replay: &ReplayRecord) -> Result<(), StoreError>;

    /// Deletes at most `batch` deliveries received before `cutoff` whose work is
    /// done (every outcome but unroutable, which still waits for its tenant);
    /// returns how many.
    async fn purge(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError>;
}
