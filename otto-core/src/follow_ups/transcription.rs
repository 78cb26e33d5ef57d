//! Transcription: a recording's audio goes to the transcriber; the transcript is
//! stored with the analysis job it leads to, in one transaction, once per recording.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::job_input::{recording_of, tenant_of, text};
use crate::jobs::{Job, JobHandler, JobKind, JobOutcome, NewJob};
use crate::ports::{Clock, InsightStore, RecordingRef, Transcriber, UsageMeter};
use crate::tenancy::TenantId;

/// The `transcription` job handler.
pub struct Transcription {
    store: Arc<dyn InsightStore>,
    transcriber: Option<Arc<dyn Transcriber>>,
    meter: Arc<dyn UsageMeter>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Transcription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcription")
            .field("configured", &self.transcriber.is_some())
            .finish_non_exhaustive()
    }
}

/// The analysis job of a transcribed recording.
pub fn analysis_job(
    tenant: &TenantId,
    recording: &RecordingRef,
    run_at: chrono::DateTime<chrono::Utc>,
    trace_context: Option<String>,
) -> NewJob {
    NewJob {
        kind: JobKind::Analysis,
        tenant_id: Some(tenant.clone()),
        unique_key: format!(
            "{}:{tenant}:{}:{}",
            JobKind::Analysis,
            recording.provider,
            recording.recording_external_id
        ),
        payload: json!({
            "provider": recording.provider,
            "call_external_id": recording.call_external_id,
            "recording_external_id": recording.recording_external_id,
        }),
        run_at,
        trace_context,
    }
}

impl Transcription {
    /// Transcribes with `transcriber` (`None`: not configured, jobs are skipped).
    pub fn new(
        store: Arc<dyn InsightStore>,
        transcriber: Option<Arc<dyn Transcriber>>,
        meter: Arc<dyn UsageMeter>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Transcription {
            store,
            transcriber,
            meter,
            clock,
        }
    }

    async fn run(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
        let (tenant, scope) = tenant_of(job)?;
        let recording = recording_of(job)?;
        let url = text(job, "url")?;
        let stored = self.store.transcript(&scope, &recording).await?;
        if stored.is_some() {
            // An earlier attempt stored it (with its analysis job) and then died.
            return Ok(JobOutcome::Succeeded);
        }
        let transcriber = self
            .transcriber
            .as_ref()
            .ok_or_else(|| JobOutcome::Skipped("deepgram is not configured".into()))?;
        let transcript = transcriber.transcribe(url).await?;
        let now = self.clock.now();
        let then = analysis_job(&tenant, &recording, now, job.trace_context.clone());
        let saved = self
            .store
            .save_transcript(&scope, &recording, &transcript, &then, now)
            .await?;
        if saved {
            self.meter.asr_seconds(&tenant, transcript.duration_seconds);
        }
        Ok(JobOutcome::Succeeded)
    }
}

#[async_trait]
impl JobHandler for Transcription {
    async fn handle(&self, job: &Job) -> JobOutcome {
        match self.run(job).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}
