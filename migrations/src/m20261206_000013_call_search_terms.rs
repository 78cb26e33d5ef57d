//! `call_search_terms`: the calls list's text search as index seeks.
//!
//! Each call has one row per term of its customer (`otto_core::calls::search_terms`:
//! the number's digits reversed, each lower-cased word of the name), and a search is
//! a prefix range over `(tenant_id, term)`. The alternative, `LIKE '%…%'` over
//! `calls` (with or without a `pg_trgm` index), cannot seek under row-level security:
//! PostgreSQL applies a policy's condition before any operator that is not
//! `LEAKPROOF`, and `LIKE` is not, so as the application role a trigram index is never
//! used and a rare search read every call of the tenant. `=`, `<` and `>=` on text are
//! leakproof. The column sorts bytewise (`COLLATE "C"`), so a prefix range is exact in
//! any database locale.
//!
//! Existing calls get their terms here: in SQL on PostgreSQL (the same rule as
//! `search_terms`: lower-case, split on white space, at most 16 words and 64
//! characters per term), through `search_terms` itself on SQLite.
//!
//! It runs outside one transaction, so a big `calls` table keeps taking writes: a
//! foreign key to `calls` locks it against writes (`SHARE ROW EXCLUSIVE`) until the
//! transaction that creates the key commits, and a backfill of 1,000,000 calls in that
//! transaction stopped webhook ingest for a minute. Here the table is created and
//! committed at once, then calls are indexed in batches of 10,000 (each its own
//! statement, reading `calls` without blocking it). Every step is idempotent, so a
//! migration interrupted halfway is run again from the start.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::prelude::Uuid;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement, Value};

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TENANT: &str = "(SELECT otto_tenant())";
const PLATFORM: &str =
    "(SELECT otto_platform()) OR (SELECT pg_has_role(current_user, 'otto_platform', 'MEMBER'))";

const CREATE_POSTGRES: &str = "CREATE TABLE IF NOT EXISTS call_search_terms (
        tenant_id varchar NOT NULL,
        term text COLLATE \"C\" NOT NULL,
        call_id uuid NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
        PRIMARY KEY (tenant_id, term, call_id)
    );
    CREATE INDEX IF NOT EXISTS call_search_terms_call_id ON call_search_terms (call_id);";

const CREATE_SQLITE: &str = "CREATE TABLE IF NOT EXISTS call_search_terms (
        tenant_id varchar NOT NULL,
        term text NOT NULL,
        call_id uuid_text NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
        PRIMARY KEY (tenant_id, term, call_id)
    );
    CREATE INDEX IF NOT EXISTS call_search_terms_call_id ON call_search_terms (call_id);";

/// The terms of the existing calls with `$1 < id <= $2`, as
/// `otto_core::calls::search_terms` makes them.
const BACKFILL_POSTGRES: &str = "INSERT INTO call_search_terms (tenant_id, term, call_id)
    SELECT c.tenant_id, left('w' || w.word, 64), c.id
      FROM calls c,
           LATERAL (SELECT word, row_number() OVER () AS position
                      FROM regexp_split_to_table(lower(c.customer_name), '\\s+') AS word
                     WHERE word <> '') AS w
     WHERE c.id > $1 AND c.id <= $2 AND w.position <= 16
    UNION
    SELECT c.tenant_id, left('n' || reverse(regexp_replace(c.customer_number, '[^0-9]', '', 'g')), 64), c.id
      FROM calls c
     WHERE c.id > $1 AND c.id <= $2
       AND regexp_replace(c.customer_number, '[^0-9]', '', 'g') <> ''
    ON CONFLICT DO NOTHING";

/// Calls indexed per backfill statement.
const BATCH: u64 = 10_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// Each statement commits on its own (see the module's documentation).
    fn use_transaction(&self) -> Option<bool> {
        Some(false)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            connection.execute_unprepared(CREATE_POSTGRES).await?;
            connection
                .execute_unprepared(&format!(
                    "ALTER TABLE call_search_terms ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE call_search_terms FORCE ROW LEVEL SECURITY;
                     DROP POLICY IF EXISTS tenant_isolation ON call_search_terms;
                     DROP POLICY IF EXISTS platform_access ON call_search_terms;
                     CREATE POLICY tenant_isolation ON call_search_terms
                         USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT});
                     CREATE POLICY platform_access ON call_search_terms
                         USING ({PLATFORM}) WITH CHECK ({PLATFORM});
                     GRANT SELECT, INSERT, UPDATE, DELETE ON call_search_terms TO {APP_ROLE};"
                ))
                .await?;
            backfill_postgres(connection).await?;
        } else {
            connection.execute_unprepared(CREATE_SQLITE).await?;
            backfill_sqlite(connection).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(
                Table::drop()
                    .table(Alias::new("call_search_terms"))
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

/// PostgreSQL's calls, [`BATCH`] at a time in id order.
async fn backfill_postgres(connection: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let mut after = Uuid::nil();
    loop {
        let last = connection
            .query_one_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT id AS last FROM \
                 (SELECT id FROM calls WHERE id > $1 ORDER BY id LIMIT $2) AS batch \
                 ORDER BY id DESC LIMIT 1",
                [after.into(), BATCH.into()],
            ))
            .await?
            .and_then(|row| row.try_get::<Uuid>("", "last").ok());
        let Some(last) = last else {
            return Ok(());
        };
        connection
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                BACKFILL_POSTGRES,
                [after.into(), last.into()],
            ))
            .await?;
        after = last;
    }
}

/// The embedded database's calls, a batch at a time in id order.
async fn backfill_sqlite(connection: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let mut after = Uuid::nil();
    loop {
        let rows = connection
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT id, tenant_id, customer_name, customer_number FROM calls \
                 WHERE id > $1 ORDER BY id LIMIT $2",
                [after.into(), BATCH.into()],
            ))
            .await?;
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let tenant: String = row.try_get("", "tenant_id")?;
            let name: Option<String> = row.try_get("", "customer_name")?;
            let number: Option<String> = row.try_get("", "customer_number")?;
            for term in otto_core::calls::search_terms(name.as_deref(), number.as_deref()) {
                connection
                    .execute_raw(Statement::from_sql_and_values(
                        DatabaseBackend::Sqlite,
                        "INSERT OR IGNORE INTO call_search_terms (tenant_id, term, call_id) \
                         VALUES ($1, $2, $3)",
                        [Value::from(tenant.clone()), term.into(), id.into()],
                    ))
                    .await?;
            }
            after = id;
        }
        if (rows.len() as u64) < BATCH {
            return Ok(());
        }
    }
}
