//! Time and identity: injected so that behaviour depending on them is testable.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The current time. Services never call `Utc::now()` directly.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// New identifiers for rows, jobs and requests.
pub trait IdGenerator: Send + Sync + std::fmt::Debug {
    /// A new, unique identifier. Real generators return time-ordered UUIDv7 values so
    /// that primary keys are index-friendly.
    fn new_id(&self) -> Uuid;
}
