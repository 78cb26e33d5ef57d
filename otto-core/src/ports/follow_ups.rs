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
    /// Whether a missed inbound call also gets an AI call-back (Bland AI).
    pub ai_follow_up_enabled: bool,
    /// When no automatic text or AI call goes out; work waits for the end.
    pub quiet_hours: Option<crate::quiet_hours::QuietHours>,
}

impl Default for FollowUpSettings {
    /// What a tenant that never changed its settings gets: text recovery on, Otto's
    /// template, the platform's number, no AI call-backs, no quiet hours.
    fn default() -> Self {
        FollowUpSettings {
            missed_call_sms_enabled: true,
            missed_call_sms_template: None,
            sms_from_number: None,
            ai_follow_up_enabled: false,
            quiet_hours: None,
        }
    }
}

/// What an outbound action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundKind {
    /// A text message (Twilio); `text` is its body.
    Sms,
    /// An AI phone call (Bland AI); `text` is the agent's task.
    AiCall,
}

impl OutboundKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundKind::Sms => "sms",
            OutboundKind::AiCall => "ai_call",
        }
    }
}

/// Something a job does to a customer through a provider (a text, a call), recorded
/// before the provider is called so that a retried job knows an earlier attempt may
/// have done it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundAction {
    /// Text or call.
    pub kind: OutboundKind,
    /// What it is for (the job's unique key): one action per kind and key.
    pub key: String,
    /// The call it follows up, if any.
    pub call_id: Option<Uuid>,
    /// The customer's number.
    pub to: String,
    /// The number it comes from, when Otto chooses it.
    pub from: Option<String>,
    /// The message's text, or the AI agent's task.
    pub text: String,
    /// When the first attempt began.
    pub started_at: DateTime<Utc>,
    /// The provider's id once it accepted the action.
    pub provider_ref: Option<String>,
}

/// What [`FollowUpStore::begin_outbound`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundClaim {
    /// No action had this kind and key: this attempt is the first.
    Fresh(OutboundAction),
    /// An earlier attempt recorded this action (and may have done it).
    Earlier(OutboundAction),
}

/// Tenant data read and written by follow-up jobs.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::{FollowUpStore, OutboundAction, OutboundClaim, OutboundKind};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::default();
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// let text = OutboundAction {
///     kind: OutboundKind::Sms,
///     key: "missed_call_recovery:org_acme:CAL1".into(),
///     call_id: None,
///     to: "+15551230000".into(),
///     from: None,
///     text: "Sorry we missed your call".into(),
///     started_at: "2026-12-06T10:00:00Z".parse()?,
///     provider_ref: None,
/// };
/// // Recorded before the provider is called...
/// let claim = store.begin_outbound(&acme, &text).await?;
/// assert_eq!(claim, OutboundClaim::Fresh(text.clone()));
/// let (sms, sent_at) = (OutboundKind::Sms, text.started_at);
/// store.complete_outbound(&acme, sms, &text.key, "SM123", sent_at).await?;
/// // ...so that a retried job finds the earlier attempt, and what the provider answered.
/// let sent = OutboundAction { provider_ref: Some("SM123".into()), ..text.clone() };
/// assert_eq!(store.begin_outbound(&acme, &text).await?, OutboundClaim::Earlier(sent));
/// # Ok(())
/// # }
/// ```
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

    /// Records that `action` is about to be done, unless one of its kind and key
    /// was recorded before (by an earlier attempt), which is then returned instead.
    async fn begin_outbound(
        &self,
        scope: &TenantScope,
        action: &OutboundAction,
    ) -> Result<OutboundClaim, StoreError>;

    /// Records that the provider accepted the action of `kind` and `key` as
    /// `provider_ref` at `done_at`, and keeps it with the tenant's data: a text in
    /// its messages, an AI call in its AI calls.
    async fn complete_outbound(
        &self,
        scope: &TenantScope,
        kind: OutboundKind,
        key: &str,
        provider_ref: &str,
        done_at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
