//! Ports: the traits through which the domain reaches the outside world.
//!
//! Each port has a real adapter in `otto-adapters` and a fake in `otto-testkit`, and
//! one contract suite (`otto_testkit::contracts`) holds both to the same promise.
//! Code that needs a port takes `Arc<dyn Port>` and never knows which it got:
//!
//! ```
//! use otto_core::calls::{CallFilter, Direction, NewCall};
//! use otto_core::ports::CallRepository;
//! use otto_core::tenancy::{TenantId, TenantScope};
//! use otto_testkit::InMemoryStore;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // In production: otto_adapters::store::SqlStore over PostgreSQL or SQLite.
//! let calls: std::sync::Arc<dyn CallRepository> = std::sync::Arc::new(InMemoryStore::default());
//! let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
//! let globex = TenantScope::for_job(TenantId::parse("org_globex")?);
//! let call = NewCall {
//!     provider: "callrail".into(),
//!     external_id: "CAL1".into(),
//!     direction: Direction::Inbound,
//!     customer_name: Some("Jane Doe".into()),
//!     customer_number: Some("+15551230000".into()),
//!     answered: false,
//!     duration_seconds: 0,
//!     started_at: "2026-12-06T10:00:00Z".parse()?,
//! };
//! let recorded = calls.record(&acme, call.clone()).await?;
//! assert_eq!(calls.record(&acme, call).await?.id, recorded.id, "recorded once");
//!
//! let page = calls.list(&acme, &CallFilter::default(), None, 50).await?;
//! assert_eq!(page.items.len(), 1);
//! // Every read and write takes the tenant's scope: another tenant sees nothing.
//! assert!(calls.get(&globex, recorded.id).await?.is_none());
//! # Ok(())
//! # }
//! ```

mod clock;
mod credentials;
mod dashboard;
mod follow_ups;
mod insights;
mod jobs;
mod live_events;
mod messages;
mod providers;
mod readiness;
mod repositories;
mod webhook_log;
mod webhooks;

pub use clock::{Clock, IdGenerator};
pub use credentials::{CredentialError, CredentialVerifier};
pub use dashboard::DashboardQueries;
pub use follow_ups::{
    FollowUpSettings, FollowUpStore, OutboundAction, OutboundClaim, OutboundKind,
};
pub use insights::{InsightStore, Recording, RecordingRef};
pub use jobs::JobQueue;
pub use live_events::{EventNotifier, LiveEventLog};
pub use messages::MessageLog;
pub use providers::{
    AiCallRequest, AiCaller, AnalysisResult, CallAnalysis, CallAnalyzer, CallTracking,
    ProviderError, SentSms, SmsRequest, SmsSender, StartedAiCall, TokenUsage, TrackedCall,
    TrackedCallPage, Transcriber, Transcript, TranscriptWord, UsageMeter,
};
#[cfg(feature = "mocks")]
pub use providers::{
    MockAiCaller, MockCallAnalyzer, MockSmsSender, MockTranscriber, MockUsageMeter,
};
pub use readiness::{ProbeError, ReadinessProbe};
#[cfg(feature = "mocks")]
pub use repositories::MockCallRepository;
pub use repositories::{CallRepository, Company, CompanyDirectory, Member, StoreError, in_batches};
pub use webhook_log::{
    DeliveryCursor, DeliveryFilter, DeliveryLog, DeliveryOutcome, LogScope, LoggedDelivery,
    ReplayRecord,
};
pub use webhooks::{
    AccountLink, Application, Claim, IdempotencyKey, ProviderAccounts, Target, WebhookLedger,
};
