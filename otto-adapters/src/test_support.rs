//! Helpers for tests that need the local PostgreSQL or Redis servers.
//!
//! Tests create their own database (or key prefix) so they can run in parallel and
//! leave nothing behind. When a server cannot be reached the test is skipped with a
//! message, unless `OTTO_REQUIRE_SERVICES=1` (as in CI), where it fails instead.

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// Where the local PostgreSQL server is (override with `OTTO_TEST_POSTGRES_URL`).
pub fn postgres_admin_url() -> String {
    std::env::var("OTTO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Where the local Redis server is (override with `OTTO_TEST_REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("OTTO_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Whether unreachable services fail tests (CI) or skip them (a laptop without them).
pub fn services_required() -> bool {
    std::env::var("OTTO_REQUIRE_SERVICES")
        .is_ok_and(|value| value == "1" || value.eq_ignore_ascii_case("true"))
}

/// Reports an unreachable service: panics when services are required, else prints
/// why the test is skipped.
pub fn service_unavailable(service: &str, reason: &str) {
    assert!(
        !services_required(),
        "{service} is required (OTTO_REQUIRE_SERVICES=1) but unreachable: {reason}"
    );
    eprintln!(
        "skipping: {service} unreachable ({reason}); set OTTO_REQUIRE_SERVICES=1 to make this a failure"
    );
}

/// A client of the local Redis server once it is connected; `None` (after
/// [`service_unavailable`]) when it cannot be reached.
pub async fn connected_redis() -> Option<fred::prelude::Client> {
    let timeout = std::time::Duration::from_secs(2);
    let client = crate::redis::connect(&redis_url(), timeout).expect("a valid Redis URL");
    match crate::redis::wait_until_connected(&client, std::time::Duration::from_secs(3)).await {
        Ok(()) => Some(client),
        Err(error) => {
            service_unavailable("Redis", &error);
            None
        }
    }
}

/// A fresh PostgreSQL database, dropped by [`TestDatabase::drop_database`].
#[derive(Debug)]
pub struct TestDatabase {
    /// The URL of the new database.
    pub url: String,
    name: String,
    admin: DatabaseConnection,
}

impl TestDatabase {
    /// Creates a database with a unique name, or `None` (after reporting) when the
    /// server is unreachable and services are not required.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = postgres_admin_url();
        let admin = match Database::connect(admin_url.as_str()).await {
            Ok(connection) => connection,
            Err(error) => {
                service_unavailable("PostgreSQL", &error.to_string());
                return None;
            }
        };
        let name = format!("otto_test_{}", uuid::Uuid::new_v4().simple());
        if let Err(error) = admin
            .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
            .await
        {
            panic!("PostgreSQL is reachable but cannot create a test database: {error}");
        }
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        Some(TestDatabase {
            url: format!("{base}/{name}"),
            name,
            admin,
        })
    }

    /// A pooled connection to the database with every migration applied, and a store
    /// over it (UUIDv7 ids).
    pub async fn migrated_store(&self) -> (DatabaseConnection, crate::store::SqlStore) {
        let settings = crate::database::PoolSettings::default();
        let connection = crate::database::connect(&self.url, &settings)
            .await
            .expect("connects");
        crate::database::migrate_up(&connection)
            .await
            .expect("migrates");
        let ids = std::sync::Arc::new(crate::system::UuidV7Ids);
        let store = crate::store::SqlStore::new(connection.clone(), ids);
        (connection, store)
    }

    /// Runs `test` on a store over a new, migrated database, then drops the database;
    /// does nothing (after reporting) when the server is unreachable and services are
    /// not required.
    pub async fn with_migrated_store(test: impl AsyncFnOnce(&crate::store::SqlStore)) {
        let Some(test_database) = TestDatabase::create().await else {
            return;
        };
        let (connection, store) = test_database.migrated_store().await;
        test(&store).await;
        connection.close().await.expect("closes");
        test_database.drop_database().await;
    }

    /// Drops the database (closing other sessions on it first).
    pub async fn drop_database(self) {
        let statement = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(error) = self.admin.execute_unprepared(&statement).await {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
