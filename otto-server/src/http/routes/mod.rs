//! The API's operations, one module per resource group, and the shared error
//! response sets that document their problems in the OpenAPI document.

/// Implements `From<AuthenticatedErrors>` for an operation's problem set that has
/// `Forbidden`, `TooManyRequests`, `Internal` and `Unavailable` variants; `not_found`
/// names the variant a "not found" becomes (`Internal` for operations with no 404).
macro_rules! from_authenticated_errors {
    ($target:ident, not_found: $not_found:ident) => {
        impl From<$crate::http::routes::AuthenticatedErrors> for $target {
            fn from(error: $crate::http::routes::AuthenticatedErrors) -> Self {
                use $crate::http::routes::AuthenticatedErrors as Authenticated;
                match error {
                    Authenticated::Forbidden(body) => $target::Forbidden(body),
                    Authenticated::NotFound(body) => $target::$not_found(body),
                    Authenticated::TooManyRequests(body) => $target::TooManyRequests(body),
                    Authenticated::Internal(body) => $target::Internal(body),
                    Authenticated::Unavailable(body) => $target::Unavailable(body),
                }
            }
        }
    };
}

/// Declares an operation's problem responses: the listed ones (status, variant and
/// description, in that order) plus the 429 and 500 every authenticated operation can
/// answer, and the conversion from [`AuthenticatedErrors`] (see
/// `from_authenticated_errors!`; the listed ones must include `Forbidden` and
/// `Unavailable`).
macro_rules! problem_responses {
    (
        $(#[doc = $about:literal])*
        $name:ident, not_found: $not_found:ident,
        { $( $(#[doc = $doc:literal])+ $status:literal $variant:ident ),+ $(,)? }
    ) => {
        $(#[doc = $about])*
        #[derive(Debug, poem_openapi::ApiResponse)]
        pub enum $name {
            $(
                $(#[doc = $doc])+
                #[oai(status = $status)]
                $variant($crate::http::problem::ProblemBody),
            )+
            /// The caller's user or tenant rate limit is spent (`limit_type`); retry
            /// after `Retry-After` seconds.
            #[oai(status = 429)]
            TooManyRequests($crate::http::problem::ProblemBody),
            /// An unexpected fault; the cause is logged under the response's trace_id.
            #[oai(status = 500)]
            Internal($crate::http::problem::ProblemBody),
        }

        from_authenticated_errors!($name, not_found: $not_found);
    };
}

pub mod account;
pub mod admin;
pub mod call_views;
pub mod callrail;
pub mod calls;
pub mod company;
pub mod dashboard;
pub mod event_views;
pub mod events;
pub mod follow_ups;
pub mod messages;
pub mod settings;
pub mod system;
pub mod webhook_deliveries;
pub mod webhooks;

use poem_openapi::{ApiResponse, Tags};

use otto_core::ports::StoreError;

use super::problem::{ApiError, FieldError, ProblemBody, ProblemKind};

/// OpenAPI tags.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Liveness, readiness and metrics: unauthenticated and never rate-limited.
    System,
    /// The caller and its company.
    Account,
    /// The tenant's phone calls.
    Calls,
    /// Text conversations with customers.
    Messages,
    /// The company's figures.
    Dashboard,
    /// Live events: what changed, as it happens, over Server-Sent Events or
    /// WebSocket (`/api/v1/events/ws`, same messages).
    Events,
    /// Provider deliveries, authenticated by their signatures and applied exactly
    /// once.
    Webhooks,
    /// Platform operations across tenants, for platform-admin API tokens only.
    Admin,
}

/// Problems any read-only public operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum PublicErrors {
    /// The request's `Origin` is not in ALLOWED_ORIGINS.
    #[oai(status = 403)]
    Forbidden(ProblemBody),
    /// The path exists but not with this method.
    #[oai(status = 405)]
    MethodNotAllowed(ProblemBody),
    /// An unexpected fault; the cause is logged under the response's trace_id.
    #[oai(status = 500)]
    Internal(ProblemBody),
}

/// Problems any authenticated operation can answer with.
#[derive(Debug, ApiResponse)]
pub enum AuthenticatedErrors {
    /// The credential is missing or refused (`missing_token`, `invalid_token`,
    /// `expired_token`, `invalid_issuer`, `invalid_authorized_party`, `no_tenant`,
    /// `insufficient_scope`), or the origin is not allowed. Token problems carry
    /// `WWW-Authenticate`.
    #[oai(status = 403)]
    Forbidden(ProblemBody),
    /// The resource does not exist in the caller's tenant.
    #[oai(status = 404)]
    NotFound(ProblemBody),
    /// The caller's user or tenant rate limit is spent (`limit_type`); retry after
    /// `Retry-After` seconds.
    #[oai(status = 429)]
    TooManyRequests(ProblemBody),
    /// An unexpected fault; the cause is logged under the response's trace_id.
    #[oai(status = 500)]
    Internal(ProblemBody),
    /// A dependency (the database, the key server) is unavailable; retry after
    /// `Retry-After` seconds.
    #[oai(status = 503)]
    Unavailable(ProblemBody),
}

/// The 403 problem of a caller whose role may not do `action` ("Company settings"):
/// it names the role needed and the caller's.
pub fn role_refusal(action: &str, refusal: &otto_core::roles::RoleRequired) -> ProblemBody {
    problem(
        ProblemKind::Forbidden,
        format!("{}.", refusal.explain(action)),
    )
}

/// The 400 problem of the first time parameter outside years 1-9999
/// (`otto_core::validation::is_storable_time`), if any: chrono parses years far
/// beyond what a database stores.
pub fn time_out_of_range(
    parameters: &[(&str, Option<chrono::DateTime<chrono::Utc>>)],
) -> Option<ProblemBody> {
    parameters.iter().find_map(|(name, time)| {
        time.filter(|time| !otto_core::validation::is_storable_time(time))
            .map(|_| bad_parameter(name, otto_core::validation::STORABLE_TIME_EXPECTED))
    })
}

/// The 400 problem of a query or path parameter `name` that is invalid.
pub fn bad_parameter(name: &str, message: &str) -> ProblemBody {
    ProblemBody(ApiError {
        errors: Some(vec![FieldError {
            field: name.to_owned(),
            message: message.to_owned(),
        }]),
        ..ApiError::new(
            ProblemKind::BadRequest,
            format!("Parameter `{name}` is invalid: {message}"),
        )
    })
}

/// Items per page when a list operation is not given `limit`.
pub const DEFAULT_PAGE_SIZE: u32 = 25;

/// A list operation's `limit` (default [`DEFAULT_PAGE_SIZE`]), or the 400 problem of
/// one outside 1-100.
pub fn page_limit(limit: Option<u32>) -> Result<u32, ProblemBody> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if (1..=otto_core::calls::MAX_PAGE_SIZE).contains(&limit) {
        Ok(limit)
    } else {
        Err(bad_parameter("limit", "must be between 1 and 100"))
    }
}

/// A list operation's `cursor` decoded with `decode` (absent or empty: the first
/// page), or the 400 problem of one this API did not return.
pub fn page_cursor<C>(
    cursor: Option<String>,
    decode: fn(&str) -> Option<C>,
) -> Result<Option<C>, ProblemBody> {
    match cursor.as_deref() {
        None | Some("") => Ok(None),
        Some(text) => decode(text)
            .map(Some)
            .ok_or_else(|| bad_parameter("cursor", "not a cursor returned by this API")),
    }
}

/// Domain rule violations as the problem's field errors.
pub fn field_errors(invalid: Vec<otto_core::validation::InvalidField>) -> Vec<FieldError> {
    invalid
        .into_iter()
        .map(|invalid| FieldError {
            field: invalid.field.to_owned(),
            message: invalid.message,
        })
        .collect()
}

/// The 422 problem listing `errors`.
pub fn invalid_body(errors: Vec<FieldError>) -> ProblemBody {
    ProblemBody(ApiError::validation(errors))
}

/// A problem body of `kind`.
pub fn problem(kind: ProblemKind, detail: impl Into<String>) -> ProblemBody {
    ProblemBody(ApiError::new(kind, detail))
}

/// The answer to a storage failure: 503 when the store is unreachable (retry), 409 on
/// a conflicting write, else 500 with the cause logged.
pub fn store_failure(error: StoreError) -> AuthenticatedErrors {
    match error {
        StoreError::Unavailable(cause) => {
            tracing::warn!(error = %cause, "store unavailable");
            AuthenticatedErrors::Unavailable(ProblemBody(ApiError {
                retry_after: Some(2),
                ..ApiError::new(
                    ProblemKind::ServiceUnavailable,
                    "The database is unavailable; retry shortly.",
                )
            }))
        }
        StoreError::Conflict(cause) | StoreError::Internal(cause) => {
            tracing::error!(error = %cause, "store failure");
            AuthenticatedErrors::Internal(problem(
                ProblemKind::Internal,
                "An internal error occurred; quote the trace_id to support.",
            ))
        }
    }
}
