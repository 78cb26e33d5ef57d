//! The contract of [`InsightStore`].

use chrono::{DateTime, Utc};
use otto_core::jobs::{JobKind, JobStatus, NewJob};
use otto_core::ports::{
    AnalysisResult, CallAnalysis, CallRepository, InsightStore, JobQueue, RecordingRef, TokenUsage,
    Transcript, TranscriptWord,
};
use serde_json::json;

use crate::contracts::{new_call, scope_of};

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T11:00:00.5Z")
        .expect("valid")
        .to_utc()
}

/// A two-speaker transcript.
pub fn sample_transcript() -> Transcript {
    Transcript {
        text: "Hello, Acme Plumbing. Hi, my sink is leaking.".into(),
        language: Some("en".into()),
        duration_seconds: 93.5,
        words: vec![
            TranscriptWord {
                word: "Hello,".into(),
                start: 0.08,
                end: 0.4,
                confidence: 0.99,
                speaker: Some(0),
            },
            TranscriptWord {
                word: "leaking.".into(),
                start: 3.2,
                end: 3.7,
                confidence: 0.875,
                speaker: Some(1),
            },
        ],
        model: "nova-3".into(),
    }
}

/// An analysis of [`sample_transcript`].
pub fn sample_analysis() -> AnalysisResult {
    AnalysisResult {
        analysis: CallAnalysis {
            is_sales_call: true,
            booked: true,
            appointment_time: Some("2026-11-27T09:00:00-05:00".into()),
            address: Some("12 Main St".into()),
            customer_name: Some("Jane Doe".into()),
            problem: Some("leaking sink".into()),
            cancelled: false,
            rescheduled: false,
            summary: "A customer booked a plumber for a leaking sink.".into(),
        },
        model: "gpt-4o-2024-08-06".into(),
        usage: TokenUsage {
            prompt_tokens: 420,
            completion_tokens: 80,
            total_tokens: 500,
        },
    }
}

fn recording(call: &str, id: &str) -> RecordingRef {
    RecordingRef {
        provider: "callrail".into(),
        call_external_id: call.into(),
        recording_external_id: id.into(),
    }
}

fn follow_up_job(tenant: &str, key: &str) -> NewJob {
    NewJob {
        kind: JobKind::Analysis,
        tenant_id: Some(otto_core::tenancy::TenantId::parse(tenant).expect("valid")),
        unique_key: key.into(),
        payload: json!({"recording_external_id": "REC1"}),
        run_at: now(),
        trace_context: None,
    }
}

/// One transcript and one analysis per recording and tenant, read back as written;
/// storing a transcript enqueues its follow-up job in the same step, once; a
/// transcript needs its call. `tenant_a` and `tenant_b` must be fresh tenants, and
/// `queue` must see the jobs `store` enqueues.
pub async fn insight_store_contract(
    store: &dyn InsightStore,
    calls: &dyn CallRepository,
    queue: &dyn JobQueue,
    tenant_a: &str,
    tenant_b: &str,
) {
    let (a, b) = (scope_of(tenant_a), scope_of(tenant_b));
    calls
        .record(&a, new_call("CALIN", 1))
        .await
        .expect("a call");
    let rec = recording("CALIN", "REC1");
    assert_eq!(store.transcript(&a, &rec).await.expect("reads"), None);
    let job = follow_up_job(tenant_a, "analysis:contract:REC1");
    assert!(
        store
            .save_transcript(&a, &rec, &sample_transcript(), &job, now())
            .await
            .expect("saves")
    );
    assert_eq!(
        store.transcript(&a, &rec).await.expect("reads"),
        Some(sample_transcript()),
        "read back as written, words and speakers included"
    );
    let other = Transcript {
        text: "something else".into(),
        ..sample_transcript()
    };
    assert!(
        !store
            .save_transcript(&a, &rec, &other, &job, now())
            .await
            .expect("saves"),
        "one transcript per recording"
    );
    assert_eq!(
        store.transcript(&a, &rec).await.expect("reads"),
        Some(sample_transcript())
    );
    let queued: Vec<_> = queue
        .jobs(Some(JobStatus::Queued), 100)
        .await
        .expect("lists")
        .into_iter()
        .filter(|queued| queued.unique_key == job.unique_key)
        .collect();
    assert_eq!(queued.len(), 1, "the follow-up job was enqueued once");
    assert_eq!(
        store.transcript(&b, &rec).await.expect("reads"),
        None,
        "per tenant"
    );
    assert!(
        store
            .save_transcript(
                &a,
                &recording("NO-SUCH-CALL", "REC2"),
                &sample_transcript(),
                &follow_up_job(tenant_a, "analysis:contract:REC2"),
                now()
            )
            .await
            .is_err(),
        "a transcript needs its call"
    );
    assert!(
        queue
            .jobs(None, 100)
            .await
            .expect("lists")
            .iter()
            .all(|queued| queued.unique_key != "analysis:contract:REC2"),
        "and a refused transcript enqueues nothing"
    );

    assert_eq!(store.analysis(&a, &rec).await.expect("reads"), None);
    assert!(
        store
            .save_analysis(&a, &rec, &sample_analysis(), now())
            .await
            .expect("saves")
    );
    let second = AnalysisResult {
        analysis: CallAnalysis {
            booked: false,
            ..sample_analysis().analysis
        },
        ..sample_analysis()
    };
    assert!(
        !store
            .save_analysis(&a, &rec, &second, now())
            .await
            .expect("saves"),
        "one analysis per recording"
    );
    assert_eq!(
        store.analysis(&a, &rec).await.expect("reads"),
        Some(sample_analysis().analysis)
    );
    assert_eq!(store.analysis(&b, &rec).await.expect("reads"), None);
}
