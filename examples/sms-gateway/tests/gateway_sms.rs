//! The gateway adapter against a wiremock stub of the gateway: the port's contract
//! suite (the same one the Twilio adapter and the fake pass), then what the contract
//! cannot say about this provider: the exact request, refusals, retries, and no
//! credential in any error.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use otto_adapters::providers::http::ProviderHttp;
use otto_core::ports::{ProviderError, SmsRequest, SmsSender};
use serde_json::{Value, json};
use sms_gateway::{GatewaySms, PROVIDER};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const API_KEY: &str = "gateway-stub-api-key"; // pragma: allowlist secret
const MESSAGES: &str = "/v1/messages";

/// The gateway's messages resource: POSTs are kept, GETs list them by `to`, `from`
/// and `created_after`, newest first.
#[derive(Clone, Default)]
struct GatewayStub {
    sent: Arc<Mutex<Vec<Value>>>,
}

impl Respond for GatewayStub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if request.method == wiremock::http::Method::POST {
            let mut message: Value = serde_json::from_slice(&request.body).expect("json");
            message["id"] = format!("msg_{}", sent.len() + 1).into();
            message["created_at"] = Utc::now().to_rfc3339().into();
            sent.insert(0, message.clone());
            return ResponseTemplate::new(201).set_body_json(message);
        }
        let query = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        let after: DateTime<Utc> = query("created_after")
            .and_then(|text| text.parse().ok())
            .expect("created_after is RFC 3339");
        let data: Vec<&Value> = sent
            .iter()
            .filter(|message| {
                message["to"].as_str() == query("to").as_deref()
                    && message["from"].as_str() == query("from").as_deref()
                    && message["created_at"]
                        .as_str()
                        .and_then(|text| text.parse::<DateTime<Utc>>().ok())
                        .is_some_and(|created| created >= after)
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "data": data }))
    }
}

fn sender(server: &MockServer) -> GatewaySms {
    let http = ProviderHttp::new(PROVIDER, Duration::from_secs(5), 2)
        .expect("a client")
        .with_backoff(Duration::from_millis(10));
    GatewaySms::new(http, &server.uri(), API_KEY).expect("a sender")
}

fn request() -> SmsRequest {
    SmsRequest {
        to: "+15551230000".into(),
        from: "+15550009999".into(),
        body: "Hi Jane, sorry we missed your call".into(),
    }
}

fn assert_no_key(error: &ProviderError) {
    let text = format!("{error} {error:?}");
    assert!(!text.contains(API_KEY), "the API key leaked: {text}");
}

#[tokio::test]
async fn the_gateway_adapter_honours_the_sms_contract() {
    let server = MockServer::start().await;
    Mock::given(path(MESSAGES))
        .respond_with(GatewayStub::default())
        .mount(&server)
        .await;
    otto_testkit::contracts::sms_sender_contract(&sender(&server), Utc::now()).await;
}

#[tokio::test]
async fn a_message_is_sent_as_the_gateway_expects() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header(
            "authorization",
            format!("Bearer {API_KEY}").as_str(),
        ))
        .and(body_json(json!({
            "to": "+15551230000",
            "from": "+15550009999",
            "text": "Hi Jane, sorry we missed your call",
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "msg_42"})))
        .expect(1)
        .mount(&server)
        .await;
    let sent = sender(&server).send(&request()).await.expect("sent");
    assert_eq!(sent.provider_message_id, "msg_42");
}

#[tokio::test]
async fn a_refused_number_is_permanent_and_says_why_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(json!({"error": "invalid 'to' number"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = sender(&server).send(&request()).await.expect_err("refused");
    assert!(
        matches!(&error, ProviderError::Permanent { provider: PROVIDER, message } if message.contains("422") && message.contains("invalid 'to' number")),
        "{error:?}"
    );
    assert_no_key(&error);
}

#[tokio::test]
async fn a_send_refused_for_now_is_retried_but_a_lost_answer_is_not() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "msg_2"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let sent = sender(&server).send(&request()).await.expect("sent");
    assert_eq!(sent.provider_message_id, "msg_2", "a 503 is retried");

    // A 500 may have come after the message went out: not repeated in place.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(500))
        .expect(1)
        .mount(&server)
        .await;
    let error = sender(&server)
        .send(&request())
        .await
        .expect_err("not repeated");
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_answer_that_is_not_the_gateways_is_a_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>proxy</html>"))
        .mount(&server)
        .await;
    let error = sender(&server)
        .send(&request())
        .await
        .expect_err("unreadable");
    assert!(
        matches!(&error, ProviderError::Permanent { message, .. } if message.contains("unexpected answer")),
        "{error:?}"
    );
}
