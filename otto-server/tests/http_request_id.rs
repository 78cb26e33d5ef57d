//! The request id: taken when sane, else from `traceparent`, else new; returned on
//! every response and used as `trace_id`.

mod support;

use support::*;

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn a_sane_request_id_is_propagated_to_the_response_and_body() {
    let state = default_state();
    let response = client(&state)
        .get("/health")
        .header("X-Request-Id", "test-123")
        .send()
        .await;
    assert_eq!(header(&response, "x-request-id"), "test-123");
    assert_eq!(json(response).await["trace_id"], "test-123");
}

#[tokio::test]
async fn an_insane_request_id_is_replaced_by_a_uuid() {
    let state = default_state();
    for bad in ["has spaces", "quote\"d", &"x".repeat(129), "semi;colon"] {
        let response = client(&state)
            .get("/health")
            .header("X-Request-Id", bad)
            .send()
            .await;
        let id = header(&response, "x-request-id");
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "new uuid: {id}");
    }
}

#[tokio::test]
async fn the_traceparent_trace_id_is_used_without_a_request_id() {
    let state = default_state();
    let response = client(&state)
        .get("/health")
        .header("traceparent", TRACEPARENT)
        .send()
        .await;
    assert_eq!(
        header(&response, "x-request-id"),
        "4bf92f3577b34da6a3ce929d0e0e4736" // pragma: allowlist secret (W3C example)
    );
}

#[tokio::test]
async fn a_malformed_traceparent_is_ignored() {
    let state = default_state();
    let response = client(&state)
        .get("/health")
        .header("traceparent", "00-zz-yy-01")
        .send()
        .await;
    assert!(uuid::Uuid::parse_str(&header(&response, "x-request-id")).is_ok());
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let state = default_state();
    let client = client(&state);
    for path in [
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
        "/no/such/route",
    ] {
        let response = client.get(path).header("X-Request-Id", "r-1").send().await;
        assert_eq!(header(&response, "x-request-id"), "r-1", "{path}");
    }
    let response = client
        .get("/health")
        .header("Origin", "https://malicious-site.com")
        .send()
        .await;
    assert!(
        !header(&response, "x-request-id").is_empty(),
        "CORS refusals too"
    );
    let response = client.delete("/health").send().await;
    assert!(!header(&response, "x-request-id").is_empty(), "405s too");
}

#[tokio::test]
async fn each_request_without_an_id_gets_a_different_one() {
    let state = default_state();
    let first = header(&client(&state).get("/health").send().await, "x-request-id");
    let second = header(&client(&state).get("/health").send().await, "x-request-id");
    assert_ne!(first, second);
}
