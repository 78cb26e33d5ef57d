//! The job queue over SQL. PostgreSQL leases with `FOR UPDATE SKIP LOCKED`, so
//! concurrent workers take different jobs without waiting on each other; SQLite runs
//! the same single `UPDATE ... RETURNING`, which its write lock serialises.
//!
//! `jobs` is under row-level security like every tenant table (forced, migration
//! 10): a tenant's job is enqueued and read in that tenant's scope, and the
//! cross-tenant work of workers and operators (leasing, finishing, listing, purging,
//! jobs of no tenant) runs in the platform scope, the one defined path across tenants.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::jobs::{Enqueued, Finish, Job, JobKind, JobStatus, NewJob};
use otto_core::live;
use otto_core::ports::{JobQueue, StoreError};
use otto_core::tenancy::{TenantId, TenantScope};
use sea_orm::{DatabaseBackend, DatabaseTransaction, QueryResult, Value};
use uuid::Uuid;

use super::sql::column;
use super::{SqlStore, sql, store_error, stored_time};

const COLUMNS: &str = "id, tenant_id, kind, unique_key, payload, status, attempts, run_at, \
                       lease_until, last_error, trace_context, created_at, updated_at";

/// Inserts `job` as `id` unless its unique key exists; the id of the job that holds
/// the key either way. Also used by the webhook outbox inside its transaction.
pub(super) async fn insert_job(
    transaction: &DatabaseTransaction,
    id: Uuid,
    job: &NewJob,
    now: DateTime<Utc>,
) -> Result<Enqueued, StoreError> {
    let inserted = sql::query(
        transaction,
        "INSERT INTO jobs (id, tenant_id, kind, unique_key, payload, status, attempts, run_at, \
         trace_context, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'queued', 0, $6, $7, $8, $8) \
         ON CONFLICT (unique_key) DO NOTHING RETURNING id",
        vec![
            id.into(),
            job.tenant_id
                .as_ref()
                .map(|tenant| tenant.as_str().to_owned())
                .into(),
            job.kind.as_str().into(),
            job.unique_key.clone().into(),
            job.payload.to_string().into(),
            stored_time(job.run_at).into(),
            job.trace_context.clone().into(),
            stored_time(now).into(),
        ],
    )
    .await?;
    if !inserted.is_empty() {
        return Ok(Enqueued::Created(id));
    }
    let existing = sql::query(
        transaction,
        "SELECT id FROM jobs WHERE unique_key = $1",
        vec![job.unique_key.clone().into()],
    )
    .await?;
    let row = existing.first().ok_or_else(|| {
        StoreError::Internal(format!(
            "job key `{}` conflicted but is absent",
            job.unique_key
        ))
    })?;
    Ok(Enqueued::Existing(column(row, "id")?))
}

fn job_of(row: &QueryResult) -> Result<Job, StoreError> {
    let tenant: Option<String> = column(row, "tenant_id")?;
    let status: String = column(row, "status")?;
    let payload: String = column(row, "payload")?;
    let attempts: i32 = column(row, "attempts")?;
    Ok(Job {
        id: column(row, "id")?,
        kind: column(row, "kind")?,
        tenant_id: tenant
            .map(|tenant| TenantId::parse(&tenant))
            .transpose()
            .map_err(|error| StoreError::Internal(format!("stored job tenant: {error}")))?,
        unique_key: column(row, "unique_key")?,
        payload: serde_json::from_str(&payload)
            .map_err(|error| StoreError::Internal(format!("stored job payload: {error}")))?,
        status: JobStatus::parse(&status)
            .ok_or_else(|| StoreError::Internal(format!("unknown job status `{status}`")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        run_at: column(row, "run_at")?,
        lease_until: column(row, "lease_until")?,
        last_error: column(row, "last_error")?,
        trace_context: column(row, "trace_context")?,
        created_at: column(row, "created_at")?,
        updated_at: column(row, "updated_at")?,
    })
}

fn attempt_of(job: &Job) -> Value {
    i32::try_from(job.attempts).unwrap_or(i32::MAX).into()
}

impl SqlStore {
    /// Runs one cross-tenant queue statement in its own platform transaction.
    async fn queue_query(
        &self,
        statement: &str,
        values: Vec<Value>,
    ) -> Result<Vec<QueryResult>, StoreError> {
        let transaction = self.begin_platform().await?;
        let rows = sql::query(&transaction, statement, values).await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(rows)
    }

    async fn queue_execute(&self, statement: &str, values: Vec<Value>) -> Result<bool, StoreError> {
        let transaction = self.begin_platform().await?;
        let changed = sql::execute(&transaction, statement, values).await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(changed > 0)
    }
}

/// The statement that leases up to `limit` due jobs of `kinds` at `now` for
/// `lease_for` (in the platform scope).
pub(super) fn lease_query(
    backend: DatabaseBackend,
    kinds: &[JobKind],
    now: DateTime<Utc>,
    lease_for: Duration,
    limit: u32,
) -> (String, Vec<Value>) {
    let kind_params: Vec<String> = (0..kinds.len()).map(|n| format!("${}", n + 4)).collect();
    let locking = if backend == DatabaseBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    // Queued jobs and expired leases are looked up apart, each in `jobs_due` order,
    // so a lease reads `limit` index entries per branch. One OR-ed condition made
    // PostgreSQL sort every due job on each lease: O(backlog) per job, which is
    // exactly when throughput matters.
    let statement = format!(
        "WITH queued AS (SELECT id, run_at FROM jobs \
             WHERE status = 'queued' AND run_at <= $1 AND kind IN ({kinds}) \
             ORDER BY run_at, id LIMIT $3{locking}), \
             expired AS (SELECT id, run_at FROM jobs \
             WHERE status = 'running' AND lease_until < $1 AND kind IN ({kinds}) \
             ORDER BY run_at, id LIMIT $3{locking}) \
             UPDATE jobs SET status = 'running', attempts = attempts + 1, lease_until = $2, \
             updated_at = $1 \
             WHERE id IN (SELECT id FROM (SELECT id, run_at FROM queued \
             UNION ALL SELECT id, run_at FROM expired) due ORDER BY run_at, id LIMIT $3) \
             RETURNING {COLUMNS}",
        kinds = kind_params.join(", "),
    );
    let lease_until = now + chrono::Duration::from_std(lease_for).unwrap_or(chrono::Duration::MAX);
    let mut values: Vec<Value> = vec![
        stored_time(now).into(),
        stored_time(lease_until).into(),
        i64::from(limit).into(),
    ];
    values.extend(kinds.iter().map(|kind| Value::from(kind.as_str())));
    (statement, values)
}

#[async_trait]
impl JobQueue for SqlStore {
    async fn enqueue(&self, job: NewJob, now: DateTime<Utc>) -> Result<Enqueued, StoreError> {
        let transaction = match &job.tenant_id {
            Some(tenant) => self.begin(&TenantScope::for_job(tenant.clone())).await?,
            None => self.begin_platform().await?,
        };
        let enqueued = insert_job(&transaction, self.new_id(), &job, now).await?;
        match (&job.tenant_id, enqueued) {
            (Some(tenant), Enqueued::Created(id)) => {
                let events: Vec<_> = live::job_queued(id, &job).into_iter().collect();
                self.commit_with_events(transaction, tenant, &events)
                    .await?;
            }
            _ => transaction.commit().await.map_err(store_error)?,
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
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (statement, values) =
            lease_query(self.db.get_database_backend(), kinds, now, lease_for, limit);
        let rows = self.queue_query(&statement, values).await?;
        let mut jobs = rows.iter().map(job_of).collect::<Result<Vec<_>, _>>()?;
        jobs.sort_by_key(|job| (job.run_at, job.id));
        Ok(jobs)
    }

    async fn finish(
        &self,
        leased: &Job,
        finish: Finish,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let transaction = self.begin_platform().await?;
        let finished = sql::execute(
            &transaction,
            "UPDATE jobs SET status = $1, lease_until = NULL, updated_at = $2, \
             last_error = COALESCE($3, last_error), run_at = COALESCE($4, run_at) \
             WHERE id = $5 AND status = 'running' AND attempts = $6",
            vec![
                finish.status().as_str().into(),
                stored_time(now).into(),
                // A message may quote a provider's answer: stored without NULs.
                finish
                    .message()
                    .map(|message| otto_core::validation::without_nul(message.to_owned()))
                    .into(),
                finish.next_run().map(stored_time).into(),
                leased.id.into(),
                attempt_of(leased),
            ],
        )
        .await?
            > 0;
        let event = live::job_finished(leased.id, &leased.kind, &finish);
        match (&leased.tenant_id, event) {
            (Some(tenant), Some(event)) if finished => {
                self.commit_with_events(transaction, tenant, &[event])
                    .await?;
            }
            _ => transaction.commit().await.map_err(store_error)?,
        }
        Ok(finished)
    }

    async fn release(&self, leased: &Job, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.queue_execute(
            "UPDATE jobs SET status = 'queued', attempts = attempts - 1, lease_until = NULL, \
             updated_at = $1 WHERE id = $2 AND status = 'running' AND attempts = $3",
            vec![
                stored_time(now).into(),
                leased.id.into(),
                attempt_of(leased),
            ],
        )
        .await
    }

    async fn job(&self, id: Uuid) -> Result<Option<Job>, StoreError> {
        let rows = self
            .queue_query(
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"),
                vec![id.into()],
            )
            .await?;
        rows.first().map(job_of).transpose()
    }

    async fn tenant_job(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Job>, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                &format!("SELECT {COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2"),
                vec![id.into(), scope.tenant_id().as_str().into()],
            )
            .await?;
        rows.first().map(job_of).transpose()
    }

    async fn jobs(&self, status: Option<JobStatus>, limit: u32) -> Result<Vec<Job>, StoreError> {
        let rows = match status {
            Some(status) => {
                self.queue_query(
                    &format!(
                        "SELECT {COLUMNS} FROM jobs WHERE status = $1 \
                         ORDER BY created_at DESC, id DESC LIMIT $2"
                    ),
                    vec![status.as_str().into(), i64::from(limit).into()],
                )
                .await?
            }
            None => {
                self.queue_query(
                    &format!(
                        "SELECT {COLUMNS} FROM jobs ORDER BY created_at DESC, id DESC LIMIT $1"
                    ),
                    vec![i64::from(limit).into()],
                )
                .await?
            }
        };
        rows.iter().map(job_of).collect()
    }

    async fn retry(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.queue_execute(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $1 \
             WHERE id = $2 AND status IN ('dead', 'skipped', 'cancelled')",
            vec![stored_time(now).into(), id.into()],
        )
        .await
    }

    async fn cancel(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        self.queue_execute(
            "UPDATE jobs SET status = 'cancelled', updated_at = $1 \
             WHERE id = $2 AND status = 'queued'",
            vec![stored_time(now).into(), id.into()],
        )
        .await
    }

    async fn purge_finished(&self, before: DateTime<Utc>, limit: u32) -> Result<u64, StoreError> {
        let mut values: Vec<Value> = JobStatus::ENDED
            .iter()
            .map(|status| Value::from(status.as_str()))
            .collect();
        values.push(stored_time(before).into());
        values.push(i64::from(limit).into());
        let transaction = self.begin_platform().await?;
        // A bounded batch per statement: no long lock, and a retry resumes.
        let deleted = sql::execute(
            &transaction,
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
             WHERE status IN ($1, $2, $3) AND updated_at < $4 LIMIT $5)",
            values,
        )
        .await?;
        transaction.commit().await.map_err(store_error)?;
        Ok(deleted)
    }

    async fn oldest_due(&self, now: DateTime<Utc>) -> Result<Option<DateTime<Utc>>, StoreError> {
        // The first entry of the lease index, `(status, run_at, id)`.
        let rows = self
            .queue_query(
                "SELECT run_at FROM jobs WHERE status = 'queued' AND run_at <= $1 \
                 ORDER BY run_at LIMIT 1",
                vec![stored_time(now).into()],
            )
            .await?;
        rows.first().map(|row| column(row, "run_at")).transpose()
    }
}
