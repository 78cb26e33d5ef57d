//! CORS from ALLOWED_ORIGINS: allowed origins are echoed with credentials, never `*`;
//! a request or preflight from any other origin is refused with a 403 problem.
//! Requests without an `Origin` header (servers, webhooks) pass untouched.

use std::sync::Arc;
use std::time::Duration;

use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

pub use otto_core::origin::{OriginPattern, is_allowed};

use super::problem::{ApiError, ProblemKind};
use super::problems::render;
use super::request_context::RequestContext;

/// Methods a browser may use.
pub const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";
/// Request headers a browser may send.
pub const ALLOWED_HEADERS: &str =
    "Authorization, Content-Type, Accept, X-Request-Id, Idempotency-Key, traceparent, tracestate";
/// Response headers a browser script may read.
pub const EXPOSED_HEADERS: &str = "X-Request-Id, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, \
     X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Idempotent-Replayed, Location";

/// The CORS policy.
#[derive(Debug, Clone)]
pub struct Cors {
    allowed: Arc<Vec<OriginPattern>>,
    max_age: Duration,
}

impl Cors {
    /// A policy allowing `allowed`, with preflights cacheable for `max_age`.
    pub fn new(allowed: Vec<OriginPattern>, max_age: Duration) -> Self {
        Cors {
            allowed: Arc::new(allowed),
            max_age,
        }
    }
}

impl<E: Endpoint> Middleware<E> for Cors {
    type Output = CorsEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        CorsEndpoint {
            inner,
            policy: self.clone(),
        }
    }
}

/// The endpoint produced by [`Cors`].
#[derive(Debug)]
pub struct CorsEndpoint<E> {
    inner: E,
    policy: Cors,
}

fn is_preflight(request: &Request) -> bool {
    request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

fn add_vary(response: &mut Response, value: &'static str) {
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static(value));
}

impl<E: Endpoint> Endpoint for CorsEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Response> {
        let Some(origin) = request.headers().get(header::ORIGIN).cloned() else {
            return self
                .inner
                .call(request)
                .await
                .map(IntoResponse::into_response);
        };
        let allowed = origin
            .to_str()
            .is_ok_and(|origin| is_allowed(&self.policy.allowed, origin));
        if !allowed {
            let refusal = ApiError::new(
                ProblemKind::OriginNotAllowed,
                "This origin is not allowed to call the API (see ALLOWED_ORIGINS).",
            );
            let mut response = render(
                &refusal,
                request.data::<RequestContext>(),
                request.uri().path(),
            );
            add_vary(&mut response, "Origin");
            return Ok(response);
        }

        let mut response = if is_preflight(&request) {
            let mut response = Response::builder().status(StatusCode::NO_CONTENT).finish();
            let headers = response.headers_mut();
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            headers.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                self.policy.max_age.as_secs().into(),
            );
            add_vary(&mut response, "Access-Control-Request-Method");
            add_vary(&mut response, "Access-Control-Request-Headers");
            response
        } else {
            let mut response = self
                .inner
                .call(request)
                .await
                .map(IntoResponse::into_response)?;
            response.headers_mut().insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED_HEADERS),
            );
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        add_vary(&mut response, "Origin");
        Ok(response)
    }
}
