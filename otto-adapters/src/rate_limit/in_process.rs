//! The in-process limiter: GCRA over sharded maps.
//!
//! Both keys of a decision carry the tenant hash tag, and shards are chosen by that
//! tag, so a decision locks exactly one shard (as one Redis Cluster slot serves both
//! keys). Memory is bounded: a bucket whose TAT has passed is idle and is dropped
//! when its shard is swept, and a shard over its capacity drops the buckets that
//! would be idle soonest.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use otto_core::ports::Clock;
use otto_core::rate_limit::{
    BucketKeys, Cell, Decision, Quotas, RateLimitError, RateLimiter, step,
};

use super::now_micros;

const SHARDS: usize = 32;

#[derive(Debug, Default)]
struct Shard {
    /// Bucket key → TAT (microseconds).
    tats: HashMap<String, i64>,
}

impl Shard {
    /// Drops idle buckets; then, if still over `capacity`, the ones idle soonest.
    fn sweep(&mut self, now_us: i64, capacity: usize) {
        self.tats.retain(|_, tat| *tat > now_us);
        if self.tats.len() > capacity {
            let mut by_tat: Vec<(i64, String)> = self
                .tats
                .iter()
                .map(|(key, tat)| (*tat, key.clone()))
                .collect();
            by_tat.sort_unstable();
            for (_, key) in by_tat.into_iter().take(self.tats.len() - capacity) {
                self.tats.remove(&key);
            }
        }
    }
}

/// The limiter; see the module docs.
pub struct InProcessLimiter {
    shards: Vec<Mutex<Shard>>,
    capacity_per_shard: usize,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for InProcessLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InProcessLimiter")
            .field("buckets", &self.len())
            .finish_non_exhaustive()
    }
}

impl InProcessLimiter {
    /// A limiter holding at most about `max_buckets` buckets.
    pub fn new(max_buckets: usize, clock: Arc<dyn Clock>) -> Self {
        InProcessLimiter {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            capacity_per_shard: (max_buckets / SHARDS).max(2),
            clock,
        }
    }

    /// Buckets currently held (idle ones included until their shard is swept).
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|shard| {
                shard
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .tats
                    .len()
            })
            .sum()
    }

    /// Whether no bucket is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every idle bucket now (also happens on its own as shards fill).
    pub fn sweep(&self) {
        let now_us = now_micros(self.clock.as_ref());
        for shard in &self.shards {
            shard
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .sweep(now_us, self.capacity_per_shard);
        }
    }

    fn shard_of(&self, keys: &BucketKeys) -> &Mutex<Shard> {
        let mut hasher = DefaultHasher::new();
        keys.hash_tag().hash(&mut hasher);
        &self.shards[(hasher.finish() as usize) % SHARDS]
    }

    /// Decides at an explicit instant (the trait method uses the clock).
    pub fn decide_at(&self, now_us: i64, keys: &BucketKeys, quotas: &Quotas) -> Decision {
        let mut shard = self
            .shard_of(keys)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let user = step(
            now_us,
            shard
                .tats
                .get(&keys.user)
                .copied()
                .filter(|tat| *tat > now_us),
            Cell::of(quotas.user),
        );
        let tenant = step(
            now_us,
            shard
                .tats
                .get(&keys.tenant)
                .copied()
                .filter(|tat| *tat > now_us),
            Cell::of(quotas.tenant),
        );
        let (decision, store) = Decision::from_steps(now_us, user, tenant, quotas);
        if store {
            shard.tats.insert(keys.user.clone(), user.new_tat_us);
            shard.tats.insert(keys.tenant.clone(), tenant.new_tat_us);
            if shard.tats.len() > self.capacity_per_shard {
                shard.sweep(now_us, self.capacity_per_shard);
            }
        }
        decision
    }
}

#[async_trait]
impl RateLimiter for InProcessLimiter {
    async fn check(&self, keys: &BucketKeys, quotas: &Quotas) -> Result<Decision, RateLimitError> {
        Ok(self.decide_at(now_micros(self.clock.as_ref()), keys, quotas))
    }
}
