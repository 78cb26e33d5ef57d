//! Follow-up work: each tenant's settings for it, and the outbound actions jobs take
//! (text messages, AI calls), recorded before the provider is called so that no
//! retry does one twice. Both are tenant-owned: on PostgreSQL they get the forced `tenant_isolation`
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
enum OutboundActions {
    Table,
    Id,
    TenantId,
    Kind,
    FollowUpKey,
    CallId,
    ToNumber,
    FromNumber,
    Body,
    ProviderRef,
    StartedAt,
    CompletedAt,
}

const TABLES: [&str; 2] = ["tenant_settings", "outbound_actions"];

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
                    .table(OutboundActions::Table)
                    .if_not_exists()
                    .col(uuid(OutboundActions::Id).primary_key())
                    .col(string(OutboundActions::TenantId))
                    .col(string(OutboundActions::Kind))
                    .col(string(OutboundActions::FollowUpKey))
                    .col(uuid_null(OutboundActions::CallId))
                    .col(string(OutboundActions::ToNumber))
                    .col(string_null(OutboundActions::FromNumber))
                    .col(text(OutboundActions::Body))
                    .col(string_null(OutboundActions::ProviderRef))
                    .col(timestamp_with_time_zone(OutboundActions::StartedAt))
                    .col(timestamp_with_time_zone_null(OutboundActions::CompletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbound_actions_tenant_kind_key")
                    .table(OutboundActions::Table)
                    .col(OutboundActions::TenantId)
                    .col(OutboundActions::Kind)
                    .col(OutboundActions::FollowUpKey)
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
