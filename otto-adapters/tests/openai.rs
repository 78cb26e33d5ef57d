//! The OpenAI adapter against a local stub: the request (model, strict schema,
//! bearer key), parsing the structured answer and usage, refusals, cut-off and
//! malformed answers, rate limits; and the analyzer contract.

use std::time::Duration;

use otto_adapters::providers::http::ProviderHttp;
use otto_adapters::providers::openai::OpenAiAnalyzer;
use otto_core::ports::{CallAnalyzer, ProviderError};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk-openai-stub-key"; // pragma: allowlist secret
const TRANSCRIPT: &str = "Agent: Acme Plumbing. Caller: Hi, I'm Jane, my sink leaks. \
    Can you come tomorrow at 9 to 12 Main St? Agent: Booked.";

fn analyzer(server: &MockServer) -> OpenAiAnalyzer {
    let http = ProviderHttp::new("openai", Duration::from_secs(5), 2)
        .expect("client")
        .with_backoff(Duration::from_millis(10));
    OpenAiAnalyzer::new(http, &format!("{}/v1", server.uri()), KEY, "gpt-4o").expect("analyzer")
}

fn completion(content: serde_json::Value, finish_reason: &str) -> serde_json::Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": "gpt-4o-2024-08-06",
        "choices": [{
            "index": 0,
            "message": { "role": "assistant", "content": content.to_string(), "refusal": null },
            "finish_reason": finish_reason
        }],
        "usage": { "prompt_tokens": 312, "completion_tokens": 64, "total_tokens": 376 }
    })
}

fn booked() -> serde_json::Value {
    json!({
        "is_sales_call": true, "booked": true, "appointment_time": "2026-11-27T09:00:00",
        "address": "12 Main St", "customer_name": "Jane", "problem": "leaking sink",
        "cancelled": false, "rescheduled": false,
        "summary": "Jane booked a plumber for a leaking sink."
    })
}

#[tokio::test]
async fn a_transcript_is_analysed_with_a_strict_schema_and_usage_is_reported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "gpt-4o",
            "temperature": 0,
            "response_format": { "type": "json_schema", "json_schema": { "name": "call_analysis", "strict": true } }
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(booked(), "stop")))
        .expect(1)
        .mount(&server)
        .await;
    let result = analyzer(&server)
        .analyze(TRANSCRIPT)
        .await
        .expect("analysed");
    assert!(result.analysis.booked && result.analysis.is_sales_call);
    assert_eq!(result.analysis.address.as_deref(), Some("12 Main St"));
    assert_eq!(result.model, "gpt-4o-2024-08-06");
    assert_eq!(result.usage.total_tokens, 376);
    let requests = server.received_requests().await.expect("recorded");
    let sent: serde_json::Value = serde_json::from_slice(&requests[0].body).expect("json");
    assert_eq!(sent["messages"][1]["content"], TRANSCRIPT);
    let required = sent["response_format"]["json_schema"]["schema"]["required"]
        .as_array()
        .expect("required fields")
        .len();
    assert_eq!(required, 9, "every field of the analysis is required");
}

async fn refused_with(answer: ResponseTemplate) -> ProviderError {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(answer)
        .mount(&server)
        .await;
    analyzer(&server)
        .analyze(TRANSCRIPT)
        .await
        .expect_err("refused")
}

#[tokio::test]
async fn refusals_cut_off_and_malformed_answers_are_permanent_errors() {
    let refusal = json!({
        "model": "gpt-4o", "choices": [{"message": {"content": null, "refusal": "I can't help"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    });
    for (answer, expected) in [
        (ResponseTemplate::new(200).set_body_json(refusal), "refused"),
        (
            ResponseTemplate::new(200).set_body_json(completion(json!({"booked": true}), "length")),
            "cut off",
        ),
        (
            ResponseTemplate::new(200).set_body_json(completion(json!({"booked": "yes"}), "stop")),
            "schema",
        ),
        (
            ResponseTemplate::new(401).set_body_json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})),
            "Incorrect API key",
        ),
    ] {
        let error = refused_with(answer).await;
        assert!(
            matches!(&error, ProviderError::Permanent { message, .. } if message.contains(expected)),
            "{expected}: {error:?}"
        );
        assert!(!format!("{error:?}").contains(KEY));
    }
}

#[tokio::test]
async fn a_rate_limited_request_waits_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(booked(), "stop")))
        .mount(&server)
        .await;
    assert!(analyzer(&server).analyze(TRANSCRIPT).await.is_ok());
    let requests: Vec<Request> = server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 2);
}

#[tokio::test]
async fn the_openai_adapter_honours_the_analyzer_contract() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion(booked(), "stop")))
        .mount(&server)
        .await;
    otto_testkit::contracts::call_analyzer_contract(&analyzer(&server), TRANSCRIPT).await;
}
