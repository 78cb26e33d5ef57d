//! Analysis: a stored transcript goes to the language model; what it finds is
//! stored once per recording.

use std::sync::Arc;

use async_trait::async_trait;

use super::job_input::{recording_of, tenant_of};
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{CallAnalyzer, Clock, InsightStore, UsageMeter};

/// The `analysis` job handler.
pub struct Analysis {
    store: Arc<dyn InsightStore>,
    analyzer: Option<Arc<dyn CallAnalyzer>>,
    meter: Arc<dyn UsageMeter>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Analysis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analysis")
            .field("configured", &self.analyzer.is_some())
            .finish_non_exhaustive()
    }
}

impl Analysis {
    /// Analyses with `analyzer` (`None`: not configured, jobs are skipped).
    pub fn new(
        store: Arc<dyn InsightStore>,
        analyzer: Option<Arc<dyn CallAnalyzer>>,
        meter: Arc<dyn UsageMeter>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Analysis {
            store,
            analyzer,
            meter,
            clock,
        }
    }

    async fn run(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
        let (tenant, scope) = tenant_of(job)?;
        let recording = recording_of(job)?;
        if self.store.analysis(&scope, &recording).await?.is_some() {
            return Ok(JobOutcome::Succeeded);
        }
        let transcript = self
            .store
            .transcript(&scope, &recording)
            .await?
            .ok_or_else(|| JobOutcome::Fail("the recording has no transcript".into()))?;
        if transcript.text.trim().is_empty() {
            return Ok(JobOutcome::Skipped("the transcript is empty".into()));
        }
        let analyzer = self
            .analyzer
            .as_ref()
            .ok_or_else(|| JobOutcome::Skipped("openai is not configured".into()))?;
        let result = analyzer.analyze(&transcript.text).await?;
        let saved = self
            .store
            .save_analysis(&scope, &recording, &result, self.clock.now())
            .await?;
        if saved {
            self.meter
                .llm_tokens(&tenant, &result.model, result.usage.total_tokens);
        }
        Ok(JobOutcome::Succeeded)
    }
}

#[async_trait]
impl JobHandler for Analysis {
    async fn handle(&self, job: &Job) -> JobOutcome {
        match self.run(job).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}
