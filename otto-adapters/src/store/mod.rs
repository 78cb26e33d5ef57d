//! The tenant-scoped SQL store: [`SqlStore`] implements the repository ports over
//! PostgreSQL or SQLite.
//!
//! Every unit of work is one transaction opened by [`SqlStore::begin`] for a
//! [`TenantScope`]. On PostgreSQL that transaction first switches to the `otto_app`
//! role and sets `app.tenant_id` with its proof (`app.tenant_proof`, a keyed digest
//! that SQL cannot compute: see [`scope_key`]), so row-level security confines every
//! statement in it to the scope's tenant, even a raw or injected one. On SQLite (one process, no RLS) the scope is
//! the compile-time guarantee, and every query also filters on `tenant_id` explicitly
//! (on PostgreSQL too: defence in depth, and it lets the planner use the indexes).

mod calls;
mod companies;
mod dashboard;
mod delivery_log;
mod effects;
pub mod entities;
mod follow_ups;
mod hot_queries;
mod insights;
mod jobs;
pub mod live_events;
mod messages;
pub mod scope_key;
mod search_terms;
mod sql;
mod wakeups;
mod webhooks;
mod write_groups;
mod write_turns;

pub use hot_queries::{HotQuery, HotQuerySample, HotQueryScope};
use wakeups::Wakeups;
use write_groups::{Turn, WriteGroups};
pub use write_turns::DEFAULT_MAX_WAITING_WRITERS;

use chrono::{DateTime, SubsecRound, Utc};
use migrations::APP_ROLE;
use otto_core::ports::{EventNotifier, IdGenerator, StoreError};
use otto_core::tenancy::TenantScope;
use scope_key::ScopeKey;
use sea_orm::{
    AccessMode, ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, DbErr,
    IsolationLevel, RuntimeErr, SqlErr, Statement, TransactionTrait,
};
use std::sync::Arc;
use tracing::Instrument;

/// Repositories over one database pool.
#[derive(Clone)]
pub struct SqlStore {
    db: DatabaseConnection,
    ids: Arc<dyn IdGenerator>,
    scope_key: Arc<ScopeKey>,
    notifier: Option<Arc<dyn EventNotifier>>,
    /// Other processes' wake-ups after commits of live events (`None` on SQLite,
    /// whose streams are this process's).
    wakeups: Option<Arc<Wakeups>>,
    /// The embedded database's queue of writers and their group commits (`None` on
    /// PostgreSQL, where transactions write side by side).
    write_groups: Option<Arc<WriteGroups>>,
}

/// The transaction of one unit of work; on the embedded database a writer's unit is a
/// savepoint in its write group and holds the turn to write (see `write_groups`),
/// handed on once it has ended. Statements take it as a `&DatabaseTransaction`.
pub struct UnitOfWork {
    /// `None` only once `commit`, `rollback` or `drop` has taken it.
    transaction: Option<DatabaseTransaction>,
    turn: Option<Turn>,
}

impl UnitOfWork {
    fn new(transaction: DatabaseTransaction, turn: Option<Turn>) -> Self {
        UnitOfWork {
            transaction: Some(transaction),
            turn,
        }
    }

    fn take(&mut self) -> DatabaseTransaction {
        self.transaction
            .take()
            .expect("a unit of work's transaction is taken once, when it ends")
    }

    /// Commits: returns once the work is durable (on the embedded database, once its
    /// write group has committed).
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let committed = self.take().commit().await;
        match (self.turn.take(), committed) {
            (None, committed) => committed,
            (Some(turn), Ok(())) => turn.released().await,
            (Some(turn), Err(error)) => {
                turn.abandoned(true).await;
                Err(error)
            }
        }
    }

    /// Ends a unit that only read, without waiting for the database. Its transaction
    /// is dropped, which queues a `ROLLBACK` on its connection; the pool sends it
    /// with the ping it sends whenever a connection comes back (sqlx always does), so
    /// the unit costs one round trip fewer than with `COMMIT`, which changes nothing
    /// for a transaction that wrote nothing. A unit holding the turn to write (one
    /// opened with [`SqlStore::begin`]) is rolled back as a dropped one is, in a task
    /// of its own before the turn passes on.
    pub fn finish_read(mut self) {
        if self.turn.is_none() {
            drop(self.take());
        }
    }

    /// Rolls back (on the embedded database, to the unit's savepoint), then hands the
    /// turn on.
    pub async fn rollback(mut self) -> Result<(), DbErr> {
        let rolled_back = self.take().rollback().await;
        if let Some(turn) = self.turn.take() {
            turn.abandoned(rolled_back.is_err()).await;
        }
        rolled_back
    }
}

impl std::fmt::Debug for UnitOfWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnitOfWork")
            .field("holds_write_turn", &self.turn.is_some())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for UnitOfWork {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        self.transaction
            .as_ref()
            .expect("a unit of work's transaction is open until it ends")
    }
}

/// A unit of work dropped without ending (an error returned with `?`, a cancelled
/// request) rolls back to its savepoint before its turn passes on, and its group is
/// handed on or ended as after any rollback. Dropped while its savepoint was being
/// released (a request cancelled in `commit`), the unit hands the turn on as it stands:
/// sqlx either released the savepoint or queued its rollback.
impl Drop for UnitOfWork {
    fn drop(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        let transaction = self.transaction.take();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let broken = match transaction {
                    Some(transaction) => transaction.rollback().await.is_err(),
                    None => false,
                };
                turn.abandoned(broken).await;
            });
        }
    }
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// A store over a migrated database, naming new rows with `ids`. On PostgreSQL
    /// the scope key is read from the database on first use, which only the schema
    /// owner may do; a store connected as the runtime login is given the key with
    /// [`SqlStore::with_scope_key`].
    pub fn new(db: DatabaseConnection, ids: Arc<dyn IdGenerator>) -> Self {
        let write_groups = (db.get_database_backend() == DatabaseBackend::Sqlite)
            .then(|| Arc::new(WriteGroups::new(DEFAULT_MAX_WAITING_WRITERS)));
        let wakeups = (db.get_database_backend() == DatabaseBackend::Postgres)
            .then(|| Arc::new(Wakeups::new(db.clone())));
        SqlStore {
            db,
            ids,
            scope_key: Arc::new(ScopeKey::from_database()),
            notifier: None,
            wakeups,
            write_groups,
        }
    }

    /// The same store with at most `max_waiting` units of work queued for their turn
    /// to write on the embedded database (OTTO_SQLITE_WRITE_QUEUE); more are refused
    /// as unavailable. No effect on PostgreSQL.
    pub fn with_write_queue(mut self, max_waiting: usize) -> Self {
        if self.write_groups.is_some() {
            self.write_groups = Some(Arc::new(WriteGroups::new(max_waiting)));
        }
        self
    }

    /// The same store without the embedded database's write queue: every writer
    /// commits on its own and waits in SQLite's busy handler, as before the queue
    /// existed (OTTO_SQLITE_WRITE_QUEUE=0; for comparison, and as a way back).
    pub fn without_write_queue(mut self) -> Self {
        self.write_groups = None;
        self
    }

    /// On the embedded database, a writer's unit of work: its turn, and its savepoint
    /// in the write group (`None` elsewhere).
    async fn join_write_group(
        &self,
        scope: Option<&TenantScope>,
    ) -> Result<Option<UnitOfWork>, StoreError> {
        let Some(groups) = &self.write_groups else {
            return Ok(None);
        };
        let span = self.unit_span(scope);
        let (savepoint, turn) = groups.join(&self.db).instrument(span).await?;
        Ok(Some(UnitOfWork::new(savepoint, Some(turn))))
    }

    /// The same store, making scope proofs with `key` (OTTO_DATABASE_SCOPE_KEY).
    pub fn with_scope_key(mut self, key: &str) -> Self {
        self.scope_key = Arc::new(ScopeKey::configured(key));
        self
    }

    /// The same store, telling `notifier` of every commit that appended live events
    /// (this process's streams; other processes hear PostgreSQL's `NOTIFY`).
    pub fn with_notifier(mut self, notifier: Arc<dyn EventNotifier>) -> Self {
        self.notifier = Some(notifier);
        self
    }

    /// Opens the transaction of one unit of work for `scope` (on the embedded
    /// database, once it is the unit's turn to write).
    pub async fn begin(&self, scope: &TenantScope) -> Result<UnitOfWork, StoreError> {
        match self.join_write_group(Some(scope)).await? {
            Some(unit) => Ok(unit),
            None => {
                self.open_tenant_unit(scope, Planning::PerExecution, Snapshot::PerStatement)
                    .await
            }
        }
    }

    /// Opens a transaction that only reads, for `scope`: it never waits for a turn
    /// to write (SQLite's readers run beside its writer).
    pub(crate) async fn begin_read(&self, scope: &TenantScope) -> Result<UnitOfWork, StoreError> {
        self.begin_read_planned(scope, Planning::PerExecution).await
    }

    /// [`SqlStore::begin_read`], its statements planned as `planning` says.
    pub(crate) async fn begin_read_planned(
        &self,
        scope: &TenantScope,
        planning: Planning,
    ) -> Result<UnitOfWork, StoreError> {
        self.open_tenant_unit(scope, planning, Snapshot::PerStatement)
            .await
    }

    /// [`SqlStore::begin_read_planned`], its statements all reading one snapshot (on
    /// PostgreSQL, a read-only `REPEATABLE READ` transaction: one round trip more;
    /// SQLite's transactions read one snapshot already), for reads that combine
    /// several statements' figures.
    pub(crate) async fn begin_read_in_one_snapshot(
        &self,
        scope: &TenantScope,
        planning: Planning,
    ) -> Result<UnitOfWork, StoreError> {
        self.open_tenant_unit(scope, planning, Snapshot::OneForReading)
            .await
    }

    async fn open_tenant_unit(
        &self,
        scope: &TenantScope,
        planning: Planning,
        snapshot: Snapshot,
    ) -> Result<UnitOfWork, StoreError> {
        let span = self.unit_span(Some(scope));
        let transaction = self
            .begin_tenant(scope, planning, snapshot)
            .instrument(span)
            .await?;
        Ok(UnitOfWork::new(transaction, None))
    }

    async fn begin_tenant(
        &self,
        scope: &TenantScope,
        planning: Planning,
        snapshot: Snapshot,
    ) -> Result<DatabaseTransaction, StoreError> {
        let postgres = self.db.get_database_backend() == DatabaseBackend::Postgres;
        let proof = if postgres {
            Some(
                self.scope_key
                    .get(&self.db)
                    .await?
                    .tenant_proof(scope.tenant_id()),
            )
        } else {
            None
        };
        let transaction = match snapshot {
            // PostgreSQL only: SQLite's transactions read one snapshot already.
            Snapshot::OneForReading if postgres => {
                self.db
                    .begin_with_config(
                        Some(IsolationLevel::RepeatableRead),
                        Some(AccessMode::ReadOnly),
                    )
                    .await
            }
            _ => self.db.begin().await,
        }
        .map_err(store_error)?;
        if let Some(proof) = proof {
            // `set_config('role', ..., true)` is `SET LOCAL ROLE`: one prepared round
            // trip sets the role, the tenant and its proof (and the plan cache's mode).
            let settings = match planning {
                Planning::PerExecution => {
                    "SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true), \
                     set_config('app.tenant_proof', $3, true)"
                }
                Planning::Generic => {
                    "SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true), \
                     set_config('app.tenant_proof', $3, true), \
                     set_config('plan_cache_mode', 'force_generic_plan', true)"
                }
            };
            transaction
                .execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    settings,
                    [
                        APP_ROLE.into(),
                        scope.tenant_id().as_str().into(),
                        proof.into(),
                    ],
                ))
                .await
                .map_err(store_error)?;
        }
        Ok(transaction)
    }

    /// Opens the transaction of platform-wide work (Clerk's organizations and users,
    /// logging unroutable deliveries, leasing jobs, purging keys). On PostgreSQL it
    /// runs as `otto_app` with no tenant and a platform proof bound to this
    /// transaction's id, which the `platform_access` policies admit on exactly the
    /// platform tables (one round trip more than a tenant's: the id is the database's).
    pub(crate) async fn begin_platform(&self) -> Result<UnitOfWork, StoreError> {
        match self.join_write_group(None).await? {
            Some(unit) => Ok(unit),
            None => self.begin_platform_read().await,
        }
    }

    /// Opens a platform transaction that only reads (no turn to write).
    pub(crate) async fn begin_platform_read(&self) -> Result<UnitOfWork, StoreError> {
        let span = self.unit_span(None);
        let transaction = self.begin_platform_scope().instrument(span).await?;
        Ok(UnitOfWork::new(transaction, None))
    }

    async fn begin_platform_scope(&self) -> Result<DatabaseTransaction, StoreError> {
        let key = if self.db.get_database_backend() == DatabaseBackend::Postgres {
            Some(self.scope_key.get(&self.db).await?)
        } else {
            None
        };
        let transaction = self.db.begin().await.map_err(store_error)?;
        if let Some(key) = key {
            let row = transaction
                .query_one_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT set_config('role', $1, true) AS role, \
                     txid_current()::text AS transaction_id",
                    [APP_ROLE.into()],
                ))
                .await
                .map_err(store_error)?
                .ok_or_else(|| StoreError::Internal("no transaction id".to_owned()))?;
            let transaction_id: String = sql::column(&row, "transaction_id")?;
            transaction
                .execute_raw(Statement::from_sql_and_values(
                    DatabaseBackend::Postgres,
                    "SELECT set_config('app.platform_proof', $1, true)",
                    [key.platform_proof(&transaction_id).into()],
                ))
                .await
                .map_err(store_error)?;
        }
        Ok(transaction)
    }

    /// Whether this store's scope key is the database's: a platform proof made with it
    /// holds (always true on SQLite). A process given another key than `migrate up`
    /// stored would otherwise start and then find every table empty.
    pub async fn proves_platform(&self) -> Result<bool, StoreError> {
        if self.db.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(true);
        }
        let transaction = self.begin_platform_read().await?;
        let row = transaction
            .query_one_raw(Statement::from_string(
                DatabaseBackend::Postgres,
                "SELECT otto_platform() AS proven",
            ))
            .await
            .map_err(store_error)?;
        transaction.commit().await.map_err(store_error)?;
        row.map(|row| sql::column::<bool>(&row, "proven"))
            .transpose()
            .map(|proven| proven.unwrap_or(false))
    }

    /// Runs one read in its own transaction for `scope` (so row-level security
    /// applies on PostgreSQL).
    async fn scoped_query(
        &self,
        scope: &TenantScope,
        statement: &str,
        values: Vec<sea_orm::Value>,
    ) -> Result<Vec<sea_orm::QueryResult>, StoreError> {
        let transaction = self.begin_read(scope).await?;
        let rows = sql::query(&transaction, statement, values).await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(rows)
    }

    fn new_id(&self) -> uuid::Uuid {
        self.ids.new_id()
    }
}

/// Which snapshots a PostgreSQL transaction's statements read (SQLite's read one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Snapshot {
    /// Each statement its own (`READ COMMITTED`, PostgreSQL's default).
    PerStatement,
    /// One for every statement, in a read-only `REPEATABLE READ` transaction.
    OneForReading,
}

/// How PostgreSQL plans a transaction's prepared statements (SQLite has one way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Planning {
    /// PostgreSQL's default: planned again for each execution's values until a plan
    /// for any values looks as cheap; right when the values change the best plan.
    PerExecution,
    /// Planned once per connection for any values (`force_generic_plan`): for a
    /// statement whose every plan is the same index seeks and whose planning costs more
    /// than running it (the dashboard's, with row-level security on five tables).
    Generic,
}

impl SqlStore {
    /// The span of opening a unit of work for `scope` (the platform's when `None`).
    fn unit_span(&self, scope: Option<&TenantScope>) -> tracing::Span {
        let backend = self.db.get_database_backend();
        let Some(scope) = scope else {
            return transaction_span(backend, "platform");
        };
        let span = transaction_span(backend, "tenant");
        span.record("tenant_id", scope.tenant_id().as_str());
        span
    }
}

/// The CLIENT span of opening a transaction (and proving its scope), one per unit
/// of work, with the database semantic conventions' `db.system.name`.
fn transaction_span(backend: DatabaseBackend, scope: &'static str) -> tracing::Span {
    let system = match backend {
        DatabaseBackend::Postgres => "postgresql",
        DatabaseBackend::Sqlite => "sqlite",
        _ => "other_sql",
    };
    tracing::info_span!(
        "db.transaction",
        otel.name = "BEGIN",
        otel.kind = "client",
        "db.system.name" = system,
        "db.operation.name" = "BEGIN",
        otto.scope = scope,
        tenant_id = tracing::field::Empty,
    )
}

/// Times are kept to the microsecond, PostgreSQL's precision, on every backend, so
/// that what is read back equals what was written.
fn stored_time(time: DateTime<Utc>) -> DateTime<Utc> {
    time.trunc_subsecs(6)
}

/// Classifies a database error for the domain.
pub fn store_error(error: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(detail)) = error.sql_err() {
        return StoreError::Conflict(detail);
    }
    if is_unavailable(&error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Internal(error.to_string())
    }
}

/// Whether the database could not be reached or went away mid-statement (a restart,
/// a failover, a dropped connection), or rolled the transaction back to resolve a
/// conflict with another: the work may be retried, so callers answer 503 rather than
/// 500. Found by faulting a live server (`make chaos`): a connection cut
/// during a query surfaced as a query error, not as a connection error.
fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    let runtime = match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => return true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return false;
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::Protocol(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        // SQLSTATE class 08 (connection exception) and 57P01-57P03 (the server is
        // shutting down, crashed, or not yet accepting connections).
        // SQLite's busy or locked (primary codes 5 and 6, in any extended form): another
        // process holds the write lock past the busy timeout. Retry, not a bug.
        Sqlx::Database(database)
            if database
                .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
                .is_some() =>
        {
            database
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6))
        }
        // 40001 and 40P01: PostgreSQL rolled the transaction back to resolve a
        // serialization failure or a deadlock (two late writes marking the same
        // dashboard periods in opposite orders, say); run again, it succeeds.
        Sqlx::Database(database) => database.code().is_some_and(|code| {
            code.starts_with("08")
                || matches!(&*code, "57P01" | "57P02" | "57P03" | "40001" | "40P01")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sqlx;

    fn query_error(error: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
    }

    #[test]
    fn a_connection_lost_mid_statement_is_unavailable_not_internal() {
        for error in [
            query_error(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "peer closed connection",
            ))),
            query_error(sqlx::Error::PoolTimedOut),
            DbErr::Exec(RuntimeErr::SqlxError(Arc::new(sqlx::Error::PoolClosed))),
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        ] {
            assert!(
                matches!(store_error(error), StoreError::Unavailable(_)),
                "a lost database is a 503"
            );
        }
        for error in [
            query_error(sqlx::Error::RowNotFound),
            DbErr::Custom("a bug".to_owned()),
        ] {
            assert!(matches!(store_error(error), StoreError::Internal(_)));
        }
    }
}
