//! A [`JobHandler`] fake that answers from a script and records what it ran.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use otto_core::jobs::{Job, JobHandler, JobOutcome};
use uuid::Uuid;

#[derive(Debug, Default)]
struct Script {
    outcomes: VecDeque<JobOutcome>,
    ran: Vec<(Uuid, u32)>,
}

/// Answers each attempt with the next scripted outcome (then `Succeeded`), after an
/// optional delay, and records every `(job id, attempt)` it ran. Clones share state.
#[derive(Debug, Clone, Default)]
pub struct ScriptedHandler {
    script: Arc<Mutex<Script>>,
    delay: Duration,
}

impl ScriptedHandler {
    /// Answers `outcomes` in order, then `Succeeded`.
    pub fn answering(outcomes: impl IntoIterator<Item = JobOutcome>) -> Self {
        let handler = ScriptedHandler::default();
        handler.lock().outcomes.extend(outcomes);
        handler
    }

    /// Takes `delay` over each attempt (a slow provider).
    #[must_use]
    pub fn taking(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Every `(job id, attempt)` run so far, in order.
    pub fn ran(&self) -> Vec<(Uuid, u32)> {
        self.lock().ran.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl JobHandler for ScriptedHandler {
    async fn handle(&self, job: &Job) -> JobOutcome {
        self.lock().ran.push((job.id, job.attempts));
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.lock()
            .outcomes
            .pop_front()
            .unwrap_or(JobOutcome::Succeeded)
    }
}
