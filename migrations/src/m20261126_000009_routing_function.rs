//! Routing a delivery to its tenant in one statement (PostgreSQL only).
//!
//! Every verified delivery that names provider accounts asks which tenant linked the
//! first of them. That lookup reads `provider_accounts`, a platform table, so it
//! needed a transaction of its own: BEGIN, the platform scope, the SELECT, COMMIT;
//! four round trips before the delivery's own transaction began.
//!
//! `otto_routed_tenant(accounts jsonb)` answers it in one: a `SECURITY DEFINER`
//! function whose `SET app.scope = 'platform'` lasts only while it runs. Its body is
//! one fixed read-only query and it returns a tenant id and nothing else; only
//! `otto_app` (and so the roles that may switch to it) may call it. When the owning
//! role is not a superuser, row-level security still decides what it reads (the
//! table's RLS is forced: rows come only through the `platform_access` policy). Its
//! `search_path` is pinned and the table schema-qualified, as a definer function's
//! must be.
//!
//! It is PL/pgSQL, not SQL, for speed: PostgreSQL parses and plans the body of a SQL
//! function that cannot be inlined (and one with `SET` never is) on every call, which
//! cost a quarter of the database's time per delivery; PL/pgSQL keeps the plan for
//! the session.
//!
//! `accounts` is a JSON array of `{"provider", "account_id"}` objects; the answer
//! is the tenant of the first one linked, in array order, or NULL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::m20261125_000002_tenant_data::APP_ROLE;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The function's name and signature, as `DROP`/`GRANT` need them.
pub const ROUTING_FUNCTION: &str = "otto_routed_tenant(jsonb)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        let schema = crate::quoted_schema(connection).await?;
        connection
            .execute_unprepared(&format!(
                "CREATE FUNCTION otto_routed_tenant(accounts jsonb) RETURNS text
                     LANGUAGE plpgsql STABLE SECURITY DEFINER
                     SET search_path = pg_catalog, pg_temp
                     SET app.scope = 'platform'
                 AS $$
                 BEGIN
                     RETURN (
                         SELECT linked.tenant_id
                         FROM jsonb_array_elements(accounts)
                             WITH ORDINALITY AS named(account, position)
                         JOIN {schema}.provider_accounts AS linked
                           ON linked.provider = named.account->>'provider'
                          AND linked.account_id = named.account->>'account_id'
                         ORDER BY named.position
                         LIMIT 1
                     );
                 END
                 $$;
                 REVOKE ALL ON FUNCTION {ROUTING_FUNCTION} FROM PUBLIC;
                 GRANT EXECUTE ON FUNCTION {ROUTING_FUNCTION} TO {APP_ROLE};"
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP FUNCTION IF EXISTS {ROUTING_FUNCTION}"))
                .await?;
        }
        Ok(())
    }
}
