//! Live events: what the frontends' streams carry, written in the transaction of the
//! change that causes them.
//!
//! - `live_events`: one row per event, numbered per tenant (`sequence`), kept for the
//!   retention period and purged by the worker.
//! - `live_event_sequences`: each tenant's last number. Taking the next one updates
//!   the tenant's row, so two transactions of one tenant number their events in the
//!   order they commit: a reader that sees number N has every number below it.
//! - `event_tickets`: single-use stream tickets (their SHA-256, never the ticket).
//!
//! On PostgreSQL all three are tenant tables under `tenant_isolation`; the purge runs
//! in the platform scope (`platform_access`).

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LiveEvents {
    Table,
    TenantId,
    Sequence,
    EventType,
    OccurredAt,
    Audience,
    AssignedRep,
    Payload,
}

#[derive(DeriveIden)]
enum LiveEventSequences {
    Table,
    TenantId,
    LastSequence,
}

#[derive(DeriveIden)]
enum EventTickets {
    Table,
    Digest,
    TenantId,
    UserId,
    Role,
    ExpiresAt,
}

const TABLES: [&str; 3] = ["live_events", "live_event_sequences", "event_tickets"];
const TENANT: &str = "(SELECT otto_tenant())";
const PLATFORM: &str =
    "(SELECT otto_platform()) OR (SELECT pg_has_role(current_user, 'otto_platform', 'MEMBER'))";

/// Row-level security on the event table `table` (PostgreSQL): a tenant sees and
/// writes its own rows, the platform scope (the purge) every row; the application
/// role gets `privileges` on it.
pub(crate) fn tenant_table_security(table: &str, privileges: &str) -> String {
    format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table}
             USING (tenant_id = {TENANT}) WITH CHECK (tenant_id = {TENANT});
         CREATE POLICY platform_access ON {table}
             USING ({PLATFORM}) WITH CHECK ({PLATFORM});
         GRANT {privileges} ON {table} TO {APP_ROLE};"
    )
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LiveEvents::Table)
                    .if_not_exists()
                    .col(string(LiveEvents::TenantId))
                    .col(big_integer(LiveEvents::Sequence))
                    .col(string(LiveEvents::EventType))
                    .col(timestamp_with_time_zone(LiveEvents::OccurredAt))
                    .col(string(LiveEvents::Audience))
                    .col(string_null(LiveEvents::AssignedRep))
                    .col(text(LiveEvents::Payload))
                    .primary_key(
                        Index::create()
                            .col(LiveEvents::TenantId)
                            .col(LiveEvents::Sequence),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("live_events_occurred_at")
                    .table(LiveEvents::Table)
                    .col(LiveEvents::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LiveEventSequences::Table)
                    .if_not_exists()
                    .col(string(LiveEventSequences::TenantId).primary_key())
                    .col(big_integer(LiveEventSequences::LastSequence))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EventTickets::Table)
                    .if_not_exists()
                    .col(string(EventTickets::Digest).primary_key())
                    .col(string(EventTickets::TenantId))
                    .col(string(EventTickets::UserId))
                    .col(string(EventTickets::Role))
                    .col(timestamp_with_time_zone(EventTickets::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("event_tickets_expires_at")
                    .table(EventTickets::Table)
                    .col(EventTickets::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for table in TABLES {
                manager
                    .get_connection()
                    .execute_unprepared(&tenant_table_security(
                        table,
                        "SELECT, INSERT, UPDATE, DELETE",
                    ))
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES {
            manager
                .drop_table(
                    Table::drop()
                        .table(Alias::new(table))
                        .if_exists()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
