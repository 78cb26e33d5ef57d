//! Recording fakes of the provider ports: they keep what was asked of them and
//! answer from a script.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::ports::{
    AiCallRequest, AiCaller, AnalysisResult, CallAnalyzer, CallTracking, Clock, ProviderError,
    SentSms, SmsRequest, SmsSender, StartedAiCall, TrackedCall, TrackedCallPage, Transcriber,
    Transcript, UsageMeter,
};
use otto_core::tenancy::TenantId;

/// What the SMS fake does with the next send.
#[derive(Debug, Clone)]
pub enum SmsScript {
    /// Refuse it with this error (nothing is sent).
    Refuse(ProviderError),
    /// Send it, then fail as if the answer was lost (a timeout after Twilio
    /// accepted the message).
    SendThenLoseAnswer,
}

#[derive(Debug, Default)]
struct SmsLog {
    sent: Vec<(SmsRequest, SentSms, DateTime<Utc>)>,
    script: VecDeque<SmsScript>,
}

/// A fake [`SmsSender`]: a provider that accepts every message unless scripted
/// otherwise, and can be asked what it sent. Clones share the log.
#[derive(Debug, Clone)]
pub struct RecordingSms {
    log: Arc<Mutex<SmsLog>>,
    clock: Arc<dyn Clock>,
}

impl RecordingSms {
    /// A provider whose send times come from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        RecordingSms {
            log: Arc::default(),
            clock,
        }
    }

    /// Scripts what happens to the next sends, in order.
    pub fn script(&self, steps: impl IntoIterator<Item = SmsScript>) {
        self.lock().script.extend(steps);
    }

    /// Every message accepted, in order.
    pub fn sent(&self) -> Vec<SmsRequest> {
        self.lock()
            .sent
            .iter()
            .map(|(request, _, _)| request.clone())
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, SmsLog> {
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[async_trait]
impl SmsSender for RecordingSms {
    async fn send(&self, request: &SmsRequest) -> Result<SentSms, ProviderError> {
        let mut log = self.lock();
        let step = log.script.pop_front();
        if let Some(SmsScript::Refuse(error)) = step {
            return Err(error);
        }
        let sent = SentSms {
            provider_message_id: format!("SM{:032}", log.sent.len() + 1),
        };
        log.sent
            .push((request.clone(), sent.clone(), self.clock.now()));
        match step {
            Some(SmsScript::SendThenLoseAnswer) => Err(ProviderError::Transient {
                provider: "twilio",
                message: "the connection closed before the answer".into(),
                retry_after: None,
            }),
            _ => Ok(sent),
        }
    }

    async fn find_sent(
        &self,
        request: &SmsRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<SentSms>, ProviderError> {
        Ok(self
            .lock()
            .sent
            .iter()
            .find(|(sent, _, at)| sent == request && *at >= since)
            .map(|(_, sent, _)| sent.clone()))
    }
}

#[derive(Debug, Default)]
struct Usage {
    sms: BTreeMap<TenantId, u64>,
    asr_seconds: BTreeMap<TenantId, f64>,
    tokens: BTreeMap<(TenantId, String), u64>,
}

/// A [`UsageMeter`] that counts per tenant. Clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct RecordingMeter {
    usage: Arc<Mutex<Usage>>,
}

impl RecordingMeter {
    fn lock(&self) -> MutexGuard<'_, Usage> {
        self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Text messages counted for `tenant`.
    pub fn sms_sent_for(&self, tenant: &TenantId) -> u64 {
        self.lock().sms.get(tenant).copied().unwrap_or(0)
    }

    /// Seconds of audio counted for `tenant`.
    pub fn asr_seconds_for(&self, tenant: &TenantId) -> f64 {
        self.lock().asr_seconds.get(tenant).copied().unwrap_or(0.0)
    }

    /// Tokens counted for `tenant` and `model`.
    pub fn tokens_for(&self, tenant: &TenantId, model: &str) -> u64 {
        self.lock()
            .tokens
            .get(&(tenant.clone(), model.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

impl UsageMeter for RecordingMeter {
    fn sms_sent(&self, tenant: &TenantId) {
        *self.lock().sms.entry(tenant.clone()).or_default() += 1;
    }

    fn asr_seconds(&self, tenant: &TenantId, seconds: f64) {
        *self.lock().asr_seconds.entry(tenant.clone()).or_default() += seconds;
    }

    fn llm_tokens(&self, tenant: &TenantId, model: &str, tokens: u64) {
        *self
            .lock()
            .tokens
            .entry((tenant.clone(), model.to_owned()))
            .or_default() += tokens;
    }
}

/// A fake [`Transcriber`]: answers each URL with a fixed transcript (or the scripted
/// errors first) and records the URLs it was given.
#[derive(Debug, Clone)]
pub struct RecordingTranscriber {
    transcript: Transcript,
    errors: Arc<Mutex<VecDeque<ProviderError>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RecordingTranscriber {
    /// Answers `transcript` to every request.
    pub fn answering(transcript: Transcript) -> Self {
        RecordingTranscriber {
            transcript,
            errors: Arc::default(),
            requests: Arc::default(),
        }
    }

    /// Fails the next requests with `errors`, in order.
    pub fn fail_with(&self, errors: impl IntoIterator<Item = ProviderError>) {
        self.errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(errors);
    }

    /// The URLs transcribed (or attempted), in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Transcriber for RecordingTranscriber {
    async fn transcribe(&self, recording_url: &str) -> Result<Transcript, ProviderError> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(recording_url.to_owned());
        match self
            .errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop_front()
        {
            Some(error) => Err(error),
            None => Ok(self.transcript.clone()),
        }
    }
}

/// A fake [`CallAnalyzer`]: answers every transcript with a fixed result and
/// records the transcripts it was given.
#[derive(Debug, Clone)]
pub struct RecordingAnalyzer {
    result: AnalysisResult,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RecordingAnalyzer {
    /// Answers `result` to every request.
    pub fn answering(result: AnalysisResult) -> Self {
        RecordingAnalyzer {
            result,
            requests: Arc::default(),
        }
    }

    /// The transcripts analysed, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl CallAnalyzer for RecordingAnalyzer {
    async fn analyze(&self, transcript: &str) -> Result<AnalysisResult, ProviderError> {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(transcript.to_owned());
        Ok(self.result.clone())
    }
}

/// A call the fake started: what was asked, its id, and when.
type StartedCall = (AiCallRequest, StartedAiCall, DateTime<Utc>);

/// A fake [`AiCaller`]: starts every call (unless told to lose the answer) and can be
/// asked which it started. Clones share the log.
#[derive(Debug, Clone)]
pub struct RecordingAiCaller {
    started: Arc<Mutex<Vec<StartedCall>>>,
    lose_next_answer: Arc<Mutex<bool>>,
    clock: Arc<dyn Clock>,
}

impl RecordingAiCaller {
    /// A provider whose start times come from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        RecordingAiCaller {
            started: Arc::default(),
            lose_next_answer: Arc::default(),
            clock,
        }
    }

    /// The next call starts but its answer is lost (a timeout).
    pub fn lose_next_answer(&self) {
        *self
            .lose_next_answer
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
    }

    /// Every call started, in order.
    pub fn started(&self) -> Vec<AiCallRequest> {
        self.started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(request, _, _)| request.clone())
            .collect()
    }
}

#[async_trait]
impl AiCaller for RecordingAiCaller {
    async fn start_call(&self, request: &AiCallRequest) -> Result<StartedAiCall, ProviderError> {
        let mut started = self.started.lock().unwrap_or_else(PoisonError::into_inner);
        let call = StartedAiCall {
            provider_call_id: format!("bland-call-{}", started.len() + 1),
        };
        started.push((request.clone(), call.clone(), self.clock.now()));
        let mut lose = self
            .lose_next_answer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if std::mem::take(&mut *lose) {
            return Err(ProviderError::Transient {
                provider: "bland",
                message: "timed out".into(),
                retry_after: None,
            });
        }
        Ok(call)
    }

    async fn find_started(
        &self,
        request: &AiCallRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<StartedAiCall>, ProviderError> {
        Ok(self
            .started
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find(|(started, _, at)| {
                started.phone_number == request.phone_number
                    && started.reference == request.reference
                    && *at >= since
            })
            .map(|(_, call, _)| call.clone()))
    }
}

/// A fake [`CallTracking`]: an account holding `calls` (newest first), paged like
/// CallRail. Every call belongs to every company.
#[derive(Debug, Clone, Default)]
pub struct FakeCallTracking {
    calls: Vec<TrackedCall>,
}

impl FakeCallTracking {
    /// An account with `calls`, newest first.
    pub fn with_calls(calls: Vec<TrackedCall>) -> Self {
        FakeCallTracking { calls }
    }
}

#[async_trait]
impl CallTracking for FakeCallTracking {
    async fn list_calls(
        &self,
        _company: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<TrackedCallPage, ProviderError> {
        let per_page = per_page.max(1) as usize;
        let start = (page.max(1) as usize - 1) * per_page;
        let calls: Vec<TrackedCall> = self
            .calls
            .iter()
            .skip(start)
            .take(per_page)
            .cloned()
            .collect();
        let next_page = (start + per_page < self.calls.len()).then_some(page + 1);
        Ok(TrackedCallPage { calls, next_page })
    }

    async fn get_call(&self, id: &str) -> Result<Option<TrackedCall>, ProviderError> {
        Ok(self.calls.iter().find(|call| call.id == id).cloned())
    }
}
