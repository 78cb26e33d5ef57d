//! The in-memory store's delivery log: the same observable behaviour as the SQL
//! adapter (the contract suite checks both).

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use otto_core::calls::{MAX_PAGE_SIZE, Page};
use otto_core::ports::{
    DeliveryCursor, DeliveryFilter, DeliveryLog, DeliveryOutcome, LogScope, LoggedDelivery,
    ReplayRecord, StoreError,
};
use uuid::Uuid;

use crate::InMemoryStore;

/// `delivery` with its times at the microsecond, as a database keeps them.
pub(crate) fn stored(mut delivery: LoggedDelivery) -> LoggedDelivery {
    delivery.received_at = delivery.received_at.trunc_subsecs(6);
    delivery.last_replayed_at = delivery.last_replayed_at.map(|at| at.trunc_subsecs(6));
    delivery
}

fn visible(scope: &LogScope, delivery: &LoggedDelivery) -> bool {
    match scope {
        LogScope::Platform => true,
        LogScope::Tenant(scope) => delivery.tenant.as_ref() == Some(scope.tenant_id()),
    }
}

fn matches(filter: &DeliveryFilter, delivery: &LoggedDelivery) -> bool {
    filter
        .tenant
        .as_ref()
        .is_none_or(|tenant| delivery.tenant.as_ref() == Some(tenant))
        && filter
            .provider
            .is_none_or(|provider| delivery.provider() == provider)
        && filter
            .event
            .as_ref()
            .is_none_or(|event| &delivery.event == event)
        && filter
            .outcome
            .is_none_or(|outcome| delivery.outcome == outcome)
        && filter.from.is_none_or(|from| delivery.received_at >= from)
        && filter.to.is_none_or(|to| delivery.received_at < to)
}

fn newest_first(delivery: &LoggedDelivery) -> std::cmp::Reverse<(DateTime<Utc>, Uuid)> {
    std::cmp::Reverse((delivery.received_at, delivery.id))
}

#[async_trait]
impl DeliveryLog for InMemoryStore {
    async fn record(&self, delivery: &LoggedDelivery) -> Result<(), StoreError> {
        let mut tables = self.tables();
        tables.webhooks.deliveries.push(stored(delivery.clone()));
        if let (Some(tenant), DeliveryOutcome::Failed) = (&delivery.tenant, delivery.outcome) {
            let event = otto_core::live::webhook_failed(
                delivery.id,
                delivery.route.provider().as_str(),
                delivery.route.name(),
            );
            self.publish_in(&mut tables, tenant, vec![event]);
        }
        Ok(())
    }

    async fn list(
        &self,
        scope: &LogScope,
        filter: &DeliveryFilter,
        cursor: Option<DeliveryCursor>,
        limit: u32,
    ) -> Result<Page<LoggedDelivery, DeliveryCursor>, StoreError> {
        let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
        let mut found: Vec<LoggedDelivery> = self
            .tables()
            .webhooks
            .deliveries
            .iter()
            .filter(|delivery| visible(scope, delivery) && matches(filter, delivery))
            .filter(|delivery| {
                cursor.as_ref().is_none_or(|cursor| {
                    (delivery.received_at, delivery.id)
                        < (cursor.started_at.trunc_subsecs(6), cursor.id)
                })
            })
            .cloned()
            .collect();
        found.sort_by_key(newest_first);
        let has_more = found.len() > limit;
        found.truncate(limit);
        let next = if has_more {
            found.last().map(LoggedDelivery::cursor)
        } else {
            None
        };
        Ok(Page { items: found, next })
    }

    async fn get(&self, scope: &LogScope, id: Uuid) -> Result<Option<LoggedDelivery>, StoreError> {
        Ok(self
            .tables()
            .webhooks
            .deliveries
            .iter()
            .find(|delivery| delivery.id == id && visible(scope, delivery))
            .cloned())
    }

    async fn pending_unroutable(&self, limit: u32) -> Result<Vec<LoggedDelivery>, StoreError> {
        let mut pending: Vec<LoggedDelivery> = self
            .tables()
            .webhooks
            .deliveries
            .iter()
            .filter(|delivery| delivery.outcome == DeliveryOutcome::Unroutable)
            .cloned()
            .collect();
        pending.sort_by_key(|delivery| (delivery.received_at, delivery.id));
        pending.truncate(limit as usize);
        Ok(pending)
    }

    async fn record_replay(&self, id: Uuid, replay: &ReplayRecord) -> Result<(), StoreError> {
        let mut tables = self.tables();
        if let Some(delivery) = tables
            .webhooks
            .deliveries
            .iter_mut()
            .find(|delivery| delivery.id == id)
        {
            delivery.outcome = replay.outcome;
            delivery.tenant.clone_from(&replay.tenant);
            delivery.event.clone_from(&replay.event);
            delivery.external_id.clone_from(&replay.external_id);
            delivery.error.clone_from(&replay.error);
            if let Some(body) = &replay.body {
                delivery.body.clone_from(body);
                delivery.body_redacted = true;
            }
            delivery.replays += 1;
            delivery.last_replayed_at = Some(replay.at.trunc_subsecs(6));
        }
        Ok(())
    }

    async fn purge(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let mut tables = self.tables();
        let expired: Vec<Uuid> = tables
            .webhooks
            .deliveries
            .iter()
            .filter(|delivery| {
                delivery.outcome != DeliveryOutcome::Unroutable && delivery.received_at < cutoff
            })
            .take(batch as usize)
            .map(|delivery| delivery.id)
            .collect();
        tables
            .webhooks
            .deliveries
            .retain(|delivery| !expired.contains(&delivery.id));
        Ok(expired.len() as u64)
    }
}
