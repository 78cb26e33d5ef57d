//! Webhook ingestion: the idempotency ledger, unroutable deliveries, the provider
//! account → tenant map, the job outbox, opt-outs and AI call outcomes.
//!
//! On PostgreSQL the tenant-owned tables get the same `tenant_isolation` policy as
//! the others. Platform-wide work (Clerk's organizations and users, routing a
//! delivery to its tenant, purging expired keys) runs in a transaction that sets
//! `app.scope = 'platform'`; the `platform_access` policy admits exactly that.
//! `jobs` has RLS enabled but not forced: the server's `otto_app` role is confined
//! to its tenant, while workers, running as the owning role, lease across tenants.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The `tenant_id` of ledger keys that belong to no tenant (Clerk user events); a
/// tenant id can never take this value (tenant ids have no colon).
pub const PLATFORM_KEY_OWNER: &str = ":platform";

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    Id,
    TenantId,
    Provider,
    Event,
    ExternalId,
    BodyDigest,
    FirstProcessedAt,
    LastSeenAt,
    Attempts,
}

#[derive(DeriveIden)]
enum WebhookUnroutable {
    Table,
    Id,
    Provider,
    Event,
    ContentType,
    Body,
    MessageId,
    Accounts,
    ReceivedAt,
    ReplayedAt,
}

#[derive(DeriveIden)]
enum ProviderAccounts {
    Table,
    Provider,
    AccountId,
    TenantId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Jobs {
    Table,
    Id,
    TenantId,
    Kind,
    UniqueKey,
    Payload,
    Status,
    Attempts,
    RunAt,
    LeaseUntil,
    LastError,
    TraceContext,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OptOuts {
    Table,
    TenantId,
    CustomerNumber,
    OptedOutAt,
}

#[derive(DeriveIden)]
enum AiCalls {
    Table,
    Id,
    TenantId,
    ExternalId,
    ToNumber,
    Status,
    Completed,
    DurationSeconds,
    Summary,
    Transcript,
    RecordingUrl,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Recordings {
    Table,
    TenantId,
    ExternalId,
}

fn now_default(column: ColumnDef) -> ColumnDef {
    let mut column = column;
    column.default(Expr::current_timestamp()).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEvents::Table)
                    .if_not_exists()
                    .col(uuid(WebhookEvents::Id).primary_key())
                    .col(string(WebhookEvents::TenantId))
                    .col(string(WebhookEvents::Provider))
                    .col(string(WebhookEvents::Event))
                    .col(string(WebhookEvents::ExternalId))
                    .col(string(WebhookEvents::BodyDigest))
                    .col(timestamp_with_time_zone(WebhookEvents::FirstProcessedAt))
                    .col(timestamp_with_time_zone(WebhookEvents::LastSeenAt))
                    .col(integer(WebhookEvents::Attempts).default(1))
                    .index(
                        Index::create()
                            .unique()
                            .col(WebhookEvents::TenantId)
                            .col(WebhookEvents::Provider)
                            .col(WebhookEvents::Event)
                            .col(WebhookEvents::ExternalId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_events_last_seen")
                    .table(WebhookEvents::Table)
                    .col(WebhookEvents::LastSeenAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookUnroutable::Table)
                    .if_not_exists()
                    .col(uuid(WebhookUnroutable::Id).primary_key())
                    .col(string(WebhookUnroutable::Provider))
                    .col(string(WebhookUnroutable::Event))
                    .col(string_null(WebhookUnroutable::ContentType))
                    .col(blob(WebhookUnroutable::Body))
                    .col(string_null(WebhookUnroutable::MessageId))
                    .col(text(WebhookUnroutable::Accounts))
                    .col(timestamp_with_time_zone(WebhookUnroutable::ReceivedAt))
                    .col(timestamp_with_time_zone_null(WebhookUnroutable::ReplayedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_unroutable_pending")
                    .table(WebhookUnroutable::Table)
                    .col(WebhookUnroutable::ReplayedAt)
                    .col(WebhookUnroutable::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProviderAccounts::Table)
                    .if_not_exists()
                    .col(string(ProviderAccounts::Provider))
                    .col(string(ProviderAccounts::AccountId))
                    .col(string(ProviderAccounts::TenantId))
                    .col(now_default(timestamp_with_time_zone(
                        ProviderAccounts::CreatedAt,
                    )))
                    .primary_key(
                        Index::create()
                            .col(ProviderAccounts::Provider)
                            .col(ProviderAccounts::AccountId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Jobs::Table)
                    .if_not_exists()
                    .col(uuid(Jobs::Id).primary_key())
                    .col(string_null(Jobs::TenantId))
                    .col(string(Jobs::Kind))
                    .col(string(Jobs::UniqueKey).unique_key())
                    .col(text(Jobs::Payload))
                    .col(string(Jobs::Status).default("queued"))
                    .col(integer(Jobs::Attempts).default(0))
                    .col(timestamp_with_time_zone(Jobs::RunAt))
                    .col(timestamp_with_time_zone_null(Jobs::LeaseUntil))
                    .col(text_null(Jobs::LastError))
                    .col(text_null(Jobs::TraceContext))
                    .col(now_default(timestamp_with_time_zone(Jobs::CreatedAt)))
                    .col(now_default(timestamp_with_time_zone(Jobs::UpdatedAt)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("jobs_due")
                    .table(Jobs::Table)
                    .col(Jobs::Status)
                    .col(Jobs::RunAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OptOuts::Table)
                    .if_not_exists()
                    .col(string(OptOuts::TenantId))
                    .col(string(OptOuts::CustomerNumber))
                    .col(timestamp_with_time_zone(OptOuts::OptedOutAt))
                    .primary_key(
                        Index::create()
                            .col(OptOuts::TenantId)
                            .col(OptOuts::CustomerNumber),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AiCalls::Table)
                    .if_not_exists()
                    .col(uuid(AiCalls::Id).primary_key())
                    .col(string(AiCalls::TenantId))
                    .col(string(AiCalls::ExternalId))
                    .col(string_null(AiCalls::ToNumber))
                    .col(string_null(AiCalls::Status))
                    .col(boolean(AiCalls::Completed))
                    .col(integer_null(AiCalls::DurationSeconds))
                    .col(text_null(AiCalls::Summary))
                    .col(text_null(AiCalls::Transcript))
                    .col(text_null(AiCalls::RecordingUrl))
                    .col(now_default(timestamp_with_time_zone(AiCalls::CreatedAt)))
                    .col(now_default(timestamp_with_time_zone(AiCalls::UpdatedAt)))
                    .index(
                        Index::create()
                            .unique()
                            .col(AiCalls::TenantId)
                            .col(AiCalls::ExternalId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("recordings_tenant_external_id")
                    .table(Recordings::Table)
                    .col(Recordings::TenantId)
                    .col(Recordings::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            secure(manager).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let connection = manager.get_connection();
            for table in PLATFORM_TABLES_BEFORE {
                connection
                    .execute_unprepared(&format!(
                        "DROP POLICY IF EXISTS platform_access ON {table}"
                    ))
                    .await?;
            }
            connection
                .execute_unprepared(&format!("REVOKE DELETE ON users FROM {APP_ROLE}"))
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("recordings_tenant_external_id")
                    .table(Recordings::Table)
                    .to_owned(),
            )
            .await?;
        for table in [
            "ai_calls",
            "opt_outs",
            "jobs",
            "provider_accounts",
            "webhook_unroutable",
            "webhook_events",
        ] {
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

/// Tables of earlier migrations that platform-wide work writes.
const PLATFORM_TABLES_BEFORE: &[&str] = &["tenants", "users", "memberships"];

const PLATFORM_POLICY: &str = "current_setting('app.scope', true) = 'platform'";

async fn secure(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    for table in ["webhook_events", "opt_outs", "ai_calls"] {
        connection
            .execute_unprepared(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 CREATE POLICY tenant_isolation ON {table}
                     USING (tenant_id = current_setting('app.tenant_id', true))
                     WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};"
            ))
            .await?;
    }
    connection
        .execute_unprepared(&format!(
            "ALTER TABLE jobs ENABLE ROW LEVEL SECURITY;
             CREATE POLICY tenant_isolation ON jobs
                 USING (tenant_id = current_setting('app.tenant_id', true))
                 WITH CHECK (tenant_id = current_setting('app.tenant_id', true));
             GRANT SELECT, INSERT, UPDATE ON jobs TO {APP_ROLE};"
        ))
        .await?;
    for table in ["webhook_unroutable", "provider_accounts"] {
        connection
            .execute_unprepared(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};"
            ))
            .await?;
    }
    for table in PLATFORM_TABLES_BEFORE.iter().chain(&[
        "webhook_events",
        "webhook_unroutable",
        "provider_accounts",
    ]) {
        connection
            .execute_unprepared(&format!(
                "CREATE POLICY platform_access ON {table}
                     USING ({PLATFORM_POLICY}) WITH CHECK ({PLATFORM_POLICY});"
            ))
            .await?;
    }
    connection
        .execute_unprepared(&format!("GRANT DELETE ON users TO {APP_ROLE}"))
        .await?;
    Ok(())
}
