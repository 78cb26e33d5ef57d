//! The worker: retries with backoff until a job dies, runs each job once however
//! many loops lease, drains or releases jobs at shutdown, and runs the daily purge
//! once per slot across worker processes (SQLite and PostgreSQL).

mod support;

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::store::SqlStore;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_adapters::test_support::TestDatabase;
use otto_core::jobs::{
    DailySchedule, Enqueued, Finish, JobKind, JobOutcome, JobRunner, JobStatus, NewJob, RetryPolicy,
};
use otto_core::ports::{Clock, JobQueue, Target, WebhookLedger};
use otto_core::tenancy::TenantId;
use otto_server::telemetry::metrics::Metrics;
use otto_server::worker::WorkerPool;
use otto_server::worker::schedule::ensure_latest_slot;
use otto_testkit::{InMemoryStore, ManualClock, ScriptedHandler};
use serde_json::json;

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::from_secs(10),
    max_delay: Duration::from_secs(60),
};
const LEASE: Duration = Duration::from_secs(60);

fn job(kind: JobKind, key: &str, run_at: chrono::DateTime<chrono::Utc>) -> NewJob {
    NewJob {
        kind,
        tenant_id: Some(TenantId::parse("org_w").expect("valid")),
        unique_key: key.to_owned(),
        payload: json!({}),
        run_at,
        trace_context: None,
    }
}

fn runner(store: &InMemoryStore, clock: &ManualClock, handler: &ScriptedHandler) -> JobRunner {
    JobRunner::new(
        Arc::new(store.clone()),
        Arc::new(clock.clone()),
        POLICY,
        LEASE,
    )
    .with_handler(JobKind::Transcription, Arc::new(handler.clone()))
}

async fn status_of(store: &InMemoryStore, id: uuid::Uuid) -> otto_core::jobs::Job {
    store.job(id).await.expect("reads").expect("exists")
}

#[tokio::test]
async fn a_failing_job_backs_off_exponentially_then_dies_after_its_attempts() {
    let store = InMemoryStore::default();
    let clock = ManualClock::at("2026-11-26T09:00:00Z");
    let handler = ScriptedHandler::answering([
        JobOutcome::Retry("deepgram answered 503".into()),
        JobOutcome::Retry("deepgram answered 503".into()),
        JobOutcome::Retry("deepgram answered 503".into()),
    ]);
    let runner = runner(&store, &clock, &handler);
    let id = store
        .enqueue(job(JobKind::Transcription, "t:1", clock.now()), clock.now())
        .await
        .expect("enqueues")
        .id();

    for (attempt, full_delay) in [(1u32, 10u64), (2, 20)] {
        let executed = runner.run_next().await.expect("runs").expect("a due job");
        let Finish::RetryAt { at, error } = executed.finish else {
            panic!("attempt {attempt} should retry: {:?}", executed.finish);
        };
        assert_eq!(error, "deepgram answered 503");
        let delay = (at - clock.now()).to_std().expect("in the future");
        let full = Duration::from_secs(full_delay);
        assert!(
            delay >= full / 2 && delay <= full,
            "attempt {attempt}: {delay:?} within [{:?}, {full:?}]",
            full / 2
        );
        assert!(
            runner.run_next().await.expect("runs").is_none(),
            "not due before its backoff"
        );
        clock.set(at);
    }
    let last = runner.run_next().await.expect("runs").expect("due");
    assert_eq!(
        last.finish,
        Finish::Dead {
            error: "deepgram answered 503 (after 3 attempts)".into()
        }
    );
    let dead = status_of(&store, id).await;
    assert_eq!((dead.status, dead.attempts), (JobStatus::Dead, 3));
    assert_eq!(
        handler.ran().iter().map(|(_, n)| *n).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    clock.advance(Duration::from_secs(86_400));
    assert!(
        runner.run_next().await.expect("runs").is_none(),
        "a dead job stays dead"
    );
}

#[tokio::test]
async fn permanent_failures_die_at_once_and_skips_keep_their_reason() {
    let store = InMemoryStore::default();
    let clock = ManualClock::at("2026-11-26T09:00:00Z");
    let handler = ScriptedHandler::answering([
        JobOutcome::Fail("Twilio refused the number (400)".into()),
        JobOutcome::Skipped("the customer opted out".into()),
    ]);
    let runner = runner(&store, &clock, &handler);
    let failed = store
        .enqueue(
            job(JobKind::Transcription, "t:fail", clock.now()),
            clock.now(),
        )
        .await
        .expect("enqueues")
        .id();
    runner.run_next().await.expect("runs");
    let skipped = store
        .enqueue(
            job(JobKind::Transcription, "t:skip", clock.now()),
            clock.now(),
        )
        .await
        .expect("enqueues")
        .id();
    runner.run_next().await.expect("runs");
    let failed = status_of(&store, failed).await;
    assert_eq!((failed.status, failed.attempts), (JobStatus::Dead, 1));
    let skipped = status_of(&store, skipped).await;
    assert_eq!(skipped.status, JobStatus::Skipped);
    assert_eq!(
        skipped.last_error.as_deref(),
        Some("the customer opted out")
    );
}

#[tokio::test]
async fn a_worker_leases_only_the_kinds_it_can_run() {
    let store = InMemoryStore::default();
    let clock = ManualClock::at("2026-11-26T09:00:00Z");
    let runner = runner(&store, &clock, &ScriptedHandler::default());
    let id = store
        .enqueue(job(JobKind::AiFollowUp, "ai:1", clock.now()), clock.now())
        .await
        .expect("enqueues")
        .id();
    assert!(runner.run_next().await.expect("runs").is_none());
    assert_eq!(status_of(&store, id).await.status, JobStatus::Queued);
}

#[tokio::test]
async fn a_job_whose_worker_dies_on_every_attempt_is_stopped() {
    let store = InMemoryStore::default();
    let clock = ManualClock::at("2026-11-26T09:00:00Z");
    let handler = ScriptedHandler::default();
    let runner = runner(&store, &clock, &handler);
    let id = store
        .enqueue(
            job(JobKind::Transcription, "t:crash", clock.now()),
            clock.now(),
        )
        .await
        .expect("enqueues")
        .id();
    for _ in 0..POLICY.max_attempts {
        // Leased, then the worker "dies": nothing is recorded.
        assert_eq!(runner.lease(1).await.expect("leases").len(), 1);
        clock.advance(LEASE + Duration::from_secs(1));
    }
    let executed = runner.run_next().await.expect("runs").expect("taken over");
    assert!(
        matches!(&executed.finish, Finish::Dead { error } if error.contains("abandoned")),
        "{:?}",
        executed.finish
    );
    assert!(handler.ran().is_empty(), "not run a fourth time");
    assert_eq!(status_of(&store, id).await.status, JobStatus::Dead);
}

async fn until(mut done: impl FnMut() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached in 5 s");
}

fn pool(store: &InMemoryStore, handler: &ScriptedHandler, metrics: &Arc<Metrics>) -> WorkerPool {
    let mut config = support::config(&[
        ("OTTO_WORKER_CONCURRENCY", "3"),
        ("OTTO_WORKER_POLL_MS", "10"),
    ])
    .worker;
    config.retry = POLICY;
    let runner = JobRunner::new(
        Arc::new(store.clone()),
        Arc::new(SystemClock),
        POLICY,
        LEASE,
    )
    .with_handler(JobKind::Transcription, Arc::new(handler.clone()));
    WorkerPool::new(runner, Arc::new(SystemClock), config, metrics.clone())
}

async fn enqueue_now(store: &InMemoryStore, key: &str) -> uuid::Uuid {
    let now = chrono::Utc::now();
    store
        .enqueue(job(JobKind::Transcription, key, now), now)
        .await
        .expect("enqueues")
        .id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_runs_every_job_once_and_counts_it() {
    let store = InMemoryStore::default();
    let handler = ScriptedHandler::default().taking(Duration::from_millis(5));
    let metrics = Arc::new(Metrics::new());
    for n in 0..12 {
        enqueue_now(&store, &format!("pool:{n}")).await;
    }
    let watched = handler.clone();
    pool(&store, &handler, &metrics)
        .run(
            until(move || watched.ran().len() >= 12),
            Duration::from_secs(5),
        )
        .await;
    let mut ran: Vec<uuid::Uuid> = handler.ran().into_iter().map(|(id, _)| id).collect();
    ran.sort();
    ran.dedup();
    assert_eq!(ran.len(), 12, "each job ran exactly once");
    assert!(
        store
            .jobs()
            .iter()
            .all(|job| job.status == JobStatus::Succeeded)
    );
    assert!(
        metrics
            .encode()
            .contains(r#"worker_task_total{name="transcription",status="succeeded"} 12"#),
        "{}",
        metrics.encode()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_age_gauge_shows_how_long_the_oldest_due_job_has_waited() {
    let store = InMemoryStore::default();
    let handler = ScriptedHandler::default();
    let metrics = Arc::new(Metrics::new());
    // A job this worker does not run, due ten minutes ago: the workers are behind.
    let ten_minutes_ago = chrono::Utc::now() - chrono::Duration::minutes(10);
    store
        .enqueue(
            job(JobKind::Analysis, "age:1", ten_minutes_ago),
            ten_minutes_ago,
        )
        .await
        .expect("enqueues");
    let age = |metrics: &Metrics| {
        metrics
            .encode()
            .lines()
            .find_map(|line| line.strip_prefix("job_queue_oldest_age_seconds "))
            .and_then(|value| value.trim().parse::<i64>().ok())
            .unwrap_or(0)
    };
    let watched = metrics.clone();
    pool(&store, &handler, &metrics)
        .run(until(move || age(&watched) > 0), Duration::from_secs(1))
        .await;
    assert!((600..660).contains(&age(&metrics)), "{}", age(&metrics));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_jobs_finish_within_the_grace_period() {
    let store = InMemoryStore::default();
    let handler = ScriptedHandler::default().taking(Duration::from_millis(300));
    let id = enqueue_now(&store, "grace:short").await;
    let watched = handler.clone();
    pool(&store, &handler, &Arc::new(Metrics::new()))
        .run(
            until(move || !watched.ran().is_empty()),
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(status_of(&store, id).await.status, JobStatus::Succeeded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_releases_jobs_that_outlive_the_grace_period() {
    let store = InMemoryStore::default();
    let handler = ScriptedHandler::default().taking(Duration::from_secs(30));
    let id = enqueue_now(&store, "grace:long").await;
    let watched = handler.clone();
    let started = std::time::Instant::now();
    pool(&store, &handler, &Arc::new(Metrics::new()))
        .run(
            until(move || !watched.ran().is_empty()),
            Duration::from_millis(100),
        )
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the pool did not wait for the job"
    );
    let released = status_of(&store, id).await;
    assert_eq!(
        (released.status, released.attempts),
        (JobStatus::Queued, 0),
        "released for another worker, the attempt not counted"
    );
}

#[tokio::test]
async fn every_slot_is_enqueued_once_and_a_missed_slot_at_the_next_start() {
    let store = InMemoryStore::default();
    let schedule = DailySchedule::parse("02:00").expect("valid");
    // All workers were down at 02:00; one starts at 09:30.
    let clock = ManualClock::at("2026-11-26T09:30:00Z");
    let first = ensure_latest_slot(&store, &clock, schedule, JobKind::WebhookPurge)
        .await
        .expect("enqueues");
    let Enqueued::Created(id) = first else {
        panic!("the missed slot is enqueued: {first:?}");
    };
    let missed = status_of(&store, id).await;
    assert_eq!(missed.run_at.to_rfc3339(), "2026-11-26T02:00:00+00:00");
    assert!(missed.run_at <= clock.now(), "due at once");
    assert_eq!(missed.tenant_id, None);
    // Another worker, later the same day: the same slot, no second job.
    clock.advance(Duration::from_secs(3_600));
    assert_eq!(
        ensure_latest_slot(&store, &clock, schedule, JobKind::WebhookPurge)
            .await
            .expect("enqueues"),
        Enqueued::Existing(id)
    );
    // The next day's slot is a new job.
    clock.set(
        chrono::DateTime::parse_from_rfc3339("2026-11-27T02:00:00Z")
            .expect("valid")
            .to_utc(),
    );
    assert!(matches!(
        ensure_latest_slot(&store, &clock, schedule, JobKind::WebhookPurge)
            .await
            .expect("enqueues"),
        Enqueued::Created(_)
    ));
    assert_eq!(store.jobs().len(), 2);
}

/// Two worker processes (two pools) on one database run the day's purge once, and it
/// deletes the expired key.
async fn the_purge_runs_once_across_two_workers(database_url: &str) {
    let config = support::config(&[
        ("DATABASE_URL", database_url),
        ("OTTO_WORKER_POLL_MS", "20"),
        ("OTTO_WORKER_CONCURRENCY", "2"),
    ]);
    let mut stores = Vec::new();
    for _ in 0..2 {
        let connections = otto_server::startup::connect(&config)
            .await
            .expect("connects and migrates");
        stores.push(Arc::new(SqlStore::new(
            connections.database,
            Arc::new(UuidV7Ids),
        )));
    }
    let old = chrono::Utc::now() - chrono::Duration::days(120);
    let key = otto_core::ports::IdempotencyKey {
        tenant: None,
        provider: otto_core::webhooks::Provider::Clerk,
        event: "user.created".into(),
        external_id: "msg_expired".into(),
    };
    stores[0]
        .apply(&otto_core::ports::Application {
            target: &Target::Platform,
            key: &key,
            body_digest: "digest",
            effects: &[],
            jobs: &[],
            at: old,
            log: None,
        })
        .await
        .expect("an expired key");
    // Two jobs that ended 120 days ago: the succeeded one is purged, the dead one kept.
    let mut ended = Vec::new();
    for (key, finish) in [
        ("old:succeeded", otto_core::jobs::Finish::Succeeded),
        (
            "old:dead",
            otto_core::jobs::Finish::Dead {
                error: "gave up".into(),
            },
        ),
    ] {
        let job = otto_core::jobs::NewJob {
            kind: JobKind::Transcription,
            tenant_id: None,
            unique_key: key.into(),
            payload: serde_json::json!({}),
            run_at: old,
            trace_context: None,
        };
        stores[0].enqueue(job, old).await.expect("enqueues");
        let leased = stores[0]
            .lease(&[JobKind::Transcription], old, Duration::from_secs(60), 1)
            .await
            .expect("leases")
            .pop()
            .expect("the old job");
        stores[0]
            .finish(&leased, finish, old)
            .await
            .expect("finishes");
        ended.push(leased.id);
    }

    let metrics: Vec<Arc<Metrics>> = (0..2).map(|_| Arc::new(Metrics::new())).collect();
    let mut workers = tokio::task::JoinSet::new();
    for (store, metrics) in stores.iter().zip(&metrics) {
        let runner = otto_server::startup::job_runner(&config, store.clone(), metrics.clone())
            .expect("runner");
        let pool = WorkerPool::new(
            runner,
            Arc::new(SystemClock),
            config.worker.clone(),
            metrics.clone(),
        );
        workers.spawn(pool.run(
            tokio::time::sleep(Duration::from_secs(2)),
            Duration::from_secs(5),
        ));
    }
    while workers.join_next().await.is_some() {}

    let purges: Vec<_> = stores[0]
        .jobs(None, 100)
        .await
        .expect("lists")
        .into_iter()
        .filter(|job| job.kind == "webhook_purge")
        .collect();
    assert_eq!(purges.len(), 1, "one job for the slot: {purges:?}");
    assert_eq!(purges[0].status, JobStatus::Succeeded);
    assert_eq!(purges[0].attempts, 1, "run once");
    let slot = DailySchedule::parse("02:00")
        .expect("valid")
        .latest_slot(chrono::Utc::now());
    assert_eq!(purges[0].run_at, slot);
    let runs: Vec<String> = metrics.iter().map(|metrics| metrics.encode()).collect();
    let succeeded = runs
        .iter()
        .filter(|text| {
            text.contains(r#"worker_task_total{name="webhook_purge",status="succeeded"} 1"#)
        })
        .count();
    assert_eq!(succeeded, 1, "exactly one worker ran it");
    assert_eq!(
        runs.iter()
            .filter(|text| text.contains("webhook_idempotency_purged_total 1"))
            .count(),
        1,
        "the expired key was purged and counted once"
    );
    let again = stores[1]
        .apply(&otto_core::ports::Application {
            target: &Target::Platform,
            key: &key,
            body_digest: "digest",
            effects: &[],
            jobs: &[],
            at: chrono::Utc::now(),
            log: None,
        })
        .await
        .expect("applies");
    assert!(
        matches!(again, otto_core::ports::Claim::Processed { .. }),
        "the purged key is gone: {again:?}"
    );
    assert_eq!(
        stores[0].job(ended[0]).await.expect("reads"),
        None,
        "a job that succeeded long ago is purged"
    );
    assert!(
        stores[0].job(ended[1]).await.expect("reads").is_some(),
        "a dead job is kept for an operator"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_purge_runs_once_across_workers_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    the_purge_runs_once_across_two_workers(&format!("sqlite://{}/otto.db", dir.path().display()))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_purge_runs_once_across_workers_on_postgres() {
    let Some(test_database) = TestDatabase::create().await else {
        return;
    };
    the_purge_runs_once_across_two_workers(&test_database.url).await;
    test_database.drop_database().await;
}

#[tokio::test]
async fn jobs_enqueued_by_a_delivery_carry_its_trace_context() {
    let store = InMemoryStore::default();
    let shared = Arc::new(store.clone());
    let ingestion = otto_server::state::webhook_ingestion(&support::config(&[]), shared);
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let delivery = otto_core::webhooks::Delivery {
        event: otto_core::webhooks::WebhookEvent::CallRailCallComplete,
        content_type: Some("application/json".into()),
        body: br#"{"resource_id":"CALT","direction":"inbound","answered":false}"#.to_vec(),
        message_id: None,
        received_at: chrono::Utc::now(),
        trace_context: Some(traceparent.into()),
        trace_id: None,
    };
    ingestion.receive(&delivery).await.expect("processed");
    let jobs = store.jobs();
    assert_eq!(jobs.len(), 2, "a missed-call recovery and an AI follow-up");
    assert!(
        jobs.iter()
            .all(|job| job.trace_context.as_deref() == Some(traceparent))
    );
}

#[tokio::test]
async fn the_worker_runs_every_kind_of_job() {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}/otto.db", dir.path().display());
    let config = support::config(&[("DATABASE_URL", database.as_str())]);
    let connections = otto_server::startup::connect(&config)
        .await
        .expect("connects");
    let store = Arc::new(SqlStore::new(connections.database, Arc::new(UuidV7Ids)));
    let runner =
        otto_server::startup::job_runner(&config, store, Arc::new(Metrics::new())).expect("runner");
    let mut kinds = runner.kinds();
    kinds.sort();
    let mut all = JobKind::ALL.to_vec();
    all.sort();
    assert_eq!(kinds, all, "a kind without a handler would wait forever");
}
