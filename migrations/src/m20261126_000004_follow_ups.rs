//! Follow-up work: each tenant's settings for it, and the outbound text messages
//! jobs send, recorded before the provider is called so that no retry sends one
//! twice. Both are tenant-owned: on PostgreSQL they get the forced `tenant_isolation`
//! policy of every tenant table.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TenantSettings {
    Table,
    TenantId,
    MissedCallSmsEnabled,
    MissedCallSmsTemplate,
    SmsFromNumber,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OutboundSms {
    Table,
    Id,
    TenantId,
    FollowUpKey,
    CallId,
    ToNumber,
    FromNumber,
    Body,
    ProviderMessageId,
    StartedAt,
    SentAt,
}

const TABLES: [&str; 2] = ["tenant_settings", "outbound_sms"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TenantSettings::Table)
                    .if_not_exists()
                    .col(string(TenantSettings::TenantId).primary_key())
                    .col(boolean(TenantSettings::MissedCallSmsEnabled).default(true))
                    .col(text_null(TenantSettings::MissedCallSmsTemplate))
                    .col(string_null(TenantSettings::SmsFromNumber))
                    .col(timestamp_with_time_zone(TenantSettings::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OutboundSms::Table)
                    .if_not_exists()
                    .col(uuid(OutboundSms::Id).primary_key())
                    .col(string(OutboundSms::TenantId))
                    .col(string(OutboundSms::FollowUpKey))
                    .col(uuid_null(OutboundSms::CallId))
                    .col(string(OutboundSms::ToNumber))
                    .col(string(OutboundSms::FromNumber))
                    .col(text(OutboundSms::Body))
                    .col(string_null(OutboundSms::ProviderMessageId))
                    .col(timestamp_with_time_zone(OutboundSms::StartedAt))
                    .col(timestamp_with_time_zone_null(OutboundSms::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbound_sms_tenant_key")
                    .table(OutboundSms::Table)
                    .col(OutboundSms::TenantId)
                    .col(OutboundSms::FollowUpKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let connection = manager.get_connection();
            for table in TABLES {
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
