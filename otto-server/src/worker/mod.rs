//! The worker: leases due jobs, runs them through the core [`JobRunner`], records
//! `worker_task_total` and `worker_task_duration_ms`, and keeps the daily schedule.
//!
//! Shutdown is in two phases: *draining* stops leasing and lets in-flight jobs finish
//! for the grace period; then *aborting* releases the jobs still running (the attempt
//! is not counted) so another worker takes them at once instead of after the lease.

pub mod purge;
pub mod schedule;

use std::sync::Arc;
use std::time::{Duration, Instant};

use otto_core::jobs::{Finish, Job, JobKind, JobRunner};
use otto_core::ports::Clock;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::config::WorkerConfig;
use crate::telemetry::metrics::{Metrics, TaskLabels, TaskNameLabels};

/// How often the worker looks at the queue's age.
const QUEUE_AGE_EVERY: Duration = Duration::from_secs(15);

/// Where the worker is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Leasing and running jobs.
    Running,
    /// No new leases; in-flight jobs may finish.
    Draining,
    /// In-flight jobs are released.
    Aborting,
}

/// A pool of job loops over one runner.
pub struct WorkerPool {
    runner: JobRunner,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    metrics: Arc<Metrics>,
}

impl std::fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerPool")
            .field("runner", &self.runner)
            .finish_non_exhaustive()
    }
}

/// The `status` label of an attempt's finish.
fn status_label(finish: &Finish) -> &'static str {
    match finish {
        Finish::Succeeded => "succeeded",
        Finish::Skipped { .. } => "skipped",
        Finish::RetryAt { .. } => "failed",
        Finish::Dead { .. } => "dead",
    }
}

impl WorkerPool {
    /// A pool running `runner`'s jobs as `config` says.
    pub fn new(
        runner: JobRunner,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
        metrics: Arc<Metrics>,
    ) -> Self {
        WorkerPool {
            runner,
            clock,
            config,
            metrics,
        }
    }

    /// Runs until `shutdown` resolves, then drains for `grace` and releases what is
    /// still running.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>, grace: Duration) {
        let (phase_sender, phase) = watch::channel(Phase::Running);
        let pool = Arc::new(self);
        let mut tasks = JoinSet::new();
        for slot in 0..pool.config.concurrency {
            tasks.spawn(pool.clone().job_loop(slot, phase.clone()));
        }
        tasks.spawn(pool.clone().watch_queue_age(phase.clone()));
        if pool.runner.kinds().contains(&JobKind::WebhookPurge) {
            tasks.spawn(schedule::run(
                pool.runner.queue().clone(),
                pool.clock.clone(),
                pool.config.purge_at,
                JobKind::WebhookPurge,
                phase.clone(),
            ));
        }
        tracing::info!(
            concurrency = pool.config.concurrency,
            kinds = ?pool.runner.kinds(),
            "worker started"
        );
        shutdown.await;
        tracing::info!(grace_seconds = grace.as_secs(), "worker draining");
        phase_sender.send_replace(Phase::Draining);
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            phase_sender.send_replace(Phase::Aborting);
            while tasks.join_next().await.is_some() {}
        }
        tracing::info!("worker stopped");
    }

    /// Keeps `job_queue_oldest_age_seconds` at how long the longest-waiting due job
    /// has waited (0 when none waits), looking every [`QUEUE_AGE_EVERY`].
    async fn watch_queue_age(self: Arc<Self>, mut phase: watch::Receiver<Phase>) {
        while *phase.borrow() == Phase::Running {
            let now = self.clock.now();
            match self.runner.queue().oldest_due(now).await {
                Ok(oldest) => {
                    let age = oldest.map_or(0, |at| (now - at).num_seconds().max(0));
                    self.metrics.job_queue_oldest_age_seconds.set(age);
                }
                Err(error) => {
                    tracing::debug!(error = %error, "the job queue's age could not be read");
                }
            }
            tokio::select! {
                () = tokio::time::sleep(QUEUE_AGE_EVERY) => {}
                _ = phase.changed() => {}
            }
        }
    }

    async fn job_loop(self: Arc<Self>, slot: usize, mut phase: watch::Receiver<Phase>) {
        while *phase.borrow() == Phase::Running {
            match self.runner.lease(1).await {
                Ok(jobs) if !jobs.is_empty() => {
                    for job in jobs {
                        self.run_job(job, &mut phase).await;
                    }
                }
                Ok(_) => self.idle(&mut phase).await,
                Err(error) => {
                    tracing::warn!(error = %error, slot, "cannot lease jobs");
                    self.idle(&mut phase).await;
                }
            }
        }
    }

    async fn idle(&self, phase: &mut watch::Receiver<Phase>) {
        tokio::select! {
            () = tokio::time::sleep(self.config.poll_interval) => {}
            _ = phase.wait_for(|phase| *phase != Phase::Running) => {}
        }
    }

    async fn run_job(&self, job: Job, phase: &mut watch::Receiver<Phase>) {
        // Log lines of the job carry the trace of the request that enqueued it (or,
        // for scheduled jobs, the job's own id) as their trace_id.
        let trace_id = job
            .trace_context
            .as_deref()
            .and_then(crate::telemetry::trace_context::trace_id_of)
            .map_or_else(|| job.id.to_string(), str::to_owned);
        let span = tracing::info_span!(
            "job",
            otel.name = %format!("job {}", job.kind),
            otel.kind = "consumer",
            trace_id = %trace_id,
            job_id = %job.id,
            kind = %job.kind,
            tenant_id = job.tenant_id.as_ref().map(|tenant| tenant.as_str()),
            attempt = job.attempts,
        );
        if let Some(traceparent) = &job.trace_context {
            crate::telemetry::trace_context::continue_trace(&span, traceparent);
        }
        let started = Instant::now();
        let leased = job.clone();
        let outcome = tokio::select! {
            executed = self.runner.execute(job).instrument(span.clone()) => Some(executed),
            _ = phase.wait_for(|phase| *phase == Phase::Aborting) => None,
        };
        let _entered = span.enter();
        match outcome {
            Some(Ok(executed)) => {
                let status = status_label(&executed.finish);
                self.metrics
                    .worker_tasks
                    .get_or_create(&TaskLabels {
                        name: leased.kind.clone(),
                        status: status.to_owned(),
                    })
                    .inc();
                self.metrics
                    .worker_task_duration_ms
                    .get_or_create(&TaskNameLabels {
                        name: leased.kind.clone(),
                    })
                    .observe(started.elapsed().as_secs_f64() * 1_000.0);
                let message = executed.finish.message();
                if !executed.recorded {
                    tracing::warn!(
                        status,
                        "job finished after its lease was taken over; outcome not recorded"
                    );
                } else if matches!(executed.finish, Finish::Dead { .. }) {
                    tracing::error!(status, error = message, "job dead");
                } else if matches!(executed.finish, Finish::RetryAt { .. }) {
                    tracing::warn!(status, error = message, "job failed; will retry");
                } else {
                    tracing::info!(status, reason = message, "job finished");
                }
            }
            Some(Err(error)) => {
                // The outcome could not be recorded: the lease expires and the job
                // runs again, which its handler tolerates.
                tracing::error!(error = %error, "cannot record job outcome");
            }
            None => match self.runner.release(&leased).await {
                Ok(true) => tracing::info!("job released at shutdown"),
                Ok(false) => tracing::warn!("job lease lost before release"),
                Err(error) => {
                    tracing::warn!(error = %error, "cannot release job; its lease will expire")
                }
            },
        }
    }
}
