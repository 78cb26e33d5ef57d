//! The scheduler: makes sure the job of the current daily slot exists. Every worker
//! runs it; the slot's unique key makes the extra enqueues no-ops.

use std::sync::Arc;
use std::time::Duration;

use otto_core::jobs::{DailySchedule, Enqueued, JobKind, slot_job};
use otto_core::ports::{Clock, JobQueue, StoreError};
use tokio::sync::watch;

use super::Phase;

/// Enqueues the job of `kind` for the latest slot of `schedule` at or before now.
pub async fn ensure_latest_slot(
    queue: &dyn JobQueue,
    clock: &dyn Clock,
    schedule: DailySchedule,
    kind: JobKind,
) -> Result<Enqueued, StoreError> {
    let now = clock.now();
    let enqueued = queue
        .enqueue(slot_job(kind, schedule.latest_slot(now)), now)
        .await?;
    if let Enqueued::Created(id) = enqueued {
        tracing::info!(job_id = %id, kind = kind.as_str(), "scheduled job enqueued");
    }
    Ok(enqueued)
}

/// Until the worker stops: ensures the latest slot now (a slot missed while every
/// worker was down runs at once), then again at each next slot.
pub async fn run(
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    schedule: DailySchedule,
    kind: JobKind,
    mut phase: watch::Receiver<Phase>,
) {
    // After a failure (database down), try again soon rather than at the next slot.
    const RETRY: Duration = Duration::from_secs(30);
    loop {
        let wait = match ensure_latest_slot(queue.as_ref(), clock.as_ref(), schedule, kind).await {
            Ok(_) => (schedule.next_slot(clock.now()) - clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO),
            Err(error) => {
                tracing::warn!(error = %error, kind = kind.as_str(), "cannot enqueue scheduled job");
                RETRY
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = phase.wait_for(|phase| *phase != Phase::Running) => return,
        }
    }
}
