//! The in-memory store's live events: appended by each operation of the fake, as the
//! SQL store appends them in its transactions, numbered per tenant, and told to the
//! store's notifier after the operation (the fake's commit).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use otto_core::live::{LiveEvent, NewLiveEvent, NewTicket, TicketHolder};
use otto_core::ports::{EventNotifier, LiveEventLog, StoreError};
use otto_core::tenancy::{TenantId, TenantScope};

use crate::InMemoryStore;

/// The fake's event tables.
#[derive(Debug, Default)]
pub(crate) struct LiveTables {
    events: BTreeMap<TenantId, Vec<LiveEvent>>,
    last: BTreeMap<TenantId, u64>,
    tickets: BTreeMap<String, (TenantId, TicketHolder, DateTime<Utc>)>,
}

impl LiveTables {
    /// Appends `events` for `tenant`, numbered on from its last number and stamped
    /// now (the fake's commit).
    pub(crate) fn append(&mut self, tenant: &TenantId, events: Vec<NewLiveEvent>) {
        let at = Utc::now();
        let last = self.last.entry(tenant.clone()).or_default();
        let stored = self.events.entry(tenant.clone()).or_default();
        for event in events {
            *last += 1;
            stored.push(LiveEvent {
                sequence: *last,
                event_type: event.event_type,
                occurred_at: at.trunc_subsecs(6),
                audience: event.audience,
                payload: event.payload,
            });
        }
    }
}

/// Where the fake tells commits of events; set once.
#[derive(Default)]
pub(crate) struct NotifierSlot(OnceLock<Arc<dyn EventNotifier>>);

impl std::fmt::Debug for NotifierSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "NotifierSlot(set)"
        } else {
            "NotifierSlot(empty)"
        })
    }
}

impl InMemoryStore {
    /// Tells `notifier` of every operation that appends live events (as the SQL
    /// store's [`with_notifier`](../otto_adapters/store/struct.SqlStore.html)). Set
    /// once; later calls are ignored.
    pub fn notify_events_to(&self, notifier: Arc<dyn EventNotifier>) {
        let _ = self.notifier.0.set(notifier);
    }

    /// Appends `events` for `tenant` and tells the notifier: the end (the fake's
    /// commit) of an operation that holds the tables and made events. (A notifier
    /// only signals; it never calls back into the store.)
    pub(crate) fn publish_in(
        &self,
        tables: &mut crate::store::Tables,
        tenant: &TenantId,
        events: Vec<NewLiveEvent>,
    ) {
        if events.is_empty() {
            return;
        }
        let published: Vec<_> = events.iter().map(|event| event.event_type).collect();
        tables.live.append(tenant, events);
        if let Some(notifier) = self.notifier.0.get() {
            notifier.committed(tenant, &published);
        }
    }
}

#[async_trait]
impl LiveEventLog for InMemoryStore {
    async fn events_after(
        &self,
        scope: &TenantScope,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LiveEvent>, StoreError> {
        Ok(self
            .tables()
            .live
            .events
            .get(scope.tenant_id())
            .map(|events| {
                events
                    .iter()
                    .filter(|event| event.sequence > after)
                    .take(limit as usize)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn last_sequence(&self, scope: &TenantScope) -> Result<u64, StoreError> {
        Ok(self
            .tables()
            .live
            .last
            .get(scope.tenant_id())
            .copied()
            .unwrap_or(0))
    }

    async fn issue_ticket(
        &self,
        scope: &TenantScope,
        ticket: &NewTicket,
    ) -> Result<(), StoreError> {
        let mut tables = self.tables();
        if tables.live.tickets.contains_key(&ticket.digest) {
            return Err(StoreError::Conflict("the ticket exists".to_owned()));
        }
        tables.live.tickets.insert(
            ticket.digest.clone(),
            (
                scope.tenant_id().clone(),
                ticket.holder.clone(),
                ticket.expires_at.trunc_subsecs(6),
            ),
        );
        Ok(())
    }

    async fn redeem_ticket(
        &self,
        scope: &TenantScope,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketHolder>, StoreError> {
        let mut tables = self.tables();
        let tickets = &mut tables.live.tickets;
        let Some((tenant, _, _)) = tickets.get(digest) else {
            return Ok(None);
        };
        if tenant != scope.tenant_id() {
            return Ok(None);
        }
        let (_, holder, expires_at) = tickets.remove(digest).expect("present");
        Ok((expires_at > now).then_some(holder))
    }

    async fn purge_events(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let mut tables = self.tables();
        let mut left = batch as usize;
        let mut deleted = 0;
        for events in tables.live.events.values_mut() {
            let before = events.len();
            let mut taken = 0;
            events.retain(|event| {
                let purge = taken < left && event.occurred_at < cutoff;
                taken += usize::from(purge);
                !purge
            });
            left -= before - events.len();
            deleted += (before - events.len()) as u64;
        }
        tables
            .live
            .tickets
            .retain(|_, (_, _, expires_at)| *expires_at >= cutoff);
        Ok(deleted)
    }
}
