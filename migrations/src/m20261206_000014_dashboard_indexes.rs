//! The dashboard summary's indexes, so its cost is the range's calls, read once:
//!
//! - `calls_tenant_started_counts`: keys `(tenant_id, started_at)`, carrying every
//!   column the summary reads (`direction`, `answered`, `booked`, and `id` for the SMS
//!   lookup): `INCLUDE` columns on PostgreSQL (an index-only scan once the table is
//!   vacuumed), trailing key columns on SQLite, which has no `INCLUDE` but uses any
//!   index holding the columns as covering.
//! - `outbound_actions_call_id`: whether a missed call was recovered by text looks up
//!   the call's actions. Without it each missed call read every SMS action of the
//!   tenant (measured: 519 missed calls × 173 actions, 36,000 buffers, 99 ms for a
//!   6,000-call tenant's year).
//!
//! Plain `CREATE INDEX` (the migration runs in a transaction): writes to each table
//! wait while its index builds. See `docs/operations.md#migrations-on-big-tables`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let counts = if manager.get_database_backend() == DatabaseBackend::Postgres {
            "CREATE INDEX IF NOT EXISTS calls_tenant_started_counts ON calls \
             (tenant_id, started_at) INCLUDE (direction, answered, booked, id)"
        } else {
            "CREATE INDEX IF NOT EXISTS calls_tenant_started_counts ON calls \
             (tenant_id, started_at, direction, answered, booked, id)"
        };
        let connection = manager.get_connection();
        connection.execute_unprepared(counts).await?;
        connection
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS outbound_actions_call_id \
                 ON outbound_actions (call_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("calls_tenant_started_counts", "calls"),
            ("outbound_actions_call_id", "outbound_actions"),
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .if_exists()
                        .name(name)
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
