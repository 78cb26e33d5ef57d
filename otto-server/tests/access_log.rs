//! One JSON access line per request, correlated with the request id, labelled with
//! the route template, and PII-redacted.

mod support;

use otto_server::telemetry::json_log::CapturedLines;
use otto_server::telemetry::{JsonLogLayer, Service};
use serde_json::Value;
use support::*;
use tracing_subscriber::layer::SubscriberExt;

fn access_lines(lines: &CapturedLines) -> Vec<Value> {
    lines
        .lines()
        .into_iter()
        .filter(|line| line["message"] == "request completed")
        .collect()
}

#[tokio::test]
async fn each_request_writes_one_access_line_with_its_context() {
    let (lines, _guard) = capture_logs();
    let state = default_state();
    client(&state)
        .get("/openapi.json")
        .header("X-Request-Id", "log-1")
        .send()
        .await
        .assert_status_is_ok();
    let access = access_lines(&lines);
    let [line] = access.as_slice() else {
        panic!("one access line: {access:?}")
    };
    assert_eq!(line["trace_id"], "log-1");
    assert_eq!(line["route"], "/openapi.json");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], 200);
    assert_eq!(line["service"], "api");
    assert_eq!(line["level"], "INFO");
    assert!(line["latency_ms"].as_f64().is_some_and(|ms| ms >= 0.0));
    assert!(line["ts"].as_str().is_some_and(|ts| ts.ends_with('Z')));
}

/// Load balancers ask `/health` and `/ready` every few seconds: a probe that succeeded
/// is logged at DEBUG (below the default LOG_LEVEL), and any other answer, or another
/// method on the same path, as usual.
#[tokio::test]
async fn a_successful_probe_logs_at_debug_and_anything_else_at_its_usual_level() {
    let (lines, _guard) = capture_logs();
    let state = default_state();
    let client = client(&state);
    client.get("/health").send().await.assert_status_is_ok();
    client.get("/ready").send().await.assert_status_is_ok();
    client.post("/health").send().await;
    client.get("/health/extra").send().await;
    let levels: Vec<(String, String)> = access_lines(&lines)
        .iter()
        .map(|line| {
            (
                format!(
                    "{} {}",
                    line["method"].as_str().unwrap_or(""),
                    line["path"].as_str().unwrap_or("")
                ),
                line["level"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        levels,
        [
            ("GET /health".to_owned(), "DEBUG".to_owned()),
            ("GET /ready".to_owned(), "DEBUG".to_owned()),
            ("POST /health".to_owned(), "INFO".to_owned()),
            ("GET /health/extra".to_owned(), "INFO".to_owned()),
        ]
    );
}

#[tokio::test]
async fn unmatched_paths_log_the_shared_route_label_and_a_redacted_path() {
    let (lines, _guard) = capture_logs();
    let state = default_state();
    client(&state).get("/messages/+15551234567").send().await;
    let access = access_lines(&lines);
    assert_eq!(access[0]["route"], "unmatched");
    assert_eq!(access[0]["status"], 404);
    let text = access[0].to_string();
    assert!(
        !text.contains("5551234567"),
        "phone number redacted: {text}"
    );
}

#[tokio::test]
async fn internal_errors_log_their_cause_under_the_request_id() {
    let (lines, _guard) = capture_logs();
    let state = default_state();
    client_with_probe_api(&state)
        .get("/probe/crash")
        .header("X-Request-Id", "boom-1")
        .send()
        .await;
    let all = lines.lines();
    let cause = all
        .iter()
        .find(|line| {
            line["level"] == "ERROR" && line["message"] == "request failed with an internal error"
        })
        .expect("the cause is logged");
    assert_eq!(cause["trace_id"], "boom-1");
    assert!(
        cause["error"]
            .as_str()
            .expect("present")
            .contains("refused"),
        "{cause}"
    );
    let access = access_lines(&lines);
    assert_eq!(access[0]["level"], "ERROR");
    assert_eq!(access[0]["status"], 500);
}

#[tokio::test]
async fn the_request_span_joins_the_incoming_trace_and_logs_carry_its_id() {
    use opentelemetry::trace::TracerProvider as _;
    let lines = CapturedLines::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let subscriber = tracing_subscriber::registry()
        .with(JsonLogLayer::new(Service::Api, true, lines.clone()))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = default_state();
    client(&state)
        .get("/health")
        .header("X-Request-Id", "client-chosen")
        .header(
            "traceparent",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ) // pragma: allowlist secret (W3C example)
        .send()
        .await
        .assert_status_is_ok();
    let access = access_lines(&lines);
    assert_eq!(access[0]["trace_id"], "client-chosen");
    assert_eq!(
        access[0]["otel_trace_id"], "0af7651916cd43dd8448eb211c80319c",
        "the span continues the caller's trace"
    );
}
