//! What the product API keeps beyond the provider facts: a call's outcome (booked,
//! appointment, notes, assigned rep), a company's AI follow-up switch and quiet
//! hours, and the indexes the call filters and message conversations read by.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

use crate::add_column;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Calls {
    Table,
    TenantId,
    Booked,
    AppointmentAt,
    Notes,
    AssignedRep,
    StartedAt,
    Id,
}

#[derive(DeriveIden)]
enum TenantSettings {
    Table,
    AiFollowUpEnabled,
    QuietHoursStart,
    QuietHoursEnd,
    TimeZone,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    TenantId,
    CustomerNumber,
    SentAt,
}

/// `(table, column)` pairs this migration adds, for `down`.
const ADDED: [(&str, &str); 8] = [
    ("calls", "booked"),
    ("calls", "appointment_at"),
    ("calls", "notes"),
    ("calls", "assigned_rep"),
    ("tenant_settings", "ai_follow_up_enabled"),
    ("tenant_settings", "quiet_hours_start"),
    ("tenant_settings", "quiet_hours_end"),
    ("tenant_settings", "time_zone"),
];

const CALLS_BY_REP: &str = "calls_tenant_rep_newest_first";
const MESSAGES_BY_CUSTOMER: &str = "messages_tenant_customer_newest_first";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(manager, Calls::Table, boolean_null(Calls::Booked)).await?;
        add_column(
            manager,
            Calls::Table,
            timestamp_with_time_zone_null(Calls::AppointmentAt),
        )
        .await?;
        add_column(manager, Calls::Table, text_null(Calls::Notes)).await?;
        add_column(manager, Calls::Table, string_null(Calls::AssignedRep)).await?;
        add_column(
            manager,
            TenantSettings::Table,
            boolean(TenantSettings::AiFollowUpEnabled)
                .default(false)
                .take(),
        )
        .await?;
        add_column(
            manager,
            TenantSettings::Table,
            string_null(TenantSettings::QuietHoursStart),
        )
        .await?;
        add_column(
            manager,
            TenantSettings::Table,
            string_null(TenantSettings::QuietHoursEnd),
        )
        .await?;
        add_column(
            manager,
            TenantSettings::Table,
            string_null(TenantSettings::TimeZone),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name(CALLS_BY_REP)
                    .table(Calls::Table)
                    .col(Calls::TenantId)
                    .col(Calls::AssignedRep)
                    .col((Calls::StartedAt, IndexOrder::Desc))
                    .col((Calls::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(MESSAGES_BY_CUSTOMER)
                    .table(Messages::Table)
                    .col(Messages::TenantId)
                    .col(Messages::CustomerNumber)
                    .col((Messages::SentAt, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(MESSAGES_BY_CUSTOMER)
                    .table(Messages::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name(CALLS_BY_REP)
                    .table(Calls::Table)
                    .to_owned(),
            )
            .await?;
        let connection = manager.get_connection();
        for (table, column) in ADDED {
            connection
                .execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
