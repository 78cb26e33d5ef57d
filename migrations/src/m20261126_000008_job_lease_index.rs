//! The index a lease reads: due jobs in the exact order they are leased.
//!
//! `jobs_due` was `(status, run_at)`, so `ORDER BY run_at, id` still needed a sort.
//! Whenever the planner's statistics lagged behind a sudden backlog (a table that
//! was nearly empty at the last ANALYZE and now holds thousands of queued jobs), it
//! chose to collect and sort every queued job on each lease. With `id` in the index,
//! the lease's order is the index's order and the first due job is one index read
//! away once statistics exist.
//!
//! Statistics are the other half: a backlog arrives in seconds (a backfill, a burst
//! of webhooks) while autovacuum analyzes a table only after a tenth of its rows
//! changed. Until then the planner believes the queue nearly empty and sorts every
//! queued job on each lease. On PostgreSQL, `jobs` is therefore analyzed after a few
//! hundred changed rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Jobs {
    Table,
    Status,
    RunAt,
    Id,
}

/// The index before this migration.
const OLD_INDEX: &str = "jobs_due";
/// Its replacement, under a new name: SQLite pools can hold a connection whose
/// schema snapshot still lists a just-dropped index, so reusing the name fails.
const NEW_INDEX: &str = "jobs_lease_order";

fn index(name: &str, columns: &[Jobs]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(Jobs::Table);
    for column in columns {
        index.col(*column);
    }
    index.to_owned()
}

fn drop(name: &str) -> IndexDropStatement {
    Index::drop().name(name).table(Jobs::Table).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(NEW_INDEX, &[Jobs::Status, Jobs::RunAt, Jobs::Id]))
            .await?;
        manager.drop_index(drop(OLD_INDEX)).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE jobs SET (autovacuum_analyze_threshold = 500, \
                     autovacuum_analyze_scale_factor = 0.01)",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index(OLD_INDEX, &[Jobs::Status, Jobs::RunAt]))
            .await?;
        manager.drop_index(drop(NEW_INDEX)).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE jobs RESET (autovacuum_analyze_threshold, \
                     autovacuum_analyze_scale_factor)",
                )
                .await?;
        }
        Ok(())
    }
}
