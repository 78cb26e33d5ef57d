//! The API's operations, one module per resource group, and the shared error
//! response sets that document their problems in the OpenAPI document.

pub mod system;

use poem_openapi::{ApiResponse, Tags};

use super::problem::ProblemBody;

/// OpenAPI tags.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Liveness, readiness and metrics: unauthenticated and never rate-limited.
    System,
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
