//! The dashboard: a company's figures over a time range.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::ports::{DashboardQueries, StoreError};
use crate::roles::{AppRole, RoleMap, RoleRequired, require};
use crate::tenancy::{Principal, TenantScope};
use crate::validation::InvalidField;

/// Longest range a summary covers.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A company's figures over a time range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DashboardSummary {
    /// Calls started in the range.
    pub calls: u64,
    /// Inbound calls nobody answered.
    pub missed: u64,
    /// Missed calls whose customer got a follow-up text message.
    pub recovered_by_sms: u64,
    /// Calls marked as booked.
    pub booked: u64,
    /// Text messages sent or received in the range.
    pub messages: u64,
}

/// Why a summary could not be given.
#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    /// The caller's role may not.
    #[error(transparent)]
    Forbidden(#[from] RoleRequired),
    /// The range is invalid.
    #[error("invalid range")]
    Invalid(Vec<InvalidField>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who may see the company's figures.
const VIEWERS: [AppRole; 2] = [AppRole::Leadership, AppRole::Csr];

/// The dashboard service.
#[derive(Clone)]
pub struct Dashboard {
    queries: Arc<dyn DashboardQueries>,
    roles: RoleMap,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard").finish_non_exhaustive()
    }
}

impl Dashboard {
    /// Figures counted by `queries`, guarded by `roles`.
    pub fn new(queries: Arc<dyn DashboardQueries>, roles: RoleMap) -> Self {
        Dashboard { queries, roles }
    }

    /// The caller's company's figures over `[from, to)`.
    pub async fn summary(
        &self,
        principal: &Principal,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DashboardSummary, DashboardError> {
        require(&self.roles, principal, &VIEWERS)?;
        let out_of_range: Vec<InvalidField> = [("from", &from), ("to", &to)]
            .into_iter()
            .filter(|(_, time)| !crate::validation::is_storable_time(time))
            .map(|(field, _)| InvalidField::new(field, crate::validation::STORABLE_TIME_EXPECTED))
            .collect();
        if !out_of_range.is_empty() {
            return Err(DashboardError::Invalid(out_of_range));
        }
        if to <= from {
            return Err(DashboardError::Invalid(vec![InvalidField::new(
                "to",
                "must be after `from`",
            )]));
        }
        if to - from > Duration::days(MAX_RANGE_DAYS) {
            return Err(DashboardError::Invalid(vec![InvalidField::new(
                "to",
                format!("the range may cover at most {MAX_RANGE_DAYS} days"),
            )]));
        }
        Ok(self
            .queries
            .summary(&TenantScope::of(principal), from, to)
            .await?)
    }
}
