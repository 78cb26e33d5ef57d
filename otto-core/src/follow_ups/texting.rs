//! Sending one text message for a job: from the company's number (or the
//! platform's), never to a number that opted out, at most once per job key (through
//! [`once`]), counted once when it completes. Missed-call recovery and messages users
//! write both send this way.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::outbound::{Completion, OutboundProvider, once};
use crate::jobs::{Job, JobOutcome};
use crate::ports::{
    Clock, FollowUpSettings, FollowUpStore, OutboundAction, OutboundKind, ProviderError,
    SmsRequest, SmsSender, UsageMeter,
};
use crate::tenancy::{TenantId, TenantScope};

/// What texting needs; shared by the handlers that text.
pub(super) struct Texting {
    pub(super) store: Arc<dyn FollowUpStore>,
    sms: Option<Arc<dyn SmsSender>>,
    meter: Arc<dyn UsageMeter>,
    pub(super) clock: Arc<dyn Clock>,
    default_from: Option<String>,
}

impl std::fmt::Debug for Texting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Texting")
            .field("sms_configured", &self.sms.is_some())
            .field("default_from", &self.default_from)
            .finish_non_exhaustive()
    }
}

/// One message to send for a job.
pub(super) struct Text<'a> {
    pub(super) tenant: &'a TenantId,
    pub(super) scope: &'a TenantScope,
    pub(super) call_id: Option<Uuid>,
    pub(super) to: String,
    pub(super) body: String,
}

impl Texting {
    /// Sends through `sms` (`None`: Twilio is not configured, jobs are skipped), from
    /// the tenant's number or `default_from`.
    pub(super) fn new(
        store: Arc<dyn FollowUpStore>,
        sms: Option<Arc<dyn SmsSender>>,
        meter: Arc<dyn UsageMeter>,
        clock: Arc<dyn Clock>,
        default_from: Option<String>,
    ) -> Self {
        Texting {
            store,
            sms,
            meter,
            clock,
            default_from,
        }
    }

    /// Sends `text` for `job` with the tenant's `settings`.
    pub(super) async fn send(
        &self,
        job: &Job,
        settings: &FollowUpSettings,
        text: Text<'_>,
    ) -> Result<JobOutcome, JobOutcome> {
        let sms = self
            .sms
            .clone()
            .ok_or(ProviderError::NotConfigured("twilio"))?;
        let from = settings
            .sms_from_number
            .clone()
            .or_else(|| self.default_from.clone())
            .ok_or_else(|| {
                JobOutcome::Skipped("no sending number: set TWILIO_FROM_NUMBER".into())
            })?;
        if self.store.is_opted_out(text.scope, &text.to).await? {
            return Err(JobOutcome::Skipped(
                "the customer opted out of text messages".into(),
            ));
        }
        let intended = OutboundAction {
            kind: OutboundKind::Sms,
            key: job.unique_key.clone(),
            call_id: text.call_id,
            to: text.to,
            from: Some(from),
            text: text.body,
            started_at: self.clock.now(),
            provider_ref: None,
        };
        let completion = once(
            self.store.as_ref(),
            text.scope,
            &intended,
            &SmsProvider(sms),
            || self.clock.now(),
        )
        .await?;
        // Counted when this attempt completed the message, which happens exactly
        // once per key (by sending it, or by finding an earlier attempt's).
        if completion == Completion::CompletedNow {
            self.meter.sms_sent(text.tenant);
        }
        Ok(JobOutcome::Succeeded)
    }
}

/// Twilio as an [`OutboundProvider`] of text messages.
struct SmsProvider(Arc<dyn SmsSender>);

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
        since: DateTime<Utc>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self
            .0
            .find_sent(&request_of(action), since)
            .await?
            .map(|sent| sent.provider_message_id))
    }
}
