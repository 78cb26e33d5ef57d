//! `dashboard_hours`: the dashboard's figures per tenant and UTC hour of the recent
//! days, so a summary counts at most the last few hours from the calls themselves.
//!
//! `dashboard_days` (migration 15) keeps only days that ended two days ago or more, so
//! every summary up to now counted the last two days and today from their calls: for
//! a busy tenant, thousands of calls per request. This table keeps their hours the same
//! way: a row is a cache the store fills when a summary first needs the hour, for hours
//! that ended at least three hours ago, and the same triggers mark it stale (bump its
//! `generation`) when a late write changes its figures. They watch hours that ended at
//! least an hour ago and began less than four days ago (by the statement's clock): the
//! store reads hours of the last three days only. Older rows are removed as new ones
//! are made, by the store as it keeps hours and by a mark that creates a row, so the
//! table holds a few days of hours per tenant.
//!
//! A write for the last two hours (today's calls as they arrive) still costs one
//! comparison. On PostgreSQL the marking function of migration 15 is replaced, so its
//! triggers stay as they are; on SQLite the triggers are recreated with both marks.
//! An empty table, no backfill: only the brief locks of `CREATE TABLE` and
//! `CREATE OR REPLACE FUNCTION` (SQLite: of its triggers).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::m20261206_000015_dashboard_days::{
    POSTGRES_DAY_MARK, SQLITE_DROP_TRIGGERS, figures_table, sqlite_day_mark, sqlite_triggers,
};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// This migration's test for a write whose hour is not watched: the hour began less
/// than two hours ago (it ended less than an hour ago, or has not ended).
const POSTGRES_UNWATCHED_LAST_TWO_HOURS: &str = "at_hour > now_utc - interval '2 hours'";

/// [`postgres_mark_unwatched`] with this migration's watch: hours that ended at least
/// an hour ago. Migration 19 replaces the function with its month's mark among
/// `settled_marks`.
pub(crate) fn postgres_mark(settled_marks: &str) -> String {
    postgres_mark_unwatched(POSTGRES_UNWATCHED_LAST_TWO_HOURS, settled_marks)
}

/// Marks the tenant's hour of `at` stale unless `unwatched` (a test over `at_hour` and
/// `now_utc`) holds or it began four days ago or more, and its day as migration 15 did
/// (ended before yesterday), with `settled_marks` (statements over `tenant` and
/// `at_hour`, ending in a newline and the day's indent) run just before the day's.
/// The first test returns for the unwatched recent hours, where today's writes land. A
/// mark that creates an hour's row also removes the tenant's hours older than five
/// days, which no summary reads and no mark recreates: rows that only marks created (a
/// tenant whose dashboard is never asked for) stay a few days' worth. Migration 20
/// watches every hour that ended.
pub(crate) fn postgres_mark_unwatched(unwatched: &str, settled_marks: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION \
    otto_dashboard_day_changed(tenant varchar, at timestamptz)
        RETURNS void LANGUAGE plpgsql AS $$
        DECLARE
            at_hour timestamp := date_trunc('hour', at AT TIME ZONE 'UTC');
            now_utc timestamp := statement_timestamp() AT TIME ZONE 'UTC';
            created boolean;
        BEGIN
            IF at IS NULL OR {unwatched} THEN
                RETURN;
            END IF;
            IF at_hour >= now_utc - interval '4 days' THEN
                INSERT INTO dashboard_hours (tenant_id, utc_hour, generation, counted)
                VALUES (tenant, to_char(at_hour, 'YYYY-MM-DD\"T\"HH24'), 1, false)
                ON CONFLICT (tenant_id, utc_hour) DO UPDATE
                    SET generation = dashboard_hours.generation + 1, counted = false
                RETURNING xmax = 0 INTO created;
                IF created THEN
                    DELETE FROM dashboard_hours WHERE tenant_id = tenant
                        AND utc_hour < to_char(now_utc - interval '5 days',
                            'YYYY-MM-DD\"T\"HH24');
                END IF;
            END IF;
            IF at_hour::date < now_utc::date - 1 THEN
                {settled_marks}INSERT INTO dashboard_days (tenant_id, day, generation, counted)
                VALUES (tenant, to_char(at_hour, 'YYYY-MM-DD'), 1, false)
                ON CONFLICT (tenant_id, day) DO UPDATE
                    SET generation = dashboard_days.generation + 1, counted = false;
            END IF;
        END $$;"
    )
}

fn postgres_up() -> String {
    format!(
        "{table}
        {mark}",
        table = figures_table(DatabaseBackend::Postgres, "dashboard_hours", "utc_hour"),
        mark = postgres_mark("")
    )
}

fn postgres_down() -> String {
    format!("{POSTGRES_DAY_MARK} DROP TABLE IF EXISTS dashboard_hours;")
}

/// This migration's bound on the newest hour SQLite watches (compared with its key):
/// the one that began two hours ago.
const SQLITE_WATCHED_TO_TWO_HOURS_AGO: &str = "<= strftime('%Y-%m-%dT%H', 'now', '-2 hours')";

/// SQLite's statements marking the hour of `at` stale, under the same rule as
/// PostgreSQL's, and removing the tenant's hours older than five days with each mark
/// (one writer at a time, so no lock to spare).
pub(crate) fn sqlite_hour_mark(tenant: &str, at: &str) -> String {
    sqlite_hour_mark_watched(tenant, at, SQLITE_WATCHED_TO_TWO_HOURS_AGO)
}

/// [`sqlite_hour_mark`] watching hours from four days ago to the one whose key compares
/// with `newest` (a comparison and a key: `< strftime(...)`). Times are stored as RFC
/// 3339 text in UTC, so the hour is the first thirteen characters (`YYYY-MM-DDTHH`).
pub(crate) fn sqlite_hour_mark_watched(tenant: &str, at: &str, newest: &str) -> String {
    let hour = format!("replace(substr({at}, 1, 13), ' ', 'T')");
    format!(
        "INSERT INTO dashboard_hours (tenant_id, utc_hour, generation, counted)
             SELECT {tenant}, {hour}, 1, 0
             WHERE ({at}) IS NOT NULL
                 AND {hour} {newest}
                 AND {hour} >= strftime('%Y-%m-%dT%H', 'now', '-4 days')
             ON CONFLICT (tenant_id, utc_hour) DO UPDATE
                 SET generation = generation + 1, counted = 0;
         DELETE FROM dashboard_hours WHERE {hour} {newest}
             AND {hour} >= strftime('%Y-%m-%dT%H', 'now', '-4 days')
             AND tenant_id = {tenant}
             AND utc_hour < strftime('%Y-%m-%dT%H', 'now', '-5 days');"
    )
}

/// The hour's mark and the day's, as this migration's SQLite triggers run them.
/// Migration 19 restores these triggers when undone.
pub(crate) fn sqlite_hour_and_day_mark(tenant: &str, at: &str) -> String {
    format!(
        "{} {}",
        sqlite_hour_mark(tenant, at),
        sqlite_day_mark(tenant, at)
    )
}

fn sqlite_up() -> String {
    format!(
        "{table}
        {SQLITE_DROP_TRIGGERS}
        {triggers}",
        table = figures_table(DatabaseBackend::Sqlite, "dashboard_hours", "utc_hour"),
        triggers = sqlite_triggers(&sqlite_hour_and_day_mark)
    )
}

fn sqlite_down() -> String {
    format!(
        "{SQLITE_DROP_TRIGGERS} {triggers} DROP TABLE IF EXISTS dashboard_hours;",
        triggers = sqlite_triggers(&sqlite_day_mark)
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
