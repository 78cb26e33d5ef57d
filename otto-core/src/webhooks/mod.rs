//! Provider webhooks: signature verification (pure functions, checked against each
//! provider's published test vectors), reading and planning deliveries (idempotency
//! keys, tenant routing, domain effects, jobs), and the ingestion service that
//! applies each delivery exactly once, and its platform administration.
//!
//! [`WebhookIngestion`] over fakes (in production the three stores are one
//! `otto_adapters::store::SqlStore`; `examples/webhook-import` wires it so):
//!
//! ```
//! use std::sync::Arc;
//! use otto_core::tenancy::TenantId;
//! use otto_core::webhooks::signatures::callrail;
//! use otto_core::webhooks::*;
//! use otto_testkit::{InMemoryStore, ManualClock, SequentialIds};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = Arc::new(InMemoryStore::default());
//! let clock = Arc::new(ManualClock::at("2026-12-06T10:00:00Z"));
//! let ingestion = WebhookIngestion::new(
//!     IngestionPorts {
//!         ledger: store.clone(),
//!         accounts: store.clone(),
//!         log: store.clone(),
//!         clock: clock.clone(),
//!         ids: Arc::new(SequentialIds::default()),
//!     },
//!     IngestionPolicy::default(),
//! );
//! use otto_core::ports::{Clock, ProviderAccounts};
//! store
//!     .link(&AccountRef::new(Provider::CallRail, "1001"), &TenantId::parse("org_acme")?)
//!     .await?;
//!
//! // The caller verifies the signature first, over the raw body.
//! let body = br#"{"resource_id":"CAL1","company_id":1001,"direction":"inbound","answered":false}"#;
//! let signature = callrail::sign("signing-key", body);
//! callrail::verify("signing-key", body, Some(&signature))?;
//!
//! let delivery = Delivery {
//!     event: WebhookEvent::CallRailCallComplete,
//!     content_type: Some(JSON.into()),
//!     body: body.to_vec(),
//!     message_id: None,
//!     received_at: clock.now(),
//!     trace_context: None,
//!     trace_id: None,
//! };
//! assert!(matches!(ingestion.receive(&delivery).await?, Receipt::Processed { .. }));
//! assert!(matches!(ingestion.receive(&delivery).await?, Receipt::Duplicate { attempts: 2, .. }));
//! # Ok(())
//! # }
//! ```

mod administration;
mod bland;
mod callrail;
mod clerk;
mod deliveries;
mod delivery;
mod event;
mod ingestion;
mod log_body;
mod payload;
mod plan;
mod remembered_routes;
pub mod signatures;
mod twilio;

pub use crate::jobs::JobKind;
pub use crate::ports::AccountLink;
pub use administration::{
    AdministrationError, InvalidAccount, SigningKeyChange, WebhookAdministration, signing_key,
};
pub use deliveries::{DeliveriesError, WebhookDeliveries};
pub use delivery::{Delivery, OptKeyword};
pub use event::{Provider, WebhookEvent};
pub use ingestion::{
    IngestError, IngestionPolicy, IngestionPorts, Receipt, ReplayError, ReplayReport, Replayed,
    WebhookIngestion,
};
pub use log_body::{REDACTED, redact_body};
pub use payload::{FORM, JSON, Payload, PayloadError};
pub use plan::{
    AccountRef, AiCallFacts, CallChange, CallFacts, Effect, JobSpec, MessageFacts, Plan,
    RecordingFacts, Routing, TenantFacts, UserFacts,
};
pub use remembered_routes::RememberedRoutes;
