//! The delivery log as the API shows it: leadership sees its own company's
//! deliveries, platform administrators every tenant's and the unroutable ones; both
//! may replay what they see.

use uuid::Uuid;

use crate::calls::{MAX_PAGE_SIZE, Page};
use crate::ports::{DeliveryCursor, DeliveryFilter, LogScope, LoggedDelivery, StoreError};
use crate::roles::{AppRole, RoleMap, RoleRequired, require};
use crate::tenancy::{Principal, TenantScope};

use super::{ReplayError, Replayed, WebhookIngestion};

/// Who may read and replay a company's deliveries.
const READERS: [AppRole; 1] = [AppRole::Leadership];

/// Why a delivery-log operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeliveriesError {
    /// The caller's role may not.
    #[error(transparent)]
    Forbidden(#[from] RoleRequired),
    /// No such delivery for this caller.
    #[error("no such delivery")]
    NotFound,
    /// The delivery was processed already and the replay was not forced.
    #[error(transparent)]
    Replay(ReplayError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ReplayError> for DeliveriesError {
    fn from(error: ReplayError) -> Self {
        match error {
            ReplayError::NotFound => DeliveriesError::NotFound,
            ReplayError::Store(error) => DeliveriesError::Store(error),
            other => DeliveriesError::Replay(other),
        }
    }
}

/// The delivery-log service.
#[derive(Clone)]
pub struct WebhookDeliveries {
    ingestion: WebhookIngestion,
    roles: RoleMap,
}

impl std::fmt::Debug for WebhookDeliveries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDeliveries").finish_non_exhaustive()
    }
}

impl WebhookDeliveries {
    /// Reads the log of `ingestion` and replays through it.
    pub fn new(ingestion: WebhookIngestion, roles: RoleMap) -> Self {
        WebhookDeliveries { ingestion, roles }
    }

    /// The part of the log `principal` sees: everything for a platform admin, else
    /// the company's own for leadership.
    fn scope(&self, principal: &Principal) -> Result<LogScope, RoleRequired> {
        if principal.platform_admin {
            return Ok(LogScope::Platform);
        }
        require(&self.roles, principal, &READERS)?;
        Ok(LogScope::Tenant(TenantScope::of(principal)))
    }

    /// Deliveries matching `filter`, newest first. A company's caller sees its own
    /// whatever `filter.tenant` says.
    pub async fn list(
        &self,
        principal: &Principal,
        filter: &DeliveryFilter,
        cursor: Option<DeliveryCursor>,
        limit: u32,
    ) -> Result<Page<LoggedDelivery, DeliveryCursor>, DeliveriesError> {
        let scope = self.scope(principal)?;
        let mut filter = filter.clone();
        if let LogScope::Tenant(scope) = &scope {
            filter.tenant = Some(scope.tenant_id().clone());
        }
        Ok(self
            .ingestion
            .log()
            .list(&scope, &filter, cursor, limit.clamp(1, MAX_PAGE_SIZE))
            .await?)
    }

    /// One delivery.
    pub async fn get(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<LoggedDelivery, DeliveriesError> {
        let scope = self.scope(principal)?;
        self.ingestion
            .log()
            .get(&scope, id)
            .await?
            .ok_or(DeliveriesError::NotFound)
    }

    /// Replays one delivery (see [`WebhookIngestion::replay`]): a company's stays in
    /// that company, a platform admin's goes where today's links say.
    pub async fn replay(
        &self,
        principal: &Principal,
        id: Uuid,
        force: bool,
    ) -> Result<Replayed, DeliveriesError> {
        let scope = self.scope(principal)?;
        Ok(self.ingestion.replay(&scope, id, force).await?)
    }
}
