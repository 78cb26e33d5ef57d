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
///
/// Adapters: `otto_adapters::database::DatabaseProbe`, `otto_adapters::redis::RedisProbe`.
/// Fake: `otto_testkit::SwitchableProbe`, which a test switches up and down:
///
/// ```
/// use otto_core::ports::{ProbeError, ReadinessProbe};
/// use otto_testkit::SwitchableProbe;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let database = SwitchableProbe::up("database");
/// assert_eq!(database.component(), "database");
/// assert_eq!(database.check().await, Ok(()));
/// database.set_up(false);
/// // Down: `/ready` reports the component as unavailable, with the reason.
/// assert!(matches!(database.check().await, Err(ProbeError::Unavailable(_))));
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait ReadinessProbe: Send + Sync {
    /// The component name shown in the readiness report (`database`, `redis`).
    fn component(&self) -> &'static str;

    /// Succeeds when the dependency answers.
    async fn check(&self) -> Result<(), ProbeError>;
}
