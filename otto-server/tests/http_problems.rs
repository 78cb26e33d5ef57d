//! Every error, on every route, is an RFC 9457 problem with the request's trace id.

mod support;

use futures_util::stream;
use poem::Body;
use poem::test::TestResponse;
use support::*;

/// POSTs `body` as `content_type` to the appointment probe of an app built on `state`.
async fn post_appointment(
    state: &otto_server::state::AppState,
    content_type: &str,
    body: impl Into<Body>,
) -> TestResponse {
    client_with_probe_api(state)
        .post("/probe/appointments")
        .content_type(content_type)
        .body(body)
        .send()
        .await
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let state = default_state();
    let response = client(&state).get("/no/such/route").send().await;
    let body = assert_problem(response, 404, "/no/such/route").await;
    assert_eq!(body["type"], "/problems/not_found");
    assert_eq!(body["title"], "Not Found");
}

#[tokio::test]
async fn unknown_routes_are_404_for_every_method() {
    let state = default_state();
    let response = client(&state)
        .post("/no/such/route")
        .body("{}")
        .send()
        .await;
    assert_problem(response, 404, "/no/such/route").await;
}

#[tokio::test]
async fn wrong_methods_are_405_problems() {
    let state = default_state();
    let response = client(&state).delete("/health").send().await;
    let body = assert_problem(response, 405, "/health").await;
    assert_eq!(body["type"], "/problems/method_not_allowed");
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let state = default_state();
    let response =
        post_appointment(&state, "application/json", r#"{"customer_name": "Jo", "#).await;
    let body = assert_problem(response, 400, "/probe/appointments").await;
    assert!(
        body["detail"]
            .as_str()
            .expect("present")
            .contains("not valid JSON"),
        "{body}"
    );
}

#[tokio::test]
async fn an_empty_body_is_a_400_problem() {
    let state = default_state();
    let response = client_with_probe_api(&state)
        .post("/probe/appointments")
        .content_type("application/json")
        .send()
        .await;
    assert_problem(response, 400, "/probe/appointments").await;
}

#[tokio::test]
async fn a_body_of_the_wrong_media_type_is_a_415_problem() {
    let state = default_state();
    let response = post_appointment(&state, "text/plain", "customer_name=Jo").await;
    let body = assert_problem(response, 415, "/probe/appointments").await;
    assert_eq!(body["type"], "/problems/unsupported_media_type");
}

#[tokio::test]
async fn a_body_without_a_media_type_is_a_415_problem() {
    let state = default_state();
    let response = client_with_probe_api(&state)
        .post("/probe/appointments")
        .body("{}")
        .send()
        .await;
    assert_problem(response, 415, "/probe/appointments").await;
}

#[tokio::test]
async fn json_with_a_charset_parameter_is_accepted() {
    let state = default_state();
    let response = post_appointment(
        &state,
        "application/json; charset=utf-8",
        r#"{"customer_name":"Jo","duration_minutes":30}"#,
    )
    .await;
    response.assert_status_is_ok();
    assert_eq!(json(response).await, 30);
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_a_422_naming_the_field() {
    let state = default_state();
    let response = post_appointment(
        &state,
        "application/json",
        r#"{"customer_name":"Jo","duration_minutes":"half an hour"}"#,
    )
    .await;
    let body = assert_problem(response, 422, "/probe/appointments").await;
    assert_eq!(body["type"], "/problems/validation_failed");
    assert_eq!(body["errors"][0]["field"], "duration_minutes");
}

#[tokio::test]
async fn domain_validation_is_a_422_listing_every_field() {
    let state = default_state();
    let response = post_appointment(
        &state,
        "application/json",
        r#"{"customer_name":"  ","duration_minutes":5}"#,
    )
    .await;
    let body = assert_problem(response, 422, "/probe/appointments").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .expect("present")
        .iter()
        .map(|e| e["field"].as_str().expect("present"))
        .collect();
    assert_eq!(fields, ["customer_name", "duration_minutes"]);
}

#[tokio::test]
async fn a_declared_body_over_the_limit_is_a_413_problem() {
    let state = state(config(&[("OTTO_MAX_BODY_BYTES", "2048")]), vec![], vec![]);
    let oversized = format!(
        r#"{{"customer_name":"{}","duration_minutes":30}}"#,
        "a".repeat(4096)
    );
    let response = post_appointment(&state, "application/json", oversized).await;
    let body = assert_problem(response, 413, "/probe/appointments").await;
    assert!(
        body["detail"].as_str().expect("present").contains("2048"),
        "{body}"
    );
}

#[tokio::test]
async fn a_chunked_body_over_the_limit_is_a_413_problem() {
    let state = state(config(&[("OTTO_MAX_BODY_BYTES", "2048")]), vec![], vec![]);
    let chunks = (0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512]));
    let response = post_appointment(
        &state,
        "application/json",
        Body::from_bytes_stream(stream::iter(chunks)),
    )
    .await;
    assert_problem(response, 413, "/probe/appointments").await;
}

#[tokio::test]
async fn a_chunked_body_within_the_limit_reaches_the_handler() {
    let state = state(config(&[("OTTO_MAX_BODY_BYTES", "2048")]), vec![], vec![]);
    let parts = [r#"{"customer_name":"Jo","#, r#""duration_minutes":45}"#];
    let chunks = parts
        .into_iter()
        .map(|part| Ok::<_, std::io::Error>(part.as_bytes().to_vec()));
    let response = post_appointment(
        &state,
        "application/json",
        Body::from_bytes_stream(stream::iter(chunks)),
    )
    .await;
    response.assert_status_is_ok();
    assert_eq!(json(response).await, 45);
}

#[tokio::test]
async fn internal_errors_are_500_problems_that_leak_nothing() {
    let state = default_state();
    let response = client_with_probe_api(&state)
        .get("/probe/crash")
        .send()
        .await;
    let body = assert_problem(response, 500, "/probe/crash").await;
    let text = body.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains("postgres"),
        "internals leaked: {text}"
    );
    assert_eq!(body["type"], "/problems/internal_error");
}

#[tokio::test]
async fn documented_domain_problems_keep_their_status_and_detail() {
    let state = default_state();
    let response = client_with_probe_api(&state)
        .get("/probe/conflict")
        .send()
        .await;
    let body = assert_problem(response, 409, "/probe/conflict").await;
    assert_eq!(body["detail"], "The number opted out.");
}

#[tokio::test]
async fn unavailable_dependencies_are_503_problems_with_retry_after() {
    let state = default_state();
    let response = client_with_probe_api(&state)
        .get("/probe/unavailable")
        .send()
        .await;
    assert_eq!(header(&response, "retry-after"), "5");
    let body = assert_problem(response, 503, "/probe/unavailable").await;
    assert_eq!(body["type"], "/problems/service_unavailable");
    assert_eq!(body["retry_after"], 5);
}

#[tokio::test]
async fn readiness_failures_are_503_with_the_report() {
    let probe = otto_testkit::SwitchableProbe::down("database");
    let state = state(config(&[]), vec![std::sync::Arc::new(probe)], vec!["redis"]);
    let response = client(&state).get("/ready").send().await;
    response.assert_status(poem::http::StatusCode::SERVICE_UNAVAILABLE);
    let body = json(response).await;
    assert_eq!(body["ready"], false);
    assert_eq!(body["components"]["database"], false);
}

/// A body that never finishes holds nothing forever: at OTTO_REQUEST_TIMEOUT_SECONDS
/// the request is abandoned with a 503 problem (a provider retries it).
#[tokio::test]
async fn a_request_whose_body_never_finishes_is_abandoned_at_the_deadline() {
    let state = state(
        config(&[("OTTO_REQUEST_TIMEOUT_SECONDS", "1")]),
        Vec::new(),
        Vec::new(),
    );
    let first_chunk = stream::iter([Ok::<_, std::io::Error>(b"{\"resource_id\"".to_vec())]);
    let never = stream::pending::<Result<Vec<u8>, std::io::Error>>();
    let started = std::time::Instant::now();
    let response = client(&state)
        .post("/webhook/callrail/pre-call")
        .content_type("application/json")
        .body(Body::from_bytes_stream(futures_util::StreamExt::chain(
            first_chunk,
            never,
        )))
        .send()
        .await;
    let body = assert_problem(response, 503, "/webhook/callrail/pre-call").await;
    assert_eq!(body["type"], "/problems/service_unavailable");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("1 seconds"),
        "{body}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
