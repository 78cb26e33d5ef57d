//! Middleware turning every error, from any layer, into a problem details response.

use poem::error::{MethodNotAllowedError, NotFoundError, ReadBodyError};
use poem::http::StatusCode;
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};
use poem_openapi::error::{
    ContentTypeError, ParseParamError, ParsePathError, ParseRequestPayloadError,
};

use std::sync::Arc;

use super::problem::{ApiError, FieldError, ProblemKind, render_error};
use super::request_context::RequestContext;
use super::route_names::RouteNames;

/// Classifies an error into a client-safe [`ApiError`]. Server faults keep their
/// cause out of the response (it is logged instead).
pub fn classify(error: &poem::Error, routes: &RouteNames) -> ApiError {
    if let Some(api_error) = error.downcast_ref::<ApiError>() {
        return api_error.clone();
    }
    if error.is::<NotFoundError>() {
        return ApiError::new(ProblemKind::NotFound, "No resource exists at this path.");
    }
    if error.is::<MethodNotAllowedError>() {
        return ApiError::new(
            ProblemKind::MethodNotAllowed,
            "This path does not support the request's method.",
        );
    }
    if let Some(payload) = error.downcast_ref::<ParseRequestPayloadError>() {
        return ApiError::new(
            ProblemKind::BadRequest,
            format!("The request body could not be read: {}", payload.reason),
        );
    }
    if let Some(content_type) = error.downcast_ref::<ContentTypeError>() {
        return ApiError::new(ProblemKind::UnsupportedMediaType, content_type.to_string());
    }
    if let Some(param) = error.downcast_ref::<ParseParamError>() {
        return parameter_error(param.name, &param.reason);
    }
    if let Some(path) = error.downcast_ref::<ParsePathError>() {
        // poem-openapi names path parameters `param0`, `param1`, ... internally.
        let position = path
            .name
            .strip_prefix("param")
            .and_then(|index| index.parse::<usize>().ok());
        let documented = error
            .data::<poem::PathPattern>()
            .zip(position)
            .and_then(|(pattern, position)| routes.parameter(&pattern.0, position));
        return parameter_error(documented.as_deref().unwrap_or(path.name), &path.reason);
    }
    if let Some(ReadBodyError::PayloadTooLarge) = error.downcast_ref::<ReadBodyError>() {
        return ApiError::new(
            ProblemKind::PayloadTooLarge,
            "The request body is larger than this server accepts.",
        );
    }
    let status = error.status();
    match status {
        StatusCode::UNAUTHORIZED => {
            ApiError::new(ProblemKind::Unauthorized, "Authentication is required.")
        }
        StatusCode::FORBIDDEN => {
            ApiError::new(ProblemKind::Forbidden, "This request is not allowed.")
        }
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            ProblemKind::PayloadTooLarge,
            "The request body is larger than this server accepts.",
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ApiError::new(ProblemKind::UnsupportedMediaType, error.to_string())
        }
        StatusCode::SERVICE_UNAVAILABLE => ApiError::new(
            ProblemKind::ServiceUnavailable,
            "A dependency is unavailable; retry later.",
        ),
        status if status.is_client_error() => {
            ApiError::new(ProblemKind::BadRequest, error.to_string())
        }
        _ => ApiError::new(
            ProblemKind::Internal,
            "An internal error occurred; quote the trace_id to support.",
        ),
    }
}

fn parameter_error(name: &str, reason: &str) -> ApiError {
    ApiError {
        errors: Some(vec![FieldError {
            field: name.to_owned(),
            message: reason.to_owned(),
        }]),
        ..ApiError::new(
            ProblemKind::BadRequest,
            format!("Parameter `{name}` is invalid: {reason}"),
        )
    }
}

/// Renders `api_error` for `request_path`, in the context of the current request.
pub fn render(
    api_error: &ApiError,
    context: Option<&RequestContext>,
    request_path: &str,
) -> Response {
    let trace_id = context
        .map(|context| context.request_id.as_ref())
        .unwrap_or_default();
    render_error(api_error, trace_id, request_path)
}

/// The middleware; see the module docs.
#[derive(Debug, Clone, Default)]
pub struct Problems {
    routes: Arc<RouteNames>,
}

impl Problems {
    /// Problems naming parameters as `routes` documents them.
    pub fn new(routes: Arc<RouteNames>) -> Self {
        Problems { routes }
    }
}

impl<E: Endpoint> Middleware<E> for Problems {
    type Output = ProblemsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        ProblemsEndpoint {
            inner,
            routes: self.routes.clone(),
        }
    }
}

/// The endpoint produced by [`Problems`].
#[derive(Debug)]
pub struct ProblemsEndpoint<E> {
    inner: E,
    routes: Arc<RouteNames>,
}

impl<E: Endpoint> Endpoint for ProblemsEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Response> {
        let context = request.data::<RequestContext>().cloned();
        let path = request.uri().path().to_owned();
        let error = match self.inner.call(request).await {
            Ok(output) => return Ok(output.into_response()),
            // Documented problems (`ProblemBody`) arrive already rendered.
            Err(error) if error.is_from_response() => return Ok(error.into_response()),
            Err(error) => error,
        };
        let api_error = classify(&error, &self.routes);
        if api_error.kind == ProblemKind::Internal {
            tracing::error!(error = %error, cause = ?error, "request failed with an internal error");
        }
        let mut rendered = render(&api_error, context.as_ref(), &path);
        // Keep the matched route pattern for the metrics layer's label.
        if let Some(pattern) = error.data::<poem::PathPattern>() {
            rendered.set_data(pattern.clone());
        }
        Ok(rendered)
    }
}
