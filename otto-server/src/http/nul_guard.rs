//! Refuses a request whose path or query holds an encoded NUL character (`%00`) with
//! a 400 problem, before any route reads it.
//!
//! No parameter of Otto's takes a NUL, and PostgreSQL refuses it in every text
//! column, so a `%00` that reached a query would fail there as a 500. The raw URI is
//! checked, not each decoded parameter: a decoded NUL can only come from `%00`, since
//! a URI cannot carry a literal one. (JSON bodies are checked in
//! [`json_body`](super::json_body); webhook bodies are the provider's record and are
//! stored without their NULs by `otto_core::webhooks::Payload`.)

use poem::{Request, Result};

use super::problem::{ApiError, ProblemKind};

/// Passes `request` on unless its path or query holds `%00`.
pub async fn refuse_nul(request: Request) -> Result<Request> {
    let uri = request.uri();
    let part = if uri.path().contains("%00") {
        Some("path")
    } else if uri.query().is_some_and(|query| query.contains("%00")) {
        Some("query")
    } else {
        None
    };
    match part {
        Some(part) => Err(ApiError::new(
            ProblemKind::BadRequest,
            format!(
                "The request's {part} holds a NUL character (%00), which no parameter accepts."
            ),
        )
        .into()),
        None => Ok(request),
    }
}
