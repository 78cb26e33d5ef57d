//! What a delivery means for Otto, decided before any storage is touched: its
//! idempotency key, where it is routed, the domain changes it makes and the jobs it
//! starts. Planning is pure, so every key derivation and effect is unit-tested.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::event::{Provider, WebhookEvent};
use crate::calls::Direction;
use crate::jobs::{JobKind, NewJob};
use crate::tenancy::{Role, TenantId, UserId};

/// A provider-side account that `provider_accounts` maps to a tenant: a CallRail
/// company, a Twilio number or account.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRef {
    /// The provider.
    pub provider: Provider,
    /// The provider's id of the account (CallRail `company_id` or
    /// `company_resource_id`, a Twilio number in E.164 or an `AccountSid`).
    pub account_id: String,
}

impl AccountRef {
    /// An account of `provider`.
    pub fn new(provider: Provider, account_id: impl Into<String>) -> Self {
        AccountRef {
            provider,
            account_id: account_id.into(),
        }
    }
}

/// How a delivery finds its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routing {
    /// Through `provider_accounts`: the first of these accounts that is linked wins.
    Accounts(Vec<AccountRef>),
    /// The signed payload names the tenant (Bland's `metadata.tenant_id`, set by Otto).
    Tenant(TenantId),
    /// Platform-wide data (Clerk). `owner` is the organization the event is about, if
    /// any; user events have none.
    Platform {
        /// The tenant the event concerns.
        owner: Option<TenantId>,
    },
}

/// How a call record changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallChange {
    /// Create the call if it is not known yet; never overwrite (a late pre-call must
    /// not undo a call-complete).
    Open,
    /// Create the call if needed, then overwrite the facts that are present.
    Update,
}

/// What a delivery says about a call. Absent facts are left as they are (or take
/// their defaults when the call is created: inbound, unanswered, 0 s, received now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallFacts {
    /// The provider's id of the call.
    pub external_id: String,
    /// Inbound or outbound.
    pub direction: Option<Direction>,
    /// The customer's name.
    pub customer_name: Option<String>,
    /// The customer's number.
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: Option<bool>,
    /// Duration in seconds.
    pub duration_seconds: Option<i32>,
    /// When the call started (used when the call is created).
    pub started_at: Option<DateTime<Utc>>,
}

impl CallFacts {
    /// The names of the facts it states (`direction`, `customer`, `status`,
    /// `duration`), for the call's `call.updated` event.
    pub fn changed(&self) -> Vec<&'static str> {
        [
            ("direction", self.direction.is_some()),
            (
                "customer",
                self.customer_name.is_some() || self.customer_number.is_some(),
            ),
            ("status", self.answered.is_some()),
            ("duration", self.duration_seconds.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, present)| present.then_some(name))
        .collect()
    }

    /// No facts yet about the call `external_id`.
    pub fn about(external_id: impl Into<String>) -> Self {
        CallFacts {
            external_id: external_id.into(),
            direction: None,
            customer_name: None,
            customer_number: None,
            answered: None,
            duration_seconds: None,
            started_at: None,
        }
    }
}

/// A text message to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageFacts {
    /// The provider's id of the message.
    pub external_id: String,
    /// Inbound (from the customer) or outbound.
    pub direction: Direction,
    /// The customer's number.
    pub customer_number: String,
    /// The text.
    pub body: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// A call recording to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingFacts {
    /// The provider's id of the call it belongs to (created if not known yet).
    pub call_external_id: String,
    /// The provider's id of the recording.
    pub external_id: String,
    /// Where the audio is.
    pub url: String,
    /// Length in seconds.
    pub duration_seconds: Option<i32>,
}

/// The outcome of an AI follow-up call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiCallFacts {
    /// Bland's call id.
    pub external_id: String,
    /// The number called.
    pub to_number: Option<String>,
    /// Bland's status (`completed`, ...).
    pub status: Option<String>,
    /// Whether the call completed.
    pub completed: bool,
    /// Duration in seconds.
    pub duration_seconds: Option<i32>,
    /// Bland's summary.
    pub summary: Option<String>,
    /// The whole transcript.
    pub transcript: Option<String>,
    /// The recording, if Bland recorded.
    pub recording_url: Option<String>,
}

/// An organization as Clerk describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantFacts {
    /// The organization id.
    pub id: TenantId,
    /// Display name.
    pub name: Option<String>,
    /// URL slug.
    pub slug: Option<String>,
}

/// A user as Clerk describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    /// The user id.
    pub id: UserId,
    /// Primary email address.
    pub email: Option<String>,
    /// Full name.
    pub name: Option<String>,
}

/// One domain change. All of a delivery's changes commit together or not at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Create or update a call of the delivery's provider.
    RecordCall {
        /// Create only, or create and update.
        change: CallChange,
        /// What the delivery says.
        facts: CallFacts,
    },
    /// Store a text message (once per provider id).
    StoreMessage(MessageFacts),
    /// The customer replied STOP: never text them again.
    OptOut {
        /// The customer's number.
        customer_number: String,
    },
    /// The customer replied START: they may be texted again.
    OptIn {
        /// The customer's number.
        customer_number: String,
    },
    /// Store a recording of a call (once per provider id).
    StoreRecording(RecordingFacts),
    /// Store or update an AI call's outcome.
    StoreAiCall(AiCallFacts),
    /// Create or update a tenant.
    SaveTenant(TenantFacts),
    /// Delete a tenant's record (its calls stay until purged by retention).
    DeleteTenant(TenantId),
    /// Create or update a user.
    SaveUser(UserFacts),
    /// Delete a user and their memberships.
    DeleteUser(UserId),
    /// Create or update a membership (creating a bare user record if needed).
    SaveMembership {
        /// The organization.
        tenant: TenantId,
        /// The member.
        user: UserId,
        /// Their organization role.
        role: Role,
    },
    /// Delete a membership.
    DeleteMembership {
        /// The organization.
        tenant: TenantId,
        /// The former member.
        user: UserId,
    },
}

/// A job to enqueue in the delivery's transaction (the outbox).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// What to do.
    pub kind: JobKind,
    /// What it is about (`callrail:CAL123`): with the kind and tenant it forms the
    /// job's unique key, so the same work is never queued twice.
    pub subject: String,
    /// The job's input.
    pub payload: Value,
}

impl JobSpec {
    /// The unique key of this job in `tenant`.
    pub fn unique_key(&self, tenant: &TenantId) -> String {
        format!("{}:{}:{}", self.kind.as_str(), tenant, self.subject)
    }

    /// The job to enqueue for `tenant`, due `at`, continuing `trace_context`.
    pub fn to_new_job(
        &self,
        tenant: &TenantId,
        at: DateTime<Utc>,
        trace_context: Option<String>,
    ) -> NewJob {
        NewJob {
            kind: self.kind,
            tenant_id: Some(tenant.clone()),
            unique_key: self.unique_key(tenant),
            payload: self.payload.clone(),
            run_at: at,
            trace_context,
        }
    }
}

/// Everything a delivery means.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The route it came through.
    pub event: WebhookEvent,
    /// The event name in the idempotency key (the route's, or Clerk's `type`).
    pub event_name: String,
    /// The key's external id (see `docs/webhooks.md` for each derivation).
    pub external_id: String,
    /// How the tenant is found.
    pub routing: Routing,
    /// The domain changes, in order.
    pub effects: Vec<Effect>,
    /// Jobs to enqueue with them.
    pub jobs: Vec<JobSpec>,
}
