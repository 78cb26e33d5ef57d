//! [`DeliveryLog`] over SQL. Applied deliveries are logged by the ledger inside their
//! own transaction ([`insert_delivery`]); the rest (unroutable, failed) and replays
//! run in the platform scope, reads in the caller's.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::calls::Page;
use otto_core::live;
use otto_core::ports::{
    DeliveryCursor, DeliveryFilter, DeliveryLog, DeliveryOutcome, LogScope, LoggedDelivery,
    ReplayRecord, StoreError,
};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::WebhookEvent;
use sea_orm::{DatabaseTransaction, QueryResult, Value};
use uuid::Uuid;

use super::sql::column;
use super::{Planning, SqlStore, UnitOfWork, sql, store_error, stored_time};

const COLUMNS: &str = "id, tenant_id, provider, route, event, external_id, outcome, conflict, \
     attempts, error, body_digest, body, body_redacted, content_type, message_id, accounts, \
     trace_id, received_at, replays, last_replayed_at";

/// Adds `delivery` to the log in `transaction`.
pub(super) async fn insert_delivery(
    transaction: &DatabaseTransaction,
    delivery: &LoggedDelivery,
) -> Result<(), StoreError> {
    sql::execute(
        transaction,
        &format!(
            "INSERT INTO webhook_deliveries ({COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20)"
        ),
        vec![
            delivery.id.into(),
            tenant_value(delivery.tenant.as_ref()),
            delivery.provider().as_str().into(),
            delivery.route.name().into(),
            delivery.event.clone().into(),
            delivery.external_id.clone().into(),
            delivery.outcome.as_str().into(),
            delivery.conflict.into(),
            delivery.attempts.into(),
            delivery.error.clone().into(),
            delivery.body_digest.clone().into(),
            delivery.body.clone().into(),
            delivery.body_redacted.into(),
            delivery.content_type.clone().into(),
            delivery.message_id.clone().into(),
            delivery.accounts.clone().into(),
            delivery.trace_id.clone().into(),
            stored_time(delivery.received_at).into(),
            delivery.replays.into(),
            delivery.last_replayed_at.map(stored_time).into(),
        ],
    )
    .await
    .map(|_| ())
}

/// A tenant column's value; NULL for deliveries routed to no tenant.
fn tenant_value(tenant: Option<&TenantId>) -> Value {
    tenant.map(|tenant| tenant.as_str().to_owned()).into()
}

fn internal(what: impl Into<String>) -> StoreError {
    StoreError::Internal(what.into())
}

fn to_domain(row: &QueryResult) -> Result<LoggedDelivery, StoreError> {
    let provider: String = column(row, "provider")?;
    let route: String = column(row, "route")?;
    let outcome: String = column(row, "outcome")?;
    let tenant: Option<String> = column(row, "tenant_id")?;
    Ok(LoggedDelivery {
        id: column(row, "id")?,
        tenant: tenant
            .map(|tenant| TenantId::parse(&tenant))
            .transpose()
            .map_err(|error| internal(error.to_string()))?,
        route: WebhookEvent::parse(&provider, &route)
            .ok_or_else(|| internal(format!("unknown webhook route {provider}/{route}")))?,
        event: column(row, "event")?,
        external_id: column(row, "external_id")?,
        outcome: DeliveryOutcome::parse(&outcome)
            .ok_or_else(|| internal(format!("unknown delivery outcome `{outcome}`")))?,
        conflict: column(row, "conflict")?,
        attempts: column(row, "attempts")?,
        error: column(row, "error")?,
        body_digest: column(row, "body_digest")?,
        body: column(row, "body")?,
        body_redacted: column(row, "body_redacted")?,
        content_type: column(row, "content_type")?,
        message_id: column(row, "message_id")?,
        accounts: column(row, "accounts")?,
        trace_id: column(row, "trace_id")?,
        received_at: column(row, "received_at")?,
        replays: column(row, "replays")?,
        last_replayed_at: column(row, "last_replayed_at")?,
    })
}

/// A `WHERE` clause built condition by condition, numbering its parameters.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    values: Vec<Value>,
}

impl Conditions {
    /// Adds `clause`, whose `?` placeholders take `values` in order.
    fn add(&mut self, clause: &str, values: Vec<Value>) {
        let mut values = values.into_iter();
        let mut numbered = String::new();
        for (index, part) in clause.split('?').enumerate() {
            if index > 0 {
                self.values.push(values.next().unwrap_or(Value::Bool(None)));
                numbered.push_str(&format!("${}", self.values.len()));
            }
            numbered.push_str(part);
        }
        self.clauses.push(numbered);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            "TRUE".to_owned()
        } else {
            self.clauses.join(" AND ")
        }
    }
}

impl SqlStore {
    /// A transaction that only reads the log in `scope` (no turn to write), its
    /// statements planned as `planning` says for a tenant's (a platform read plans
    /// each execution).
    async fn begin_log_read(
        &self,
        scope: &LogScope,
        planning: Planning,
    ) -> Result<UnitOfWork, StoreError> {
        match scope {
            LogScope::Tenant(scope) => self.begin_read_planned(scope, planning).await,
            LogScope::Platform => self.begin_platform_read().await,
        }
    }
}

/// How a page of the log with `filter` is planned. Most filters have one best index
/// whatever their values (the tenant's, or the tenant and provider's, newest first),
/// and PostgreSQL, planning each page for its request's values, took as long to plan
/// as to read it; so such a page is planned once per connection. An outcome is the
/// exception: a rare one (`failed`) is best found through `(outcome, received_at)`,
/// which only a plan that sees the value (and its statistics) would choose.
pub(super) fn list_planning(filter: &DeliveryFilter) -> Planning {
    if filter.outcome.is_some() {
        Planning::PerExecution
    } else {
        Planning::Generic
    }
}

/// The conditions every read in `scope` carries: a tenant's own rows (also enforced
/// by row-level security on PostgreSQL).
fn scoped(scope: &LogScope) -> Conditions {
    let mut conditions = Conditions::default();
    if let LogScope::Tenant(scope) = scope {
        conditions.add("tenant_id = ?", vec![scope.tenant_id().as_str().into()]);
    }
    conditions
}

/// The statement of one page of the log in `scope` after `cursor`, newest first (one
/// row more than `limit`, to know whether another page follows).
pub(super) fn list_query(
    scope: &LogScope,
    filter: &DeliveryFilter,
    cursor: Option<DeliveryCursor>,
    limit: u32,
) -> (String, Vec<Value>) {
    let mut conditions = scoped(scope);
    if let Some(tenant) = &filter.tenant {
        conditions.add("tenant_id = ?", vec![tenant.as_str().into()]);
    }
    if let Some(provider) = filter.provider {
        conditions.add("provider = ?", vec![provider.as_str().into()]);
    }
    if let Some(event) = &filter.event {
        conditions.add("event = ?", vec![event.clone().into()]);
    }
    if let Some(outcome) = filter.outcome {
        conditions.add("outcome = ?", vec![outcome.as_str().into()]);
    }
    if let Some(from) = filter.from {
        conditions.add("received_at >= ?", vec![stored_time(from).into()]);
    }
    if let Some(to) = filter.to {
        conditions.add("received_at < ?", vec![stored_time(to).into()]);
    }
    if let Some(cursor) = cursor {
        // A row comparison seeks the (tenant, received_at, id) index; an OR of
        // the two cases is filtered after reading every newer delivery.
        conditions.add(
            "(received_at, id) < (?, ?)",
            vec![stored_time(cursor.started_at).into(), cursor.id.into()],
        );
    }
    let mut values = conditions.values.clone();
    values.push((i64::from(limit) + 1).into());
    (
        format!(
            "SELECT {COLUMNS} FROM webhook_deliveries WHERE {} \
             ORDER BY received_at DESC, id DESC LIMIT ${}",
            conditions.sql(),
            values.len()
        ),
        values,
    )
}

#[async_trait]
impl DeliveryLog for SqlStore {
    async fn record(&self, delivery: &LoggedDelivery) -> Result<(), StoreError> {
        let transaction = self.begin_platform().await?;
        insert_delivery(&transaction, delivery).await?;
        match (&delivery.tenant, delivery.outcome) {
            (Some(tenant), DeliveryOutcome::Failed) => {
                let event = live::webhook_failed(
                    delivery.id,
                    delivery.route.provider().as_str(),
                    delivery.route.name(),
                );
                self.commit_with_events(transaction, tenant, &[event]).await
            }
            _ => transaction.commit().await.map_err(store_error),
        }
    }

    async fn list(
        &self,
        scope: &LogScope,
        filter: &DeliveryFilter,
        cursor: Option<DeliveryCursor>,
        limit: u32,
    ) -> Result<Page<LoggedDelivery, DeliveryCursor>, StoreError> {
        let limit = limit.clamp(1, otto_core::calls::MAX_PAGE_SIZE);
        let (statement, values) = list_query(scope, filter, cursor, limit);
        let transaction = self.begin_log_read(scope, list_planning(filter)).await?;
        let rows = sql::query(&transaction, &statement, values).await?;
        transaction.finish_read();
        let has_more = rows.len() > limit as usize;
        let items: Vec<LoggedDelivery> = rows
            .iter()
            .take(limit as usize)
            .map(to_domain)
            .collect::<Result<_, _>>()?;
        let next = if has_more {
            items.last().map(LoggedDelivery::cursor)
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn get(&self, scope: &LogScope, id: Uuid) -> Result<Option<LoggedDelivery>, StoreError> {
        let mut conditions = scoped(scope);
        conditions.add("id = ?", vec![id.into()]);
        // One row by its key, whatever the values.
        let transaction = self.begin_log_read(scope, Planning::Generic).await?;
        let rows = sql::query(
            &transaction,
            &format!(
                "SELECT {COLUMNS} FROM webhook_deliveries WHERE {}",
                conditions.sql()
            ),
            conditions.values,
        )
        .await?;
        transaction.finish_read();
        rows.first().map(to_domain).transpose()
    }

    async fn pending_unroutable(&self, limit: u32) -> Result<Vec<LoggedDelivery>, StoreError> {
        let transaction = self.begin_platform_read().await?;
        let rows = sql::query(
            &transaction,
            &format!(
                "SELECT {COLUMNS} FROM webhook_deliveries WHERE outcome = 'unroutable' \
                 ORDER BY received_at, id LIMIT $1"
            ),
            vec![i64::from(limit).into()],
        )
        .await?;
        transaction.finish_read();
        rows.iter().map(to_domain).collect()
    }

    async fn record_replay(&self, id: Uuid, replay: &ReplayRecord) -> Result<(), StoreError> {
        let transaction = self.begin_platform().await?;
        sql::execute(
            &transaction,
            "UPDATE webhook_deliveries SET outcome = $1, tenant_id = $2, event = $3, \
             external_id = $4, error = $5, body = COALESCE($6, body), \
             body_redacted = CASE WHEN $6 IS NULL THEN body_redacted ELSE TRUE END, \
             replays = replays + 1, last_replayed_at = $7 WHERE id = $8",
            vec![
                replay.outcome.as_str().into(),
                tenant_value(replay.tenant.as_ref()),
                replay.event.clone().into(),
                replay.external_id.clone().into(),
                replay.error.clone().into(),
                replay.body.clone().into(),
                stored_time(replay.at).into(),
                id.into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)
    }

    async fn purge(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let transaction = self.begin_platform().await?;
        let deleted = sql::execute(
            &transaction,
            "DELETE FROM webhook_deliveries WHERE id IN \
                 (SELECT id FROM webhook_deliveries \
                  WHERE outcome <> 'unroutable' AND received_at < $1 LIMIT $2)",
            vec![stored_time(cutoff).into(), i64::from(batch).into()],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(deleted)
    }
}
