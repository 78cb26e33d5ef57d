//! Webhook ingestion on the real stores (SQLite, and PostgreSQL with row-level
//! security): a failure anywhere in a delivery's transaction leaves nothing behind
//! and the retry succeeds; identical deliveries racing through two application
//! instances (two pools, as two server processes would) are processed exactly once.

mod support;

use std::sync::Arc;

use otto_adapters::test_support::TestDatabase;
use otto_core::ports::ProviderAccounts;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::callrail;
use otto_core::webhooks::{AccountRef, Provider};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const SECRET: &str = "callrail-sql-test-key"; // pragma: allowlist secret
const FIXTURE: &str = include_str!("../../otto-core/tests/fixtures/callrail_post_call.json");

type Client = TestClient<BoxEndpoint<'static, Response>>;

struct Instance {
    client: Arc<Client>,
    database: DatabaseConnection,
    accounts: Arc<dyn ProviderAccounts>,
}

async fn instance(database_url: &str) -> Instance {
    let mut config = support::config(&[
        ("DATABASE_URL", database_url),
        ("CALLRAIL_WEBHOOK_SECRET", SECRET),
    ]);
    config.webhooks.default_tenant = None;
    let (state, connections) = support::connected_state(config).await;
    let database = connections.database.clone();
    Instance {
        client: Arc::new(TestClient::new(otto_server::http::app(&state))),
        accounts: state.provider_accounts.clone(),
        database,
    }
}

async fn count(database: &DatabaseConnection, table: &str) -> i64 {
    let row = database
        .query_one_raw(Statement::from_string(
            database.get_database_backend(),
            format!("SELECT count(*) AS n FROM {table}"),
        ))
        .await
        .expect("counts")
        .expect("a row");
    row.try_get::<i64>("", "n").expect("a count")
}

async fn deliver(client: &Client, body: &str) -> (u16, String) {
    let response = client
        .post("/webhook/callrail/call-complete")
        .header("content-type", "application/json")
        .header("Signature", callrail::sign(SECRET, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await;
    let status = response.0.status().as_u16();
    let body = response.0.into_body().into_string().await.expect("text");
    let receipt: serde_json::Value = serde_json::from_str(&body).expect("json");
    let outcome = receipt["status"]
        .as_str()
        .map_or_else(|| receipt["type"].to_string(), str::to_owned);
    (status, outcome)
}

/// The fixture's effects: one call, one recording, three jobs (text and AI
/// follow-ups, transcription), one key.
async fn assert_effects(database: &DatabaseConnection, expected: i64) {
    assert_eq!(count(database, "webhook_events").await, expected, "keys");
    assert_eq!(count(database, "calls").await, expected, "calls");
    assert_eq!(count(database, "recordings").await, expected, "recordings");
    assert_eq!(count(database, "jobs").await, 3 * expected, "jobs");
}

async fn failure_rolls_back_everything_and_the_retry_succeeds(
    instance: &Instance,
    inject: &[&str],
    remove: &str,
) {
    instance
        .accounts
        .link(
            &AccountRef::new(Provider::CallRail, "155920786"),
            &TenantId::parse("org_sql").expect("valid"),
        )
        .await
        .expect("links");
    for statement in inject {
        instance
            .database
            .execute_unprepared(statement)
            .await
            .expect("injects a failure into the last step (enqueueing jobs)");
    }
    let (status, problem) = deliver(&instance.client, FIXTURE).await;
    assert_eq!(status, 500, "{problem}");
    assert_effects(&instance.database, 0).await;
    instance
        .database
        .execute_unprepared(remove)
        .await
        .expect("removes the failure");
    assert_eq!(
        deliver(&instance.client, FIXTURE).await,
        (200, "processed".to_owned())
    );
    assert_eq!(
        deliver(&instance.client, FIXTURE).await,
        (200, "duplicate_ignored".to_owned())
    );
    assert_effects(&instance.database, 1).await;
}

/// 20 copies of each of 5 deliveries, spread over two instances, all at once.
async fn racing_duplicates_are_processed_once(first: &Instance, second: &Instance) {
    let mut racers = tokio::task::JoinSet::new();
    let clients = [first.client.clone(), second.client.clone()];
    for delivery in 0..5 {
        for copy in 0..20 {
            let client = clients[copy % 2].clone();
            let body = FIXTURE.replacen(
                "\"id\":766970532",
                &format!("\"id\":\"race-{delivery}\""),
                1,
            );
            racers.spawn(async move { deliver(&client, &body).await });
        }
    }
    let mut outcomes = std::collections::BTreeMap::new();
    while let Some(joined) = racers.join_next().await {
        let (status, outcome) = joined.expect("joins");
        *outcomes.entry((status, outcome)).or_insert(0) += 1;
    }
    assert_eq!(
        outcomes,
        [
            ((200, "duplicate_ignored".to_owned()), 95),
            ((200, "processed".to_owned()), 5)
        ]
        .into(),
        "no 5xx, one processed per delivery"
    );
    // With the failure test's delivery: 6 deliveries, each with one set of effects.
    assert_effects(&first.database, 6).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rolls_back_failed_deliveries_and_processes_racing_duplicates_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let first = instance(&url).await;
    failure_rolls_back_everything_and_the_retry_succeeds(
        &first,
        &[
            "CREATE TRIGGER explode BEFORE INSERT ON jobs WHEN NEW.kind = 'transcription' \
           BEGIN SELECT RAISE(ABORT, 'injected failure'); END",
        ],
        "DROP TRIGGER explode",
    )
    .await;
    let second = instance(&url).await;
    racing_duplicates_are_processed_once(&first, &second).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rolls_back_failed_deliveries_and_processes_racing_duplicates_once() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let first = instance(&database.url).await;
    failure_rolls_back_everything_and_the_retry_succeeds(
        &first,
        &[
            "CREATE FUNCTION explode() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.kind = 'transcription' THEN RAISE EXCEPTION 'injected failure'; END IF; \
             RETURN NEW; END $$",
            "CREATE TRIGGER explode BEFORE INSERT ON jobs FOR EACH ROW EXECUTE FUNCTION explode()",
        ],
        "DROP TRIGGER explode ON jobs",
    )
    .await;
    let second = instance(&database.url).await;
    racing_duplicates_are_processed_once(&first, &second).await;
    first.database.close().await.expect("closes");
    second.database.close().await.expect("closes");
    database.drop_database().await;
}
