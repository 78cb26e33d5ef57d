//! Time and identity: injected so that behaviour depending on them is testable.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The current time. Services never call `Utc::now()` directly.
///
/// Adapter: `otto_adapters::system::SystemClock`. Fake: `otto_testkit::ManualClock`,
/// which moves only when a test moves it:
///
/// ```
/// use otto_core::ports::Clock;
/// use otto_testkit::ManualClock;
///
/// let clock = ManualClock::at("2026-12-06T23:59:00Z");
/// clock.advance(std::time::Duration::from_secs(120));
/// assert_eq!(clock.now().to_rfc3339(), "2026-12-07T00:01:00+00:00");
/// ```
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant in UTC.
    fn now(&self) -> DateTime<Utc>;
}

/// New identifiers for rows, jobs and requests.
///
/// Adapter: `otto_adapters::system::UuidV7Ids`. Fake: `otto_testkit::SequentialIds`,
/// which counts from 1 so that assertions can name the ids:
///
/// ```
/// use otto_core::ports::IdGenerator;
/// use otto_testkit::SequentialIds;
///
/// let ids = SequentialIds::default();
/// let first = ids.new_id();
/// assert_eq!(first.to_string(), "00000000-0000-0000-0000-000000000001");
/// // Never the same id twice.
/// assert_ne!(ids.new_id(), first);
/// ```
pub trait IdGenerator: Send + Sync + std::fmt::Debug {
    /// A new, unique identifier. Real generators return time-ordered UUIDv7 values so
    /// that primary keys are index-friendly.
    fn new_id(&self) -> Uuid;
}
