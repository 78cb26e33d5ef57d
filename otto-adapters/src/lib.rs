//! # otto-adapters: the real implementations of `otto-core`'s ports
//!
//! - [`database`]: sea-orm connections to PostgreSQL or SQLite, migrations on start,
//!   and the database readiness probe.
//! - [`redis`]: the fred client and the Redis readiness probe.
//! - [`system`]: the system clock and UUIDv7 ids.
//!
//! ## Architecture invariant
//!
//! Adapters implement ports; they hold no business rules. Anything a reader must know
//! to understand *what* Otto does lives in `otto-core`.

#![warn(missing_docs)]

pub mod api_tokens;
pub mod clerk;
pub mod database;
pub mod jwt_crypto;
pub mod live_listener;
pub mod providers;
pub mod rate_limit;
pub mod redis;
pub mod store;
pub mod system;
pub mod test_support;
pub mod tls;
pub mod traced_http;
pub mod verified_tokens;
