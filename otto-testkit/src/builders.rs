//! Builders of domain values that tests need often.

use chrono::{DateTime, Utc};
use otto_core::jobs::{Job, JobKind, JobStatus};
use otto_core::tenancy::TenantId;
use serde_json::Value;

/// A job of `kind` for `tenant`, leased (first attempt) at `now`, keyed like the
/// webhook outbox keys it (`kind:tenant:subject`).
pub fn running_job(
    kind: JobKind,
    tenant: &TenantId,
    subject: &str,
    payload: Value,
    now: DateTime<Utc>,
) -> Job {
    Job {
        id: uuid::Uuid::from_u128(u128::from(subject.len() as u64) + 1),
        kind: kind.as_str().to_owned(),
        tenant_id: Some(tenant.clone()),
        unique_key: format!("{kind}:{tenant}:{subject}"),
        payload,
        status: JobStatus::Running,
        attempts: 1,
        run_at: now,
        lease_until: None,
        last_error: None,
        trace_context: None,
        created_at: now,
        updated_at: now,
    }
}
