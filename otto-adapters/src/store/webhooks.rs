//! [`WebhookLedger`] and [`ProviderAccounts`] over SQL.
//!
//! `apply` is one transaction: claim the key, apply the effects, enqueue the jobs,
//! log the delivery.
//! The claim is an `INSERT ... ON CONFLICT DO NOTHING` on the key's unique index, so
//! of N concurrent deliveries of one key exactly one inserts; the others wait for it
//! (PostgreSQL's index lock, SQLite's single writer) and then see a taken key. If the
//! first fails and rolls back, the key is free again and the next one processes.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use migrations::PLATFORM_KEY_OWNER;
use otto_core::ports::{
    AccountLink, Application, Claim, IdempotencyKey, ProviderAccounts, StoreError, Target,
    WebhookLedger,
};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{AccountRef, Effect, Provider};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, Statement, Value};

use super::delivery_log::insert_delivery;
use super::effects::EffectWriter;
use super::sql::column;
use super::{SqlStore, UnitOfWork, sql, store_error, stored_time};

impl SqlStore {
    /// Commits a delivery's transaction with the live events of its tenant (a
    /// platform delivery has none).
    async fn commit_delivery(
        &self,
        transaction: UnitOfWork,
        key: &IdempotencyKey,
        events: &[otto_core::live::NewLiveEvent],
    ) -> Result<(), StoreError> {
        match &key.tenant {
            Some(tenant) => self.commit_with_events(transaction, tenant, events).await,
            None => transaction.commit().await.map_err(store_error),
        }
    }

    async fn transaction_for(&self, target: &Target) -> Result<UnitOfWork, StoreError> {
        match target {
            Target::Tenant(scope) => self.begin(scope).await,
            Target::Platform => self.begin_platform().await,
        }
    }
}

fn key_owner(key: &IdempotencyKey) -> String {
    key.tenant
        .as_ref()
        .map_or(PLATFORM_KEY_OWNER.to_owned(), |tenant| {
            tenant.as_str().to_owned()
        })
}

fn key_values(key: &IdempotencyKey) -> Vec<Value> {
    vec![
        key_owner(key).into(),
        key.provider.as_str().into(),
        key.event.clone().into(),
        key.external_id.clone().into(),
    ]
}

/// Claims `key` in `transaction`; `false` if it was taken.
async fn claim_key(
    store: &SqlStore,
    transaction: &DatabaseTransaction,
    key: &IdempotencyKey,
    body_digest: &str,
    delivery_id: Option<uuid::Uuid>,
    at: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let mut claim = vec![store.new_id().into()];
    claim.extend(key_values(key));
    claim.extend([body_digest.into(), at.into(), delivery_id.into()]);
    let claimed = sql::execute(
        transaction,
        "INSERT INTO webhook_events (id, tenant_id, provider, event, external_id, \
             body_digest, first_processed_at, last_seen_at, attempts, first_delivery_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, 1, $8) \
             ON CONFLICT (tenant_id, provider, event, external_id) DO NOTHING",
        claim,
    )
    .await?;
    Ok(claimed > 0)
}

#[async_trait]
impl WebhookLedger for SqlStore {
    async fn apply(&self, application: &Application<'_>) -> Result<Claim, StoreError> {
        let Application {
            target,
            key,
            body_digest,
            effects,
            jobs,
            at,
            log,
        } = *application;
        let at = stored_time(at);
        let transaction = self.transaction_for(target).await?;
        // The claim is the transaction's first statement: on SQLite a write first
        // takes the write lock at once instead of failing to upgrade a read lock.
        let delivery_id = log.map(|delivery| delivery.id);
        let mut events = Vec::new();
        let claim = if claim_key(self, &transaction, key, body_digest, delivery_id, at).await? {
            let writer = EffectWriter::new(self, &transaction, key.provider, at);
            writer.apply(key.tenant.as_ref(), effects).await?;
            writer.enqueue(jobs).await?;
            events = writer.take_events();
            Claim::Processed { at }
        } else {
            let mut values = vec![at.into()];
            values.extend(key_values(key));
            let rows = sql::query(
                &transaction,
                "UPDATE webhook_events SET last_seen_at = $1, attempts = attempts + 1 \
                     WHERE tenant_id = $2 AND provider = $3 AND event = $4 AND external_id = $5 \
                     RETURNING first_processed_at, attempts, body_digest, first_delivery_id",
                values,
            )
            .await?;
            let row = rows.first().ok_or_else(|| {
                StoreError::Internal("a taken idempotency key cannot be read".to_owned())
            })?;
            Claim::Duplicate {
                first_processed_at: column(row, "first_processed_at")?,
                attempts: column(row, "attempts")?,
                first_body_digest: column(row, "body_digest")?,
                first_delivery_id: column(row, "first_delivery_id")?,
            }
        };
        if let Some(delivery) = log {
            insert_delivery(&transaction, &delivery.with_claim(&claim, body_digest)).await?;
        }
        self.commit_delivery(transaction, key, &events).await?;
        Ok(claim)
    }

    async fn reapply(
        &self,
        target: &Target,
        key: &IdempotencyKey,
        body_digest: &str,
        effects: &[Effect],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = stored_time(at);
        let transaction = self.transaction_for(target).await?;
        claim_key(self, &transaction, key, body_digest, None, at).await?;
        let writer = EffectWriter::new(self, &transaction, key.provider, at);
        writer.apply(key.tenant.as_ref(), effects).await?;
        let events = writer.take_events();
        self.commit_delivery(transaction, key, &events).await
    }

    async fn purge_keys(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let transaction = self.begin_platform().await?;
        let deleted = sql::execute(
            &transaction,
            "DELETE FROM webhook_events WHERE id IN \
                 (SELECT id FROM webhook_events WHERE last_seen_at < $1 LIMIT $2)",
            vec![stored_time(cutoff).into(), i64::from(batch).into()],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(deleted)
    }
}

/// The tenant of the first linked account of a JSON array of accounts, in order.
/// PostgreSQL asks the `otto_routed_tenant` function (migration 9), which reads the
/// platform table under row-level security without a transaction of the caller's.
fn routing_query(backend: DatabaseBackend) -> &'static str {
    match backend {
        DatabaseBackend::Postgres => "SELECT otto_routed_tenant($1) AS tenant_id",
        _ => {
            "SELECT linked.tenant_id FROM json_each($1) AS named \
             JOIN provider_accounts AS linked \
               ON linked.provider = json_extract(named.value, '$.provider') \
              AND linked.account_id = json_extract(named.value, '$.account_id') \
             ORDER BY named.key LIMIT 1"
        }
    }
}

fn accounts_json(accounts: &[AccountRef]) -> serde_json::Value {
    accounts
        .iter()
        .map(|account| {
            serde_json::json!({
                "provider": account.provider.as_str(),
                "account_id": account.account_id,
            })
        })
        .collect()
}

#[async_trait]
impl ProviderAccounts for SqlStore {
    async fn tenant_of(&self, accounts: &[AccountRef]) -> Result<Option<TenantId>, StoreError> {
        if accounts.is_empty() {
            return Ok(None);
        }
        // One statement outside any transaction: every delivery asks, so the lookup
        // costs one round trip instead of a platform transaction's four.
        let statement = Statement::from_sql_and_values(
            self.db.get_database_backend(),
            routing_query(self.db.get_database_backend()),
            [Value::Json(Some(Box::new(accounts_json(accounts))))],
        );
        let row = self
            .db
            .query_one_raw(statement)
            .await
            .map_err(store_error)?;
        let tenant: Option<String> = match row {
            Some(row) => column(&row, "tenant_id")?,
            None => None,
        };
        tenant
            .map(|tenant| {
                TenantId::parse(&tenant).map_err(|error| StoreError::Internal(error.to_string()))
            })
            .transpose()
    }

    async fn link(&self, account: &AccountRef, tenant: &TenantId) -> Result<(), StoreError> {
        let transaction = self.begin_platform().await?;
        sql::execute(
            &transaction,
            "INSERT INTO provider_accounts (provider, account_id, tenant_id, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (provider, account_id) \
             DO UPDATE SET tenant_id = excluded.tenant_id",
            vec![
                account.provider.as_str().into(),
                account.account_id.clone().into(),
                tenant.as_str().into(),
                stored_time(Utc::now()).into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)
    }

    async fn set_signing_key(
        &self,
        account: &AccountRef,
        key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let transaction = self.begin_platform().await?;
        let updated = sql::execute(
            &transaction,
            "UPDATE provider_accounts SET signing_key = $1 WHERE provider = $2 AND account_id = $3",
            vec![
                key.map(str::to_owned).into(),
                account.provider.as_str().into(),
                account.account_id.clone().into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(updated > 0)
    }

    async fn signing_keys(&self, accounts: &[AccountRef]) -> Result<Vec<String>, StoreError> {
        let transaction = self.begin_platform_read().await?;
        let mut keys = Vec::new();
        for account in accounts {
            let rows = sql::query(
                &transaction,
                "SELECT signing_key FROM provider_accounts \
                 WHERE provider = $1 AND account_id = $2 AND signing_key IS NOT NULL",
                vec![
                    account.provider.as_str().into(),
                    account.account_id.clone().into(),
                ],
            )
            .await?;
            for row in &rows {
                keys.push(column(row, "signing_key")?);
            }
        }
        transaction.commit().await.map_err(store_error)?;
        Ok(keys)
    }

    async fn unlink(&self, account: &AccountRef) -> Result<bool, StoreError> {
        let transaction = self.begin_platform().await?;
        let deleted = sql::execute(
            &transaction,
            "DELETE FROM provider_accounts WHERE provider = $1 AND account_id = $2",
            vec![
                account.provider.as_str().into(),
                account.account_id.clone().into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(deleted > 0)
    }

    async fn links(&self) -> Result<Vec<AccountLink>, StoreError> {
        let transaction = self.begin_platform_read().await?;
        let rows = sql::query(
            &transaction,
            "SELECT provider, account_id, tenant_id, signing_key IS NOT NULL AS has_signing_key \
                 FROM provider_accounts ORDER BY provider, account_id",
            Vec::new(),
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let provider: String = column(row, "provider")?;
                let provider = Provider::parse(&provider).ok_or_else(|| {
                    StoreError::Internal(format!("unknown provider `{provider}`"))
                })?;
                let tenant: String = column(row, "tenant_id")?;
                Ok(AccountLink {
                    account: AccountRef::new(provider, column::<String>(row, "account_id")?),
                    tenant_id: TenantId::parse(&tenant)
                        .map_err(|error| StoreError::Internal(error.to_string()))?,
                    has_signing_key: column(row, "has_signing_key")?,
                })
            })
            .collect()
    }
}
