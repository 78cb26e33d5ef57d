//! The in-memory [`InsightStore`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::jobs::Enqueued;
use otto_core::jobs::NewJob;
use otto_core::live::{self, NewLiveEvent};
use otto_core::ports::{
    AnalysisResult, CallAnalysis, InsightStore, RecordingRef, StoreError, Transcript,
};
use otto_core::tenancy::{TenantId, TenantScope};

use crate::InMemoryStore;

type RecordingKey = (TenantId, String, String);

/// The fake's transcripts and analyses, by tenant, provider and recording.
#[derive(Debug, Default)]
pub(crate) struct InsightTables {
    transcripts: BTreeMap<RecordingKey, Transcript>,
    analyses: BTreeMap<RecordingKey, AnalysisResult>,
}

fn key_of(scope: &TenantScope, recording: &RecordingRef) -> RecordingKey {
    (
        scope.tenant_id().clone(),
        recording.provider.clone(),
        recording.recording_external_id.clone(),
    )
}

impl InMemoryStore {
    /// Every stored analysis of `tenant`.
    pub fn analyses(&self, tenant: &TenantId) -> Vec<AnalysisResult> {
        self.tables()
            .insights
            .analyses
            .iter()
            .filter(|((owner, _, _), _)| owner == tenant)
            .map(|(_, result)| result.clone())
            .collect()
    }
}

#[async_trait]
impl InsightStore for InMemoryStore {
    async fn recording_of(
        &self,
        scope: &TenantScope,
        call_id: uuid::Uuid,
    ) -> Result<Option<otto_core::ports::Recording>, StoreError> {
        Ok(self
            .tables()
            .webhooks
            .recordings
            .iter()
            .filter(|((tenant, _), stored)| {
                tenant == scope.tenant_id() && stored.call_id == call_id
            })
            .max_by_key(|(_, stored)| stored.order)
            .map(|(_, stored)| stored.recording.clone()))
    }

    async fn transcript(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
    ) -> Result<Option<Transcript>, StoreError> {
        Ok(self
            .tables()
            .insights
            .transcripts
            .get(&key_of(scope, recording))
            .cloned())
    }

    async fn save_transcript(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
        transcript: &Transcript,
        then: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut guard = self.tables();
        let tables = &mut *guard;
        let key = key_of(scope, recording);
        if tables.insights.transcripts.contains_key(&key) {
            return Ok(false);
        }
        let known_call = tables.calls.iter().any(|call| {
            &call.tenant_id == scope.tenant_id()
                && call.provider == recording.provider
                && call.external_id == recording.call_external_id
        });
        if !known_call {
            return Err(StoreError::Internal(format!(
                "no call {}:{} for the transcript",
                recording.provider, recording.call_external_id
            )));
        }
        tables.insights.transcripts.insert(key, transcript.clone());
        let id = self.ids.new_id();
        let mut events: Vec<NewLiveEvent> = Vec::new();
        if let Enqueued::Created(id) = tables.jobs.enqueue(then.clone(), id, now) {
            events.extend(live::job_queued(id, then));
        }
        events.extend(call_event(tables, scope, recording, "transcript"));
        self.publish_in(tables, scope.tenant_id(), events);
        Ok(true)
    }

    async fn analysis(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
    ) -> Result<Option<CallAnalysis>, StoreError> {
        Ok(self
            .tables()
            .insights
            .analyses
            .get(&key_of(scope, recording))
            .map(|result| result.analysis.clone()))
    }

    async fn save_analysis(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
        result: &AnalysisResult,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut guard = self.tables();
        let tables = &mut *guard;
        let key = key_of(scope, recording);
        if tables.insights.analyses.contains_key(&key) {
            return Ok(false);
        }
        tables.insights.analyses.insert(key, result.clone());
        let events = call_event(tables, scope, recording, "analysis")
            .into_iter()
            .collect();
        self.publish_in(tables, scope.tenant_id(), events);
        Ok(true)
    }
}

/// `call.updated` of the recording's call, saying that `changed` is ready.
fn call_event(
    tables: &crate::store::Tables,
    scope: &TenantScope,
    recording: &RecordingRef,
    changed: &str,
) -> Option<NewLiveEvent> {
    tables
        .calls
        .iter()
        .find(|call| {
            &call.tenant_id == scope.tenant_id()
                && call.provider == recording.provider
                && call.external_id == recording.call_external_id
        })
        .map(|call| live::call_updated(call.id, call.outcome.assigned_rep.clone(), &[changed]))
}
