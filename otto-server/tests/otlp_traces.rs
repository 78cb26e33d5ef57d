//! Traces as a tracing backend receives them: real OTLP/HTTP protobuf exports from
//! the server and the worker (as `serve` runs both on the embedded default), decoded
//! with the OpenTelemetry protobuf definitions. A missed-call webhook, the SMS job it
//! causes and the Twilio request the job makes are one trace: SERVER span → job span
//! → CLIENT span, with the HTTP and database semantic conventions' names and
//! attributes, and the CLIENT span's `traceparent` reaches Twilio.

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use otto_adapters::system::SystemClock;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::callrail;
use otto_core::webhooks::{AccountRef, Provider};
use otto_server::startup;
use otto_server::telemetry::metrics::Metrics;
use otto_server::telemetry::{LogDestination, Service};
use otto_server::worker::WorkerPool;
use otto_testkit::stubs::TwilioMessagesStub;
use poem::test::TestClient;
use poem::web::Data;
use poem::{EndpointExt, Route, handler, post};
use prost::Message;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer};

const SECRET: &str = "callrail-otlp-test-key"; // pragma: allowlist secret
const MESSAGES: &str = "/2010-04-01/Accounts/ACotlptest/Messages.json";

type Exports = Arc<Mutex<Vec<Vec<u8>>>>;

#[handler]
fn collect(body: Vec<u8>, exports: Data<&Exports>) -> &'static str {
    exports.lock().expect("lock").push(body);
    "{}"
}

/// An OTLP/HTTP collector on a loopback port: what it received, and its URL.
async fn collector() -> (Exports, String) {
    let exports = Exports::default();
    let app = Route::new()
        .at("/v1/traces", post(collect))
        .data(exports.clone());
    let address = support::serve_on_loopback(app).await;
    (exports, format!("http://{address}"))
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|value| value.value.as_ref())
}

fn text(span: &Span, key: &str) -> String {
    match attribute(&span.attributes, key) {
        Some(AnyValue::StringValue(text)) => text.clone(),
        Some(AnyValue::IntValue(number)) => number.to_string(),
        Some(other) => format!("{other:?}"),
        None => panic!("span `{}` has no `{key}`: {:?}", span.name, span.attributes),
    }
}

fn int(span: &Span, key: &str) -> i64 {
    match attribute(&span.attributes, key) {
        Some(AnyValue::IntValue(number)) => *number,
        other => panic!("span `{}`: `{key}` is not an integer: {other:?}", span.name),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_its_job_and_the_sms_are_one_trace_in_otlp() {
    let (exports, endpoint) = collector().await;
    let twilio_server = MockServer::start().await;
    let twilio = TwilioMessagesStub::answering_after(Duration::ZERO);
    Mock::given(path(MESSAGES))
        .respond_with(twilio.clone())
        .mount(&twilio_server)
        .await;
    let data = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}/otto.db", data.path().display());
    let twilio_base = twilio_server.uri();
    let mut config = support::config(&[
        ("DATABASE_URL", database_url.as_str()),
        ("CALLRAIL_WEBHOOK_SECRET", SECRET),
        ("TWILIO_ACCOUNT_SID", "ACotlptest"),
        ("TWILIO_AUTH_TOKEN", "twilio-otlp-token"), // pragma: allowlist secret
        ("TWILIO_FROM_NUMBER", "+15550009999"),
        ("TWILIO_API_BASE_URL", twilio_base.as_str()),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTTO_WORKER_POLL_MS", "20"),
    ]);
    config.webhooks.default_tenant = None;
    let telemetry = otto_server::telemetry::init(&config, Service::Api, LogDestination::Stderr)
        .expect("telemetry");

    let connections = startup::connect(&config).await.expect("connects");
    let authenticator =
        startup::authenticator(&config, Arc::new(SystemClock)).expect("credentials");
    let state = startup::state(config.clone(), &connections, authenticator).expect("state");
    state
        .provider_accounts
        .link(
            &AccountRef::new(Provider::CallRail, "COMOTLP"),
            &TenantId::parse("org_otlp").expect("valid"),
        )
        .await
        .expect("links");
    let client = TestClient::new(otto_server::http::app(&state));
    let body = r#"{"resource_id":"CALOTLP","company_resource_id":"COMOTLP","direction":"inbound","answered":false,"customer_name":"Jane Doe","customer_phone_number":"+15551230000"}"#;
    client
        .post("/webhook/callrail/call-complete")
        .header("content-type", "application/json")
        .header("user-agent", "CallRail-Webhooks/1.0")
        .header("Signature", callrail::sign(SECRET, body.as_bytes()))
        .body(body)
        .send()
        .await
        .assert_status_is_ok();

    // The worker, as `serve` runs it in-process on the embedded default.
    let store = Arc::new(startup::sql_store(&config, connections.database.clone()));
    let metrics = Arc::new(Metrics::new());
    let pool = WorkerPool::new(
        startup::job_runner(&config, store, metrics.clone()).expect("runner"),
        Arc::new(SystemClock),
        config.worker.clone(),
        metrics,
    );
    let sent = twilio.clone();
    pool.run(
        async move {
            for _ in 0..500 {
                if !sent.sent().is_empty() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("no SMS within 5 s");
        },
        Duration::from_secs(5),
    )
    .await;
    let traceparent = twilio_server.received_requests().await.expect("recorded")[0]
        .headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .expect("Twilio received a traceparent");
    drop(telemetry); // flushes the batch exporter

    let mut spans: Vec<Span> = Vec::new();
    let mut resources = Vec::new();
    for export in exports.lock().expect("lock").iter() {
        let request = ExportTraceServiceRequest::decode(export.as_slice()).expect("OTLP protobuf");
        for resource_spans in request.resource_spans {
            resources.push(resource_spans.resource.expect("a resource").attributes);
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    assert!(!spans.is_empty(), "the collector received spans");
    for attributes in &resources {
        for key in [
            "service.name",
            "service.version",
            "deployment.environment.name",
        ] {
            assert!(attribute(attributes, key).is_some(), "resource lacks {key}");
        }
    }
    let by_id: HashMap<Vec<u8>, &Span> = spans
        .iter()
        .map(|span| (span.span_id.clone(), span))
        .collect();

    let server = spans
        .iter()
        .find(|span| span.kind == SpanKind::Server as i32 && span.name.starts_with("POST /webhook"))
        .unwrap_or_else(|| {
            panic!(
                "a webhook SERVER span among {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        });
    assert_eq!(server.name, "POST /webhook/callrail/call-complete");
    assert_eq!(text(server, "http.request.method"), "POST");
    assert_eq!(
        text(server, "http.route"),
        "/webhook/callrail/call-complete"
    );
    assert_eq!(text(server, "url.path"), "/webhook/callrail/call-complete");
    assert_eq!(text(server, "url.scheme"), "http");
    assert_eq!(int(server, "http.response.status_code"), 200);
    assert_eq!(text(server, "user_agent.original"), "CallRail-Webhooks/1.0");
    for key in [
        "server.address",
        "server.port",
        "client.address",
        "tenant_id",
    ] {
        let _ = text(server, key);
    }
    assert!(
        attribute(&server.attributes, "error.type").is_none(),
        "a 200 is no error"
    );
    assert_ne!(
        server.status.as_ref().map(|status| status.code),
        Some(StatusCode::Error as i32)
    );

    let job = spans
        .iter()
        .find(|span| span.name == "job missed_call_recovery")
        .expect("the job's span");
    assert_eq!(
        job.trace_id, server.trace_id,
        "the job continues the webhook's trace"
    );
    let job_parent = by_id
        .get(&job.parent_span_id)
        .expect("the job's parent was exported");
    assert_eq!(job_parent.trace_id, server.trace_id);
    assert_eq!(job.kind, SpanKind::Consumer as i32);

    let sms = spans
        .iter()
        .find(|span| {
            span.kind == SpanKind::Client as i32
                && span.name == "POST"
                && attribute(&span.attributes, "url.full").is_some()
        })
        .expect("the Twilio CLIENT span");
    assert_eq!(sms.trace_id, server.trace_id);
    assert_eq!(
        sms.parent_span_id, job.span_id,
        "the SMS is the job's child"
    );
    assert_eq!(text(sms, "http.request.method"), "POST");
    assert_eq!(int(sms, "http.response.status_code"), 201);
    assert!(
        text(sms, "url.full").ends_with(MESSAGES),
        "{}",
        text(sms, "url.full")
    );
    let hex = |bytes: &[u8]| {
        bytes
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect::<String>()
    };
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", hex(&sms.trace_id), hex(&sms.span_id)),
        "Twilio saw the CLIENT span as the caller"
    );

    let transactions: Vec<&Span> = spans
        .iter()
        .filter(|span| span.name == "BEGIN" && span.trace_id == server.trace_id)
        .collect();
    assert!(
        !transactions.is_empty(),
        "database work is visible in the trace"
    );
    for transaction in transactions {
        assert_eq!(text(transaction, "db.system.name"), "sqlite");
        assert_eq!(transaction.kind, SpanKind::Client as i32);
    }
}
