//! Search terms carry their call's start (`call_search_terms.started_at`), indexed
//! after the term, so a search's page is chosen from the terms alone.
//!
//! A search newest first used to look up every matching call to learn when it
//! started: a common surname (2,142 calls of a 100,000-call tenant) cost 2,142 index
//! probes into `calls` for a page of 50. With the start beside the term, the page is
//! the newest entries of one index range, and only its calls are read. A call's
//! `started_at` never changes once stored, so the copy cannot go stale; a trigger
//! dates terms inserted without it (a previous release's, during a rollout).
//!
//! Runs outside one transaction, like migration 13, so `calls` and the terms keep
//! taking writes: the column is added without a default (no rewrite) and filled
//! 10,000 calls at a time in id order. Then the index is built with a plain
//! `CREATE INDEX`, which pauses writes to the terms (new calls) while it sorts them:
//! `CONCURRENTLY` would wait for the other processes' transactions, and a process
//! waiting for its turn to migrate holds one open (see `docs/operations.md`). Every
//! step is idempotent, so an interrupted run is simply run again.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Calls whose terms are filled per statement.
const BATCH: u64 = 10_000;

const INDEX: &str = "call_search_terms_newest";

/// Terms inserted without a start (by a previous release's process during a rollout)
/// take their call's, so a search never misses their call. New code always states
/// it, and the trigger's condition is then false.
const DATE_LEGACY_TERMS_POSTGRES: &str = "
    CREATE OR REPLACE FUNCTION otto_search_term_start() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        NEW.started_at := (SELECT started_at FROM calls WHERE id = NEW.call_id);
        RETURN NEW;
    END $$;
    DROP TRIGGER IF EXISTS call_search_terms_start ON call_search_terms;
    CREATE TRIGGER call_search_terms_start BEFORE INSERT ON call_search_terms
        FOR EACH ROW WHEN (NEW.started_at IS NULL)
        EXECUTE FUNCTION otto_search_term_start();";

/// SQLite's triggers cannot change the row they fire for: it is dated right after.
const DATE_LEGACY_TERMS_SQLITE: &str = "
    CREATE TRIGGER IF NOT EXISTS call_search_terms_start AFTER INSERT ON call_search_terms
    WHEN NEW.started_at IS NULL
    BEGIN
        UPDATE call_search_terms
           SET started_at = (SELECT started_at FROM calls WHERE id = NEW.call_id)
         WHERE tenant_id = NEW.tenant_id AND term = NEW.term AND call_id = NEW.call_id;
    END;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// Each statement commits on its own (see the module's documentation).
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        if !manager
            .has_column("call_search_terms", "started_at")
            .await?
        {
            connection
                .execute_unprepared(if postgres {
                    "ALTER TABLE call_search_terms ADD COLUMN started_at timestamp with time zone NULL"
                } else {
                    "ALTER TABLE call_search_terms ADD COLUMN started_at timestamp_with_timezone_text NULL"
                })
                .await?;
        }
        connection
            .execute_unprepared(if postgres {
                DATE_LEGACY_TERMS_POSTGRES
            } else {
                DATE_LEGACY_TERMS_SQLITE
            })
            .await?;
        backfill(connection).await?;
        connection
            .execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS {INDEX} \
                 ON call_search_terms (tenant_id, term, started_at, call_id)"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        connection
            .execute_unprepared(&format!("DROP INDEX IF EXISTS {INDEX}"))
            .await?;
        connection
            .execute_unprepared(
                if manager.get_database_backend() == DatabaseBackend::Postgres {
                    "DROP TRIGGER IF EXISTS call_search_terms_start ON call_search_terms;
                     DROP FUNCTION IF EXISTS otto_search_term_start();"
                } else {
                    "DROP TRIGGER IF EXISTS call_search_terms_start"
                },
            )
            .await?;
        if manager
            .has_column("call_search_terms", "started_at")
            .await?
        {
            connection
                .execute_unprepared("ALTER TABLE call_search_terms DROP COLUMN started_at")
                .await?;
        }
        Ok(())
    }
}

/// The start of every existing call onto its terms, [`BATCH`] calls at a time in id
/// order (terms are found by their `call_id` index).
async fn backfill(connection: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = connection.get_database_backend();
    let mut after = Uuid::nil();
    loop {
        let batch = connection
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id FROM calls WHERE id > $1 ORDER BY id LIMIT $2",
                [after.into(), BATCH.into()],
            ))
            .await?;
        let Some(last) = batch.last() else {
            return Ok(());
        };
        let last: Uuid = last.try_get("", "id")?;
        connection
            .execute_raw(Statement::from_sql_and_values(
                backend,
                "UPDATE call_search_terms SET started_at = calls.started_at FROM calls \
                 WHERE calls.id = call_search_terms.call_id \
                 AND call_search_terms.call_id > $1 AND call_search_terms.call_id <= $2 \
                 AND call_search_terms.started_at IS NULL",
                [after.into(), last.into()],
            ))
            .await?;
        if (batch.len() as u64) < BATCH {
            return Ok(());
        }
        after = last;
    }
}
