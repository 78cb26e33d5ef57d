//! The Redis limiter: one EVALSHA per decision.
//!
//! The GCRA step of both buckets runs in one Lua script, atomically: it reads both
//! TATs, decides, and stores both new TATs (each with an expiry at its TAT) only when
//! both buckets allow the request. The script is loaded once; on `NOSCRIPT` (a Redis
//! restart, a failover) it is loaded again and the call retried. The time comes from
//! Otto's clock, so every adapter decides alike on the same inputs.

use std::sync::Arc;

use async_trait::async_trait;
use fred::prelude::{Client, ClientLike, LuaInterface};
use fred::types::scripts::Script;
use otto_core::ports::Clock;
use otto_core::rate_limit::{
    BucketKeys, Cell, Decision, Quotas, RateLimitError, RateLimiter, Step,
};

use super::now_micros;

/// The decision script. KEYS: user bucket, tenant bucket. ARGV: now, then interval and
/// burst of each bucket (microseconds). Returns {allowed, user TAT, user new TAT,
/// tenant TAT, tenant new TAT}.
pub const GCRA_SCRIPT: &str = r#"
local now = tonumber(ARGV[1])
local function step(key, interval, burst)
  local tat = tonumber(redis.call('GET', key))
  if tat == nil or tat < now then tat = now end
  local new_tat = tat + interval
  return tat, new_tat, (new_tat - now) <= interval * burst
end
local user_tat, user_new, user_fits = step(KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
local tenant_tat, tenant_new, tenant_fits = step(KEYS[2], tonumber(ARGV[4]), tonumber(ARGV[5]))
local allowed = 0
if user_fits and tenant_fits then
  allowed = 1
  redis.call('SET', KEYS[1], string.format('%d', user_new), 'PX', math.max(1, math.ceil((user_new - now) / 1000)))
  redis.call('SET', KEYS[2], string.format('%d', tenant_new), 'PX', math.max(1, math.ceil((tenant_new - now) / 1000)))
end
return {allowed, string.format('%d', user_tat), string.format('%d', user_new), string.format('%d', tenant_tat), string.format('%d', tenant_new)}
"#;

/// The limiter; see the module docs.
pub struct RedisLimiter {
    client: Client,
    script: Script,
    key_prefix: String,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl RedisLimiter {
    /// A limiter over `client`, namespacing keys with `key_prefix` (`otto:rl:`).
    pub fn new(client: Client, key_prefix: &str, clock: Arc<dyn Clock>) -> Self {
        RedisLimiter {
            client,
            script: Script::from_lua(GCRA_SCRIPT),
            key_prefix: key_prefix.to_owned(),
            clock,
        }
    }

    /// The client (for readiness and connection state).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Decides at an explicit instant (the trait method uses the clock).
    pub async fn decide_at(
        &self,
        now_us: i64,
        keys: &BucketKeys,
        quotas: &Quotas,
    ) -> Result<Decision, RateLimitError> {
        let (user_cell, tenant_cell) = (Cell::of(quotas.user), Cell::of(quotas.tenant));
        let redis_keys = vec![
            format!("{}{}", self.key_prefix, keys.user),
            format!("{}{}", self.key_prefix, keys.tenant),
        ];
        let args = vec![
            now_us.to_string(),
            user_cell.interval_us.to_string(),
            user_cell.burst.to_string(),
            tenant_cell.interval_us.to_string(),
            tenant_cell.burst.to_string(),
        ];
        // `evalsha_with_reload` sends EVALSHA and, on NOSCRIPT, loads the script and retries.
        let reply: (i64, String, String, String, String) = self
            .script
            .evalsha_with_reload(&self.client, redis_keys, args)
            .await
            .map_err(|error| RateLimitError(error.to_string()))?;
        let number = |text: &str| {
            text.parse::<i64>()
                .map_err(|_| RateLimitError(format!("bad script reply `{text}`")))
        };
        let (allowed, user_tat, user_new, tenant_tat, tenant_new) = reply;
        let user = Step {
            tat_us: number(&user_tat)?,
            new_tat_us: number(&user_new)?,
            fits: true,
        };
        let tenant = Step {
            tat_us: number(&tenant_tat)?,
            new_tat_us: number(&tenant_new)?,
            fits: true,
        };
        // Which bucket refused is recomputed from the TATs, with the shared rule.
        let fits = |step: Step, cell: Cell| step.new_tat_us - now_us <= cell.tolerance_us();
        let user = Step {
            fits: fits(user, user_cell),
            ..user
        };
        let tenant = Step {
            fits: fits(tenant, tenant_cell),
            ..tenant
        };
        let (decision, _) = Decision::from_steps(now_us, user, tenant, quotas);
        if decision.allowed != (allowed == 1) {
            return Err(RateLimitError(
                "the script and the shared rule disagree".to_owned(),
            ));
        }
        Ok(decision)
    }

    /// Loads the script now, so the first decision is a single EVALSHA: on every
    /// primary of a cluster (a script loaded on one node is unknown to the others, and
    /// each of their first decisions paid a NOSCRIPT and a reload).
    pub async fn load_script(&self) -> Result<(), RateLimitError> {
        let loaded = if self.client.is_clustered() {
            self.client.script_load_cluster::<(), _>(GCRA_SCRIPT).await
        } else {
            self.client
                .script_load::<String, _>(GCRA_SCRIPT)
                .await
                .map(drop)
        };
        loaded.map_err(|error| RateLimitError(error.to_string()))
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, keys: &BucketKeys, quotas: &Quotas) -> Result<Decision, RateLimitError> {
        self.decide_at(now_micros(self.clock.as_ref()), keys, quotas)
            .await
    }
}
