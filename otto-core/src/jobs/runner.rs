//! Running leased jobs: dispatch to the handler of their kind, then record the
//! outcome with the retry policy applied.

use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{Finish, Job, JobKind, RetryPolicy};
use crate::ports::{Clock, JobQueue, ProviderError, StoreError};

/// What a handler reports for one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The work is done.
    Succeeded,
    /// The work will not be done, for this reason (not a failure: no retry).
    Skipped(String),
    /// A transient failure (a provider's 5xx, a timeout): retry with backoff.
    Retry(String),
    /// A permanent failure (invalid payload, a provider's 4xx): dead now.
    Fail(String),
    /// Not yet (quiet hours, a delay after the call): run again at `until`. The
    /// attempt still counts, so a job cannot be deferred forever.
    Defer {
        /// When to run again.
        until: DateTime<Utc>,
        /// Why it waits.
        reason: String,
    },
}

/// A store failure is passing (the database restarts, a pool is exhausted): the
/// attempt is retried.
impl From<StoreError> for JobOutcome {
    fn from(error: StoreError) -> Self {
        JobOutcome::Retry(format!("storage: {error}"))
    }
}

/// A provider failure: skipped when the provider is not configured, retried when
/// transient, failed for good when the provider refused.
impl From<ProviderError> for JobOutcome {
    fn from(error: ProviderError) -> Self {
        match error {
            ProviderError::NotConfigured(_) => JobOutcome::Skipped(error.to_string()),
            ProviderError::Transient { .. } => JobOutcome::Retry(error.to_string()),
            ProviderError::Permanent { .. } => JobOutcome::Fail(error.to_string()),
        }
    }
}

/// Does the work of one kind of job. Handlers must be idempotent: a job whose worker
/// died after the work but before recording it runs again.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs one attempt of `job`.
    async fn handle(&self, job: &Job) -> JobOutcome;
}

/// The record of one executed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The job as it was leased.
    pub job: Job,
    /// How the attempt ended.
    pub finish: Finish,
    /// `false` if the lease had been lost, so the outcome was not recorded.
    pub recorded: bool,
}

/// Leases, runs and records jobs for a set of handlers.
#[derive(Clone)]
pub struct JobRunner {
    queue: Arc<dyn JobQueue>,
    handlers: BTreeMap<JobKind, Arc<dyn JobHandler>>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    lease_for: Duration,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner")
            .field("kinds", &self.kinds())
            .field("policy", &self.policy)
            .field("lease_for", &self.lease_for)
            .finish_non_exhaustive()
    }
}

impl JobRunner {
    /// A runner with no handlers yet; jobs are leased for `lease_for`.
    pub fn new(
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        policy: RetryPolicy,
        lease_for: Duration,
    ) -> Self {
        JobRunner {
            queue,
            handlers: BTreeMap::new(),
            clock,
            policy,
            lease_for,
        }
    }

    /// Adds the handler of `kind`.
    #[must_use]
    pub fn with_handler(mut self, kind: JobKind, handler: Arc<dyn JobHandler>) -> Self {
        self.handlers.insert(kind, handler);
        self
    }

    /// The kinds this runner leases.
    pub fn kinds(&self) -> Vec<JobKind> {
        self.handlers.keys().copied().collect()
    }

    /// The queue it works on.
    pub fn queue(&self) -> &Arc<dyn JobQueue> {
        &self.queue
    }

    /// Leases up to `limit` due jobs of this runner's kinds.
    pub async fn lease(&self, limit: u32) -> Result<Vec<Job>, StoreError> {
        if self.handlers.is_empty() {
            return Ok(Vec::new());
        }
        self.queue
            .lease(&self.kinds(), self.clock.now(), self.lease_for, limit)
            .await
    }

    /// The finish of attempt `job.attempts` that ended with `outcome`.
    pub fn decide(&self, job: &Job, outcome: JobOutcome) -> Finish {
        match outcome {
            JobOutcome::Succeeded => Finish::Succeeded,
            JobOutcome::Skipped(reason) => Finish::Skipped { reason },
            JobOutcome::Fail(error) => Finish::Dead { error },
            JobOutcome::Defer { until, reason } => Finish::RetryAt {
                at: until,
                error: reason,
            },
            JobOutcome::Retry(error) if self.policy.allows_another(job.attempts) => {
                let delay = self.policy.delay(job.id, job.attempts);
                Finish::RetryAt {
                    at: self.clock.now()
                        + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                    error,
                }
            }
            JobOutcome::Retry(error) => Finish::Dead {
                error: format!("{error} (after {} attempts)", job.attempts),
            },
        }
    }

    /// Runs one attempt of the leased `job` and records its outcome.
    pub async fn execute(&self, job: Job) -> Result<Executed, StoreError> {
        let finish = match job.job_kind().and_then(|kind| self.handlers.get(&kind)) {
            // A job whose leases kept expiring (its worker died each time) has used
            // its attempts without ever reporting: stop it rather than loop forever.
            Some(_) if job.attempts > self.policy.max_attempts => Finish::Dead {
                error: format!(
                    "abandoned: its lease expired on each of {} attempts",
                    self.policy.max_attempts
                ),
            },
            Some(handler) => {
                let outcome = handler.handle(&job).await;
                self.decide(&job, outcome)
            }
            None => Finish::Dead {
                error: format!("no handler for job kind `{}`", job.kind),
            },
        };
        let recorded = self
            .queue
            .finish(&job, finish.clone(), self.clock.now())
            .await?;
        Ok(Executed {
            job,
            finish,
            recorded,
        })
    }

    /// Gives a leased job back unrun (shutdown).
    pub async fn release(&self, job: &Job) -> Result<bool, StoreError> {
        self.queue.release(job, self.clock.now()).await
    }

    /// Leases and executes one due job, if there is one.
    pub async fn run_next(&self) -> Result<Option<Executed>, StoreError> {
        match self.lease(1).await?.into_iter().next() {
            Some(job) => Ok(Some(self.execute(job).await?)),
            None => Ok(None),
        }
    }
}
