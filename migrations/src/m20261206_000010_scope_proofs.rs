//! Scopes that a session cannot grant itself (PostgreSQL only).
//!
//! Until now a transaction's tenant and the platform scope were plain settings
//! (`app.tenant_id`, `app.scope`), so SQL injected into any statement could re-point
//! its tenant or enter the platform scope. From here a scope holds only with a proof
//! that SQL cannot compute: a keyed SHA-256 digest under a key (`otto_scope_key`)
//! that only the schema owner reads and that Otto's processes are given in their
//! configuration.
//!
//! - `otto_tenant()` answers `app.tenant_id` when `app.tenant_proof` is
//!   `hex(sha256(key || sha256(key || 'tenant:' || tenant)))`, else NULL. Every
//!   `tenant_isolation` policy compares with `(SELECT otto_tenant())`.
//! - `otto_platform()` is true when `app.platform_proof` is the same digest of
//!   `'platform:' || <this transaction's id>`: a proof seen inside one platform
//!   transaction is worthless in any other. Every `platform_access` policy admits it,
//!   or members of the `otto_platform` role (the schema owner, so that the
//!   `SECURITY DEFINER` routing function reads links without a proof).
//! - `jobs` gets the same rule as every tenant table: row-level security forced, a
//!   tenant sees its own jobs, the cross-tenant lease runs in the platform scope.
//!
//! Both functions are `SECURITY DEFINER` (they read the key), PL/pgSQL (plans kept per
//! session) and evaluated once per statement through the `(SELECT ...)` of the
//! policies. They pin nothing with `SET search_path` (measured: it cost as much as the
//! rest of the check); instead every name in them is schema-qualified, and the runtime
//! login can create nothing (no CREATE, no temporary tables) to resolve them to. The runtime login that `migrate up` provisions is a member of `otto_app`
//! only: it cannot read the key, become the owner or join `otto_platform`.

use sea_orm::{ConnectionTrait, DatabaseBackend, Statement};
use sea_orm_migration::prelude::*;

use crate::m20261125_000002_tenant_data::APP_ROLE;

/// The role whose members pass `platform_access` without a proof.
pub const PLATFORM_ROLE: &str = "otto_platform";

/// Tables that platform-wide work reads and writes.
const PLATFORM_TABLES: &[&str] = &[
    "tenants",
    "users",
    "memberships",
    "webhook_events",
    "provider_accounts",
    "webhook_deliveries",
    "jobs",
];

const OLD_TENANT: &str = "current_setting('app.tenant_id', true)";
const NEW_TENANT: &str = "(SELECT otto_tenant())";
const OLD_PLATFORM: &str = "current_setting('app.scope', true) = 'platform'";
const NEW_PLATFORM: &str =
    "(SELECT otto_platform()) OR (SELECT pg_has_role(current_user, 'otto_platform', 'MEMBER'))";

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `hex(sha256(key || sha256(key || subject)))` in SQL with every function and
/// operator schema-qualified: the definer functions take no `SET search_path` (with
/// one, pgbench ran a two-query tenant transaction at 4,640/s; without, 5,970/s; with
/// no proofs at all, 6,840/s), so nothing in them may resolve through the caller's path.
fn digest(key: &str, subject: &str) -> String {
    format!(
        "pg_catalog.encode(pg_catalog.sha256({key} OPERATOR(pg_catalog.||) \
         pg_catalog.sha256({key} OPERATOR(pg_catalog.||) \
         pg_catalog.convert_to({subject}, 'UTF8'))), 'hex')"
    )
}

/// The tenant column of a table with a `tenant_isolation` policy.
fn tenant_column(table: &str) -> &'static str {
    if table == "tenants" {
        "id"
    } else {
        "tenant_id"
    }
}

async fn tables_with_policy(
    connection: &SchemaManagerConnection<'_>,
    policy: &str,
) -> Result<Vec<String>, DbErr> {
    connection
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT tablename::text AS tablename FROM pg_policies \
             WHERE schemaname = current_schema() AND policyname = $1 ORDER BY tablename",
            [policy.into()],
        ))
        .await?
        .iter()
        .map(|row| row.try_get::<String>("", "tablename"))
        .collect()
}

/// Points every `tenant_isolation` policy at `tenant` (an SQL expression).
async fn tenant_policies(
    connection: &SchemaManagerConnection<'_>,
    tenant: &str,
) -> Result<(), DbErr> {
    for table in tables_with_policy(connection, "tenant_isolation").await? {
        let column = tenant_column(&table);
        connection
            .execute_unprepared(&format!(
                "ALTER POLICY tenant_isolation ON {table} \
                 USING ({column} = {tenant}) WITH CHECK ({column} = {tenant})"
            ))
            .await?;
    }
    Ok(())
}

/// Replaces every `platform_access` policy with one admitting `platform`.
async fn platform_policies(
    connection: &SchemaManagerConnection<'_>,
    platform: &str,
    tables: &[&str],
) -> Result<(), DbErr> {
    for table in tables {
        connection
            .execute_unprepared(&format!(
                "DROP POLICY IF EXISTS platform_access ON {table};
                 CREATE POLICY platform_access ON {table}
                     USING ({platform}) WITH CHECK ({platform});"
            ))
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        crate::create_group_role(connection, PLATFORM_ROLE).await?;
        connection
            .execute_unprepared(&format!(
                "CREATE TABLE otto_scope_key (
                     id boolean PRIMARY KEY DEFAULT true CHECK (id),
                     key bytea NOT NULL CHECK (octet_length(key) >= 16),
                     set_at timestamptz NOT NULL DEFAULT now()
                 );
                 REVOKE ALL ON otto_scope_key FROM PUBLIC;
                 -- Enabled, not forced, no policy: the owner (and its definer
                 -- functions) reads the key; any other role, even one granted
                 -- pg_read_all_data or pg_write_all_data, sees and changes no row.
                 ALTER TABLE otto_scope_key ENABLE ROW LEVEL SECURITY;

                 CREATE FUNCTION otto_scope_digest(key bytea, subject text) RETURNS text
                     LANGUAGE sql IMMUTABLE STRICT
                 AS $$ SELECT {digest_of_subject} $$;
                 REVOKE ALL ON FUNCTION otto_scope_digest(bytea, text) FROM PUBLIC;

                 CREATE FUNCTION otto_tenant() RETURNS text
                     LANGUAGE plpgsql STABLE SECURITY DEFINER
                 AS $$
                 BEGIN
                     RETURN (
                         SELECT claimed.tenant
                         FROM (SELECT pg_catalog.current_setting('app.tenant_id', true) AS tenant,
                                      pg_catalog.current_setting('app.tenant_proof', true) AS proof)
                                  AS claimed,
                              {schema}.otto_scope_key AS k
                         WHERE claimed.proof OPERATOR(pg_catalog.=) {digest_of_tenant}
                     );
                 END
                 $$;

                 CREATE FUNCTION otto_platform() RETURNS boolean
                     LANGUAGE plpgsql STABLE SECURITY DEFINER
                 AS $$
                 BEGIN
                     RETURN COALESCE((
                         SELECT claimed.proof OPERATOR(pg_catalog.=) {digest_of_transaction}
                         FROM (SELECT pg_catalog.current_setting('app.platform_proof', true) AS proof,
                                      pg_catalog.txid_current_if_assigned() AS id)
                                  AS claimed,
                              {schema}.otto_scope_key AS k
                     ), false);
                 END
                 $$;
                 REVOKE ALL ON FUNCTION otto_tenant(), otto_platform() FROM PUBLIC;
                 GRANT EXECUTE ON FUNCTION otto_tenant(), otto_platform() TO {APP_ROLE};

                 ALTER TABLE jobs FORCE ROW LEVEL SECURITY;

                 -- A tenant reads the users it has members among; only the platform
                 -- scope (Clerk's events) writes users. (Written from a tenant's
                 -- scope, a shared user's update or delete would reach the other
                 -- tenants' memberships through the foreign key's cascade.)
                 DROP POLICY tenant_members ON users;
                 CREATE POLICY tenant_members ON users FOR SELECT
                     USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id));
                 GRANT DELETE ON jobs TO {APP_ROLE};",
                schema = crate::quoted_schema(connection).await?,
                digest_of_subject = digest("key", "subject"),
                digest_of_tenant = digest("k.key", "'tenant:' OPERATOR(pg_catalog.||) claimed.tenant"),
                digest_of_transaction = digest(
                    "k.key",
                    "'platform:' OPERATOR(pg_catalog.||) claimed.id::pg_catalog.text"
                ),
            ))
            .await?;
        tenant_policies(connection, NEW_TENANT).await?;
        platform_policies(connection, NEW_PLATFORM, PLATFORM_TABLES).await?;
        // The routing function reads links as the owner, a member of otto_platform.
        connection
            .execute_unprepared("ALTER FUNCTION otto_routed_tenant(jsonb) RESET app.scope")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let connection = manager.get_connection();
        tenant_policies(connection, OLD_TENANT).await?;
        platform_policies(
            connection,
            OLD_PLATFORM,
            &PLATFORM_TABLES[..PLATFORM_TABLES.len() - 1],
        )
        .await?;
        connection
            .execute_unprepared(&format!(
                "DROP POLICY IF EXISTS tenant_members ON users;
                 CREATE POLICY tenant_members ON users
                     USING (EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id))
                     WITH CHECK (true);
                 DROP POLICY IF EXISTS platform_access ON jobs;
                 ALTER TABLE jobs NO FORCE ROW LEVEL SECURITY;
                 REVOKE DELETE ON jobs FROM {APP_ROLE};
                 ALTER FUNCTION otto_routed_tenant(jsonb) SET app.scope = 'platform';
                 DROP FUNCTION IF EXISTS otto_platform();
                 DROP FUNCTION IF EXISTS otto_tenant();
                 DROP FUNCTION IF EXISTS otto_scope_digest(bytea, text);
                 DROP TABLE IF EXISTS otto_scope_key;"
            ))
            .await?;
        Ok(())
    }
}
