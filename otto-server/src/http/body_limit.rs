//! Refuses request bodies over OTTO_MAX_BODY_BYTES with a 413 problem, whether the
//! client declared the length or streamed the body chunked.

use poem::http::header;
use poem::{Body, Endpoint, Middleware, Request, Result};

use super::problem::{ApiError, ProblemKind};

/// The middleware; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit {
    max_bytes: usize,
}

impl BodyLimit {
    /// A limit of `max_bytes` per request body.
    pub fn new(max_bytes: usize) -> Self {
        BodyLimit { max_bytes }
    }

    fn too_large(self) -> poem::Error {
        ApiError::new(
            ProblemKind::PayloadTooLarge,
            format!(
                "The request body exceeds the limit of {} bytes.",
                self.max_bytes
            ),
        )
        .into()
    }
}

impl<E: Endpoint> Middleware<E> for BodyLimit {
    type Output = BodyLimitEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        BodyLimitEndpoint {
            inner,
            limit: *self,
        }
    }
}

/// The endpoint produced by [`BodyLimit`].
#[derive(Debug)]
pub struct BodyLimitEndpoint<E> {
    inner: E,
    limit: BodyLimit,
}

impl<E: Endpoint> Endpoint for BodyLimitEndpoint<E> {
    type Output = E::Output;

    async fn call(&self, mut request: Request) -> Result<Self::Output> {
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        match declared {
            Some(length) if length > self.limit.max_bytes as u64 => {
                return Err(self.limit.too_large());
            }
            // A declared length within the limit is enforced by the HTTP framing itself.
            Some(_) => {}
            None => {
                // Chunked (or unknown-length) body: read at most the limit, then put
                // the bytes back for the handler.
                let body = request.take_body();
                if !body.is_empty() {
                    let bytes =
                        body.into_bytes_limit(self.limit.max_bytes)
                            .await
                            .map_err(|error| {
                                if matches!(error, poem::error::ReadBodyError::PayloadTooLarge) {
                                    self.limit.too_large()
                                } else {
                                    poem::Error::from(error)
                                }
                            })?;
                    request.set_body(Body::from_bytes(bytes));
                }
            }
        }
        self.inner.call(request).await
    }
}
