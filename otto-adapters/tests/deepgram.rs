//! The Deepgram adapter against a local stub: the exact request, parsing words and
//! speakers, retries, refusals, malformed answers; and the transcriber contract.

use std::time::Duration;

use otto_adapters::providers::deepgram::DeepgramTranscriber;
use otto_adapters::providers::http::ProviderHttp;
use otto_core::ports::{ProviderError, Transcriber};
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "deepgram-stub-key"; // pragma: allowlist secret
const AUDIO: &str = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1";

fn transcriber(server: &MockServer) -> DeepgramTranscriber {
    let http = ProviderHttp::new("deepgram", Duration::from_secs(5), 2)
        .expect("client")
        .with_backoff(Duration::from_millis(10));
    DeepgramTranscriber::new(http, &server.uri(), KEY, "nova-3").expect("transcriber")
}

fn answer() -> serde_json::Value {
    json!({
        "metadata": { "request_id": "9b2e", "duration": 12.25, "channels": 1 },
        "results": { "channels": [{
            "detected_language": "en",
            "alternatives": [{
                "transcript": "Acme Plumbing. My sink is leaking.",
                "confidence": 0.97,
                "words": [
                    {"word": "acme", "punctuated_word": "Acme", "start": 0.1, "end": 0.5, "confidence": 0.99, "speaker": 0},
                    {"word": "plumbing", "punctuated_word": "Plumbing.", "start": 0.5, "end": 1.0, "confidence": 0.98, "speaker": 0},
                    {"word": "leaking", "punctuated_word": "leaking.", "start": 2.0, "end": 2.6, "confidence": 0.91, "speaker": 1}
                ]
            }]
        }]}
    })
}

#[tokio::test]
async fn a_recording_url_is_sent_and_the_words_and_speakers_come_back() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/listen"))
        .and(query_param("model", "nova-3"))
        .and(query_param("diarize", "true"))
        .and(query_param("smart_format", "true"))
        .and(header("authorization", format!("Token {KEY}").as_str()))
        .and(body_json(json!({ "url": AUDIO })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    let transcript = transcriber(&server)
        .transcribe(AUDIO)
        .await
        .expect("transcribed");
    assert_eq!(transcript.text, "Acme Plumbing. My sink is leaking.");
    assert_eq!(transcript.language.as_deref(), Some("en"));
    assert!((transcript.duration_seconds - 12.25).abs() < 1e-9);
    assert_eq!(transcript.model, "nova-3");
    assert_eq!(transcript.words.len(), 3);
    assert_eq!(
        transcript.words[1].word, "Plumbing.",
        "punctuated words are kept"
    );
    assert_eq!(transcript.speaker_count(), 2);
}

#[tokio::test]
async fn an_overloaded_deepgram_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    assert!(transcriber(&server).transcribe(AUDIO).await.is_ok());
}

#[tokio::test]
async fn an_unreachable_recording_is_a_permanent_error_without_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "err_code": "REMOTE_CONTENT_ERROR",
            "err_msg": "Could not determine if URL for media download is publicly routable.",
        })))
        .mount(&server)
        .await;
    let error = transcriber(&server)
        .transcribe(AUDIO)
        .await
        .expect_err("refused");
    assert!(
        matches!(&error, ProviderError::Permanent { message, .. } if message.contains("publicly routable")),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(KEY));
}

#[tokio::test]
async fn an_answer_without_a_transcript_is_a_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "metadata": { "duration": 1.0 }, "results": { "channels": [] }
        })))
        .mount(&server)
        .await;
    let error = transcriber(&server)
        .transcribe(AUDIO)
        .await
        .expect_err("empty");
    assert!(
        matches!(error, ProviderError::Permanent { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn the_deepgram_adapter_honours_the_transcriber_contract() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .mount(&server)
        .await;
    otto_testkit::contracts::transcriber_contract(&transcriber(&server), AUDIO).await;
}
