//! Missed-call recovery: an inbound call nobody answered gets one text message from
//! the tenant's number, never twice and never to a number that opted out.
//!
//! "Never twice" holds across retries and crashes: the message goes out through
//! [`once`](super::outbound), which records it by the job's key before Twilio is
//! called and asks Twilio before resending what an earlier attempt may have sent.

use std::sync::Arc;

use async_trait::async_trait;

use super::automatic::{may_go_out, requested};
use super::job_input::{tenant_of, text};
use super::outbound::{Completion, OutboundProvider, once};
use super::template::{DEFAULT_MISSED_CALL_TEMPLATE, render};
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{
    Clock, FollowUpStore, OutboundAction, OutboundKind, ProviderError, SmsRequest, SmsSender,
    UsageMeter,
};

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

fn skip(reason: &str) -> JobOutcome {
    JobOutcome::Skipped(reason.to_owned())
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

    async fn recover(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
        let (tenant, scope) = tenant_of(job)?;
        let provider = text(job, "provider")?;
        let external_id = text(job, "call_external_id")?;
        let call = self
            .store
            .call_by_external_id(&scope, provider, external_id)
            .await?
            .ok_or_else(|| {
                JobOutcome::Fail(format!("no call {provider}:{external_id} in the tenant"))
            })?;
        let customer = call
            .customer_number
            .clone()
            .ok_or_else(|| skip("the call has no customer number"))?;
        let (settings, company_name) = self.store.follow_up_settings(&scope).await?;
        if !requested(job) {
            may_go_out(&call, &settings, self.clock.now(), None)?;
        }
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
        let intended = OutboundAction {
            kind: OutboundKind::Sms,
            key: job.unique_key.clone(),
            call_id: Some(call.id),
            to: customer,
            from: Some(from),
            text: render(
                template,
                company_name.as_deref(),
                call.customer_name.as_deref(),
            ),
            started_at: self.clock.now(),
            provider_ref: None,
        };
        let completion = once(
            self.store.as_ref(),
            &scope,
            &intended,
            &SmsProvider(sms),
            || self.clock.now(),
        )
        .await?;
        // Counted when this attempt completed the message, which happens exactly
        // once per key (by sending it, or by finding an earlier attempt's).
        if completion == Completion::CompletedNow {
            self.meter.sms_sent(&tenant);
        }
        Ok(JobOutcome::Succeeded)
    }
}

/// Twilio as an [`OutboundProvider`] of text messages.
pub(super) struct SmsProvider(pub(super) Arc<dyn SmsSender>);

/// The request for a recorded message.
fn request_of(recorded: &OutboundAction) -> SmsRequest {
    SmsRequest {
        to: recorded.to.clone(),
        from: recorded.from.clone().unwrap_or_default(),
        body: recorded.text.clone(),
    }
}

#[async_trait]
impl OutboundProvider for SmsProvider {
    async fn perform(&self, action: &OutboundAction) -> Result<String, ProviderError> {
        Ok(self.0.send(&request_of(action)).await?.provider_message_id)
    }

    async fn find(
        &self,
        action: &OutboundAction,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self
            .0
            .find_sent(&request_of(action), since)
            .await?
            .map(|sent| sent.provider_message_id))
    }
}

#[async_trait]
impl JobHandler for MissedCallRecovery {
    async fn handle(&self, job: &Job) -> JobOutcome {
        match self.recover(job).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}
