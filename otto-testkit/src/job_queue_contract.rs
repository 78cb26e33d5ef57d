//! The contract of [`JobQueue`]: what the fake and every SQL adapter must do alike.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use otto_core::jobs::{Enqueued, Finish, Job, JobKind, JobStatus, NewJob};
use otto_core::ports::JobQueue;
use otto_core::tenancy::{TenantId, TenantScope};
use serde_json::json;
use uuid::Uuid;

const LEASE: Duration = Duration::from_secs(60);

fn start() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T02:00:00.250000Z")
        .expect("valid")
        .to_utc()
}

fn seconds(n: i64) -> chrono::Duration {
    chrono::Duration::seconds(n)
}

fn new_job(kind: JobKind, key: &str, run_at: DateTime<Utc>) -> NewJob {
    NewJob {
        kind,
        tenant_id: Some(TenantId::parse("org_jobs").expect("valid")),
        unique_key: key.to_owned(),
        payload: json!({ "call_id": key, "nested": { "n": 1 } }),
        run_at,
        trace_context: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_owned()),
    }
}

async fn enqueue(queue: &dyn JobQueue, job: NewJob) -> Uuid {
    match queue.enqueue(job, start()).await.expect("enqueues") {
        Enqueued::Created(id) => id,
        Enqueued::Existing(id) => panic!("a fresh key found job {id}"),
    }
}

async fn stored(queue: &dyn JobQueue, id: Uuid) -> Job {
    queue.job(id).await.expect("reads").expect("exists")
}

async fn lease_one(queue: &dyn JobQueue, kinds: &[JobKind], now: DateTime<Utc>) -> Option<Job> {
    let mut leased = queue.lease(kinds, now, LEASE, 1).await.expect("leases");
    assert!(leased.len() <= 1, "a limit of 1 leases at most one job");
    leased.pop()
}

/// Runs every promise of the queue against `queue`, which must be empty.
pub async fn job_queue_contract(queue: Arc<dyn JobQueue>) {
    enqueueing_is_once_per_unique_key(queue.as_ref()).await;
    a_tenant_reads_only_its_own_jobs(queue.as_ref()).await;
    leasing_takes_due_jobs_of_the_asked_kinds(queue.as_ref()).await;
    outcomes_are_recorded_and_fenced_by_attempt(queue.as_ref()).await;
    expired_leases_are_taken_over(queue.as_ref()).await;
    operators_retry_and_cancel(queue.as_ref()).await;
    concurrent_workers_never_share_a_job(queue.clone()).await;
    ended_jobs_are_purged_and_dead_ones_kept(queue.as_ref()).await;
}

async fn ended_jobs_are_purged_and_dead_ones_kept(queue: &dyn JobQueue) {
    let all = queue.jobs(None, 100_000).await.expect("lists");
    let ended = |jobs: &[Job]| {
        jobs.iter()
            .filter(|job| JobStatus::ENDED.contains(&job.status))
            .count() as u64
    };
    let dead = |jobs: &[Job]| {
        jobs.iter()
            .filter(|job| job.status == JobStatus::Dead)
            .count()
    };
    assert!(ended(&all) >= 3, "the earlier checks left ended jobs");
    let oldest_end = all
        .iter()
        .filter(|job| JobStatus::ENDED.contains(&job.status))
        .map(|job| job.updated_at)
        .min()
        .expect("an ended job");
    assert_eq!(
        queue.purge_finished(oldest_end, 100).await.expect("purges"),
        0,
        "nothing ended before the cutoff"
    );
    let cutoff = start() + chrono::Duration::days(3650);
    let mut purged = 0;
    loop {
        let batch = queue.purge_finished(cutoff, 2).await.expect("purges");
        assert!(batch <= 2, "a batch is bounded by its limit");
        purged += batch;
        if batch == 0 {
            break;
        }
    }
    assert_eq!(purged, ended(&all), "every ended job, in batches");
    let left = queue.jobs(None, 100_000).await.expect("lists");
    assert_eq!(ended(&left), 0);
    assert_eq!(dead(&left), dead(&all), "dead jobs wait for an operator");
    assert_eq!(left.len() as u64, all.len() as u64 - purged);
}

async fn a_tenant_reads_only_its_own_jobs(queue: &dyn JobQueue) {
    let scope = |tenant: &str| TenantScope::for_job(TenantId::parse(tenant).expect("valid"));
    let mine = enqueue(
        queue,
        NewJob {
            tenant_id: Some(TenantId::parse("org_mine").expect("valid")),
            ..new_job(JobKind::SendMessage, "scope:org_mine:1", start())
        },
    )
    .await;
    let platform = enqueue(
        queue,
        NewJob {
            tenant_id: None,
            ..new_job(JobKind::WebhookPurge, "scope:platform:1", start())
        },
    )
    .await;
    let read = |tenant: &'static str, id: Uuid| async move {
        queue
            .tenant_job(&scope(tenant), id)
            .await
            .expect("reads")
            .map(|job| job.id)
    };
    assert_eq!(read("org_mine", mine).await, Some(mine), "its own job");
    assert_eq!(
        read("org_other", mine).await,
        None,
        "another tenant's job is absent"
    );
    assert_eq!(
        read("org_mine", platform).await,
        None,
        "a job of no tenant is no tenant's"
    );
    assert_eq!(
        stored(queue, platform).await.tenant_id,
        None,
        "workers and operators read every job"
    );
    for id in [mine, platform] {
        assert!(queue.cancel(id, start()).await.expect("cancels"));
    }
}

async fn enqueueing_is_once_per_unique_key(queue: &dyn JobQueue) {
    let job = new_job(JobKind::Transcription, "unique:1", start());
    let id = enqueue(queue, job.clone()).await;
    let again = queue
        .enqueue(
            NewJob {
                payload: json!({"other": true}),
                ..job.clone()
            },
            start() + seconds(5),
        )
        .await
        .expect("enqueues");
    assert_eq!(again, Enqueued::Existing(id), "the same key is one job");
    let kept = stored(queue, id).await;
    assert_eq!(kept.payload, job.payload, "the first payload is kept");
    assert_eq!(kept.kind, "transcription");
    assert_eq!(kept.tenant_id, job.tenant_id);
    assert_eq!(kept.unique_key, "unique:1");
    assert_eq!(kept.status, JobStatus::Queued);
    assert_eq!(kept.attempts, 0);
    assert_eq!(kept.run_at, start());
    assert_eq!(kept.trace_context, job.trace_context);
    assert_eq!(kept.lease_until, None);
    assert_eq!(kept.created_at, start());

    let platform = enqueue(
        queue,
        NewJob {
            tenant_id: None,
            ..new_job(JobKind::WebhookPurge, "unique:platform", start())
        },
    )
    .await;
    assert_eq!(stored(queue, platform).await.tenant_id, None);
    assert_eq!(queue.job(Uuid::nil()).await.expect("reads"), None);
    // Leave nothing due for the next checks.
    for id in [id, platform] {
        assert!(queue.cancel(id, start()).await.expect("cancels"));
    }
}

async fn leasing_takes_due_jobs_of_the_asked_kinds(queue: &dyn JobQueue) {
    let now = start() + seconds(100);
    let later = enqueue(
        queue,
        new_job(JobKind::Analysis, "lease:later", now + seconds(30)),
    )
    .await;
    let older = enqueue(
        queue,
        new_job(JobKind::Analysis, "lease:older", now - seconds(20)),
    )
    .await;
    let newer = enqueue(
        queue,
        new_job(JobKind::Analysis, "lease:newer", now - seconds(10)),
    )
    .await;
    let other_kind = enqueue(queue, new_job(JobKind::AiFollowUp, "lease:other", now)).await;
    assert_eq!(
        queue.oldest_due(now).await.expect("reads"),
        Some(now - seconds(20)),
        "the longest-waiting due job, not the one not due yet"
    );

    assert!(
        queue
            .lease(&[], now, LEASE, 10)
            .await
            .expect("leases")
            .is_empty(),
        "no kinds, no jobs"
    );
    let leased = queue
        .lease(&[JobKind::Analysis], now, LEASE, 10)
        .await
        .expect("leases");
    let ids: Vec<Uuid> = leased.iter().map(|job| job.id).collect();
    assert_eq!(
        ids,
        [older, newer],
        "due jobs of the kind, oldest run_at first"
    );
    for job in &leased {
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.attempts, 1);
        assert_eq!(
            job.lease_until,
            Some(now + chrono::Duration::from_std(LEASE).expect("fits"))
        );
        assert_eq!(
            stored(queue, job.id).await,
            *job,
            "what is returned is stored"
        );
    }
    assert!(
        lease_one(queue, &[JobKind::Analysis], now).await.is_none(),
        "running jobs with live leases and future jobs are not leased"
    );
    let due_later = lease_one(queue, &[JobKind::Analysis], now + seconds(30))
        .await
        .expect("due at its run_at");
    assert_eq!(due_later.id, later);
    let other = lease_one(queue, &[JobKind::AiFollowUp, JobKind::Transcription], now)
        .await
        .expect("other kind");
    assert_eq!(other.id, other_kind);
    for job in leased.iter().chain([&due_later, &other]) {
        assert!(
            queue
                .finish(job, Finish::Succeeded, now)
                .await
                .expect("finishes")
        );
    }
    let limited = {
        for n in 0..3 {
            enqueue(
                queue,
                new_job(JobKind::Analysis, &format!("lease:limit{n}"), now),
            )
            .await;
        }
        queue
            .lease(&[JobKind::Analysis], now, LEASE, 2)
            .await
            .expect("leases")
    };
    assert_eq!(limited.len(), 2, "the limit holds");
    let rest = queue
        .lease(&[JobKind::Analysis], now, LEASE, 10)
        .await
        .expect("leases");
    assert_eq!(rest.len(), 1);
    for job in limited.iter().chain(&rest) {
        queue
            .finish(job, Finish::Succeeded, now)
            .await
            .expect("finishes");
    }
}

async fn outcomes_are_recorded_and_fenced_by_attempt(queue: &dyn JobQueue) {
    let now = start() + seconds(200);
    let kinds = [JobKind::MissedCallRecovery];
    let id = enqueue(queue, new_job(JobKind::MissedCallRecovery, "finish:1", now)).await;

    let first = lease_one(queue, &kinds, now).await.expect("due");
    let retry_at = now + seconds(45);
    assert!(
        queue
            .finish(
                &first,
                Finish::RetryAt {
                    at: retry_at,
                    // A provider's answer may hold a NUL: stored without it.
                    error: "twilio answered\0 503".to_owned()
                },
                now
            )
            .await
            .expect("finishes")
    );
    let waiting = stored(queue, id).await;
    assert_eq!(waiting.status, JobStatus::Queued);
    assert_eq!(waiting.run_at, retry_at);
    assert_eq!(waiting.last_error.as_deref(), Some("twilio answered 503"));
    assert_eq!(waiting.lease_until, None);
    assert!(
        !queue
            .finish(&first, Finish::Succeeded, now)
            .await
            .expect("finishes"),
        "a finished attempt cannot finish twice"
    );
    assert!(
        lease_one(queue, &kinds, now + seconds(44)).await.is_none(),
        "not before its retry time"
    );

    let second = lease_one(queue, &kinds, retry_at).await.expect("due again");
    assert_eq!(second.attempts, 2);
    assert!(queue.release(&second, retry_at).await.expect("releases"));
    let released = stored(queue, id).await;
    assert_eq!(
        (released.status, released.attempts),
        (JobStatus::Queued, 1),
        "a released attempt does not count"
    );
    assert!(
        !queue.release(&second, retry_at).await.expect("releases"),
        "a released lease is gone"
    );

    let third = lease_one(queue, &kinds, retry_at).await.expect("due");
    assert_eq!(third.attempts, 2);
    assert!(
        queue
            .finish(
                &third,
                Finish::Skipped {
                    reason: "the customer opted out".to_owned()
                },
                retry_at
            )
            .await
            .expect("finishes")
    );
    let skipped = stored(queue, id).await;
    assert_eq!(skipped.status, JobStatus::Skipped);
    assert_eq!(
        skipped.last_error.as_deref(),
        Some("the customer opted out")
    );
    assert!(
        lease_one(queue, &kinds, retry_at + seconds(3600))
            .await
            .is_none()
    );

    let doomed = enqueue(
        queue,
        new_job(JobKind::MissedCallRecovery, "finish:dead", now),
    )
    .await;
    let leased = lease_one(queue, &kinds, now).await.expect("due");
    assert_eq!(leased.id, doomed);
    queue
        .finish(
            &leased,
            Finish::Dead {
                error: "invalid number".to_owned(),
            },
            now,
        )
        .await
        .expect("finishes");
    assert_eq!(stored(queue, doomed).await.status, JobStatus::Dead);
    let dead = queue.jobs(Some(JobStatus::Dead), 10).await.expect("lists");
    assert!(dead.iter().any(|job| job.id == doomed));
    assert!(dead.iter().all(|job| job.status == JobStatus::Dead));
}

async fn expired_leases_are_taken_over(queue: &dyn JobQueue) {
    let now = start() + seconds(300);
    let kinds = [JobKind::Transcription];
    let id = enqueue(queue, new_job(JobKind::Transcription, "expiry:1", now)).await;
    let crashed = lease_one(queue, &kinds, now).await.expect("due");
    let lease = chrono::Duration::from_std(LEASE).expect("fits");
    assert!(
        lease_one(queue, &kinds, now + lease).await.is_none(),
        "the lease holds until it ends"
    );
    let rescuer = lease_one(queue, &kinds, now + lease + seconds(1))
        .await
        .expect("an expired lease is taken over");
    assert_eq!(rescuer.id, id);
    assert_eq!(rescuer.attempts, 2);
    assert!(
        !queue
            .finish(&crashed, Finish::Succeeded, now + lease + seconds(2))
            .await
            .expect("finishes"),
        "the worker that lost its lease records nothing"
    );
    assert!(
        !queue
            .release(&crashed, now + lease + seconds(2))
            .await
            .expect("releases"),
        "nor releases the job"
    );
    assert_eq!(stored(queue, id).await.status, JobStatus::Running);
    assert!(
        queue
            .finish(&rescuer, Finish::Succeeded, now + lease + seconds(3))
            .await
            .expect("finishes")
    );
    assert_eq!(stored(queue, id).await.status, JobStatus::Succeeded);
}

async fn operators_retry_and_cancel(queue: &dyn JobQueue) {
    let now = start() + seconds(400);
    let kinds = [JobKind::AiFollowUp];
    let id = enqueue(queue, new_job(JobKind::AiFollowUp, "operator:1", now)).await;
    assert!(
        !queue.retry(id, now).await.expect("retries"),
        "a queued job needs no retry"
    );
    let leased = lease_one(queue, &kinds, now).await.expect("due");
    assert!(
        !queue.cancel(id, now).await.expect("cancels"),
        "a running job cannot be cancelled"
    );
    queue
        .finish(
            &leased,
            Finish::Dead {
                error: "bland refused".to_owned(),
            },
            now,
        )
        .await
        .expect("finishes");
    let later = now + seconds(600);
    assert!(queue.retry(id, later).await.expect("retries"));
    let revived = stored(queue, id).await;
    assert_eq!(
        (revived.status, revived.attempts, revived.run_at),
        (JobStatus::Queued, 0, later),
        "a retried job starts afresh, due now"
    );
    assert!(queue.cancel(id, later).await.expect("cancels"));
    assert_eq!(stored(queue, id).await.status, JobStatus::Cancelled);
    assert!(
        lease_one(queue, &kinds, later + seconds(3600))
            .await
            .is_none(),
        "a cancelled job never runs"
    );
    assert!(!queue.cancel(id, later).await.expect("cancels"));
    assert!(
        queue
            .retry(id, later)
            .await
            .expect("a cancelled job can be retried")
    );
    let leased = lease_one(queue, &kinds, later).await.expect("due");
    queue
        .finish(&leased, Finish::Succeeded, later)
        .await
        .expect("finishes");
    assert!(
        !queue.retry(id, later).await.expect("retries"),
        "a succeeded job is not run again"
    );
    assert!(!queue.retry(Uuid::nil(), later).await.expect("retries"));
    assert!(!queue.cancel(Uuid::nil(), later).await.expect("cancels"));

    let newest = queue.jobs(None, 2).await.expect("lists");
    assert_eq!(newest.len(), 2, "the limit holds");
    assert!(newest[0].created_at >= newest[1].created_at, "newest first");
}

async fn concurrent_workers_never_share_a_job(queue: Arc<dyn JobQueue>) {
    const JOBS: usize = 40;
    const WORKERS: usize = 4;
    let now = start() + seconds(500);
    for n in 0..JOBS {
        enqueue(
            queue.as_ref(),
            new_job(JobKind::Transcription, &format!("race:{n}"), now),
        )
        .await;
    }
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..WORKERS {
        let queue = queue.clone();
        workers.spawn(async move {
            let mut taken = Vec::new();
            while let Some(job) = queue
                .lease(&[JobKind::Transcription], now, LEASE, 1)
                .await
                .expect("leases")
                .pop()
            {
                assert!(
                    queue
                        .finish(&job, Finish::Succeeded, now)
                        .await
                        .expect("finishes"),
                    "a leased job is finished by its worker"
                );
                taken.push(job.id);
                tokio::task::yield_now().await;
            }
            taken
        });
    }
    let mut runs: BTreeMap<Uuid, usize> = BTreeMap::new();
    while let Some(taken) = workers.join_next().await {
        for id in taken.expect("worker joins") {
            *runs.entry(id).or_default() += 1;
        }
    }
    assert_eq!(runs.len(), JOBS, "every job ran");
    assert!(
        runs.values().all(|count| *count == 1),
        "no job ran twice: {runs:?}"
    );
}
