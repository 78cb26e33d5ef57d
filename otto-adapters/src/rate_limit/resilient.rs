//! Redis first, in-process when Redis cannot answer in time.
//!
//! A decision goes to Redis when the client is connected, bounded by a short timeout
//! (tens of milliseconds). When Redis is disconnected, slow or failing, the decision is
//! made in-process instead and marked `degraded`; the failure is logged at most once
//! per interval, not per request. No request fails because Redis failed, and decisions
//! return to Redis by themselves once the client reconnects.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fred::prelude::ClientLike;
use otto_core::rate_limit::{BucketKeys, Decision, Quotas, RateLimitError, RateLimiter};

use super::{InProcessLimiter, RedisLimiter};

/// Least time between two "falling back" log lines.
const LOG_INTERVAL: Duration = Duration::from_secs(30);

/// The pair; see the module docs.
pub struct ResilientLimiter {
    primary: RedisLimiter,
    fallback: InProcessLimiter,
    timeout: Duration,
    last_logged: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for ResilientLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResilientLimiter")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ResilientLimiter {
    /// Redis with `fallback`, giving Redis `timeout` per decision.
    pub fn new(primary: RedisLimiter, fallback: InProcessLimiter, timeout: Duration) -> Self {
        ResilientLimiter {
            primary,
            fallback,
            timeout,
            last_logged: Mutex::new(None),
        }
    }

    fn log_fallback(&self, reason: &str) {
        let mut last = self
            .last_logged
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|logged| logged.elapsed() >= LOG_INTERVAL) {
            *last = Some(Instant::now());
            tracing::warn!(
                reason,
                "Redis rate limiting unavailable; deciding in-process until it recovers"
            );
        }
    }
}

#[async_trait]
impl RateLimiter for ResilientLimiter {
    async fn check(&self, keys: &BucketKeys, quotas: &Quotas) -> Result<Decision, RateLimitError> {
        let failure = if self.primary.client().is_connected() {
            match tokio::time::timeout(self.timeout, self.primary.check(keys, quotas)).await {
                Ok(Ok(decision)) => return Ok(decision),
                Ok(Err(error)) => error.0,
                Err(_) => format!("no answer within {:?}", self.timeout),
            }
        } else {
            "not connected".to_owned()
        };
        self.log_fallback(&failure);
        let decision = self.fallback.check(keys, quotas).await?;
        Ok(Decision {
            degraded: true,
            ..decision
        })
    }
}
