//! The in-memory [`FollowUpStore`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use otto_core::calls::{Call, Direction};
use otto_core::ports::{FollowUpSettings, FollowUpStore, OutboundSms, SmsClaim, StoreError};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::{MessageFacts, Provider};

use crate::InMemoryStore;

/// The fake's follow-up tables.
#[derive(Debug, Default)]
pub(crate) struct FollowUpTables {
    settings: BTreeMap<TenantId, FollowUpSettings>,
    outbound: BTreeMap<(TenantId, String), OutboundSms>,
}

impl InMemoryStore {
    /// Every outbound message recorded for `tenant`, by key.
    pub fn outbound_sms(&self, tenant: &TenantId) -> Vec<OutboundSms> {
        self.tables()
            .follow_ups
            .outbound
            .iter()
            .filter(|((owner, _), _)| owner == tenant)
            .map(|(_, sms)| sms.clone())
            .collect()
    }
}

#[async_trait]
impl FollowUpStore for InMemoryStore {
    async fn call_by_external_id(
        &self,
        scope: &TenantScope,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<Call>, StoreError> {
        Ok(self
            .tables()
            .calls
            .iter()
            .find(|call| {
                &call.tenant_id == scope.tenant_id()
                    && call.provider == provider
                    && call.external_id == external_id
            })
            .cloned())
    }

    async fn follow_up_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<(FollowUpSettings, Option<String>), StoreError> {
        let tables = self.tables();
        let settings = tables
            .follow_ups
            .settings
            .get(scope.tenant_id())
            .cloned()
            .unwrap_or_default();
        let name = tables
            .companies
            .get(scope.tenant_id())
            .and_then(|company| company.name.clone());
        Ok((settings, name))
    }

    async fn save_follow_up_settings(
        &self,
        scope: &TenantScope,
        settings: &FollowUpSettings,
    ) -> Result<(), StoreError> {
        self.tables()
            .follow_ups
            .settings
            .insert(scope.tenant_id().clone(), settings.clone());
        Ok(())
    }

    async fn is_opted_out(&self, scope: &TenantScope, number: &str) -> Result<bool, StoreError> {
        Ok(self
            .tables()
            .webhooks
            .opt_outs
            .contains(&(scope.tenant_id().clone(), number.to_owned())))
    }

    async fn begin_sms(
        &self,
        scope: &TenantScope,
        sms: &OutboundSms,
    ) -> Result<SmsClaim, StoreError> {
        let mut tables = self.tables();
        let key = (scope.tenant_id().clone(), sms.key.clone());
        if let Some(earlier) = tables.follow_ups.outbound.get(&key) {
            return Ok(SmsClaim::Earlier(earlier.clone()));
        }
        let recorded = OutboundSms {
            started_at: sms.started_at.trunc_subsecs(6),
            provider_message_id: None,
            ..sms.clone()
        };
        tables.follow_ups.outbound.insert(key, recorded.clone());
        Ok(SmsClaim::Fresh(recorded))
    }

    async fn complete_sms(
        &self,
        scope: &TenantScope,
        key: &str,
        provider_message_id: &str,
        sent_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut guard = self.tables();
        let tables = &mut *guard;
        let tenant = scope.tenant_id().clone();
        let sms = tables
            .follow_ups
            .outbound
            .get_mut(&(tenant.clone(), key.to_owned()))
            .ok_or_else(|| StoreError::Internal(format!("no outbound message `{key}`")))?;
        sms.provider_message_id = Some(provider_message_id.to_owned());
        let message = MessageFacts {
            external_id: provider_message_id.to_owned(),
            direction: Direction::Outbound,
            customer_number: sms.to.clone(),
            body: sms.body.clone(),
            sent_at: sent_at.trunc_subsecs(6),
        };
        let stored = tables
            .webhooks
            .messages
            .iter()
            .any(|(owner, provider, known)| {
                owner == &tenant
                    && *provider == Provider::Twilio
                    && known.external_id == message.external_id
            });
        if !stored {
            tables
                .webhooks
                .messages
                .push((tenant, Provider::Twilio, message));
        }
        Ok(())
    }
}
