//! When a failed job runs again: exponential backoff with jitter, up to a maximum
//! number of attempts.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use uuid::Uuid;

/// The retry policy of a worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts (leases) a job gets; after the last failure it is dead.
    pub max_attempts: u32,
    /// Delay after the first failure (before jitter).
    pub base_delay: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// Eight attempts over about an hour and a half: 30 s, 1 m, 2 m, ... capped at
    /// 30 m.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(30 * 60),
        }
    }
}

impl RetryPolicy {
    /// Whether a job that failed on attempt `attempt` may run again.
    pub fn allows_another(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }

    /// The delay after attempt `attempt` (1-based) of job `job` failed:
    /// `base * 2^(attempt-1)`, capped at `max_delay`, then scaled into its upper half
    /// by a jitter derived from the job and attempt. The jitter spreads jobs that
    /// failed together (a provider outage) so they do not all return at once, and is
    /// deterministic so that a retry schedule can be asserted.
    pub fn delay(&self, job: Uuid, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max_delay);
        let mut hasher = DefaultHasher::new();
        (job, attempt).hash(&mut hasher);
        let fraction = 0.5 + (hasher.finish() % 1_000) as f64 / 2_000.0;
        exponential.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
        }
    }

    #[test]
    fn delays_double_within_their_jitter_band_and_stop_at_the_cap() {
        let job = Uuid::from_u128(7);
        for (attempt, full) in [(1, 10), (2, 20), (3, 40), (4, 60), (9, 60), (40, 60)] {
            let delay = policy().delay(job, attempt);
            let full = Duration::from_secs(full);
            assert!(
                delay >= full / 2 && delay <= full,
                "attempt {attempt}: {delay:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
    }

    #[test]
    fn jitter_spreads_jobs_that_failed_together() {
        let delays: std::collections::BTreeSet<Duration> = (0..50u128)
            .map(|n| policy().delay(Uuid::from_u128(n), 3))
            .collect();
        assert!(delays.len() > 25, "only {} distinct delays", delays.len());
        assert_eq!(
            policy().delay(Uuid::from_u128(1), 3),
            policy().delay(Uuid::from_u128(1), 3),
            "deterministic"
        );
    }

    #[test]
    fn the_last_attempt_allows_no_other() {
        assert!(policy().allows_another(4));
        assert!(!policy().allows_another(5));
        assert!(!policy().allows_another(6));
    }
}
