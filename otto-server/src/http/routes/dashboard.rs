//! `/api/v1/dashboard/summary`: the company's figures over a time range, counted in
//! the database.

use chrono::{DateTime, Utc};
use otto_core::dashboard::{Dashboard, DashboardError, DashboardSummary};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, bad_parameter, field_errors, role_refusal, store_failure};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ProblemBody, ProblemKind};
use crate::state::AppState;

/// A company's figures over `[from, to)`.
#[derive(Debug, Object)]
#[oai(example)]
pub struct SummaryView {
    /// The range's start (inclusive).
    pub from: DateTime<Utc>,
    /// The range's end (exclusive).
    pub to: DateTime<Utc>,
    /// Calls that started in the range.
    pub calls: u64,
    /// Inbound calls nobody answered.
    pub missed: u64,
    /// Missed calls whose customer got a follow-up text message.
    pub recovered_by_sms: u64,
    /// Calls marked as booked.
    pub booked: u64,
    /// Text messages sent or received in the range.
    pub messages: u64,
}

impl SummaryView {
    fn of(summary: DashboardSummary, from: DateTime<Utc>, to: DateTime<Utc>) -> Self {
        SummaryView {
            from,
            to,
            calls: summary.calls,
            missed: summary.missed,
            recovered_by_sms: summary.recovered_by_sms,
            booked: summary.booked,
            messages: summary.messages,
        }
    }
}

impl Example for SummaryView {
    fn example() -> Self {
        let at = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .map(|time| time.to_utc())
                .unwrap_or_default()
        };
        SummaryView {
            from: at("2026-11-01T00:00:00Z"),
            to: at("2026-12-01T00:00:00Z"),
            calls: 412,
            missed: 57,
            recovered_by_sms: 41,
            booked: 133,
            messages: 389,
        }
    }
}

problem_responses!(
    /// Problems of the dashboard.
    DashboardErrors, not_found: Internal, {
    /// `from` or `to` is missing or invalid, `to` is not after `from`, or the range
    /// is longer than 366 days.
    400 BadRequest,
    /// The credential is refused, or the caller is a rep (the dashboard needs
    /// leadership or csr).
    403 Forbidden,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<DashboardError> for DashboardErrors {
    fn from(error: DashboardError) -> Self {
        match error {
            DashboardError::Forbidden(refusal) => {
                DashboardErrors::Forbidden(role_refusal("The dashboard", &refusal))
            }
            DashboardError::Invalid(invalid) => {
                let errors = field_errors(invalid);
                let detail = errors
                    .first()
                    .map(|error| {
                        format!("Parameter `{}` is invalid: {}", error.field, error.message)
                    })
                    .unwrap_or_default();
                DashboardErrors::BadRequest(ProblemBody(ApiError {
                    errors: Some(errors),
                    ..ApiError::new(ProblemKind::BadRequest, detail)
                }))
            }
            DashboardError::Store(error) => store_failure(error).into(),
        }
    }
}

/// Dashboard operations.
#[derive(Clone, Debug)]
pub struct DashboardApi {
    dashboard: Dashboard,
}

impl DashboardApi {
    /// Operations over the state's dashboard queries and role map.
    pub fn new(state: &AppState) -> Self {
        DashboardApi {
            dashboard: Dashboard::new(state.dashboard.clone(), state.config.roles.clone()),
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Dashboard")]
impl DashboardApi {
    /// The company's figures for calls started and messages sent in `[from, to)`:
    /// calls, missed calls, missed calls recovered by a text message, booked calls,
    /// messages. Leadership and csr.
    #[oai(
        path = "/dashboard/summary",
        method = "get",
        operation_id = "getDashboardSummary"
    )]
    async fn summary(
        &self,
        caller: Caller,
        /// The range's start, inclusive (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// The range's end, exclusive (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
    ) -> Result<Json<SummaryView>, DashboardErrors> {
        let from = from
            .0
            .ok_or_else(|| DashboardErrors::BadRequest(bad_parameter("from", "is required")))?;
        let to =
            to.0.ok_or_else(|| DashboardErrors::BadRequest(bad_parameter("to", "is required")))?;
        let summary = self.dashboard.summary(&caller.0, from, to).await?;
        Ok(Json(SummaryView::of(summary, from, to)))
    }
}
