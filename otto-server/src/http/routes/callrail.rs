//! `/api/v1/callrail`: the company's linked CallRail company, read live, and a sync
//! of its calls into Otto (as a job).

use chrono::{DateTime, Utc};
use otto_adapters::system::SystemClock;
use otto_core::callrail::{CallRailDesk, CallRailError, MAX_LIVE_PAGE_SIZE, MAX_SYNC_PAGES};
use otto_core::ports::{ProviderError, TrackedCall};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;

use super::follow_ups::FollowUpAccepted;
use super::{ApiTags, bad_parameter, problem, role_refusal, store_failure};
use crate::http::auth::Caller;
use crate::http::json_body::{JsonBody, Validate};
use crate::http::problem::{ApiError, FieldError, ProblemBody, ProblemKind};
use crate::state::AppState;

/// A call as CallRail lists it (not stored in Otto until synced).
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TrackedCallView {
    /// CallRail's id of the call.
    pub id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// Whether someone answered.
    pub answered: bool,
    /// The customer's name, when CallRail knows it.
    pub customer_name: Option<String>,
    /// The customer's number.
    pub customer_number: Option<String>,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

impl From<TrackedCall> for TrackedCallView {
    fn from(call: TrackedCall) -> Self {
        TrackedCallView {
            id: call.id,
            direction: call.direction.as_str().to_owned(),
            answered: call.answered,
            customer_name: call.customer_name,
            customer_number: call.customer_number,
            duration_seconds: call.duration_seconds,
            started_at: call.started_at,
        }
    }
}

/// A page of CallRail's calls.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct TrackedCallPageView {
    /// The calls, newest first.
    pub items: Vec<TrackedCallView>,
    /// The next page's number; absent on the last page.
    pub next_page: Option<u32>,
}

/// What to sync.
#[derive(Debug, Default, serde::Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct SyncRequest {
    /// The CallRail company (`COM...`); by default the first one linked to the
    /// company.
    #[serde(default)]
    pub company: Option<String>,
    /// Pages of 100 calls to copy, newest first, 1-50 (default 5).
    #[serde(default)]
    pub pages: Option<u32>,
}

impl Example for SyncRequest {
    fn example() -> Self {
        SyncRequest {
            company: Some("COM8154748ae6bd4e278a7cddd38a662f4f".into()),
            pages: Some(5),
        }
    }
}

/// Pages a sync copies when not told.
const DEFAULT_SYNC_PAGES: u32 = 5;

impl Validate for SyncRequest {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        match self.pages {
            Some(pages) if !(1..=MAX_SYNC_PAGES).contains(&pages) => Err(vec![FieldError {
                field: "pages".into(),
                message: format!("must be between 1 and {MAX_SYNC_PAGES}"),
            }]),
            _ => Ok(()),
        }
    }
}

/// The answer to a sync request.
#[derive(Debug, ApiResponse)]
pub enum SyncAccepted {
    /// Queued; poll `GET /api/v1/jobs/{id}`. Asking again within the same minute
    /// returns the same job.
    #[oai(status = 202)]
    Queued(Json<FollowUpAccepted>),
}

problem_responses!(
    /// Problems of the CallRail operations.
    CallRailErrors, not_found: Internal, {
    /// A parameter is invalid or the body is not JSON.
    400 BadRequest,
    /// The credential is refused, or the caller is a rep (leadership or csr only).
    403 Forbidden,
    /// No CallRail company is linked to the company (or not the one asked for); a
    /// platform admin links one with `PUT /api/v1/admin/provider-accounts/...`.
    409 Conflict,
    /// The body is larger than OTTO_MAX_BODY_BYTES.
    413 PayloadTooLarge,
    /// The body is not `application/json`.
    415 UnsupportedMediaType,
    /// A field is invalid (`errors` names it).
    422 ValidationFailed,
    /// CallRail refused or failed.
    502 BadGateway,
    /// The database or CallRail is unavailable, or CallRail's API is not configured
    /// (CALLRAIL_API_KEY, CALLRAIL_ACCOUNT_ID); retry after `Retry-After` seconds.
    503 Unavailable,
});

fn unavailable(detail: &str) -> CallRailErrors {
    CallRailErrors::Unavailable(ProblemBody(ApiError {
        retry_after: Some(30),
        ..ApiError::new(ProblemKind::ServiceUnavailable, detail)
    }))
}

impl From<CallRailError> for CallRailErrors {
    fn from(error: CallRailError) -> Self {
        match error {
            CallRailError::Forbidden(refusal) => {
                CallRailErrors::Forbidden(role_refusal("CallRail", &refusal))
            }
            CallRailError::NotLinked => CallRailErrors::Conflict(problem(
                ProblemKind::Conflict,
                "No such CallRail company is linked to your company.",
            )),
            CallRailError::Provider(ProviderError::NotConfigured(_)) => {
                unavailable("CallRail's API is not configured on this server.")
            }
            CallRailError::Provider(error @ ProviderError::Transient { .. }) => {
                tracing::warn!(error = %error, "CallRail unavailable");
                unavailable("CallRail is unavailable; retry shortly.")
            }
            CallRailError::Provider(error) => {
                tracing::warn!(error = %error, "CallRail refused");
                CallRailErrors::BadGateway(problem(
                    ProblemKind::BadGateway,
                    "CallRail refused the request.",
                ))
            }
            CallRailError::Store(error) => store_failure(error).into(),
        }
    }
}

/// CallRail operations.
#[derive(Clone, Debug)]
pub struct CallRailApi {
    desk: CallRailDesk,
}

impl CallRailApi {
    /// Operations over the state's CallRail client, account links and job queue.
    pub fn new(state: &AppState) -> Self {
        CallRailApi {
            desk: CallRailDesk::new(
                state.call_tracking.clone(),
                state.provider_accounts.clone(),
                state.jobs.clone(),
                Arc::new(SystemClock),
                state.config.roles.clone(),
            ),
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Calls")]
impl CallRailApi {
    /// The calls CallRail has for the company's linked CallRail company, read live
    /// (newest first, paged by number). Leadership and csr.
    #[oai(
        path = "/callrail/calls",
        method = "get",
        operation_id = "listCallRailCalls"
    )]
    async fn live_calls(
        &self,
        caller: Caller,
        /// The CallRail company (`COM...`); by default the first one linked.
        company: Query<Option<String>>,
        /// The page, from 1 (default 1).
        page: Query<Option<u32>>,
        /// Calls per page, 1-100 (default 25).
        per_page: Query<Option<u32>>,
    ) -> Result<Json<TrackedCallPageView>, CallRailErrors> {
        let per_page = per_page.0.unwrap_or(25);
        if !(1..=MAX_LIVE_PAGE_SIZE).contains(&per_page) {
            return Err(CallRailErrors::BadRequest(bad_parameter(
                "per_page",
                "must be between 1 and 100",
            )));
        }
        let page = page.0.unwrap_or(1);
        if page == 0 {
            return Err(CallRailErrors::BadRequest(bad_parameter(
                "page",
                "starts at 1",
            )));
        }
        let listed = self
            .desk
            .live_calls(&caller.0, company.0.as_deref(), page, per_page)
            .await?;
        Ok(Json(TrackedCallPageView {
            items: listed
                .calls
                .into_iter()
                .map(TrackedCallView::from)
                .collect(),
            next_page: listed.next_page,
        }))
    }

    /// Copies the linked CallRail company's calls into Otto, as a job (calls Otto
    /// has are left as they are). Leadership and csr.
    #[oai(
        path = "/callrail/sync",
        method = "post",
        operation_id = "syncCallRail"
    )]
    async fn sync(
        &self,
        caller: Caller,
        body: JsonBody<SyncRequest>,
    ) -> Result<SyncAccepted, CallRailErrors> {
        let trace = crate::telemetry::trace_context::current_traceparent();
        let enqueued = self
            .desk
            .sync(
                &caller.0,
                body.0.company.as_deref(),
                body.0.pages.unwrap_or(DEFAULT_SYNC_PAGES),
                trace,
            )
            .await?;
        tracing::info!(user_id = %caller.0.user_id, job_id = %enqueued.id(), "CallRail sync queued");
        Ok(SyncAccepted::Queued(Json(enqueued.into())))
    }
}

impl poem_openapi::types::Example for TrackedCallPageView {
    fn example() -> Self {
        TrackedCallPageView {
            items: vec![TrackedCallView {
                id: "CAL8154748ae6bd4e278a7cddd38a662f4f".into(),
                direction: "inbound".into(),
                answered: false,
                customer_name: Some("Jane Doe".into()),
                customer_number: Some("+15551230000".into()),
                duration_seconds: 0,
                started_at: DateTime::parse_from_rfc3339("2026-11-25T15:04:05Z")
                    .map(|time| time.to_utc())
                    .unwrap_or_default(),
            }],
            next_page: Some(2),
        }
    }
}
