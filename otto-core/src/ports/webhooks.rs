//! Storage of webhook deliveries: the idempotency ledger with the domain changes it
//! guards, unroutable deliveries, and the provider-account → tenant map.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::repositories::StoreError;
use crate::jobs::NewJob;
use crate::tenancy::{TenantId, TenantScope};
use crate::webhooks::{AccountRef, Effect, Provider, WebhookEvent};

/// Whose data a delivery changes, and so which rows its transaction may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One tenant's data (calls, messages, recordings, AI calls, jobs).
    Tenant(TenantScope),
    /// Platform-wide data (tenants, users, memberships): verified Clerk deliveries.
    Platform,
}

/// The idempotency key of a delivery: `(tenant, provider, event, external id)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    /// The tenant; `None` for platform events that concern no tenant (Clerk users).
    pub tenant: Option<TenantId>,
    /// The provider.
    pub provider: Provider,
    /// The event name (route name, or Clerk's event type).
    pub event: String,
    /// The derived external id.
    pub external_id: String,
}

/// The result of applying a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was new: the effects and jobs were committed with it.
    Processed {
        /// When.
        at: DateTime<Utc>,
    },
    /// The key was already taken: nothing was applied; `last_seen_at` and `attempts`
    /// were updated.
    Duplicate {
        /// When the first delivery was processed.
        first_processed_at: DateTime<Utc>,
        /// Deliveries of this key so far, this one included.
        attempts: i32,
        /// The body digest of the first delivery: a different one means the key was
        /// reused for another body (a conflict, not a retry).
        first_body_digest: String,
    },
}

/// A delivery kept because no tenant could be found for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnroutableDelivery {
    /// Otto's id of the stored delivery.
    pub id: Uuid,
    /// The route it came through.
    pub event: WebhookEvent,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// The Svix message id, if any.
    pub message_id: Option<String>,
    /// The accounts it named, none of them linked at the time (`provider:id`, comma
    /// separated), for operators.
    pub accounts: String,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

/// The webhook ledger.
#[async_trait]
pub trait WebhookLedger: Send + Sync {
    /// In one transaction: claims `key` (a taken key makes this a duplicate and
    /// applies nothing), applies `effects`, and enqueues `jobs` (once per unique key).
    /// Any failure rolls all of it back, the claim included, so a retry starts clean.
    async fn apply(
        &self,
        target: &Target,
        key: &IdempotencyKey,
        body_digest: &str,
        effects: &[Effect],
        jobs: &[NewJob],
        at: DateTime<Utc>,
    ) -> Result<Claim, StoreError>;

    /// Keeps a delivery no tenant was found for.
    async fn store_unroutable(&self, delivery: &UnroutableDelivery) -> Result<(), StoreError>;

    /// Unroutable deliveries not yet replayed, oldest first.
    async fn pending_unroutable(&self, limit: u32) -> Result<Vec<UnroutableDelivery>, StoreError>;

    /// Marks a stored unroutable delivery as processed by a replay.
    async fn mark_replayed(&self, id: Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Deletes at most `batch` keys last seen before `cutoff`; returns how many.
    async fn purge_keys(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError>;
}

/// The map from provider accounts to tenants.
#[async_trait]
pub trait ProviderAccounts: Send + Sync {
    /// The tenant of the first of `accounts` that is linked.
    async fn tenant_of(&self, accounts: &[AccountRef]) -> Result<Option<TenantId>, StoreError>;

    /// Links `account` to `tenant` (re-linking moves it).
    async fn link(&self, account: &AccountRef, tenant: &TenantId) -> Result<(), StoreError>;

    /// Unlinks `account`; `false` if it was not linked.
    async fn unlink(&self, account: &AccountRef) -> Result<bool, StoreError>;

    /// Every link, ordered by provider and account.
    async fn links(&self) -> Result<Vec<(AccountRef, TenantId)>, StoreError>;
}
