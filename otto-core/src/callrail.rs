//! A company's CallRail: the CallRail companies linked to it, a live listing of
//! their calls, and copying them into Otto as a `callrail_sync` job.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::backfill::{BackfillError, backfill_calls};
use crate::jobs::{Enqueued, Job, JobHandler, JobKind, JobOutcome, NewJob};
use crate::ports::{
    CallRepository, CallTracking, Clock, JobQueue, ProviderAccounts, ProviderError, StoreError,
    TrackedCallPage,
};
use crate::roles::{AppRole, RoleMap, RoleRequired, require};
use crate::tenancy::{Principal, TenantId, TenantScope};
use crate::webhooks::Provider;

/// Most pages one sync job reads per company.
pub const MAX_SYNC_PAGES: u32 = 50;

/// Most calls a live listing page holds.
pub const MAX_LIVE_PAGE_SIZE: u32 = 100;

/// The CallRail companies linked to `tenant`, in a stable order.
pub async fn linked_companies(
    accounts: &dyn ProviderAccounts,
    tenant: &TenantId,
) -> Result<Vec<String>, StoreError> {
    let mut companies: Vec<String> = accounts
        .links()
        .await?
        .into_iter()
        .filter(|link| link.account.provider == Provider::CallRail && link.tenant_id == *tenant)
        .map(|link| link.account.account_id)
        .collect();
    companies.sort();
    Ok(companies)
}

/// Why a CallRail operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum CallRailError {
    /// The caller's role may not.
    #[error(transparent)]
    Forbidden(#[from] RoleRequired),
    /// No CallRail company is linked to the caller's company (or not the one asked
    /// for).
    #[error("no such CallRail company is linked to this company")]
    NotLinked,
    /// CallRail failed or is not configured.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who may read CallRail live and start a sync.
const OPERATORS: [AppRole; 2] = [AppRole::Leadership, AppRole::Csr];

/// The CallRail service of the product API.
#[derive(Clone)]
pub struct CallRailDesk {
    tracking: Option<Arc<dyn CallTracking>>,
    accounts: Arc<dyn ProviderAccounts>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    roles: RoleMap,
}

impl std::fmt::Debug for CallRailDesk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRailDesk")
            .field("configured", &self.tracking.is_some())
            .finish_non_exhaustive()
    }
}

impl CallRailDesk {
    /// Reads through `tracking` (`None`: CallRail's API is not configured).
    pub fn new(
        tracking: Option<Arc<dyn CallTracking>>,
        accounts: Arc<dyn ProviderAccounts>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        roles: RoleMap,
    ) -> Self {
        CallRailDesk {
            tracking,
            accounts,
            queue,
            clock,
            roles,
        }
    }

    /// `company` if it is linked to the caller's company, else the first linked one.
    async fn company(
        &self,
        principal: &Principal,
        company: Option<&str>,
    ) -> Result<String, CallRailError> {
        let linked = linked_companies(self.accounts.as_ref(), &principal.tenant_id).await?;
        match company {
            Some(asked) => linked
                .into_iter()
                .find(|known| known == asked)
                .ok_or(CallRailError::NotLinked),
            None => linked.into_iter().next().ok_or(CallRailError::NotLinked),
        }
    }

    /// Page `page` (from 1) of the calls CallRail has for the caller's linked company,
    /// newest first, read live.
    pub async fn live_calls(
        &self,
        principal: &Principal,
        company: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<TrackedCallPage, CallRailError> {
        require(&self.roles, principal, &OPERATORS)?;
        let company = self.company(principal, company).await?;
        let tracking = self
            .tracking
            .as_ref()
            .ok_or(ProviderError::NotConfigured("callrail"))?;
        Ok(tracking
            .list_calls(
                Some(&company),
                page.max(1),
                per_page.clamp(1, MAX_LIVE_PAGE_SIZE),
            )
            .await?)
    }

    /// Queues a copy of up to `pages` pages of the linked company's calls into Otto.
    /// Asking again within the same minute returns the same job.
    pub async fn sync(
        &self,
        principal: &Principal,
        company: Option<&str>,
        pages: u32,
        trace_context: Option<String>,
    ) -> Result<Enqueued, CallRailError> {
        require(&self.roles, principal, &OPERATORS)?;
        let company = self.company(principal, company).await?;
        if self.tracking.is_none() {
            return Err(ProviderError::NotConfigured("callrail").into());
        }
        let now = self.clock.now();
        let job = NewJob {
            kind: JobKind::CallRailSync,
            tenant_id: Some(principal.tenant_id.clone()),
            unique_key: format!(
                "{}:{}:{company}:{}",
                JobKind::CallRailSync,
                principal.tenant_id,
                now.format("%Y-%m-%dT%H:%M")
            ),
            payload: json!({
                "company": company,
                "pages": pages.clamp(1, MAX_SYNC_PAGES),
                "requested_by": principal.user_id.as_str(),
            }),
            run_at: now,
            trace_context,
        };
        Ok(self.queue.enqueue(job, now).await?)
    }
}

/// The `callrail_sync` job handler: records the company's CallRail calls (calls Otto
/// has are left as they are, so a retried job is harmless).
pub struct CallRailSync {
    tracking: Option<Arc<dyn CallTracking>>,
    calls: Arc<dyn CallRepository>,
}

impl std::fmt::Debug for CallRailSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRailSync")
            .field("configured", &self.tracking.is_some())
            .finish_non_exhaustive()
    }
}

impl CallRailSync {
    /// Reads through `tracking` (`None`: not configured, jobs are skipped) into
    /// `calls`.
    pub fn new(tracking: Option<Arc<dyn CallTracking>>, calls: Arc<dyn CallRepository>) -> Self {
        CallRailSync { tracking, calls }
    }
}

#[async_trait]
impl JobHandler for CallRailSync {
    async fn handle(&self, job: &Job) -> JobOutcome {
        let Some(tenant) = job.tenant_id.clone() else {
            return JobOutcome::Fail("the job names no tenant".into());
        };
        let Some(company) = job.payload.get("company").and_then(|value| value.as_str()) else {
            return JobOutcome::Fail("the payload lacks `company`".into());
        };
        let pages = job
            .payload
            .get("pages")
            .and_then(|value| value.as_u64())
            .and_then(|pages| u32::try_from(pages).ok())
            .unwrap_or(1)
            .clamp(1, MAX_SYNC_PAGES);
        let Some(tracking) = &self.tracking else {
            return ProviderError::NotConfigured("callrail").into();
        };
        let scope = TenantScope::for_job(tenant.clone());
        match backfill_calls(
            tracking.as_ref(),
            self.calls.as_ref(),
            &scope,
            Provider::CallRail.as_str(),
            Some(company),
            pages,
        )
        .await
        {
            Ok(_) => JobOutcome::Succeeded,
            Err(BackfillError::Provider(error)) => error.into(),
            Err(BackfillError::Store(error)) => error.into(),
        }
    }
}
