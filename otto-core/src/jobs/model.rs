//! Jobs as the queue stores them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use super::JobKind;
use crate::tenancy::TenantId;

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting for its run time or a worker.
    Queued,
    /// Leased by a worker until its lease ends.
    Running,
    /// Done.
    Succeeded,
    /// Ended without doing its work, for a stated reason (a provider that is not
    /// configured, a customer who opted out).
    Skipped,
    /// Failed on every allowed attempt, or failed permanently; `jobs retry` revives it.
    Dead,
    /// Cancelled by an operator before it ran.
    Cancelled,
}

impl JobStatus {
    /// The statuses of jobs that ended and need nothing more: kept for a retention
    /// period, then purged. (`Dead` is not one: it waits for an operator.)
    pub const ENDED: [JobStatus; 3] = [
        JobStatus::Succeeded,
        JobStatus::Skipped,
        JobStatus::Cancelled,
    ];

    /// Every status.
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Skipped,
        JobStatus::Dead,
        JobStatus::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Skipped => "skipped",
            JobStatus::Dead => "dead",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// The status stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// Whether the job has ended (only an operator's retry starts it again).
    pub fn is_final(self) -> bool {
        !matches!(self, JobStatus::Queued | JobStatus::Running)
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// What to do.
    pub kind: JobKind,
    /// The tenant it works for; `None` for platform work (the purge).
    pub tenant_id: Option<TenantId>,
    /// Enqueuing a key that exists yields the existing job, never a second one.
    pub unique_key: String,
    /// The job's input.
    pub payload: Value,
    /// When it may run first.
    pub run_at: DateTime<Utc>,
    /// The W3C `traceparent` of the request that caused it, so that the worker's span
    /// continues that trace.
    pub trace_context: Option<String>,
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Its id.
    pub id: Uuid,
    /// The stored kind name (a kind unknown to this release is kept as text).
    pub kind: String,
    /// The tenant it works for; `None` for platform work.
    pub tenant_id: Option<TenantId>,
    /// Its unique key.
    pub unique_key: String,
    /// Its input.
    pub payload: Value,
    /// Where it is in its life.
    pub status: JobStatus,
    /// How many times it was leased. The current lease's attempt number: a worker
    /// whose lease expired cannot finish the job that another worker holds now.
    pub attempts: u32,
    /// When it may run next.
    pub run_at: DateTime<Utc>,
    /// While running: when its lease ends and another worker may take it.
    pub lease_until: Option<DateTime<Utc>>,
    /// Why its last attempt failed or was skipped.
    pub last_error: Option<String>,
    /// The W3C `traceparent` of the request that enqueued it.
    pub trace_context: Option<String>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Job {
    /// Its kind, if this release knows it.
    pub fn job_kind(&self) -> Option<JobKind> {
        JobKind::parse(&self.kind)
    }
}

/// What enqueuing did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job.
    Created(Uuid),
    /// A job with the key existed; nothing was added.
    Existing(Uuid),
}

impl Enqueued {
    /// The job's id, new or existing.
    pub fn id(self) -> Uuid {
        match self {
            Enqueued::Created(id) | Enqueued::Existing(id) => id,
        }
    }
}

/// How a leased job ends its attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// It did its work.
    Succeeded,
    /// It ended without doing its work, for `reason`.
    Skipped {
        /// Why.
        reason: String,
    },
    /// It failed and runs again at `at`.
    RetryAt {
        /// The next run time.
        at: DateTime<Utc>,
        /// Why it failed.
        error: String,
    },
    /// It failed for good.
    Dead {
        /// Why.
        error: String,
    },
}

impl Finish {
    /// The status the job is left in.
    pub fn status(&self) -> JobStatus {
        match self {
            Finish::Succeeded => JobStatus::Succeeded,
            Finish::Skipped { .. } => JobStatus::Skipped,
            Finish::RetryAt { .. } => JobStatus::Queued,
            Finish::Dead { .. } => JobStatus::Dead,
        }
    }

    /// The reason or error to record, if any.
    pub fn message(&self) -> Option<&str> {
        match self {
            Finish::Succeeded => None,
            Finish::Skipped { reason } => Some(reason),
            Finish::RetryAt { error, .. } | Finish::Dead { error } => Some(error),
        }
    }

    /// When the job runs again, if it does.
    pub fn next_run(&self) -> Option<DateTime<Utc>> {
        match self {
            Finish::RetryAt { at, .. } => Some(*at),
            _ => None,
        }
    }
}
