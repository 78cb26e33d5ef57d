//! `dashboard_settled_hours`: the dashboard's figures per tenant and hour of a settled
//! day, so a range that starts (or ends) inside a settled day reads that day's whole
//! hours in it where it counted up to half the day from the calls.
//!
//! A range's first day is almost always partial (the last 30 days start at this time
//! of day, 30 days ago), and the store counted the smaller side of it: up to twelve
//! hours of calls per summary, about a hundred at the biggest seeded tenant, which kept
//! a 30-day summary at 0.8 of its throughput on a small database.
//!
//! No triggers mark these rows. A row holds the `generation` its day's
//! `dashboard_days` row had when the hour was counted (0 without a row), and is valid
//! only while the day's generation is still that one: every write that changes a
//! settled day's figures bumps it (migrations 15 to 20), and a day's row is never
//! deleted, so its generation never repeats. A summary checks this in the statement
//! that reads the hours. `kept_on` (the day a row was counted, `YYYY-MM-DD`) lets the
//! store forget rows counted before yesterday: a range's first day moves on each day,
//! and so do the hours it reads.
//!
//! An empty table, no triggers, no backfill: only the brief lock of `CREATE TABLE`.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::m20261206_000015_dashboard_days::figures_table_with;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLE: &str = "dashboard_settled_hours";

fn up(backend: DatabaseBackend) -> String {
    figures_table_with(
        backend,
        TABLE,
        "utc_hour",
        "\n            kept_on text NOT NULL DEFAULT '',",
    )
}

fn down() -> String {
    format!("DROP TABLE IF EXISTS {TABLE};")
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_per_backend(
            manager,
            || up(DatabaseBackend::Postgres),
            || up(DatabaseBackend::Sqlite),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_per_backend(manager, down, down).await
    }
}
