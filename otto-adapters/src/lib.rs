//! # otto-adapters: the real implementations of `otto-core`'s ports
//!
//! - [`database`]: sea-orm connections to PostgreSQL or SQLite, migrations on start,
//!   and the database readiness probe.
//! - [`redis`]: the fred client and the Redis readiness probe.
//! - [`system`]: the system clock and UUIDv7 ids.
//! - [`store::SqlStore`]: every store port (calls, webhook ledger, provider accounts,
//!   delivery log, jobs, messages, …) over one sea-orm connection, with row-level
//!   security on PostgreSQL and a queue of writers on SQLite.
//! - [`providers`]: Twilio, Deepgram, OpenAI, Bland AI and CallRail behind their
//!   ports, over one HTTP policy ([`providers::http::ProviderHttp`]) that an adapter
//!   of your own can reuse.
//! - [`api_tokens`], [`clerk`]: the credential verifiers.
//!
//! Where to start: open a connection with [`database::connect`], apply
//! [`database::migrate_up`], and wrap it in a [`store::SqlStore`]; `examples/webhook-import`
//! in the repository does exactly that.
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
