//! # webhook-import: Otto's webhook ingestion embedded in a batch tool
//!
//! A service of its own built on `otto-core` and `otto-adapters`, without
//! `otto-server`. It reads provider deliveries from a file (one JSON object per
//! line: the route's event, the provider's signature, the raw body), checks each
//! signature with Otto's own schemes, applies it exactly once through
//! [`WebhookIngestion`], and reports what was processed, what was a duplicate and
//! what could not be routed to a tenant.
//!
//! What the tool supplies, and from where:
//!
//! | port | supplied by |
//! |---|---|
//! | [`WebhookLedger`], [`ProviderAccounts`], [`DeliveryLog`] | `otto_adapters::store::SqlStore` (PostgreSQL or SQLite), or any fake in `otto-testkit` |
//! | [`Clock`], [`IdGenerator`] | `otto_adapters::system` |
//! | signature checks | `otto_core::webhooks::signatures` (pure functions) |
//!
//! What it must not do: write tenant tables itself. Every write goes through a port
//! that takes the tenant from the delivery's verified route, inside the same
//! transaction as the idempotency key; on PostgreSQL row-level security refuses a
//! write without the store's scope proof anyway.

mod line;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use otto_adapters::database::{self, DatabaseError, PoolSettings};
use otto_adapters::store::SqlStore;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_core::ports::{
    Clock, DeliveryLog, IdGenerator, IdempotencyKey, ProviderAccounts, StoreError, WebhookLedger,
};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::{bland, callrail};
use otto_core::webhooks::{
    AccountRef, Delivery, IngestError, IngestionPolicy, IngestionPorts, Provider, Receipt,
    WebhookEvent, WebhookIngestion,
};

pub use line::{DeliveryLine, LineError, read_line, signed_line};

/// The signing secrets of the providers whose deliveries the tool accepts. A
/// delivery of a provider without a secret is refused: a batch of unverified
/// bodies could name any tenant's account.
#[derive(Clone, Default)]
pub struct Secrets {
    /// CallRail's webhook signing key (`Signature`: base64 HMAC-SHA1 of the body).
    pub callrail: Option<String>,
    /// Bland AI's webhook secret (`X-Webhook-Signature`: hex HMAC-SHA256 of the body).
    pub bland: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("callrail", &self.callrail.as_ref().map(|_| "[set]"))
            .field("bland", &self.bland.as_ref().map(|_| "[set]"))
            .finish()
    }
}

/// A provider's signature scheme with the tool's secret for it.
enum Signer<'a> {
    CallRail(&'a str),
    Bland(&'a str),
}

impl Secrets {
    /// How `provider` signs, with its secret. Twilio and Clerk sign more than the body
    /// (the public URL; Svix's id and timestamp), which a file of bodies does not
    /// carry, so the tool takes neither.
    fn signer(&self, provider: Provider) -> Result<Signer<'_>, LineError> {
        let missing = LineError::NoSecret(provider);
        match provider {
            Provider::CallRail => self.callrail.as_deref().map(Signer::CallRail),
            Provider::Bland => self.bland.as_deref().map(Signer::Bland),
            Provider::Twilio | Provider::Clerk => {
                return Err(LineError::UnsupportedProvider(provider));
            }
        }
        .ok_or(missing)
    }

    /// Checks `signature` over `body` with `provider`'s secret.
    pub fn verify(
        &self,
        provider: Provider,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), LineError> {
        match self.signer(provider)? {
            Signer::CallRail(key) => callrail::verify(key, body, signature),
            Signer::Bland(secret) => bland::verify(secret, body, signature),
        }
        .map_err(LineError::Signature)
    }

    /// The signature `provider` would send for `body`, when the tool has its secret.
    pub fn sign(&self, provider: Provider, body: &[u8]) -> Result<String, LineError> {
        Ok(match self.signer(provider)? {
            Signer::CallRail(key) => callrail::sign(key, body),
            Signer::Bland(secret) => bland::sign(secret, body),
        })
    }
}

/// What became of one imported delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Applied now: its call, jobs and idempotency key were committed together.
    Processed {
        /// The idempotency key, as `provider:event:external_id` in its tenant.
        key: String,
        /// The tenant it was applied to.
        tenant: Option<TenantId>,
    },
    /// Its key was applied before (by this tool, by `otto-server`, by anyone sharing
    /// the database): nothing was applied again.
    Duplicate {
        /// The idempotency key.
        key: String,
        /// Deliveries of the key so far, this one included.
        attempts: i32,
    },
    /// No linked account and no tenant in the body: kept in the delivery log, where
    /// `otto-server webhooks replay --unroutable` applies it once the account is linked.
    Unroutable,
}

/// Why the tool cannot start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The database cannot be opened or migrated.
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

/// Verifies and applies deliveries through Otto's ingestion service.
pub struct Importer {
    ingestion: WebhookIngestion,
    accounts: Arc<dyn ProviderAccounts>,
    clock: Arc<dyn Clock>,
    secrets: Secrets,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer")
            .field("secrets", &self.secrets)
            .finish_non_exhaustive()
    }
}

impl Importer {
    /// Opens `database_url` (`postgres://…` or `sqlite://…`), applies Otto's pending
    /// migrations, and imports into it with the SQL store.
    ///
    /// On PostgreSQL this connects as the schema owner, as `otto-server migrate up`
    /// does; a deployment whose runtime login may not migrate would run
    /// `otto-server migrate up` first and open with `SqlStore::with_scope_key`.
    pub async fn open(database_url: &str, secrets: Secrets) -> Result<Self, OpenError> {
        let connection = database::connect(database_url, &PoolSettings::default()).await?;
        database::migrate_up(&connection).await?;
        let store = Arc::new(SqlStore::new(connection, Arc::new(UuidV7Ids)));
        Ok(Importer::over(
            store,
            Arc::new(SystemClock),
            Arc::new(UuidV7Ids),
            secrets,
        ))
    }

    /// An importer over any store that keeps the ledger, the account map and the
    /// delivery log: the SQL store, or `otto_testkit::InMemoryStore` in tests.
    pub fn over<S>(
        store: Arc<S>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        secrets: Secrets,
    ) -> Self
    where
        S: WebhookLedger + ProviderAccounts + DeliveryLog + 'static,
    {
        let ingestion = WebhookIngestion::new(
            IngestionPorts {
                ledger: store.clone(),
                accounts: store.clone(),
                log: store.clone(),
                clock: clock.clone(),
                ids,
            },
            // No fallback tenant: a delivery whose account is not linked is kept
            // as unroutable, never applied to a tenant it might not belong to.
            IngestionPolicy::default(),
        );
        Importer {
            ingestion,
            accounts: store,
            clock,
            secrets,
        }
    }

    /// Routes `account`'s deliveries to `tenant` (what `otto-server tenant link`
    /// does).
    pub async fn link(&self, account: &AccountRef, tenant: &TenantId) -> Result<(), StoreError> {
        self.accounts.link(account, tenant).await
    }

    /// Parses, verifies and applies one line of the input.
    pub async fn import(&self, text: &str) -> Result<Imported, LineError> {
        let line = DeliveryLine::parse(text)?;
        let event = line.event()?;
        self.secrets.verify(
            event.provider(),
            line.body.as_bytes(),
            line.signature.as_deref(),
        )?;
        self.apply(event, line.body.into_bytes(), self.clock.now())
            .await
    }

    /// Applies a delivery whose signature was verified.
    async fn apply(
        &self,
        event: WebhookEvent,
        body: Vec<u8>,
        received_at: DateTime<Utc>,
    ) -> Result<Imported, LineError> {
        let delivery = Delivery {
            event,
            content_type: Some(otto_core::webhooks::JSON.to_owned()),
            body,
            message_id: None,
            received_at,
            trace_context: None,
            trace_id: None,
        };
        let receipt = self
            .ingestion
            .receive(&delivery)
            .await
            .map_err(|error| match error {
                IngestError::Payload(error) => LineError::Payload(error),
                IngestError::Store(error) => LineError::Store(error),
            })?;
        Ok(match receipt {
            Receipt::Processed { key, .. } => Imported::Processed {
                tenant: key.tenant.clone(),
                key: key_text(&key),
            },
            Receipt::Duplicate { key, attempts, .. } => Imported::Duplicate {
                key: key_text(&key),
                attempts,
            },
            Receipt::Unroutable { .. } => Imported::Unroutable,
        })
    }
}

fn key_text(key: &IdempotencyKey) -> String {
    format!("{}:{}:{}", key.provider, key.event, key.external_id)
}

/// Whether a refusal is the input's fault (skip the line, report it) rather than the
/// database's (stop: nothing after it would be kept either).
pub fn is_input_error(error: &LineError) -> bool {
    !matches!(error, LineError::Store(_))
}
