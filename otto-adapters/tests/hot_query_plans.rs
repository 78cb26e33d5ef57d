//! Every hot query seeks an index on a seeded database, as the application role: no
//! sequential scan of any table, and a deep calls page reads a page's worth of rows.
//! The database is filled by `scripts/bench/seed_at_size.sql` (the cost-growth
//! benchmark's own seed) at a size where PostgreSQL's planner prefers a scan to a bad
//! index, so a missing or unusable index shows as a `Seq Scan` (or as a cost estimate
//! high enough for PostgreSQL to compile the query with JIT).

use std::sync::Arc;

use otto_adapters::database::{self, PoolSettings};
use otto_adapters::store::{HotQuerySample, SqlStore};
use otto_adapters::system::UuidV7Ids;
use otto_adapters::test_support::TestDatabase;
use otto_core::calls::CallCursor;
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const SEED: &str = include_str!("../../scripts/bench/seed_at_size.sql");
const BIG_TENANT: &str = "org_bench";

/// The most rows a scan of a dashboard read may filter out per loop: the big tenant has
/// some 1,100 days, so reading all of them to find one is well above it.
const DASHBOARD_ROWS_FILTERED: i64 = 100;

/// Sizes: enough rows that a scan is what the planner picks when no index serves.
const SIZES: &[(&str, u32)] = &[
    ("tenants", 40),
    ("calls", 60_000),
    ("keys", 20_000),
    ("deliveries", 40_000),
    ("messages", 20_000),
    ("jobs", 10_000),
];

async fn seeded(url: &str) -> DatabaseConnection {
    let connection = database::connect(url, &PoolSettings::default())
        .await
        .expect("connects");
    database::migrate_up(&connection).await.expect("migrates");
    let settings: String = SIZES
        .iter()
        .map(|(name, value)| format!("SET otto_seed.{name} = '{value}';"))
        .collect();
    connection
        .execute_unprepared(&format!(
            "{settings} SET otto_seed.big_tenant = '{BIG_TENANT}';\n{SEED}"
        ))
        .await
        .expect("seeds");
    // Visibility maps for index-only scans, and statistics.
    connection
        .execute_unprepared("VACUUM ANALYZE")
        .await
        .expect("vacuums");
    connection
}

async fn text(connection: &DatabaseConnection, sql: &str) -> String {
    let row = connection
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            sql.to_owned(),
        ))
        .await
        .expect("reads")
        .expect("a row");
    row.try_get_by_index(0).expect("a text column")
}

async fn sample(connection: &DatabaseConnection) -> HotQuerySample {
    let deep = connection
        .query_one_raw(Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            format!(
                "SELECT started_at, id FROM calls WHERE tenant_id = '{BIG_TENANT}' \
                 ORDER BY started_at DESC, id DESC OFFSET 4999 LIMIT 1"
            ),
        ))
        .await
        .expect("reads")
        .expect("the tenant has 100 pages of calls");
    HotQuerySample {
        tenant: TenantScope::for_verified_delivery(TenantId::parse(BIG_TENANT).expect("valid")),
        now: chrono::Utc::now(),
        deep_call: CallCursor {
            started_at: deep.try_get("", "started_at").expect("started_at"),
            id: deep.try_get("", "id").expect("id"),
        },
        customer_number: text(
            connection,
            &format!(
                "SELECT customer_number FROM messages WHERE tenant_id = '{BIG_TENANT}' \
                 GROUP BY customer_number ORDER BY count(*) DESC LIMIT 1"
            ),
        )
        .await,
        rep: UserId::parse(
            &text(
                connection,
                &format!(
                    "SELECT assigned_rep FROM calls WHERE tenant_id = '{BIG_TENANT}' \
                     AND assigned_rep IS NOT NULL LIMIT 1"
                ),
            )
            .await,
        )
        .expect("a rep id"),
    }
}

/// Every plan node (depth first).
fn nodes(plan: &serde_json::Value) -> Vec<&serde_json::Value> {
    let mut found = Vec::new();
    let mut stack = vec![plan];
    while let Some(value) = stack.pop() {
        match value {
            serde_json::Value::Array(items) => stack.extend(items),
            serde_json::Value::Object(node) => {
                if node.contains_key("Node Type") {
                    found.push(value);
                }
                stack.extend(node.values());
            }
            _ => {}
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_hot_queries_seek_indexes_on_a_seeded_database() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    let connection = seeded(&test_database.url).await;
    let store = SqlStore::new(connection.clone(), Arc::new(UuidV7Ids));
    let sample = sample(&connection).await;
    // The dashboard as it is read once its ranges were asked for: their kept periods
    // counted (a filter on a period's validity runs only on counted rows).
    for days in [30, 365] {
        use otto_core::ports::DashboardQueries;
        let from = sample.now - chrono::Duration::days(days);
        store
            .summary(&sample.tenant, from, sample.now)
            .await
            .expect("a summary");
    }
    let mut failures = Vec::new();
    let mut report = Vec::new();
    for query in store.hot_queries(&sample) {
        let plan = store.explain(&query).await.expect("explains");
        let time = plan[0]["Execution Time"].as_f64().unwrap_or(f64::NAN);
        report.push(format!("{:>9.3} ms  {}", time, query.name));
        if plan[0].get("JIT").is_some() {
            failures.push(format!(
                "{}: the planner compiled it with JIT (a cost estimate above \
                 jit_above_cost: a scan the size of a table)\n{plan}",
                query.name
            ));
        }
        // The dashboard reads kept rows and a few calls by seeks: a scan that filters
        // out many rows per loop reads what an index condition should have excluded
        // (under row-level security, a condition on a function that is not leakproof
        // is a filter, not an index condition).
        let reads_by_seeks =
            query.name.starts_with("dashboard:") && !query.name.contains("counted once");
        for node in nodes(&plan) {
            let removed = node["Rows Removed by Filter"].as_i64().unwrap_or(0);
            let problem = if node["Node Type"] == "Seq Scan" {
                Some("a sequential scan".to_owned())
            } else if reads_by_seeks && removed > DASHBOARD_ROWS_FILTERED {
                Some(format!("{removed} rows filtered out per loop in a scan"))
            } else {
                None
            };
            if let Some(problem) = problem {
                failures.push(format!(
                    "{}: {problem} of {}\n{}",
                    query.name,
                    node["Relation Name"],
                    serde_json::to_string_pretty(&plan).unwrap_or_default()
                ));
            }
        }
        if query.name == "calls: a page deep in the cursor chain" {
            let calls = nodes(&plan)
                .into_iter()
                .find(|node| node["Relation Name"] == "calls")
                .expect("a scan of calls");
            let read = calls["Actual Rows"].as_i64().unwrap_or(i64::MAX)
                + calls["Rows Removed by Filter"].as_i64().unwrap_or(0);
            assert!(
                calls["Index Cond"]
                    .as_str()
                    .is_some_and(|condition| condition.contains("started_at")),
                "the cursor is part of the index condition: {plan}"
            );
            assert!(read <= 51, "a page's worth of rows, not {read}: {plan}");
        }
    }
    // The timings are figures, not assertions (see `make bench`); printed for the record.
    println!(
        "hot query plans on {} seeded calls:\n{}",
        SIZES[1].1,
        report.join("\n")
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    connection.close().await.expect("close");
    test_database.drop_database().await;
}
