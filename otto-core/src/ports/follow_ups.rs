//! What follow-up jobs read and write in the tenant's data.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreError;
use crate::calls::Call;
use crate::tenancy::TenantScope;

/// A tenant's follow-up settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUpSettings {
    /// Whether a missed inbound call gets a text message.
    pub missed_call_sms_enabled: bool,
    /// The message, with `{company_name}` and `{customer_name}` placeholders; `None`
    /// uses Otto's default.
    pub missed_call_sms_template: Option<String>,
    /// The tenant's sending number; `None` uses TWILIO_FROM_NUMBER.
    pub sms_from_number: Option<String>,
}

impl Default for FollowUpSettings {
    /// What a tenant that never changed its settings gets: recovery on, Otto's
    /// template, the platform's number.
    fn default() -> Self {
        FollowUpSettings {
            missed_call_sms_enabled: true,
            missed_call_sms_template: None,
            sms_from_number: None,
        }
    }
}

/// An outbound text message a job is sending, recorded before the provider is
/// called so that a retried job knows an earlier attempt may have sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundSms {
    /// What the message is for (the job's unique key): one message per key.
    pub key: String,
    /// The call it follows up, if any.
    pub call_id: Option<Uuid>,
    /// The customer's number.
    pub to: String,
    /// The sending number.
    pub from: String,
    /// The text.
    pub body: String,
    /// When the first attempt began sending.
    pub started_at: DateTime<Utc>,
    /// The provider's id once it accepted the message.
    pub provider_message_id: Option<String>,
}

/// What [`FollowUpStore::begin_sms`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsClaim {
    /// No message had this key: this attempt is the first to send it.
    Fresh(OutboundSms),
    /// An earlier attempt recorded this message (and may have sent it).
    Earlier(OutboundSms),
}

/// Tenant data read and written by follow-up jobs.
#[async_trait]
pub trait FollowUpStore: Send + Sync {
    /// The call `external_id` of `provider` in the scope's tenant.
    async fn call_by_external_id(
        &self,
        scope: &TenantScope,
        provider: &str,
        external_id: &str,
    ) -> Result<Option<Call>, StoreError>;

    /// The tenant's settings (the defaults when it has none), and its name.
    async fn follow_up_settings(
        &self,
        scope: &TenantScope,
    ) -> Result<(FollowUpSettings, Option<String>), StoreError>;

    /// Replaces the tenant's settings.
    async fn save_follow_up_settings(
        &self,
        scope: &TenantScope,
        settings: &FollowUpSettings,
    ) -> Result<(), StoreError>;

    /// Whether `number` asked not to be texted.
    async fn is_opted_out(&self, scope: &TenantScope, number: &str) -> Result<bool, StoreError>;

    /// Records that `sms` is about to be sent, unless a message with its key was
    /// recorded before (by an earlier attempt), which is then returned instead.
    async fn begin_sms(
        &self,
        scope: &TenantScope,
        sms: &OutboundSms,
    ) -> Result<SmsClaim, StoreError>;

    /// Records that the provider accepted the message of `key` as
    /// `provider_message_id` at `sent_at`, and stores it in the tenant's messages.
    async fn complete_sms(
        &self,
        scope: &TenantScope,
        key: &str,
        provider_message_id: &str,
        sent_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
