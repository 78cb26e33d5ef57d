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

/// Reverts every migration from the one whose name ends with `suffix` to the last.
async fn revert_through(connection: &DatabaseConnection, suffix: &str) {
    let status = database::migration_status(connection)
        .await
        .expect("status");
    let first = status
        .iter()
        .position(|migration| migration.name.ends_with(suffix))
        .unwrap_or_else(|| panic!("a migration named *{suffix}"));
    let steps = u32::try_from(status.len() - first).expect("few migrations");
    database::migrate_down(connection, steps)
        .await
        .unwrap_or_else(|error| panic!("down through *{suffix}: {error}"));
}

/// Migration 13 gives the calls that exist before it the same search terms as a call
/// recorded after it (`search_terms`), on both databases: PostgreSQL's backfill is SQL
/// and must agree with the Rust rule, name by name. Migration 17 gives them their
/// call's start.
async fn assert_existing_calls_get_their_search_terms(connection: &DatabaseConnection) {
    use otto_adapters::store::SqlStore;
    use otto_adapters::system::UuidV7Ids;
    use otto_core::calls::{CallFilter, CallSearch, Direction, NewCall, search_terms};
    use otto_core::ports::CallRepository;
    use otto_core::tenancy::{TenantId, TenantScope};

    database::migrate_up(connection).await.expect("up");
    let store = SqlStore::new(connection.clone(), std::sync::Arc::new(UuidV7Ids));
    let scope = TenantScope::for_verified_delivery(TenantId::parse("org_backfill").expect("valid"));
    let many_words = (0..20)
        .map(|i| format!("w{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let long_word = "x".repeat(100);
    let customers = [
        (Some("  Ana   LIMA "), Some("+1 (555) 111-0001")),
        (Some("ÉLODIE Dupré"), Some("+33612345678")),
        // Where PostgreSQL's lower() and \s differ from Rust's (a final sigma, a
        // no-break space): the terms must be Rust's, which searches look for.
        (Some("ΣΑΣ Ana\u{a0}Lima"), None),
        (Some(many_words.as_str()), None),
        (Some(long_word.as_str()), Some("no digits")),
        (None, Some("+15550000000")),
    ];
    for (index, (name, number)) in customers.iter().enumerate() {
        store
            .record(
                &scope,
                NewCall {
                    provider: "callrail".into(),
                    external_id: format!("B{index}"),
                    direction: Direction::Inbound,
                    customer_name: name.map(str::to_owned),
                    customer_number: number.map(str::to_owned),
                    answered: true,
                    duration_seconds: 1,
                    started_at: chrono::Utc::now(),
                },
            )
            .await
            .expect("recorded");
    }
    revert_through(connection, "_call_search_terms").await;
    assert!(
        !table_exists(connection, "call_search_terms").await,
        "the terms are rebuilt from the calls alone"
    );
    database::migrate_up(connection)
        .await
        .expect("up again, backfilling");
    let backend = connection.get_database_backend();
    for (name, number) in customers {
        let rows = connection
            .query_all_raw(Statement::from_sql_and_values(
                backend,
                "SELECT t.term FROM call_search_terms t JOIN calls c ON c.id = t.call_id \
                 WHERE c.customer_name IS NOT DISTINCT FROM $1 \
                 AND c.customer_number IS NOT DISTINCT FROM $2 ORDER BY t.term",
                [
                    name.map(str::to_owned).into(),
                    number.map(str::to_owned).into(),
                ],
            ))
            .await
            .expect("terms read");
        let mut stored: Vec<String> = rows
            .iter()
            .map(|row| row.try_get("", "term").expect("term"))
            .collect();
        stored.sort();
        assert_eq!(stored, search_terms(name, number), "{name:?} {number:?}");
    }
    let filter = CallFilter {
        search: CallSearch::parse("élodie"),
        ..CallFilter::default()
    };
    let found = store.list(&scope, &filter, None, 10).await.expect("lists");
    assert_eq!(found.items.len(), 1, "a backfilled call is found");

    // Migration 17 alone: terms that predate it get their call's start.
    revert_through(connection, "_search_term_order").await;
    database::migrate_up(connection)
        .await
        .expect("up again, backfilling the start");
    let undated = connection
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT count(*) AS undated FROM call_search_terms t JOIN calls c ON c.id = t.call_id \
             WHERE t.started_at IS NULL OR t.started_at <> c.started_at",
        ))
        .await
        .expect("reads")
        .expect("a row");
    assert_eq!(undated.try_get::<i64>("", "undated").expect("a count"), 0);
    let found = store.list(&scope, &filter, None, 10).await.expect("lists");
    assert_eq!(found.items.len(), 1, "found by its dated terms");

    // A term written without a start, as a previous release's process writes it
    // during a rollout, takes its call's: the call is still found.
    let call = found.items[0].id;
    connection
        .execute_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO call_search_terms (tenant_id, term, call_id) VALUES ($1, $2, $3)",
            ["org_backfill".into(), "wrollout".into(), call.into()],
        ))
        .await
        .expect("a term without a start");
    let filter = CallFilter {
        search: CallSearch::parse("rollout"),
        ..CallFilter::default()
    };
    let found = store.list(&scope, &filter, None, 10).await.expect("lists");
    assert_eq!(
        found.items.len(),
        1,
        "a term written without a start is dated"
    );
}

#[tokio::test]
async fn existing_calls_get_their_search_terms_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let connection = database::connect(&url, &PoolSettings::default())
        .await
        .expect("sqlite opens");
    assert_existing_calls_get_their_search_terms(&connection).await;
}

#[tokio::test]
async fn existing_calls_get_their_search_terms_on_postgres() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = database::connect(&test_database.url, &PoolSettings::default())
        .await
        .expect("postgres opens");
    assert_existing_calls_get_their_search_terms(&connection).await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}
