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
//! Existing calls get their terms here, made by `search_terms` itself on both
//! databases: PostgreSQL's `lower()` and `\s` follow the database's locale (a `C`
//! database leaves `É` upper-case; `Σ` and U+00A0 differ under any), so terms made in
//! SQL would not be the ones a search looks for.
//!
//! It runs outside one transaction, so a big `calls` table keeps taking writes: a
//! foreign key to `calls` locks it against writes (`SHARE ROW EXCLUSIVE`) until the
//! transaction that creates the key commits, and a backfill of 1,000,000 calls in that
//! transaction stopped webhook ingest for a minute. Here the table is created and
//! committed at once, then calls are read 10,000 at a time in id order and their terms
//! inserted 1,000 rows per statement (reading `calls` never blocks its writers). Every step is idempotent, so a
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

/// Calls read per batch of the backfill.
const BATCH: u64 = 10_000;

/// Terms inserted per statement (three parameters each, well under both databases'
/// limits).
const TERMS_PER_INSERT: usize = 1_000;

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
        } else {
            connection.execute_unprepared(CREATE_SQLITE).await?;
        }
        backfill(connection).await
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

/// Every existing call's terms, [`BATCH`] calls at a time in id order.
async fn backfill(connection: &SchemaManagerConnection<'_>) -> Result<(), DbErr> {
    let backend = connection.get_database_backend();
    let mut after = Uuid::nil();
    loop {
        let rows = connection
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT id, tenant_id, customer_name, customer_number FROM calls \
                 WHERE id > $1 ORDER BY id LIMIT $2",
                [after.into(), BATCH.into()],
            ))
            .await?;
        let mut terms: Vec<[Value; 3]> = Vec::new();
        for row in &rows {
            let id: Uuid = row.try_get("", "id")?;
            let tenant: String = row.try_get("", "tenant_id")?;
            let name: Option<String> = row.try_get("", "customer_name")?;
            let number: Option<String> = row.try_get("", "customer_number")?;
            for term in otto_core::calls::search_terms(name.as_deref(), number.as_deref()) {
                terms.push([tenant.clone().into(), term.into(), id.into()]);
            }
            after = id;
        }
        for chunk in terms.chunks(TERMS_PER_INSERT) {
            let placeholders: Vec<String> = (0..chunk.len())
                .map(|row| format!("(${}, ${}, ${})", 3 * row + 1, 3 * row + 2, 3 * row + 3))
                .collect();
            connection
                .execute_raw(Statement::from_sql_and_values(
                    backend,
                    format!(
                        "INSERT INTO call_search_terms (tenant_id, term, call_id) VALUES {} \
                         ON CONFLICT DO NOTHING",
                        placeholders.join(", ")
                    ),
                    chunk.iter().flat_map(|values| values.iter().cloned()),
                ))
                .await?;
        }
        if (rows.len() as u64) < BATCH {
            return Ok(());
        }
    }
}
