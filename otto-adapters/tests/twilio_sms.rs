//! The Twilio adapter against a local stub of Twilio's API: the exact request,
//! parsing, 4xx, 5xx and 429 with Retry-After, timeouts, malformed answers, and the
//! lookup of a message sent earlier. No credential ever appears in an error.

use std::time::Duration;

use chrono::{DateTime, Utc};
use otto_adapters::providers::http::ProviderHttp;
use otto_adapters::providers::twilio::TwilioSms;
use otto_core::ports::{ProviderError, SmsRequest, SmsSender};
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SID: &str = "AC0123456789abcdef0123456789abcdef"; // pragma: allowlist secret
const TOKEN: &str = "twilio-stub-auth-token"; // pragma: allowlist secret
const MESSAGES: &str = "/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"; // pragma: allowlist secret

fn sender(server: &MockServer, timeout: Duration) -> TwilioSms {
    let http = ProviderHttp::new("twilio", timeout, 2)
        .expect("client")
        .with_backoff(Duration::from_millis(10));
    TwilioSms::new(http, &server.uri(), SID, TOKEN).expect("sender")
}

fn request() -> SmsRequest {
    SmsRequest {
        to: "+15551230000".into(),
        from: "+15550009999".into(),
        body: "Hi Jane, sorry we missed your call & we'll call back".into(),
    }
}

fn basic_auth() -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{TOKEN}"))
    )
}

fn assert_no_secret(error: &ProviderError) {
    let text = format!("{error} {error:?}");
    assert!(!text.contains(TOKEN), "the auth token leaked: {text}");
}

#[tokio::test]
async fn a_message_is_sent_as_twilio_expects_and_its_sid_returned() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", basic_auth().as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(
            "To=%2B15551230000&From=%2B15550009999&Body=Hi+Jane%2C+sorry+we+missed+your+call+%26+we%27ll+call+back",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({
            "sid": "SM00000000000000000000000000000001",
            "status": "queued",
        })))
        .expect(1)
        .mount(&server)
        .await;
    let sent = sender(&server, Duration::from_secs(5))
        .send(&request())
        .await
        .expect("sent");
    assert_eq!(
        sent.provider_message_id,
        "SM00000000000000000000000000000001"
    );
}

#[tokio::test]
async fn a_refused_number_is_a_permanent_error_with_twilios_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({
            "code": 21211,
            "message": "The 'To' number +15551230000 is not a valid phone number.",
            "status": 400,
        })))
        .expect(1)
        .mount(&server)
        .await;
    let error = sender(&server, Duration::from_secs(5))
        .send(&request())
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ProviderError::Permanent { message, .. } if message.contains("21211") && message.contains("400")),
        "{error:?}"
    );
    assert_no_secret(&error);
}

#[tokio::test]
async fn unavailable_and_rate_limited_answers_are_retried() {
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
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": "SM2"})))
        .expect(1)
        .mount(&server)
        .await;
    let started = std::time::Instant::now();
    let sent = sender(&server, Duration::from_secs(5))
        .send(&request())
        .await
        .expect("sent on the third try");
    assert_eq!(sent.provider_message_id, "SM2");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn a_provider_that_stays_down_is_a_transient_error_after_the_retries() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&server)
        .await;
    let error = sender(&server, Duration::from_secs(5))
        .send(&request())
        .await
        .expect_err("down");
    assert!(
        matches!(error, ProviderError::Transient { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_timed_out_send_is_not_repeated_because_twilio_may_have_sent_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(serde_json::json!({"sid": "SM3"}))
                .set_delay(Duration::from_secs(2)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let error = sender(&server, Duration::from_millis(300))
        .send(&request())
        .await
        .expect_err("timed out");
    assert!(
        matches!(&error, ProviderError::Transient { message, .. } if message.contains("timed out")),
        "{error:?}"
    );
    assert_no_secret(&error);
}

#[tokio::test]
async fn a_malformed_answer_is_a_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(201).set_body_string("<html>oops</html>"))
        .mount(&server)
        .await;
    let error = sender(&server, Duration::from_secs(5))
        .send(&request())
        .await
        .expect_err("malformed");
    assert!(
        matches!(error, ProviderError::Permanent { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_earlier_message_is_found_by_number_day_and_text() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(MESSAGES))
        .and(header("authorization", basic_auth().as_str()))
        .and(query_param("To", "+15551230000"))
        .and(query_param("From", "+15550009999"))
        .and(query_param("DateSent>", "2026-11-26"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "messages": [
                {"sid": "SMother", "body": "another text", "date_created": "Thu, 26 Nov 2026 10:00:30 +0000"},
                {"sid": "SMold", "body": request().body, "date_created": "Thu, 26 Nov 2026 08:00:00 +0000"},
                {"sid": "SMmine", "body": request().body, "date_created": "Thu, 26 Nov 2026 10:00:01 +0000"},
            ],
        })))
        .mount(&server)
        .await;
    let since: DateTime<Utc> = "2026-11-26T09:55:00Z".parse().expect("valid");
    let twilio = sender(&server, Duration::from_secs(5));
    let found = twilio
        .find_sent(&request(), since)
        .await
        .expect("looked up");
    assert_eq!(
        found.map(|sent| sent.provider_message_id).as_deref(),
        Some("SMmine")
    );
    let other = SmsRequest {
        body: "never sent".into(),
        ..request()
    };
    assert_eq!(
        twilio.find_sent(&other, since).await.expect("looked up"),
        None
    );
}

#[tokio::test]
async fn the_twilio_adapter_honours_the_sms_contract() {
    let server = MockServer::start().await;
    Mock::given(path(MESSAGES))
        .respond_with(otto_testkit::stubs::TwilioMessagesStub::default())
        .mount(&server)
        .await;
    otto_testkit::contracts::sms_sender_contract(
        &sender(&server, Duration::from_secs(5)),
        Utc::now(),
    )
    .await;
}
