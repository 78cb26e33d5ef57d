//! The rules every automatic follow-up (one no user asked for) obeys: only after a
//! missed inbound call, never before its delay, never in the company's quiet hours.
//! A follow-up a user asked for skips them: the user chose the moment.

use chrono::{DateTime, Utc};

use crate::calls::{Call, Direction};
use crate::jobs::{Job, JobOutcome};
use crate::ports::FollowUpSettings;

/// Whether a user asked for `job` (its payload names who).
pub fn requested(job: &Job) -> bool {
    job.payload.get("requested_by").is_some()
}

/// `Ok` when an automatic follow-up of `call` may go out at `now`; otherwise the
/// outcome to end this attempt with: skipped after a call that was answered or not
/// inbound, deferred until `not_before` or the end of quiet hours.
pub fn may_go_out(
    call: &Call,
    settings: &FollowUpSettings,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
) -> Result<(), JobOutcome> {
    if call.direction != Direction::Inbound || call.answered {
        return Err(JobOutcome::Skipped(
            "the call was answered or is not inbound".into(),
        ));
    }
    if let Some(until) = not_before.filter(|until| now < *until) {
        return Err(JobOutcome::Defer {
            until,
            reason: "waiting for the follow-up delay after the call".into(),
        });
    }
    if let Some(until) = settings.quiet_hours.and_then(|quiet| quiet.resume_at(now)) {
        return Err(JobOutcome::Defer {
            until,
            reason: "the company's quiet hours".into(),
        });
    }
    Ok(())
}
