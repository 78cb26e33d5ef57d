//! Worker benchmark: jobs per second through the PostgreSQL queue with a handler that
//! does nothing, for one worker and for two, each with the default concurrency.
//!
//! Each worker is a real [`WorkerPool`] with its own connection pool, exactly as an
//! `otto-server worker` process runs it, so the figure is the queue's cost: one lease
//! and one finish per job, under the contention of the other loops. The no-op handler
//! stands in for the kind's real work; it counts its calls so the run can show that
//! every job ran exactly once.
//!
//! `make bench` runs it (release build). Figures, not assertions. PostgreSQL is taken
//! from OTTO_TEST_POSTGRES_URL (default `postgres://postgres@127.0.0.1:5432/test`); a
//! database of its own is created and dropped.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use otto_adapters::database::{self, PoolSettings};
use otto_adapters::store::SqlStore;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_adapters::test_support::TestDatabase;
use otto_core::jobs::{
    DailySchedule, Job, JobHandler, JobKind, JobOutcome, JobRunner, NewJob, RetryPolicy,
};
use otto_core::ports::{Clock, JobQueue};
use otto_server::config::{ServeWorker, WorkerConfig};
use otto_server::telemetry::metrics::Metrics;
use otto_server::worker::WorkerPool;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

const JOBS: u64 = 20_000;
const ENQUEUERS: u64 = 16;
/// `OTTO_WORKER_CONCURRENCY`'s default.
const CONCURRENCY: usize = 4;

/// The no-op job: counts its runs.
#[derive(Default)]
struct Noop {
    runs: AtomicU64,
}

#[async_trait]
impl JobHandler for Noop {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        self.runs.fetch_add(1, Ordering::Relaxed);
        JobOutcome::Succeeded
    }
}

fn worker_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: CONCURRENCY,
        poll_interval: Duration::from_millis(1_000),
        lease: Duration::from_secs(300),
        retry: RetryPolicy::default(),
        purge_at: DailySchedule::parse("02:00").expect("schedule"),
        serve_worker: ServeWorker::Off,
        port: 0,
    }
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("query")
        .expect("row");
    row.try_get_by_index::<i64>(0).expect("count")
}

/// Enqueues `JOBS` jobs from `ENQUEUERS` concurrent tasks; returns the seconds taken.
async fn enqueue(store: Arc<SqlStore>, round: usize) -> f64 {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for enqueuer in 0..ENQUEUERS {
        let store = store.clone();
        tasks.spawn(async move {
            for n in (enqueuer..JOBS).step_by(ENQUEUERS as usize) {
                let now = SystemClock.now();
                let job = NewJob {
                    kind: JobKind::SendMessage,
                    tenant_id: None,
                    unique_key: format!("bench:{round}:{n}"),
                    payload: serde_json::json!({}),
                    run_at: now,
                    trace_context: None,
                };
                store.enqueue(job, now).await.expect("enqueue");
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.expect("enqueuer");
    }
    started.elapsed().as_secs_f64()
}

async fn run(url: &str, workers: usize, round: usize) {
    let settings = PoolSettings::default();
    let control = database::connect(url, &settings).await.expect("connect");
    control
        .execute_unprepared("TRUNCATE jobs")
        .await
        .expect("truncate");
    let store = Arc::new(SqlStore::new(control.clone(), Arc::new(UuidV7Ids)));
    let enqueue_seconds = enqueue(store, round).await;
    // What autovacuum does within a minute of a burst (sooner for `jobs`, whose
    // thresholds migration 8 lowers): without statistics, the planner takes a
    // backlog of thousands for a handful of rows and sorts it on every lease.
    control
        .execute_unprepared("ANALYZE jobs")
        .await
        .expect("analyze");

    let noop = Arc::new(Noop::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let started = Instant::now();
    let mut pools = tokio::task::JoinSet::new();
    for _ in 0..workers {
        // Its own connection pool, like a separate `otto-server worker` process.
        let connection = database::connect(url, &settings).await.expect("connect");
        let store = Arc::new(SqlStore::new(connection, Arc::new(UuidV7Ids)));
        let runner = JobRunner::new(
            store,
            Arc::new(SystemClock),
            RetryPolicy::default(),
            worker_config().lease,
        )
        .with_handler(JobKind::SendMessage, noop.clone());
        let pool = WorkerPool::new(
            runner,
            Arc::new(SystemClock),
            worker_config(),
            Arc::new(Metrics::new()),
        );
        let mut stopped = stopped.clone();
        pools.spawn(pool.run(
            async move {
                let _ = stopped.wait_for(|stopped| *stopped).await;
            },
            Duration::from_secs(5),
        ));
    }
    let done = "SELECT count(*) FROM jobs WHERE status = 'succeeded'";
    while count(&control, done).await < JOBS as i64 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.send_replace(true);
    while let Some(pool) = pools.join_next().await {
        pool.expect("worker");
    }
    let attempts = count(
        &control,
        "SELECT COALESCE(max(attempts), 0)::bigint FROM jobs",
    )
    .await;
    println!(
        "| {workers} | {CONCURRENCY} | {JOBS} | {:.0} | {seconds:.2} | {:.0} | {} | {attempts} |",
        JOBS as f64 / enqueue_seconds,
        JOBS as f64 / seconds,
        noop.runs.load(Ordering::Relaxed),
    );
    control.close().await.ok();
}

#[tokio::main]
async fn main() {
    let Some(database) = TestDatabase::create().await else {
        println!("worker bench skipped: PostgreSQL is unreachable");
        return;
    };
    let connection = database::connect(&database.url, &PoolSettings::default())
        .await
        .expect("connect");
    database::migrate_up(&connection).await.expect("migrate");
    connection.close().await.ok();

    println!("### Worker throughput (PostgreSQL queue, no-op handler)");
    println!();
    println!(
        "`cargo run --release -p otto-server --example worker_bench`: {JOBS} jobs enqueued by \
         {ENQUEUERS} concurrent tasks, then run by one or two worker pools, each with its own \
         connection pool and the default concurrency. Every job is one lease and one finish; \
         handler runs and the highest attempt count show that each ran exactly once."
    );
    println!();
    println!(
        "| workers | loops each | jobs | enqueued/s | seconds to run all | jobs/s | handler runs | max attempts |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (round, workers) in [1, 2].into_iter().enumerate() {
        run(&database.url, workers, round).await;
    }
    database.drop_database().await;
}
