//! `/api/v1/calls`: the company's calls as the caller's role may see them (a rep sees
//! the calls assigned to them), with filters, details and the outcome the team
//! records.

use chrono::{DateTime, Utc};
use otto_core::call_log::{CallDetail, CallLog, CallLogError};
use otto_core::calls::{Call, CallCursor, CallFilter, CallSearch, Direction, OutcomeChange};
use otto_core::tenancy::UserId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use super::call_views::{CallDetailView, CallView};
use super::{
    ApiTags, bad_parameter, field_errors, invalid_body, page_cursor, page_limit, problem,
    role_refusal, store_failure, time_out_of_range,
};
use crate::http::auth::Caller;
use crate::http::direct_json::DirectJson;
use crate::http::json_body::{JsonBody, Validate};
use crate::http::problem::{FieldError, ProblemKind};
use crate::state::AppState;

/// Longest text search.
const MAX_SEARCH_LEN: usize = 100;

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum CallDirection {
    /// A customer called the company.
    Inbound,
    /// The company called a customer.
    Outbound,
}

impl From<CallDirection> for Direction {
    fn from(direction: CallDirection) -> Self {
        match direction {
            CallDirection::Inbound => Direction::Inbound,
            CallDirection::Outbound => Direction::Outbound,
        }
    }
}

/// A page of calls.
#[derive(Debug, Object, serde::Serialize)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CallPage {
    /// The calls, newest first.
    pub items: Vec<CallView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A change of a call's outcome: a field left out stays as it is, `null` clears it.
#[derive(Debug, serde::Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct CallOutcomeUpdate {
    /// Whether the call booked an appointment.
    #[serde(default)]
    pub booked: MaybeUndefined<bool>,
    /// When the booked appointment is (RFC 3339).
    #[serde(default)]
    pub appointment_at: MaybeUndefined<DateTime<Utc>>,
    /// Notes, at most 4000 characters.
    #[serde(default)]
    pub notes: MaybeUndefined<String>,
    /// The user id of the rep to assign the call to (leadership and csr only); the
    /// user must be a member of the company.
    #[serde(default)]
    pub assigned_rep: MaybeUndefined<String>,
}

impl Example for CallOutcomeUpdate {
    fn example() -> Self {
        CallOutcomeUpdate {
            booked: MaybeUndefined::Value(true),
            appointment_at: MaybeUndefined::Value(
                DateTime::parse_from_rfc3339("2026-11-27T14:00:00Z")
                    .map(|time| time.to_utc())
                    .unwrap_or_default(),
            ),
            notes: MaybeUndefined::Value("Water heater replacement; bring a 50 gal unit.".into()),
            assigned_rep: MaybeUndefined::Undefined,
        }
    }
}

/// `Undefined` → unchanged, `Null` → cleared, a value → set.
fn change_of<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(value) => Some(Some(value)),
    }
}

impl CallOutcomeUpdate {
    fn rep(&self) -> Result<Option<Option<UserId>>, FieldError> {
        match &self.assigned_rep {
            MaybeUndefined::Undefined => Ok(None),
            MaybeUndefined::Null => Ok(Some(None)),
            MaybeUndefined::Value(id) => {
                UserId::parse(id)
                    .map(|id| Some(Some(id)))
                    .map_err(|_| FieldError {
                        field: "assigned_rep".into(),
                        message: "is not a user id".into(),
                    })
            }
        }
    }

    fn change(self) -> OutcomeChange {
        OutcomeChange {
            assigned_rep: self.rep().ok().flatten(),
            booked: change_of(self.booked),
            appointment_at: change_of(self.appointment_at),
            notes: change_of(self.notes),
        }
    }
}

impl Validate for CallOutcomeUpdate {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.rep().map(|_| ()).map_err(|error| vec![error])
    }
}

problem_responses!(
    /// Problems of the list operation.
    ListCallsErrors, not_found: Internal, {
    /// A parameter is invalid; `errors` names it.
    400 BadRequest,
    /// The credential is refused.
    403 Forbidden,
    /// The database is unavailable; retry.
    503 Unavailable,
});

problem_responses!(
    /// Problems of reading one call.
    CallReadErrors, not_found: NotFound, {
    /// The id is not a UUID.
    400 BadRequest,
    /// The credential is refused.
    403 Forbidden,
    /// No such call that the caller may see (another company's, or, for a rep, one
    /// not assigned to them).
    404 NotFound,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<CallLogError> for CallReadErrors {
    fn from(error: CallLogError) -> Self {
        match error {
            CallLogError::NotFound => {
                CallReadErrors::NotFound(problem(ProblemKind::NotFound, "No call with this id."))
            }
            CallLogError::Store(error) => store_failure(error).into(),
            // Reading checks neither roles nor fields; reaching here is a fault.
            other => {
                tracing::error!(error = %other, "reading a call failed");
                CallReadErrors::Internal(problem(
                    ProblemKind::Internal,
                    "An internal error occurred; quote the trace_id to support.",
                ))
            }
        }
    }
}

problem_responses!(
    /// Problems of changing one call.
    CallErrors, not_found: NotFound, {
    /// The body is not JSON.
    400 BadRequest,
    /// The credential is refused, or the caller's role may not (assigning a call
    /// needs leadership or csr; the problem names the roles).
    403 Forbidden,
    /// No such call that the caller may see (another company's, or, for a rep, one
    /// not assigned to them).
    404 NotFound,
    /// The body is larger than OTTO_MAX_BODY_BYTES.
    413 PayloadTooLarge,
    /// The body is not `application/json`.
    415 UnsupportedMediaType,
    /// A field is invalid (`errors` names each): notes too long, an unknown rep or
    /// field, a value of the wrong type.
    422 ValidationFailed,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<CallLogError> for CallErrors {
    fn from(error: CallLogError) -> Self {
        match error {
            CallLogError::Forbidden(refusal) => {
                CallErrors::Forbidden(role_refusal("Assigning a call", &refusal))
            }
            CallLogError::NotFound => {
                CallErrors::NotFound(problem(ProblemKind::NotFound, "No call with this id."))
            }
            CallLogError::Invalid(invalid) => {
                CallErrors::ValidationFailed(invalid_body(field_errors(invalid)))
            }
            CallLogError::Store(error) => store_failure(error).into(),
        }
    }
}

impl From<CallLogError> for ListCallsErrors {
    fn from(error: CallLogError) -> Self {
        match error {
            CallLogError::Store(error) => store_failure(error).into(),
            other => {
                tracing::error!(error = %other, "listing calls failed");
                ListCallsErrors::Internal(problem(
                    ProblemKind::Internal,
                    "An internal error occurred; quote the trace_id to support.",
                ))
            }
        }
    }
}

/// Call operations.
#[derive(Clone, Debug)]
pub struct CallsApi {
    log: CallLog,
}

impl CallsApi {
    /// Operations over the state's stores and role map.
    pub fn new(state: &AppState) -> Self {
        CallsApi {
            log: CallLog::new(
                state.calls.clone(),
                state.insights.clone(),
                state.messages.clone(),
                state.companies.clone(),
                state.config.roles.clone(),
            ),
        }
    }
}

/// The filter the list's query parameters ask for.
struct ListQuery {
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    direction: Option<CallDirection>,
    answered: Option<bool>,
    has_recording: Option<bool>,
    search: Option<String>,
    assigned_to: Option<String>,
}

impl ListQuery {
    fn filter(self) -> Result<CallFilter, ListCallsErrors> {
        if let Some(problem) = time_out_of_range(&[("from", self.from), ("to", self.to)]) {
            return Err(ListCallsErrors::BadRequest(problem));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to <= from
        {
            return Err(ListCallsErrors::BadRequest(bad_parameter(
                "to",
                "must be after `from`",
            )));
        }
        if self
            .search
            .as_ref()
            .is_some_and(|q| q.chars().count() > MAX_SEARCH_LEN)
        {
            return Err(ListCallsErrors::BadRequest(bad_parameter(
                "q",
                &format!("must be at most {MAX_SEARCH_LEN} characters"),
            )));
        }
        let assigned_to = match self.assigned_to.as_deref() {
            None | Some("") => None,
            Some(id) => Some(UserId::parse(id).map_err(|_| {
                ListCallsErrors::BadRequest(bad_parameter("assigned_to", "is not a user id"))
            })?),
        };
        Ok(CallFilter {
            started_from: self.from,
            started_before: self.to,
            direction: self.direction.map(Direction::from),
            answered: self.answered,
            has_recording: self.has_recording,
            search: self.search.as_deref().and_then(CallSearch::parse),
            assigned_to,
        })
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Calls")]
impl CallsApi {
    /// The calls the caller may see, newest first, with cursor pagination: the whole
    /// company's for leadership and csr, the ones assigned to them for a rep. Filters
    /// combine; a cursor stays valid while new calls arrive (they appear on a fresh
    /// first page, never shift the pages after it).
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/calls", method = "get", operation_id = "listCalls")]
    async fn list(
        &self,
        caller: Caller,
        /// Calls that started at or after this time (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// Calls that started before this time (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
        /// Only `inbound` or `outbound` calls.
        direction: Query<Option<CallDirection>>,
        /// `true`: answered calls only; `false`: missed calls only.
        answered: Query<Option<bool>>,
        /// `true`: calls with a recording; `false`: calls without.
        has_recording: Query<Option<bool>>,
        /// Text search. Digits match the end of the customer's number: its last
        /// digits or the whole number, in any format (`4567`, `(555) 123-4567`).
        /// Other text matches the customer's name word by word: each word searched
        /// starts a word of the name, case-insensitively (`ana l` finds "Ana Lima").
        /// At most 100 characters.
        q: Query<Option<String>>,
        /// Only calls assigned to this user id (a rep's own listing ignores it).
        assigned_to: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Calls per page, 1-100 (default 25).
        limit: Query<Option<u32>>,
    ) -> Result<DirectJson<CallPage>, ListCallsErrors> {
        let cursor =
            page_cursor(cursor.0, CallCursor::decode).map_err(ListCallsErrors::BadRequest)?;
        let limit = page_limit(limit.0).map_err(ListCallsErrors::BadRequest)?;
        let filter = ListQuery {
            from: from.0,
            to: to.0,
            direction: direction.0,
            answered: answered.0,
            has_recording: has_recording.0,
            search: q.0,
            assigned_to: assigned_to.0,
        }
        .filter()?;
        let page = self.log.list(&caller.0, filter, cursor, limit).await?;
        Ok(DirectJson(CallPage {
            items: page.items.into_iter().map(CallView::from).collect(),
            next_cursor: page.next.map(|next| next.encode()),
        }))
    }

    /// One call with its latest recording, transcript, analysis and the latest
    /// messages with its customer. A call of another company (or, for a rep, one not
    /// assigned to them) is "not found": its existence is never revealed.
    #[oai(path = "/calls/:id", method = "get", operation_id = "getCall")]
    async fn get(
        &self,
        caller: Caller,
        /// The call's id.
        id: Path<Uuid>,
    ) -> Result<Json<CallDetailView>, CallReadErrors> {
        let detail: CallDetail = self.log.detail(&caller.0, id.0).await?;
        Ok(Json(detail.into()))
    }

    /// Records the call's outcome: booked, appointment time, notes, and (leadership
    /// and csr) the assigned rep. Fields left out stay as they are; `null` clears.
    #[oai(path = "/calls/:id", method = "patch", operation_id = "updateCall")]
    async fn update(
        &self,
        caller: Caller,
        /// The call's id.
        id: Path<Uuid>,
        body: JsonBody<CallOutcomeUpdate>,
    ) -> Result<Json<CallView>, CallErrors> {
        let call: Call = self.log.update(&caller.0, id.0, body.0.change()).await?;
        tracing::info!(user_id = %caller.0.user_id, call_id = %call.id, "call outcome updated");
        Ok(Json(call.into()))
    }
}

impl poem_openapi::types::Example for CallPage {
    fn example() -> Self {
        CallPage {
            items: vec![super::call_views::CallView::example()],
            next_cursor: Some("1764083045000000.01936a2e7c4b7d1e9f00000000000001".into()),
        }
    }
}
