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

/// Business usage, counted per tenant (Prometheus in the server).
pub trait UsageMeter: Send + Sync {
    /// One text message was sent for `tenant`.
    fn sms_sent(&self, tenant: &TenantId);
}
