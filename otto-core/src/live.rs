//! Live events: what the frontends' streams carry.
//!
//! An event is written by the store in the transaction of the change that causes it
//! (a webhook's claim, a job's effect, an API write), numbered per tenant once
//! committed (without gaps, in the order readers find them), and read back by the
//! streams. This module says which changes make which
//! events, who may see each, and where a resumed stream starts; the adapters only
//! append what these functions return, so every store publishes the same events.
//!
//! An event carries ids and the names of what changed, never personal data: the
//! client fetches details through the REST API (a phone number appears as its last
//! four digits only, a message body never).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::calls::Direction;
use crate::jobs::{Finish, JobKind, NewJob};
use crate::ports::OutboundKind;
use crate::roles::AppRole;
use crate::tenancy::{TenantId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// A call Otto had not seen.
    CallCreated,
    /// A call changed: status, outcome, assignment, recording, transcript, analysis.
    CallUpdated,
    /// A customer's text message arrived.
    MessageReceived,
    /// A text message went out.
    MessageSent,
    /// A text message could not be sent (its job failed for good).
    MessageFailed,
    /// A follow-up (a text or an AI call after a call) was queued.
    FollowUpScheduled,
    /// A follow-up was done.
    FollowUpSent,
    /// A follow-up failed for good.
    FollowUpFailed,
    /// A delivery routed to the tenant could not be applied.
    WebhookFailed,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 9] = [
        EventType::CallCreated,
        EventType::CallUpdated,
        EventType::MessageReceived,
        EventType::MessageSent,
        EventType::MessageFailed,
        EventType::FollowUpScheduled,
        EventType::FollowUpSent,
        EventType::FollowUpFailed,
        EventType::WebhookFailed,
    ];

    /// The wire and stored name (`call.created`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::CallCreated => "call.created",
            EventType::CallUpdated => "call.updated",
            EventType::MessageReceived => "message.received",
            EventType::MessageSent => "message.sent",
            EventType::MessageFailed => "message.failed",
            EventType::FollowUpScheduled => "follow_up.scheduled",
            EventType::FollowUpSent => "follow_up.sent",
            EventType::FollowUpFailed => "follow_up.failed",
            EventType::WebhookFailed => "webhook.failed",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// Who may see an event: the REST API's rules, decided when it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// Every member of the tenant (messages: every role reads the conversations).
    Everyone,
    /// Leadership and CSRs (follow-ups, whose calls a rep may not read).
    Staff,
    /// Whoever may read the call: leadership, CSRs, and the rep it is assigned to.
    Call {
        /// The call's rep when the event was written.
        assigned_rep: Option<UserId>,
    },
    /// Leadership only (webhook failures).
    Leadership,
}

impl Audience {
    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Audience::Everyone => "everyone",
            Audience::Staff => "staff",
            Audience::Call { .. } => "call",
            Audience::Leadership => "leadership",
        }
    }

    /// The audience stored as `name` with `assigned_rep`; `None` for an unknown name.
    pub fn parse(name: &str, assigned_rep: Option<UserId>) -> Option<Self> {
        Some(match name {
            "everyone" => Audience::Everyone,
            "staff" => Audience::Staff,
            "call" => Audience::Call { assigned_rep },
            "leadership" => Audience::Leadership,
            _ => return None,
        })
    }

    /// The rep stored with the audience.
    pub fn assigned_rep(&self) -> Option<&UserId> {
        match self {
            Audience::Call { assigned_rep } => assigned_rep.as_ref(),
            _ => None,
        }
    }

    /// Whether `viewer` may see an event of this audience.
    pub fn admits(&self, viewer: &Viewer) -> bool {
        match (self, viewer.role) {
            (_, AppRole::Leadership) => true,
            (Audience::Leadership, _) => false,
            (_, AppRole::Csr) => true,
            (Audience::Everyone, AppRole::Rep) => true,
            (Audience::Call { assigned_rep }, AppRole::Rep) => {
                assigned_rep.as_ref() == Some(&viewer.user_id)
            }
            (Audience::Staff, AppRole::Rep) => false,
        }
    }
}

/// Who is watching a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// The user.
    pub user_id: UserId,
    /// Their role in the tenant.
    pub role: AppRole,
}

/// An event to append in the current transaction; the store gives it its number and
/// its time (the transaction's).
#[derive(Debug, Clone, PartialEq)]
pub struct NewLiveEvent {
    /// What happened.
    pub event_type: EventType,
    /// Who may see it.
    pub audience: Audience,
    /// Ids and changed fields.
    pub payload: Map<String, Value>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveEvent {
    /// Its number in its tenant's stream (1, 2, ...).
    pub sequence: u64,
    /// What happened.
    pub event_type: EventType,
    /// When the change committed (the transaction's time).
    pub occurred_at: DateTime<Utc>,
    /// Who may see it.
    pub audience: Audience,
    /// Ids and changed fields.
    pub payload: Map<String, Value>,
}

impl LiveEvent {
    /// Whether `viewer` may see it.
    pub fn visible_to(&self, viewer: &Viewer) -> bool {
        self.audience.admits(viewer)
    }
}

fn payload(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// The last four digits of a phone number: enough to tell threads apart on a screen,
/// not a number anyone can call.
pub fn number_hint(number: &str) -> String {
    let digits: Vec<char> = number.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(4)..].iter().collect()
}

/// A call Otto had not seen was stored.
pub fn call_created(call_id: Uuid, assigned_rep: Option<UserId>) -> NewLiveEvent {
    NewLiveEvent {
        event_type: EventType::CallCreated,
        audience: Audience::Call { assigned_rep },
        payload: payload(json!({ "call_id": call_id })),
    }
}

/// A call's `changed` facts were written (`status`, `outcome`, `assigned_rep`,
/// `recording`, `transcript`, `analysis`, ...).
pub fn call_updated(call_id: Uuid, assigned_rep: Option<UserId>, changed: &[&str]) -> NewLiveEvent {
    NewLiveEvent {
        event_type: EventType::CallUpdated,
        audience: Audience::Call { assigned_rep },
        payload: payload(json!({ "call_id": call_id, "changed": changed })),
    }
}

/// A text message was stored: received when inbound, sent when outbound.
pub fn message_stored(
    message_id: Uuid,
    direction: Direction,
    customer_number: &str,
) -> NewLiveEvent {
    let event_type = match direction {
        Direction::Inbound => EventType::MessageReceived,
        Direction::Outbound => EventType::MessageSent,
    };
    NewLiveEvent {
        event_type,
        audience: Audience::Everyone,
        payload: payload(json!({
            "message_id": message_id,
            "customer_number_last4": number_hint(customer_number),
        })),
    }
}

fn follow_up_kind(kind: JobKind) -> bool {
    matches!(kind, JobKind::MissedCallRecovery | JobKind::AiFollowUp)
}

/// The kind of the job whose unique key is `key` (keys start with the kind's name).
fn kind_of_key(key: &str) -> Option<JobKind> {
    key.split(':').next().and_then(JobKind::parse)
}

fn follow_up(event_type: EventType, job_id: Option<Uuid>, kind: JobKind) -> NewLiveEvent {
    NewLiveEvent {
        event_type,
        audience: Audience::Staff,
        payload: payload(json!({ "job_id": job_id, "kind": kind.as_str() })),
    }
}

/// The event of a job queued as `id`: a follow-up's `follow_up.scheduled`.
pub fn job_queued(id: Uuid, job: &NewJob) -> Option<NewLiveEvent> {
    follow_up_kind(job.kind).then(|| follow_up(EventType::FollowUpScheduled, Some(id), job.kind))
}

/// The event of a tenant's job `id` of stored kind `kind` ending its attempt with
/// `finish`: only a job that failed for good makes one (`message.failed` for a text
/// a user wrote, `follow_up.failed` for a follow-up).
pub fn job_finished(id: Uuid, kind: &str, finish: &Finish) -> Option<NewLiveEvent> {
    if !matches!(finish, Finish::Dead { .. }) {
        return None;
    }
    match JobKind::parse(kind)? {
        JobKind::SendMessage => Some(NewLiveEvent {
            event_type: EventType::MessageFailed,
            audience: Audience::Everyone,
            payload: payload(json!({ "job_id": id })),
        }),
        kind if follow_up_kind(kind) => Some(follow_up(EventType::FollowUpFailed, Some(id), kind)),
        _ => None,
    }
}

/// The events of an outbound action (of the job with unique key `key`) that the
/// provider accepted: the text stored as `message_id` is `message.sent`, and a
/// follow-up's action is also `follow_up.sent`.
pub fn outbound_completed(
    kind: OutboundKind,
    key: &str,
    message_id: Option<Uuid>,
    customer_number: &str,
) -> Vec<NewLiveEvent> {
    let mut events = Vec::new();
    if let (OutboundKind::Sms, Some(message_id)) = (kind, message_id) {
        events.push(message_stored(
            message_id,
            Direction::Outbound,
            customer_number,
        ));
    }
    if let Some(job_kind) = kind_of_key(key).filter(|kind| follow_up_kind(*kind)) {
        events.push(follow_up(EventType::FollowUpSent, None, job_kind));
    }
    events
}

/// A delivery routed to the tenant could not be applied.
pub fn webhook_failed(delivery_id: Uuid, provider: &str, route: &str) -> NewLiveEvent {
    NewLiveEvent {
        event_type: EventType::WebhookFailed,
        audience: Audience::Leadership,
        payload: payload(json!({
            "delivery_id": delivery_id,
            "provider": provider,
            "route": route,
        })),
    }
}

/// Where a stream starts, given the client's last id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStart {
    /// Replay every event after this number, then continue live.
    Replay {
        /// The client's last id.
        after: u64,
    },
    /// The client's id is unknown here or older than the retention: send `resync`
    /// (the client refetches), then continue live after `at`.
    Resync {
        /// The tenant's last number now.
        at: u64,
    },
    /// No id given: continue live after `at`.
    Live {
        /// The tenant's last number now.
        at: u64,
    },
}

/// Where a stream that asked to resume after `since` starts, knowing the tenant's
/// last number `last`, the first retained event after `since` (its number and time)
/// and the retention cutoff. An id above the tenant's last number was never issued
/// by this tenant's stream (another tenant's, say) and means nothing here; an id
/// whose successor is gone or older than the cutoff cannot be resumed without a gap.
pub fn stream_start(
    since: Option<u64>,
    last: u64,
    first_after: Option<(u64, DateTime<Utc>)>,
    cutoff: DateTime<Utc>,
) -> StreamStart {
    let Some(since) = since else {
        return StreamStart::Live { at: last };
    };
    if since > last {
        return StreamStart::Resync { at: last };
    }
    match first_after {
        // Nothing after the id: fine when it is the last one; otherwise what came
        // after it was purged.
        None if since == last => StreamStart::Replay { after: since },
        None => StreamStart::Resync { at: last },
        Some((sequence, occurred_at)) if sequence == since + 1 && occurred_at >= cutoff => {
            StreamStart::Replay { after: since }
        }
        Some(_) => StreamStart::Resync { at: last },
    }
}

/// How long a stream ticket lives.
pub const TICKET_LIFETIME_SECONDS: i64 = 30;

/// The stored form of a stream ticket: its SHA-256, so that the table holds nothing a
/// reader could present.
pub fn ticket_digest(ticket: &str) -> String {
    crate::webhooks::signatures::hex(&Sha256::digest(ticket.as_bytes()))
}

/// A ticket is `<tenant id>.<secret>`: the tenant says which scope redeems it.
pub fn ticket_tenant(ticket: &str) -> Option<TenantId> {
    let (tenant, secret) = ticket.split_once('.')?;
    if secret.len() < 32 || !secret.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return None;
    }
    TenantId::parse(tenant).ok()
}

/// Who a redeemed ticket was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketHolder {
    /// The user.
    pub user_id: UserId,
    /// Their organization role when the ticket was issued.
    pub role: String,
}

/// A ticket to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTicket {
    /// [`ticket_digest`] of the ticket.
    pub digest: String,
    /// Its holder.
    pub holder: TicketHolder,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn user(id: &str) -> UserId {
        UserId::parse(id).expect("valid")
    }

    fn viewer(id: &str, role: AppRole) -> Viewer {
        Viewer {
            user_id: user(id),
            role,
        }
    }

    #[test]
    fn a_rep_sees_the_calls_assigned_to_them_and_the_messages_but_not_follow_ups_or_webhooks() {
        let rep = viewer("user_rep", AppRole::Rep);
        let own = Audience::Call {
            assigned_rep: Some(user("user_rep")),
        };
        let other = Audience::Call {
            assigned_rep: Some(user("user_other")),
        };
        assert!(own.admits(&rep));
        assert!(!other.admits(&rep));
        assert!(!Audience::Call { assigned_rep: None }.admits(&rep));
        assert!(Audience::Everyone.admits(&rep));
        assert!(!Audience::Staff.admits(&rep));
        assert!(!Audience::Leadership.admits(&rep));
        let csr = viewer("user_csr", AppRole::Csr);
        assert!(other.admits(&csr) && Audience::Staff.admits(&csr));
        assert!(!Audience::Leadership.admits(&csr));
        let boss = viewer("user_boss", AppRole::Leadership);
        assert!(Audience::Leadership.admits(&boss) && other.admits(&boss));
    }

    #[test]
    fn a_resume_replays_only_when_nothing_between_the_id_and_now_was_lost() {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap();
        let cutoff = now - chrono::Duration::hours(24);
        assert_eq!(
            stream_start(None, 7, None, cutoff),
            StreamStart::Live { at: 7 }
        );
        assert_eq!(
            stream_start(Some(5), 7, Some((6, now)), cutoff),
            StreamStart::Replay { after: 5 }
        );
        assert_eq!(
            stream_start(Some(7), 7, None, cutoff),
            StreamStart::Replay { after: 7 }
        );
        // Another tenant's higher id, an id whose successor was purged, one past retention.
        assert_eq!(
            stream_start(Some(90), 7, None, cutoff),
            StreamStart::Resync { at: 7 }
        );
        assert_eq!(
            stream_start(Some(2), 7, Some((5, now)), cutoff),
            StreamStart::Resync { at: 7 }
        );
        assert_eq!(
            stream_start(
                Some(5),
                7,
                Some((6, cutoff - chrono::Duration::seconds(1))),
                cutoff
            ),
            StreamStart::Resync { at: 7 }
        );
    }

    #[test]
    fn message_events_carry_no_number_or_body() {
        let event = message_stored(Uuid::nil(), Direction::Inbound, "+1 (555) 123-4567");
        assert_eq!(event.event_type, EventType::MessageReceived);
        assert_eq!(event.payload["customer_number_last4"], "4567");
        assert!(!Value::Object(event.payload).to_string().contains("555"));
    }

    #[test]
    fn only_follow_ups_and_texts_that_failed_for_good_make_failure_events() {
        let dead = Finish::Dead {
            error: "refused".into(),
        };
        let retry = Finish::RetryAt {
            at: Utc::now(),
            error: "timeout".into(),
        };
        let id = Uuid::nil();
        assert_eq!(
            job_finished(id, "send_message", &dead).map(|event| event.event_type),
            Some(EventType::MessageFailed)
        );
        assert_eq!(
            job_finished(id, "missed_call_recovery", &dead).map(|event| event.event_type),
            Some(EventType::FollowUpFailed)
        );
        assert_eq!(job_finished(id, "send_message", &retry), None);
        assert_eq!(job_finished(id, "transcription", &dead), None);
        let sent = outbound_completed(
            OutboundKind::Sms,
            "missed_call_recovery:org_1:abc",
            Some(id),
            "+15551234567",
        );
        let types: Vec<_> = sent.iter().map(|event| event.event_type).collect();
        assert_eq!(types, [EventType::MessageSent, EventType::FollowUpSent]);
    }

    #[test]
    fn tickets_name_their_tenant_and_need_a_long_secret() {
        let secret = "a".repeat(43);
        assert_eq!(
            ticket_tenant(&format!("org_1.{secret}")).map(|t| t.as_str().to_owned()),
            Some("org_1".to_owned())
        );
        assert_eq!(ticket_tenant("org_1.short"), None);
        assert_eq!(ticket_tenant(&format!("org 1.{secret}")), None);
        assert_ne!(ticket_digest("a"), ticket_digest("b"));
    }
}
