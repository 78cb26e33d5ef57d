//! AI follow-up: an AI agent calls the customer back on the company's behalf, once
//! per job key, never a number that opted out; the result returns through
//! `/webhook/bland`, routed by the tenant id in the call's metadata.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::automatic::{may_go_out, requested};
use super::job_input::{tenant_of, text};
use super::outbound::{OutboundProvider, once};
use super::template::render;
use crate::jobs::{Job, JobHandler, JobOutcome};
use crate::ports::{
    AiCallRequest, AiCaller, Clock, FollowUpStore, OutboundAction, OutboundKind, ProviderError,
};
use crate::tenancy::TenantId;

/// The agent's task when the job names none.
pub const DEFAULT_AI_FOLLOW_UP_TASK: &str = "You are calling back a customer of {company_name} \
     who called earlier when nobody could answer. Apologise for the missed call, ask how the \
     company can help, and offer to book an appointment. Be brief and polite.";

/// How long after a missed call an automatic AI call-back waits (a text message,
/// if on, goes first; the customer may call back meanwhile).
pub const AI_FOLLOW_UP_DELAY_MINUTES: i64 = 15;

/// The `ai_follow_up` job handler. Automatic call-backs (enqueued for every missed
/// inbound call) go out only when the company turned them on.
pub struct AiFollowUp {
    store: Arc<dyn FollowUpStore>,
    caller: Option<Arc<dyn AiCaller>>,
    clock: Arc<dyn Clock>,
    webhook_url: Option<String>,
}

impl std::fmt::Debug for AiFollowUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AiFollowUp")
            .field("configured", &self.caller.is_some())
            .field("webhook_url", &self.webhook_url)
            .finish_non_exhaustive()
    }
}

struct CallerProvider {
    caller: Arc<dyn AiCaller>,
    tenant: TenantId,
    webhook_url: Option<String>,
}

impl CallerProvider {
    fn request_of(&self, action: &OutboundAction) -> AiCallRequest {
        AiCallRequest {
            phone_number: action.to.clone(),
            task: action.text.clone(),
            from: action.from.clone(),
            tenant_id: self.tenant.clone(),
            reference: action.key.clone(),
            webhook_url: self.webhook_url.clone(),
        }
    }
}

#[async_trait]
impl OutboundProvider for CallerProvider {
    async fn perform(&self, action: &OutboundAction) -> Result<String, ProviderError> {
        Ok(self
            .caller
            .start_call(&self.request_of(action))
            .await?
            .provider_call_id)
    }

    async fn find(
        &self,
        action: &OutboundAction,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, ProviderError> {
        Ok(self
            .caller
            .find_started(&self.request_of(action), since)
            .await?
            .map(|started| started.provider_call_id))
    }
}

impl AiFollowUp {
    /// Calls through `caller` (`None`: not configured, jobs are skipped), asking the
    /// provider to post the result to `webhook_url`.
    pub fn new(
        store: Arc<dyn FollowUpStore>,
        caller: Option<Arc<dyn AiCaller>>,
        clock: Arc<dyn Clock>,
        webhook_url: Option<String>,
    ) -> Self {
        AiFollowUp {
            store,
            caller,
            clock,
            webhook_url,
        }
    }

    async fn run(&self, job: &Job) -> Result<JobOutcome, JobOutcome> {
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
            .ok_or_else(|| JobOutcome::Skipped("the call has no customer number".into()))?;
        let (settings, company_name) = self.store.follow_up_settings(&scope).await?;
        if !requested(job) {
            if !settings.ai_follow_up_enabled {
                return Err(JobOutcome::Skipped(
                    "AI follow-up calls are off for this company".into(),
                ));
            }
            // Checked: a call's time comes from outside, and chrono panics on overflow.
            let not_before = call
                .started_at
                .checked_add_signed(Duration::minutes(AI_FOLLOW_UP_DELAY_MINUTES))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            may_go_out(&call, &settings, self.clock.now(), Some(not_before))?;
        }
        if self.store.is_opted_out(&scope, &customer).await? {
            return Err(JobOutcome::Skipped(
                "the customer opted out of contact".into(),
            ));
        }
        let caller = self
            .caller
            .clone()
            .ok_or_else(|| JobOutcome::Skipped("bland is not configured".into()))?;
        let task = job
            .payload
            .get("task")
            .and_then(|task| task.as_str())
            .unwrap_or(DEFAULT_AI_FOLLOW_UP_TASK);
        let intended = OutboundAction {
            kind: OutboundKind::AiCall,
            key: job.unique_key.clone(),
            call_id: Some(call.id),
            to: customer,
            from: None,
            text: render(task, company_name.as_deref(), call.customer_name.as_deref()),
            started_at: self.clock.now(),
            provider_ref: None,
        };
        let provider = CallerProvider {
            caller,
            tenant,
            webhook_url: self.webhook_url.clone(),
        };
        once(self.store.as_ref(), &scope, &intended, &provider, || {
            self.clock.now()
        })
        .await?;
        Ok(JobOutcome::Succeeded)
    }
}

#[async_trait]
impl JobHandler for AiFollowUp {
    async fn handle(&self, job: &Job) -> JobOutcome {
        match self.run(job).await {
            Ok(outcome) | Err(outcome) => outcome,
        }
    }
}
