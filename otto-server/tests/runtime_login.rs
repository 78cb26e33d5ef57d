//! On PostgreSQL, Otto serves as a runtime login that `migrate up` provisions, and
//! that login is confined by the database itself: connected with it directly, as
//! injected SQL would be, it cannot read or write another tenant's rows, cannot
//! become the schema owner, cannot enter the platform scope by setting a variable,
//! cannot read the scope key, and cannot shadow a table with a temporary one. The
//! product still works end to end through it: webhooks, tenant reads, the job queue
//! across tenants, platform-admin routes. Production refuses to serve as the owner.

mod support;

use std::time::Duration;

use otto_adapters::database::{self, PoolSettings};
use otto_adapters::store::scope_key::KnownKey;
use otto_adapters::test_support::{TestDatabase, postgres_admin_url};
use otto_core::jobs::JobKind;
use otto_core::tenancy::TenantId;
use otto_server::config::Config;
use otto_server::startup;
use poem::test::TestClient;
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, DatabaseTransaction, Statement,
    TransactionTrait,
};
use serde_json::Value;

const SECRET: &str = "callrail-runtime-login-key"; // pragma: allowlist secret
const TENANT: &str = "org_rt";
const OTHER: &str = "org_rt_other";

/// A test database, the owner's (superuser's) URL to it and a runtime login's URL.
struct Setup {
    database: TestDatabase,
    runtime_url: String,
    login: String,
    scope_key: String,
}

impl Setup {
    async fn create() -> Option<Setup> {
        let database = TestDatabase::create().await?;
        let mut url = url::Url::parse(&database.url).expect("a URL");
        let name = url.path().trim_start_matches('/').to_owned();
        let login = format!("{name}_rt");
        url.set_username(&login).expect("a user");
        url.set_password(Some(&uuid::Uuid::new_v4().simple().to_string()))
            .expect("a password");
        Some(Setup {
            runtime_url: url.to_string(),
            login,
            scope_key: format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ),
            database,
        })
    }

    fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("DATABASE_URL", self.runtime_url.as_str()),
            ("OTTO_MIGRATION_DATABASE_URL", self.database.url.as_str()),
            ("OTTO_DATABASE_SCOPE_KEY", self.scope_key.as_str()),
            ("CALLRAIL_WEBHOOK_SECRET", SECRET),
            ("RATE_LIMIT_USER", "100000/minute"),
            ("RATE_LIMIT_TENANT", "100000/minute"),
        ];
        pairs.extend_from_slice(extra);
        let mut config = support::config(&pairs);
        config.webhooks.default_tenant = None;
        config
    }

    async fn drop(self) {
        let login = self.login.clone();
        self.database.drop_database().await;
        let admin = sea_orm::Database::connect(postgres_admin_url())
            .await
            .expect("admin");
        admin
            .execute_unprepared(&format!("DROP ROLE IF EXISTS \"{login}\""))
            .await
            .expect("drops the login");
    }
}

type Client = TestClient<poem::endpoint::BoxEndpoint<'static, poem::Response>>;

async fn send(
    client: &Client,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let request = match method {
        "get" => client.get(path),
        "post" => client.post(path),
        "put" => client.put(path),
        other => panic!("{other}"),
    }
    .header("authorization", format!("Bearer {token}"));
    let request = match body {
        Some(body) => request
            .header("content-type", "application/json")
            .body(body.to_string()),
        None => request,
    };
    let response = request.send().await;
    let status = response.0.status().as_u16();
    let text = response.0.into_body().into_string().await.expect("text");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn deliver(client: &Client, company: &str, call: &str) -> (u16, Value) {
    let body = format!(
        r#"{{"resource_id":"{call}","company_resource_id":"{company}","direction":"inbound","answered":false,"customer_phone_number":"+15551230077","start_time":"2026-12-01T10:00:00Z"}}"#
    );
    let response =
        support::webhooks::post_callrail_with(client, "call-complete", SECRET, &body).await;
    let status = response.0.status().as_u16();
    let text = response.0.into_body().into_string().await.expect("text");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

#[tokio::test]
async fn otto_serves_as_a_provisioned_runtime_login_that_the_database_confines() {
    let Some(setup) = Setup::create().await else {
        return;
    };
    // Migrates as the owner, provisions the login, connects as it.
    let (state, connections) = support::connected_state(setup.config(&[])).await;
    let powers = database::roles::login_powers(&connections.database, None)
        .await
        .expect("reads its own powers");
    assert_eq!(
        powers.login, setup.login,
        "serving connects as the runtime login"
    );
    assert!(powers.violations().is_empty(), "{:?}", powers.violations());

    let client: Client = TestClient::new(otto_server::http::app(&state));
    let admin = support::platform_admin_token("user_ops", "org_ops");
    let lead = |org: &str| support::api_token("user_lead", org, "org:admin");

    // Platform work through the runtime login: link an account, log an unroutable one.
    let (status, link) = send(
        &client,
        "put",
        "/api/v1/admin/provider-accounts/callrail/COMRT",
        &admin,
        Some(serde_json::json!({"tenant_id": TENANT})),
    )
    .await;
    assert_eq!(status, 200, "{link}");
    let (status, receipt) = deliver(&client, "COMRT", "CALRT1").await;
    assert_eq!(
        (status, receipt["status"].as_str()),
        (200, Some("processed")),
        "{receipt}"
    );
    let (status, unroutable) = deliver(&client, "COMNOBODY", "CALRT2").await;
    assert_eq!(unroutable["status"], "unroutable", "{status} {unroutable}");
    let (_, logged) = send(&client, "get", "/api/v1/webhooks/deliveries", &admin, None).await;
    assert_eq!(
        logged["items"].as_array().map(Vec::len),
        Some(2),
        "{logged}"
    );

    // Tenant reads and the tenant's own jobs.
    let (_, calls) = send(&client, "get", "/api/v1/calls", &lead(TENANT), None).await;
    let call_id = calls["items"][0]["id"]
        .as_str()
        .expect("the call")
        .to_owned();
    let (_, none) = send(&client, "get", "/api/v1/calls", &lead(OTHER), None).await;
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0), "{none}");
    let (status, queued) = send(
        &client,
        "post",
        &format!("/api/v1/calls/{call_id}/follow-up-sms"),
        &lead(TENANT),
        None,
    )
    .await;
    assert_eq!(status, 202, "{queued}");
    let job = queued["job_id"].as_str().expect("a job").to_owned();
    let job_path = format!("/api/v1/jobs/{job}");
    assert_eq!(
        send(&client, "get", &job_path, &lead(TENANT), None).await.0,
        200
    );
    assert_eq!(
        send(&client, "get", &job_path, &lead(OTHER), None).await.0,
        404
    );

    // The worker's lease across tenants, through the platform scope.
    let leased = state
        .jobs
        .lease(
            &JobKind::ALL,
            chrono::Utc::now() + chrono::Duration::days(1),
            Duration::from_secs(60),
            50,
        )
        .await
        .expect("leases as the runtime login");
    assert!(
        leased.iter().any(|leased| leased.id.to_string() == job),
        "the tenant's job is leased: {leased:?}"
    );

    let direct = database::connect(&setup.runtime_url, &PoolSettings::default())
        .await
        .expect("the runtime login connects");
    database_confines_the_runtime_login(&direct, &setup).await;
    direct.close().await.ok();
    connections.database.close().await.ok();
    drop(state);
    setup.drop().await;
}

async fn count(transaction: &DatabaseTransaction, table: &str) -> i64 {
    transaction
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .unwrap_or_else(|error| panic!("counting {table}: {error}"))
        .expect("a row")
        .try_get::<i64>("", "n")
        .expect("n")
}

async fn set(transaction: &DatabaseTransaction, settings: &[(&str, &str)]) {
    for (name, value) in settings {
        transaction
            .execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT set_config($1, $2, true)",
                [(*name).into(), (*value).into()],
            ))
            .await
            .expect("sets");
    }
}

async fn refused(connection: &DatabaseConnection, sql: &str) -> String {
    let transaction = connection.begin().await.expect("begin");
    let error = transaction
        .execute_unprepared(sql)
        .await
        .expect_err(&format!("the runtime login may not: {sql}"));
    error.to_string()
}

async fn database_confines_the_runtime_login(connection: &DatabaseConnection, setup: &Setup) {
    let key = KnownKey::new(setup.scope_key.as_bytes());
    let tenant = |id: &str| TenantId::parse(id).expect("valid");

    // It cannot become anyone else, and RESET ROLE leads back to itself.
    for sql in [
        "SET ROLE postgres",
        "SET ROLE otto_platform",
        "SET SESSION AUTHORIZATION postgres",
        "GRANT otto_platform TO CURRENT_USER",
        "ALTER TABLE calls DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE calls NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON calls",
        "SELECT key FROM otto_scope_key",
        "CREATE TEMPORARY TABLE calls (id uuid)",
        "CREATE TABLE public.shadow (id int)",
        "CREATE FUNCTION public.otto_tenant_shadow() RETURNS text LANGUAGE sql AS 'SELECT 1::text'",
    ] {
        let error = refused(connection, sql).await;
        assert!(
            [
                "permission denied",
                "must be owner",
                "must have admin option"
            ]
            .iter()
            .any(|refusal| error.contains(refusal)),
            "{sql}: {error}"
        );
    }
    let transaction = connection.begin().await.expect("begin");
    transaction
        .execute_unprepared("RESET ROLE")
        .await
        .expect("resets");
    let me: String = transaction
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT current_user::text AS me",
        ))
        .await
        .expect("asks")
        .expect("a row")
        .try_get("", "me")
        .expect("me");
    assert_eq!(
        me, setup.login,
        "RESET ROLE leads back to the runtime login"
    );

    // Settings alone open nothing.
    set(
        &transaction,
        &[
            ("app.tenant_id", TENANT),
            ("app.tenant_proof", &"0".repeat(64)),
            ("app.scope", "platform"),
            ("app.platform_proof", &key.platform_proof("1")),
        ],
    )
    .await;
    for table in [
        "calls",
        "tenants",
        "provider_accounts",
        "webhook_deliveries",
        "jobs",
        "webhook_events",
    ] {
        assert_eq!(
            count(&transaction, table).await,
            0,
            "{table} by settings alone"
        );
    }
    drop(transaction);

    // Its own tenant's proof opens exactly that tenant; writing another's fails.
    let transaction = connection.begin().await.expect("begin");
    set(
        &transaction,
        &[
            ("app.tenant_id", TENANT),
            ("app.tenant_proof", &key.tenant_proof(&tenant(TENANT))),
        ],
    )
    .await;
    assert_eq!(
        count(&transaction, "calls").await,
        1,
        "the tenant's own call"
    );
    assert!(
        count(&transaction, "jobs").await >= 1,
        "the tenant's own jobs"
    );
    let other_row = transaction
        .execute_unprepared(&format!(
            "INSERT INTO calls (id, tenant_id, provider, external_id, direction, answered, \
             duration_seconds, started_at) VALUES (gen_random_uuid(), '{OTHER}', 'x', 'y', \
             'inbound', true, 1, now())"
        ))
        .await;
    assert!(other_row.is_err(), "another tenant's row cannot be written");
    drop(transaction);

    // A tenant's proof does not carry over to another tenant id.
    let transaction = connection.begin().await.expect("begin");
    set(
        &transaction,
        &[
            ("app.tenant_id", OTHER),
            ("app.tenant_proof", &key.tenant_proof(&tenant(TENANT))),
        ],
    )
    .await;
    assert_eq!(count(&transaction, "calls").await, 0);
    drop(transaction);

    // A platform proof holds only in the transaction it names.
    let transaction = connection.begin().await.expect("begin");
    let id: String = transaction
        .query_one_raw(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT txid_current()::text AS id",
        ))
        .await
        .expect("asks")
        .expect("a row")
        .try_get("", "id")
        .expect("id");
    let next: u64 = id.parse::<u64>().expect("a number") + 1;
    set(
        &transaction,
        &[("app.platform_proof", &key.platform_proof(&next.to_string()))],
    )
    .await;
    assert_eq!(
        count(&transaction, "provider_accounts").await,
        0,
        "another transaction's proof"
    );
    set(
        &transaction,
        &[("app.platform_proof", &key.platform_proof(&id))],
    )
    .await;
    assert_eq!(
        count(&transaction, "provider_accounts").await,
        1,
        "this transaction's proof"
    );
    drop(transaction);
}

#[tokio::test]
async fn production_refuses_to_serve_as_the_schema_owner() {
    let Some(setup) = Setup::create().await else {
        return;
    };
    // Migrated and provisioned first, as a release would.
    startup::migrate(&setup.config(&[]))
        .await
        .expect("migrates");
    // (The production checks of the configuration are configuration.rs's; here the
    // test database's own name would read as a placeholder.)
    let as_production = |database_url: &str| {
        let mut config = setup.config(&[
            ("DATABASE_URL", database_url),
            ("OTTO_MIGRATE_ON_START", "false"),
        ]);
        config.env = otto_server::config::OttoEnv::Production;
        config
    };
    let error = startup::connect(&as_production(&setup.database.url))
        .await
        .expect_err("the owner (here a superuser) may not serve");
    assert!(error.is_configuration(), "{error}");
    assert!(error.to_string().contains("superuser"), "{error}");

    let connections = startup::connect(&as_production(&setup.runtime_url))
        .await
        .expect("the provisioned runtime login serves in production");
    connections.database.close().await.ok();
    setup.drop().await;
}

#[tokio::test]
async fn a_process_given_another_scope_key_than_migrate_up_stored_does_not_start() {
    let Some(setup) = Setup::create().await else {
        return;
    };
    startup::migrate(&setup.config(&[]))
        .await
        .expect("migrates");
    let wrong_key = "a-scope-key-that-migrate-up-never-saw-0123456789";
    let error = startup::connect(&setup.config(&[
        ("OTTO_DATABASE_SCOPE_KEY", wrong_key),
        ("OTTO_MIGRATE_ON_START", "false"),
    ]))
    .await
    .expect_err("every tenant would look empty");
    assert!(error.is_configuration(), "{error}");
    assert!(
        error.to_string().contains("OTTO_DATABASE_SCOPE_KEY"),
        "{error}"
    );
    assert!(
        !error.to_string().contains(wrong_key),
        "the key is not echoed"
    );
    setup.drop().await;
}
