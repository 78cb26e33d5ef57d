//! Group commit on the embedded database. SQLite writes one transaction at a time,
//! and every durable commit waits for the disk (an fsync of the WAL, about 0.15 ms
//! here, more on real disks), so one commit per webhook made the writer's turn the
//! ceiling of the whole process. Here writers still take turns (`write_turns`), but a
//! turn runs inside a group: the first writer of a group opens one transaction
//! (`BEGIN IMMEDIATE`), each writer's unit of work is a savepoint in it, and the group
//! commits once, when no other writer is waiting, or it holds [`MAX_UNITS`] units, or
//! it has been open [`MAX_AGE`].
//!
//! Nothing is acknowledged before it is durable: a unit's `commit` returns only once
//! its group's `COMMIT` has, and with that commit's error if it failed (every member
//! of a failed group fails, and their providers retry). A unit that rolls back undoes
//! only its savepoint.
//!
//! A request can be cancelled at any await (a client gone, the request deadline), so
//! nothing that touches the group runs in a request's own future: opening the
//! savepoint, handing the group on and ending it run in tasks of their own, and a
//! [`Turn`] dropped without ending ends its group's part as a rollback would. A group
//! handed on to a writer that then gives up waiting is ended by its watchdog, which
//! takes the turn [`MAX_AGE`] after the group opened if the group is still open.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otto_core::ports::StoreError;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedSemaphorePermit, oneshot};
use tokio::task::AbortHandle;

use super::store_error;
use super::write_turns::WriteTurns;

/// Most units of work one commit makes durable.
pub(super) const MAX_UNITS: usize = 64;

/// Longest a group stays open: the first member's wait for its answer beyond its own
/// work, and when the watchdog ends a group that no writer took on.
pub(super) const MAX_AGE: Duration = Duration::from_millis(10);

/// One process's writers on the embedded database: their queue and the group of
/// units currently open.
#[derive(Debug)]
pub(super) struct WriteGroups {
    turns: WriteTurns,
    /// Touched only by the holder of the turn, in tasks that requests cannot cancel.
    open: Mutex<Option<OpenGroup>>,
    max_units: usize,
    max_age: Duration,
    groups_opened: AtomicU64,
    /// Commits of a group that held at least one released unit, and the units they
    /// made durable (read by the tests).
    groups_committed: AtomicU64,
    units_committed: AtomicU64,
}

#[derive(Debug)]
struct OpenGroup {
    /// Which group this is (for its watchdog).
    number: u64,
    transaction: DatabaseTransaction,
    opened_at: Instant,
    /// Members whose savepoint is released, waiting for the group's commit (the
    /// group's units: a unit that rolled back leaves nothing in it).
    members: Vec<oneshot::Sender<Result<(), DbErr>>>,
    watchdog: AbortHandle,
}

/// A writer's turn: it ends with [`Turn::released`] or [`Turn::abandoned`], which
/// hand the group on or end it; dropped without either, it is abandoned.
#[derive(Debug)]
pub(super) struct Turn {
    /// `None` once the turn has ended.
    permit: Option<OwnedSemaphorePermit>,
    groups: Arc<WriteGroups>,
}

/// What a turn's end does to its group.
enum Ending {
    /// The unit's savepoint was released; tell it the group's outcome.
    Released(oneshot::Sender<Result<(), DbErr>>),
    /// The unit rolled back to its savepoint.
    RolledBack,
    /// The group's transaction cannot be trusted (a savepoint failed): roll it back.
    Broken,
    /// The watchdog's turn: end group `number` if it is still open.
    Overdue(u64),
}

impl WriteGroups {
    pub(super) fn new(max_waiting: usize) -> Self {
        Self::with_limits(max_waiting, MAX_UNITS, MAX_AGE)
    }

    fn with_limits(max_waiting: usize, max_units: usize, max_age: Duration) -> Self {
        WriteGroups {
            turns: WriteTurns::new(max_waiting),
            open: Mutex::new(None),
            max_units,
            max_age,
            groups_opened: AtomicU64::new(0),
            groups_committed: AtomicU64::new(0),
            units_committed: AtomicU64::new(0),
        }
    }

    /// Waits for this writer's turn and opens its savepoint in the current group (or
    /// in a new one). Cancelled while waiting, it leaves the queue; once it has the
    /// turn, the savepoint is opened in a task of its own, and a writer cancelled
    /// meanwhile leaves a savepoint that is rolled back and a turn that is ended.
    pub(super) async fn join(
        self: &Arc<Self>,
        db: &DatabaseConnection,
    ) -> Result<(DatabaseTransaction, Turn), StoreError> {
        let permit = self.turns.take().await?;
        let turn = Turn {
            permit: Some(permit),
            groups: Arc::clone(self),
        };
        let groups = Arc::clone(self);
        let db = db.clone();
        tokio::spawn(async move { groups.open_savepoint(&db, turn).await })
            .await
            .map_err(|error| {
                StoreError::Unavailable(format!("the embedded database's writer failed: {error}"))
            })?
    }

    async fn open_savepoint(
        self: Arc<Self>,
        db: &DatabaseConnection,
        turn: Turn,
    ) -> Result<(DatabaseTransaction, Turn), StoreError> {
        let mut open = self.open.lock().await;
        if open.is_none() {
            let transaction = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await
                .map_err(store_error)?;
            let number = self.groups_opened.fetch_add(1, Ordering::Relaxed);
            *open = Some(OpenGroup {
                number,
                transaction,
                opened_at: Instant::now(),
                members: Vec::new(),
                watchdog: self.watch(number),
            });
        }
        let savepoint = match open.as_ref() {
            Some(group) => group.transaction.begin().await,
            None => Err(DbErr::Custom("no write group is open".to_owned())),
        };
        drop(open);
        match savepoint {
            Ok(savepoint) => Ok((savepoint, turn)),
            Err(error) => {
                // The group's connection failed: end the group for its members.
                turn.end(Ending::Broken).await;
                Err(store_error(error))
            }
        }
    }

    /// Ends group `number` once it has been open `max_age`, if no writer has by then:
    /// the watchdog queues for the turn like a writer (without counting as one
    /// waiting, so that writers still end groups when nobody else waits).
    fn watch(self: &Arc<Self>, number: u64) -> AbortHandle {
        let groups = Arc::clone(self);
        tokio::spawn(async move {
            tokio::time::sleep(groups.max_age).await;
            if let Some(permit) = groups.turns.take_unbounded().await {
                WriteGroups::end_turn(Arc::clone(&groups), permit, Ending::Overdue(number)).await;
            }
        })
        .abort_handle()
    }
}

impl Turn {
    /// The unit's savepoint was released: waits for its group to commit.
    pub(super) async fn released(self) -> Result<(), DbErr> {
        let (member, committed) = oneshot::channel();
        tokio::spawn(self.end(Ending::Released(member)));
        committed.await.unwrap_or_else(|_| {
            Err(DbErr::Custom(
                "the embedded database's group commit ended without an outcome".to_owned(),
            ))
        })
    }

    /// The unit rolled back to its savepoint (`broken` when even that failed, and the
    /// group's transaction can no longer be trusted).
    pub(super) async fn abandoned(self, broken: bool) {
        let ending = if broken {
            Ending::Broken
        } else {
            Ending::RolledBack
        };
        let _ = tokio::spawn(self.end(ending)).await;
    }

    /// Hands the group on to the next writer, or ends it (see [`WriteGroups::end_turn`]).
    async fn end(mut self, ending: Ending) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        WriteGroups::end_turn(Arc::clone(&self.groups), permit, ending).await;
    }
}

impl WriteGroups {
    /// The end of the turn `permit`: hands the group on to the next writer, or ends
    /// it, committing it (rolling it back when broken) and telling its members. Takes
    /// the bare permit, not a [`Turn`], so that dropping this future (a runtime
    /// shutting down drops what it is given to spawn) only gives the turn back.
    async fn end_turn(groups: Arc<Self>, permit: OwnedSemaphorePermit, ending: Ending) {
        let mut open = groups.open.lock().await;
        let Some(mut group) = open.take() else {
            if let Ending::Released(member) = ending {
                let _ = member.send(Err(DbErr::Custom(
                    "the embedded database's write group is gone".to_owned(),
                )));
            }
            return;
        };
        let broken = matches!(ending, Ending::Broken);
        let by_watchdog = matches!(ending, Ending::Overdue(_));
        match ending {
            Ending::Released(member) => group.members.push(member),
            Ending::Overdue(number) if number != group.number => {
                // Another group is open now; its own watchdog watches it.
                *open = Some(group);
                return;
            }
            Ending::RolledBack | Ending::Broken | Ending::Overdue(_) => {}
        }
        let goes_on = !broken
            && groups.turns.waiting() > 0
            && group.members.len() < groups.max_units
            && group.opened_at.elapsed() < groups.max_age;
        if goes_on {
            *open = Some(group);
            drop(open);
            drop(permit);
            return;
        }
        drop(open);
        if !by_watchdog {
            // The watchdog ends with its group; aborting it from its own task would
            // cancel the commit below.
            group.watchdog.abort();
        }
        let outcome = if broken {
            let _ = group.transaction.rollback().await;
            Err(DbErr::Custom(
                "the embedded database's write group was rolled back after a failed savepoint"
                    .to_owned(),
            ))
        } else {
            group.transaction.commit().await
        };
        if outcome.is_ok() && !group.members.is_empty() {
            groups.groups_committed.fetch_add(1, Ordering::Relaxed);
            groups
                .units_committed
                .fetch_add(group.members.len() as u64, Ordering::Relaxed);
        }
        for member in group.members {
            let _ = member.send(outcome.clone());
        }
        // The next writer may begin once this commit has returned.
        drop(permit);
    }
}

/// A turn dropped without ending (its request was cancelled before its savepoint
/// was handed over) is abandoned: its savepoint, dropped with it, is rolled back first
/// (sqlx queues that rollback before anything this sends).
impl Drop for Turn {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(WriteGroups::end_turn(
                Arc::clone(&self.groups),
                permit,
                Ending::RolledBack,
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::{self, PoolSettings};
    use crate::store::{SqlStore, UnitOfWork};
    use crate::system::UuidV7Ids;
    use otto_core::tenancy::{TenantId, TenantScope};
    use sea_orm::ConnectionTrait;

    struct Scratch {
        _dir: tempfile::TempDir,
        store: SqlStore,
        /// Another pool on the same file: sees only what is committed.
        reader: DatabaseConnection,
    }

    /// A store on a fresh SQLite file whose groups never end for their age (so a test
    /// decides who is in a group by who is waiting), with `tables` created.
    async fn scratch(tables: &str) -> Scratch {
        scratch_with_age(tables, Duration::from_secs(3600)).await
    }

    async fn scratch_with_age(tables: &str, max_age: Duration) -> Scratch {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/groups.db", dir.path().display());
        let connection = database::connect(&url, &PoolSettings::default())
            .await
            .expect("connects");
        connection
            .execute_unprepared(tables)
            .await
            .expect("creates the tables");
        let mut store = SqlStore::new(connection, Arc::new(UuidV7Ids));
        store.write_groups = Some(Arc::new(WriteGroups::with_limits(256, MAX_UNITS, max_age)));
        let reader = database::connect(&url, &PoolSettings::default())
            .await
            .expect("connects");
        Scratch {
            _dir: dir,
            store,
            reader,
        }
    }

    fn scope() -> TenantScope {
        TenantScope::for_verified_delivery(TenantId::parse("org_groups").expect("tenant"))
    }

    async fn committed_ids(reader: &DatabaseConnection, table: &str) -> Vec<i64> {
        reader
            .query_all_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                format!("SELECT id FROM {table} ORDER BY id"),
            ))
            .await
            .expect("reads")
            .iter()
            .map(|row| row.try_get::<i64>("", "id").expect("id"))
            .collect()
    }

    /// One writer's unit of work: `statement`, then commit (or roll back).
    async fn write(store: &SqlStore, statement: String, commit: bool) -> Result<(), DbErr> {
        let unit = store
            .begin(&scope())
            .await
            .map_err(|error| DbErr::Custom(format!("{error:?}")))?;
        unit.execute_unprepared(&statement).await?;
        if commit {
            unit.commit().await
        } else {
            unit.rollback().await
        }
    }

    /// `statement` written by a writer of its own (see [`write`]).
    fn spawn_write(
        store: &SqlStore,
        statement: &str,
        commit: bool,
    ) -> tokio::task::JoinHandle<Result<(), DbErr>> {
        let (store, statement) = (store.clone(), statement.to_owned());
        tokio::spawn(async move { write(&store, statement, commit).await })
    }

    /// A unit of work that has begun (so holds the turn) and written `statement`.
    async fn begun_with(store: &SqlStore, statement: &str) -> UnitOfWork {
        let unit = store.begin(&scope()).await.expect("the unit begins");
        unit.execute_unprepared(statement).await.expect("writes");
        unit
    }

    /// A pragma's value on the unit's connection.
    async fn pragma(unit: &UnitOfWork, name: &str) -> i64 {
        unit.query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Sqlite,
            format!("PRAGMA {name}"),
        ))
        .await
        .expect("reads the pragma")
        .expect("a row")
        .try_get_by_index::<i64>(0)
        .expect("a number")
    }

    /// How many groups committed, and how many units they held.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct GroupCommitStats {
        groups: u64,
        units: u64,
    }

    fn stats(store: &SqlStore) -> GroupCommitStats {
        let groups = groups(store);
        GroupCommitStats {
            groups: groups.groups_committed.load(Ordering::Relaxed),
            units: groups.units_committed.load(Ordering::Relaxed),
        }
    }

    fn groups(store: &SqlStore) -> &WriteGroups {
        store
            .write_groups
            .as_deref()
            .expect("the store has write groups")
    }

    async fn until_waiting(store: &SqlStore, writers: usize) {
        while groups(store).turns.waiting() < writers {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_queued_together_share_one_commit_and_hear_of_it_only_once_it_is_durable() {
        let scratch = scratch("CREATE TABLE entries (id INTEGER PRIMARY KEY)").await;
        let store = &scratch.store;
        let first = begun_with(store, "INSERT INTO entries (id) VALUES (0)").await;
        assert_eq!(
            pragma(&first, "synchronous").await,
            2,
            "FULL: a commit waits for the disk"
        );
        assert_eq!(
            pragma(&first, "temp_store").await,
            2,
            "MEMORY: a savepoint's sub-journal needs no temporary directory (a read-only \
             root has none)"
        );
        let mut writers = Vec::new();
        for id in 1..=8 {
            let (store, reader) = (store.clone(), scratch.reader.clone());
            writers.push(tokio::spawn(async move {
                write(
                    &store,
                    format!("INSERT INTO entries (id) VALUES ({id})"),
                    true,
                )
                .await?;
                // Acknowledged: another connection must see it now.
                Ok::<_, DbErr>(committed_ids(&reader, "entries").await.contains(&id))
            }));
        }
        until_waiting(store, 8).await;
        assert!(
            committed_ids(&scratch.reader, "entries").await.is_empty(),
            "nothing is visible (or answered) before the group commits"
        );
        let first_answered = tokio::spawn(first.commit());
        first_answered
            .await
            .expect("ran")
            .expect("the first unit is committed with its group");
        for writer in writers {
            assert!(
                writer.await.expect("ran").expect("committed"),
                "a writer's row is visible once its commit returns"
            );
        }
        assert_eq!(
            committed_ids(&scratch.reader, "entries").await,
            (0..=8).collect::<Vec<_>>()
        );
        assert_eq!(
            stats(store),
            GroupCommitStats {
                groups: 1,
                units: 9
            },
            "nine units, one commit"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unit_that_rolls_back_or_is_dropped_undoes_only_its_own_writes() {
        let scratch = scratch("CREATE TABLE entries (id INTEGER PRIMARY KEY)").await;
        let store = &scratch.store;
        let first = begun_with(store, "INSERT INTO entries (id) VALUES (1)").await;
        let mut writers = Vec::new();
        for (position, (id, commit)) in [(2, true), (3, false), (4, true)].into_iter().enumerate() {
            writers.push(spawn_write(
                store,
                &format!("INSERT INTO entries (id) VALUES ({id})"),
                commit,
            ));
            until_waiting(store, position + 1).await;
        }
        let dropped = tokio::spawn({
            let store = store.clone();
            async move {
                let unit = store.begin(&scope()).await.expect("begins");
                unit.execute_unprepared("INSERT INTO entries (id) VALUES (5)")
                    .await
                    .expect("writes");
                // Ends without commit or rollback, as a request cancelled mid-work.
            }
        });
        until_waiting(store, 4).await;
        let last = spawn_write(store, "INSERT INTO entries (id) VALUES (6)", true);
        until_waiting(store, 5).await;
        first.commit().await.expect("committed with its group");
        for writer in writers {
            writer.await.expect("ran").expect("ends as asked");
        }
        dropped.await.expect("ran");
        last.await.expect("ran").expect("committed");
        assert_eq!(
            committed_ids(&scratch.reader, "entries").await,
            [1, 2, 4, 6]
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_whose_commit_fails_fails_every_member_and_the_next_group_writes() {
        let scratch = scratch(
            "CREATE TABLE parents (id INTEGER PRIMARY KEY); \
             CREATE TABLE children (id INTEGER PRIMARY KEY, \
               parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED)",
        )
        .await;
        let store = &scratch.store;
        let first = begun_with(store, "INSERT INTO parents (id) VALUES (1)").await;
        // Its savepoint releases, but the reference to a missing parent fails the
        // group's COMMIT (a deferred key is checked there).
        let orphan = spawn_write(
            store,
            "INSERT INTO children (id, parent) VALUES (1, 99)",
            true,
        );
        until_waiting(store, 1).await;
        let first_outcome = first.commit().await;
        let orphan_outcome = orphan.await.expect("ran");
        assert!(
            first_outcome.is_err(),
            "the first member is not told it is durable"
        );
        assert!(orphan_outcome.is_err(), "nor is the second");
        assert!(committed_ids(&scratch.reader, "parents").await.is_empty());
        assert!(committed_ids(&scratch.reader, "children").await.is_empty());
        assert_eq!(stats(store).groups, 0);
        write(
            store,
            "INSERT INTO parents (id) VALUES (2)".to_owned(),
            true,
        )
        .await
        .expect("the next group commits");
        assert_eq!(committed_ids(&scratch.reader, "parents").await, [2]);
    }

    /// A group handed on to a writer that then goes away (its request cancelled just
    /// as the turn came to it) would stay open, holding SQLite's lock, with its members
    /// waiting for whoever writes next: its watchdog ends it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_group_handed_to_a_writer_that_went_away_is_still_committed() {
        let scratch = scratch_with_age(
            "CREATE TABLE entries (id INTEGER PRIMARY KEY)",
            Duration::from_millis(50),
        )
        .await;
        let store = &scratch.store;
        let first = begun_with(store, "INSERT INTO entries (id) VALUES (1)").await;
        // A writer that waits for the turn, gets it, and leaves without writing.
        let vanishing = tokio::spawn({
            let store = store.clone();
            async move { drop(groups(&store).turns.take().await) }
        });
        until_waiting(store, 1).await;
        let committed = tokio::time::timeout(Duration::from_secs(10), first.commit()).await;
        vanishing.await.expect("ran");
        committed
            .expect("the member is answered without another writer coming")
            .expect("committed");
        assert_eq!(committed_ids(&scratch.reader, "entries").await, [1]);
    }

    /// Writers cancelled at random points (as requests are by their deadline or a
    /// client gone): every writer told its commit succeeded finds its row, and the
    /// database is left free for the next writer.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writers_cancelled_anywhere_never_lose_an_acknowledged_write() {
        let scratch =
            scratch_with_age("CREATE TABLE entries (id INTEGER PRIMARY KEY)", MAX_AGE).await;
        let store = &scratch.store;
        let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut writers = Vec::new();
        for id in 0..300_i64 {
            let (store, acknowledged) = (store.clone(), Arc::clone(&acknowledged));
            let writer = tokio::spawn(async move {
                let statement = format!("INSERT INTO entries (id) VALUES ({id})");
                if write(&store, statement, id % 7 != 0).await.is_ok() && id % 7 != 0 {
                    acknowledged.lock().expect("list").push(id);
                }
            });
            // Every third writer is cancelled after a pseudo-random few hundred µs.
            if id % 3 == 0 {
                let delay = Duration::from_micros(((id * 7919) % 1500) as u64);
                let abort = writer.abort_handle();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    abort.abort();
                });
            }
            writers.push(writer);
            if id % 25 == 0 {
                tokio::time::sleep(Duration::from_micros(300)).await;
            }
        }
        for writer in writers {
            let _ = writer.await;
        }
        let next = tokio::time::timeout(
            Duration::from_secs(10),
            write(
                store,
                "INSERT INTO entries (id) VALUES (1000)".to_owned(),
                true,
            ),
        )
        .await;
        next.expect("the next writer is not left waiting")
            .expect("the next writer commits");
        let stored = committed_ids(&scratch.reader, "entries").await;
        let acknowledged = acknowledged.lock().expect("list").clone();
        assert!(!acknowledged.is_empty());
        for id in &acknowledged {
            assert!(stored.contains(id), "acknowledged write {id} was lost");
        }
        for id in stored.iter().filter(|id| **id < 1000) {
            assert!(id % 7 != 0, "a rolled-back write {id} was kept");
        }
    }

    /// A runtime shutting down drops the tasks it still holds, and what they spawn on
    /// the way: a writer dropped then gives its turn back and stops there (an ended
    /// turn that spawned another turn's end recursed until the stack overflowed).
    #[test]
    fn a_runtime_shut_down_with_writers_mid_work_stops_cleanly() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let scratch = runtime.block_on(async {
            let scratch = scratch("CREATE TABLE entries (id INTEGER PRIMARY KEY)").await;
            for id in 0..3 {
                let store = scratch.store.clone();
                tokio::spawn(async move {
                    let unit = store.begin(&scope()).await.expect("begins");
                    unit.execute_unprepared(&format!("INSERT INTO entries (id) VALUES ({id})"))
                        .await
                        .expect("writes");
                    std::future::pending::<()>().await;
                    drop(unit);
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            scratch
        });
        drop(runtime);
        // The pool's connections go back to it in a runtime (sqlx needs one).
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(async move { drop(scratch) });
    }
}
