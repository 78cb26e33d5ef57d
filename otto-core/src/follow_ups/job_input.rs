//! Reading what a follow-up job is about from its stored payload.

use crate::jobs::{Job, JobOutcome};
use crate::ports::RecordingRef;
use crate::tenancy::{TenantId, TenantScope};

/// The job's tenant and scope; a job without one failed permanently.
pub fn tenant_of(job: &Job) -> Result<(TenantId, TenantScope), JobOutcome> {
    let tenant = job
        .tenant_id
        .clone()
        .ok_or_else(|| JobOutcome::Fail("the job names no tenant".into()))?;
    Ok((tenant.clone(), TenantScope::for_job(tenant)))
}

/// A text field of the job's payload.
pub fn text<'a>(job: &'a Job, name: &str) -> Result<&'a str, JobOutcome> {
    job.payload
        .get(name)
        .and_then(|value| value.as_str())
        .filter(|value| !value.is_empty())
        .ok_or_else(|| JobOutcome::Fail(format!("the payload lacks `{name}`")))
}

/// The recording a transcription or analysis job is about.
pub fn recording_of(job: &Job) -> Result<RecordingRef, JobOutcome> {
    Ok(RecordingRef {
        provider: text(job, "provider")?.to_owned(),
        call_external_id: text(job, "call_external_id")?.to_owned(),
        recording_external_id: text(job, "recording_external_id")?.to_owned(),
    })
}
