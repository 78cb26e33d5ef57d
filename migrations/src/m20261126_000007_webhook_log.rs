//! The webhook delivery log: every verified delivery with its outcome, kept for a
//! retention period. It replaces `webhook_unroutable`: an unroutable delivery is a
//! logged delivery whose outcome is `unroutable`, and the pending ones move over.
//!
//! On PostgreSQL a tenant's transaction sees its own deliveries
//! (`tenant_isolation`); unroutable ones (no tenant) only the platform scope sees.
//!
//! Provider accounts gain their own signing key: CallRail signs each company's
//! deliveries with that company's key. Idempotency keys remember the delivery that
//! claimed them, so that a duplicate can point to it.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::add_column;
use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    TenantId,
    Provider,
    Route,
    Event,
    ExternalId,
    Outcome,
    Conflict,
    Attempts,
    Error,
    BodyDigest,
    Body,
    BodyRedacted,
    ContentType,
    MessageId,
    Accounts,
    TraceId,
    ReceivedAt,
    Replays,
    LastReplayedAt,
}

#[derive(DeriveIden)]
enum WebhookEvents {
    Table,
    FirstDeliveryId,
}

#[derive(DeriveIden)]
enum ProviderAccounts {
    Table,
    SigningKey,
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

const PLATFORM_POLICY: &str = "current_setting('app.scope', true) = 'platform'";
const TENANT_POLICY: &str = "tenant_id = current_setting('app.tenant_id', true)";

/// Row-level security for a table of this migration: `tenant_isolation` when it has
/// a tenant column, and `platform_access`.
async fn secure(manager: &SchemaManager<'_>, table: &str, tenant_owned: bool) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let tenant_policy = if tenant_owned {
        format!(
            "CREATE POLICY tenant_isolation ON {table} \
             USING ({TENANT_POLICY}) WITH CHECK ({TENANT_POLICY});"
        )
    } else {
        String::new()
    };
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
             {tenant_policy}
             CREATE POLICY platform_access ON {table}
                 USING ({PLATFORM_POLICY}) WITH CHECK ({PLATFORM_POLICY});
             GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};"
        ))
        .await
        .map(|_| ())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .if_not_exists()
                    .col(uuid(WebhookDeliveries::Id).primary_key())
                    .col(string_null(WebhookDeliveries::TenantId))
                    .col(string(WebhookDeliveries::Provider))
                    .col(string(WebhookDeliveries::Route))
                    .col(string(WebhookDeliveries::Event))
                    .col(string_null(WebhookDeliveries::ExternalId))
                    .col(string(WebhookDeliveries::Outcome))
                    .col(boolean(WebhookDeliveries::Conflict).default(false))
                    .col(integer(WebhookDeliveries::Attempts).default(1))
                    .col(text_null(WebhookDeliveries::Error))
                    .col(string(WebhookDeliveries::BodyDigest))
                    .col(blob(WebhookDeliveries::Body))
                    .col(boolean(WebhookDeliveries::BodyRedacted).default(false))
                    .col(string_null(WebhookDeliveries::ContentType))
                    .col(string_null(WebhookDeliveries::MessageId))
                    .col(text(WebhookDeliveries::Accounts).default(""))
                    .col(string_null(WebhookDeliveries::TraceId))
                    .col(timestamp_with_time_zone(WebhookDeliveries::ReceivedAt))
                    .col(integer(WebhookDeliveries::Replays).default(0))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::LastReplayedAt,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_tenant_newest_first")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::TenantId)
                    .col(WebhookDeliveries::ReceivedAt)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_outcome_received")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Outcome)
                    .col(WebhookDeliveries::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        secure(manager, "webhook_deliveries", true).await?;
        // The digest of a moved delivery is unknown (SQLite has no SHA-256); nothing
        // compares it: a replay digests the body it processes.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO webhook_deliveries (id, tenant_id, provider, route, event, outcome, \
                 body_digest, body, content_type, message_id, accounts, received_at) \
                 SELECT id, NULL, provider, event, event, 'unroutable', '', body, content_type, \
                 message_id, accounts, received_at FROM webhook_unroutable \
                 WHERE replayed_at IS NULL",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookUnroutable::Table).to_owned())
            .await?;
        add_column(
            manager,
            ProviderAccounts::Table,
            text_null(ProviderAccounts::SigningKey),
        )
        .await?;
        add_column(
            manager,
            WebhookEvents::Table,
            uuid_null(WebhookEvents::FirstDeliveryId),
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE provider_accounts DROP COLUMN signing_key")
            .await?;
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE webhook_events DROP COLUMN first_delivery_id")
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
        secure(manager, "webhook_unroutable", false).await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO webhook_unroutable (id, provider, event, content_type, body, \
                 message_id, accounts, received_at) \
                 SELECT id, provider, route, content_type, body, message_id, accounts, received_at \
                 FROM webhook_deliveries WHERE outcome = 'unroutable'",
            )
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await
    }
}
