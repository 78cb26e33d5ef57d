//! Missed-call recovery: an inbound call nobody answered gets one text message from
//! the tenant's number, never twice and never to a number that opted out.
//!
//! "Never twice" holds across retries and crashes: the message is recorded (by the
//! job's unique key) before the provider is called, and its provider id right after.
//! An attempt that finds a recorded message with an id is done; one that finds a
//! recorded message without an id (an earlier attempt died around the provider call)
//! asks the provider whether it was sent before sending.

use std::sync::Arc;

use async_trait::async_trait;

use super::job_input::{tenant_of, text};
use super::template::{DEFAULT_MISSED_CALL_TEMPLATE, render};
use crate::calls::Direction;
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{
    Clock, FollowUpStore, OutboundSms, ProviderError, SmsClaim, SmsRequest, SmsSender, StoreError,
    UsageMeter,
};

/// How far before the recorded start a provider lookup searches (clock skew).
const LOOKUP_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// The `missed_call_recovery` job handler.
pub struct MissedCallRecovery {
    store: Arc<dyn FollowUpStore>,
    sms: Option<Arc<dyn SmsSender>>,
    meter: Arc<dyn UsageMeter>,
    clock: Arc<dyn Clock>,
    default_from: Option<String>,
}

impl std::fmt::Debug for MissedCallRecovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MissedCallRecovery")
            .field("sms_configured", &self.sms.is_some())
            .field("default_from", &self.default_from)
            .finish_non_exhaustive()
    }
}

/// Why an attempt stopped early.
enum Stop {
    Outcome(JobOutcome),
    Store(StoreError),
    Provider(ProviderError),
}

impl From<StoreError> for Stop {
    fn from(error: StoreError) -> Self {
        Stop::Store(error)
    }
}

impl From<ProviderError> for Stop {
    fn from(error: ProviderError) -> Self {
        Stop::Provider(error)
    }
}

fn skip(reason: impl Into<String>) -> Stop {
    Stop::Outcome(JobOutcome::Skipped(reason.into()))
}

/// The outcome of a provider failure.
pub fn provider_outcome(error: ProviderError) -> JobOutcome {
    match error {
        ProviderError::NotConfigured(_) => JobOutcome::Skipped(error.to_string()),
        ProviderError::Transient { .. } => JobOutcome::Retry(error.to_string()),
        ProviderError::Permanent { .. } => JobOutcome::Fail(error.to_string()),
    }
}

impl MissedCallRecovery {
    /// Sends through `sms` (`None`: Twilio is not configured, jobs are skipped), from
    /// the tenant's number or `default_from`.
    pub fn new(
        store: Arc<dyn FollowUpStore>,
        sms: Option<Arc<dyn SmsSender>>,
        meter: Arc<dyn UsageMeter>,
        clock: Arc<dyn Clock>,
        default_from: Option<String>,
    ) -> Self {
        MissedCallRecovery {
            store,
            sms,
            meter,
            clock,
            default_from,
        }
    }

    async fn recover(&self, job: &Job) -> Result<JobOutcome, Stop> {
        let (tenant, scope) = tenant_of(job).map_err(Stop::Outcome)?;
        let provider = text(job, "provider").map_err(Stop::Outcome)?;
        let external_id = text(job, "call_external_id").map_err(Stop::Outcome)?;
        let call = self
            .store
            .call_by_external_id(&scope, provider, external_id)
            .await?
            .ok_or_else(|| {
                Stop::Outcome(JobOutcome::Fail(format!(
                    "no call {provider}:{external_id} in the tenant"
                )))
            })?;
        if call.direction != Direction::Inbound || call.answered {
            return Err(skip("the call was answered or is not inbound"));
        }
        let customer = call
            .customer_number
            .clone()
            .ok_or_else(|| skip("the call has no customer number"))?;
        let (settings, company_name) = self.store.follow_up_settings(&scope).await?;
        if !settings.missed_call_sms_enabled {
            return Err(skip("missed-call text messages are off for this company"));
        }
        let sms = self
            .sms
            .clone()
            .ok_or(ProviderError::NotConfigured("twilio"))?;
        let from = settings
            .sms_from_number
            .or_else(|| self.default_from.clone())
            .ok_or_else(|| skip("no sending number: set TWILIO_FROM_NUMBER"))?;
        if self.store.is_opted_out(&scope, &customer).await? {
            return Err(skip("the customer opted out of text messages"));
        }
        let template = settings
            .missed_call_sms_template
            .as_deref()
            .unwrap_or(DEFAULT_MISSED_CALL_TEMPLATE);
        let intended = OutboundSms {
            key: job.unique_key.clone(),
            call_id: Some(call.id),
            to: customer,
            from,
            body: render(
                template,
                company_name.as_deref(),
                call.customer_name.as_deref(),
            ),
            started_at: self.clock.now(),
            provider_message_id: None,
        };
        let recorded = match self.store.begin_sms(&scope, &intended).await? {
            SmsClaim::Fresh(recorded) => recorded,
            SmsClaim::Earlier(recorded) => {
                if recorded.provider_message_id.is_some() {
                    return Ok(JobOutcome::Succeeded);
                }
                let request = request_of(&recorded);
                if let Some(sent) = sms
                    .find_sent(&request, recorded.started_at - LOOKUP_MARGIN)
                    .await?
                {
                    self.store
                        .complete_sms(
                            &scope,
                            &recorded.key,
                            &sent.provider_message_id,
                            self.clock.now(),
                        )
                        .await?;
                    self.meter.sms_sent(&tenant);
                    return Ok(JobOutcome::Succeeded);
                }
                recorded
            }
        };
        let sent = sms.send(&request_of(&recorded)).await?;
        self.store
            .complete_sms(
                &scope,
                &recorded.key,
                &sent.provider_message_id,
                self.clock.now(),
            )
            .await?;
        // Counted once the message is recorded as sent, which happens exactly once
        // per key (here or, after a lost answer, through the lookup above).
        self.meter.sms_sent(&tenant);
        Ok(JobOutcome::Succeeded)
    }
}

/// The request for a recorded message: a retry sends exactly what was recorded.
fn request_of(recorded: &OutboundSms) -> SmsRequest {
    SmsRequest {
        to: recorded.to.clone(),
        from: recorded.from.clone(),
        body: recorded.body.clone(),
    }
}

#[async_trait]
impl JobHandler for MissedCallRecovery {
    async fn handle(&self, job: &Job) -> JobOutcome {
        match self.recover(job).await {
            Ok(outcome) | Err(Stop::Outcome(outcome)) => outcome,
            Err(Stop::Store(error)) => JobOutcome::Retry(format!("storage: {error}")),
            Err(Stop::Provider(error)) => provider_outcome(error),
        }
    }
}
