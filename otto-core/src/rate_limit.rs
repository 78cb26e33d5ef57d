//! Rate limiting: one decision against a user bucket and a tenant bucket at once.
//!
//! ## Algorithm: GCRA (generic cell rate algorithm)
//!
//! A limit of `N` per period `P` has an emission interval `T = P / N`. Each bucket keeps
//! one number, its *theoretical arrival time* (TAT): the instant at which the bucket
//! would be empty again if no more requests came. A request at `now`:
//!
//! 1. `tat = max(stored TAT, now)` (an idle bucket starts from now);
//! 2. `new_tat = tat + T`;
//! 3. allowed iff `new_tat - now <= N * T`, i.e. the request fits in a burst of `N`.
//!
//! An idle bucket therefore allows a full burst of `N`, then one request every `T`. A
//! denied request may retry after exactly `new_tat - N * T - now`. A decision is
//! allowed only if *both* buckets allow it, and then both store their `new_tat`; a
//! denied decision stores nothing, so it consumes from neither bucket. A bucket's key
//! may expire once `now >= TAT` (it is then indistinguishable from an idle bucket).
//!
//! The same arithmetic runs in the in-process adapter and, as a Lua script, in Redis;
//! one contract suite checks that both decide alike. Times are integer microseconds.

use std::time::Duration;

use async_trait::async_trait;

use crate::rate::Rate;
use crate::tenancy::Principal;

/// Which bucket a limit applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitType {
    /// One user within one tenant.
    User,
    /// A whole tenant.
    Tenant,
}

impl LimitType {
    /// The stable lowercase name (`user`, `tenant`), used in metrics and problems.
    pub fn as_str(self) -> &'static str {
        match self {
            LimitType::User => "user",
            LimitType::Tenant => "tenant",
        }
    }
}

/// The two bucket keys of a decision. The tenant id is wrapped in `{...}`, a Redis
/// Cluster hash tag, so both keys always live in the same slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketKeys {
    /// `tenant:{tenant_id}:user:{user_id}`
    pub user: String,
    /// `tenant:{tenant_id}`
    pub tenant: String,
}

impl BucketKeys {
    /// The keys of a principal's buckets.
    pub fn of(principal: &Principal) -> Self {
        let tenant = principal.tenant_id.as_str();
        BucketKeys {
            user: format!("tenant:{{{tenant}}}:user:{}", principal.user_id.as_str()),
            tenant: format!("tenant:{{{tenant}}}"),
        }
    }

    /// The keys of a principal's buckets for one route with limits of its own
    /// (`route` such as `POST /api/v1/messages`). Such routes count in buckets of their
    /// own, apart from the default buckets every other route shares.
    pub fn for_route(principal: &Principal, route: &str) -> Self {
        let shared = BucketKeys::of(principal);
        BucketKeys {
            user: format!("{}:route:{route}", shared.user),
            tenant: format!("{}:route:{route}", shared.tenant),
        }
    }

    /// The hash tag both keys share (the tenant id).
    pub fn hash_tag(&self) -> &str {
        let start = self.tenant.find('{').map_or(0, |index| index + 1);
        let end = self.tenant.rfind('}').unwrap_or(self.tenant.len());
        &self.tenant[start..end]
    }
}

/// The limits of one decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// The per-user limit.
    pub user: Rate,
    /// The per-tenant limit.
    pub tenant: Rate,
}

/// One bucket's parameters in integer microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// `T`: microseconds between requests at the steady rate.
    pub interval_us: i64,
    /// `N`: the burst an idle bucket allows.
    pub burst: i64,
}

impl Cell {
    /// The GCRA parameters of a rate.
    pub fn of(rate: Rate) -> Self {
        let period_us = i64::try_from(rate.period().duration().as_micros()).unwrap_or(i64::MAX);
        let burst = i64::from(rate.count());
        Cell {
            interval_us: (period_us / burst).max(1),
            burst,
        }
    }

    /// `N * T`: how far ahead of now a TAT may run.
    pub fn tolerance_us(&self) -> i64 {
        self.interval_us.saturating_mul(self.burst)
    }
}

/// The outcome of one bucket's step: its TAT if the request is taken, and whether it
/// fits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The bucket's TAT before the request (at least `now`).
    pub tat_us: i64,
    /// The TAT if the request is taken.
    pub new_tat_us: i64,
    /// Whether the request fits in the bucket.
    pub fits: bool,
}

/// One GCRA step for a bucket whose stored TAT is `stored` (`None`: idle or expired).
pub fn step(now_us: i64, stored_tat_us: Option<i64>, cell: Cell) -> Step {
    let tat_us = stored_tat_us.map_or(now_us, |stored| stored.max(now_us));
    let new_tat_us = tat_us.saturating_add(cell.interval_us);
    Step {
        tat_us,
        new_tat_us,
        fits: new_tat_us - now_us <= cell.tolerance_us(),
    }
}

/// What a bucket looks like after a decision, for the response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketStatus {
    /// The bucket's limit.
    pub limit: Rate,
    /// Requests still allowed right now.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset_after: Duration,
    /// Until a request fits (zero when one fits now).
    pub retry_after: Duration,
}

impl BucketStatus {
    /// The status of a bucket whose TAT is `tat_us` at `now_us`.
    pub fn at(now_us: i64, tat_us: i64, cell: Cell, limit: Rate) -> Self {
        let ahead = (tat_us - now_us).max(0);
        let room = cell.tolerance_us() - ahead;
        let remaining = u32::try_from((room / cell.interval_us).max(0)).unwrap_or(u32::MAX);
        // The next request fits once TAT + T - N*T <= now.
        let wait = (ahead + cell.interval_us - cell.tolerance_us()).max(0);
        BucketStatus {
            limit,
            remaining,
            reset_after: micros(ahead),
            retry_after: micros(wait),
        }
    }
}

fn micros(value: i64) -> Duration {
    Duration::from_micros(u64::try_from(value).unwrap_or(0))
}

/// A rate-limit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may proceed.
    pub allowed: bool,
    /// When denied, the bucket that denied it (the one with the longer wait).
    pub denied_by: Option<LimitType>,
    /// The user bucket after the decision.
    pub user: BucketStatus,
    /// The tenant bucket after the decision.
    pub tenant: BucketStatus,
    /// Whether the decision was made by a fallback because the primary backend failed.
    pub degraded: bool,
}

impl Decision {
    /// Decides from the two buckets' steps (the shared rule of every adapter).
    /// Returns the decision and whether both new TATs must be stored.
    pub fn from_steps(now_us: i64, user: Step, tenant: Step, quotas: &Quotas) -> (Decision, bool) {
        let (user_cell, tenant_cell) = (Cell::of(quotas.user), Cell::of(quotas.tenant));
        let allowed = user.fits && tenant.fits;
        let (user_tat, tenant_tat) = if allowed {
            (user.new_tat_us, tenant.new_tat_us)
        } else {
            (user.tat_us, tenant.tat_us)
        };
        let user_status = BucketStatus::at(now_us, user_tat, user_cell, quotas.user);
        let tenant_status = BucketStatus::at(now_us, tenant_tat, tenant_cell, quotas.tenant);
        let denied_by = match (user.fits, tenant.fits) {
            (true, true) => None,
            (false, true) => Some(LimitType::User),
            (true, false) => Some(LimitType::Tenant),
            (false, false) if tenant_status.retry_after > user_status.retry_after => {
                Some(LimitType::Tenant)
            }
            (false, false) => Some(LimitType::User),
        };
        (
            Decision {
                allowed,
                denied_by,
                user: user_status,
                tenant: tenant_status,
                degraded: false,
            },
            allowed,
        )
    }

    /// How long a denied request must wait, in whole seconds, at least 1.
    pub fn retry_after_seconds(&self) -> u64 {
        let wait = match self.denied_by {
            Some(LimitType::User) => self.user.retry_after,
            Some(LimitType::Tenant) => self.tenant.retry_after,
            None => Duration::ZERO,
        };
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        seconds.max(1)
    }

    /// The bucket that is closer to denying (fewer remaining): what response headers report.
    pub fn tighter(&self) -> (LimitType, BucketStatus) {
        match self.denied_by {
            Some(LimitType::User) => (LimitType::User, self.user),
            Some(LimitType::Tenant) => (LimitType::Tenant, self.tenant),
            None if self.tenant.remaining < self.user.remaining => (LimitType::Tenant, self.tenant),
            None => (LimitType::User, self.user),
        }
    }
}

/// Why a backend could not decide.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rate limiter backend failed: {0}")]
pub struct RateLimitError(pub String);

/// Decides whether a request may proceed, against both buckets at once.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// One atomic decision: allowed only if both buckets have room; a denial consumes
    /// from neither.
    async fn check(&self, keys: &BucketKeys, quotas: &Quotas) -> Result<Decision, RateLimitError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{CredentialKind, Role, TenantId, UserId};

    fn rate(text: &str) -> Rate {
        text.parse().expect("rate")
    }

    #[test]
    fn keys_share_the_tenant_hash_tag() {
        let principal = Principal {
            tenant_id: TenantId::parse("org_1").expect("valid"),
            user_id: UserId::parse("user_9").expect("valid"),
            role: Role::member(),
            credential: CredentialKind::ClerkSession,
            platform_admin: false,
        };
        let keys = BucketKeys::of(&principal);
        assert_eq!(keys.user, "tenant:{org_1}:user:user_9");
        assert_eq!(keys.tenant, "tenant:{org_1}");
        assert_eq!(keys.hash_tag(), "org_1");
        let route = BucketKeys::for_route(&principal, "POST /api/v1/messages");
        assert_eq!(
            route.user,
            "tenant:{org_1}:user:user_9:route:POST /api/v1/messages"
        );
        assert_eq!(route.tenant, "tenant:{org_1}:route:POST /api/v1/messages");
        assert_eq!(
            route.hash_tag(),
            "org_1",
            "route buckets stay in the tenant's slot"
        );
    }

    #[test]
    fn an_idle_bucket_allows_a_full_burst_then_one_per_interval() {
        let cell = Cell::of(rate("5/minute"));
        let mut tat = None;
        for n in 0..5 {
            let taken = step(0, tat, cell);
            assert!(taken.fits, "request {n} of the burst");
            tat = Some(taken.new_tat_us);
        }
        assert!(!step(0, tat, cell).fits, "the sixth is denied");
        assert!(!step(11_999_999, tat, cell).fits, "not before one interval");
        assert!(
            step(12_000_000, tat, cell).fits,
            "one interval (12 s) later"
        );
    }

    #[test]
    fn retry_after_is_exact_and_rounded_up_to_whole_seconds() {
        let quotas = Quotas {
            user: rate("5/minute"),
            tenant: rate("600/minute"),
        };
        let user_cell = Cell::of(quotas.user);
        let full = Some(5 * user_cell.interval_us);
        let (decision, store) = Decision::from_steps(
            500_000,
            step(500_000, full, user_cell),
            step(500_000, None, Cell::of(quotas.tenant)),
            &quotas,
        );
        assert!(!decision.allowed && !store);
        assert_eq!(decision.denied_by, Some(LimitType::User));
        assert_eq!(decision.user.retry_after, Duration::from_micros(11_500_000));
        assert_eq!(decision.retry_after_seconds(), 12);
        assert_eq!(decision.user.remaining, 0);
    }

    #[test]
    fn remaining_counts_down_through_a_burst() {
        let quotas = Quotas {
            user: rate("3/second"),
            tenant: rate("100/second"),
        };
        let (user_cell, tenant_cell) = (Cell::of(quotas.user), Cell::of(quotas.tenant));
        let (mut user_tat, mut tenant_tat) = (None, None);
        for expected in [2, 1, 0] {
            let (decision, store) = Decision::from_steps(
                0,
                step(0, user_tat, user_cell),
                step(0, tenant_tat, tenant_cell),
                &quotas,
            );
            assert!(decision.allowed && store);
            assert_eq!(decision.user.remaining, expected);
            assert_eq!(decision.tighter().0, LimitType::User);
            user_tat = Some(step(0, user_tat, user_cell).new_tat_us);
            tenant_tat = Some(step(0, tenant_tat, tenant_cell).new_tat_us);
        }
    }
}
