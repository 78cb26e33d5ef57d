//! Bounds each request, from its headers to its answer, by OTTO_REQUEST_TIMEOUT_SECONDS.
//!
//! A client that trickles its body, or a request stuck behind a slow dependency,
//! otherwise holds its connection and its task for as long as it likes. Past the
//! deadline the work is dropped (a webhook's transaction rolls back, so nothing is
//! half-recorded) and the answer is a 503 problem: a provider retries it, a client
//! may too.

use std::time::Duration;

use poem::{Endpoint, IntoResponse, Middleware, Request, Response, Result};

use super::problem::{ApiError, ProblemKind};

/// The middleware; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    limit: Duration,
}

impl Deadline {
    /// Requests get `limit` each.
    pub fn new(limit: Duration) -> Self {
        Deadline { limit }
    }
}

impl<E: Endpoint> Middleware<E> for Deadline {
    type Output = DeadlineEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        DeadlineEndpoint {
            inner,
            limit: self.limit,
        }
    }
}

/// The endpoint produced by [`Deadline`].
#[derive(Debug)]
pub struct DeadlineEndpoint<E> {
    inner: E,
    limit: Duration,
}

impl<E: Endpoint> Endpoint for DeadlineEndpoint<E> {
    type Output = Response;

    async fn call(&self, request: Request) -> Result<Self::Output> {
        match tokio::time::timeout(self.limit, self.inner.call(request)).await {
            Ok(answer) => answer.map(IntoResponse::into_response),
            Err(_) => {
                tracing::warn!(
                    timeout_seconds = self.limit.as_secs(),
                    "request exceeded its deadline"
                );
                Err(ApiError::new(
                    ProblemKind::ServiceUnavailable,
                    format!(
                        "The request did not complete within {} seconds and was abandoned. \
                         Retry.",
                        self.limit.as_secs()
                    ),
                )
                .into())
            }
        }
    }
}
