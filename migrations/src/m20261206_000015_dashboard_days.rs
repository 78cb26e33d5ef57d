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
use sea_orm_migration::sea_orm::DatabaseBackend;

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TENANT: &str = "(SELECT otto_tenant())";
/// The schema owner (a member of `otto_platform`), for operators repairing the table.
/// No platform proof: like `calls`, whose figures these are, no platform-wide work
/// reads or writes it.
const OWNER: &str = "(SELECT pg_has_role(current_user, 'otto_platform', 'MEMBER'))";

/// An empty table `table` of dashboard figures per tenant and period (`key`, text; on
/// PostgreSQL compared bytewise), with the generation its marks bump. On PostgreSQL
/// it is confined to the tenant like `calls` (forced row-level security), and open to
/// the application role and to the schema owner. Migrations 18, 19 and 21 make
/// theirs the same way.
pub(crate) fn figures_table(backend: DatabaseBackend, table: &str, key: &str) -> String {
    figures_table_with(backend, table, key, "")
}

/// [`figures_table`] with `extra` columns (each `name type ...,`) after the figures.
pub(crate) fn figures_table_with(
    backend: DatabaseBackend,
    table: &str,
    key: &str,
    extra: &str,
) -> String {
    let postgres = backend == DatabaseBackend::Postgres;
    let collation = if postgres { " COLLATE \"C\"" } else { "" };
    let create = format!(
        "CREATE TABLE IF NOT EXISTS {table} (
            tenant_id varchar NOT NULL,
            {key} text{collation} NOT NULL,
            generation bigint NOT NULL DEFAULT 0,
            counted boolean NOT NULL DEFAULT false,
            calls bigint NOT NULL DEFAULT 0,
            missed bigint NOT NULL DEFAULT 0,
            recovered_by_sms bigint NOT NULL DEFAULT 0,
            booked bigint NOT NULL DEFAULT 0,
            messages bigint NOT NULL DEFAULT 0,{extra}
            PRIMARY KEY (tenant_id, {key})
        );"
    );
    if !postgres {
        return create;
    }
    format!(
        "{create}
        ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
        DROP POLICY IF EXISTS tenant_isolation ON {table};
        DROP POLICY IF EXISTS schema_owner ON {table};
        CREATE POLICY tenant_isolation ON {table}
            USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT});
        CREATE POLICY schema_owner ON {table} USING ({OWNER}) WITH CHECK ({OWNER});
        GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};"
    )
}

/// `{old} IS DISTINCT FROM {new}` for each of `columns`, joined by OR: an update that
/// names a column without changing it marks nothing.
fn changed(columns: &[&str], distinct: &str) -> String {
    columns
        .iter()
        .map(|column| format!("OLD.{column} {distinct} NEW.{column}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// PostgreSQL's triggers on `table` marking the days of `time_column`, old and new:
/// one for inserts and deletes, one for updates that change `counted_columns`.
fn postgres_day_trigger(table: &str, time_column: &str, counted_columns: &[&str]) -> String {
    let columns = counted_columns.join(", ");
    let changed = changed(counted_columns, "IS DISTINCT FROM");
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
        CREATE TRIGGER {table}_dashboard_days AFTER INSERT OR DELETE
            ON {table} FOR EACH ROW EXECUTE FUNCTION otto_{table}_dashboard_days();
        DROP TRIGGER IF EXISTS {table}_dashboard_days_update ON {table};
        CREATE TRIGGER {table}_dashboard_days_update AFTER UPDATE OF {columns}
            ON {table} FOR EACH ROW WHEN ({changed})
            EXECUTE FUNCTION otto_{table}_dashboard_days();"
    )
}

/// Whether an outbound action counts towards its call's "recovered by SMS": a
/// completed text of a call (`row` is `OLD` or `NEW`).
fn counts_as_recovery(row: &str) -> String {
    format!("{row}.kind = 'sms' AND {row}.call_id IS NOT NULL AND {row}.completed_at IS NOT NULL")
}

/// Marks the tenant's day of `at` stale when it is settled (ended before yesterday, by
/// the statement's clock). PL/pgSQL, so the date test comes first and the insert's plan
/// is cached: today's rows cost one comparison. Migration 18 replaces it (and restores
/// it when undone).
pub(crate) const POSTGRES_DAY_MARK: &str = "CREATE OR REPLACE FUNCTION \
    otto_dashboard_day_changed(tenant varchar, at timestamptz)
        RETURNS void LANGUAGE plpgsql AS $$
        BEGIN
            IF at IS NULL OR (at AT TIME ZONE 'UTC')::date
                >= (statement_timestamp() AT TIME ZONE 'UTC')::date - 1 THEN
                RETURN;
            END IF;
            INSERT INTO dashboard_days (tenant_id, day, generation, counted)
            VALUES (tenant, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), 1, false)
            ON CONFLICT (tenant_id, day) DO UPDATE
                SET generation = dashboard_days.generation + 1, counted = false;
        END $$;";

fn postgres_up() -> String {
    let calls = postgres_day_trigger(
        "calls",
        "started_at",
        &["started_at", "direction", "answered", "booked"],
    );
    let messages = postgres_day_trigger("messages", "sent_at", &["sent_at"]);
    let action_changed = changed(&["completed_at", "call_id", "kind"], "IS DISTINCT FROM");
    format!(
        "{table}

        {day_mark}
        REVOKE ALL ON FUNCTION otto_dashboard_day_changed(varchar, timestamptz) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION otto_dashboard_day_changed(varchar, timestamptz)
            TO {APP_ROLE};

        {calls}

        CREATE OR REPLACE FUNCTION otto_outbound_dashboard_days() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                IF {old_counts} THEN
                    PERFORM otto_dashboard_day_changed(OLD.tenant_id,
                        (SELECT started_at FROM calls WHERE id = OLD.call_id));
                END IF;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                IF {new_counts} THEN
                    PERFORM otto_dashboard_day_changed(NEW.tenant_id,
                        (SELECT started_at FROM calls WHERE id = NEW.call_id));
                END IF;
            END IF;
            RETURN NULL;
        END $$;
        DROP TRIGGER IF EXISTS outbound_actions_dashboard_days ON outbound_actions;
        CREATE TRIGGER outbound_actions_dashboard_days AFTER INSERT OR DELETE
            ON outbound_actions FOR EACH ROW EXECUTE FUNCTION otto_outbound_dashboard_days();
        DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_update ON outbound_actions;
        CREATE TRIGGER outbound_actions_dashboard_days_update
            AFTER UPDATE OF completed_at, call_id, kind ON outbound_actions
            FOR EACH ROW WHEN ({action_changed})
            EXECUTE FUNCTION otto_outbound_dashboard_days();

        {messages}",
        old_counts = counts_as_recovery("OLD"),
        new_counts = counts_as_recovery("NEW"),
        table = figures_table(DatabaseBackend::Postgres, "dashboard_days", "day"),
        day_mark = POSTGRES_DAY_MARK,
    )
}

const POSTGRES_DOWN: &str = "DROP TRIGGER IF EXISTS calls_dashboard_days ON calls;
    DROP TRIGGER IF EXISTS calls_dashboard_days_update ON calls;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days ON outbound_actions;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_update ON outbound_actions;
    DROP TRIGGER IF EXISTS messages_dashboard_days ON messages;
    DROP TRIGGER IF EXISTS messages_dashboard_days_update ON messages;
    DROP FUNCTION IF EXISTS otto_calls_dashboard_days();
    DROP FUNCTION IF EXISTS otto_outbound_dashboard_days();
    DROP FUNCTION IF EXISTS otto_messages_dashboard_days();
    DROP FUNCTION IF EXISTS otto_dashboard_day_changed(varchar, timestamptz);
    DROP TABLE IF EXISTS dashboard_days;";

/// SQLite's statement marking the day of the time `at` (an expression over `OLD` or
/// `NEW`) of `tenant` stale. Times are stored as RFC 3339 text in UTC, so the day is
/// the first ten characters.
pub(crate) fn sqlite_day_mark(tenant: &str, at: &str) -> String {
    format!(
        "INSERT INTO dashboard_days (tenant_id, day, generation, counted)
             SELECT {tenant}, substr({at}, 1, 10), 1, 0
             WHERE ({at}) IS NOT NULL AND substr({at}, 1, 10) < date('now', '-1 day')
             ON CONFLICT (tenant_id, day) DO UPDATE
                 SET generation = generation + 1, counted = 0;"
    )
}

fn sqlite_up() -> String {
    format!(
        "{table}
        {triggers}",
        table = figures_table(DatabaseBackend::Sqlite, "dashboard_days", "day"),
        triggers = sqlite_triggers(&sqlite_day_mark)
    )
}

/// SQLite's triggers on calls, outbound actions and messages, each running `mark` (a
/// statement for a tenant and a time, expressions over `OLD` or `NEW`) for the times
/// whose figures a write changes. Migration 18 recreates them with another `mark`.
pub(crate) fn sqlite_triggers(mark: &dyn Fn(&str, &str) -> String) -> String {
    let call_of = |row: &str| format!("(SELECT started_at FROM calls WHERE id = {row}.call_id)");
    let call_if_counted = |row: &str| {
        format!(
            "CASE WHEN {} THEN {} END",
            counts_as_recovery(row),
            call_of(row)
        )
    };
    format!(
        "CREATE TRIGGER IF NOT EXISTS calls_dashboard_days_insert AFTER INSERT ON calls
        BEGIN {new_call} END;
        CREATE TRIGGER IF NOT EXISTS calls_dashboard_days_update
            AFTER UPDATE OF started_at, direction, answered, booked ON calls
            WHEN {call_changed}
        BEGIN {old_call} {new_call} END;
        CREATE TRIGGER IF NOT EXISTS calls_dashboard_days_delete AFTER DELETE ON calls
        BEGIN {old_call} END;
        CREATE TRIGGER IF NOT EXISTS outbound_actions_dashboard_days_insert
            AFTER INSERT ON outbound_actions WHEN {new_counts}
        BEGIN {new_action} END;
        CREATE TRIGGER IF NOT EXISTS outbound_actions_dashboard_days_update
            AFTER UPDATE OF completed_at, call_id, kind ON outbound_actions
            WHEN {action_changed}
        BEGIN {old_action_if_counted} {new_action_if_counted} END;
        CREATE TRIGGER IF NOT EXISTS outbound_actions_dashboard_days_delete
            AFTER DELETE ON outbound_actions WHEN {old_counts}
        BEGIN {old_action} END;
        CREATE TRIGGER IF NOT EXISTS messages_dashboard_days_insert AFTER INSERT ON messages
        BEGIN {new_message} END;
        CREATE TRIGGER IF NOT EXISTS messages_dashboard_days_update
            AFTER UPDATE OF sent_at ON messages WHEN OLD.sent_at IS NOT NEW.sent_at
        BEGIN {old_message} {new_message} END;
        CREATE TRIGGER IF NOT EXISTS messages_dashboard_days_delete AFTER DELETE ON messages
        BEGIN {old_message} END;",
        call_changed = changed(&["started_at", "direction", "answered", "booked"], "IS NOT"),
        action_changed = changed(&["completed_at", "call_id", "kind"], "IS NOT"),
        new_call = mark("NEW.tenant_id", "NEW.started_at"),
        old_call = mark("OLD.tenant_id", "OLD.started_at"),
        new_counts = counts_as_recovery("NEW"),
        old_counts = counts_as_recovery("OLD"),
        new_action = mark("NEW.tenant_id", &call_of("NEW")),
        old_action = mark("OLD.tenant_id", &call_of("OLD")),
        // An update may turn an action into or out of a completed text of a call.
        new_action_if_counted = mark("NEW.tenant_id", &call_if_counted("NEW")),
        old_action_if_counted = mark("OLD.tenant_id", &call_if_counted("OLD")),
        new_message = mark("NEW.tenant_id", "NEW.sent_at"),
        old_message = mark("OLD.tenant_id", "OLD.sent_at"),
    )
}

/// Drops [`sqlite_triggers`].
pub(crate) const SQLITE_DROP_TRIGGERS: &str = "DROP TRIGGER IF EXISTS calls_dashboard_days_insert;
    DROP TRIGGER IF EXISTS calls_dashboard_days_update;
    DROP TRIGGER IF EXISTS calls_dashboard_days_delete;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_insert;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_update;
    DROP TRIGGER IF EXISTS outbound_actions_dashboard_days_delete;
    DROP TRIGGER IF EXISTS messages_dashboard_days_insert;
    DROP TRIGGER IF EXISTS messages_dashboard_days_update;
    DROP TRIGGER IF EXISTS messages_dashboard_days_delete;";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_per_backend(manager, postgres_up, sqlite_up).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_per_backend(
            manager,
            || POSTGRES_DOWN.to_owned(),
            || format!("{SQLITE_DROP_TRIGGERS} DROP TABLE IF EXISTS dashboard_days;"),
        )
        .await
    }
}
