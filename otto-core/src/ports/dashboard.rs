//! Where the dashboard's figures are counted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::dashboard::DashboardSummary;
use crate::tenancy::TenantScope;

/// Counts over a tenant's calls and messages, done by the store (in SQL), never by
/// loading rows.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::{CallRepository, DashboardQueries};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
/// use otto_testkit::contracts::new_call;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::default();
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// // new_call(id, m): an inbound call m minutes before 2026-11-25T12:00Z,
/// // answered when m is even.
/// for (id, minutes_before_noon) in [("CAL1", 10), ("CAL2", 25), ("CAL3", 90)] {
///     store.record(&acme, new_call(id, minutes_before_noon)).await?;
/// }
/// let from = "2026-11-25T11:00:00Z".parse()?;
/// let to = "2026-11-25T12:00:00Z".parse()?;
/// let summary = store.summary(&acme, from, to).await?;
/// // CAL3 started before `from`; of the other two, CAL2 was missed.
/// assert_eq!((summary.calls, summary.missed, summary.booked), (2, 1, 0));
/// let globex = TenantScope::for_job(TenantId::parse("org_globex")?);
/// assert_eq!(store.summary(&globex, from, to).await?.calls, 0);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait DashboardQueries: Send + Sync {
    /// The figures for calls started and messages sent in `[from, to)`.
    async fn summary(
        &self,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DashboardSummary, StoreError>;
}
