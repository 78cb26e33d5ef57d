//! Waking other processes' streams once live events are committed, on PostgreSQL.
//!
//! `NOTIFY` inside the writing transaction takes PostgreSQL's one notification lock
//! at commit and holds it across the commit's WAL flush: every transaction that
//! appended events, of any tenant, committed one at a time (measured with
//! pg_stat_activity during unique webhooks: most busy backends waiting on
//! `Lock:object` in `COMMIT`). So the store notifies after its commit instead,
//! coalesced: while one notifying transaction runs, the tenants committed meanwhile
//! gather, and the next one names each of them once. That transaction does not wait
//! for its WAL flush (`synchronous_commit = off`): a notification is a wake-up, not
//! data, and one lost to a crash (or to a failed send) is made up for by the
//! streams' poll (`OTTO_EVENT_POLL_SECONDS`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use otto_core::tenancy::TenantId;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement, TransactionTrait,
};

use super::live_events::CHANNEL;
use super::sql;

/// Tenants named per notifying statement (one parameter each, well under
/// PostgreSQL's limit).
const TENANTS_PER_SEND: usize = 1_000;

/// How long one notifying transaction may take before its tenants are given up (a
/// stuck connection must not hold every later wake-up).
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The process's notifications to send, and whether a sender is running.
pub(super) struct Wakeups {
    db: DatabaseConnection,
    waiting: Mutex<BTreeSet<String>>,
    sending: AtomicBool,
}

impl Wakeups {
    pub(super) fn new(db: DatabaseConnection) -> Self {
        Wakeups {
            db,
            waiting: Mutex::new(BTreeSet::new()),
            sending: AtomicBool::new(false),
        }
    }

    fn waiting(&self) -> MutexGuard<'_, BTreeSet<String>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Has `tenant` named in a notification soon; returns at once (the sending runs in
    /// a task of its own, one at a time).
    pub(super) fn wake(self: &Arc<Self>, tenant: &TenantId) {
        self.waiting().insert(tenant.as_str().to_owned());
        if !self.sending.swap(true, Ordering::AcqRel) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(self.clone().send_all());
                }
                // No runtime to send from (a store used outside one): the next wake
                // from inside one sends what waits.
                Err(_) => self.sending.store(false, Ordering::Release),
            }
        }
    }

    async fn send_all(self: Arc<Self>) {
        loop {
            let tenants = std::mem::take(&mut *self.waiting());
            if tenants.is_empty() {
                self.sending.store(false, Ordering::Release);
                // A tenant added between the take and the store saw a sender running
                // and left it to this one: carry on unless another sender took over.
                if self.waiting().is_empty() || self.sending.swap(true, Ordering::AcqRel) {
                    return;
                }
                continue;
            }
            let tenants: Vec<String> = tenants.into_iter().collect();
            for chunk in tenants.chunks(TENANTS_PER_SEND) {
                let sent = tokio::time::timeout(SEND_TIMEOUT, self.send(chunk)).await;
                if let Some(error) = match sent {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(error.to_string()),
                    Err(_) => Some(format!("no answer within {SEND_TIMEOUT:?}")),
                } {
                    tracing::warn!(%error, tenants = chunk.len(),
                        "live-event notifications could not be sent; other processes' streams read at their next poll");
                }
            }
        }
    }

    async fn send(&self, tenants: &[String]) -> Result<(), DbErr> {
        let mut values: Vec<sea_orm::Value> = vec![CHANNEL.into()];
        values.extend(tenants.iter().map(|tenant| tenant.as_str().into()));
        let transaction = self.db.begin().await?;
        transaction
            .execute_unprepared("SET LOCAL synchronous_commit = off")
            .await?;
        transaction
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                format!(
                    "SELECT pg_notify($1, tenant) FROM (VALUES {}) AS woken (tenant)",
                    sql::value_rows(2, 1, tenants.len())
                ),
                values,
            ))
            .await?;
        transaction.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::TestDatabase;
    use sea_orm::sqlx::postgres::PgListener;
    use std::time::Duration;

    /// Every tenant woken is named to a listening process, after the fact and
    /// outside any writer's transaction.
    #[tokio::test]
    async fn woken_tenants_reach_a_listener() {
        let Some(test_database) = TestDatabase::create().await else {
            return;
        };
        let db = sea_orm::Database::connect(test_database.url.as_str())
            .await
            .expect("connects");
        let mut listener = PgListener::connect(&test_database.url)
            .await
            .expect("listens");
        listener.listen(CHANNEL).await.expect("listens");
        let wakeups = Arc::new(Wakeups::new(db.clone()));
        let tenants = ["org_a", "org_b", "org_c", "org_a"];
        for tenant in tenants {
            wakeups.wake(&TenantId::parse(tenant).expect("a tenant"));
        }
        let mut heard = BTreeSet::new();
        let mut hear = async || {
            let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv())
                .await
                .expect("a notification in time")
                .expect("received");
            notification.payload().to_owned()
        };
        while heard.len() < 3 {
            heard.insert(hear().await);
        }
        assert_eq!(
            heard,
            BTreeSet::from(["org_a", "org_b", "org_c"].map(String::from))
        );
        // Once the sender has run dry, the next wake starts another.
        tokio::time::sleep(Duration::from_millis(200)).await;
        wakeups.wake(&TenantId::parse("org_d").expect("a tenant"));
        assert_eq!(hear().await, "org_d");
        drop(listener);
        db.close().await.expect("closes");
        test_database.drop_database().await;
    }
}
