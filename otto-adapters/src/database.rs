//! Database connections (PostgreSQL or SQLite through sea-orm), migrations, readiness.

pub mod roles;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use migrations::{Migrator, MigratorTrait};
use otto_core::ports::{ProbeError, ReadinessProbe};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr,
    TransactionTrait,
};

/// Why the database could not be opened or migrated.
#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    /// The URL is neither `postgres://` nor `sqlite:`.
    #[error(
        "unsupported database URL scheme `{0}` (expected postgres://, postgresql:// or sqlite:)"
    )]
    UnsupportedScheme(String),
    /// The SQLite file's directory could not be created.
    #[error("cannot create the SQLite data directory {path}: {source}")]
    DataDirectory {
        /// The directory Otto tried to create.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Connecting, querying or migrating failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Which database a URL points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A PostgreSQL server.
    Postgres,
    /// An SQLite file (the embedded default).
    Sqlite,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of(url: &str) -> Result<Self, DatabaseError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "sqlite" => Ok(Backend::Sqlite),
            other => Err(DatabaseError::UnsupportedScheme(other.to_owned())),
        }
    }
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections the pool holds open.
    pub max_connections: u32,
    /// How long to wait to establish or acquire a connection.
    pub connect_timeout: Duration,
    /// A pooled connection idle at least this long is pinged before it is handed out.
    /// Every connection is also pinged when it goes back to the pool (sqlx always
    /// does), so a busy connection is known good; pinging it again on every checkout
    /// cost a round trip per unit of work (two of a webhook's eleven).
    pub ping_when_idle_for: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 16,
            connect_timeout: Duration::from_secs(5),
            ping_when_idle_for: Duration::from_secs(1),
        }
    }
}

/// Opens a pool to `url`. For SQLite, the file and its directory are created if
/// missing and the journal is switched to WAL so readers do not block the writer.
pub async fn connect(
    url: &str,
    settings: &PoolSettings,
) -> Result<DatabaseConnection, DatabaseError> {
    let backend = Backend::of(url)?;
    let url = match backend {
        Backend::Sqlite => prepare_sqlite_url(url)?,
        Backend::Postgres => url.to_owned(),
    };
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.max_connections)
        .connect_timeout(settings.connect_timeout)
        .acquire_timeout(settings.connect_timeout)
        .test_before_acquire_if_idle_for(settings.ping_when_idle_for)
        .sqlx_logging(false);
    if backend == Backend::Sqlite {
        options
            // A unit of work is a savepoint in its write group (store::write_groups),
            // and rolling one back needs SQLite's statement sub-journal, a temporary
            // file by default: on a read-only root (the container image) there is no
            // directory for it ("disk I/O error", SQLITE_IOERR_GETTEMPPATH). Kept in
            // memory, it needs none.
            .map_sqlx_sqlite_opts(|sqlite| sqlite.pragma("temp_store", "memory"))
            .map_sqlx_sqlite_pool_opts(|pool| pool.after_release(still_outside_a_transaction));
    }
    let connection = Database::connect(options).await?;
    if backend == Backend::Sqlite {
        connection
            .execute_unprepared("PRAGMA journal_mode=WAL;")
            .await?;
    }
    Ok(connection)
}

/// Whether a SQLite connection going back to the pool is outside any transaction, as
/// sqlx counts them; one that is not is closed instead of reused. After SQLite rolls a
/// transaction back on its own (a full disk, an I/O error), the `ROLLBACK` that sqlx
/// sends fails and its count stays above zero; reused, such a connection would turn
/// the next `BEGIN` into a `SAVEPOINT` and the next `COMMIT` into a `RELEASE`, which
/// makes nothing durable. The ping first runs whatever rollback a dropped transaction
/// queued, so the count is current.
fn still_outside_a_transaction(
    connection: &mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + '_>,
> {
    use sea_orm::sqlx::Connection;
    Box::pin(async move {
        connection.ping().await?;
        Ok(!connection.is_in_transaction())
    })
}

/// The advisory lock that serialises migrations across processes (any fixed number;
/// this one spells "otto").
const MIGRATION_LOCK: i64 = 0x6f74_746f;

/// Applies every pending migration. On PostgreSQL, processes that start together
/// (an API and its workers) take turns: each waits for an advisory lock, held by a
/// transaction of its own while the migrations run on the pool's other connections,
/// and the later ones find nothing pending.
pub async fn migrate_up(connection: &DatabaseConnection) -> Result<(), DatabaseError> {
    if connection.get_database_backend() != DatabaseBackend::Postgres {
        Migrator::up(connection, None).await?;
        return Ok(());
    }
    // Needs a second pooled connection for the migrations themselves; with a pool of
    // one, acquiring it times out (connect_timeout) rather than hanging.
    let lock = connection.begin().await?;
    lock.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
        .await?;
    let migrated = Migrator::up(connection, None).await;
    let keyed = match migrated {
        Ok(()) => provide_scope_key(connection, None).await,
        Err(error) => Err(error),
    };
    lock.commit().await?;
    keyed?;
    Ok(())
}

/// Makes sure `otto_scope_key` holds the key that scope proofs are made with
/// (migration 10): `configured` when given (replacing any other, so a rotation is a
/// `migrate up` with the new OTTO_DATABASE_SCOPE_KEY), else a random 32-byte key when
/// none is stored yet. PostgreSQL only; no-op elsewhere.
pub async fn provide_scope_key(
    connection: &impl ConnectionTrait,
    configured: Option<&str>,
) -> Result<(), DbErr> {
    if connection.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let statement = match configured {
        Some(key) => sea_orm::Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "INSERT INTO otto_scope_key (key) VALUES (convert_to($1, 'UTF8')) \
             ON CONFLICT (id) DO UPDATE SET key = excluded.key, set_at = now() \
             WHERE otto_scope_key.key <> excluded.key",
            [key.into()],
        ),
        None => sea_orm::Statement::from_string(
            DatabaseBackend::Postgres,
            "INSERT INTO otto_scope_key (key) \
             VALUES (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8'))) \
             ON CONFLICT (id) DO NOTHING",
        ),
    };
    connection.execute_raw(statement).await.map(|_| ())
}

/// Reverts the last `steps` migrations.
pub async fn migrate_down(
    connection: &DatabaseConnection,
    steps: u32,
) -> Result<(), DatabaseError> {
    Migrator::down(connection, Some(steps)).await?;
    Ok(())
}

/// One migration and whether it has been applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// The migration's name.
    pub name: String,
    /// Whether it has been applied to this database.
    pub applied: bool,
}

/// Every known migration, in order, with its state.
pub async fn migration_status(
    connection: &DatabaseConnection,
) -> Result<Vec<MigrationState>, DatabaseError> {
    let applied: Vec<String> = Migrator::get_applied_migrations(connection)
        .await?
        .iter()
        .map(|migration| migration.name().to_owned())
        .collect();
    Ok(Migrator::migrations()
        .iter()
        .map(|migration| {
            let name = migration.name().to_owned();
            MigrationState {
                applied: applied.contains(&name),
                name,
            }
        })
        .collect())
}

/// Makes sure an SQLite URL's file can be created: creates its directory and asks for
/// read-write-create mode unless the URL already chose a mode.
fn prepare_sqlite_url(url: &str) -> Result<String, DatabaseError> {
    let path_and_query = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let in_memory = path == ":memory:" || query.contains("mode=memory");
    let data_directory = Path::new(path)
        .parent()
        .filter(|parent| !in_memory && !parent.as_os_str().is_empty());
    if let Some(parent) = data_directory {
        std::fs::create_dir_all(parent).map_err(|source| DatabaseError::DataDirectory {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(match (in_memory, query.contains("mode=")) {
        (false, false) if query.is_empty() => format!("sqlite://{path}?mode=rwc"),
        (false, false) => format!("sqlite://{path}?{query}&mode=rwc"),
        _ => url.to_owned(),
    })
}

/// Readiness of the database: one `SELECT 1` round trip.
#[derive(Debug, Clone)]
pub struct DatabaseProbe {
    connection: DatabaseConnection,
}

impl DatabaseProbe {
    /// A probe over an open pool.
    pub fn new(connection: DatabaseConnection) -> Self {
        DatabaseProbe { connection }
    }
}

#[async_trait]
impl ReadinessProbe for DatabaseProbe {
    fn component(&self) -> &'static str {
        "database"
    }

    async fn check(&self) -> Result<(), ProbeError> {
        self.connection
            .ping()
            .await
            .map_err(|error| ProbeError::Unavailable(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_are_recognised_by_scheme() {
        assert_eq!(
            Backend::of("postgres://localhost/otto").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of("postgresql://localhost/otto").ok(),
            Some(Backend::Postgres)
        );
        assert_eq!(
            Backend::of("sqlite://data/otto.db").ok(),
            Some(Backend::Sqlite)
        );
        let error = Backend::of("mysql://localhost/otto").expect_err("mysql is not supported");
        assert!(error.to_string().contains("mysql"), "{error}");
    }

    #[test]
    fn sqlite_urls_gain_create_mode_unless_they_chose_one() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("nested/otto.db");
        let url = format!("sqlite://{}", file.display());
        assert_eq!(
            prepare_sqlite_url(&url).expect("prepared"),
            format!("{url}?mode=rwc")
        );
        assert!(
            file.parent().expect("parent").is_dir(),
            "the data directory is created"
        );
        let with_query = format!("{url}?cache=shared");
        assert_eq!(
            prepare_sqlite_url(&with_query).expect("prepared"),
            format!("{url}?cache=shared&mode=rwc")
        );
        let read_only = format!("{url}?mode=ro");
        assert_eq!(prepare_sqlite_url(&read_only).expect("prepared"), read_only);
        assert_eq!(
            prepare_sqlite_url("sqlite::memory:").expect("prepared"),
            "sqlite::memory:"
        );
    }
}
