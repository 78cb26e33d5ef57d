//! The `send_message` job: a text message a user wrote, sent once from the company's
//! number (checked against opt-outs again, since the customer may have opted out
//! after it was queued).

use std::sync::Arc;

use async_trait::async_trait;

use super::job_input::{tenant_of, text};
use super::missed_call::SmsProvider;
use super::outbound::{Completion, once};
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{
    Clock, FollowUpStore, OutboundAction, OutboundKind, ProviderError, SmsSender, UsageMeter,
};

/// The `send_message` job handler.
pub struct SendMessage {
    store: Arc<dyn FollowUpStore>,
    sms: Option<Arc<dyn SmsSender>>,
    meter: Arc<dyn UsageMeter>,
    clock: Arc<dyn Clock>,
    default_from: Option<String>,
}

impl std::fmt::Debug for SendMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMessage")
            .field("sms_configured", &self.sms.is_some())
            .field("default_from", &self.default_from)
            .finish_non_exhaustive()
    }
}

impl SendMessage {
    /// Sends through `sms` (`None`: Twilio is not configured, jobs are skipped),
    /// from the tenant's number or `default_from`.
    pub fn new(
        store: Arc<dyn FollowUpStore>,
        sms: Option<Arc<dyn SmsSender>>,
        meter: Arc<dyn UsageMeter>,
        clock: Arc<dyn Clock>,
        default_from: Option<String>,
    ) -> Self {
        SendMessage {
            store,
            sms,
            meter,
            clock,
            default_from,
        }
    }

    async fn send(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
        let (tenant, scope) = tenant_of(job)?;
        let to = text(job, "to")?;
        let body = text(job, "body")?;
        if self.store.is_opted_out(&scope, to).await? {
            return Err(JobOutcome::Skipped(
                "the customer opted out of text messages".into(),
            ));
        }
        let sms = self
            .sms
            .clone()
            .ok_or(ProviderError::NotConfigured("twilio"))?;
        let (settings, _) = self.store.follow_up_settings(&scope).await?;
        let from = settings
            .sms_from_number
            .or_else(|| self.default_from.clone())
            .ok_or_else(|| JobOutcome::Fail("no sending number: set TWILIO_FROM_NUMBER".into()))?;
        let intended = OutboundAction {
            kind: OutboundKind::Sms,
            key: job.unique_key.clone(),
            call_id: None,
            to: to.to_owned(),
            from: Some(from),
            text: body.to_owned(),
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
        if completion == Completion::CompletedNow {
            self.meter.sms_sent(&tenant);
        }
        Ok(JobOutcome::Succeeded)
    }
}

#[async_trait]
impl JobHandler for SendMessage {
    async fn handle(&self, job: &Job) -> JobOutcome {
        match self.send(job).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}
