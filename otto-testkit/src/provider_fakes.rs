//! Recording fakes of the provider ports: they keep what was asked of them and
//! answer from a script.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::ports::{Clock, ProviderError, SentSms, SmsRequest, SmsSender, UsageMeter};
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

/// A [`UsageMeter`] that counts per tenant.
#[derive(Debug, Clone, Default)]
pub struct RecordingMeter {
    sms: Arc<Mutex<BTreeMap<TenantId, u64>>>,
}

impl RecordingMeter {
    /// Text messages counted for `tenant`.
    pub fn sms_sent_for(&self, tenant: &TenantId) -> u64 {
        self.sms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(tenant)
            .copied()
            .unwrap_or(0)
    }
}

impl UsageMeter for RecordingMeter {
    fn sms_sent(&self, tenant: &TenantId) {
        *self
            .sms
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(tenant.clone())
            .or_default() += 1;
    }
}
