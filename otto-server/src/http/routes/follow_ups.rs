//! `/api/v1/calls/{id}/follow-up-sms`, `/api/v1/calls/{id}/ai-follow-up` and
//! `/api/v1/jobs/{id}`: follow-ups users ask for run as jobs; their status is read
//! by id.

use chrono::{DateTime, Utc};
use otto_adapters::system::SystemClock;
use otto_core::follow_ups::{FollowUpKind, FollowUpRequestError, FollowUpRequests};
use otto_core::jobs::{Enqueued, Job};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;
use uuid::Uuid;

use super::{ApiTags, problem, store_failure};
use crate::http::auth::Caller;
use crate::http::problem::ProblemKind;
use crate::state::AppState;

/// A follow-up that was queued (or had been: asking twice returns the same job).
#[derive(Debug, Object)]
#[oai(example)]
pub struct FollowUpAccepted {
    /// The job that carries it out; poll `GET /api/v1/jobs/{id}`.
    pub job_id: Uuid,
    /// `false` when the same follow-up had been asked for before.
    pub created: bool,
}

/// A background job's status.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct JobView {
    /// The job's id.
    pub id: Uuid,
    /// What it does: `missed_call_recovery`, `ai_follow_up`, `transcription`, ...
    pub kind: String,
    /// `queued`, `running`, `succeeded`, `skipped`, `dead` or `cancelled`.
    pub status: String,
    /// Attempts so far.
    pub attempts: u32,
    /// When it runs (next).
    pub run_at: DateTime<Utc>,
    /// Why its last attempt failed or why it was skipped.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        JobView {
            id: job.id,
            kind: job.kind,
            status: job.status.to_string(),
            attempts: job.attempts,
            run_at: job.run_at,
            last_error: job.last_error,
            created_at: job.created_at,
            updated_at: job.updated_at,
        }
    }
}

/// The answer to a follow-up request.
#[derive(Debug, ApiResponse)]
pub enum Accepted {
    /// Queued; the job runs in the background.
    #[oai(status = 202)]
    Queued(Json<FollowUpAccepted>),
}

problem_responses!(
    /// Problems of the follow-up operations.
    FollowUpErrors, not_found: NotFound, {
    /// The id is not a UUID.
    400 BadRequest,
    /// The credential is refused.
    403 Forbidden,
    /// No such call or job in the caller's company (for a rep: no such call
    /// assigned to them).
    404 NotFound,
    /// The call has no customer number to reach.
    409 Conflict,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<FollowUpRequestError> for FollowUpErrors {
    fn from(error: FollowUpRequestError) -> Self {
        match error {
            FollowUpRequestError::NotFound => FollowUpErrors::NotFound(problem(
                ProblemKind::NotFound,
                "No such resource in your company.",
            )),
            FollowUpRequestError::NoCustomerNumber => FollowUpErrors::Conflict(problem(
                ProblemKind::Conflict,
                "The call has no customer number to follow up.",
            )),
            FollowUpRequestError::Store(error) => store_failure(error).into(),
        }
    }
}

/// Follow-up operations.
#[derive(Clone, Debug)]
pub struct FollowUpApi {
    requests: FollowUpRequests,
}

impl FollowUpApi {
    /// Operations over the state's calls and jobs.
    pub fn new(state: &AppState) -> Self {
        FollowUpApi {
            requests: FollowUpRequests::new(
                state.calls.clone(),
                state.jobs.clone(),
                Arc::new(SystemClock),
                state.config.roles.clone(),
            ),
        }
    }

    async fn request(
        &self,
        caller: Caller,
        call_id: Uuid,
        kind: FollowUpKind,
    ) -> Result<Accepted, FollowUpErrors> {
        let trace = crate::telemetry::trace_context::current_traceparent();
        let enqueued = self
            .requests
            .request(&caller.0, call_id, kind, trace)
            .await?;
        tracing::info!(
            user_id = %caller.0.user_id,
            call_id = %call_id,
            job_id = %enqueued.id(),
            ?kind,
            "follow-up requested"
        );
        Ok(Accepted::Queued(Json(enqueued.into())))
    }
}

#[OpenApi(tag = "ApiTags::Calls")]
impl FollowUpApi {
    /// Texts the call's customer with the company's follow-up message, once per call
    /// (never to a number that opted out). Any role, on the calls it may see (a rep
    /// on the calls assigned to them).
    #[oai(
        path = "/api/v1/calls/:id/follow-up-sms",
        method = "post",
        operation_id = "requestFollowUpSms"
    )]
    async fn follow_up_sms(
        &self,
        caller: Caller,
        /// The call's id.
        id: Path<Uuid>,
    ) -> Result<Accepted, FollowUpErrors> {
        self.request(caller, id.0, FollowUpKind::Sms).await
    }

    /// Has an AI agent call the customer back, once per call; the result arrives
    /// through Bland AI's webhook. Any role, on the calls it may see.
    #[oai(
        path = "/api/v1/calls/:id/ai-follow-up",
        method = "post",
        operation_id = "requestAiFollowUp"
    )]
    async fn ai_follow_up(
        &self,
        caller: Caller,
        /// The call's id.
        id: Path<Uuid>,
    ) -> Result<Accepted, FollowUpErrors> {
        self.request(caller, id.0, FollowUpKind::AiCall).await
    }

    /// A background job of the caller's company.
    #[oai(path = "/api/v1/jobs/:id", method = "get", operation_id = "getJob")]
    async fn job(
        &self,
        caller: Caller,
        /// The job's id.
        id: Path<Uuid>,
    ) -> Result<Json<JobView>, FollowUpErrors> {
        Ok(Json(self.requests.job(&caller.0, id.0).await?.into()))
    }
}

impl From<Enqueued> for FollowUpAccepted {
    fn from(enqueued: Enqueued) -> Self {
        FollowUpAccepted {
            job_id: enqueued.id(),
            created: matches!(enqueued, Enqueued::Created(_)),
        }
    }
}

impl poem_openapi::types::Example for FollowUpAccepted {
    fn example() -> Self {
        FollowUpAccepted {
            job_id: Uuid::from_u128(0x0193_6a2e_7c4b_7d1e_9f00_0000_0000_0003),
            created: true,
        }
    }
}

impl poem_openapi::types::Example for JobView {
    fn example() -> Self {
        let at = DateTime::parse_from_rfc3339("2026-11-25T15:04:05Z")
            .map(|time| time.to_utc())
            .unwrap_or_default();
        JobView {
            id: Uuid::from_u128(0x0193_6a2e_7c4b_7d1e_9f00_0000_0000_0003),
            kind: "missed_call_recovery".into(),
            status: "succeeded".into(),
            attempts: 1,
            run_at: at,
            last_error: None,
            created_at: at,
            updated_at: at,
        }
    }
}
