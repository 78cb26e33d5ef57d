//! Live events over SQL: appended in the transaction of their change, read by the
//! streams, woken across processes by PostgreSQL's `NOTIFY` and in this process by
//! the store's [`EventNotifier`](otto_core::ports::EventNotifier).
//!
//! Writers append events unnumbered, to `pending_live_events`, touching no row
//! that another transaction of the tenant needs: one tenant's deliveries commit side
//! by side. Readers number them (`SqlStore::number_pending`) before they read: a
//! short transaction holding the tenant's row in `live_event_sequences` moves what is
//! pending, in the order it was appended, into `live_events` with the next numbers,
//! all or nothing. Numberers of one tenant take turns on that row, so a reader that
//! sees number N has every number below it, and a rolled-back writer leaves nothing
//! to number.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::live::{Audience, EventType, LiveEvent, NewLiveEvent, NewTicket, TicketHolder};
use otto_core::ports::{LiveEventLog, StoreError};
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use sea_orm::{DatabaseTransaction, QueryResult, Value};
use uuid::Uuid;

use super::sql::column;
use super::{SqlStore, UnitOfWork, sql, store_error, stored_time};

/// The PostgreSQL channel that carries `<tenant id>` after commits of the tenant's
/// events (sent by `wakeups`).
pub const CHANNEL: &str = "otto_live_events";

/// How many pending events one numbering transaction moves at most.
const NUMBERING_BATCH: usize = 500;

/// How many numbering transactions one read runs at most.
const NUMBERING_ROUNDS: usize = 20;

/// The columns `live_events` and `pending_live_events` share, in the order both
/// inserts below list them.
const EVENT_COLUMNS: &str = "event_type, occurred_at, audience, assigned_rep, payload";

/// Appends `events` for `tenant` in `transaction`, unnumbered, stamped with the time
/// of the append (the last statements before the commit: their `occurred_at` is the
/// commit's, not the time the request arrived).
pub(super) async fn append(
    transaction: &DatabaseTransaction,
    tenant: &TenantId,
    events: &[NewLiveEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let at = stored_time(Utc::now());
    let mut values: Vec<Value> = Vec::with_capacity(events.len() * 6);
    for event in events {
        values.extend([
            tenant.as_str().into(),
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
    // Rows of one multi-row VALUES take their ids in order: the events keep theirs.
    sql::execute(
        transaction,
        &format!(
            "INSERT INTO pending_live_events (tenant_id, {EVENT_COLUMNS}) VALUES {}",
            sql::value_rows(1, 6, events.len())
        ),
        values,
    )
    .await?;
    Ok(())
}

impl SqlStore {
    /// Appends `events` for `tenant`, commits `transaction`, then tells this process's
    /// streams, and other processes' (see `wakeups`): the one way a unit of work that
    /// makes events ends.
    pub(super) async fn commit_with_events(
        &self,
        transaction: UnitOfWork,
        tenant: &TenantId,
        events: &[NewLiveEvent],
    ) -> Result<(), StoreError> {
        append(&transaction, tenant, events).await?;
        transaction.commit().await.map_err(store_error)?;
        if events.is_empty() {
            return Ok(());
        }
        if let Some(wakeups) = &self.wakeups {
            wakeups.wake(tenant);
        }
        if let Some(notifier) = &self.notifier {
            let published: Vec<_> = events.iter().map(|event| event.event_type).collect();
            notifier.committed(tenant, &published);
        }
        Ok(())
    }

    /// Numbers the events of the scope's tenant committed so far and still pending, a
    /// batch per transaction, at most [`NUMBERING_ROUNDS`] batches (under a sustained
    /// burst the next read goes on). Nothing pending (the usual case) costs one read
    /// and no write.
    async fn number_pending(&self, scope: &TenantScope) -> Result<(), StoreError> {
        let pending = self
            .scoped_query(
                scope,
                "SELECT id FROM pending_live_events WHERE tenant_id = $1 LIMIT 1",
                vec![scope.tenant_id().as_str().into()],
            )
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        for _ in 0..NUMBERING_ROUNDS {
            if self.number_batch(scope).await? < NUMBERING_BATCH {
                break;
            }
        }
        Ok(())
    }

    /// Moves up to [`NUMBERING_BATCH`] of the tenant's pending events into
    /// `live_events`, numbered after its last number; how many it moved.
    async fn number_batch(&self, scope: &TenantScope) -> Result<usize, StoreError> {
        let tenant = scope.tenant_id().as_str();
        let transaction = self.begin(scope).await?;
        // Taken first and held to the commit: the tenant's numberers take turns, and
        // each statement after the wait sees what the previous numberer moved.
        let rows = sql::query(
            &transaction,
            "INSERT INTO live_event_sequences (tenant_id, last_sequence) VALUES ($1, 0) \
             ON CONFLICT (tenant_id) DO UPDATE \
             SET last_sequence = live_event_sequences.last_sequence \
             RETURNING last_sequence",
            vec![tenant.into()],
        )
        .await?;
        let last: i64 = rows
            .first()
            .ok_or_else(|| StoreError::Internal("no event number was returned".to_owned()))
            .and_then(|row| column(row, "last_sequence"))?;
        let mut moved = sql::query(
            &transaction,
            &format!(
                "DELETE FROM pending_live_events WHERE id IN \
                 (SELECT id FROM pending_live_events WHERE tenant_id = $1 ORDER BY id LIMIT $2) \
                 RETURNING id, {EVENT_COLUMNS}"
            ),
            vec![tenant.into(), (NUMBERING_BATCH as i64).into()],
        )
        .await?
        .iter()
        .map(PendingEvent::read)
        .collect::<Result<Vec<_>, _>>()?;
        if moved.is_empty() {
            transaction.rollback().await.map_err(store_error)?;
            return Ok(0);
        }
        moved.sort_by_key(|event| event.id);
        let mut values: Vec<Value> = Vec::with_capacity(moved.len() * 7);
        for (offset, event) in moved.iter().enumerate() {
            values.push(tenant.into());
            values.push((last + 1 + offset as i64).into());
            values.extend(event.columns.iter().cloned());
        }
        sql::execute(
            &transaction,
            &format!(
                "INSERT INTO live_events (tenant_id, sequence, {EVENT_COLUMNS}) VALUES {}",
                sql::value_rows(1, 7, moved.len())
            ),
            values,
        )
        .await?;
        sql::execute(
            &transaction,
            "UPDATE live_event_sequences SET last_sequence = $2 WHERE tenant_id = $1",
            vec![tenant.into(), (last + moved.len() as i64).into()],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(moved.len())
    }

    /// Numbers the pending events of up to `batch` tenants that have some older than
    /// `cutoff`, so that the purge deletes them numbered: dropped unnumbered, they
    /// would leave no gap, and a stream resuming from before them would not be told
    /// to resync.
    async fn number_expired_pending(
        &self,
        cutoff: DateTime<Utc>,
        batch: u32,
    ) -> Result<(), StoreError> {
        let transaction = self.begin_platform_read().await?;
        let rows = sql::query(
            &transaction,
            "SELECT DISTINCT tenant_id FROM pending_live_events WHERE occurred_at < $1 LIMIT $2",
            vec![cutoff.into(), i64::from(batch).into()],
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        for row in &rows {
            let tenant: String = column(row, "tenant_id")?;
            let tenant = TenantId::parse(&tenant)
                .map_err(|_| StoreError::Internal("a pending event names no tenant".to_owned()))?;
            self.number_pending(&TenantScope::for_job(tenant)).await?;
        }
        Ok(())
    }
}

/// A pending event as the numbering moved it: its id (the order it was appended in)
/// and its [`EVENT_COLUMNS`], as they are inserted again.
struct PendingEvent {
    id: i64,
    columns: [Value; 5],
}

impl PendingEvent {
    fn read(row: &QueryResult) -> Result<Self, StoreError> {
        let occurred_at: DateTime<Utc> = column(row, "occurred_at")?;
        Ok(PendingEvent {
            id: column(row, "id")?,
            columns: [
                column::<String>(row, "event_type")?.into(),
                occurred_at.into(),
                column::<String>(row, "audience")?.into(),
                column::<Option<String>>(row, "assigned_rep")?.into(),
                column::<String>(row, "payload")?.into(),
            ],
        })
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
        self.number_pending(scope).await?;
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
        // Numbered first: a stream that starts from the last number is not handed,
        // as new, what was committed before it started.
        self.number_pending(scope).await?;
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
        let cutoff = stored_time(cutoff);
        self.number_expired_pending(cutoff, batch).await?;
        let transaction = self.begin_platform().await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDatabase;
    use otto_core::live::call_created;
    use std::time::Duration;

    /// One tenant's writers no longer take turns: a transaction that appended events
    /// and has not committed does not hold up another one of the same tenant (it
    /// did while numbers were taken at write time, until the first committed).
    #[tokio::test]
    async fn postgres_writers_of_one_tenant_do_not_wait_for_each_other() {
        let Some(test_database) = TestDatabase::create().await else {
            return;
        };
        let (connection, store) = test_database.migrated_store().await;
        let tenant = TenantId::parse("org_acme").expect("a tenant");
        let scope = TenantScope::for_job(tenant.clone());
        let first = [call_created(Uuid::now_v7(), None)];
        let second = [call_created(Uuid::now_v7(), None)];

        let open = store.begin(&scope).await.expect("begins");
        append(&open, &tenant, &first).await.expect("appends");
        let other = store.begin(&scope).await.expect("begins");
        tokio::time::timeout(
            Duration::from_secs(5),
            store.commit_with_events(other, &tenant, &second),
        )
        .await
        .expect("the second writer commits while the first is open")
        .expect("commits");
        // Only what committed is read, and it is numbered from 1.
        let read = store.events_after(&scope, 0, 10).await.expect("reads");
        assert_eq!(read.len(), 1);
        assert_eq!(read[0].sequence, 1);
        assert_eq!(read[0].payload, second[0].payload);

        open.commit().await.expect("commits");
        let read = store.events_after(&scope, 0, 10).await.expect("reads");
        let numbered: Vec<_> = read.iter().map(|event| event.sequence).collect();
        assert_eq!(numbered, [1, 2]);
        assert_eq!(read[1].payload, first[0].payload);
        assert_eq!(store.last_sequence(&scope).await.expect("reads"), 2);

        connection.close().await.expect("closes");
        test_database.drop_database().await;
    }
}
