//! Calls: the phone calls of a tenant, newest first.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::tenancy::TenantId;

/// Which way a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// A customer called the company.
    Inbound,
    /// The company called a customer.
    Outbound,
}

impl Direction {
    /// The stored and serialised name.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// Parses the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// A call as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// Otto's id.
    pub id: Uuid,
    /// The owning tenant.
    pub tenant_id: TenantId,
    /// Where the call came from (`callrail`, `twilio`).
    pub provider: String,
    /// The provider's id of the call.
    pub external_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The customer's name, when the provider knows it.
    pub customer_name: Option<String>,
    /// The customer's number (E.164).
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: bool,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

/// A call to record (the repository assigns the id and scope's tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCall {
    /// Where the call came from.
    pub provider: String,
    /// The provider's id of the call.
    pub external_id: String,
    /// Inbound or outbound.
    pub direction: Direction,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The customer's number.
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: bool,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

/// A position in the newest-first list of calls: the (start time, id) of the last
/// call of the previous page. Ties on the start time are broken by id, so paging is
/// stable while new calls arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallCursor {
    /// Start time of the last call seen.
    pub started_at: DateTime<Utc>,
    /// Id of the last call seen.
    pub id: Uuid,
}

impl CallCursor {
    /// The cursor after `call`.
    pub fn after(call: &Call) -> Self {
        CallCursor {
            started_at: call.started_at,
            id: call.id,
        }
    }

    /// An opaque text form for APIs: `<unix micros>.<uuid>`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.started_at.timestamp_micros(),
            self.id.simple()
        )
    }

    /// Parses [`CallCursor::encode`]'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        let started_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        Some(CallCursor {
            started_at,
            id: Uuid::parse_str(id).ok()?,
        })
    }
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T, C> {
    /// The items, in list order.
    pub items: Vec<T>,
    /// The cursor of the next page, or `None` on the last page.
    pub next: Option<C>,
}

/// Most items a page may hold.
pub const MAX_PAGE_SIZE: u32 = 100;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursor = CallCursor {
            started_at: DateTime::parse_from_rfc3339("2026-11-25T10:00:00.123456Z")
                .expect("valid")
                .to_utc(),
            id: Uuid::from_u128(42),
        };
        assert_eq!(CallCursor::decode(&cursor.encode()), Some(cursor));
        for garbage in [
            "",
            "abc",
            "1.2",
            "x.00000000000000000000000000000042",
            "99999999999999999999.0",
        ] {
            assert_eq!(CallCursor::decode(garbage), None, "{garbage}");
        }
    }
}
