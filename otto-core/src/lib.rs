//! # otto-core: the domain of Otto
//!
//! Otto is the backend of a multi-tenant call-intelligence platform for sales teams.
//! Each tenant is a company (a Clerk organization). Otto takes provider webhooks
//! (CallRail, Twilio, Clerk, Bland AI) exactly once, stores calls and messages per
//! tenant, runs background work against providers, and serves a tenant-scoped API.
//!
//! This crate is the part of Otto that knows *what* happens, never *how* bytes move:
//!
//! - **Domain values** parsed once at the edge ([`Rate`]), so an invalid value cannot
//!   exist past it.
//! - **Ports**: small traits named for what the domain needs ([`ports::ReadinessProbe`],
//!   [`ports::Clock`], [`ports::IdGenerator`]). Real adapters live in `otto-adapters`,
//!   fakes in `otto-testkit`, and one contract suite checks that both behave alike.
//! - **Pure policies** that every layer shares, such as [`redact::redact_pii`], the PII
//!   redaction applied to every log line.
//!
//! ## Where to start
//!
//! - [`webhooks::WebhookIngestion`]: applies a verified provider delivery exactly
//!   once; its module page shows it wired to fakes. `examples/webhook-import` in the
//!   repository is a whole service built on it, without `otto-server`.
//! - [`ports`]: every trait a service must supply, with a fake in `otto-testkit` and
//!   a real adapter in `otto-adapters` for each.
//! - [`tenancy::TenantScope`]: how a tenant's data is reached at all.
//! - [`follow_ups`] and [`jobs`]: the background work (texts, transcription,
//!   analysis, AI calls) and the handler interface a worker runs.
//! - `docs/testing.md` in the repository: testing a service with the fakes, and
//!   proving a new adapter with a port's contract suite.
//!
//! ## Architecture invariant
//!
//! `otto-core` depends on no database, HTTP, Redis or server crate, and on nothing else
//! of Otto's. A test in this crate (`tests/dependency_rule.rs`) fails if one appears.
//!
//! ## Example: a port used with a fake
//!
//! ```
//! use otto_core::ports::{ReadinessProbe, ProbeError};
//!
//! struct AlwaysUp;
//!
//! #[async_trait::async_trait]
//! impl ReadinessProbe for AlwaysUp {
//!     fn component(&self) -> &'static str { "database" }
//!     async fn check(&self) -> Result<(), ProbeError> { Ok(()) }
//! }
//!
//! # let runtime_less = AlwaysUp;
//! assert_eq!(runtime_less.component(), "database");
//! ```

#![warn(missing_docs)]

pub mod authentication;
pub mod backfill;
pub mod call_log;
pub mod callrail;
pub mod calls;
pub mod company_settings;
pub mod dashboard;
pub mod follow_ups;
pub mod jobs;
pub mod live;
pub mod members;
pub mod messages;
pub mod origin;
pub mod ports;
pub mod quiet_hours;
pub mod rate;
pub mod rate_limit;
pub mod redact;
pub mod roles;
pub mod tenancy;
pub mod validation;
pub mod webhooks;

pub use rate::{Rate, RateError, RatePeriod};
pub use redact::redact_pii;
