//! RFC 9457 problem details: the one place where errors become HTTP responses.
//!
//! Handlers and middleware raise [`ApiError`]s (or poem's own errors); the
//! [`problems`](crate::http::problems) middleware turns every error into an
//! `application/problem+json` response carrying the request's `trace_id`.

use poem::http::StatusCode;
use poem::{IntoResponse, Response};
use poem_openapi::Object;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

/// The media type of every error body.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldError {
    /// Where the field is: a JSON path such as `settings.quiet_hours.start`, or a
    /// parameter name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct Problem {
    /// A URI reference naming the kind of problem (`/problems/not_found`).
    #[oai(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request, for a human.
    pub detail: String,
    /// The path of the request that failed.
    pub instance: String,
    /// The request's trace id, also sent as `X-Request-Id`; quote it to support.
    pub trace_id: String,
    /// For validation problems: each invalid field.
    #[oai(skip_serializing_if_is_none)]
    pub errors: Option<Vec<FieldError>>,
    /// For 429 problems: seconds to wait before retrying.
    #[oai(skip_serializing_if_is_none)]
    pub retry_after: Option<u64>,
    /// For 429 problems: the bucket that was exhausted, `user` or `tenant`.
    #[oai(skip_serializing_if_is_none)]
    pub limit_type: Option<String>,
}

/// Every kind of problem Otto answers with. Its `type` is `/problems/{slug}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// 400: the request could not be read (malformed JSON, bad parameter syntax).
    BadRequest,
    /// 401: missing or invalid credentials or signature.
    Unauthorized,
    /// 403: the request is understood but not allowed (origin, tenant).
    Forbidden,
    /// 403: the browser origin is not in ALLOWED_ORIGINS.
    OriginNotAllowed,
    /// 404: nothing at this path.
    NotFound,
    /// 405: the path exists but not with this method.
    MethodNotAllowed,
    /// 403: no credential was presented.
    MissingToken,
    /// 403: the credential is malformed, forged or signed with an unknown key.
    InvalidToken,
    /// 403: the credential has expired; refresh it.
    ExpiredToken,
    /// 403: the credential was issued by an unexpected issuer.
    InvalidIssuer,
    /// 403: the credential was issued to another application (`azp`).
    InvalidAuthorizedParty,
    /// 403: the credential is valid but names no organization.
    NoTenant,
    /// 403: the credential is valid but restricted so that it does not allow this.
    InsufficientScope,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 413: the body is larger than OTTO_MAX_BODY_BYTES.
    PayloadTooLarge,
    /// 415: the body's media type is not accepted here.
    UnsupportedMediaType,
    /// 422: the body was read but its content is invalid.
    ValidationFailed,
    /// 429: a rate limit was hit.
    TooManyRequests,
    /// 500: a fault on Otto's side; the cause is logged, not returned.
    Internal,
    /// 503: a dependency is down; retry later.
    ServiceUnavailable,
    /// 502: a provider Otto called refused or failed.
    BadGateway,
}

impl ProblemKind {
    /// The status code.
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::BadRequest => StatusCode::BAD_REQUEST,
            ProblemKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden
            | ProblemKind::OriginNotAllowed
            | ProblemKind::MissingToken
            | ProblemKind::InvalidToken
            | ProblemKind::ExpiredToken
            | ProblemKind::InvalidIssuer
            | ProblemKind::InvalidAuthorizedParty
            | ProblemKind::NoTenant
            | ProblemKind::InsufficientScope => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Conflict => StatusCode::CONFLICT,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::ValidationFailed => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemKind::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::BadGateway => StatusCode::BAD_GATEWAY,
        }
    }

    /// The stable identifier, used in the `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "bad_request",
            ProblemKind::Unauthorized => "unauthorized",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::OriginNotAllowed => "origin_not_allowed",
            ProblemKind::NotFound => "not_found",
            ProblemKind::MethodNotAllowed => "method_not_allowed",
            ProblemKind::MissingToken => "missing_token",
            ProblemKind::InvalidToken => "invalid_token",
            ProblemKind::ExpiredToken => "expired_token",
            ProblemKind::InvalidIssuer => "invalid_issuer",
            ProblemKind::InvalidAuthorizedParty => "invalid_authorized_party",
            ProblemKind::NoTenant => "no_tenant",
            ProblemKind::InsufficientScope => "insufficient_scope",
            ProblemKind::Conflict => "conflict",
            ProblemKind::PayloadTooLarge => "payload_too_large",
            ProblemKind::UnsupportedMediaType => "unsupported_media_type",
            ProblemKind::ValidationFailed => "validation_failed",
            ProblemKind::TooManyRequests => "too_many_requests",
            ProblemKind::Internal => "internal_error",
            ProblemKind::ServiceUnavailable => "service_unavailable",
            ProblemKind::BadGateway => "bad_gateway",
        }
    }

    /// The `type` URI: the RFC 6585 section for 429 (as the original service sent it),
    /// `/problems/{slug}` for everything else.
    pub fn type_uri(self) -> String {
        match self {
            ProblemKind::TooManyRequests => {
                "https://tools.ietf.org/html/rfc6585#section-4".to_owned()
            }
            other => format!("/problems/{}", other.slug()),
        }
    }

    /// The title shown for every problem of this kind.
    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::BadRequest => "Bad Request",
            ProblemKind::Unauthorized => "Unauthorized",
            ProblemKind::Forbidden => "Forbidden",
            ProblemKind::OriginNotAllowed => "Origin Not Allowed",
            ProblemKind::NotFound => "Not Found",
            ProblemKind::MethodNotAllowed => "Method Not Allowed",
            ProblemKind::MissingToken => "Missing Token",
            ProblemKind::InvalidToken => "Invalid Token",
            ProblemKind::ExpiredToken => "Expired Token",
            ProblemKind::InvalidIssuer => "Invalid Issuer",
            ProblemKind::InvalidAuthorizedParty => "Invalid Authorized Party",
            ProblemKind::NoTenant => "No Tenant",
            ProblemKind::InsufficientScope => "Insufficient Scope",
            ProblemKind::Conflict => "Conflict",
            ProblemKind::PayloadTooLarge => "Payload Too Large",
            ProblemKind::UnsupportedMediaType => "Unsupported Media Type",
            ProblemKind::ValidationFailed => "Validation Failed",
            ProblemKind::TooManyRequests => "Too Many Requests",
            ProblemKind::Internal => "Internal Server Error",
            ProblemKind::ServiceUnavailable => "Service Unavailable",
            ProblemKind::BadGateway => "Bad Gateway",
        }
    }
}

/// An error a handler or middleware raises; becomes a [`Problem`] in one place.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct ApiError {
    /// The kind of problem.
    pub kind: ProblemKind,
    /// What went wrong, safe to show the client.
    pub detail: String,
    /// Invalid fields, for validation problems.
    pub errors: Option<Vec<FieldError>>,
    /// Seconds to wait, for 429 and 503.
    pub retry_after: Option<u64>,
    /// A `WWW-Authenticate` challenge, for credential problems.
    pub challenge: Option<String>,
    /// For 429: the exhausted bucket (`user`, `tenant`).
    pub limit_type: Option<&'static str>,
}

impl ApiError {
    /// A problem of `kind` with a client-safe `detail`.
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        ApiError {
            kind,
            detail: detail.into(),
            errors: None,
            retry_after: None,
            challenge: None,
            limit_type: None,
        }
    }

    /// A 422 listing the invalid fields.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [single] => format!("`{}` is invalid: {}", single.field, single.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        ApiError {
            errors: Some(errors),
            ..ApiError::new(ProblemKind::ValidationFailed, detail)
        }
    }

    /// The problem body for a request with this trace id and path.
    pub fn to_problem(&self, trace_id: &str, instance: &str) -> Problem {
        Problem {
            problem_type: self.kind.type_uri(),
            title: self.kind.title().to_owned(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            instance: instance.to_owned(),
            trace_id: trace_id.to_owned(),
            errors: self.errors.clone(),
            retry_after: self.retry_after,
            limit_type: self.limit_type.map(str::to_owned),
        }
    }
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        self.kind.status()
    }
}

/// Renders an error as the problem response for a request with this trace id and path.
pub fn render_error(error: &ApiError, trace_id: &str, instance: &str) -> Response {
    let mut response = problem_response(&error.to_problem(trace_id, instance));
    if let Some(challenge) = error
        .challenge
        .as_deref()
        .and_then(|text| text.parse().ok())
    {
        response
            .headers_mut()
            .insert(poem::http::header::WWW_AUTHENTICATE, challenge);
    }
    response
}

/// Renders a problem as an `application/problem+json` response.
pub fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder()
        .status(status)
        .content_type(PROBLEM_CONTENT_TYPE)
        .body(problem.to_json_string());
    if let Some(seconds) = problem.retry_after {
        response
            .headers_mut()
            .insert(poem::http::header::RETRY_AFTER, seconds.into());
    }
    response
}

/// A problem as an OpenAPI response payload, so that every operation documents its
/// errors with the `application/problem+json` media type and the [`Problem`] schema.
///
/// Handlers return it inside their error enums; it renders with the trace id of the
/// request being served.
#[derive(Debug, Clone)]
pub struct ProblemBody(pub ApiError);

impl Payload for ProblemBody {
    const CONTENT_TYPE: &'static str = PROBLEM_CONTENT_TYPE;

    fn schema_ref() -> MetaSchemaRef {
        Problem::schema_ref()
    }

    fn register(registry: &mut Registry) {
        Problem::register(registry);
    }
}

impl IntoResponse for ProblemBody {
    fn into_response(self) -> Response {
        let context = super::request_context::current();
        let (trace_id, instance) = context
            .as_ref()
            .map(|context| (context.request_id.as_ref(), context.path.as_ref()))
            .unwrap_or_default();
        render_error(&self.0, trace_id, instance)
    }
}
