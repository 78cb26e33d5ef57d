//! CORS from ALLOWED_ORIGINS ("http://localhost:3000,exp://*,https://*.vercel.app").

mod support;

use poem::http::{Method, StatusCode};
use support::*;

#[tokio::test]
async fn an_allowed_origin_is_echoed_with_credentials_and_vary() {
    let state = default_state();
    let response = client(&state)
        .get("/health")
        .header("Origin", "http://localhost:3000")
        .send()
        .await;
    response.assert_status_is_ok();
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        "true"
    );
    assert!(header_values(&response, "vary").contains("Origin"));
    let exposed = header(&response, "access-control-expose-headers");
    for name in ["X-Request-Id", "Retry-After", "RateLimit-Remaining"] {
        assert!(exposed.contains(name), "{name} is exposed: {exposed}");
    }
}

#[tokio::test]
async fn wildcard_origins_are_allowed() {
    let state = default_state();
    for origin in [
        "exp://192.168.1.20:8081",
        "https://otto-git-main.vercel.app",
    ] {
        let response = client(&state)
            .get("/health")
            .header("Origin", origin)
            .send()
            .await;
        response.assert_status_is_ok();
        assert_eq!(header(&response, "access-control-allow-origin"), origin);
    }
}

#[tokio::test]
async fn a_disallowed_origin_gets_a_403_problem_on_every_route() {
    let state = default_state();
    for path in ["/health", "/metrics", "/no/such/route"] {
        for origin in [
            "https://malicious-site.com",
            "https://vercel.app",
            "http://localhost:3001",
            "null",
        ] {
            let response = client(&state)
                .get(path)
                .header("Origin", origin)
                .send()
                .await;
            assert!(
                header(&response, "access-control-allow-origin").is_empty(),
                "never echoed: {origin}"
            );
            let body = assert_problem(response, 403, path).await;
            assert_eq!(body["type"], "/problems/origin_not_allowed");
        }
    }
}

#[tokio::test]
async fn an_allowed_origin_still_gets_problems_it_can_read() {
    let state = default_state();
    let response = client(&state)
        .get("/no/such/route")
        .header("Origin", "http://localhost:3000")
        .send()
        .await;
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert_problem(response, 404, "/no/such/route").await;
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_is_204_with_the_policy() {
    let state = default_state();
    let response = client(&state)
        .request(Method::OPTIONS, "/api/v1/calls")
        .header("Origin", "https://preview.vercel.app")
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .await;
    response.assert_status(StatusCode::NO_CONTENT);
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        "https://preview.vercel.app"
    );
    assert_eq!(
        header(&response, "access-control-allow-credentials"),
        "true"
    );
    let methods = header(&response, "access-control-allow-methods");
    assert!(
        methods.contains("POST") && methods.contains("PATCH"),
        "{methods}"
    );
    let headers = header(&response, "access-control-allow-headers");
    for name in ["Authorization", "Content-Type", "X-Request-Id"] {
        assert!(headers.contains(name), "{name} allowed: {headers}");
    }
    assert_eq!(header(&response, "access-control-max-age"), "600");
    assert!(header_values(&response, "vary").contains("Origin"));
    assert!(!header(&response, "x-request-id").is_empty());
}

#[tokio::test]
async fn a_preflight_from_a_disallowed_origin_is_a_403_problem() {
    let state = default_state();
    let response = client(&state)
        .request(Method::OPTIONS, "/health")
        .header("Origin", "https://malicious-site.com")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await;
    assert!(header(&response, "access-control-allow-origin").is_empty());
    assert_problem(response, 403, "/health").await;
}

#[tokio::test]
async fn requests_without_an_origin_are_not_affected() {
    let state = default_state();
    let response = client(&state).get("/health").send().await;
    response.assert_status_is_ok();
    assert!(header(&response, "access-control-allow-origin").is_empty());
}

#[tokio::test]
async fn the_preflight_max_age_is_configurable() {
    let state = state(config(&[("CORS_MAX_AGE_SECONDS", "60")]), vec![], vec![]);
    let response = client(&state)
        .request(Method::OPTIONS, "/health")
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await;
    assert_eq!(header(&response, "access-control-max-age"), "60");
}
