//! Provider webhooks: signature verification (pure functions, checked against each
//! provider's published test vectors), reading and planning deliveries (idempotency
//! keys, tenant routing, domain effects, jobs), and the ingestion service that
//! applies each delivery exactly once, and its platform administration.

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
