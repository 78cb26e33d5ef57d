//! The same signed delivery applied through this tool and through `otto-server`'s
//! webhook route leaves the same rows in every table, on SQLite and on PostgreSQL:
//! embedding `otto-core` is not a second implementation of ingestion.
//!
//! Rows are compared whole. Only what is generated per process is set aside: ids
//! (compared as "the same id in the same places"), times taken from the clock during
//! the run (compared as "now"), and the trace of the HTTP request that carried the
//! delivery, which a file has not.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::Utc;
use otto_adapters::system::SystemClock;
use otto_adapters::test_support::TestDatabase;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::callrail;
use otto_core::webhooks::{AccountRef, Provider, WebhookEvent};
use otto_server::config::{Config, Environment};
use otto_server::startup;
use poem::test::TestClient;
use sea_orm::{Database, DatabaseConnection, FromQueryResult, JsonValue, Statement};
use webhook_import::{Imported, Importer, Secrets, signed_line};

const SECRET: &str = "same-rows-test-signing-key"; // pragma: allowlist secret
const FIXTURE: &str = include_str!("../../../otto-core/tests/fixtures/callrail_post_call.json");
const COMPANY: &str = "155920786";
/// Tables of the database itself rather than its data: the migrations applied, and
/// the random key each PostgreSQL database makes its scope proofs with.
const DATABASE_TABLES: [&str; 2] = ["seaql_migrations", "otto_scope_key"];
/// Columns holding the trace of the request that carried a delivery.
const REQUEST_TRACE_COLUMNS: [&str; 2] = ["trace_id", "trace_context"];

fn tenant() -> TenantId {
    TenantId::parse("org_same_rows").expect("a tenant id")
}

fn account() -> AccountRef {
    AccountRef::new(Provider::CallRail, COMPANY)
}

async fn through_the_tool(database_url: &str) {
    let importer = Importer::open(
        database_url,
        Secrets {
            callrail: Some(SECRET.into()),
            bland: None,
        },
    )
    .await
    .expect("opens and migrates");
    importer.link(&account(), &tenant()).await.expect("links");
    let line = signed_line(
        WebhookEvent::CallRailCallComplete,
        callrail::sign(SECRET, FIXTURE.as_bytes()),
        FIXTURE.to_owned(),
    );
    let imported = importer.import(&line).await.expect("imported");
    assert!(
        matches!(imported, Imported::Processed { ref tenant, .. } if tenant.as_ref() == Some(&self::tenant())),
        "{imported:?}"
    );
}

fn server_config(database_url: &str) -> Config {
    let mut config = Config::load(&Environment::from_pairs(vec![
        ("OTTO_ENV", "test"),
        ("DATABASE_URL", database_url),
        ("CALLRAIL_WEBHOOK_SECRET", SECRET),
    ]))
    .expect("a valid configuration");
    // As in production: an unlinked account's delivery is kept, not applied to `dev`.
    config.webhooks.default_tenant = None;
    config
}

async fn through_the_server(database_url: &str) {
    let config = server_config(database_url);
    let connections = startup::connect(&config)
        .await
        .expect("connects and migrates");
    let authenticator = startup::authenticator(&config, Arc::new(SystemClock)).expect("verifiers");
    let state = startup::state(config, &connections, authenticator).expect("state");
    state
        .provider_accounts
        .link(&account(), &tenant())
        .await
        .expect("links");
    let client = TestClient::new(otto_server::http::app(&state));
    let response = client
        .post("/webhook/callrail/call-complete")
        .header("content-type", "application/json")
        .header("Signature", callrail::sign(SECRET, FIXTURE.as_bytes()))
        .body(FIXTURE)
        .send()
        .await;
    response.assert_status_is_ok();
    let receipt = response.0.into_body().into_string().await.expect("a body");
    let receipt: serde_json::Value = serde_json::from_str(&receipt).expect("json");
    assert_eq!(receipt["status"], "processed", "{receipt}");
}

/// The tables holding rows, by name.
async fn tables(database: &DatabaseConnection) -> Vec<String> {
    let backend = database.get_database_backend();
    let query = match backend {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        }
    };
    let rows = JsonValue::find_by_statement(Statement::from_string(backend, query))
        .all(database)
        .await
        .expect("lists tables");
    let mut names: Vec<String> = rows
        .iter()
        .filter_map(|row| row["name"].as_str().map(str::to_owned))
        .filter(|name| !DATABASE_TABLES.contains(&name.as_str()))
        .collect();
    names.sort();
    names
}

/// Every row of every table, with generated ids and clock times replaced (see the
/// module's comment).
async fn rows(database: &DatabaseConnection, today: &[String]) -> BTreeMap<String, Vec<String>> {
    let backend = database.get_database_backend();
    let uuid = regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        .expect("a pattern");
    let clock_time = regex::Regex::new(
        r"(\d{4}-\d{2}-\d{2})[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:?\d{2})?)?",
    )
    .expect("a pattern");
    let mut all = BTreeMap::new();
    for table in tables(database).await {
        let statement = Statement::from_string(backend, format!("SELECT * FROM {table}"));
        let found = JsonValue::find_by_statement(statement)
            .all(database)
            .await
            .expect("reads a table");
        let mut texts: Vec<String> = found
            .into_iter()
            .map(|mut row| {
                if let Some(columns) = row.as_object_mut() {
                    for column in REQUEST_TRACE_COLUMNS {
                        columns.remove(column);
                    }
                }
                let text = row.to_string();
                clock_time
                    .replace_all(&text, |found: &regex::Captures<'_>| {
                        if today.iter().any(|day| day == &found[1]) {
                            "<now>".to_owned()
                        } else {
                            found[0].to_owned()
                        }
                    })
                    .into_owned()
            })
            .collect();
        // Rows in an order that does not depend on their ids, then each id named by
        // where it first appears.
        texts.sort_by_key(|text| uuid.replace_all(text, "<id>").into_owned());
        all.insert(table, texts);
    }
    let mut names: HashMap<String, usize> = HashMap::new();
    for texts in all.values_mut() {
        for text in texts.iter_mut() {
            *text = uuid
                .replace_all(text, |found: &regex::Captures<'_>| {
                    let next = names.len();
                    format!("<id {}>", names.entry(found[0].to_owned()).or_insert(next))
                })
                .into_owned();
        }
    }
    all
}

async fn assert_same_rows(tool_url: &str, server_url: &str) {
    let started = Utc::now();
    through_the_tool(tool_url).await;
    through_the_server(server_url).await;
    let today: Vec<String> = [started, Utc::now()]
        .iter()
        .map(|at| at.format("%Y-%m-%d").to_string())
        .collect();
    let tool = Database::connect(tool_url).await.expect("connects");
    let server = Database::connect(server_url).await.expect("connects");
    let tool_rows = rows(&tool, &today).await;
    let server_rows = rows(&server, &today).await;
    assert!(
        tool_rows.get("calls").is_some_and(|calls| calls.len() == 1),
        "the delivery made its call: {tool_rows:#?}"
    );
    assert_eq!(
        tool_rows.keys().collect::<Vec<_>>(),
        server_rows.keys().collect::<Vec<_>>(),
        "the same tables"
    );
    for (table, rows) in &tool_rows {
        assert_eq!(rows, &server_rows[table], "the rows of {table}");
    }
    tool.close().await.ok();
    server.close().await.ok();
}

#[tokio::test]
async fn the_tool_and_the_server_store_the_same_rows_on_sqlite() {
    let directory = tempfile::tempdir().expect("a directory");
    let url = |name: &str| {
        format!(
            "sqlite://{}?mode=rwc",
            directory.path().join(name).display()
        )
    };
    assert_same_rows(&url("tool.db"), &url("server.db")).await;
}

#[tokio::test]
async fn the_tool_and_the_server_store_the_same_rows_on_postgres() {
    let Some(tool) = TestDatabase::create().await else {
        return;
    };
    let Some(server) = TestDatabase::create().await else {
        return;
    };
    assert_same_rows(&tool.url, &server.url).await;
    tool.drop_database().await;
    server.drop_database().await;
}
