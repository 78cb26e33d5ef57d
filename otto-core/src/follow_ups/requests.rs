//! Follow-ups that users ask for: a text or an AI call to a call's customer, as a job
//! (so it is retried, never doubled, and visible), and the status of such jobs.

use std::sync::Arc;

use serde_json::json;
use uuid::Uuid;

use crate::call_log::may_see;
use crate::jobs::{Enqueued, Job, JobKind, NewJob};
use crate::ports::{CallRepository, Clock, JobQueue, StoreError};
use crate::roles::RoleMap;
use crate::tenancy::{Principal, TenantScope};

/// Why a follow-up could not be asked for or read.
#[derive(Debug, thiserror::Error)]
pub enum FollowUpRequestError {
    /// No such call or job in the caller's tenant.
    #[error("not found")]
    NotFound,
    /// The call has no customer number to reach.
    #[error("the call has no customer number")]
    NoCustomerNumber,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A follow-up users can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowUpKind {
    /// A text message with the company's template.
    Sms,
    /// An AI phone call.
    AiCall,
}

/// The follow-up request service.
#[derive(Clone)]
pub struct FollowUpRequests {
    calls: Arc<dyn CallRepository>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    roles: RoleMap,
}

impl std::fmt::Debug for FollowUpRequests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowUpRequests").finish_non_exhaustive()
    }
}

impl FollowUpRequests {
    /// Requests over `calls` and `queue`, guarded by `roles`.
    pub fn new(
        calls: Arc<dyn CallRepository>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        roles: RoleMap,
    ) -> Self {
        FollowUpRequests {
            calls,
            queue,
            clock,
            roles,
        }
    }

    /// Enqueues a follow-up of `kind` for the caller's call `call_id`: one per call
    /// and kind, so asking again returns the same job.
    pub async fn request(
        &self,
        principal: &Principal,
        call_id: Uuid,
        kind: FollowUpKind,
        trace_context: Option<String>,
    ) -> Result<Enqueued, FollowUpRequestError> {
        // Every role may ask, on the calls it may see (a rep on the calls assigned
        // to them); another call is as absent as one that does not exist.
        let role = self.roles.role_of(&principal.role);
        let scope = TenantScope::of(principal);
        let call = self
            .calls
            .get(&scope, call_id)
            .await?
            .filter(|call| may_see(role, principal, call))
            .ok_or(FollowUpRequestError::NotFound)?;
        if call.customer_number.is_none() {
            return Err(FollowUpRequestError::NoCustomerNumber);
        }
        let job_kind = match kind {
            FollowUpKind::Sms => JobKind::MissedCallRecovery,
            FollowUpKind::AiCall => JobKind::AiFollowUp,
        };
        let now = self.clock.now();
        let job = NewJob {
            kind: job_kind,
            tenant_id: Some(principal.tenant_id.clone()),
            unique_key: format!("{job_kind}:{}:requested:{}", principal.tenant_id, call.id),
            payload: json!({
                "provider": call.provider,
                "call_external_id": call.external_id,
                "requested_by": principal.user_id.as_str(),
            }),
            run_at: now,
            trace_context,
        };
        Ok(self.queue.enqueue(job, now).await?)
    }

    /// The caller's tenant's job `id`; every role may read its company's jobs.
    pub async fn job(&self, principal: &Principal, id: Uuid) -> Result<Job, FollowUpRequestError> {
        // Another tenant's job is as absent as a job that does not exist: the store
        // is asked in the caller's scope, and the tenant is checked once more here.
        match self
            .queue
            .tenant_job(&TenantScope::of(principal), id)
            .await?
        {
            Some(job) if job.tenant_id.as_ref() == Some(&principal.tenant_id) => Ok(job),
            _ => Err(FollowUpRequestError::NotFound),
        }
    }
}
