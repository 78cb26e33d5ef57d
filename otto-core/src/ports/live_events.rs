//! The live-event log: reading a tenant's events and redeeming stream tickets.
//! Events are appended by the stores themselves, in the transaction of the change
//! that causes them (see [`crate::live`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::repositories::StoreError;
use crate::live::{EventType, LiveEvent, NewTicket, TicketHolder};
use crate::tenancy::{TenantId, TenantScope};

/// A tenant's stream of live events, as stored.
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

/// Told, after a transaction that appended events commits, the tenant's last number:
/// the in-process half of waking the streams (PostgreSQL also wakes other processes
/// with `NOTIFY`, which its listener passes on here). Implementations only signal:
/// they neither block nor call back into the store.
pub trait EventNotifier: Send + Sync {
    /// `tenant`'s events up to `last_sequence` are committed; `published` are the
    /// types this process appended (empty when another process did).
    fn committed(&self, tenant: &TenantId, last_sequence: u64, published: &[EventType]);

    /// Notifications may have been lost (the listener's connection dropped): every
    /// followed tenant should be read again.
    fn missed(&self) {}
}
