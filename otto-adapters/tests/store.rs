//! The SQL store passes the repository contracts on SQLite and PostgreSQL, and on
//! PostgreSQL row-level security confines even raw SQL to the transaction's tenant.

use std::sync::Arc;

use otto_adapters::database::{self, PoolSettings};
use otto_adapters::store::{SqlStore, store_error};
use otto_adapters::system::UuidV7Ids;
use otto_adapters::test_support::TestDatabase;
use otto_core::ports::{CallRepository, DashboardQueries, StoreError};
use otto_testkit::contracts::{self, scope_of};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, Statement,
    TransactionTrait,
};

async fn migrated(url: &str) -> DatabaseConnection {
    let connection = database::connect(url, &PoolSettings::default())
        .await
        .expect("connects");
    database::migrate_up(&connection).await.expect("migrates");
    connection
}

#[tokio::test]
async fn the_sqlite_store_honours_the_repository_contracts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    let store = SqlStore::new(connection, Arc::new(UuidV7Ids));
    contracts::call_repository_contract(&store, "org_a", "org_b").await;
    contracts::company_directory_contract(&store, "org_a", "org_b").await;
}

#[tokio::test]
async fn the_postgres_store_honours_the_repository_contracts() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    contracts::call_repository_contract(&store, "org_a", "org_b").await;
    contracts::company_directory_contract(&store, "org_a", "org_b").await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

const TENANT_TABLES: &[&str] = &[
    "tenants",
    "memberships",
    "calls",
    "messages",
    "recordings",
    "transcripts",
    "analyses",
    "tenant_settings",
    "outbound_actions",
    // A row per settled day with a change (the call above, 11 days old).
    "dashboard_days",
    // And of its month.
    "dashboard_months",
    // A row per recent hour with a change (the message below, three hours old).
    "dashboard_hours",
    // A row per hour of a settled day a summary counted (written below).
    "dashboard_settled_hours",
    // The call's `call.created`, pending until a stream reads (and numbers) it.
    "pending_live_events",
];

/// A transaction as the application role, with `tenant` and its proof set (or no
/// tenant). The proof is made with the stored key, which this superuser connection
/// may read (the application role may not).
async fn as_app_role(connection: &DatabaseConnection, tenant: Option<&str>) -> DatabaseTransaction {
    let transaction = connection.begin().await.expect("begin");
    if let Some(tenant) = tenant {
        transaction
            .execute_raw(Statement::from_sql_and_values(
                sea_orm::DatabaseBackend::Postgres,
                "SELECT set_config('app.tenant_id', $1, true), \
                 set_config('app.tenant_proof', otto_scope_digest(key, 'tenant:' || $1), true) \
                 FROM otto_scope_key",
                [tenant.into()],
            ))
            .await
            .expect("set tenant");
    }
    transaction
        .execute_unprepared("SET LOCAL ROLE otto_app")
        .await
        .expect("switch role");
    transaction
}

/// A transaction as the application role that sets the tenant (and the old platform
/// switch) the way injected SQL could: settings without a proof.
async fn as_app_role_by_settings(
    connection: &DatabaseConnection,
    tenant: &str,
) -> DatabaseTransaction {
    let transaction = connection.begin().await.expect("begin");
    transaction
        .execute_unprepared("SET LOCAL ROLE otto_app")
        .await
        .expect("switch role");
    transaction
        .execute_raw(Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT set_config('app.tenant_id', $1, true), \
             set_config('app.tenant_proof', repeat('0', 64), true), \
             set_config('app.scope', 'platform', true), \
             set_config('app.platform_proof', repeat('0', 64), true)",
            [tenant.into()],
        ))
        .await
        .expect("set tenant");
    transaction
}

async fn count(transaction: &DatabaseTransaction, table: &str) -> i64 {
    let row = transaction
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .expect("count")
        .expect("one row");
    row.try_get::<i64>("", "n").expect("n")
}

#[tokio::test]
async fn postgres_row_level_security_confines_raw_sql_to_the_tenant() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));

    // Two tenants with a row in every tenant-owned table.
    for tenant in ["org_a", "org_b"] {
        let scope = scope_of(tenant);
        use otto_core::ports::{CallRepository, Company, CompanyDirectory};
        store
            .save_company(
                &scope,
                &Company {
                    name: Some(tenant.into()),
                    slug: None,
                },
            )
            .await
            .expect("company");
        let call = store
            .record(&scope, contracts::new_call("CAL1", 1))
            .await
            .expect("call");
        // Users are the platform's (Clerk's): written outside any tenant's scope.
        connection
            .execute_unprepared(&format!(
                "INSERT INTO users (id) VALUES ('user_{tenant}') ON CONFLICT DO NOTHING"
            ))
            .await
            .expect("a user");
        let transaction = store.begin(&scope).await.expect("scoped");
        let id = call.id;
        for statement in [
            format!(
                "INSERT INTO memberships (id, tenant_id, user_id, role) VALUES (gen_random_uuid(), '{tenant}', 'user_{tenant}', 'admin')"
            ),
            format!(
                "INSERT INTO messages (id, tenant_id, call_id, provider, external_id, direction, customer_number, body, sent_at) VALUES (gen_random_uuid(), '{tenant}', '{id}', 'twilio', 'SM1', 'outbound', '+15550000000', 'hi', now() - interval '3 hours')"
            ),
            format!(
                "INSERT INTO recordings (id, tenant_id, call_id, external_id, url) VALUES (gen_random_uuid(), '{tenant}', '{id}', 'RE1', 'https://recordings.test/1')"
            ),
            format!(
                "INSERT INTO transcripts (id, tenant_id, call_id, text) VALUES (gen_random_uuid(), '{tenant}', '{id}', 'hello')"
            ),
            format!(
                "INSERT INTO analyses (id, tenant_id, call_id, model, summary, tokens_used) VALUES (gen_random_uuid(), '{tenant}', '{id}', 'gpt', 'ok', 10)"
            ),
            format!(
                "INSERT INTO tenant_settings (tenant_id, missed_call_sms_enabled, updated_at) VALUES ('{tenant}', true, now())"
            ),
            format!(
                "INSERT INTO outbound_actions (id, tenant_id, kind, follow_up_key, to_number, body, started_at) VALUES (gen_random_uuid(), '{tenant}', 'sms', 'k1', '+15550000000', 'hi', now())"
            ),
            format!(
                "INSERT INTO dashboard_settled_hours (tenant_id, utc_hour, counted, kept_on) VALUES ('{tenant}', '2026-11-01T05', true, '2026-12-01')"
            ),
        ] {
            transaction
                .execute_unprepared(&statement)
                .await
                .unwrap_or_else(|error| panic!("{statement}: {error}"));
        }
        transaction.commit().await.expect("commit");
    }

    // No tenant set: the application role sees nothing, in any table.
    let transaction = as_app_role(&connection, None).await;
    for table in TENANT_TABLES.iter().chain(&["users"]) {
        assert_eq!(
            count(&transaction, table).await,
            0,
            "{table} without a tenant"
        );
    }
    let refused = transaction
        .execute_unprepared("INSERT INTO calls (id, tenant_id, provider, external_id, direction, answered, duration_seconds, started_at) VALUES (gen_random_uuid(), 'org_a', 'x', 'y', 'inbound', true, 1, now())")
        .await;
    assert!(refused.is_err(), "writing without a tenant fails");
    drop(transaction);

    // Settings alone, without a proof, open nothing: not a tenant, not the platform.
    let transaction = as_app_role_by_settings(&connection, "org_a").await;
    for table in
        TENANT_TABLES
            .iter()
            .chain(&["users", "provider_accounts", "webhook_events", "jobs"])
    {
        assert_eq!(
            count(&transaction, table).await,
            0,
            "{table} with settings but no proof"
        );
    }
    let refused = transaction
        .execute_unprepared("INSERT INTO calls (id, tenant_id, provider, external_id, direction, answered, duration_seconds, started_at) VALUES (gen_random_uuid(), 'org_a', 'x', 'y', 'inbound', true, 1, now())")
        .await;
    assert!(refused.is_err(), "writing with settings but no proof fails");
    drop(transaction);

    // Tenant A set: exactly A's rows, and writing B's rows fails.
    let transaction = as_app_role(&connection, Some("org_a")).await;
    for table in TENANT_TABLES.iter().chain(&["users"]) {
        assert_eq!(count(&transaction, table).await, 1, "{table} as org_a");
    }
    let cross_tenant = transaction
        .execute_unprepared("INSERT INTO calls (id, tenant_id, provider, external_id, direction, answered, duration_seconds, started_at) VALUES (gen_random_uuid(), 'org_b', 'x', 'y', 'inbound', true, 1, now())")
        .await;
    assert!(cross_tenant.is_err(), "inserting for another tenant fails");
    drop(transaction);

    let transaction = as_app_role(&connection, Some("org_a")).await;
    let updated = transaction
        .execute_unprepared("UPDATE calls SET answered = false WHERE tenant_id = 'org_b'")
        .await
        .expect("update runs");
    assert_eq!(
        updated.rows_affected(),
        0,
        "another tenant's rows cannot be updated"
    );
    let moved = transaction
        .execute_unprepared("UPDATE calls SET tenant_id = 'org_b'")
        .await;
    assert!(moved.is_err(), "a row cannot be moved to another tenant");
    drop(transaction);

    // A tenant reads its members' users but writes none: a shared user's change
    // would reach other tenants' memberships through the foreign key.
    let transaction = as_app_role(&connection, Some("org_a")).await;
    for statement in ["UPDATE users SET name = 'renamed'", "DELETE FROM users"] {
        let changed = transaction
            .execute_unprepared(statement)
            .await
            .expect("runs");
        assert_eq!(changed.rows_affected(), 0, "{statement}");
    }
    let inserted = transaction
        .execute_unprepared("INSERT INTO users (id) VALUES ('user_injected')")
        .await;
    assert!(inserted.is_err(), "a tenant cannot create users");
    drop(transaction);

    // The application role is not the owner and cannot bypass RLS.
    let row = connection
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = 'otto_app'",
        ))
        .await
        .expect("query")
        .expect("role exists");
    assert!(!row.try_get::<bool>("", "rolsuper").expect("rolsuper"));
    assert!(
        !row.try_get::<bool>("", "rolbypassrls")
            .expect("rolbypassrls")
    );

    connection.close().await.expect("close");
    test_database.drop_database().await;
}

/// Routing runs outside any transaction through `otto_routed_tenant`, a definer
/// function: it answers the tenant of the first linked account and nothing more,
/// and its platform scope does not outlive the call.
#[tokio::test]
async fn postgres_routing_function_answers_a_tenant_and_leaves_no_platform_scope() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    use otto_core::ports::ProviderAccounts;
    use otto_core::tenancy::TenantId;
    use otto_core::webhooks::{AccountRef, Provider};
    for (account, tenant) in [("COM_A", "org_a"), ("COM_B", "org_b")] {
        store
            .link(
                &AccountRef::new(Provider::CallRail, account),
                &TenantId::parse(tenant).expect("tenant"),
            )
            .await
            .expect("links");
    }

    let transaction = as_app_role(&connection, Some("org_a")).await;
    let routed = |accounts: &'static str| {
        Statement::from_sql_and_values(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT otto_routed_tenant($1::jsonb) AS tenant, \
                    current_setting('app.scope', true) AS scope",
            [accounts.into()],
        )
    };
    let row = transaction
        .query_one_raw(routed(
            r#"[{"provider":"callrail","account_id":"NOPE"},
                {"provider":"callrail","account_id":"COM_B"},
                {"provider":"callrail","account_id":"COM_A"}]"#,
        ))
        .await
        .expect("the application role may call it")
        .expect("one row");
    assert_eq!(
        row.try_get::<Option<String>>("", "tenant").expect("tenant"),
        Some("org_b".to_owned()),
        "the first linked account decides, whichever tenant's transaction asks"
    );
    assert_ne!(
        row.try_get::<Option<String>>("", "scope").expect("scope"),
        Some("platform".to_owned()),
        "the platform scope lasts only while the function runs"
    );
    assert_eq!(
        count(&transaction, "provider_accounts").await,
        0,
        "the caller still cannot read the platform table"
    );
    let none = transaction
        .query_one_raw(routed(r#"[{"provider":"twilio","account_id":"COM_A"}]"#))
        .await
        .expect("runs")
        .expect("one row");
    assert_eq!(
        none.try_get::<Option<String>>("", "tenant")
            .expect("tenant"),
        None,
        "an account is matched with its provider"
    );
    drop(transaction);

    // Nobody else may call it.
    let transaction = connection.begin().await.expect("begin");
    transaction
        .execute_unprepared(
            "CREATE ROLE otto_routing_outsider NOLOGIN; SET LOCAL ROLE otto_routing_outsider",
        )
        .await
        .expect("an outsider role");
    let refused = transaction
        .query_one_raw(routed("[]"))
        .await
        .expect_err("PUBLIC has no EXECUTE");
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    drop(transaction);

    connection.close().await.expect("close");
    test_database.drop_database().await;
}

#[tokio::test]
async fn the_sqlite_store_honours_the_webhook_contracts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    let store = SqlStore::new(connection, Arc::new(UuidV7Ids));
    contracts::webhook_ledger_contract(Arc::new(store.clone()), &store, "org_a", "org_b").await;
    contracts::provider_accounts_contract(&store, "org_a", "org_b").await;
    contracts::delivery_log_contract(Arc::new(store.clone()), &store, "org_d", "org_e").await;
    contracts::company_members_contract(&store, &store, "org_m", "org_n").await;
}

async fn assert_follow_up_contract(connection: &DatabaseConnection) {
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    contracts::follow_up_store_contract(
        contracts::FollowUpStores {
            follow_ups: &store,
            calls: &store,
            companies: &store,
            ledger: &store,
        },
        "org_a",
        "org_b",
    )
    .await;
    // Completing a message also adds it to the tenant's conversation.
    let row = connection
        .query_one_raw(Statement::from_string(
            connection.get_database_backend(),
            "SELECT count(*) AS n FROM messages WHERE tenant_id = 'org_a' \
             AND provider = 'twilio' AND external_id = 'SM123' AND direction = 'outbound'",
        ))
        .await
        .expect("counts")
        .expect("a row");
    assert_eq!(row.try_get::<i64>("", "n").expect("n"), 1);
}

fn assert_call_log_contract(store: &SqlStore) -> impl std::future::Future<Output = ()> + '_ {
    contracts::call_log_contract(
        contracts::CallLogStores {
            calls: store,
            insights: store,
            messages: store,
            dashboard: store,
            ledger: store,
            follow_ups: store,
        },
        "org_a",
        "org_b",
    )
}

#[tokio::test]
async fn the_sqlite_store_honours_the_call_log_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    assert_call_log_contract(&SqlStore::new(connection, Arc::new(UuidV7Ids))).await;
}

#[tokio::test]
async fn the_postgres_store_honours_the_call_log_contract() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    assert_call_log_contract(&SqlStore::new(connection.clone(), Arc::new(UuidV7Ids))).await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

#[tokio::test]
async fn the_sqlite_store_honours_the_insight_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    let store = SqlStore::new(connection, Arc::new(UuidV7Ids));
    contracts::insight_store_contract(&store, &store, &store, "org_a", "org_b").await;
}

#[tokio::test]
async fn the_postgres_store_honours_the_insight_contract() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    contracts::insight_store_contract(&store, &store, &store, "org_a", "org_b").await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

#[tokio::test]
async fn the_sqlite_store_honours_the_follow_up_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    assert_follow_up_contract(&connection).await;
}

#[tokio::test]
async fn the_postgres_store_honours_the_follow_up_contract() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    assert_follow_up_contract(&connection).await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_store_honours_the_job_queue_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    contracts::job_queue_contract(Arc::new(SqlStore::new(connection, Arc::new(UuidV7Ids)))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_postgres_store_honours_the_job_queue_contract() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    contracts::job_queue_contract(Arc::new(SqlStore::new(
        connection.clone(),
        Arc::new(UuidV7Ids),
    )))
    .await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

#[tokio::test]
async fn the_postgres_store_honours_the_webhook_contracts() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    contracts::webhook_ledger_contract(Arc::new(store.clone()), &store, "org_a", "org_b").await;
    contracts::provider_accounts_contract(&store, "org_a", "org_b").await;
    contracts::delivery_log_contract(Arc::new(store.clone()), &store, "org_d", "org_e").await;
    contracts::company_members_contract(&store, &store, "org_m", "org_n").await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

async fn assert_live_event_contract(store: &SqlStore) {
    let stores = contracts::LiveEventStores {
        events: store,
        ledger: store,
        calls: store,
        jobs: store,
    };
    contracts::live_event_log_contract(stores, "org_live_a", "org_live_b").await;
}

#[tokio::test]
async fn the_sqlite_store_honours_the_live_event_contract() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    assert_live_event_contract(&SqlStore::new(connection, Arc::new(UuidV7Ids))).await;
}

#[tokio::test]
async fn the_postgres_store_honours_the_live_event_contract() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    assert_live_event_contract(&SqlStore::new(connection.clone(), Arc::new(UuidV7Ids))).await;
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

/// On the embedded database a writer waits its turn in the process for as long as the
/// unit before it takes, where SQLite alone gives up after its busy timeout (5 s) with
/// "database is locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_writer_waits_its_turn_instead_of_failing_on_the_lock() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    let store = SqlStore::new(connection, Arc::new(UuidV7Ids));
    let scope = scope_of("org_turns");
    let slow = store.begin(&scope).await.expect("the first unit begins");
    slow.execute_unprepared(
        "INSERT INTO tenant_settings (tenant_id, missed_call_sms_enabled, updated_at) \
         VALUES ('org_turns', 1, '2026-12-06T00:00:00Z')",
    )
    .await
    .expect("the first unit holds SQLite's write lock");
    let waiting = tokio::spawn({
        let store = store.clone();
        let scope = scope.clone();
        async move { store.record(&scope, contracts::new_call("T1", 1)).await }
    });
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    assert!(
        !waiting.is_finished(),
        "past SQLite's busy timeout the second writer still waits for its turn"
    );
    slow.commit().await.expect("the first unit commits");
    waiting
        .await
        .expect("the task ran")
        .expect("the second writer commits after the first");
}

/// Past its bound, the write queue refuses a unit of work at once as unavailable (the
/// API answers 503 with Retry-After) instead of letting it wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_full_write_queue_is_unavailable_not_a_stall() {
    let dir = tempfile::tempdir().expect("temp dir");
    let connection = migrated(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    let store = SqlStore::new(connection, Arc::new(UuidV7Ids)).with_write_queue(0);
    let scope = scope_of("org_queue");
    let holding = store
        .begin(&scope)
        .await
        .expect("the first unit writes at once");
    let refused = store.record(&scope, contracts::new_call("Q1", 1)).await;
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(cause)) if cause.contains("OTTO_SQLITE_WRITE_QUEUE")),
        "{refused:?}"
    );
    holding.rollback().await.expect("rolls back");
    store
        .record(&scope, contracts::new_call("Q1", 1))
        .await
        .expect("writes once the turn is free");
}

/// Another process holding SQLite's write lock past the busy timeout makes a write
/// unavailable (503, retry), not an internal error (500).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_lock_held_by_another_process_is_unavailable_not_internal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let connection = migrated(&url).await;
    let other_process = database::connect(
        &url,
        &PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        },
    )
    .await
    .expect("connects");
    other_process
        .execute_unprepared("BEGIN IMMEDIATE")
        .await
        .expect("takes the write lock");
    let store = SqlStore::new(connection, Arc::new(UuidV7Ids));
    let blocked = store
        .record(&scope_of("org_locked"), contracts::new_call("L1", 1))
        .await;
    assert!(
        matches!(&blocked, Err(StoreError::Unavailable(_))),
        "{blocked:?}"
    );
    other_process
        .execute_unprepared("ROLLBACK")
        .await
        .expect("releases the lock");
}

/// `test_database` migrated, and a store on a pool of one connection: every unit of
/// work runs in the same PostgreSQL session, which then shows what they left behind.
async fn on_one_connection(test_database: &TestDatabase) -> (DatabaseConnection, SqlStore) {
    // Migrated on a pool of its own: migrations need more than one connection.
    migrated(&test_database.url)
        .await
        .close()
        .await
        .expect("close");
    let connection = database::connect(
        &test_database.url,
        &PoolSettings {
            max_connections: 1,
            ..PoolSettings::default()
        },
    )
    .await
    .expect("connects");
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    (connection, store)
}

/// A read ends without `COMMIT`: its `ROLLBACK` goes out with the ping the pool sends
/// as the connection comes back. The next unit of work on that connection must find
/// it outside any transaction, as the login role, with no tenant set.
#[tokio::test]
async fn postgres_a_finished_read_leaves_its_connection_clean() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let (connection, store) = on_one_connection(&test_database).await;
    let scope = scope_of("org_reader");
    store
        .record(&scope, contracts::new_call("R1", 1))
        .await
        .expect("records");
    for round in 0..4 {
        // Calls, then the dashboard, whose reads are planned for any values.
        if round % 2 == 0 {
            let page = store
                .list(&scope, &otto_core::calls::CallFilter::default(), None, 10)
                .await
                .expect("lists");
            assert_eq!(page.items.len(), 1);
        } else {
            let started = contracts::new_call("R1", 1).started_at;
            let day = chrono::Duration::days(1);
            let summary = store
                .summary(&scope, started - day, started + day)
                .await
                .expect("a summary");
            assert_eq!(summary.calls, 1);
        }
        // The pool's one connection, as the next unit of work gets it: inside a
        // transaction left open, `now()` would stand still from one statement to
        // the next.
        let read = |sql: &'static str| {
            let connection = connection.clone();
            async move {
                connection
                    .query_one_raw(Statement::from_string(
                        sea_orm::DatabaseBackend::Postgres,
                        sql,
                    ))
                    .await
                    .expect("queries")
                    .expect("a row")
            }
        };
        let row = read(
            "SELECT COALESCE(current_setting('app.tenant_id', true), '') AS tenant, \
             current_user = session_user AS login_role, now() AS at, \
             current_setting('plan_cache_mode') AS planning",
        )
        .await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let later = read("SELECT now() AS at").await;
        let tenant: String = row.try_get("", "tenant").expect("tenant");
        let login_role: bool = row.try_get("", "login_role").expect("role");
        let at: chrono::DateTime<chrono::Utc> = row.try_get("", "at").expect("a time");
        let later: chrono::DateTime<chrono::Utc> = later.try_get("", "at").expect("a time");
        let planning: String = row.try_get("", "planning").expect("plan cache mode");
        assert_eq!(
            (tenant.as_str(), login_role, planning.as_str()),
            ("", true, "auto")
        );
        assert!(
            later > at,
            "each statement runs in a transaction of its own"
        );
    }
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

/// An unfiltered page of calls is planned once per connection for any tenant and
/// cursor: on one connection, alternating tenants, PostgreSQL reports only generic
/// plans for the pages' statements. Each page still shows its own tenant's calls
/// only, and the cursor walks each tenant's calls newest first (calls starting at
/// the same instant by id) without skipping or repeating one: the plan carries the
/// tenant and the cursor as parameters, never as the first request's values.
#[tokio::test]
async fn postgres_a_page_planned_once_shows_each_tenant_its_own_calls() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let (connection, store) = on_one_connection(&test_database).await;
    // Minutes before noon of each tenant's calls; two of the second's start together.
    let tenants = [
        (scope_of("org_first"), vec![0, 1, 2]),
        (scope_of("org_second"), vec![0, 1, 1, 2, 3]),
    ];
    for (scope, starts) in &tenants {
        for (n, minutes_ago) in starts.iter().enumerate() {
            let external_id = format!("{}-{n}", scope.tenant_id().as_str());
            store
                .record(scope, contracts::new_call(&external_id, *minutes_ago))
                .await
                .expect("records");
        }
    }
    let unfiltered = otto_core::calls::CallFilter::default();
    for _ in 0..4 {
        for (scope, starts) in &tenants {
            let tenant = scope.tenant_id().as_str();
            let (mut seen, mut cursor) = (Vec::new(), None);
            loop {
                let page = store
                    .list(scope, &unfiltered, cursor, 2)
                    .await
                    .expect("lists");
                seen.extend(page.items);
                match page.next {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            assert!(
                seen.iter().all(|call| call.tenant_id == *scope.tenant_id()),
                "only {tenant}'s calls"
            );
            assert!(
                seen.windows(2)
                    .all(|pair| (pair[0].started_at, pair[0].id) > (pair[1].started_at, pair[1].id)),
                "{tenant}'s calls newest first, ties by id, none twice"
            );
            let mut external_ids: Vec<String> =
                seen.into_iter().map(|call| call.external_id).collect();
            external_ids.sort();
            let expected: Vec<String> =
                (0..starts.len()).map(|n| format!("{tenant}-{n}")).collect();
            assert_eq!(external_ids, expected, "every one of {tenant}'s calls");
        }
    }
    // The pool's one connection prepared the pages' statements (the first page's and
    // the cursor's) and ran each with its generic plan only, never one made for the
    // values of a request.
    let plans = connection
        .query_all_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT generic_plans, custom_plans, statement FROM pg_prepared_statements \
             WHERE statement LIKE 'SELECT \"calls\".\"id\"%ORDER BY \"calls\".\"started_at\" DESC%'",
        ))
        .await
        .expect("the connection's prepared statements");
    let plans: Vec<(i64, i64, String)> = plans
        .iter()
        .map(|row| {
            (
                row.try_get("", "generic_plans").expect("generic plans"),
                row.try_get("", "custom_plans").expect("custom plans"),
                row.try_get("", "statement").expect("statement"),
            )
        })
        .collect();
    assert_eq!(
        plans.len(),
        2,
        "the first page's statement and the cursor's: {plans:#?}"
    );
    assert!(
        plans
            .iter()
            .all(|(generic, custom, _)| *generic > 0 && *custom == 0),
        "{plans:#?}"
    );
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

/// Two transactions locking the same rows in opposite orders: PostgreSQL breaks the
/// deadlock by aborting one, and the store reports that as unavailable (503, retry),
/// not as an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_deadlock_is_unavailable_not_internal() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    connection
        .execute_unprepared(
            "CREATE TABLE deadlock_probe (id int PRIMARY KEY, n int NOT NULL DEFAULT 0); \
             INSERT INTO deadlock_probe (id) VALUES (1), (2)",
        )
        .await
        .expect("a table");
    let update = |id: i32| format!("UPDATE deadlock_probe SET n = n + 1 WHERE id = {id}");
    let (first, second) = (
        connection.begin().await.expect("begin"),
        connection.begin().await.expect("begin"),
    );
    first.execute_unprepared(&update(1)).await.expect("locks 1");
    second
        .execute_unprepared(&update(2))
        .await
        .expect("locks 2");
    let (to_two, to_one) = (update(2), update(1));
    let (crossed_first, crossed_second) = tokio::join!(
        first.execute_unprepared(&to_two),
        second.execute_unprepared(&to_one),
    );
    let failed = match (crossed_first, crossed_second) {
        (Err(error), Ok(_)) | (Ok(_), Err(error)) => error,
        other => panic!("one of the two is aborted: {other:?}"),
    };
    assert!(
        matches!(store_error(failed), StoreError::Unavailable(_)),
        "a deadlock is worth retrying"
    );
    drop((first, second));
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

/// A late call makes its hour's `dashboard_hours` row (migration 18); making it also
/// removes the tenant's hours older than five days, which no summary reads, so the
/// rows of a tenant whose dashboard is never asked for stay a few days' worth.
#[tokio::test]
async fn postgres_a_late_call_marks_its_hour_and_old_hours_go() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    connection
        .execute_unprepared(
            "INSERT INTO dashboard_hours (tenant_id, utc_hour, counted) VALUES \
             ('org_quiet', to_char(now() AT TIME ZONE 'UTC' - interval '6 days', \
             'YYYY-MM-DD\"T\"HH24'), true)",
        )
        .await
        .expect("an old hour");
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    let late_at = chrono::Utc::now() - chrono::Duration::hours(5);
    let late = otto_core::calls::NewCall {
        started_at: late_at,
        ..contracts::new_call("LATE", 1)
    };
    store
        .record(&scope_of("org_quiet"), late)
        .await
        .expect("records");
    let row = connection
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT string_agg(utc_hour || ':' || counted, ',') AS hours FROM dashboard_hours \
             WHERE tenant_id = 'org_quiet'",
        ))
        .await
        .expect("queries")
        .expect("a row");
    let hours: String = row.try_get("", "hours").expect("hours");
    assert_eq!(hours, format!("{}:false", late_at.format("%Y-%m-%dT%H")));
    connection.close().await.expect("close");
    test_database.drop_database().await;
}

/// Two transactions marking days of one month in opposite orders, as two late writes
/// of a tenant's history can (migration 19): the second queues on the month's row,
/// which each takes before a day's, where marking the days first would deadlock and
/// PostgreSQL would abort one of them.
#[tokio::test]
async fn postgres_late_writes_to_one_month_queue_rather_than_deadlock() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = migrated(&test_database.url).await;
    let mark = |day: &str| {
        Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT otto_dashboard_day_changed('org_a', '2026-01-{day}T12:00:00Z')"),
        )
    };
    let first = connection.begin().await.expect("begin");
    first.execute_raw(mark("10")).await.expect("marks the 10th");
    let second_connection = connection.clone();
    let second = tokio::spawn(async move {
        let second = second_connection.begin().await.expect("begin");
        second.execute_raw(mark("20")).await?;
        second.execute_raw(mark("10")).await?;
        second.commit().await
    });
    // Long enough for the second to be waiting, well under the 1 s deadlock timeout.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    first.execute_raw(mark("20")).await.expect("marks the 20th");
    first.commit().await.expect("commits");
    second
        .await
        .expect("joins")
        .expect("the second commits after the first");
    let generations = connection
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT (SELECT generation FROM dashboard_months WHERE tenant_id = 'org_a' \
             AND utc_month = '2026-01') AS month, (SELECT CAST(SUM(generation) AS BIGINT) \
             FROM dashboard_days WHERE tenant_id = 'org_a') AS days"
                .to_owned(),
        ))
        .await
        .expect("reads")
        .expect("a row");
    assert_eq!(generations.try_get::<i64>("", "month").expect("month"), 4);
    assert_eq!(generations.try_get::<i64>("", "days").expect("days"), 4);
    connection.close().await.expect("close");
    test_database.drop_database().await;
}
