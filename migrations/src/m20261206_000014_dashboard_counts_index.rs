//! `calls_tenant_started_counts`: the dashboard's one pass over a tenant's calls in a
//! time range reads only this index. Its keys are `(tenant_id, started_at)`; it also
//! carries every column the summary reads (`direction`, `answered`, `booked`, and
//! `id` for the SMS lookup), as `INCLUDE` columns on PostgreSQL (an index-only scan
//! once the table is vacuumed) and as trailing key columns on SQLite, which has no
//! `INCLUDE` but uses any index that holds the columns as covering.
//!
//! A plain `CREATE INDEX` (the migration runs in a transaction): writes to `calls`
//! wait while it builds. See `docs/operations.md#migrations-on-big-tables`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statement = if manager.get_database_backend() == DatabaseBackend::Postgres {
            "CREATE INDEX IF NOT EXISTS calls_tenant_started_counts ON calls \
             (tenant_id, started_at) INCLUDE (direction, answered, booked, id)"
        } else {
            "CREATE INDEX IF NOT EXISTS calls_tenant_started_counts ON calls \
             (tenant_id, started_at, direction, answered, booked, id)"
        };
        manager
            .get_connection()
            .execute_unprepared(statement)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .if_exists()
                    .name("calls_tenant_started_counts")
                    .table(Alias::new("calls"))
                    .to_owned(),
            )
            .await
    }
}
