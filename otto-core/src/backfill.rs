//! Backfill: copy a tenant's calls from the call-tracking provider into Otto, page
//! by page. Recording a call Otto already has changes nothing, so a backfill can be
//! run again (or resumed) safely.

use crate::calls::NewCall;
use crate::ports::{CallRepository, CallTracking, ProviderError, StoreError};
use crate::tenancy::TenantScope;

/// Calls requested per page (CallRail allows up to 250).
pub const BACKFILL_PAGE_SIZE: u32 = 100;

/// What a backfill did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BackfillReport {
    /// Pages read.
    pub pages: u32,
    /// Calls read and recorded (already known ones included).
    pub calls: u32,
    /// Whether more pages remain (the page limit was reached).
    pub more: bool,
}

/// Why a backfill stopped.
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The provider failed.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Records up to `max_pages` pages of `company`'s calls (from `provider`, as
/// `provider_name`) into `scope`.
pub async fn backfill_calls(
    tracking: &dyn CallTracking,
    calls: &dyn CallRepository,
    scope: &TenantScope,
    provider_name: &str,
    company: Option<&str>,
    max_pages: u32,
) -> Result<BackfillReport, BackfillError> {
    let mut report = BackfillReport::default();
    let mut page = Some(1);
    while let Some(number) = page {
        if report.pages == max_pages {
            report.more = true;
            break;
        }
        let listed = tracking
            .list_calls(company, number, BACKFILL_PAGE_SIZE)
            .await?;
        report.pages += 1;
        for call in listed.calls {
            calls
                .record(
                    scope,
                    NewCall {
                        provider: provider_name.to_owned(),
                        external_id: call.id,
                        direction: call.direction,
                        customer_name: call.customer_name,
                        customer_number: call.customer_number,
                        answered: call.answered,
                        duration_seconds: call.duration_seconds,
                        started_at: call.started_at,
                    },
                )
                .await?;
            report.calls += 1;
        }
        page = listed.next_page;
    }
    Ok(report)
}
