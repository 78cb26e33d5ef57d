//! Where transcripts and analyses of calls are kept.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use super::providers::{AnalysisResult, CallAnalysis, Transcript};
use crate::jobs::NewJob;
use crate::tenancy::TenantScope;

/// The recording a transcript or analysis belongs to, and its call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRef {
    /// The call's provider (`callrail`, `twilio`).
    pub provider: String,
    /// The provider's id of the call.
    pub call_external_id: String,
    /// The provider's id of the recording: one transcript and one analysis each.
    pub recording_external_id: String,
}

/// A call's recording as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The provider's id of the recording.
    pub external_id: String,
    /// Where the audio is.
    pub url: String,
    /// Length in seconds, when the provider said.
    pub duration_seconds: Option<i32>,
}

/// Recordings, and transcripts and analyses, one of each per recording.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::{AnalysisResult, CallRepository, InsightStore, RecordingRef};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
/// use otto_testkit::contracts::{new_call, sample_analysis};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::default();
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// store.record(&acme, new_call("CAL1", 0)).await?;
/// let recording = RecordingRef {
///     provider: "callrail".into(),
///     call_external_id: "CAL1".into(),
///     recording_external_id: "REC1".into(),
/// };
/// let (result, now) = (sample_analysis(), "2026-12-06T10:00:00Z".parse()?);
/// assert!(store.save_analysis(&acme, &recording, &result, now).await?);
/// // One analysis per recording: a retried job's second answer changes nothing.
/// let second = AnalysisResult { model: "another-model".into(), ..result.clone() };
/// assert!(!store.save_analysis(&acme, &recording, &second, now).await?);
/// assert_eq!(store.analysis(&acme, &recording).await?, Some(result.analysis));
/// let globex = TenantScope::for_job(TenantId::parse("org_globex")?);
/// assert_eq!(store.analysis(&globex, &recording).await?, None);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait InsightStore: Send + Sync {
    /// The latest recording of the scope's call `call_id`.
    async fn recording_of(
        &self,
        scope: &TenantScope,
        call_id: uuid::Uuid,
    ) -> Result<Option<Recording>, StoreError>;

    /// The stored transcript of `recording`.
    async fn transcript(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
    ) -> Result<Option<Transcript>, StoreError>;

    /// Stores the transcript of `recording` and enqueues `then` in the same
    /// transaction; `false` (and nothing changed) if one was stored already.
    async fn save_transcript(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
        transcript: &Transcript,
        then: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// The stored analysis of `recording`.
    async fn analysis(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
    ) -> Result<Option<CallAnalysis>, StoreError>;

    /// Stores the analysis of `recording`; `false` (and nothing changed) if one was
    /// stored already.
    async fn save_analysis(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
        result: &AnalysisResult,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}
