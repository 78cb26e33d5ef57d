//! Background jobs: the queue's vocabulary, the retry policy, the runner that
//! dispatches leased jobs to handlers, and daily schedules.
//!
//! Jobs live in the database: the webhook that causes one enqueues it in its own
//! transaction, so a job is never lost and never created for work that rolled back.
//! See the [`JobQueue`](crate::ports::JobQueue) port for the leasing rules.

mod kind;
mod model;
mod retry;
mod runner;
mod schedule;

pub use kind::JobKind;
pub use model::{Enqueued, Finish, Job, JobStatus, NewJob};
pub use retry::RetryPolicy;
pub use runner::{Executed, JobHandler, JobOutcome, JobRunner};
pub use schedule::{DailySchedule, InvalidSchedule, slot_job};
