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
use super::template::{DEFAULT_MISSED_CALL_TEMPLATE, render};
use super::texting::{Text, Texting};
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{Clock, FollowUpStore, SmsSender, UsageMeter};

/// The `missed_call_recovery` job handler.
#[derive(Debug)]
pub struct MissedCallRecovery {
    texting: Texting,
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
            texting: Texting::new(store, sms, meter, clock, default_from),
        }
    }

    async fn recover(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
        let (tenant, scope) = tenant_of(job)?;
        let provider = text(job, "provider")?;
        let external_id = text(job, "call_external_id")?;
        let store = &self.texting.store;
        let call = store
            .call_by_external_id(&scope, provider, external_id)
            .await?
            .ok_or_else(|| {
                JobOutcome::Fail(format!("no call {provider}:{external_id} in the tenant"))
            })?;
        let customer = call
            .customer_number
            .clone()
            .ok_or_else(|| JobOutcome::Skipped("the call has no customer number".into()))?;
        let (settings, company_name) = store.follow_up_settings(&scope).await?;
        if !requested(job) {
            may_go_out(&call, &settings, self.texting.clock.now(), None)?;
        }
        if !settings.missed_call_sms_enabled {
            return Err(JobOutcome::Skipped(
                "missed-call text messages are off for this company".into(),
            ));
        }
        let template = settings
            .missed_call_sms_template
            .as_deref()
            .unwrap_or(DEFAULT_MISSED_CALL_TEMPLATE);
        let body = render(
            template,
            company_name.as_deref(),
            call.customer_name.as_deref(),
        );
        let message = Text {
            tenant: &tenant,
            scope: &scope,
            call_id: Some(call.id),
            to: customer,
            body,
        };
        self.texting.send(job, &settings, message).await
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
