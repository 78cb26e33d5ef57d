//! Ports: the traits through which the domain reaches the outside world.
//!
//! Each port has a real adapter in `otto-adapters` and a fake in `otto-testkit`.

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
pub use repositories::{CallRepository, Company, CompanyDirectory, Member, StoreError, in_batches};
pub use webhook_log::{
    DeliveryCursor, DeliveryFilter, DeliveryLog, DeliveryOutcome, LogScope, LoggedDelivery,
    ReplayRecord,
};
pub use webhooks::{
    AccountLink, Application, Claim, IdempotencyKey, ProviderAccounts, Target, WebhookLedger,
};
