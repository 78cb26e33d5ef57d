//! Readiness: can this process serve traffic right now?

use async_trait::async_trait;

/// Why a dependency is not ready.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// The dependency answered with an error or could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The dependency did not answer in time.
    #[error("timed out")]
    TimedOut,
}

/// A dependency whose health decides whether Otto is ready (a database, Redis).
///
/// Implementations must be cheap (one round trip) because `/ready` calls every probe
/// on each request; callers bound each check with a timeout of their own.
#[async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// The component name shown in the readiness report (`database`, `redis`).
    fn component(&self) -> &'static str;

    /// Succeeds when the dependency answers.
    async fn check(&self) -> Result<(), ProbeError>;
}
