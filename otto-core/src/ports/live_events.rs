//! The live-event log: reading a tenant's events and redeeming stream tickets.
//! Events are appended by the stores themselves, in the transaction of the change
//! that causes them (see [`crate::live`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::repositories::StoreError;
use crate::live::{EventType, LiveEvent, NewTicket, TicketHolder};
use crate::tenancy::{TenantId, TenantScope};

/// A tenant's stream of live events, as stored.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::live::EventType;
/// use otto_core::ports::{CallRepository, LiveEventLog};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
/// use otto_testkit::contracts::new_call;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::default();
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// let globex = TenantScope::for_job(TenantId::parse("org_globex")?);
/// // Recording a call appends `call.created` in the same transaction.
/// store.record(&acme, new_call("CAL1", 5)).await?;
/// store.record(&acme, new_call("CAL2", 1)).await?;
/// assert_eq!(store.last_sequence(&acme).await?, 2);
/// // A stream that has seen event 1 reads on from there, in order.
/// let missed = store.events_after(&acme, 1, 100).await?;
/// assert_eq!(missed.len(), 1);
/// assert_eq!((missed[0].sequence, missed[0].event_type), (2, EventType::CallCreated));
/// // Each tenant has its own stream, numbered from 1.
/// assert_eq!(store.last_sequence(&globex).await?, 0);
/// assert!(store.events_after(&globex, 0, 100).await?.is_empty());
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait LiveEventLog: Send + Sync {
    /// The scope's events numbered above `after`, in order, at most `limit`.
    async fn events_after(
        &self,
        scope: &TenantScope,
        after: u64,
        limit: u32,
    ) -> Result<Vec<LiveEvent>, StoreError>;

    /// The number of the scope's last event (0 before its first).
    async fn last_sequence(&self, scope: &TenantScope) -> Result<u64, StoreError>;

    /// Stores a stream ticket for the scope's tenant.
    async fn issue_ticket(&self, scope: &TenantScope, ticket: &NewTicket)
    -> Result<(), StoreError>;

    /// Takes the ticket whose digest is `digest` if it has not expired at `now`: it is
    /// gone afterwards, so a ticket opens one stream.
    async fn redeem_ticket(
        &self,
        scope: &TenantScope,
        digest: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<TicketHolder>, StoreError>;

    /// Deletes at most `batch` events that occurred before `cutoff` (and the tickets
    /// that expired before it); returns how many events.
    async fn purge_events(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError>;
}

/// Told, after a transaction that appended events commits, whose they were: the
/// in-process half of waking the streams (PostgreSQL also wakes other processes
/// with `NOTIFY`, which its listener passes on here). Implementations only signal:
/// they neither block nor call back into the store.
///
/// Adapter: `otto_server::live::hub::LiveHub`, which wakes the tenant's streams. No fake:
/// a test implements it, and `otto_testkit::InMemoryStore::notify_events_to` tells it.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use otto_core::live::EventType;
/// use otto_core::ports::{CallRepository, EventNotifier};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
/// use otto_testkit::contracts::new_call;
///
/// #[derive(Default)]
/// struct Told(Mutex<Vec<(String, Vec<EventType>)>>);
///
/// impl EventNotifier for Told {
///     fn committed(&self, tenant: &TenantId, published: &[EventType]) {
///         let mut told = self.0.lock().unwrap();
///         told.push((tenant.to_string(), published.to_vec()));
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (store, told) = (InMemoryStore::default(), Arc::new(Told::default()));
/// store.notify_events_to(told.clone());
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// store.record(&acme, new_call("CAL1", 0)).await?;
/// // Once the change committed: whose events, and what was appended.
/// let expected = ("org_acme".to_string(), vec![EventType::CallCreated]);
/// assert_eq!(*told.0.lock().unwrap(), [expected]);
/// # Ok(())
/// # }
/// ```
pub trait EventNotifier: Send + Sync {
    /// New events of `tenant` are committed (not yet numbered: the log numbers them
    /// when they are read); `published` are the types this process appended (empty
    /// when another process did).
    fn committed(&self, tenant: &TenantId, published: &[EventType]);

    /// Notifications may have been lost (the listener's connection dropped): every
    /// followed tenant should be read again.
    fn missed(&self) {}
}
