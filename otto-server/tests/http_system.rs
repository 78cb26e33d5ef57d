//! `/health`, `/ready`, `/metrics`, the OpenAPI document and its viewers.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use otto_testkit::SwitchableProbe;
use poem::http::StatusCode;
use support::*;

#[tokio::test]
async fn health_reports_the_service_version_and_trace_id() {
    let state = default_state();
    let response = client(&state)
        .get("/health")
        .header("X-Request-Id", "h-1")
        .send()
        .await;
    response.assert_status_is_ok();
    let body = json(response).await;
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["service"], "otto-api");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["trace_id"], "h-1");
}

#[tokio::test]
async fn ready_is_200_when_every_configured_component_answers() {
    let state = default_state();
    let response = client(&state).get("/ready").send().await;
    response.assert_status_is_ok();
    let body = json(response).await;
    assert_eq!(body["ready"], true);
    assert_eq!(body["components"]["database"], true);
    assert_eq!(body["components"]["redis"], "not_configured");
    assert!(body["duration_ms"].as_f64().is_some());
}

#[tokio::test]
async fn ready_turns_503_when_a_component_goes_down_and_back_when_it_returns() {
    let redis = SwitchableProbe::up("redis");
    let state = state(
        config(&[]),
        vec![
            Arc::new(SwitchableProbe::up("database")),
            Arc::new(redis.clone()),
        ],
        vec![],
    );
    let client = client(&state);
    client.get("/ready").send().await.assert_status_is_ok();
    redis.set_up(false);
    let response = client.get("/ready").send().await;
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    let body = json(response).await;
    assert_eq!(body["components"]["redis"], false);
    assert_eq!(body["components"]["database"], true);
    // What the OttoNotReady alert reads.
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"readiness_status{check="redis"} 0"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"readiness_status{check="database"} 1"#),
        "{metrics}"
    );
    redis.set_up(true);
    client.get("/ready").send().await.assert_status_is_ok();
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"readiness_status{check="redis"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_hanging_component_is_reported_down_instead_of_hanging_ready() {
    let hanging = SwitchableProbe::slow("database", Duration::from_secs(600));
    let state = state(
        config(&[("OTTO_READY_TIMEOUT_MS", "50")]),
        vec![Arc::new(hanging)],
        vec![],
    );
    let response =
        tokio::time::timeout(Duration::from_secs(60), client(&state).get("/ready").send())
            .await
            .expect("/ready answers although the probe never does");
    response.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(response).await["components"]["database"], false);
}

/// The metric families the issue requires, as they appear in the exposition.
const REQUIRED_FAMILIES: &[(&str, &str)] = &[
    ("http_requests", "counter"),
    ("http_request_duration_ms", "histogram"),
    ("worker_task", "counter"),
    ("worker_task_duration_ms", "histogram"),
    ("webhook_processed", "counter"),
    ("webhook_duplicates", "counter"),
    ("webhook_failures", "counter"),
    ("webhook_idempotency_purged", "counter"),
    ("rate_limit_hits", "counter"),
    ("asr_minutes", "counter"),
    ("llm_tokens", "counter"),
    ("sms_sent", "counter"),
];

/// A declared family: name and type.
type Family = (String, String);
/// A sample: metric name, label set as written, value.
type Sample = (String, String, f64);

/// A strict reader of the OpenMetrics text format: every line is a HELP/TYPE/EOF
/// comment or `name{labels} value`; returns the declared families and the samples.
fn parse_exposition(text: &str) -> (Vec<Family>, Vec<Sample>) {
    let sample = regex::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$"#)
        .expect("regex");
    let mut families = Vec::new();
    let mut samples = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "exposition ends with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            families.push((name.to_owned(), kind.to_owned()));
        } else if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
        } else {
            let captures = sample
                .captures(line)
                .unwrap_or_else(|| panic!("not a sample line: {line}"));
            let value: f64 = captures[3]
                .parse()
                .unwrap_or_else(|_| panic!("not a number: {line}"));
            samples.push((
                captures[1].to_owned(),
                captures.get(2).map_or("", |m| m.as_str()).to_owned(),
                value,
            ));
        }
    }
    (families, samples)
}

#[tokio::test]
async fn metrics_exposition_parses_and_lists_every_family_before_first_use() {
    let state = default_state();
    let response = operator_client(&state).get("/metrics").send().await;
    response.assert_status_is_ok();
    assert!(header(&response, "content-type").starts_with("application/openmetrics-text"));
    let text = response.0.into_body().into_string().await.expect("text");
    let (families, samples) = parse_exposition(&text);
    for (name, kind) in REQUIRED_FAMILIES {
        assert!(
            families.contains(&((*name).to_owned(), (*kind).to_owned())),
            "{name} ({kind}) missing:\n{text}"
        );
    }
    let purged = samples
        .iter()
        .find(|(name, _, _)| name == "webhook_idempotency_purged_total")
        .expect("unlabelled counter");
    assert_eq!(purged.2, 0.0, "present at zero");
}

#[tokio::test]
async fn requests_are_counted_by_route_template_with_bounded_labels() {
    let state = default_state();
    let client = client(&state);
    client.get("/health").send().await.assert_status_is_ok();
    client.get("/health").send().await.assert_status_is_ok();
    for n in 0..5 {
        client
            .get(format!("/random/{n}"))
            .send()
            .await
            .assert_status(StatusCode::NOT_FOUND);
    }
    let text = metrics_text(&state).await;
    let (_, samples) = parse_exposition(&text);
    let requests = |labels: &str| {
        samples
            .iter()
            .find(|(name, l, _)| name == "http_requests_total" && l == labels)
            .map(|(_, _, v)| *v)
    };
    assert_eq!(
        requests(r#"{route="/health",method="GET",status="200"}"#),
        Some(2.0)
    );
    assert_eq!(
        requests(r#"{route="unmatched",method="GET",status="404"}"#),
        Some(5.0),
        "{text}"
    );
    let routes: BTreeSet<&str> = samples
        .iter()
        .filter(|(name, _, _)| name == "http_requests_total")
        .map(|(_, labels, _)| labels.split('"').nth(1).unwrap_or_default())
        .collect();
    assert!(
        routes.iter().all(|route| !route.starts_with("/random")),
        "raw paths never become labels: {routes:?}"
    );
    assert!(
        text.contains(r#"http_request_duration_ms_count{route="/health",method="GET"} 2"#),
        "{text}"
    );
}

#[tokio::test]
async fn the_committed_openapi_document_is_up_to_date() {
    let state = default_state();
    let served = client(&state).get("/openapi.json").send().await;
    served.assert_status_is_ok();
    let served: serde_json::Value = json(served).await;
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/openapi.json"))
            .expect("docs/openapi.json is JSON");
    assert!(
        served == committed,
        "docs/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[tokio::test]
async fn the_document_printed_without_state_is_the_one_served() {
    let served = json(client(&default_state()).get("/openapi.json").send().await).await;
    let printed: serde_json::Value =
        serde_json::from_str(&otto_server::http::openapi_document()).expect("JSON");
    assert!(
        printed == served,
        "`otto-server openapi` prints another document than /openapi.json serves"
    );
}

#[tokio::test]
async fn every_operation_documents_its_problem_responses() {
    let state = default_state();
    let document = json(client(&state).get("/openapi.json").send().await).await;
    let paths = document["paths"].as_object().expect("paths");
    for route in ["/health", "/ready"] {
        assert!(paths.contains_key(route), "{route} documented");
    }
    for (path, operations) in paths {
        for (method, operation) in operations.as_object().expect("operations") {
            let responses = operation["responses"].as_object().expect("responses");
            let problems: Vec<&String> = responses
                .iter()
                .filter(|(_, response)| {
                    response["content"]
                        .get("application/problem+json")
                        .is_some()
                })
                .map(|(status, _)| status)
                .collect();
            assert!(
                problems.iter().any(|status| *status == "500"),
                "{method} {path} documents 500: {problems:?}"
            );
            assert!(
                problems.iter().any(|status| *status == "403"),
                "{method} {path} documents 403: {problems:?}"
            );
        }
    }
    let problem = &document["components"]["schemas"]["Problem"]["properties"];
    for member in ["type", "title", "status", "detail", "instance", "trace_id"] {
        assert!(problem.get(member).is_some(), "Problem schema has {member}");
    }
}

/// What a client generator needs of every operation: a unique operation id, a
/// description, a tag, described parameters, the credentials it takes, examples of
/// what it sends and answers, and its 400 when it has parameters to get wrong.
#[tokio::test]
async fn every_operation_is_described_for_generated_clients() {
    let state = default_state();
    let document = json(client(&state).get("/openapi.json").send().await).await;
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    let schemes = document["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    assert_eq!(schemes["ClerkSession"]["bearerFormat"], "JWT");
    assert_eq!(schemes["ApiToken"]["bearerFormat"], "biscuit");
    let has_example = |schema: &serde_json::Value| {
        let name = schema["$ref"]
            .as_str()
            .and_then(|reference| reference.rsplit('/').next());
        name.is_none_or(|name| schemas[name].get("example").is_some())
    };
    let mut operation_ids = std::collections::BTreeSet::new();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let at = format!("{method} {path}");
            let id = operation["operationId"].as_str().expect("operation id");
            assert!(
                operation_ids.insert(id.to_owned()),
                "{at}: `{id}` is unique"
            );
            assert!(
                operation["description"].is_string() || operation["summary"].is_string(),
                "{at} is described"
            );
            assert!(
                operation["tags"]
                    .as_array()
                    .is_some_and(|tags| !tags.is_empty()),
                "{at} is tagged"
            );
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            for parameter in &parameters {
                assert!(
                    parameter["description"].is_string(),
                    "{at}: parameter {} is described",
                    parameter["name"]
                );
            }
            let responses = operation["responses"].as_object().expect("responses");
            if path.starts_with("/api/") {
                let security = operation["security"].to_string();
                for scheme in ["ClerkSession", "ApiToken"] {
                    assert!(security.contains(scheme), "{at} takes {scheme}");
                }
                let reads_input = parameters
                    .iter()
                    .any(|parameter| parameter["in"] != "header")
                    || operation.get("requestBody").is_some();
                assert!(
                    !reads_input || responses.contains_key("400"),
                    "{at} documents the 400 of a malformed parameter or body"
                );
                for (status, response) in responses {
                    let content = response["content"].as_object();
                    if let (true, Some(content)) = (status.starts_with('2'), content) {
                        for media in content.values() {
                            assert!(
                                has_example(&media["schema"]),
                                "{at}: {status} has an example"
                            );
                        }
                    }
                }
                if let Some(body) = operation["requestBody"]["content"].as_object() {
                    for media in body.values() {
                        assert!(
                            has_example(&media["schema"]),
                            "{at}: the request body has an example"
                        );
                    }
                    // Too large, not JSON, not valid: every body can be all three.
                    for status in ["413", "415", "422"] {
                        assert!(responses.contains_key(status), "{at} documents {status}");
                    }
                }
            }
        }
    }
}

#[tokio::test]
async fn swagger_ui_and_redoc_are_served() {
    let state = default_state();
    for path in ["/docs", "/redoc"] {
        let response = client(&state).get(path).send().await;
        response.assert_status_is_ok();
        assert!(
            header(&response, "content-type").starts_with("text/html"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_public_port_never_tells_tenant_ids_through_metrics() {
    let token = "operator-metrics-token-01"; // pragma: allowlist secret
    let state = state(
        config(&[("OTTO_METRICS_TOKEN", token)]),
        vec![],
        vec!["redis"],
    );
    let public = client(&state);
    public
        .post("/webhook/callrail/pre-call")
        .header("content-type", "application/json")
        .body(r#"{"call_id":"metrics-tenant-probe"}"#)
        .send()
        .await
        .assert_status_is_ok();
    let response = public.get("/metrics").send().await;
    response.assert_status(StatusCode::NOT_FOUND);
    let body = response.0.into_body().into_string().await.expect("text");
    assert!(!body.contains("tenant_id"), "{body}");
    let document = json(public.get("/openapi.json").send().await).await;
    assert!(
        document["paths"].get("/metrics").is_none(),
        "not documented"
    );

    let operators = operator_client(&state);
    operators
        .get("/metrics")
        .send()
        .await
        .assert_status(StatusCode::UNAUTHORIZED);
    let scraped = operators
        .get("/metrics")
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await;
    scraped.assert_status_is_ok();
    let text = scraped.0.into_body().into_string().await.expect("text");
    assert!(
        text.contains(r#"tenant_id="dev""#),
        "the operators see the tenant the delivery went to: {text}"
    );
    operators.get("/health").send().await.assert_status_is_ok();
}
