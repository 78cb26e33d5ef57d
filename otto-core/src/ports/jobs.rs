//! The durable job queue.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::jobs::{Enqueued, Finish, Job, JobKind, JobStatus, NewJob};
use crate::tenancy::TenantScope;

/// Durable background jobs: enqueued once per unique key, leased by one worker at a
/// time, retried until they succeed, are skipped, or die.
///
/// Leases are fenced by the attempt number: leasing increments `attempts`, and
/// [`JobQueue::finish`] and [`JobQueue::release`] apply only while the job is still
/// running under that attempt, so a worker whose lease expired (and whose job another
/// worker took over) changes nothing.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use std::time::Duration;
/// use otto_core::jobs::{Enqueued, Finish, JobKind, NewJob};
/// use otto_core::ports::{Clock, JobQueue};
/// use otto_testkit::{InMemoryStore, ManualClock};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let queue = InMemoryStore::default();
/// let clock = ManualClock::at("2026-12-06T03:00:00Z");
/// let job = NewJob {
///     kind: JobKind::WebhookPurge,
///     tenant_id: None,
///     unique_key: "webhook_purge:2026-12-06".into(),
///     payload: serde_json::json!({}),
///     run_at: clock.now(),
///     trace_context: None,
/// };
/// let id = queue.enqueue(job.clone(), clock.now()).await?.id();
/// // Enqueuing the key again finds the job: one job per key.
/// assert_eq!(queue.enqueue(job, clock.now()).await?, Enqueued::Existing(id));
///
/// let (kinds, lease) = ([JobKind::WebhookPurge], Duration::from_secs(60));
/// let stalled = queue.lease(&kinds, clock.now(), lease, 10).await?;
/// // The lease runs out and another worker takes the job over: the first is fenced off.
/// clock.advance(Duration::from_secs(61));
/// let taken_over = queue.lease(&kinds, clock.now(), lease, 10).await?;
/// assert!(!queue.finish(&stalled[0], Finish::Succeeded, clock.now()).await?);
/// assert!(queue.finish(&taken_over[0], Finish::Succeeded, clock.now()).await?);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Adds `job`, or finds the job that already has its unique key.
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, StoreError>;

    /// Leases up to `limit` jobs of `kinds` that are due at `now` (queued with
    /// `run_at <= now`, or running with an expired lease), oldest `run_at` first, each
    /// until `now + lease_for`. Concurrent callers never lease the same job.
    async fn lease(
        &self,
        kinds: &[JobKind],
        now: DateTime<Utc>,
        lease_for: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError>;

    /// Ends the attempt of `leased` as `finish`; `false` if the lease was lost.
    async fn finish(
        &self,
        leased: &Job,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Gives `leased` back unrun (a worker shutting down), without counting the
    /// attempt; `false` if the lease was lost.
    async fn release(&self, leased: &Job, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// The job `id`, whichever tenant's (workers and operators).
    async fn job(&self, id: Uuid) -> Result<Option<Job>, StoreError>;

    /// The job `id` if it is `scope`'s tenant's: another tenant's job, or one of no
    /// tenant, is as absent as a job that does not exist. (On PostgreSQL row-level
    /// security decides it, not only the query.)
    async fn tenant_job(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Job>, StoreError>;

    /// Up to `limit` jobs, of `status` if given, newest first.
    async fn jobs(&self, status: Option<JobStatus>, limit: u32) -> Result<Vec<Job>, StoreError>;

    /// Queues an ended job (dead, skipped or cancelled) again with a fresh count of
    /// attempts; `false` if it is not in such a state.
    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Cancels a queued job; `false` if it is not queued.
    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Deletes up to `limit` jobs that ended (succeeded, skipped or cancelled) before
    /// `before`, and returns how many. Dead jobs stay until an operator acts.
    async fn purge_finished(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError>;

    /// When the longest-waiting queued job became due (its `run_at`), among those due
    /// at `now`; `None` when none waits. How far behind the workers are.
    async fn oldest_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError>;
}
