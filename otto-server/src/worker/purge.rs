//! The `webhook_purge` job (daily): deletes expired webhook idempotency keys, counting
//! them, jobs that ended (succeeded, skipped, cancelled) longer ago than the same
//! retention, and logged deliveries older than the log's retention, so no table
//! grows forever (live events too, past their retention). Dead jobs and unroutable
//! deliveries are kept for an operator.

use std::sync::Arc;

use async_trait::async_trait;
use otto_core::jobs::{Job, JobHandler, JobOutcome};
use otto_core::ports::{Clock, JobQueue, LiveEventLog, in_batches};
use otto_core::webhooks::WebhookIngestion;

use crate::telemetry::metrics::Metrics;

/// Keys deleted per statement: small enough that no lock is held for long.
pub const PURGE_BATCH: u32 = 1_000;

/// Purges keys last seen more than the configured number of days ago.
pub struct WebhookPurgeHandler {
    ingestion: WebhookIngestion,
    jobs: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    ttl_days: u32,
    log_retention_days: u32,
    metrics: Arc<Metrics>,
    live_events: Option<(Arc<dyn LiveEventLog>, std::time::Duration)>,
}

impl std::fmt::Debug for WebhookPurgeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookPurgeHandler")
            .field("ttl_days", &self.ttl_days)
            .finish_non_exhaustive()
    }
}

impl WebhookPurgeHandler {
    /// A handler purging through `ingestion` keys, and from `jobs` ended jobs, older
    /// than `ttl_days`, and logged deliveries older than `log_retention_days`.
    pub fn new(
        ingestion: WebhookIngestion,
        jobs: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        (ttl_days, log_retention_days): (u32, u32),
        metrics: Arc<Metrics>,
    ) -> Self {
        WebhookPurgeHandler {
            ingestion,
            jobs,
            clock,
            ttl_days,
            log_retention_days,
            metrics,
            live_events: None,
        }
    }

    /// Also purges live events older than `retention` from `log` (they cannot be
    /// resumed after that anyway).
    #[must_use]
    pub fn with_live_events(
        mut self,
        log: Arc<dyn LiveEventLog>,
        retention: std::time::Duration,
    ) -> Self {
        self.live_events = Some((log, retention));
        self
    }

    /// Deletes ended jobs older than `ttl`, batch by batch.
    async fn purge_jobs(&self, ttl: chrono::Duration) -> Result<u64, otto_core::ports::StoreError> {
        let before = self.clock.now() - ttl;
        let jobs = &self.jobs;
        in_batches(PURGE_BATCH, |batch| jobs.purge_finished(before, batch)).await
    }
}

#[async_trait]
impl JobHandler for WebhookPurgeHandler {
    async fn handle(&self, _job: &Job) -> JobOutcome {
        let ttl = chrono::Duration::days(i64::from(self.ttl_days));
        match self.ingestion.purge(ttl, PURGE_BATCH).await {
            Ok(purged) => {
                self.metrics.webhook_idempotency_purged.inc_by(purged);
                tracing::info!(
                    purged,
                    ttl_days = self.ttl_days,
                    "webhook idempotency keys purged"
                );
            }
            // Each batch commits on its own, so a retry resumes where this stopped.
            Err(error) => return JobOutcome::Retry(format!("purge failed: {error}")),
        }
        let retention = chrono::Duration::days(i64::from(self.log_retention_days));
        match self.ingestion.purge_log(retention, PURGE_BATCH).await {
            Ok(purged) => tracing::info!(
                purged,
                retention_days = self.log_retention_days,
                "webhook deliveries purged"
            ),
            Err(error) => return JobOutcome::Retry(format!("delivery log purge failed: {error}")),
        }
        if let Some((log, retention)) = &self.live_events {
            let cutoff = self.clock.now()
                - chrono::Duration::from_std(*retention).unwrap_or(chrono::Duration::MAX);
            match in_batches(PURGE_BATCH, |batch| log.purge_events(cutoff, batch)).await {
                Ok(purged) => tracing::info!(purged, "live events purged"),
                Err(error) => {
                    return JobOutcome::Retry(format!("live event purge failed: {error}"));
                }
            }
        }
        match self.purge_jobs(ttl).await {
            Ok(purged) => {
                tracing::info!(purged, ttl_days = self.ttl_days, "ended jobs purged");
                JobOutcome::Succeeded
            }
            Err(error) => JobOutcome::Retry(format!("job purge failed: {error}")),
        }
    }
}
