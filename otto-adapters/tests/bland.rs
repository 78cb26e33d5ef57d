//! The Bland AI adapter against a local stub: the exact request (authorization,
//! number, task, tenant metadata, webhook), the answer, refusals, the lookup of a
//! call started earlier; and the AI caller contract on a stateful stub.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use otto_adapters::providers::bland::BlandCaller;
use otto_adapters::providers::http::ProviderHttp;
use otto_core::ports::{AiCallRequest, AiCaller, ProviderError};
use otto_core::tenancy::TenantId;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "bland-stub-key"; // pragma: allowlist secret

fn caller(server: &MockServer, timeout: Duration) -> BlandCaller {
    let http = ProviderHttp::new("bland", timeout, 2)
        .expect("client")
        .with_backoff(Duration::from_millis(10));
    BlandCaller::new(http, &server.uri(), KEY).expect("caller")
}

fn request() -> AiCallRequest {
    AiCallRequest {
        phone_number: "+15551230000".into(),
        task: "Ask how Acme can help.".into(),
        from: None,
        tenant_id: TenantId::parse("org_acme").expect("valid"),
        reference: "ai_follow_up:org_acme:callrail:CAL1".into(),
        webhook_url: Some("https://otto.example/webhook/bland".into()),
    }
}

#[tokio::test]
async fn a_call_is_started_with_the_tenant_in_its_metadata_and_otto_as_its_webhook() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/calls"))
        .and(header("authorization", KEY))
        .and(body_json(json!({
            "phone_number": "+15551230000",
            "task": "Ask how Acme can help.",
            "metadata": { "tenant_id": "org_acme", "otto_reference": "ai_follow_up:org_acme:callrail:CAL1" },
            "webhook": "https://otto.example/webhook/bland",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "success", "call_id": "9d404c1b-6a23-4426-953a-a52c392ff8f1"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let started = caller(&server, Duration::from_secs(5))
        .start_call(&request())
        .await
        .expect("started");
    assert_eq!(
        started.provider_call_id,
        "9d404c1b-6a23-4426-953a-a52c392ff8f1"
    );
}

#[tokio::test]
async fn a_refused_call_is_a_permanent_error_with_blands_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "error", "message": "Invalid phone number"
        })))
        .mount(&server)
        .await;
    let error = caller(&server, Duration::from_secs(5))
        .start_call(&request())
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ProviderError::Permanent { message, .. } if message.contains("Invalid phone number")),
        "{error:?}"
    );
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid API key"})),
        )
        .mount(&server)
        .await;
    let error = caller(&server, Duration::from_secs(5))
        .start_call(&request())
        .await
        .expect_err("unauthorised");
    assert!(
        matches!(error, ProviderError::Permanent { .. }),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(KEY));
}

#[tokio::test]
async fn a_timed_out_start_is_not_repeated() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "success", "call_id": "c1"}))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = caller(&server, Duration::from_millis(300))
        .start_call(&request())
        .await
        .expect_err("timed out");
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
}

/// Bland's calls resource: POSTs are kept with their metadata, GETs list them by
/// `to_number`.
#[derive(Clone, Default)]
struct BlandStub {
    calls: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl wiremock::Respond for BlandStub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut calls = self.calls.lock().expect("stub");
        if request.method == wiremock::http::Method::POST {
            let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json");
            let call_id = format!("call-{}", calls.len() + 1);
            calls.push(json!({
                "call_id": call_id,
                "to": body["phone_number"],
                "created_at": Utc::now().to_rfc3339(),
                "metadata": body["metadata"],
            }));
            return ResponseTemplate::new(200)
                .set_body_json(json!({"status": "success", "call_id": call_id}));
        }
        let to = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "to_number")
            .map(|(_, value)| value.into_owned());
        let listed: Vec<&serde_json::Value> = calls
            .iter()
            .filter(|call| call["to"].as_str() == to.as_deref())
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"count": listed.len(), "calls": listed}))
    }
}

#[tokio::test]
async fn the_bland_adapter_honours_the_ai_caller_contract() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/calls"))
        .respond_with(BlandStub::default())
        .mount(&server)
        .await;
    otto_testkit::contracts::ai_caller_contract(
        &caller(&server, Duration::from_secs(5)),
        Utc::now(),
    )
    .await;
}
