//! The `webhook_purge` job: deletes expired idempotency keys, counting them.

use std::sync::Arc;

use async_trait::async_trait;
use otto_core::jobs::{Job, JobHandler, JobOutcome};
use otto_core::webhooks::WebhookIngestion;

use crate::telemetry::metrics::Metrics;

/// Keys deleted per statement: small enough that no lock is held for long.
pub const PURGE_BATCH: u32 = 1_000;

/// Purges keys last seen more than the configured number of days ago.
pub struct WebhookPurgeHandler {
    ingestion: WebhookIngestion,
    ttl_days: u32,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WebhookPurgeHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookPurgeHandler")
            .field("ttl_days", &self.ttl_days)
            .finish_non_exhaustive()
    }
}

impl WebhookPurgeHandler {
    /// A handler purging through `ingestion` keys older than `ttl_days`.
    pub fn new(ingestion: WebhookIngestion, ttl_days: u32, metrics: Arc<Metrics>) -> Self {
        WebhookPurgeHandler {
            ingestion,
            ttl_days,
            metrics,
        }
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
                JobOutcome::Succeeded
            }
            // Each batch commits on its own, so a retry resumes where this stopped.
            Err(error) => JobOutcome::Retry(format!("purge failed: {error}")),
        }
    }
}
