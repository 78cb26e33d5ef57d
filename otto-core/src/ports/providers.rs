//! The outside services background jobs call: what Otto needs of each, not how
//! each provider's API spells it.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::tenancy::TenantId;

/// Why a provider call failed, sorted by what the job should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// The provider has no credentials in this deployment: the job is skipped.
    #[error("{0} is not configured")]
    NotConfigured(&'static str),
    /// Worth retrying later: a timeout, a connection failure, a 5xx or a 429
    /// (with the provider's `Retry-After`, when it gave one).
    #[error("{provider} is unavailable: {message}")]
    Transient {
        /// The provider.
        provider: &'static str,
        /// What happened (never a credential).
        message: String,
        /// How long the provider asked to wait.
        retry_after: Option<Duration>,
    },
    /// Retrying will not help: the provider refused the request (4xx) or answered
    /// something Otto cannot read.
    #[error("{provider} refused the request: {message}")]
    Permanent {
        /// The provider.
        provider: &'static str,
        /// What happened (never a credential).
        message: String,
    },
}

/// A text message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsRequest {
    /// The customer's number (E.164).
    pub to: String,
    /// The sending number (E.164).
    pub from: String,
    /// The text.
    pub body: String,
}

/// A message the provider accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentSms {
    /// The provider's id of the message (Twilio `SM...`).
    pub provider_message_id: String,
}

/// Sends text messages (Twilio).
///
/// Adapters: `otto_adapters::providers::twilio::TwilioSms`, and a worked example for
/// another gateway in `examples/sms-gateway`. Fake: `otto_testkit::RecordingSms`
/// (scripted failures with `SmsScript`); mock: `otto_testkit::mocks::MockSmsSender`.
///
/// ```
/// use otto_core::ports::{Clock, SmsRequest, SmsSender};
/// use otto_testkit::{ManualClock, RecordingSms};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = ManualClock::at("2026-12-06T10:00:00Z");
/// let sms = RecordingSms::new(std::sync::Arc::new(clock.clone()));
/// let request = SmsRequest {
///     to: "+15551230000".into(),
///     from: "+15550009999".into(),
///     body: "Sorry we missed your call".into(),
/// };
/// let sent = sms.send(&request).await?;
/// // A retried job asks before sending again: the message is found.
/// assert_eq!(sms.find_sent(&request, clock.now()).await?, Some(sent));
/// assert_eq!(sms.sent(), [request]);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait SmsSender: Send + Sync {
    /// Sends `request` once; the provider's answer is the message's id.
    async fn send(&self, request: &SmsRequest) -> Result<SentSms, ProviderError>;

    /// A message from `request.from` to `request.to` with `request.body` that the
    /// provider accepted at or after `since`, if there is one: how a retried job
    /// finds out that an attempt which died after sending did send.
    async fn find_sent(
        &self,
        request: &SmsRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<SentSms>, ProviderError>;
}

/// One recognised word.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TranscriptWord {
    /// The word as spoken (punctuated when the provider punctuates).
    pub word: String,
    /// Start, in seconds from the beginning of the audio.
    pub start: f64,
    /// End, in seconds.
    pub end: f64,
    /// The provider's confidence, 0-1.
    pub confidence: f64,
    /// Which speaker said it (0, 1, ...), when speakers were told apart.
    pub speaker: Option<u32>,
}

/// A recording's transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The whole text.
    pub text: String,
    /// The detected language, when the provider reports one.
    pub language: Option<String>,
    /// The audio's duration in seconds (what transcription is billed by).
    pub duration_seconds: f64,
    /// Every word with its timing and speaker.
    pub words: Vec<TranscriptWord>,
    /// The model that transcribed it.
    pub model: String,
}

impl Transcript {
    /// How many speakers were told apart.
    pub fn speaker_count(&self) -> usize {
        let mut speakers: Vec<u32> = self.words.iter().filter_map(|word| word.speaker).collect();
        speakers.sort_unstable();
        speakers.dedup();
        speakers.len()
    }
}

/// Transcribes recordings (Deepgram).
///
/// Adapter: `otto_adapters::providers::deepgram::DeepgramTranscriber`. Fake:
/// `otto_testkit::RecordingTranscriber`; mock: `otto_testkit::mocks::MockTranscriber`.
///
/// ```
/// use otto_core::ports::{ProviderError, Transcriber};
/// use otto_testkit::RecordingTranscriber;
/// use otto_testkit::contracts::sample_transcript;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let deepgram = RecordingTranscriber::answering(sample_transcript());
/// let unavailable = ProviderError::Transient {
///     provider: "deepgram",
///     message: "503 Service Unavailable".into(),
///     retry_after: None,
/// };
/// deepgram.fail_with([unavailable.clone()]);
/// let url = "https://recordings.example/REC1.mp3";
/// // A transient failure: the job retries later, and then gets the transcript.
/// assert_eq!(deepgram.transcribe(url).await, Err(unavailable));
/// let transcript = deepgram.transcribe(url).await?;
/// assert_eq!(transcript.speaker_count(), 2, "speakers are told apart");
/// assert_eq!(deepgram.requests(), [url, url]);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait Transcriber: Send + Sync {
    /// Transcribes the audio at `recording_url`, telling speakers apart.
    async fn transcribe(&self, recording_url: &str) -> Result<Transcript, ProviderError>;
}

/// What a call's transcript says about the business.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallAnalysis {
    /// Whether the caller was a prospective customer (not spam, a vendor, a wrong
    /// number).
    pub is_sales_call: bool,
    /// Whether an appointment was booked.
    pub booked: bool,
    /// The appointment's time as said or understood (ISO 8601 when it can be).
    pub appointment_time: Option<String>,
    /// The service address.
    pub address: Option<String>,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The customer's problem, in a few words.
    pub problem: Option<String>,
    /// Whether the customer cancelled an appointment.
    pub cancelled: bool,
    /// Whether the customer rescheduled an appointment.
    pub rescheduled: bool,
    /// One or two sentences about the call.
    pub summary: String,
}

/// Tokens a model call used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenUsage {
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the answer.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
}

/// An analysis and what it cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnalysisResult {
    /// What the model found.
    pub analysis: CallAnalysis,
    /// The model that answered (as the provider names it).
    pub model: String,
    /// The tokens it used.
    pub usage: TokenUsage,
}

/// Analyses call transcripts (OpenAI).
///
/// Adapter: `otto_adapters::providers::openai::OpenAiAnalyzer`. Fake:
/// `otto_testkit::RecordingAnalyzer`; mock: `otto_testkit::mocks::MockCallAnalyzer`.
///
/// ```
/// use otto_core::ports::CallAnalyzer;
/// use otto_testkit::RecordingAnalyzer;
/// use otto_testkit::contracts::sample_analysis;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let openai = RecordingAnalyzer::answering(sample_analysis());
/// let transcript = "Hello, Acme Plumbing. Hi, my sink is leaking.";
/// let result = openai.analyze(transcript).await?;
/// assert!(result.analysis.is_sales_call && result.analysis.booked);
/// // The answer names its model and counts its tokens, which the job meters.
/// assert_eq!(result.model, "gpt-4o-2024-08-06");
/// let usage = result.usage;
/// assert_eq!(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens);
/// assert_eq!(openai.requests(), [transcript]);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CallAnalyzer: Send + Sync {
    /// Extracts the business facts of a call from its transcript.
    async fn analyze(&self, transcript: &str) -> Result<AnalysisResult, ProviderError>;
}

/// An AI phone call to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiCallRequest {
    /// The customer's number (E.164).
    pub phone_number: String,
    /// What the AI agent is to do on the call.
    pub task: String,
    /// The number to call from, when Otto chooses it.
    pub from: Option<String>,
    /// The tenant, sent in the call's metadata so that the result webhook routes.
    pub tenant_id: TenantId,
    /// Otto's reference of the call (the job's key), also in the metadata.
    pub reference: String,
    /// Where the provider posts the result (`{OTTO_PUBLIC_URL}/webhook/bland`).
    pub webhook_url: Option<String>,
}

/// A call the provider started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedAiCall {
    /// The provider's id of the call.
    pub provider_call_id: String,
}

/// Starts AI phone calls (Bland AI).
///
/// Adapter: `otto_adapters::providers::bland::BlandCaller`. Fake:
/// `otto_testkit::RecordingAiCaller`; mock: `otto_testkit::mocks::MockAiCaller`.
///
/// ```
/// use otto_core::ports::{AiCallRequest, AiCaller, Clock};
/// use otto_core::tenancy::TenantId;
/// use otto_testkit::{ManualClock, RecordingAiCaller};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = ManualClock::at("2026-12-06T10:00:00Z");
/// let bland = RecordingAiCaller::new(std::sync::Arc::new(clock.clone()));
/// let request = AiCallRequest {
///     phone_number: "+15551230000".into(),
///     task: "Call back about the leaking sink and offer a visit".into(),
///     from: None,
///     tenant_id: TenantId::parse("org_acme")?,
///     reference: "ai_follow_up:org_acme:CAL1".into(),
///     webhook_url: Some("https://otto.example/webhook/bland".into()),
/// };
/// // The call starts but the answer is lost (a timeout)...
/// bland.lose_next_answer();
/// assert!(bland.start_call(&request).await.is_err());
/// // ...so a retried job asks before calling again: the call is found.
/// assert!(bland.find_started(&request, clock.now()).await?.is_some());
/// assert_eq!(bland.started(), [request]);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait AiCaller: Send + Sync {
    /// Starts the call `request` describes.
    async fn start_call(&self, request: &AiCallRequest) -> Result<StartedAiCall, ProviderError>;

    /// The call started for `request` (same number and reference) at or after
    /// `since`, if there is one.
    async fn find_started(
        &self,
        request: &AiCallRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<StartedAiCall>, ProviderError>;
}

/// A call as the call-tracking provider lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedCall {
    /// The provider's id of the call.
    pub id: String,
    /// Inbound or outbound.
    pub direction: crate::calls::Direction,
    /// Whether someone answered.
    pub answered: bool,
    /// The customer's name, when known.
    pub customer_name: Option<String>,
    /// The customer's number.
    pub customer_number: Option<String>,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    pub started_at: DateTime<Utc>,
}

/// One page of a call listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedCallPage {
    /// The calls, newest first.
    pub calls: Vec<TrackedCall>,
    /// The next page's number, or `None` on the last page.
    pub next_page: Option<u32>,
}

/// Reads calls from the call-tracking provider (CallRail).
///
/// Adapter: `otto_adapters::providers::callrail::CallRailClient`. Fake:
/// `otto_testkit::FakeCallTracking`, an account holding the calls it is given.
///
/// ```
/// use otto_core::calls::Direction;
/// use otto_core::ports::{CallTracking, TrackedCall};
/// use otto_testkit::FakeCallTracking;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let started_at = "2026-12-06T10:00:00Z".parse()?;
/// let call = |id: &str| TrackedCall {
///     id: id.into(),
///     direction: Direction::Inbound,
///     answered: false,
///     customer_name: None,
///     customer_number: Some("+15551230000".into()),
///     duration_seconds: 0,
///     started_at,
/// };
/// let newest_first = vec![call("CAL3"), call("CAL2"), call("CAL1")];
/// let callrail = FakeCallTracking::with_calls(newest_first);
/// // Pages from 1, newest first, until `next_page` is `None`.
/// let first = callrail.list_calls(None, 1, 2).await?;
/// assert_eq!((first.calls.len(), first.next_page), (2, Some(2)));
/// let last = callrail.list_calls(None, 2, 2).await?;
/// assert_eq!((last.calls, last.next_page), (vec![call("CAL1")], None));
/// assert_eq!(callrail.get_call("CAL9").await?, None);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait CallTracking: Send + Sync {
    /// Page `page` (from 1) of the calls of `company` (every company of the account
    /// when `None`), `per_page` per page.
    async fn list_calls(
        &self,
        company: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<TrackedCallPage, ProviderError>;

    /// The call `id`, if the provider knows it.
    async fn get_call(&self, id: &str) -> Result<Option<TrackedCall>, ProviderError>;
}

/// Business usage, counted per tenant (Prometheus in the server).
///
/// Adapter: `otto_server::telemetry::metrics::Metrics` (Prometheus). Fake:
/// `otto_testkit::RecordingMeter`; mock: `otto_testkit::mocks::MockUsageMeter`.
///
/// ```
/// use otto_core::ports::UsageMeter;
/// use otto_core::tenancy::TenantId;
/// use otto_testkit::RecordingMeter;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let meter = RecordingMeter::default();
/// let (acme, globex) = (TenantId::parse("org_acme")?, TenantId::parse("org_globex")?);
/// meter.sms_sent(&acme);
/// meter.sms_sent(&acme);
/// meter.asr_seconds(&acme, 93.5);
/// meter.llm_tokens(&acme, "gpt-4o", 500);
/// // Counted per tenant (and tokens per model too).
/// assert_eq!(meter.sms_sent_for(&acme), 2);
/// assert_eq!(meter.asr_seconds_for(&acme), 93.5);
/// assert_eq!(meter.tokens_for(&acme, "gpt-4o"), 500);
/// assert_eq!(meter.sms_sent_for(&globex), 0);
/// # Ok(())
/// # }
/// ```
#[cfg_attr(feature = "mocks", mockall::automock)]
pub trait UsageMeter: Send + Sync {
    /// One text message was sent for `tenant`.
    fn sms_sent(&self, tenant: &TenantId);

    /// `seconds` of audio were transcribed for `tenant`.
    fn asr_seconds(&self, tenant: &TenantId, seconds: f64);

    /// `model` used `tokens` for `tenant`.
    fn llm_tokens(&self, tenant: &TenantId, model: &str, tokens: u64);
}
