//! The system clock and id generator.

use chrono::{DateTime, Utc};
use otto_core::ports::{Clock, IdGenerator};
use uuid::Uuid;

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Time-ordered UUIDv7 ids: unique, and friendly to B-tree indexes.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use otto_testkit::contracts;

    #[test]
    fn system_adapters_honour_the_contracts() {
        contracts::clock_is_monotonic_between_reads(&SystemClock);
        contracts::id_generator_yields_unique_ids(&UuidV7Ids);
    }
}
