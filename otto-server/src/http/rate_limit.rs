//! Rate limiting of authenticated operations.
//!
//! Every operation that takes a [`Caller`](super::auth::Caller) is limited, right
//! after authentication, by one decision against the caller's user bucket and tenant
//! bucket. The quotas of an operation are, in order of precedence: RATE_LIMIT_ROUTES
//! (configuration, no rebuild), the limits the operation declares in code
//! ([`RouteLimits`]), RATE_LIMIT_USER / RATE_LIMIT_TENANT. Operations on the defaults
//! share one user bucket and one tenant bucket; an operation with limits of its own
//! counts in buckets of its own. Unauthenticated routes and CORS preflights are never
//! limited. A WebSocket handshake is exempt only where it is real: the operation says
//! it serves WebSockets ([`RouteLimits::serves_websocket`]) and the request is a
//! complete RFC 6455 upgrade ([`is_websocket_handshake`]); an `Upgrade` header on any
//! other route, or a partial handshake, is limited like any request.

use std::sync::Arc;

use otto_core::rate::Rate;
use otto_core::rate_limit::{BucketKeys, Decision, LimitType, Quotas, RateLimiter};
use otto_core::tenancy::Principal;
use poem::Request;
use poem::http::{HeaderMap, HeaderValue, header};

use super::problem::{ApiError, ProblemKind};
use super::request_context::RequestContext;
use super::route_names::RouteNames;
use crate::telemetry::metrics::{Metrics, RateLimitLabels};

/// Limits an operation declares next to its definition (the original service's
/// `@limits(user="20/minute", tenant="100/minute")`):
///
/// ```ignore
/// struct SendMessageLimits;
/// impl RouteLimits for SendMessageLimits {
///     fn user() -> Option<&'static str> { Some("20/minute") }
/// }
/// async fn send(&self, caller: Caller<SendMessageLimits>, ...) { ... }
/// ```
pub trait RouteLimits: Send + Sync + 'static {
    /// The per-user limit of this operation, if not the default.
    fn user() -> Option<&'static str> {
        None
    }

    /// The per-tenant limit of this operation, if not the default.
    fn tenant() -> Option<&'static str> {
        None
    }

    /// Whether the operation answers WebSocket handshakes. Only such an operation's
    /// real handshakes skip the request limits (the connection they open is held,
    /// not repeated); every other request to it, and every request to any other
    /// operation, is limited whatever its headers say.
    fn serves_websocket() -> bool {
        false
    }
}

/// Whether `request` is a complete RFC 6455 opening handshake: `GET`, `Connection`
/// naming `upgrade`, `Upgrade: websocket`, a `Sec-WebSocket-Key` and version 13.
pub fn is_websocket_handshake(request: &Request) -> bool {
    let headers = request.headers();
    let text = |name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value: &HeaderValue| value.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let connection_upgrades = text(header::CONNECTION)
        .split(',')
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    let upgrade_is_websocket = text(header::UPGRADE)
        .split(',')
        .any(|token| token.trim().eq_ignore_ascii_case("websocket"));
    request.method() == poem::http::Method::GET
        && connection_upgrades
        && upgrade_is_websocket
        && headers.contains_key(header::SEC_WEBSOCKET_KEY)
        && text(header::SEC_WEBSOCKET_VERSION).trim() == "13"
}

/// The default limits (RATE_LIMIT_USER, RATE_LIMIT_TENANT).
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultLimits;

impl RouteLimits for DefaultLimits {}

/// A configured override: `METHOD /route/template=user:N/unit,tenant:N/unit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOverride {
    /// The HTTP method.
    pub method: String,
    /// The documented route template (`/api/v1/calls/{id}`).
    pub route: String,
    /// The per-user limit, if overridden.
    pub user: Option<Rate>,
    /// The per-tenant limit, if overridden.
    pub tenant: Option<Rate>,
}

/// The accepted form of RATE_LIMIT_ROUTES.
pub const ROUTE_OVERRIDES_FORMAT: &str = "`METHOD /route=user:N/unit,tenant:N/unit` entries separated by `;`, e.g. `GET /api/v1/calls=user:30/minute`";

/// Parses RATE_LIMIT_ROUTES.
pub fn parse_route_overrides(text: &str) -> Result<Vec<RouteOverride>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            let (target, limits) = entry
                .split_once('=')
                .ok_or_else(|| format!("`{entry}` has no `=`"))?;
            let (method, route) = target
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("`{target}` is not `METHOD /route`"))?;
            let method = method.trim().to_ascii_uppercase();
            let route = route.trim().to_owned();
            if !route.starts_with('/') || method.is_empty() {
                return Err(format!("`{target}` is not `METHOD /route`"));
            }
            let mut parsed = RouteOverride {
                method,
                route,
                user: None,
                tenant: None,
            };
            for limit in limits
                .split(',')
                .map(str::trim)
                .filter(|limit| !limit.is_empty())
            {
                let (bucket, rate) = limit
                    .split_once(':')
                    .ok_or_else(|| format!("`{limit}` is not `user:N/unit`"))?;
                let rate: Rate = rate.parse().map_err(|error| format!("{error}"))?;
                match bucket.trim() {
                    "user" => parsed.user = Some(rate),
                    "tenant" => parsed.tenant = Some(rate),
                    other => return Err(format!("unknown bucket `{other}`; use user or tenant")),
                }
            }
            if parsed.user.is_none() && parsed.tenant.is_none() {
                return Err(format!("`{entry}` sets no limit"));
            }
            Ok(parsed)
        })
        .collect()
}

/// Everything the limiting step needs, shared through the request data.
pub struct RateLimiting {
    limiter: Arc<dyn RateLimiter>,
    defaults: Quotas,
    overrides: Vec<RouteOverride>,
    metrics: Arc<Metrics>,
    routes: Arc<RouteNames>,
}

impl std::fmt::Debug for RateLimiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiting")
            .field("defaults", &self.defaults)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// The headers a limited response carries, for the tighter of the two buckets.
#[derive(Debug, Clone)]
pub struct RateLimitHeaders(HeaderMap);

impl RateLimitHeaders {
    fn of(decision: &Decision) -> Self {
        let (_, bucket) = decision.tighter();
        let limit = bucket.limit.count();
        let window = bucket.limit.period().duration().as_secs();
        let reset = bucket.reset_after.as_secs() + u64::from(bucket.reset_after.subsec_nanos() > 0);
        let mut headers = HeaderMap::new();
        let mut put = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        };
        put("ratelimit-policy", format!("{limit};w={window}"));
        put("ratelimit-limit", limit.to_string());
        put("ratelimit-remaining", bucket.remaining.to_string());
        put("ratelimit-reset", reset.to_string());
        put("x-ratelimit-limit", limit.to_string());
        put("x-ratelimit-remaining", bucket.remaining.to_string());
        put("x-ratelimit-reset", reset.to_string());
        RateLimitHeaders(headers)
    }

    /// Adds the headers to a response's headers.
    pub fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.0 {
            headers.insert(name.clone(), value.clone());
        }
    }
}

impl RateLimiting {
    /// The limiting step over `limiter`.
    pub fn new(
        limiter: Arc<dyn RateLimiter>,
        defaults: Quotas,
        overrides: Vec<RouteOverride>,
        metrics: Arc<Metrics>,
        routes: Arc<RouteNames>,
    ) -> Self {
        RateLimiting {
            limiter,
            defaults,
            overrides,
            metrics,
            routes,
        }
    }

    fn route_of(&self, request: &Request) -> String {
        request
            .data::<poem::PathPattern>()
            .map(|pattern| self.routes.template(&pattern.0))
            .unwrap_or_else(|| request.uri().path().to_owned())
    }

    /// The quotas of a route, and whether they are its own (then it counts in buckets
    /// of its own: buckets are only ever used with one set of limits).
    fn quotas<L: RouteLimits>(&self, method: &str, route: &str) -> (Quotas, bool) {
        let declared = |rate: Option<&'static str>| rate.and_then(|text| text.parse::<Rate>().ok());
        let (declared_user, declared_tenant) = (declared(L::user()), declared(L::tenant()));
        let configured = self
            .overrides
            .iter()
            .find(|o| o.method == method && o.route == route);
        let user = configured.and_then(|o| o.user).or(declared_user);
        let tenant = configured.and_then(|o| o.tenant).or(declared_tenant);
        let own = user.is_some() || tenant.is_some();
        (
            Quotas {
                user: user.unwrap_or(self.defaults.user),
                tenant: tenant.unwrap_or(self.defaults.tenant),
            },
            own,
        )
    }

    /// Decides for `principal`'s request; the error is the 429. The rate-limit headers
    /// are left in the request context, for the response either way.
    pub async fn admit<L: RouteLimits>(
        &self,
        request: &Request,
        principal: &Principal,
    ) -> Result<(), ApiError> {
        if L::serves_websocket() && is_websocket_handshake(request) {
            return Ok(());
        }
        let route = self.route_of(request);
        let method = request.method().as_str();
        let (quotas, own_limits) = self.quotas::<L>(method, &route);
        let keys = if own_limits {
            BucketKeys::for_route(principal, &format!("{method} {route}"))
        } else {
            BucketKeys::of(principal)
        };
        let decision = match self.limiter.check(&keys, &quotas).await {
            Ok(decision) => decision,
            Err(error) => {
                // Only a limiter without a fallback can fail: let the request through.
                self.metrics.rate_limit_backend_errors.inc();
                tracing::warn!(error = %error, "rate limiter failed; request admitted");
                return Ok(());
            }
        };
        if decision.degraded {
            self.metrics.rate_limit_backend_errors.inc();
        }
        if let Some(context) = request.data::<RequestContext>() {
            let _ = context
                .rate_limit_headers
                .set(RateLimitHeaders::of(&decision));
        }
        if decision.allowed {
            return Ok(());
        }
        let limit_type = decision.denied_by.unwrap_or(LimitType::User);
        self.metrics
            .rate_limit_hits
            .get_or_create(&RateLimitLabels {
                route: route.clone(),
                limit_type: limit_type.as_str().to_owned(),
            })
            .inc();
        tracing::warn!(
            tenant_id = principal.tenant_id.as_str(),
            user_id = principal.user_id.as_str(),
            route = route.as_str(),
            limit_type = limit_type.as_str(),
            "rate limit exceeded"
        );
        Err(ApiError {
            retry_after: Some(decision.retry_after_seconds()),
            limit_type: Some(limit_type.as_str()),
            ..ApiError::new(
                ProblemKind::TooManyRequests,
                "Rate limit exceeded. Please try again later.",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_overrides_parse_and_bad_ones_say_why() {
        let parsed = parse_route_overrides("GET /api/v1/calls=user:30/minute,tenant:300/minute; post /api/v1/messages=user:20/minute")
            .expect("valid");
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[0].route, "/api/v1/calls");
        assert_eq!(
            parsed[0].tenant.map(|rate| rate.to_string()).as_deref(),
            Some("300/minute")
        );
        assert_eq!(parsed[1].method, "POST");
        assert_eq!(parsed[1].tenant, None);
        assert!(parse_route_overrides("").expect("empty is fine").is_empty());
        for bad in [
            "GET /x",
            "GET=user:1/minute",
            "GET /x=user:lots",
            "GET /x=group:1/minute",
            "GET /x=",
            "GET x=user:1/minute",
        ] {
            assert!(parse_route_overrides(bad).is_err(), "{bad}");
        }
    }
}
