//! Live events over SQL: appended in the transaction of their change, read by the
//! streams, woken across processes by PostgreSQL's `NOTIFY` and in this process by
//! the store's [`EventNotifier`](otto_core::ports::EventNotifier).
//!
//! Numbers come from the tenant's row in `live_event_sequences`, taken last, just
//! before the commit: two transactions of one tenant number their events in the
//! order they commit (the second waits on the row until the first commits), so a
//! reader that sees number N has every number below it, and a rolled-back
//! transaction gives its numbers back.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::live::{Audience, EventType, LiveEvent, NewLiveEvent, NewTicket, TicketHolder};
use otto_core::ports::{LiveEventLog, StoreError};
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, QueryResult, Value};
use uuid::Uuid;

use super::sql::column;
use super::{SqlStore, UnitOfWork, sql, store_error, stored_time};

/// The PostgreSQL channel that carries `<tenant id> <last number>` on every commit
/// of events.
pub const CHANNEL: &str = "otto_live_events";

/// Appends `events` for `tenant` in `transaction`, stamped with the time of the
/// append (the last statements before the commit: their `occurred_at` is the
/// commit's, not the time the request arrived); the tenant's last number after them,
/// or `None` when there were none.
pub(super) async fn append(
    transaction: &DatabaseTransaction,
    tenant: &TenantId,
    events: &[NewLiveEvent],
) -> Result<Option<u64>, StoreError> {
    if events.is_empty() {
        return Ok(None);
    }
    let count = events.len() as i64;
    let rows = sql::query(
        transaction,
        "INSERT INTO live_event_sequences (tenant_id, last_sequence) VALUES ($1, $2) \
         ON CONFLICT (tenant_id) DO UPDATE \
         SET last_sequence = live_event_sequences.last_sequence + excluded.last_sequence \
         RETURNING last_sequence",
        vec![tenant.as_str().into(), count.into()],
    )
    .await?;
    let last: i64 = rows
        .first()
        .ok_or_else(|| StoreError::Internal("no event number was returned".to_owned()))
        .and_then(|row| column(row, "last_sequence"))?;
    let first = last - count + 1;
    let at = stored_time(Utc::now());
    let mut placeholders = Vec::with_capacity(events.len());
    let mut values: Vec<Value> = Vec::with_capacity(events.len() * 7);
    for (offset, event) in events.iter().enumerate() {
        let base = offset * 7;
        placeholders.push(format!("({})", sql::placeholders(base + 1, 7)));
        values.extend([
            tenant.as_str().into(),
            (first + offset as i64).into(),
            event.event_type.as_str().into(),
            at.into(),
            event.audience.as_str().into(),
            event
                .audience
                .assigned_rep()
                .map(|rep| rep.as_str().to_owned())
                .into(),
            serde_json::Value::Object(event.payload.clone())
                .to_string()
                .into(),
        ]);
    }
    sql::execute(
        transaction,
        &format!(
            "INSERT INTO live_events (tenant_id, sequence, event_type, occurred_at, audience, \
             assigned_rep, payload) VALUES {}",
            placeholders.join(", ")
        ),
        values,
    )
    .await?;
    if transaction.get_database_backend() == DatabaseBackend::Postgres {
        // Delivered to every listening process when (and only if) this commits.
        sql::execute(
            transaction,
            "SELECT pg_notify($1, $2)",
            vec![CHANNEL.into(), format!("{} {last}", tenant.as_str()).into()],
        )
        .await?;
    }
    Ok(Some(last as u64))
}

impl SqlStore {
    /// Appends `events` for `tenant`, commits `transaction`, then tells this process's
    /// streams: the one way a unit of work that makes events ends.
    pub(super) async fn commit_with_events(
        &self,
        transaction: UnitOfWork,
        tenant: &TenantId,
        events: &[NewLiveEvent],
    ) -> Result<(), StoreError> {
        let last = append(&transaction, tenant, events).await?;
        transaction.commit().await.map_err(store_error)?;
        if let (Some(last), Some(notifier)) = (last, &self.notifier) {
            let published: Vec<_> = events.iter().map(|event| event.event_type).collect();
            notifier.committed(tenant, last, &published);
        }
        Ok(())
    }
}

/// The id and rep of the call `external_id` of `provider` in `tenant`, as
/// `transaction` sees it: what a call's event needs.
pub(super) async fn call_of(
    transaction: &DatabaseTransaction,
    tenant: &TenantId,
    provider: &str,
    external_id: &str,
) -> Result<Option<(Uuid, Option<UserId>)>, StoreError> {
    let rows = sql::query(
        transaction,
        "SELECT id, assigned_rep FROM calls \
         WHERE tenant_id = $1 AND provider = $2 AND external_id = $3",
        vec![tenant.as_str().into(), provider.into(), external_id.into()],
    )
    .await?;
    rows.first().map(call_identity).transpose()
}

/// The id and rep of a call `row` that has `id` and `assigned_rep` columns.
pub(super) fn call_identity(row: &QueryResult) -> Result<(Uuid, Option<UserId>), StoreError> {
    let rep: Option<String> = column(row, "assigned_rep")?;
    Ok((
        column(row, "id")?,
        rep.and_then(|rep| UserId::parse(&rep).ok()),
    ))
}

fn to_event(row: &QueryResult) -> Result<LiveEvent, StoreError> {
    let name: String = column(row, "event_type")?;
    let audience: String = column(row, "audience")?;
    let rep: Option<String> = column(row, "assigned_rep")?;
    let payload: String = column(row, "payload")?;
    let sequence: i64 = column(row, "sequence")?;
    let unreadable = |what: &str| StoreError::Internal(format!("a stored event has {what}"));
    Ok(LiveEvent {
        sequence: u64::try_from(sequence).map_err(|_| unreadable("a negative number"))?,
        event_type: EventType::parse(&name).ok_or_else(|| unreadable("an unknown type"))?,
        occurred_at: column(row, "occurred_at")?,
        audience: Audience::parse(&audience, rep.and_then(|rep| UserId::parse(&rep).ok()))
            .ok_or_else(|| unreadable("an unknown audience"))?,
        payload: match serde_json::from_str(&payload) {
            Ok(serde_json::Value::Object(map)) => map,
            _ => return Err(unreadable("a payload that is not a JSON object")),
        },
    })
}

fn sequence_value(sequence: u64) -> Value {
    i64::try_from(sequence).unwrap_or(i64::MAX).into()
}

#[async_trait]
impl LiveEventLog for SqlStore {
    async fn events_after(
        &self,
        scope: &TenantScope,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LiveEvent>, StoreError> {
        self.scoped_query(
            scope,
            "SELECT sequence, event_type, occurred_at, audience, assigned_rep, payload \
             FROM live_events WHERE tenant_id = $1 AND sequence > $2 \
             ORDER BY sequence LIMIT $3",
            vec![
                scope.tenant_id().as_str().into(),
                sequence_value(after),
                i64::from(limit).into(),
            ],
        )
        .await?
        .iter()
        .map(to_event)
        .collect()
    }

    async fn last_sequence(&self, scope: &TenantScope) -> Result<u64, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                "SELECT last_sequence FROM live_event_sequences WHERE tenant_id = $1",
                vec![scope.tenant_id().as_str().into()],
            )
            .await?;
        match rows.first() {
            Some(row) => Ok(u64::try_from(column::<i64>(row, "last_sequence")?).unwrap_or(0)),
            None => Ok(0),
        }
    }

    async fn issue_ticket(
        &self,
        scope: &TenantScope,
        ticket: &NewTicket,
    ) -> Result<(), StoreError> {
        let transaction = self.begin(scope).await?;
        sql::execute(
            &transaction,
            "INSERT INTO event_tickets (digest, tenant_id, user_id, role, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
            vec![
                ticket.digest.clone().into(),
                scope.tenant_id().as_str().into(),
                ticket.holder.user_id.as_str().into(),
                ticket.holder.role.clone().into(),
                stored_time(ticket.expires_at).into(),
            ],
        )
        .await?;
        transaction.commit().await.map_err(store_error)
    }

    async fn redeem_ticket(
        &self,
        scope: &TenantScope,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketHolder>, StoreError> {
        let transaction = self.begin(scope).await?;
        // Deleted whether or not it expired: an expired ticket is never good again.
        let rows = sql::query(
            &transaction,
            "DELETE FROM event_tickets WHERE tenant_id = $1 AND digest = $2 \
             RETURNING user_id, role, expires_at",
            vec![scope.tenant_id().as_str().into(), digest.into()],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let expires_at: DateTime<Utc> = column(row, "expires_at")?;
        if expires_at <= now {
            return Ok(None);
        }
        let user: String = column(row, "user_id")?;
        Ok(Some(TicketHolder {
            user_id: UserId::parse(&user)
                .map_err(|_| StoreError::Internal("a stored ticket names no user".to_owned()))?,
            role: column(row, "role")?,
        }))
    }

    async fn purge_events(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let transaction = self.begin_platform().await?;
        let cutoff = stored_time(cutoff);
        let deleted = sql::execute(
            &transaction,
            "DELETE FROM live_events WHERE (tenant_id, sequence) IN \
             (SELECT tenant_id, sequence FROM live_events WHERE occurred_at < $1 LIMIT $2)",
            vec![cutoff.into(), i64::from(batch).into()],
        )
        .await?;
        sql::execute(
            &transaction,
            "DELETE FROM event_tickets WHERE expires_at < $1",
            vec![cutoff.into()],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(deleted)
    }
}
