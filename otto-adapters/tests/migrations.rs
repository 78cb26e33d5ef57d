//! Every migration runs up and back down on SQLite and on PostgreSQL.

use otto_adapters::database::{self, PoolSettings};
use otto_adapters::test_support::TestDatabase;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn table_exists(connection: &DatabaseConnection, table: &str) -> bool {
    let backend = connection.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Sqlite => {
            format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '{table}'")
        }
        _ => {
            format!("SELECT table_name FROM information_schema.tables WHERE table_name = '{table}'")
        }
    };
    connection
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .expect("catalog query")
        .is_some()
}

async fn assert_up_down_up(connection: &DatabaseConnection) {
    let migration_count = database::migration_status(connection)
        .await
        .expect("status")
        .len();
    assert!(migration_count > 0, "there is at least one migration");

    database::migrate_up(connection).await.expect("up");
    let status = database::migration_status(connection)
        .await
        .expect("status");
    assert!(
        status.iter().all(|migration| migration.applied),
        "all applied after up: {status:?}"
    );
    for table in [
        "tenants",
        "users",
        "memberships",
        "calls",
        "messages",
        "recordings",
        "transcripts",
        "analyses",
        "jobs",
        "tenant_settings",
        "outbound_actions",
    ] {
        assert!(
            table_exists(connection, table).await,
            "{table} exists after up"
        );
    }

    database::migrate_down(
        connection,
        u32::try_from(migration_count).expect("few migrations"),
    )
    .await
    .expect("down");
    let status = database::migration_status(connection)
        .await
        .expect("status");
    assert!(
        status.iter().all(|migration| !migration.applied),
        "none applied after down: {status:?}"
    );
    assert!(
        !table_exists(connection, "tenants").await,
        "down removes what up created"
    );

    // Up again: down left nothing behind that would make a second up fail.
    database::migrate_up(connection).await.expect("up again");
    assert!(table_exists(connection, "tenants").await);
}

#[tokio::test]
async fn migrations_run_up_and_down_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/data/otto.db", dir.path().display());
    let connection = database::connect(&url, &PoolSettings::default())
        .await
        .expect("sqlite opens");
    assert!(
        dir.path().join("data/otto.db").exists(),
        "the file and its directory are created"
    );
    assert_up_down_up(&connection).await;
}

#[tokio::test]
async fn migrations_run_up_and_down_on_postgres() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = database::connect(&test_database.url, &PoolSettings::default())
        .await
        .expect("postgres opens");
    assert_up_down_up(&connection).await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_starting_together_migrate_once_on_postgres() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..3 {
        let url = test_database.url.clone();
        starts.spawn(async move {
            let connection = database::connect(&url, &PoolSettings::default())
                .await
                .expect("connects");
            let migrated = database::migrate_up(&connection).await;
            connection.close().await.expect("close");
            migrated
        });
    }
    while let Some(started) = starts.join_next().await {
        started
            .expect("joins")
            .expect("every process starts, however they race to migrate");
    }
    test_database.drop_database().await;
}
