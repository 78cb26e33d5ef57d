//! Storage of webhook deliveries: the idempotency ledger with the domain changes it
//! guards, and the provider-account → tenant map.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::repositories::StoreError;
use super::webhook_log::LoggedDelivery;
use crate::jobs::NewJob;
use crate::tenancy::{TenantId, TenantScope};
use crate::webhooks::{AccountRef, Effect, Provider};

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
        /// The delivery-log id of the first delivery, when it was logged.
        first_delivery_id: Option<Uuid>,
    },
}

/// One delivery to apply through the ledger.
#[derive(Debug, Clone, Copy)]
pub struct Application<'a> {
    /// Whose data it changes.
    pub target: &'a Target,
    /// Its idempotency key.
    pub key: &'a IdempotencyKey,
    /// Hex SHA-256 of its raw body, kept with the key to tell a retry from a reused key.
    pub body_digest: &'a str,
    /// The domain changes.
    pub effects: &'a [Effect],
    /// The jobs to enqueue (once per unique key).
    pub jobs: &'a [NewJob],
    /// When it was received.
    pub at: DateTime<Utc>,
    /// The delivery to add to the log in the same transaction, with its outcome,
    /// conflict flag and attempts set from the claim; `None` for a replay, whose
    /// logged row the caller updates.
    pub log: Option<&'a LoggedDelivery>,
}

/// The webhook ledger.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::{Application, Claim, IdempotencyKey, Target, WebhookLedger};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_core::webhooks::Provider;
/// use otto_testkit::InMemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (ledger, acme) = (InMemoryStore::default(), TenantId::parse("org_acme")?);
/// let key = IdempotencyKey {
///     tenant: Some(acme.clone()),
///     provider: Provider::CallRail,
///     event: "call-complete".into(),
///     external_id: "CAL1".into(),
/// };
/// let at = "2026-12-06T10:00:00Z".parse()?;
/// let delivery = Application {
///     target: &Target::Tenant(TenantScope::for_verified_delivery(acme)),
///     key: &key,
///     body_digest: "digest-1",
///     effects: &[], // the domain changes (none here), applied with the claim
///     jobs: &[],
///     at,
///     log: None,
/// };
/// assert_eq!(ledger.apply(&delivery).await?, Claim::Processed { at });
/// // The provider retries: the key is taken, nothing is applied, the attempt is counted.
/// let later = at + chrono::Duration::minutes(5);
/// let retry = ledger.apply(&Application { at: later, ..delivery }).await?;
/// let Claim::Duplicate { first_processed_at, attempts, .. } = retry else { panic!() };
/// assert_eq!((first_processed_at, attempts), (at, 2));
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait WebhookLedger: Send + Sync {
    /// In one transaction: claims the key (a taken key makes this a duplicate and
    /// applies nothing), applies the effects, enqueues the jobs (once per unique key)
    /// and logs the delivery. Any failure rolls all of it back, the claim included,
    /// so a retry starts clean.
    async fn apply(&self, application: &Application<'_>) -> Result<Claim, StoreError>;

    /// In one transaction: applies `effects` again whether or not `key` was claimed
    /// (every effect is an idempotent upsert), enqueuing nothing, and claims the key
    /// if it was free. A forced replay: domain rows are repaired, no text message or
    /// call goes out twice.
    async fn reapply(
        &self,
        target: &Target,
        key: &IdempotencyKey,
        body_digest: &str,
        effects: &[Effect],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Deletes at most `batch` keys last seen before `cutoff`; returns how many.
    async fn purge_keys(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError>;
}

/// One provider account, the tenant its deliveries are routed to, and whether it
/// has its own signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLink {
    /// The provider account.
    pub account: AccountRef,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Whether deliveries naming it are verified with its own signing key (CallRail
    /// signs with each company's key). The key itself is never read back.
    pub has_signing_key: bool,
}

/// The map from provider accounts to tenants, with their signing keys.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::ProviderAccounts;
/// use otto_core::tenancy::TenantId;
/// use otto_core::webhooks::{AccountRef, Provider};
/// use otto_testkit::InMemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let accounts = InMemoryStore::default();
/// let company = AccountRef::new(Provider::CallRail, "1001");
/// let stray = AccountRef::new(Provider::CallRail, "9999");
/// let acme = TenantId::parse("org_acme")?;
/// accounts.link(&company, &acme).await?;
/// // A delivery names its accounts: the first linked one routes it.
/// assert_eq!(accounts.tenant_of(&[stray.clone(), company.clone()]).await?, Some(acme));
/// // Only a linked account takes a signing key.
/// assert!(accounts.set_signing_key(&company, Some("company-key")).await?);
/// assert!(!accounts.set_signing_key(&stray, Some("stray-key")).await?);
/// assert_eq!(accounts.signing_keys(&[stray, company.clone()]).await?, ["company-key"]);
/// // Unlinked, the account routes nowhere and its key is gone.
/// assert!(accounts.unlink(&company).await?);
/// assert_eq!(accounts.tenant_of(&[company.clone()]).await?, None);
/// assert!(accounts.signing_keys(&[company]).await?.is_empty());
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait ProviderAccounts: Send + Sync {
    /// The tenant of the first of `accounts` that is linked.
    async fn tenant_of(&self, accounts: &[AccountRef]) -> Result<Option<TenantId>, StoreError>;

    /// Links `account` to `tenant` (re-linking moves it, keeping its signing key).
    async fn link(&self, account: &AccountRef, tenant: &TenantId) -> Result<(), StoreError>;

    /// Sets (or with `None` removes) the signing key of a linked `account`; `false`
    /// if it is not linked.
    async fn set_signing_key(
        &self,
        account: &AccountRef,
        key: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// The signing keys of those of `accounts` that are linked and have one.
    async fn signing_keys(&self, accounts: &[AccountRef]) -> Result<Vec<String>, StoreError>;

    /// Unlinks `account`; `false` if it was not linked.
    async fn unlink(&self, account: &AccountRef) -> Result<bool, StoreError>;

    /// Every link, ordered by provider and account.
    async fn links(&self) -> Result<Vec<AccountLink>, StoreError>;
}
