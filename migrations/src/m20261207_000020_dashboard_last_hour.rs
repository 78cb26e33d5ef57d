//! The dashboard's marks watch every hour that has ended, so the store can keep an
//! hour's figures from a quarter of an hour after it ends, where it waited three hours.
//!
//! Migration 18 left the last two hours unwatched: a write there took no row lock, and
//! a summary counted its last three to four hours from the calls themselves, which for
//! a busy tenant are the densest hours of all (some 260 of the biggest seeded tenant's
//! calls per request, about as much as the rest of a 30-day summary together). Now only
//! a write whose hour has not ended yet (today's calls as they arrive) returns at the
//! first test; one for the previous hour (a call that began before the hour turned and
//! is reported after) marks it, holding the tenant's hour row until it commits, as
//! late writes to a day hold the day's.
//!
//! The store keeps an hour only once it ended a quarter of an hour ago
//! (`HOURS_KEPT_AFTER`): a write whose mark was skipped because its hour had not ended
//! must commit, and the application's clock must agree with the database's, within
//! that quarter of an hour.
//!
//! On PostgreSQL the marking function is replaced (migration 19's, with the new first
//! test), so its triggers stay as they are; on SQLite the triggers are recreated. No
//! table changes: only the brief locks of `CREATE OR REPLACE FUNCTION` (SQLite: of its
//! triggers).

use sea_orm_migration::prelude::*;

use crate::m20261206_000015_dashboard_days::{
    SQLITE_DROP_TRIGGERS, sqlite_day_mark, sqlite_triggers,
};
use crate::m20261206_000018_dashboard_hours::{postgres_mark_unwatched, sqlite_hour_mark_watched};
use crate::m20261207_000019_dashboard_months::{
    POSTGRES_MONTH_MARK, sqlite_marks, sqlite_month_mark,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// A write is unwatched while its hour has not ended.
const POSTGRES_UNWATCHED_THIS_HOUR: &str = "at_hour >= date_trunc('hour', now_utc)";

/// SQLite watches hours up to the one before the current one.
const SQLITE_WATCHED_TO_LAST_HOUR: &str = "< strftime('%Y-%m-%dT%H', 'now')";

fn postgres_up() -> String {
    postgres_mark_unwatched(POSTGRES_UNWATCHED_THIS_HOUR, POSTGRES_MONTH_MARK)
}

fn postgres_down() -> String {
    crate::m20261206_000018_dashboard_hours::postgres_mark(POSTGRES_MONTH_MARK)
}

/// The hour's (now up to the last hour), day's and month's marks, in migration 19's
/// order.
fn sqlite_marks_to_last_hour(tenant: &str, at: &str) -> String {
    format!(
        "{} {} {}",
        sqlite_hour_mark_watched(tenant, at, SQLITE_WATCHED_TO_LAST_HOUR),
        sqlite_day_mark(tenant, at),
        sqlite_month_mark(tenant, at)
    )
}

fn sqlite_up() -> String {
    format!(
        "{SQLITE_DROP_TRIGGERS} {triggers}",
        triggers = sqlite_triggers(&sqlite_marks_to_last_hour)
    )
}

fn sqlite_down() -> String {
    format!(
        "{SQLITE_DROP_TRIGGERS} {triggers}",
        triggers = sqlite_triggers(&sqlite_marks)
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
