//! Rate limiting over HTTP: the original service's smoke scenarios, the 429 problem
//! and headers, exemptions, overrides declared in code and in configuration, and
//! degradation when Redis is unreachable.

mod support;

use std::time::Duration;

use otto_server::state::AppState;
use poem::test::TestResponse;
use serde_json::Value;
use support::*;

fn limited_state(extra: &[(&str, &str)]) -> AppState {
    let mut pairs = vec![
        ("RATE_LIMIT_USER", "5/minute"),
        ("RATE_LIMIT_TENANT", "10/minute"),
    ];
    pairs.extend_from_slice(extra);
    state(config(&pairs), vec![], vec![])
}

async fn me_as(state: &AppState, user: &str) -> TestResponse {
    let token = session_token(&session_claims(user, "org_smoke", "member"));
    client(state)
        .get("/api/v1/me")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
}

#[tokio::test]
async fn five_requests_of_a_user_pass_and_the_sixth_is_429() {
    let state = limited_state(&[]);
    for n in 1..=5 {
        me_as(&state, "user_a").await.assert_status_is_ok();
        let _ = n;
    }
    let refused = me_as(&state, "user_a").await;
    assert_eq!(refused.0.status().as_u16(), 429);
}

#[tokio::test]
async fn the_tenant_total_caps_all_its_users() {
    let state = limited_state(&[]);
    let mut allowed = 0;
    let mut refused = 0;
    for user in ["user_a", "user_b"] {
        for _ in 0..6 {
            match me_as(&state, user).await.0.status().as_u16() {
                200 => allowed += 1,
                429 => refused += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(
        (allowed, refused),
        (10, 2),
        "A:6 and B:6 → 10 pass in total"
    );
    let third = me_as(&state, "user_c").await;
    let body = json(third).await;
    assert_eq!(
        body["limit_type"], "tenant",
        "a fresh user is stopped by the tenant bucket: {body}"
    );
}

#[tokio::test]
async fn the_429_carries_the_problem_the_original_promised() {
    let state = limited_state(&[]);
    for _ in 0..5 {
        me_as(&state, "user_a").await.assert_status_is_ok();
    }
    let token = session_token(&session_claims("user_a", "org_smoke", "member"));
    let refused = client(&state)
        .get("/api/v1/me")
        .header("Authorization", format!("Bearer {token}"))
        .header("X-Request-Id", "rl-1")
        .send()
        .await;
    assert_eq!(refused.0.status().as_u16(), 429);
    assert_eq!(header(&refused, "content-type"), "application/problem+json");
    assert_eq!(
        header(&refused, "retry-after"),
        "12",
        "one emission interval of 5/minute"
    );
    assert_eq!(header(&refused, "x-request-id"), "rl-1");
    assert_eq!(header(&refused, "x-trace-id"), "rl-1");
    assert_eq!(header(&refused, "ratelimit-remaining"), "0");
    assert_eq!(header(&refused, "x-ratelimit-limit"), "5");
    assert_eq!(header(&refused, "ratelimit-policy"), "5;w=60");
    let body = json(refused).await;
    assert_eq!(
        body["type"],
        "https://tools.ietf.org/html/rfc6585#section-4"
    );
    assert_eq!(body["title"], "Too Many Requests");
    assert_eq!(body["status"], 429);
    assert_eq!(
        body["detail"],
        "Rate limit exceeded. Please try again later."
    );
    assert_eq!(body["retry_after"], 12);
    assert_eq!(body["limit_type"], "user");
    assert_eq!(body["instance"], "/api/v1/me");
    assert_eq!(body["trace_id"], "rl-1");
}

#[tokio::test]
async fn allowed_responses_report_the_tighter_bucket() {
    let state = limited_state(&[]);
    let first = me_as(&state, "user_a").await;
    first.assert_status_is_ok();
    assert_eq!(header(&first, "ratelimit-limit"), "5");
    assert_eq!(header(&first, "ratelimit-remaining"), "4");
    assert_eq!(header(&first, "x-ratelimit-remaining"), "4");
    assert_eq!(header(&first, "ratelimit-reset"), "12");
}

#[tokio::test]
async fn exempt_routes_are_never_limited() {
    let state = limited_state(&[
        ("RATE_LIMIT_USER", "1/minute"),
        ("RATE_LIMIT_TENANT", "1/minute"),
    ]);
    let client = client(&state);
    for path in ["/health", "/ready", "/openapi.json", "/docs", "/redoc"] {
        for _ in 0..5 {
            let response = client.get(path).send().await;
            assert!(response.0.status().is_success(), "{path}");
            assert!(
                header(&response, "ratelimit-limit").is_empty(),
                "{path} is not limited"
            );
        }
    }
    for _ in 0..5 {
        let preflight = client
            .request(poem::http::Method::OPTIONS, "/api/v1/me")
            .header("Origin", "http://localhost:3000")
            .header("Access-Control-Request-Method", "GET")
            .send()
            .await;
        assert_eq!(
            preflight.0.status().as_u16(),
            204,
            "preflights are not limited"
        );
    }
}

/// The headers of a complete WebSocket opening handshake.
const HANDSHAKE: [(&str, &str); 4] = [
    ("Connection", "keep-alive, Upgrade"),
    ("Upgrade", "websocket"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ("Sec-WebSocket-Version", "13"),
];

/// Statuses and whether RateLimit headers came back, for `times` requests to `path`
/// with `headers`.
async fn statuses_with(
    client: &Client,
    method: poem::http::Method,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    times: usize,
) -> Vec<(u16, bool)> {
    let mut seen = Vec::new();
    for _ in 0..times {
        let mut request = client
            .request(method.clone(), path)
            .header("Authorization", format!("Bearer {token}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await;
        seen.push((
            response.0.status().as_u16(),
            !header(&response, "ratelimit-limit").is_empty(),
        ));
    }
    seen
}

#[tokio::test]
async fn an_upgrade_header_does_not_exempt_a_route_that_serves_no_websocket() {
    use poem::http::Method;
    let state = limited_state(&[
        ("RATE_LIMIT_USER", "1/minute"),
        ("RATE_LIMIT_TENANT", "1000/minute"),
    ]);
    let client = client_with_probe_api(&state);
    let token = session_token(&session_claims("user_ws", "org_smoke", "member"));
    assert_eq!(
        statuses_with(&client, Method::GET, "/api/v1/me", &token, &HANDSHAKE, 3).await,
        [(200, true), (429, true), (429, true)],
        "a full handshake on a plain route is limited per user"
    );
    let other = session_token(&session_claims("user_ws_2", "org_smoke", "member"));
    assert_eq!(
        statuses_with(
            &client,
            Method::POST,
            "/probe/expensive",
            &other,
            &HANDSHAKE,
            3
        )
        .await,
        [(200, true), (200, true), (429, true)],
        "a route's own limit holds with upgrade headers"
    );
    let tenant_state = limited_state(&[
        ("RATE_LIMIT_USER", "100/minute"),
        ("RATE_LIMIT_TENANT", "2/minute"),
    ]);
    let tenant_client = client_with_probe_api(&tenant_state);
    let mut seen = Vec::new();
    for user in ["user_t1", "user_t2", "user_t3"] {
        let token = session_token(&session_claims(user, "org_busy", "member"));
        seen.extend(
            statuses_with(
                &tenant_client,
                Method::GET,
                "/api/v1/me",
                &token,
                &HANDSHAKE,
                1,
            )
            .await,
        );
    }
    assert_eq!(
        seen,
        [(200, true), (200, true), (429, true)],
        "the tenant's limit holds with upgrade headers"
    );
}

#[tokio::test]
async fn only_a_complete_handshake_on_a_websocket_route_skips_the_request_limits() {
    use poem::http::Method;
    let state = limited_state(&[("RATE_LIMIT_USER", "1/minute")]);
    let client = client_with_probe_api(&state);
    let token = session_token(&session_claims("user_live", "org_smoke", "member"));
    assert_eq!(
        statuses_with(&client, Method::GET, "/probe/live", &token, &HANDSHAKE, 3).await,
        [(200, false), (200, false), (200, false)],
        "real handshakes open connections, which are not request-limited"
    );
    let partial: Vec<Vec<(&str, &str)>> = (0..HANDSHAKE.len())
        .map(|left_out| {
            HANDSHAKE
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != left_out)
                .map(|(_, pair)| *pair)
                .collect()
        })
        .collect();
    for (index, headers) in partial.iter().enumerate() {
        let user = format!("user_partial_{index}");
        let token = session_token(&session_claims(&user, "org_smoke", "member"));
        assert_eq!(
            statuses_with(&client, Method::GET, "/probe/live", &token, headers, 2).await,
            [(200, true), (429, true)],
            "a handshake without {:?} is an ordinary request",
            HANDSHAKE[index].0
        );
    }
    let version_8 = [&HANDSHAKE[..3], &[("Sec-WebSocket-Version", "8")]].concat();
    let token = session_token(&session_claims("user_v8", "org_smoke", "member"));
    assert_eq!(
        statuses_with(&client, Method::GET, "/probe/live", &token, &version_8, 2).await,
        [(200, true), (429, true)],
        "only version 13 is a WebSocket handshake"
    );
}

#[tokio::test]
async fn a_route_declares_its_own_tighter_limit() {
    let state = limited_state(&[
        ("RATE_LIMIT_USER", "100/minute"),
        ("RATE_LIMIT_TENANT", "1000/minute"),
    ]);
    let token = session_token(&session_claims("user_a", "org_smoke", "member"));
    let client = client_with_probe_api(&state);
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let response = client
                .post("/probe/expensive")
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await;
            statuses.push(response.0.status().as_u16());
        }
        statuses
    };
    assert_eq!(statuses, [200, 200, 429], "2/minute declared on the route");
    let other = client
        .get("/api/v1/me")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await;
    other.assert_status_is_ok();
}

#[tokio::test]
async fn configuration_overrides_a_route_without_a_rebuild() {
    let state = limited_state(&[
        ("RATE_LIMIT_USER", "100/minute"),
        ("RATE_LIMIT_TENANT", "1000/minute"),
        (
            "RATE_LIMIT_ROUTES",
            "GET /api/v1/me=user:1/minute; POST /probe/expensive=user:3/minute",
        ),
    ]);
    me_as(&state, "user_a").await.assert_status_is_ok();
    let refused = me_as(&state, "user_a").await;
    assert_eq!(refused.0.status().as_u16(), 429);
    assert_eq!(header(&refused, "retry-after"), "60");
    let token = session_token(&session_claims("user_a", "org_smoke", "member"));
    let calls = client(&state)
        .get("/api/v1/calls")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await;
    calls.assert_status_is_ok();
    let client = client_with_probe_api(&state);
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            client
                .post("/probe/expensive")
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await
                .0
                .status()
                .as_u16(),
        );
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "configuration wins over the code's 2/minute"
    );
}

#[tokio::test]
async fn denials_are_counted_by_route_and_limit_type_and_logged() {
    use otto_server::telemetry::json_log::CapturedLines;
    use otto_server::telemetry::{JsonLogLayer, Service};
    use tracing_subscriber::layer::SubscriberExt;
    let lines = CapturedLines::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(JsonLogLayer::new(Service::Api, true, lines.clone())),
    );
    let state = limited_state(&[("RATE_LIMIT_USER", "1/minute")]);
    me_as(&state, "user_a").await.assert_status_is_ok();
    assert_eq!(me_as(&state, "user_a").await.0.status().as_u16(), 429);
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"rate_limit_hits_total{route="/api/v1/me",limit_type="user"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains("user_a"), "no user id label");
    let denial = lines
        .lines()
        .into_iter()
        .find(|line| line["message"] == "rate limit exceeded")
        .expect("a denial line");
    assert_eq!(denial["tenant_id"], "org_smoke");
    assert_eq!(denial["user_id"], "user_a");
    assert_eq!(denial["route"], "/api/v1/me");
    assert_eq!(denial["limit_type"], "user");
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0)
}

async fn redis_state(url: &str) -> AppState {
    let config = config(&[
        ("RATE_LIMIT_USER", "3/minute"),
        ("REDIS_URL", url),
        ("RATE_LIMIT_REDIS_TIMEOUT_MS", "50"),
    ]);
    let client = otto_adapters::redis::connect(url, Duration::from_millis(500)).expect("client");
    let _ = otto_adapters::redis::wait_until_connected(&client, Duration::from_secs(2)).await;
    let probes: Vec<std::sync::Arc<dyn otto_core::ports::ReadinessProbe>> =
        vec![std::sync::Arc::new(otto_adapters::redis::RedisProbe::new(
            client.clone(),
        ))];
    let base = state(config.clone(), probes, vec![]);
    AppState {
        rate_limiter: otto_server::startup::rate_limiter(&config, Some(client)),
        ..base
    }
}

#[tokio::test]
async fn with_redis_unreachable_requests_succeed_and_limits_hold_in_process() {
    let state = redis_state("redis://127.0.0.1:1").await;
    let user = format!("user_{}", uuid::Uuid::new_v4().simple());
    let statuses: Vec<u16> = {
        let mut statuses = Vec::new();
        for _ in 0..4 {
            statuses.push(me_as(&state, &user).await.0.status().as_u16());
        }
        statuses
    };
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "no 5xx, and the in-process limit still applies"
    );
    let ready = client(&state).get("/ready").send().await;
    assert_eq!(ready.0.status().as_u16(), 503);
    let body: Value = json(ready).await;
    assert_eq!(body["components"]["redis"], false);
    let metrics = metrics_text(&state).await;
    assert_eq!(
        metric(&metrics, "rate_limit_backend_errors_total"),
        4.0,
        "{metrics}"
    );
}

#[tokio::test]
async fn with_redis_live_decisions_are_shared_and_not_degraded() {
    let url = otto_adapters::test_support::redis_url();
    let probe = otto_adapters::redis::connect(&url, Duration::from_millis(500)).expect("client");
    if let Err(error) =
        otto_adapters::redis::wait_until_connected(&probe, Duration::from_secs(3)).await
    {
        otto_adapters::test_support::service_unavailable("Redis", &error);
        return;
    }
    // Two "processes" sharing Redis share the buckets.
    let first = redis_state(&url).await;
    let second = redis_state(&url).await;
    let user = format!("user_{}", uuid::Uuid::new_v4().simple());
    let mut statuses = Vec::new();
    for state in [&first, &second, &first, &second] {
        statuses.push(me_as(state, &user).await.0.status().as_u16());
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 429],
        "3/minute across both servers"
    );
    client(&first)
        .get("/ready")
        .send()
        .await
        .assert_status_is_ok();
    let metrics = metrics_text(&first).await;
    assert_eq!(metric(&metrics, "rate_limit_backend_errors_total"), 0.0);
}
