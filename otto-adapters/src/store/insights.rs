//! [`InsightStore`] over SQL: transcripts and analyses, one per recording
//! (unique indexes make a second insert a no-op), in tenant-scoped transactions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::jobs::{Enqueued, NewJob};
use otto_core::live::{self, NewLiveEvent};
use otto_core::ports::{
    AnalysisResult, CallAnalysis, InsightStore, Recording, RecordingRef, StoreError, Transcript,
};
use otto_core::tenancy::TenantScope;
use sea_orm::{DatabaseTransaction, Value};
use uuid::Uuid;

use super::jobs::insert_job;
use super::live_events::call_of;
use super::sql::{self, column};
use super::{SqlStore, stored_time};

fn recording_values(scope: &TenantScope, recording: &RecordingRef) -> Vec<Value> {
    vec![
        scope.tenant_id().as_str().into(),
        recording.provider.clone().into(),
        recording.recording_external_id.clone().into(),
    ]
}

fn corrupt(what: &str, error: serde_json::Error) -> StoreError {
    StoreError::Internal(format!("stored {what} is not valid JSON: {error}"))
}

fn tokens(count: u64) -> Value {
    i64::try_from(count).unwrap_or(i64::MAX).into()
}

/// After an insert of `table` that added nothing: `Ok(false)` when the recording
/// already has its row, an error when its call is missing.
async fn existing_or_missing_call(
    transaction: &DatabaseTransaction,
    table: &str,
    scope: &TenantScope,
    recording: &RecordingRef,
) -> Result<bool, StoreError> {
    let rows = sql::query(
        transaction,
        &format!(
            "SELECT 1 AS present FROM {table} \
             WHERE tenant_id = $1 AND provider = $2 AND recording_external_id = $3"
        ),
        recording_values(scope, recording),
    )
    .await?;
    if rows.is_empty() {
        Err(StoreError::Internal(format!(
            "no call {}:{} for recording {}",
            recording.provider, recording.call_external_id, recording.recording_external_id
        )))
    } else {
        Ok(false)
    }
}

#[async_trait]
impl InsightStore for SqlStore {
    async fn recording_of(
        &self,
        scope: &TenantScope,
        call_id: Uuid,
    ) -> Result<Option<Recording>, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                "SELECT external_id, url, duration_seconds FROM recordings \
                 WHERE tenant_id = $1 AND call_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1",
                vec![scope.tenant_id().as_str().into(), call_id.into()],
            )
            .await?;
        rows.first()
            .map(|row| {
                Ok(Recording {
                    external_id: column(row, "external_id")?,
                    url: column(row, "url")?,
                    duration_seconds: column(row, "duration_seconds")?,
                })
            })
            .transpose()
    }

    async fn transcript(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
    ) -> Result<Option<Transcript>, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                "SELECT text, language, words, duration_seconds, model FROM transcripts \
                 WHERE tenant_id = $1 AND provider = $2 AND recording_external_id = $3",
                recording_values(scope, recording),
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let words: Option<String> = column(row, "words")?;
        Ok(Some(Transcript {
            text: column(row, "text")?,
            language: column(row, "language")?,
            duration_seconds: column::<Option<f64>>(row, "duration_seconds")?.unwrap_or(0.0),
            words: match words {
                Some(words) => {
                    serde_json::from_str(&words).map_err(|error| corrupt("words", error))?
                }
                None => Vec::new(),
            },
            model: column::<Option<String>>(row, "model")?.unwrap_or_default(),
        }))
    }

    async fn save_transcript(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
        transcript: &Transcript,
        then: &NewJob,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = stored_time(now);
        let words = serde_json::to_string(&transcript.words)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let mut values = vec![self.new_id().into()];
        values.extend(recording_values(scope, recording));
        values.extend([
            recording.call_external_id.clone().into(),
            transcript.language.clone().into(),
            transcript.text.clone().into(),
            words.into(),
            transcript.duration_seconds.into(),
            transcript.model.clone().into(),
            now.into(),
        ]);
        let transaction = self.begin(scope).await?;
        // The write comes first: on SQLite it takes the write lock at once rather
        // than failing to upgrade a read snapshot that another writer made stale.
        let inserted = sql::execute(
            &transaction,
            "INSERT INTO transcripts (id, call_id, tenant_id, provider, recording_external_id, \
             language, text, words, duration_seconds, model, created_at) \
             SELECT $1, id, $2, $3, $4, $6, $7, $8, $9, $10, $11 FROM calls \
             WHERE tenant_id = $2 AND provider = $3 AND external_id = $5 \
             ON CONFLICT (tenant_id, provider, recording_external_id) DO NOTHING",
            values,
        )
        .await?;
        let mut events = Vec::new();
        if inserted == 1 {
            if let Enqueued::Created(id) =
                insert_job(&transaction, self.new_id(), then, now).await?
            {
                events.extend(live::job_queued(id, then));
            }
            events.extend(call_event(&transaction, scope, recording, "transcript").await?);
        } else {
            existing_or_missing_call(&transaction, "transcripts", scope, recording).await?;
        }
        self.commit_with_events(transaction, scope.tenant_id(), &events)
            .await?;
        Ok(inserted == 1)
    }

    async fn analysis(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
    ) -> Result<Option<CallAnalysis>, StoreError> {
        let rows = self
            .scoped_query(
                scope,
                "SELECT result FROM analyses \
                 WHERE tenant_id = $1 AND provider = $2 AND recording_external_id = $3",
                recording_values(scope, recording),
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let result: Option<String> = column(row, "result")?;
        result
            .map(|text| serde_json::from_str(&text).map_err(|error| corrupt("analysis", error)))
            .transpose()
    }

    async fn save_analysis(
        &self,
        scope: &TenantScope,
        recording: &RecordingRef,
        result: &AnalysisResult,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let analysis = serde_json::to_string(&result.analysis)
            .map_err(|error| StoreError::Internal(error.to_string()))?;
        let mut values = vec![self.new_id().into()];
        values.extend(recording_values(scope, recording));
        values.extend([
            recording.call_external_id.clone().into(),
            result.model.clone().into(),
            result.analysis.summary.clone().into(),
            tokens(result.usage.total_tokens),
            analysis.into(),
            tokens(result.usage.prompt_tokens),
            tokens(result.usage.completion_tokens),
            stored_time(now).into(),
        ]);
        let transaction = self.begin(scope).await?;
        let inserted = sql::execute(
            &transaction,
            "INSERT INTO analyses (id, call_id, tenant_id, provider, recording_external_id, \
             model, summary, tokens_used, result, prompt_tokens, completion_tokens, created_at) \
             SELECT $1, id, $2, $3, $4, $6, $7, $8, $9, $10, $11, $12 FROM calls \
             WHERE tenant_id = $2 AND provider = $3 AND external_id = $5 \
             ON CONFLICT (tenant_id, provider, recording_external_id) DO NOTHING",
            values,
        )
        .await?;
        let mut events = Vec::new();
        if inserted == 0 {
            existing_or_missing_call(&transaction, "analyses", scope, recording).await?;
        } else {
            events.extend(call_event(&transaction, scope, recording, "analysis").await?);
        }
        self.commit_with_events(transaction, scope.tenant_id(), &events)
            .await?;
        Ok(inserted == 1)
    }
}

/// `call.updated` of the recording's call, saying that `changed` is ready.
async fn call_event(
    transaction: &DatabaseTransaction,
    scope: &TenantScope,
    recording: &RecordingRef,
    changed: &str,
) -> Result<Option<NewLiveEvent>, StoreError> {
    Ok(call_of(
        transaction,
        scope.tenant_id(),
        &recording.provider,
        &recording.call_external_id,
    )
    .await?
    .map(|(call_id, rep)| live::call_updated(call_id, rep, &[changed])))
}
