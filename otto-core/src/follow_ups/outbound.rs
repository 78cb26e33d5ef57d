//! Doing something to a customer through a provider at most once per job key: the
//! action is recorded before the provider is called and its provider reference right
//! after. An attempt that finds the action completed does nothing; one that finds it
//! begun but not completed (an earlier attempt died around the provider call) asks
//! the provider whether it happened before doing it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::jobs::JobOutcome;
use crate::ports::{FollowUpStore, OutboundAction, OutboundClaim, ProviderError, StoreError};
use crate::tenancy::TenantScope;

/// How far before the recorded start a provider lookup searches (clock skew).
const LOOKUP_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// A provider that can do an action and find one done earlier.
#[async_trait]
pub(super) trait OutboundProvider: Send + Sync {
    /// Does `action`; the provider's reference of it.
    async fn perform(&self, action: &OutboundAction) -> Result<String, ProviderError>;

    /// The reference of `action` if the provider did it at or after `since`.
    async fn find(
        &self,
        action: &OutboundAction,
        since: DateTime<Utc>,
    ) -> Result<Option<String>, ProviderError>;
}

/// What [`once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Completion {
    /// An earlier attempt completed it: nothing was done now.
    AlreadyDone,
    /// This attempt completed it (by doing it, or by finding that an earlier attempt
    /// did): count it now.
    CompletedNow,
}

/// Why [`once`] failed.
#[derive(Debug)]
pub(super) enum OutboundError {
    Store(StoreError),
    Provider(ProviderError),
}

impl From<StoreError> for OutboundError {
    fn from(error: StoreError) -> Self {
        OutboundError::Store(error)
    }
}

impl From<ProviderError> for OutboundError {
    fn from(error: ProviderError) -> Self {
        OutboundError::Provider(error)
    }
}

impl From<OutboundError> for JobOutcome {
    fn from(error: OutboundError) -> Self {
        match error {
            OutboundError::Store(error) => error.into(),
            OutboundError::Provider(error) => error.into(),
        }
    }
}

/// Does `intended` through `provider` at most once per kind and key.
pub(super) async fn once(
    store: &dyn FollowUpStore,
    scope: &TenantScope,
    intended: &OutboundAction,
    provider: &dyn OutboundProvider,
    now: impl Fn() -> DateTime<Utc>,
) -> Result<Completion, OutboundError> {
    let recorded = match store.begin_outbound(scope, intended).await? {
        OutboundClaim::Fresh(recorded) => recorded,
        OutboundClaim::Earlier(recorded) if recorded.provider_ref.is_some() => {
            return Ok(Completion::AlreadyDone);
        }
        OutboundClaim::Earlier(recorded) => {
            if let Some(reference) = provider
                .find(&recorded, recorded.started_at - LOOKUP_MARGIN)
                .await?
            {
                store
                    .complete_outbound(scope, recorded.kind, &recorded.key, &reference, now())
                    .await?;
                return Ok(Completion::CompletedNow);
            }
            recorded
        }
    };
    // A retry does exactly what was recorded, not what would be rendered today.
    let reference = provider.perform(&recorded).await?;
    store
        .complete_outbound(scope, recorded.kind, &recorded.key, &reference, now())
        .await?;
    Ok(Completion::CompletedNow)
}
