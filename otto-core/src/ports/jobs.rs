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
