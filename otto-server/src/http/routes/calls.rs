//! `/api/v1/calls`: the caller's tenant's calls, newest first.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use otto_core::calls::{Call, CallCursor, MAX_PAGE_SIZE};
use otto_core::ports::CallRepository;
use otto_core::tenancy::TenantScope;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use super::{ApiTags, AuthenticatedErrors, problem, store_failure};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, FieldError, ProblemKind};

/// Calls per page when `limit` is not given.
pub const DEFAULT_PAGE_SIZE: u32 = 25;

/// A call.
#[derive(Debug, Object)]
pub struct CallView {
    /// Otto's id of the call.
    pub id: Uuid,
    /// Where the call came from: `callrail` or `twilio`.
    pub provider: String,
    /// The provider's id of the call.
    pub external_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The customer's name, when known.
    pub customer_name: Option<String>,
    /// The customer's number (E.164), when known.
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: bool,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

impl From<Call> for CallView {
    fn from(call: Call) -> Self {
        CallView {
            id: call.id,
            provider: call.provider,
            external_id: call.external_id,
            direction: call.direction.as_str().to_owned(),
            customer_name: call.customer_name,
            customer_number: call.customer_number,
            answered: call.answered,
            duration_seconds: call.duration_seconds,
            started_at: call.started_at,
        }
    }
}

/// A page of calls.
#[derive(Debug, Object)]
pub struct CallPage {
    /// The calls, newest first.
    pub items: Vec<CallView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// Call operations.
#[derive(Clone)]
pub struct CallsApi {
    calls: Arc<dyn CallRepository>,
}

impl std::fmt::Debug for CallsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallsApi").finish_non_exhaustive()
    }
}

impl CallsApi {
    /// Operations over `calls`.
    pub fn new(calls: Arc<dyn CallRepository>) -> Self {
        CallsApi { calls }
    }
}

/// Problems of the list operation: the authenticated ones plus a bad cursor or limit.
#[derive(Debug, poem_openapi::ApiResponse)]
pub enum ListCallsErrors {
    /// `cursor` or `limit` is invalid; `errors` names the parameter.
    #[oai(status = 400)]
    BadRequest(crate::http::problem::ProblemBody),
    /// See [`AuthenticatedErrors`].
    #[oai(status = 403)]
    Forbidden(crate::http::problem::ProblemBody),
    /// The caller's user or tenant rate limit is spent.
    #[oai(status = 429)]
    TooManyRequests(crate::http::problem::ProblemBody),
    /// An unexpected fault.
    #[oai(status = 500)]
    Internal(crate::http::problem::ProblemBody),
    /// The database is unavailable; retry.
    #[oai(status = 503)]
    Unavailable(crate::http::problem::ProblemBody),
}

from_authenticated_errors!(ListCallsErrors, not_found: Internal);

fn bad_parameter(name: &str, message: &str) -> ListCallsErrors {
    ListCallsErrors::BadRequest(crate::http::problem::ProblemBody(ApiError {
        errors: Some(vec![FieldError {
            field: name.to_owned(),
            message: message.to_owned(),
        }]),
        ..ApiError::new(
            ProblemKind::BadRequest,
            format!("Parameter `{name}` is invalid: {message}"),
        )
    }))
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Calls")]
impl CallsApi {
    /// The tenant's calls, newest first, with cursor pagination.
    #[oai(path = "/calls", method = "get", operation_id = "listCalls")]
    async fn list(
        &self,
        caller: Caller,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Calls per page, 1-100 (default 25).
        limit: Query<Option<u32>>,
    ) -> Result<Json<CallPage>, ListCallsErrors> {
        let cursor = match cursor.0.as_deref() {
            None | Some("") => None,
            Some(text) => Some(
                CallCursor::decode(text)
                    .ok_or_else(|| bad_parameter("cursor", "not a cursor returned by this API"))?,
            ),
        };
        let limit = limit.0.unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(bad_parameter("limit", "must be between 1 and 100"));
        }
        let page = self
            .calls
            .list(&TenantScope::of(&caller.0), cursor, limit)
            .await
            .map_err(|error| ListCallsErrors::from(store_failure(error)))?;
        Ok(Json(CallPage {
            items: page.items.into_iter().map(CallView::from).collect(),
            next_cursor: page.next.map(|next| next.encode()),
        }))
    }

    /// One call of the tenant. A call of another tenant is "not found": its existence
    /// is never revealed.
    #[oai(path = "/calls/:id", method = "get", operation_id = "getCall")]
    async fn get(
        &self,
        caller: Caller,
        id: Path<Uuid>,
    ) -> Result<Json<CallView>, AuthenticatedErrors> {
        match self
            .calls
            .get(&TenantScope::of(&caller.0), id.0)
            .await
            .map_err(store_failure)?
        {
            Some(call) => Ok(Json(call.into())),
            None => Err(AuthenticatedErrors::NotFound(problem(
                ProblemKind::NotFound,
                "No call with this id.",
            ))),
        }
    }
}
