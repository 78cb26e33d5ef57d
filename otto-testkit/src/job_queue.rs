//! The in-memory [`JobQueue`]: the same rules as the SQL adapters (unique keys,
//! fenced leases, expired leases taken over), checked by the same contract suite.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use otto_core::jobs::{Enqueued, Finish, Job, JobKind, JobStatus, NewJob};
use otto_core::live;
use otto_core::ports::{JobQueue, StoreError};
use uuid::Uuid;

use crate::InMemoryStore;

/// The fake's jobs, by id.
#[derive(Debug, Default)]
pub(crate) struct JobTables {
    jobs: BTreeMap<Uuid, Job>,
}

impl JobTables {
    /// Adds `job` as `id` unless its unique key exists.
    pub(crate) fn enqueue(&mut self, job: NewJob, id: Uuid, now: DateTime<Utc>) -> Enqueued {
        if let Some(existing) = self
            .jobs
            .values()
            .find(|stored| stored.unique_key == job.unique_key)
        {
            return Enqueued::Existing(existing.id);
        }
        let now = now.trunc_subsecs(6);
        self.jobs.insert(
            id,
            Job {
                id,
                kind: job.kind.as_str().to_owned(),
                tenant_id: job.tenant_id,
                unique_key: job.unique_key,
                payload: job.payload,
                status: JobStatus::Queued,
                attempts: 0,
                run_at: job.run_at.trunc_subsecs(6),
                lease_until: None,
                last_error: None,
                trace_context: job.trace_context,
                created_at: now,
                updated_at: now,
            },
        );
        Enqueued::Created(id)
    }

    /// The job `leased` if it is still running under the same attempt.
    fn held(&mut self, leased: &Job) -> Option<&mut Job> {
        self.jobs
            .get_mut(&leased.id)
            .filter(|job| job.status == JobStatus::Running && job.attempts == leased.attempts)
    }
}

fn after(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX)
}

impl InMemoryStore {
    /// Every job, in the order they were enqueued.
    pub fn jobs(&self) -> Vec<Job> {
        let mut jobs: Vec<Job> = self.tables().jobs.jobs.values().cloned().collect();
        jobs.sort_by_key(|job| (job.created_at, job.id));
        jobs
    }
}

#[async_trait]
impl JobQueue for InMemoryStore {
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, StoreError> {
        let id = self.ids.new_id();
        let mut tables = self.tables();
        let event = live::job_queued(id, &job);
        let tenant = job.tenant_id.clone();
        let enqueued = tables.jobs.enqueue(job, id, now);
        if let (Enqueued::Created(_), Some(tenant)) = (enqueued, tenant) {
            self.publish_in(&mut tables, &tenant, event.into_iter().collect());
        }
        Ok(enqueued)
    }

    async fn lease(
        &self,
        kinds: &[JobKind],
        now: DateTime<Utc>,
        lease_for: Duration,
        limit: u32,
    ) -> Result<Vec<Job>, StoreError> {
        let now = now.trunc_subsecs(6);
        let names: Vec<&str> = kinds.iter().map(|kind| kind.as_str()).collect();
        let mut tables = self.tables();
        let mut due: Vec<(DateTime<Utc>, Uuid)> = tables
            .jobs
            .jobs
            .values()
            .filter(|job| names.contains(&job.kind.as_str()))
            .filter(|job| match job.status {
                JobStatus::Queued => job.run_at <= now,
                JobStatus::Running => job.lease_until.is_some_and(|until| until < now),
                _ => false,
            })
            .map(|job| (job.run_at, job.id))
            .collect();
        due.sort();
        let lease_until = after(now, lease_for).trunc_subsecs(6);
        let mut leased = Vec::new();
        for (_, id) in due.into_iter().take(limit as usize) {
            if let Some(job) = tables.jobs.jobs.get_mut(&id) {
                job.status = JobStatus::Running;
                job.attempts += 1;
                job.lease_until = Some(lease_until);
                job.updated_at = now;
                leased.push(job.clone());
            }
        }
        Ok(leased)
    }

    async fn finish(
        &self,
        leased: &Job,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        let Some(job) = tables.jobs.held(leased) else {
            return Ok(false);
        };
        job.status = finish.status();
        job.lease_until = None;
        job.updated_at = now.trunc_subsecs(6);
        if let Some(message) = finish.message() {
            job.last_error = Some(otto_core::validation::without_nul(message.to_owned()));
        }
        if let Some(at) = finish.next_run() {
            job.run_at = at.trunc_subsecs(6);
        }
        let (id, kind, tenant) = (job.id, job.kind.clone(), job.tenant_id.clone());
        if let (Some(tenant), Some(event)) = (tenant, live::job_finished(id, &kind, &finish)) {
            self.publish_in(&mut tables, &tenant, vec![event]);
        }
        Ok(true)
    }

    async fn release(&self, leased: &Job, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        let Some(job) = tables.jobs.held(leased) else {
            return Ok(false);
        };
        job.status = JobStatus::Queued;
        job.attempts -= 1;
        job.lease_until = None;
        job.updated_at = now.trunc_subsecs(6);
        Ok(true)
    }

    async fn job(&self, id: Uuid) -> Result<Option<Job>, StoreError> {
        Ok(self.tables().jobs.jobs.get(&id).cloned())
    }

    async fn tenant_job(
        &self,
        scope: &otto_core::tenancy::TenantScope,
        id: Uuid,
    ) -> Result<Option<Job>, StoreError> {
        Ok(self
            .tables()
            .jobs
            .jobs
            .get(&id)
            .filter(|job| job.tenant_id.as_ref() == Some(scope.tenant_id()))
            .cloned())
    }

    async fn jobs(&self, status: Option<JobStatus>, limit: u32) -> Result<Vec<Job>, StoreError> {
        let mut jobs: Vec<Job> = self
            .tables()
            .jobs
            .jobs
            .values()
            .filter(|job| status.is_none_or(|status| job.status == status))
            .cloned()
            .collect();
        jobs.sort_by_key(|job| std::cmp::Reverse((job.created_at, job.id)));
        jobs.truncate(limit as usize);
        Ok(jobs)
    }

    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = now.trunc_subsecs(6);
        let mut tables = self.tables();
        match tables.jobs.jobs.get_mut(&id) {
            Some(job) if job.status.is_final() && job.status != JobStatus::Succeeded => {
                job.status = JobStatus::Queued;
                job.attempts = 0;
                job.run_at = now;
                job.updated_at = now;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        match tables.jobs.jobs.get_mut(&id) {
            Some(job) if job.status == JobStatus::Queued => {
                job.status = JobStatus::Cancelled;
                job.updated_at = now.trunc_subsecs(6);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn purge_finished(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let mut tables = self.tables();
        let ended: Vec<Uuid> = tables
            .jobs
            .jobs
            .values()
            .filter(|job| JobStatus::ENDED.contains(&job.status) && job.updated_at < before)
            .map(|job| job.id)
            .take(limit as usize)
            .collect();
        for id in &ended {
            tables.jobs.jobs.remove(id);
        }
        Ok(ended.len() as u64)
    }

    async fn oldest_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .tables()
            .jobs
            .jobs
            .values()
            .filter(|job| job.status == JobStatus::Queued && job.run_at <= now)
            .map(|job| job.run_at)
            .min())
    }
}
