//! Otto's schema, as sea-orm migrations that run on PostgreSQL and SQLite alike.
//!
//! Every migration has a working `down`, and the test suite in `otto-adapters`
//! (`tests/migrations.rs`) runs all of them up and back down on both databases.
//! Add a migration as a new module named `mYYYYMMDD_NNNNNN_what` and list it in
//! [`Migrator::migrations`], last.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tenants;
mod m20261125_000002_tenant_data;
mod m20261125_000003_webhooks;
mod m20261126_000004_follow_ups;
mod m20261126_000005_insights;
mod m20261126_000006_product_api;
mod m20261126_000007_webhook_log;
mod m20261126_000008_job_lease_index;
mod m20261126_000009_routing_function;
mod m20261206_000010_scope_proofs;
mod m20261206_000011_live_events;
mod m20261206_000012_lookup_indexes;
mod m20261206_000013_call_search_terms;
mod m20261206_000014_dashboard_indexes;
mod m20261206_000015_dashboard_days;
mod m20261206_000016_pending_live_events;
mod m20261206_000017_search_term_order;
mod m20261206_000018_dashboard_hours;
mod m20261207_000019_dashboard_months;
mod m20261207_000020_dashboard_last_hour;
mod m20261207_000021_dashboard_settled_hours;

pub use m20261125_000002_tenant_data::APP_ROLE;
pub use m20261125_000003_webhooks::PLATFORM_KEY_OWNER;
pub use m20261206_000010_scope_proofs::PLATFORM_ROLE;

/// Adds `column` to `table`, one column per statement: SQLite cannot add several in
/// one `ALTER TABLE`.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(column).to_owned())
        .await
}

/// Creates the cluster-wide group role `role` (NOLOGIN, no BYPASSRLS) unless it exists,
/// and makes the migrating user a member unless it is a superuser. Several databases
/// (or concurrent migrations) may race to create it: losing that race is fine.
async fn create_group_role(
    connection: &SchemaManagerConnection<'_>,
    role: &str,
) -> Result<(), DbErr> {
    connection
        .execute_unprepared(&format!(
            "DO $$ BEGIN
                 IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{role}') THEN
                     CREATE ROLE {role} NOLOGIN NOBYPASSRLS;
                 END IF;
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
             END $$;
             DO $$ BEGIN
                 IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
                     EXECUTE format('GRANT {role} TO %I', current_user);
                 END IF;
             END $$;"
        ))
        .await
        .map(|_| ())
}

/// The quoted current schema, for schema-qualified names in functions whose
/// `search_path` is pinned.
async fn quoted_schema(connection: &SchemaManagerConnection<'_>) -> Result<String, DbErr> {
    connection
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT quote_ident(current_schema()) AS schema",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("no current schema".to_owned()))?
        .try_get::<String>("", "schema")
}

/// Runs `statements` for the backend the migration runs on: a migration whose SQL is
/// written out per backend (the dashboard's tables and triggers).
async fn execute_per_backend(
    manager: &SchemaManager<'_>,
    postgres: impl FnOnce() -> String,
    sqlite: impl FnOnce() -> String,
) -> Result<(), DbErr> {
    let statements = match manager.get_database_backend() {
        sea_orm::DatabaseBackend::Postgres => postgres(),
        _ => sqlite(),
    };
    manager
        .get_connection()
        .execute_unprepared(&statements)
        .await
        .map(|_| ())
}

/// Runs Otto's migrations in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tenants::Migration),
            Box::new(m20261125_000002_tenant_data::Migration),
            Box::new(m20261125_000003_webhooks::Migration),
            Box::new(m20261126_000004_follow_ups::Migration),
            Box::new(m20261126_000005_insights::Migration),
            Box::new(m20261126_000006_product_api::Migration),
            Box::new(m20261126_000007_webhook_log::Migration),
            Box::new(m20261126_000008_job_lease_index::Migration),
            Box::new(m20261126_000009_routing_function::Migration),
            Box::new(m20261206_000010_scope_proofs::Migration),
            Box::new(m20261206_000011_live_events::Migration),
            Box::new(m20261206_000012_lookup_indexes::Migration),
            Box::new(m20261206_000013_call_search_terms::Migration),
            Box::new(m20261206_000014_dashboard_indexes::Migration),
            Box::new(m20261206_000015_dashboard_days::Migration),
            Box::new(m20261206_000016_pending_live_events::Migration),
            Box::new(m20261206_000017_search_term_order::Migration),
            Box::new(m20261206_000018_dashboard_hours::Migration),
            Box::new(m20261207_000019_dashboard_months::Migration),
            Box::new(m20261207_000020_dashboard_last_hour::Migration),
            Box::new(m20261207_000021_dashboard_settled_hours::Migration),
        ]
    }
}
