//! Where the dashboard's figures are counted.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::dashboard::DashboardSummary;
use crate::tenancy::TenantScope;

/// Counts over a tenant's calls and messages, done by the store (in SQL), never by
/// loading rows.
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
