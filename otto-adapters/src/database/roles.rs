//! The PostgreSQL roles Otto runs as (see docs/operations.md, "Database roles").
//!
//! - The **schema owner** (the user of OTTO_MIGRATION_DATABASE_URL) runs migrations
//!   and owns every table and function. It is a member of `otto_app` and
//!   `otto_platform`.
//! - The **runtime login** (the user of DATABASE_URL) serves, works jobs and runs
//!   operator commands. It is a member of `otto_app` only: not a superuser, no
//!   BYPASSRLS, no CREATEROLE/CREATEDB, not the owner nor a member of it or of
//!   `otto_platform`, no temporary tables (one would shadow a table of the same name),
//!   no CREATE in the schema. Its scopes hold only with proofs made from the scope
//!   key, which it cannot read.
//!
//! `migrate up` creates the runtime login when it is missing (with the password of
//! DATABASE_URL), grants it `otto_app`, takes away what every role gets by default,
//! and checks the result; `serve` and the worker check their own login at start.

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

/// What a login may do that a runtime login must not. Each field is true when the
/// login has that power.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoginPowers {
    /// The login's name.
    pub login: String,
    /// Superuser.
    pub superuser: bool,
    /// Bypasses row-level security.
    pub bypass_rls: bool,
    /// May create roles or databases.
    pub creates_roles_or_databases: bool,
    /// Is, or may become, the owner of Otto's tables.
    pub owner: bool,
    /// Is a member of `otto_platform` (passes the platform policies without a proof).
    pub platform_member: bool,
    /// May create temporary tables.
    pub temporary_tables: bool,
    /// May create objects in the schema.
    pub creates_in_schema: bool,
    /// Holds a privilege on the scope key's table (directly, or through a predefined
    /// role such as `pg_read_all_data`).
    pub touches_scope_key: bool,
    /// May start replication (and so read every row).
    pub replication: bool,
    /// Is a member of `otto_app` (needed to work at all).
    pub app_member: bool,
}

impl LoginPowers {
    /// What is wrong with this login as a runtime login, one line each.
    pub fn violations(&self) -> Vec<String> {
        let mut wrong = Vec::new();
        let mut flag = |has: bool, what: &str| {
            if has {
                wrong.push(format!("`{}` {what}", self.login));
            }
        };
        flag(self.superuser, "is a superuser");
        flag(self.bypass_rls, "bypasses row-level security");
        flag(
            self.creates_roles_or_databases,
            "may create roles or databases",
        );
        flag(self.owner, "is (or may become) the owner of Otto's tables");
        flag(
            self.platform_member,
            "is a member of otto_platform (platform scope without a proof)",
        );
        flag(self.temporary_tables, "may create temporary tables");
        flag(self.creates_in_schema, "may create objects in the schema");
        flag(
            self.touches_scope_key,
            "holds a privilege on otto_scope_key (pg_read_all_data or pg_write_all_data?)",
        );
        flag(self.replication, "may start replication");
        flag(!self.app_member, "is not a member of otto_app");
        wrong
    }
}

/// The powers of `login` (`None`: the connection's own user) in this database.
pub async fn login_powers(
    connection: &impl ConnectionTrait,
    login: Option<&str>,
) -> Result<LoginPowers, DbErr> {
    let row = connection
        .query_one_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT r.rolname::text AS login, r.rolsuper AS superuser, \
                    r.rolbypassrls AS bypass_rls, \
                    (r.rolcreaterole OR r.rolcreatedb) AS creates_roles_or_databases, \
                    COALESCE(pg_has_role(r.oid, (SELECT relowner FROM pg_class \
                        WHERE oid = to_regclass('calls')), 'MEMBER'), false) AS owner, \
                    pg_has_role(r.oid, 'otto_platform', 'MEMBER') AS platform_member, \
                    has_database_privilege(r.oid, current_database(), 'TEMPORARY') \
                        AS temporary_tables, \
                    has_schema_privilege(r.oid, current_schema(), 'CREATE') AS creates_in_schema, \
                    COALESCE(has_table_privilege(r.oid, to_regclass('otto_scope_key'), \
                        'SELECT, INSERT, UPDATE, DELETE, TRUNCATE'), false) AS touches_scope_key, \
                    r.rolreplication AS replication, \
                    pg_has_role(r.oid, 'otto_app', 'USAGE') AS app_member \
             FROM pg_roles AS r WHERE r.rolname = COALESCE($1, current_user)",
            [login.map(str::to_owned).into()],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom(format!("no role `{}`", login.unwrap_or("current_user"))))?;
    Ok(LoginPowers {
        login: row.try_get("", "login")?,
        superuser: row.try_get("", "superuser")?,
        bypass_rls: row.try_get("", "bypass_rls")?,
        creates_roles_or_databases: row.try_get("", "creates_roles_or_databases")?,
        owner: row.try_get("", "owner")?,
        platform_member: row.try_get("", "platform_member")?,
        temporary_tables: row.try_get("", "temporary_tables")?,
        creates_in_schema: row.try_get("", "creates_in_schema")?,
        touches_scope_key: row.try_get("", "touches_scope_key")?,
        replication: row.try_get("", "replication")?,
        app_member: row.try_get("", "app_member")?,
    })
}

/// A login to provision: its name and the password it connects with.
#[derive(Debug, Clone)]
pub struct RuntimeLogin {
    /// The role name (the user of DATABASE_URL).
    pub name: String,
    /// Its password, when DATABASE_URL has one.
    pub password: Option<String>,
}

impl RuntimeLogin {
    /// The login (user and password) of a `postgres://` URL; `None` for another
    /// backend or a URL without a user.
    pub fn of_url(database_url: &str) -> Option<Self> {
        let url = url::Url::parse(database_url).ok()?;
        if !matches!(url.scheme(), "postgres" | "postgresql") || url.username().is_empty() {
            return None;
        }
        let decode = |text: &str| percent_decode(text).unwrap_or_else(|| text.to_owned());
        Some(RuntimeLogin {
            name: decode(url.username()),
            password: url.password().map(decode),
        })
    }
}

fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' && tail.len() >= 2 {
            let hex = std::str::from_utf8(&tail[..2]).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

/// Creates `login` if it is missing (else sets its password, when given), makes it a
/// member of `otto_app` only, and takes away from every role what a runtime login
/// must not have by default (temporary tables in this database, CREATE in the
/// schema). Runs as the schema owner, who needs CREATEROLE for a new login. Returns
/// the login's powers afterwards (the caller decides what a violation means).
pub async fn provision_runtime_login(
    connection: &impl ConnectionTrait,
    login: &RuntimeLogin,
) -> Result<LoginPowers, DbErr> {
    let statement = |sql: &str, values: Vec<sea_orm::Value>| {
        Statement::from_sql_and_values(DatabaseBackend::Postgres, sql, values)
    };
    // format() quotes the name and password: the SQL text is the server's own.
    let exists = connection
        .query_one_raw(statement(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1) AS exists",
            vec![login.name.clone().into()],
        ))
        .await?
        .map(|row| row.try_get::<bool>("", "exists"))
        .transpose()?
        .unwrap_or(false);
    let ddl = match (exists, &login.password) {
        (false, password) => Some(statement(
            "SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE \
             NOBYPASSRLS INHERIT PASSWORD %L', $1::text, $2::text) AS sql",
            vec![login.name.clone().into(), password.clone().into()],
        )),
        (true, Some(password)) => Some(statement(
            "SELECT format('ALTER ROLE %I PASSWORD %L', $1::text, $2::text) AS sql",
            vec![login.name.clone().into(), password.clone().into()],
        )),
        (true, None) => None,
    };
    if let Some(ddl) = ddl {
        let sql: String = connection
            .query_one_raw(ddl)
            .await?
            .ok_or_else(|| DbErr::Custom("format() answered nothing".to_owned()))?
            .try_get("", "sql")?;
        connection.execute_unprepared(&sql).await?;
    }
    // One format() per statement, each run on its own: names are quoted by the server,
    // and no generated text is ever split or joined.
    let grants = [
        ("GRANT otto_app TO %1$I", true),
        ("REVOKE otto_platform FROM %1$I", false),
        ("REVOKE TEMPORARY ON DATABASE %2$I FROM PUBLIC", false),
        ("REVOKE TEMPORARY ON DATABASE %2$I FROM %1$I", false),
        ("REVOKE CREATE ON SCHEMA %3$I FROM PUBLIC", false),
        ("REVOKE CREATE ON SCHEMA %3$I FROM %1$I", false),
    ];
    for (template, required) in grants {
        let sql: String = connection
            .query_one_raw(statement(
                "SELECT format($1::text, $2::text, current_database(), current_schema()) AS sql",
                vec![template.into(), login.name.clone().into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("format() answered nothing".to_owned()))?
            .try_get("", "sql")?;
        // A REVOKE the owner may not make (it does not own the database or schema)
        // is reported by the check below rather than failing the migration.
        if let Err(error) = connection.execute_unprepared(&sql).await
            && required
        {
            return Err(error);
        }
    }
    login_powers(connection, Some(&login.name)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_login_of_a_url_is_its_decoded_user_and_password() {
        let url = "postgres://otto%5Fweb:p%40ss%3Aword@db:5432/otto"; // pragma: allowlist secret
        let login = RuntimeLogin::of_url(url).expect("a login");
        assert_eq!(login.name, "otto_web");
        assert_eq!(login.password.as_deref(), Some("p@ss:word"));
        assert!(RuntimeLogin::of_url("sqlite://data/otto.db").is_none());
        assert!(RuntimeLogin::of_url("postgres://db/otto").is_none());
        let passwordless = RuntimeLogin::of_url("postgres://otto@db/otto").expect("a login");
        assert_eq!(passwordless.password, None);
    }

    #[test]
    fn every_power_a_runtime_login_must_not_have_is_named() {
        let clean = LoginPowers {
            login: "otto_web".into(),
            app_member: true,
            ..LoginPowers::default()
        };
        assert!(clean.violations().is_empty());
        let owner = LoginPowers {
            owner: true,
            superuser: true,
            temporary_tables: true,
            app_member: false,
            ..clean
        };
        let violations = owner.violations();
        assert_eq!(violations.len(), 4, "{violations:?}");
        assert!(violations.iter().all(|line| line.starts_with("`otto_web`")));
    }
}
