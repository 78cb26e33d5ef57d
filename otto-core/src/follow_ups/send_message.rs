//! The `send_message` job: a text message a user wrote, sent once from the company's
//! number (checked against opt-outs again, since the customer may have opted out
//! after it was queued).

use std::sync::Arc;

use async_trait::async_trait;

use super::job_input::{tenant_of, text};
use super::texting::{Text, Texting};
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{Clock, FollowUpStore, SmsSender, UsageMeter};

/// The `send_message` job handler.
#[derive(Debug)]
pub struct SendMessage {
    texting: Texting,
}

impl SendMessage {
    /// Sends through `sms` (`None`: Twilio is not configured, jobs are skipped), from
    /// the tenant's number or `default_from`.
    pub fn new(
        store: Arc<dyn FollowUpStore>,
        sms: Option<Arc<dyn SmsSender>>,
        meter: Arc<dyn UsageMeter>,
        clock: Arc<dyn Clock>,
        default_from: Option<String>,
    ) -> Self {
        SendMessage {
            texting: Texting::new(store, sms, meter, clock, default_from),
        }
    }

    async fn send(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
        let (tenant, scope) = tenant_of(job)?;
        let message = Text {
            tenant: &tenant,
            scope: &scope,
            call_id: None,
            to: text(job, "to")?.to_owned(),
            body: text(job, "body")?.to_owned(),
        };
        let (settings, _) = self.texting.store.follow_up_settings(&scope).await?;
        self.texting.send(job, &settings, message).await
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
