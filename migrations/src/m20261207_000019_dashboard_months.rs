//! `dashboard_months`: the dashboard's figures per tenant and UTC month, so a summary
//! over a year reads about a dozen kept rows where it read some 360 kept days.
//!
//! The days a tenant's late writes (an import, a provider's backfill, or a seeded
//! history) create lie interleaved with every other tenant's across
//! `dashboard_days`, so a year of one tenant's days costs a page per few days. A month
//! row stands for its month's days: the store keeps it the way it keeps days (a cache
//! filled when a summary first needs a month whose every day is settled), and the same
//! marks that make a settled day stale make its month stale (bump its `generation`),
//! in the same statement. A summary reads the whole months of its settled days from
//! here and only the days before and after them from `dashboard_days`.
//!
//! On PostgreSQL the marking function is replaced (migration 18's, with the month's
//! mark beside the day's), so its triggers stay as they are; on SQLite the triggers
//! are recreated with the three marks. An empty table, no backfill: only the brief
//! locks of `CREATE TABLE` and `CREATE OR REPLACE FUNCTION` (SQLite: of its triggers).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::m20261206_000015_dashboard_days::{
    SQLITE_DROP_TRIGGERS, figures_table, sqlite_triggers,
};
use crate::m20261206_000018_dashboard_hours::{postgres_mark, sqlite_hour_and_day_mark};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The month's mark, run where the marking function marks a settled day (over its
/// `tenant` and `at_hour`), just before the day's: a writer takes a day's row lock
/// only while holding its month's, so no writer ever waits for a day's row (whoever
/// holds it holds the month's, which the waiter would already need), and two
/// transactions writing days of one month in opposite orders queue on the month where
/// they would deadlock on the days. Late writes to one tenant's month queue on its row
/// until commit, as those to one day did.
pub(crate) const POSTGRES_MONTH_MARK: &str =
    "INSERT INTO dashboard_months (tenant_id, utc_month, generation, counted)
                VALUES (tenant, to_char(at_hour, 'YYYY-MM'), 1, false)
                ON CONFLICT (tenant_id, utc_month) DO UPDATE
                    SET generation = dashboard_months.generation + 1, counted = false;
                ";

fn postgres_up() -> String {
    format!(
        "{table}
        {mark}",
        table = figures_table(DatabaseBackend::Postgres, "dashboard_months", "utc_month"),
        mark = postgres_mark(POSTGRES_MONTH_MARK)
    )
}

fn postgres_down() -> String {
    format!(
        "{mark} DROP TABLE IF EXISTS dashboard_months;",
        mark = postgres_mark("")
    )
}

/// SQLite's statement marking the month of `at` stale under the day's rule (its day
/// ended before yesterday). Times are stored as RFC 3339 text in UTC, so the month is
/// the first seven characters (`YYYY-MM`).
pub(crate) fn sqlite_month_mark(tenant: &str, at: &str) -> String {
    format!(
        "INSERT INTO dashboard_months (tenant_id, utc_month, generation, counted)
             SELECT {tenant}, substr({at}, 1, 7), 1, 0
             WHERE ({at}) IS NOT NULL AND substr({at}, 1, 10) < date('now', '-1 day')
             ON CONFLICT (tenant_id, utc_month) DO UPDATE
                 SET generation = generation + 1, counted = 0;"
    )
}

/// The hour's, day's and month's marks (one writer at a time: the order does not
/// matter).
pub(crate) fn sqlite_marks(tenant: &str, at: &str) -> String {
    format!(
        "{} {}",
        sqlite_hour_and_day_mark(tenant, at),
        sqlite_month_mark(tenant, at)
    )
}

fn sqlite_up() -> String {
    format!(
        "{table}
        {SQLITE_DROP_TRIGGERS}
        {triggers}",
        table = figures_table(DatabaseBackend::Sqlite, "dashboard_months", "utc_month"),
        triggers = sqlite_triggers(&sqlite_marks)
    )
}

fn sqlite_down() -> String {
    format!(
        "{SQLITE_DROP_TRIGGERS} {triggers} DROP TABLE IF EXISTS dashboard_months;",
        triggers = sqlite_triggers(&sqlite_hour_and_day_mark)
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_per_backend(manager, postgres_up, sqlite_up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_per_backend(manager, postgres_down, sqlite_down).await
    }
}
