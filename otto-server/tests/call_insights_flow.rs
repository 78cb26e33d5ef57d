//! A Twilio recording end to end: the webhook enqueues transcription, the worker
//! sends the recording URL to a Deepgram stub, stores the transcript, then sends it to
//! an OpenAI stub and stores the analysis; asr_minutes_total and llm_tokens_total grow
//! by what the providers reported.

mod support;

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::store::SqlStore;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_core::jobs::JobStatus;
use otto_core::ports::{InsightStore, JobQueue, RecordingRef};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_server::startup;
use otto_server::telemetry::metrics::Metrics;
use otto_server::worker::WorkerPool;
use poem::test::TestClient;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const RECORDING_URL: &str = "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1";

async fn deepgram() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/listen"))
        .and(body_json(json!({ "url": RECORDING_URL })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "metadata": { "duration": 90.0 },
            "results": { "channels": [{ "alternatives": [{
                "transcript": "Acme Plumbing. I need my sink fixed tomorrow at nine.",
                "words": [
                    {"word": "acme", "start": 0.1, "end": 0.4, "confidence": 0.99, "speaker": 0},
                    {"word": "sink", "start": 2.0, "end": 2.3, "confidence": 0.95, "speaker": 1}
                ]
            }]}]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    server
}

async fn openai() -> MockServer {
    let server = MockServer::start().await;
    let analysis = json!({
        "is_sales_call": true, "booked": true, "appointment_time": "tomorrow 9:00",
        "address": null, "customer_name": null, "problem": "sink repair",
        "cancelled": false, "rescheduled": false, "summary": "A sink repair was booked."
    });
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "model": "gpt-4o-2024-08-06",
            "choices": [{ "message": { "content": analysis.to_string() }, "finish_reason": "stop" }],
            "usage": { "prompt_tokens": 300, "completion_tokens": 50, "total_tokens": 350 }
        })))
        .expect(1)
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_is_transcribed_analysed_and_metered() {
    let (deepgram, openai) = (deepgram().await, openai().await);
    let dir = tempfile::tempdir().expect("temp dir");
    let database = format!("sqlite://{}/otto.db", dir.path().display());
    let deepgram_url = deepgram.uri();
    let openai_url = format!("{}/v1", openai.uri());
    let config = support::config(&[
        ("DATABASE_URL", database.as_str()),
        ("DEEPGRAM_API_KEY", "deepgram-flow-key"),
        ("DEEPGRAM_API_BASE_URL", deepgram_url.as_str()),
        ("OPENAI_API_KEY", "openai-flow-key"),
        ("OPENAI_BASE_URL", openai_url.as_str()),
        ("OTTO_WORKER_POLL_MS", "20"),
    ]);
    let connections = startup::connect(&config).await.expect("connects");
    let authenticator =
        startup::authenticator(&config, Arc::new(SystemClock)).expect("credentials");
    let state = startup::state(config.clone(), &connections, authenticator).expect("state");
    let client = TestClient::new(otto_server::http::app(&state));
    let form = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("AccountSid", "AC1"),
            ("CallSid", "CA1"),
            ("RecordingSid", "RE1"),
            ("RecordingStatus", "completed"),
            ("RecordingUrl", RECORDING_URL),
            ("RecordingDuration", "90"),
        ])
        .finish();
    client
        .post("/webhook/twilio/recording")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .assert_status_is_ok();

    let store = Arc::new(SqlStore::new(
        connections.database.clone(),
        Arc::new(UuidV7Ids),
    ));
    let metrics = Arc::new(Metrics::new());
    let pool = WorkerPool::new(
        startup::job_runner(&config, store.clone(), metrics.clone()).expect("runner"),
        Arc::new(SystemClock),
        config.worker.clone(),
        metrics.clone(),
    );
    let watched = store.clone();
    pool.run(
        async move {
            for _ in 0..250 {
                let jobs = watched.jobs(None, 10).await.expect("lists");
                let done = jobs.len() >= 2
                    && jobs
                        .iter()
                        .filter(|job| job.kind != "webhook_purge")
                        .all(|job| job.status.is_final());
                if done {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let jobs = watched.jobs(None, 10).await.expect("lists");
            panic!("the jobs did not finish: {jobs:#?}");
        },
        Duration::from_secs(5),
    )
    .await;

    let jobs = store.jobs(None, 10).await.expect("lists");
    for kind in ["transcription", "analysis"] {
        let job = jobs.iter().find(|job| job.kind == kind).expect(kind);
        assert_eq!(job.status, JobStatus::Succeeded, "{kind}: {job:?}");
    }
    let scope = TenantScope::for_job(TenantId::parse("dev").expect("valid"));
    let recording = RecordingRef {
        provider: "twilio".into(),
        call_external_id: "CA1".into(),
        recording_external_id: "RE1".into(),
    };
    let transcript = store
        .transcript(&scope, &recording)
        .await
        .expect("reads")
        .expect("stored");
    assert_eq!(transcript.speaker_count(), 2);
    let analysis = store
        .analysis(&scope, &recording)
        .await
        .expect("reads")
        .expect("stored");
    assert!(analysis.booked);
    let exposition = metrics.encode();
    assert!(
        exposition.contains(r#"asr_minutes_total{tenant_id="dev"} 1.5"#),
        "{exposition}"
    );
    assert!(
        exposition.contains(r#"llm_tokens_total{tenant_id="dev",model="gpt-4o-2024-08-06"} 350"#),
        "{exposition}"
    );
}
