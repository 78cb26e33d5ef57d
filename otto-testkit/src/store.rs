//! An in-memory store implementing the repository ports, for tests of services and
//! routes that need data but not a database.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::SubsecRound;
use otto_core::calls::{
    Call, CallCursor, CallFilter, CallOutcome, MAX_PAGE_SIZE, NewCall, OutcomeChange, Page,
};
use otto_core::live;
use otto_core::ports::{
    CallRepository, Company, CompanyDirectory, IdGenerator, Member, StoreError,
};
use otto_core::tenancy::{TenantId, TenantScope};
use uuid::Uuid;

use crate::SequentialIds;

#[derive(Debug, Default)]
pub(crate) struct Tables {
    pub(crate) companies: BTreeMap<TenantId, Company>,
    pub(crate) calls: Vec<Call>,
    pub(crate) webhooks: crate::webhook_store::WebhookTables,
    pub(crate) jobs: crate::job_queue::JobTables,
    pub(crate) follow_ups: crate::follow_up_store::FollowUpTables,
    pub(crate) insights: crate::insight_store::InsightTables,
    pub(crate) live: crate::live_events::LiveTables,
}

/// The fake; see the module docs. Cheap to clone (clones share the data).
#[derive(Debug, Clone)]
pub struct InMemoryStore {
    tables: Arc<Mutex<Tables>>,
    pub(crate) ids: Arc<dyn IdGenerator>,
    pub(crate) notifier: Arc<crate::live_events::NotifierSlot>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        InMemoryStore {
            tables: Arc::default(),
            ids: Arc::new(SequentialIds::default()),
            notifier: Arc::default(),
        }
    }
}

impl InMemoryStore {
    pub(crate) fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl CompanyDirectory for InMemoryStore {
    async fn company(&self, scope: &TenantScope) -> Result<Option<Company>, StoreError> {
        Ok(self.tables().companies.get(scope.tenant_id()).cloned())
    }

    async fn save_company(&self, scope: &TenantScope, company: &Company) -> Result<(), StoreError> {
        self.tables()
            .companies
            .insert(scope.tenant_id().clone(), company.clone());
        Ok(())
    }

    async fn members(&self, scope: &TenantScope) -> Result<Vec<Member>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .webhooks
            .memberships
            .iter()
            .filter(|((tenant, _), _)| tenant == scope.tenant_id())
            .map(|((_, user), role)| {
                let (email, name) = tables.webhooks.users.get(user).cloned().unwrap_or_default();
                Member {
                    user_id: user.clone(),
                    email,
                    name,
                    role: role.clone(),
                }
            })
            .collect())
    }
}

#[async_trait]
impl CallRepository for InMemoryStore {
    async fn record(&self, scope: &TenantScope, call: NewCall) -> Result<Call, StoreError> {
        let mut tables = self.tables();
        let existing = tables.calls.iter().find(|stored| {
            stored.tenant_id == *scope.tenant_id()
                && stored.provider == call.provider
                && stored.external_id == call.external_id
        });
        if let Some(existing) = existing {
            return Ok(existing.clone());
        }
        let stored = Call {
            id: self.ids.new_id(),
            tenant_id: scope.tenant_id().clone(),
            provider: call.provider,
            external_id: call.external_id,
            direction: call.direction,
            customer_name: call.customer_name,
            customer_number: call.customer_number,
            answered: call.answered,
            duration_seconds: call.duration_seconds,
            started_at: call.started_at.trunc_subsecs(6),
            outcome: CallOutcome::default(),
        };
        tables.calls.push(stored.clone());
        let event = live::call_created(stored.id, None);
        self.publish_in(&mut tables, scope.tenant_id(), vec![event]);
        Ok(stored)
    }

    async fn list(
        &self,
        scope: &TenantScope,
        filter: &CallFilter,
        cursor: Option<CallCursor>,
        limit: u32,
    ) -> Result<Page<Call, CallCursor>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let tables = self.tables();
        let recorded: BTreeSet<Uuid> = tables
            .webhooks
            .recordings
            .values()
            .map(|stored| stored.call_id)
            .collect();
        let mut calls: Vec<Call> = tables
            .calls
            .iter()
            .filter(|call| call.tenant_id == *scope.tenant_id())
            .filter(|call| filter.matches(call, recorded.contains(&call.id)))
            .filter(|call| {
                cursor.is_none_or(|cursor| {
                    (call.started_at, call.id) < (cursor.started_at, cursor.id)
                })
            })
            .cloned()
            .collect();
        calls.sort_by_key(|call| std::cmp::Reverse((call.started_at, call.id)));
        let has_more = calls.len() > limit;
        calls.truncate(limit);
        let next = if has_more {
            calls.last().map(CallCursor::after)
        } else {
            None
        };
        Ok(Page { items: calls, next })
    }

    async fn get(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Call>, StoreError> {
        Ok(self
            .tables()
            .calls
            .iter()
            .find(|call| call.id == id && call.tenant_id == *scope.tenant_id())
            .cloned())
    }

    async fn update_outcome(
        &self,
        scope: &TenantScope,
        id: Uuid,
        change: &OutcomeChange,
    ) -> Result<Option<Call>, StoreError> {
        let mut tables = self.tables();
        let Some(call) = tables
            .calls
            .iter_mut()
            .find(|call| call.id == id && call.tenant_id == *scope.tenant_id())
        else {
            return Ok(None);
        };
        let mut outcome = change.applied_to(&call.outcome);
        outcome.appointment_at = outcome.appointment_at.map(|at| at.trunc_subsecs(6));
        call.outcome = outcome;
        let call = call.clone();
        let event = live::call_updated(
            call.id,
            call.outcome.assigned_rep.clone(),
            &change.changed(),
        );
        self.publish_in(&mut tables, scope.tenant_id(), vec![event]);
        Ok(Some(call))
    }
}
