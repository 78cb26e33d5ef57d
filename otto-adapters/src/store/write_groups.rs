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
//! only its savepoint. The commit itself runs in a task of its own, holding the turn,
//! so a request cancelled mid-commit cannot leave the other members waiting.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use otto_core::ports::StoreError;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedSemaphorePermit, oneshot};

use super::store_error;
use super::write_turns::WriteTurns;

/// Most units of work one commit makes durable.
pub(super) const MAX_UNITS: usize = 64;

/// Longest a group stays open while writers keep arriving: the first member's wait
/// for its answer beyond its own work.
pub(super) const MAX_AGE: Duration = Duration::from_millis(10);

/// One process's writers on the embedded database: their queue and the group of
/// units currently open.
#[derive(Debug)]
pub(super) struct WriteGroups {
    turns: WriteTurns,
    /// Touched only by the writer holding the turn. An async lock held across the
    /// savepoint's `begin`, so a request cancelled there leaves the group in place
    /// (sqlx undoes a `SAVEPOINT` that was sent but not acknowledged).
    open: Mutex<Option<OpenGroup>>,
    max_units: usize,
    max_age: Duration,
    groups_committed: AtomicU64,
    units_committed: AtomicU64,
}

#[derive(Debug)]
struct OpenGroup {
    transaction: DatabaseTransaction,
    opened_at: Instant,
    units: usize,
    /// Members whose savepoint is released, waiting for the group's commit.
    members: Vec<oneshot::Sender<Result<(), DbErr>>>,
}

/// How many groups committed, and how many units they held (for tests and figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Commits of a group that held at least one released unit.
    pub groups: u64,
    /// Units made durable by those commits.
    pub units: u64,
}

/// A writer's turn: it ends with [`Turn::released`] or [`Turn::abandoned`], which
/// hand the group on or end it.
#[derive(Debug)]
pub(super) struct Turn {
    permit: OwnedSemaphorePermit,
    groups: Arc<WriteGroups>,
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
            groups_committed: AtomicU64::new(0),
            units_committed: AtomicU64::new(0),
        }
    }

    pub(super) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            groups: self.groups_committed.load(Ordering::Relaxed),
            units: self.units_committed.load(Ordering::Relaxed),
        }
    }

    /// Waits for this writer's turn and opens its savepoint in the current group (or
    /// in a new one).
    pub(super) async fn join(
        self: &Arc<Self>,
        db: &DatabaseConnection,
    ) -> Result<(DatabaseTransaction, Turn), StoreError> {
        let permit = self.turns.take().await?;
        let turn = Turn {
            permit,
            groups: Arc::clone(self),
        };
        let mut open = self.open.lock().await;
        if open.is_none() {
            let transaction = db
                .begin_with_options(TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                })
                .await
                .map_err(store_error)?;
            *open = Some(OpenGroup {
                transaction,
                opened_at: Instant::now(),
                units: 0,
                members: Vec::new(),
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
                turn.end(None, true).await;
                Err(store_error(error))
            }
        }
    }
}

impl Turn {
    /// The unit's savepoint was released: waits for its group to commit.
    pub(super) async fn released(self) -> Result<(), DbErr> {
        let (member, committed) = oneshot::channel();
        self.end(Some(member), false).await;
        committed.await.unwrap_or_else(|_| {
            Err(DbErr::Custom(
                "the embedded database's group commit ended without an outcome".to_owned(),
            ))
        })
    }

    /// The unit rolled back to its savepoint (`broken` when even that failed, and the
    /// group's transaction can no longer be trusted).
    pub(super) async fn abandoned(self, broken: bool) {
        self.end(None, broken).await;
    }

    /// Hands the group on to the next writer, or ends it: commits it (rolls it back
    /// when `broken`) and tells its members.
    async fn end(self, member: Option<oneshot::Sender<Result<(), DbErr>>>, broken: bool) {
        let groups = Arc::clone(&self.groups);
        let mut open = groups.open.lock().await;
        let Some(mut group) = open.take() else {
            if let Some(member) = member {
                let _ = member.send(Err(DbErr::Custom(
                    "the embedded database's write group is gone".to_owned(),
                )));
            }
            return;
        };
        if let Some(member) = member {
            group.units += 1;
            group.members.push(member);
        }
        let goes_on = !broken
            && groups.turns.waiting() > 0
            && group.units < groups.max_units
            && group.opened_at.elapsed() < groups.max_age;
        if goes_on {
            *open = Some(group);
            return;
        }
        drop(open);
        let permit = self.permit;
        let ending = tokio::spawn(async move {
            let outcome = if broken {
                let _ = group.transaction.rollback().await;
                Err(DbErr::Custom(
                    "the embedded database's write group was rolled back after a failed \
                     savepoint"
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
            // The next writer may begin only once this commit has released SQLite's
            // write lock.
            drop(permit);
        });
        let _ = ending.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::{self, PoolSettings};
    use crate::store::SqlStore;
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
        store.write_groups = Some(Arc::new(WriteGroups::with_limits(
            256,
            MAX_UNITS,
            Duration::from_secs(3600),
        )));
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
        let first = store.begin(&scope()).await.expect("the first unit begins");
        let synchronous = first
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Sqlite,
                "PRAGMA synchronous",
            ))
            .await
            .expect("reads the pragma")
            .expect("a row")
            .try_get_by_index::<i64>(0)
            .expect("a number");
        assert_eq!(synchronous, 2, "FULL: a commit waits for the disk");
        first
            .execute_unprepared("INSERT INTO entries (id) VALUES (0)")
            .await
            .expect("writes");
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
        let first_answered = tokio::spawn(first.commit());
        tokio::task::yield_now().await;
        assert!(
            committed_ids(&scratch.reader, "entries").await.is_empty(),
            "nothing is visible (or answered) before the group commits"
        );
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
            groups(store).stats(),
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
        let first = store.begin(&scope()).await.expect("the first unit begins");
        first
            .execute_unprepared("INSERT INTO entries (id) VALUES (1)")
            .await
            .expect("writes");
        let mut writers = Vec::new();
        for (position, (id, commit)) in [(2, true), (3, false), (4, true)].into_iter().enumerate() {
            let writer = store.clone();
            writers.push(tokio::spawn(async move {
                write(
                    &writer,
                    format!("INSERT INTO entries (id) VALUES ({id})"),
                    commit,
                )
                .await
            }));
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
        let last = tokio::spawn({
            let store = store.clone();
            async move {
                write(
                    &store,
                    "INSERT INTO entries (id) VALUES (6)".to_owned(),
                    true,
                )
                .await
            }
        });
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
        let first = store.begin(&scope()).await.expect("the first unit begins");
        first
            .execute_unprepared("INSERT INTO parents (id) VALUES (1)")
            .await
            .expect("writes");
        // Its savepoint releases, but the reference to a missing parent fails the
        // group's COMMIT (a deferred key is checked there).
        let orphan = tokio::spawn({
            let store = store.clone();
            async move {
                write(
                    &store,
                    "INSERT INTO children (id, parent) VALUES (1, 99)".to_owned(),
                    true,
                )
                .await
            }
        });
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
        assert_eq!(groups(store).stats().groups, 0);
        write(
            store,
            "INSERT INTO parents (id) VALUES (2)".to_owned(),
            true,
        )
        .await
        .expect("the next group commits");
        assert_eq!(committed_ids(&scratch.reader, "parents").await, [2]);
    }
}
