//! `pending_live_events`: events committed but not yet numbered.
//!
//! Migration 11 numbered each tenant's events as they were written, from the
//! tenant's row in `live_event_sequences`, taken last in the writing transaction so
//! that numbers follow commit order. That row stayed locked until the commit's WAL
//! flush, so one tenant's webhook deliveries committed one at a time.
//!
//! Writers now append here, with no number and no shared row. A reader numbers what
//! is pending (in the order it was appended) in its own short transaction, holding
//! the tenant's sequence row: moved into `live_events` with the next numbers, all or
//! nothing, so a reader that sees number N still has every number below it.
//!
//! A new, empty table: no rewrite of an existing one.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261206_000011_live_events::tenant_table_security;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The columns after the key, shared by both databases (those of `live_events`).
const COLUMNS: &str = "tenant_id varchar NOT NULL,
        event_type varchar NOT NULL,
        occurred_at timestamp with time zone NOT NULL,
        audience varchar NOT NULL,
        assigned_rep varchar NULL,
        payload text NOT NULL";

const INDEXES: &str =
    "CREATE INDEX pending_live_events_tenant ON pending_live_events (tenant_id, id);
     CREATE INDEX pending_live_events_occurred_at ON pending_live_events (occurred_at);";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // An identity column, not `bigserial`: inserting needs no grant on a sequence.
            connection
                .execute_unprepared(&format!(
                    "CREATE TABLE pending_live_events (
                         id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                         {COLUMNS});
                     {INDEXES}
                     {}",
                    tenant_table_security("pending_live_events", "SELECT, INSERT, DELETE")
                ))
                .await?;
        } else {
            connection
                .execute_unprepared(&format!(
                    "CREATE TABLE pending_live_events (
                         id integer PRIMARY KEY AUTOINCREMENT,
                         {COLUMNS});
                     {INDEXES}"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Pending events were committed: number them before the table goes, so that
        // the numbering of migration 11 (at write time) carries on after them.
        // (`WHERE true`: SQLite reads `ON CONFLICT` after a bare `FROM` as a join.)
        let connection = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            // Writers wait (this runs in the migration's transaction): every statement
            // below sees the same pending events.
            connection
                .execute_unprepared("LOCK TABLE pending_live_events IN EXCLUSIVE MODE")
                .await?;
        }
        connection
            .execute_unprepared(
                "INSERT INTO live_event_sequences (tenant_id, last_sequence)
                     SELECT DISTINCT tenant_id, 0 FROM pending_live_events WHERE true
                 ON CONFLICT (tenant_id) DO NOTHING;
                 INSERT INTO live_events (tenant_id, sequence, event_type, occurred_at,
                                          audience, assigned_rep, payload)
                     SELECT p.tenant_id,
                            s.last_sequence + row_number() OVER (PARTITION BY p.tenant_id ORDER BY p.id),
                            p.event_type, p.occurred_at, p.audience, p.assigned_rep, p.payload
                     FROM pending_live_events p
                     JOIN live_event_sequences s ON s.tenant_id = p.tenant_id;
                 UPDATE live_event_sequences
                     SET last_sequence = last_sequence
                         + (SELECT count(*) FROM pending_live_events p
                            WHERE p.tenant_id = live_event_sequences.tenant_id);
                 DROP TABLE pending_live_events;",
            )
            .await?;
        Ok(())
    }
}
