//! Users, memberships and the tenant-owned domain tables, with row-level security on
//! PostgreSQL.
//!
//! Every tenant-owned table has a non-null `tenant_id`. On PostgreSQL each of them
//! (and `tenants` itself) has RLS enabled *and forced*, with one policy:
//! `tenant_id = current_setting('app.tenant_id', true)`. The server runs each unit of
//! work in a transaction that switches to the `otto_app` role (which owns nothing and
//! cannot bypass RLS) and sets `app.tenant_id` locally; with no tenant set, the
//! setting is NULL or empty and the policy matches no row, for reads and writes.

use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The role the server uses for tenant data: no ownership, no BYPASSRLS.
pub const APP_ROLE: &str = "otto_app";

/// Tenant-owned tables and the column their policy compares.
const TENANT_TABLES: &[(&str, &str)] = &[
    ("tenants", "id"),
    ("memberships", "tenant_id"),
    ("calls", "tenant_id"),
    ("messages", "tenant_id"),
    ("recordings", "tenant_id"),
    ("transcripts", "tenant_id"),
    ("analyses", "tenant_id"),
];

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    TenantId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Calls {
    Table,
    Id,
    TenantId,
    Provider,
    ExternalId,
    Direction,
    CustomerName,
    CustomerNumber,
    Answered,
    DurationSeconds,
    StartedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
    TenantId,
    CallId,
    Provider,
    ExternalId,
    Direction,
    CustomerNumber,
    Body,
    SentAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Recordings {
    Table,
    Id,
    TenantId,
    CallId,
    ExternalId,
    Url,
    DurationSeconds,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Transcripts {
    Table,
    Id,
    TenantId,
    CallId,
    Language,
    Text,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Analyses {
    Table,
    Id,
    TenantId,
    CallId,
    Model,
    Summary,
    TokensUsed,
    CreatedAt,
}

fn child_of_call<T: IntoIden + 'static>(table: T, call_id: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, call_id)
        .to(Calls::Table, Calls::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(string(Users::Id).primary_key())
                    .col(string_null(Users::Email))
                    .col(string_null(Users::Name))
                    .col(
                        timestamp_with_time_zone(Users::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .col(
                        timestamp_with_time_zone(Users::UpdatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .if_not_exists()
                    .col(uuid(Memberships::Id).primary_key())
                    .col(string(Memberships::TenantId))
                    .col(string(Memberships::UserId))
                    .col(string(Memberships::Role))
                    .col(
                        timestamp_with_time_zone(Memberships::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .index(
                        Index::create()
                            .unique()
                            .col(Memberships::TenantId)
                            .col(Memberships::UserId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Calls::Table)
                    .if_not_exists()
                    .col(uuid(Calls::Id).primary_key())
                    .col(string(Calls::TenantId))
                    .col(string(Calls::Provider))
                    .col(string(Calls::ExternalId))
                    .col(string(Calls::Direction))
                    .col(string_null(Calls::CustomerName))
                    .col(string_null(Calls::CustomerNumber))
                    .col(boolean(Calls::Answered))
                    .col(integer(Calls::DurationSeconds))
                    .col(timestamp_with_time_zone(Calls::StartedAt))
                    .col(
                        timestamp_with_time_zone(Calls::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .col(
                        timestamp_with_time_zone(Calls::UpdatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .index(
                        Index::create()
                            .unique()
                            .col(Calls::TenantId)
                            .col(Calls::Provider)
                            .col(Calls::ExternalId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("calls_tenant_newest_first")
                    .table(Calls::Table)
                    .col(Calls::TenantId)
                    .col((Calls::StartedAt, IndexOrder::Desc))
                    .col((Calls::Id, IndexOrder::Desc))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Messages::Table)
                    .if_not_exists()
                    .col(uuid(Messages::Id).primary_key())
                    .col(string(Messages::TenantId))
                    .col(uuid_null(Messages::CallId))
                    .col(string(Messages::Provider))
                    .col(string(Messages::ExternalId))
                    .col(string(Messages::Direction))
                    .col(string(Messages::CustomerNumber))
                    .col(text(Messages::Body))
                    .col(timestamp_with_time_zone(Messages::SentAt))
                    .col(
                        timestamp_with_time_zone(Messages::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .foreign_key(&mut child_of_call(Messages::Table, Messages::CallId))
                    .index(
                        Index::create()
                            .unique()
                            .col(Messages::TenantId)
                            .col(Messages::Provider)
                            .col(Messages::ExternalId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Recordings::Table)
                    .if_not_exists()
                    .col(uuid(Recordings::Id).primary_key())
                    .col(string(Recordings::TenantId))
                    .col(uuid(Recordings::CallId))
                    .col(string(Recordings::ExternalId))
                    .col(text(Recordings::Url))
                    .col(integer_null(Recordings::DurationSeconds))
                    .col(
                        timestamp_with_time_zone(Recordings::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .foreign_key(&mut child_of_call(Recordings::Table, Recordings::CallId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Transcripts::Table)
                    .if_not_exists()
                    .col(uuid(Transcripts::Id).primary_key())
                    .col(string(Transcripts::TenantId))
                    .col(uuid(Transcripts::CallId))
                    .col(string_null(Transcripts::Language))
                    .col(text(Transcripts::Text))
                    .col(
                        timestamp_with_time_zone(Transcripts::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .foreign_key(&mut child_of_call(Transcripts::Table, Transcripts::CallId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Analyses::Table)
                    .if_not_exists()
                    .col(uuid(Analyses::Id).primary_key())
                    .col(string(Analyses::TenantId))
                    .col(uuid(Analyses::CallId))
                    .col(string(Analyses::Model))
                    .col(text(Analyses::Summary))
                    .col(integer(Analyses::TokensUsed))
                    .col(
                        timestamp_with_time_zone(Analyses::CreatedAt)
                            .default(Expr::current_timestamp()),
                    )
                    .foreign_key(&mut child_of_call(Analyses::Table, Analyses::CallId))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            enable_row_level_security(manager).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            let connection = manager.get_connection();
            connection
                .execute_unprepared("DROP POLICY IF EXISTS tenant_members ON users")
                .await?;
            connection
                .execute_unprepared("DROP POLICY IF EXISTS tenant_isolation ON tenants")
                .await?;
            connection
                .execute_unprepared("ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY")
                .await?;
            connection
                .execute_unprepared("ALTER TABLE tenants DISABLE ROW LEVEL SECURITY")
                .await?;
            connection
                .execute_unprepared(&format!("REVOKE ALL ON tenants, users FROM {APP_ROLE}"))
                .await?;
        }
        for table in [
            "analyses",
            "transcripts",
            "recordings",
            "messages",
            "calls",
            "memberships",
            "users",
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

async fn enable_row_level_security(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let connection = manager.get_connection();
    // The migrating user may switch to the role per transaction (superusers can anyway).
    crate::create_group_role(connection, APP_ROLE).await?;
    connection
        .execute_unprepared(&format!("GRANT USAGE ON SCHEMA public TO {APP_ROLE}"))
        .await?;
    for (table, column) in TENANT_TABLES {
        connection
            .execute_unprepared(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 CREATE POLICY tenant_isolation ON {table}
                     USING ({column} = current_setting('app.tenant_id', true))
                     WITH CHECK ({column} = current_setting('app.tenant_id', true));
                 GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE};"
            ))
            .await?;
    }
    // Users are shared across tenants: a tenant sees the users it has memberships for.
    connection
        .execute_unprepared(&format!(
            "ALTER TABLE users ENABLE ROW LEVEL SECURITY;
             ALTER TABLE users FORCE ROW LEVEL SECURITY;
             CREATE POLICY tenant_members ON users
                 USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id))
                 WITH CHECK (true);
             GRANT SELECT, INSERT, UPDATE ON users TO {APP_ROLE};"
        ))
        .await?;
    Ok(())
}
