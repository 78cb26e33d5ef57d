//! The in-memory [`FollowUpStore`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use otto_core::calls::{Call, Direction};
use otto_core::live;
use otto_core::ports::{
    FollowUpSettings, FollowUpStore, OutboundAction, OutboundClaim, OutboundKind, StoreError,
};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::{AiCallFacts, MessageFacts, Provider};

use crate::InMemoryStore;
use crate::message_log::keep_message;

/// The fake's follow-up tables.
#[derive(Debug, Default)]
pub(crate) struct FollowUpTables {
    settings: BTreeMap<TenantId, FollowUpSettings>,
    outbound: BTreeMap<(TenantId, &'static str, String), OutboundAction>,
}

impl FollowUpTables {
    /// Whether `tenant`'s call `call_id` got a text message that was sent.
    pub(crate) fn texted(&self, tenant: &TenantId, call_id: uuid::Uuid) -> bool {
        self.outbound.iter().any(|((owner, kind, _), action)| {
            owner == tenant
                && *kind == OutboundKind::Sms.as_str()
                && action.call_id == Some(call_id)
                && action.provider_ref.is_some()
        })
    }
}

impl InMemoryStore {
    /// Every outbound action recorded for `tenant`, by kind and key.
    pub fn outbound_actions(&self, tenant: &TenantId) -> Vec<OutboundAction> {
        self.tables()
            .follow_ups
            .outbound
            .iter()
            .filter(|((owner, _, _), _)| owner == tenant)
            .map(|(_, action)| action.clone())
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

    async fn begin_outbound(
        &self,
        scope: &TenantScope,
        action: &OutboundAction,
    ) -> Result<OutboundClaim, StoreError> {
        let mut tables = self.tables();
        let key = (
            scope.tenant_id().clone(),
            action.kind.as_str(),
            action.key.clone(),
        );
        if let Some(earlier) = tables.follow_ups.outbound.get(&key) {
            return Ok(OutboundClaim::Earlier(earlier.clone()));
        }
        let recorded = OutboundAction {
            started_at: action.started_at.trunc_subsecs(6),
            provider_ref: None,
            ..action.clone()
        };
        tables.follow_ups.outbound.insert(key, recorded.clone());
        Ok(OutboundClaim::Fresh(recorded))
    }

    async fn complete_outbound(
        &self,
        scope: &TenantScope,
        kind: OutboundKind,
        key: &str,
        provider_ref: &str,
        done_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut guard = self.tables();
        let tables = &mut *guard;
        let tenant = scope.tenant_id().clone();
        let action = tables
            .follow_ups
            .outbound
            .get_mut(&(tenant.clone(), kind.as_str(), key.to_owned()))
            .ok_or_else(|| {
                StoreError::Internal(format!("no outbound {} `{key}`", kind.as_str()))
            })?;
        action.provider_ref = Some(provider_ref.to_owned());
        let mut events = Vec::new();
        match kind {
            OutboundKind::Sms => {
                let message = MessageFacts {
                    external_id: provider_ref.to_owned(),
                    direction: Direction::Outbound,
                    customer_number: action.to.clone(),
                    body: action.text.clone(),
                    sent_at: done_at.trunc_subsecs(6),
                };
                let call_id = action.call_id;
                let number = action.to.clone();
                let id = self.ids.new_id();
                if keep_message(
                    &mut tables.webhooks.messages,
                    id,
                    &tenant,
                    Provider::Twilio,
                    message,
                    call_id,
                ) {
                    events = live::outbound_completed(kind, key, Some(id), &number);
                }
            }
            OutboundKind::AiCall => {
                let to_number = Some(action.to.clone());
                let entry = (tenant.clone(), provider_ref.to_owned());
                if !tables.webhooks.ai_calls.contains_key(&entry) {
                    events = live::outbound_completed(kind, key, None, &action.to);
                }
                tables
                    .webhooks
                    .ai_calls
                    .entry(entry)
                    .or_insert_with(|| AiCallFacts {
                        external_id: provider_ref.to_owned(),
                        to_number,
                        status: Some("started".to_owned()),
                        completed: false,
                        duration_seconds: None,
                        summary: None,
                        transcript: None,
                        recording_url: None,
                    });
            }
        }
        self.publish_in(tables, &tenant, events);
        Ok(())
    }
}
