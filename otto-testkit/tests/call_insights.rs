//! Transcription and analysis against fakes: a recording is transcribed once, its
//! analysis follows once, usage is metered once, and an unconfigured or failing
//! provider ends the job the right way.

use std::sync::Arc;
use std::time::Duration;

use otto_core::calls::{Direction, NewCall};
use otto_core::follow_ups::{Analysis, Transcription};
use otto_core::jobs::{Job, JobHandler, JobKind, JobOutcome};
use otto_core::ports::{CallRepository, ProviderError};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_testkit::contracts::{sample_analysis, sample_transcript};
use otto_testkit::{
    InMemoryStore, ManualClock, RecordingAnalyzer, RecordingMeter, RecordingTranscriber,
    running_job,
};
use serde_json::json;

const URL: &str = "https://recordings.example/REC1.mp3";

struct World {
    store: InMemoryStore,
    transcriber: RecordingTranscriber,
    analyzer: RecordingAnalyzer,
    meter: RecordingMeter,
    clock: ManualClock,
    tenant: TenantId,
}

impl World {
    async fn new() -> Self {
        let world = World {
            store: InMemoryStore::default(),
            transcriber: RecordingTranscriber::answering(sample_transcript()),
            analyzer: RecordingAnalyzer::answering(sample_analysis()),
            meter: RecordingMeter::default(),
            clock: ManualClock::at("2026-11-26T11:00:00Z"),
            tenant: TenantId::parse("org_acme").expect("valid"),
        };
        world
            .store
            .record(
                &TenantScope::for_job(world.tenant.clone()),
                NewCall {
                    provider: "twilio".into(),
                    external_id: "CA1".into(),
                    direction: Direction::Inbound,
                    customer_name: None,
                    customer_number: Some("+15551230000".into()),
                    answered: true,
                    duration_seconds: 93,
                    started_at: world.clock.now_plus(Duration::ZERO),
                },
            )
            .await
            .expect("call");
        world
    }

    fn transcription(&self, configured: bool) -> Transcription {
        Transcription::new(
            Arc::new(self.store.clone()),
            configured.then(|| {
                Arc::new(self.transcriber.clone()) as Arc<dyn otto_core::ports::Transcriber>
            }),
            Arc::new(self.meter.clone()),
            Arc::new(self.clock.clone()),
        )
    }

    fn analysis(&self, configured: bool) -> Analysis {
        Analysis::new(
            Arc::new(self.store.clone()),
            configured.then(|| {
                Arc::new(self.analyzer.clone()) as Arc<dyn otto_core::ports::CallAnalyzer>
            }),
            Arc::new(self.meter.clone()),
            Arc::new(self.clock.clone()),
        )
    }

    fn job(&self, kind: JobKind) -> Job {
        Job {
            trace_context: Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into()),
            ..running_job(
                kind,
                &self.tenant,
                "twilio:RE1",
                json!({
                    "provider": "twilio",
                    "call_external_id": "CA1",
                    "recording_external_id": "RE1",
                    "url": URL,
                }),
                self.clock.now_plus(Duration::ZERO),
            )
        }
    }
}

#[tokio::test]
async fn a_recording_is_transcribed_then_analysed_once_each() {
    let world = World::new().await;
    let transcription = world.transcription(true);
    assert_eq!(
        transcription
            .handle(&world.job(JobKind::Transcription))
            .await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.transcriber.requests(), [URL]);
    assert!((world.meter.asr_seconds_for(&world.tenant) - 93.5).abs() < 1e-9);
    let follow_up = world.store.jobs();
    assert_eq!(follow_up.len(), 1, "the analysis job was enqueued");
    assert_eq!(follow_up[0].kind, "analysis");
    assert_eq!(
        follow_up[0].trace_context.as_deref(),
        world.job(JobKind::Transcription).trace_context.as_deref(),
        "the analysis continues the same trace"
    );

    // Run again (a retry after a crash): no second provider call, no second charge.
    assert_eq!(
        transcription
            .handle(&world.job(JobKind::Transcription))
            .await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.transcriber.requests().len(), 1);
    assert!((world.meter.asr_seconds_for(&world.tenant) - 93.5).abs() < 1e-9);
    assert_eq!(world.store.jobs().len(), 1);

    let analysis = world.analysis(true);
    for _ in 0..2 {
        assert_eq!(
            analysis.handle(&world.job(JobKind::Analysis)).await,
            JobOutcome::Succeeded
        );
    }
    assert_eq!(world.analyzer.requests(), [sample_transcript().text]);
    assert_eq!(world.store.analyses(&world.tenant), [sample_analysis()]);
    assert_eq!(
        world.meter.tokens_for(&world.tenant, "gpt-4o-2024-08-06"),
        500
    );
}

#[tokio::test]
async fn unconfigured_providers_skip_with_the_reason() {
    let world = World::new().await;
    assert_eq!(
        world
            .transcription(false)
            .handle(&world.job(JobKind::Transcription))
            .await,
        JobOutcome::Skipped("deepgram is not configured".into())
    );
    world
        .transcription(true)
        .handle(&world.job(JobKind::Transcription))
        .await;
    assert_eq!(
        world
            .analysis(false)
            .handle(&world.job(JobKind::Analysis))
            .await,
        JobOutcome::Skipped("openai is not configured".into())
    );
}

#[tokio::test]
async fn provider_failures_retry_or_fail_as_they_should() {
    let world = World::new().await;
    world.transcriber.fail_with([
        ProviderError::Transient {
            provider: "deepgram",
            message: "HTTP 503".into(),
            retry_after: None,
        },
        ProviderError::Permanent {
            provider: "deepgram",
            message: "HTTP 400: could not fetch the audio".into(),
        },
    ]);
    let transcription = world.transcription(true);
    assert!(matches!(
        transcription
            .handle(&world.job(JobKind::Transcription))
            .await,
        JobOutcome::Retry(_)
    ));
    assert!(matches!(
        transcription.handle(&world.job(JobKind::Transcription)).await,
        JobOutcome::Fail(reason) if reason.contains("could not fetch")
    ));
    assert!(
        world.store.jobs().is_empty(),
        "no analysis without a transcript"
    );
    assert_eq!(world.meter.asr_seconds_for(&world.tenant), 0.0);
}

#[tokio::test]
async fn an_analysis_without_a_transcript_fails() {
    let world = World::new().await;
    assert!(matches!(
        world.analysis(true).handle(&world.job(JobKind::Analysis)).await,
        JobOutcome::Fail(reason) if reason.contains("no transcript")
    ));
    assert!(world.analyzer.requests().is_empty());
}
