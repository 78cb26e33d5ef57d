//! `dashboard_days`: the dashboard's figures per tenant and UTC day, so a summary
//! over a year reads at most 365 rows instead of every call of the year.
//!
//! A row is a cache the store fills when a summary first needs the day, for days
//! that have ended at least two days ago ("settled" days; newer ones are always
//! counted from the calls, and are few). Writes that change a settled day's figures
//! (a call recorded or changed late, a late text, a call deleted) mark its row stale
//! through the triggers below, which bump its `generation`; a summary writes counts
//! only if the generation is still the one it saw before counting, so counts from a
//! snapshot older than a write can never be kept.
//!
//! The triggers do nothing for recent days, so the hot path (today's calls and
//! messages) never touches this table. The migration creates an empty table and the
//! triggers: no backfill, and only the brief lock `CREATE TRIGGER` takes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TENANT: &str = "(SELECT otto_tenant())";
const PLATFORM: &str =
    "(SELECT otto_platform()) OR (SELECT pg_has_role(current_user, 'otto_platform', 'MEMBER'))";

/// The figures' columns, shared by both databases.
const FIGURES: &str = "generation bigint NOT NULL DEFAULT 0,
        counted boolean NOT NULL DEFAULT false,
        calls bigint NOT NULL DEFAULT 0,
        missed bigint NOT NULL DEFAULT 0,
        recovered_by_sms bigint NOT NULL DEFAULT 0,
        booked bigint NOT NULL DEFAULT 0,
        messages bigint NOT NULL DEFAULT 0,
        PRIMARY KEY (tenant_id, day)";

/// PostgreSQL's trigger on `table` marking the days of `time_column`, old and new.
fn postgres_day_trigger(table: &str, time_column: &str, updated_columns: &str) -> String {
    format!(
        "CREATE OR REPLACE FUNCTION otto_{table}_dashboard_days() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                PERFORM otto_dashboard_day_changed(OLD.tenant_id, OLD.{time_column});
            END IF;
            IF TG_OP <> 'DELETE' THEN
                PERFORM otto_dashboard_day_changed(NEW.tenant_id, NEW.{time_column});
            END IF;
            RETURN NULL;
        END $$;
        DROP TRIGGER IF EXISTS {table}_dashboard_days ON {table};
        CREATE TRIGGER {table}_dashboard_days
            AFTER INSERT OR DELETE OR UPDATE OF {updated_columns}
            ON {table} FOR EACH ROW EXECUTE FUNCTION otto_{table}_dashboard_days();"
    )
}

fn postgres_up() -> String {
    let calls = postgres_day_trigger(
        "calls",
        "started_at",
        "started_at, direction, answered, booked",
    );
    let messages = postgres_day_trigger("messages", "sent_at", "sent_at");
    format!(
        "CREATE TABLE IF NOT EXISTS dashboard_days (
            tenant_id varchar NOT NULL,
            day text COLLATE \"C\" NOT NULL,
            {FIGURES}
        );
        ALTER TABLE dashboard_days ENABLE ROW LEVEL SECURITY;
        ALTER TABLE dashboard_days FORCE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS tenant_isolation ON dashboard_days;
        DROP POLICY IF EXISTS platform_access ON dashboard_days;
        CREATE POLICY tenant_isolation ON dashboard_days
            USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT});
        CREATE POLICY platform_access ON dashboard_days
            USING ({PLATFORM}) WITH CHECK ({PLATFORM});
        GRANT SELECT, INSERT, UPDATE, DELETE ON dashboard_days TO {APP_ROLE};

        -- Marks the tenant's day of `at` stale when it is settled (ended two days ago).
        CREATE OR REPLACE FUNCTION otto_dashboard_day_changed(tenant varchar, at timestamptz)
        RETURNS void LANGUAGE sql AS $$
            INSERT INTO dashboard_days (tenant_id, day, generation, counted)
            SELECT tenant, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1, false
            WHERE at IS NOT NULL
              AND (at AT TIME ZONE 'UTC')::date < (now() AT TIME ZONE 'UTC')::date - 1
            ON CONFLICT (tenant_id, day) DO UPDATE
                SET generation = dashboard_days.generation + 1, counted = false
        $$;

        {calls}

        CREATE OR REPLACE FUNCTION otto_outbound_dashboard_days() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' AND OLD.kind = 'sms' AND OLD.call_id IS NOT NULL THEN
                PERFORM otto_dashboard_day_changed(OLD.tenant_id,
                    (SELECT started_at FROM calls WHERE id = OLD.call_id));
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.kind = 'sms' AND NEW.call_id IS NOT NULL THEN
                PERFORM otto_dashboard_day_changed(NEW.tenant_id,
                    (SELECT started_at FROM calls WHERE id = NEW.call_id));
            END IF;
            RETURN NULL;
        END $$;
        DROP TRIGGER IF EXISTS outbound_actions_dashboard_days ON outbound_actions;
        CREATE TRIGGER outbound_actions_dashboard_days
            AFTER INSERT OR DELETE OR UPDATE OF completed_at, call_id, kind
            ON outbound_actions FOR EACH ROW EXECUTE FUNCTION otto_outbound_dashboard_days();

        {messages}"
    )
}

const POSTGRES_DOWN: &str = "DROP TRIGGER IF EXISTS calls_dashboard_days ON calls;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days ON outbound_actions;
    DROP TRIGGER IF EXISTS messages_dashboard_days ON messages;
    DROP FUNCTION IF EXISTS otto_calls_dashboard_days();
    DROP FUNCTION IF EXISTS otto_outbound_dashboard_days();
    DROP FUNCTION IF EXISTS otto_messages_dashboard_days();
    DROP FUNCTION IF EXISTS otto_dashboard_day_changed(varchar, timestamptz);
    DROP TABLE IF EXISTS dashboard_days;";

/// SQLite's statement marking the day of the time `at` (an expression over `OLD` or
/// `NEW`) of `tenant` stale. Times are stored as RFC 3339 text in UTC, so the day is
/// the first ten characters.
fn sqlite_mark(tenant: &str, at: &str) -> String {
    format!(
        "INSERT INTO dashboard_days (tenant_id, day, generation, counted)
             SELECT {tenant}, substr({at}, 1, 10), 1, 0
             WHERE ({at}) IS NOT NULL AND substr({at}, 1, 10) < date('now', '-1 day')
             ON CONFLICT (tenant_id, day) DO UPDATE
                 SET generation = generation + 1, counted = 0;"
    )
}

fn sqlite_up() -> String {
    let call_of = |row: &str| format!("(SELECT started_at FROM calls WHERE id = {row}.call_id)");
    let sms = |row: &str| format!("{row}.kind = 'sms' AND {row}.call_id IS NOT NULL");
    format!(
        "CREATE TABLE IF NOT EXISTS dashboard_days (
            tenant_id varchar NOT NULL,
            day text NOT NULL,
            {FIGURES}
        );
        CREATE TRIGGER IF NOT EXISTS calls_dashboard_days_insert AFTER INSERT ON calls
        BEGIN {new_call} END;
        CREATE TRIGGER IF NOT EXISTS calls_dashboard_days_update
            AFTER UPDATE OF started_at, direction, answered, booked ON calls
        BEGIN {old_call} {new_call} END;
        CREATE TRIGGER IF NOT EXISTS calls_dashboard_days_delete AFTER DELETE ON calls
        BEGIN {old_call} END;
        CREATE TRIGGER IF NOT EXISTS outbound_actions_dashboard_days_insert
            AFTER INSERT ON outbound_actions WHEN {new_sms}
        BEGIN {new_action} END;
        CREATE TRIGGER IF NOT EXISTS outbound_actions_dashboard_days_update
            AFTER UPDATE OF completed_at, call_id, kind ON outbound_actions
        BEGIN {old_action_if_sms} {new_action_if_sms} END;
        CREATE TRIGGER IF NOT EXISTS outbound_actions_dashboard_days_delete
            AFTER DELETE ON outbound_actions WHEN {old_sms}
        BEGIN {old_action} END;
        CREATE TRIGGER IF NOT EXISTS messages_dashboard_days_insert AFTER INSERT ON messages
        BEGIN {new_message} END;
        CREATE TRIGGER IF NOT EXISTS messages_dashboard_days_update
            AFTER UPDATE OF sent_at ON messages
        BEGIN {old_message} {new_message} END;
        CREATE TRIGGER IF NOT EXISTS messages_dashboard_days_delete AFTER DELETE ON messages
        BEGIN {old_message} END;",
        new_call = sqlite_mark("NEW.tenant_id", "NEW.started_at"),
        old_call = sqlite_mark("OLD.tenant_id", "OLD.started_at"),
        new_sms = sms("NEW"),
        old_sms = sms("OLD"),
        new_action = sqlite_mark("NEW.tenant_id", &call_of("NEW")),
        old_action = sqlite_mark("OLD.tenant_id", &call_of("OLD")),
        // An update may turn an action into or out of an SMS with a call.
        new_action_if_sms = sqlite_mark(
            "NEW.tenant_id",
            &format!("CASE WHEN {} THEN {} END", sms("NEW"), call_of("NEW"))
        ),
        old_action_if_sms = sqlite_mark(
            "OLD.tenant_id",
            &format!("CASE WHEN {} THEN {} END", sms("OLD"), call_of("OLD"))
        ),
        new_message = sqlite_mark("NEW.tenant_id", "NEW.sent_at"),
        old_message = sqlite_mark("OLD.tenant_id", "OLD.sent_at"),
    )
}

const SQLITE_DOWN: &str = "DROP TRIGGER IF EXISTS calls_dashboard_days_insert;
    DROP TRIGGER IF EXISTS calls_dashboard_days_update;
    DROP TRIGGER IF EXISTS calls_dashboard_days_delete;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_insert;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_update;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_delete;
    DROP TRIGGER IF EXISTS messages_dashboard_days_insert;
    DROP TRIGGER IF EXISTS messages_dashboard_days_update;
    DROP TRIGGER IF EXISTS messages_dashboard_days_delete;
    DROP TABLE IF EXISTS dashboard_days;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => postgres_up(),
            _ => sqlite_up(),
        };
        manager
            .get_connection()
            .execute_unprepared(&statements)
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        manager
            .get_connection()
            .execute_unprepared(statements)
            .await?;
        Ok(())
    }
}
