//! The live events as they travel: one JSON object per event, its `type` the
//! discriminator, the same on Server-Sent Events (`data:` of an event whose `id:` is
//! the event's number and `event:` its type) and on WebSocket (one text message per
//! event). Their schemas are in the OpenAPI document (`StreamMessage`), so clients
//! generate types for them as for the REST API.

use chrono::{DateTime, Utc};
use otto_core::live::{EventType, LiveEvent};
use poem::web::sse::Event;
use poem_openapi::types::ToJSON;
use poem_openapi::{Object, Union};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::live::stream::StreamItem;

/// A call Otto had not seen: fetch it with `GET /api/v1/calls/{call_id}`.
#[derive(Debug, Clone, Object)]
pub struct CallCreatedEvent {
    /// The event's number in the tenant's stream; resume after it with `since` or
    /// `Last-Event-ID`.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// The call.
    pub call_id: Uuid,
}

/// A call changed: `changed` names what (`status`, `duration`, `direction`,
/// `customer`, `recording`, `transcript`, `analysis`, `booked`, `appointment_at`,
/// `notes`, `assigned_rep`).
#[derive(Debug, Clone, Object)]
pub struct CallUpdatedEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// The call.
    pub call_id: Uuid,
    /// What changed.
    pub changed: Vec<String>,
}

/// A text message arrived from a customer (the body is fetched through
/// `GET /api/v1/messages`, never carried here).
#[derive(Debug, Clone, Object)]
pub struct MessageReceivedEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// The message.
    pub message_id: Uuid,
    /// The last four digits of the customer's number, to find the thread.
    pub customer_number_last4: String,
}

/// A text message went out.
#[derive(Debug, Clone, Object)]
pub struct MessageSentEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// The message.
    pub message_id: Uuid,
    /// The last four digits of the customer's number.
    pub customer_number_last4: String,
}

/// A text message a user wrote could not be sent (its job failed for good).
#[derive(Debug, Clone, Object)]
pub struct MessageFailedEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// The send job (`GET /api/v1/jobs/{job_id}` tells why).
    pub job_id: Uuid,
}

/// A follow-up (a text or an AI call after a call) was queued.
#[derive(Debug, Clone, Object)]
pub struct FollowUpScheduledEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// Its job.
    pub job_id: Uuid,
    /// `missed_call_recovery` or `ai_follow_up`.
    pub kind: String,
}

/// A follow-up was done (the provider accepted the text or the call).
#[derive(Debug, Clone, Object)]
pub struct FollowUpSentEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// `missed_call_recovery` or `ai_follow_up`.
    pub kind: String,
}

/// A follow-up failed for good.
#[derive(Debug, Clone, Object)]
pub struct FollowUpFailedEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When the change committed.
    pub occurred_at: DateTime<Utc>,
    /// Its job.
    pub job_id: Uuid,
    /// `missed_call_recovery` or `ai_follow_up`.
    pub kind: String,
}

/// A provider delivery routed to the company could not be applied (leadership
/// only): see `GET /api/v1/webhooks/deliveries/{delivery_id}`.
#[derive(Debug, Clone, Object)]
pub struct WebhookFailedEvent {
    /// The event's number in the tenant's stream.
    pub id: u64,
    /// When it was logged.
    pub occurred_at: DateTime<Utc>,
    /// The logged delivery.
    pub delivery_id: Uuid,
    /// `callrail`, `twilio` or `bland`.
    pub provider: String,
    /// The route's last segment (`call-complete`, `sms`, ...).
    pub route: String,
}

/// The stream cannot continue from the client's id (it is older than the
/// retention, or not this company's): refetch what the screen shows through the REST
/// API, then carry on; later events follow on this stream.
#[derive(Debug, Clone, Object)]
pub struct ResyncEvent {
    /// The id to resume after from now on.
    pub id: u64,
    /// Why: `unknown_or_expired_id`.
    pub reason: String,
}

/// The server ends the stream: reconnect (with the last id) after the `retry` hint.
#[derive(Debug, Clone, Object)]
pub struct CloseEvent {
    /// `shutdown` (this process is stopping) or `slow_consumer` (the client read too
    /// slowly and fell behind).
    pub reason: String,
}

/// One message of a live-event stream, told apart by `type`.
#[derive(Debug, Clone, Union)]
#[oai(discriminator_name = "type")]
pub enum StreamMessage {
    /// `call.created`
    #[oai(mapping = "call.created")]
    CallCreated(CallCreatedEvent),
    /// `call.updated`
    #[oai(mapping = "call.updated")]
    CallUpdated(CallUpdatedEvent),
    /// `message.received`
    #[oai(mapping = "message.received")]
    MessageReceived(MessageReceivedEvent),
    /// `message.sent`
    #[oai(mapping = "message.sent")]
    MessageSent(MessageSentEvent),
    /// `message.failed`
    #[oai(mapping = "message.failed")]
    MessageFailed(MessageFailedEvent),
    /// `follow_up.scheduled`
    #[oai(mapping = "follow_up.scheduled")]
    FollowUpScheduled(FollowUpScheduledEvent),
    /// `follow_up.sent`
    #[oai(mapping = "follow_up.sent")]
    FollowUpSent(FollowUpSentEvent),
    /// `follow_up.failed`
    #[oai(mapping = "follow_up.failed")]
    FollowUpFailed(FollowUpFailedEvent),
    /// `webhook.failed`
    #[oai(mapping = "webhook.failed")]
    WebhookFailed(WebhookFailedEvent),
    /// `resync`
    #[oai(mapping = "resync")]
    Resync(ResyncEvent),
    /// `close`
    #[oai(mapping = "close")]
    Close(CloseEvent),
}

fn text(payload: &Map<String, Value>, key: &str) -> String {
    payload
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn id(payload: &Map<String, Value>, key: &str) -> Uuid {
    payload
        .get(key)
        .and_then(Value::as_str)
        .and_then(|text| Uuid::parse_str(text).ok())
        .unwrap_or_default()
}

impl StreamMessage {
    /// The wire form of a stored event.
    pub fn of(event: &LiveEvent) -> Self {
        let (seq, at, payload) = (event.sequence, event.occurred_at, &event.payload);
        match event.event_type {
            EventType::CallCreated => StreamMessage::CallCreated(CallCreatedEvent {
                id: seq,
                occurred_at: at,
                call_id: id(payload, "call_id"),
            }),
            EventType::CallUpdated => StreamMessage::CallUpdated(CallUpdatedEvent {
                id: seq,
                occurred_at: at,
                call_id: id(payload, "call_id"),
                changed: payload
                    .get("changed")
                    .and_then(Value::as_array)
                    .map(|names| {
                        names
                            .iter()
                            .filter_map(|name| name.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            EventType::MessageReceived => StreamMessage::MessageReceived(MessageReceivedEvent {
                id: seq,
                occurred_at: at,
                message_id: id(payload, "message_id"),
                customer_number_last4: text(payload, "customer_number_last4"),
            }),
            EventType::MessageSent => StreamMessage::MessageSent(MessageSentEvent {
                id: seq,
                occurred_at: at,
                message_id: id(payload, "message_id"),
                customer_number_last4: text(payload, "customer_number_last4"),
            }),
            EventType::MessageFailed => StreamMessage::MessageFailed(MessageFailedEvent {
                id: seq,
                occurred_at: at,
                job_id: id(payload, "job_id"),
            }),
            EventType::FollowUpScheduled => {
                StreamMessage::FollowUpScheduled(FollowUpScheduledEvent {
                    id: seq,
                    occurred_at: at,
                    job_id: id(payload, "job_id"),
                    kind: text(payload, "kind"),
                })
            }
            EventType::FollowUpSent => StreamMessage::FollowUpSent(FollowUpSentEvent {
                id: seq,
                occurred_at: at,
                kind: text(payload, "kind"),
            }),
            EventType::FollowUpFailed => StreamMessage::FollowUpFailed(FollowUpFailedEvent {
                id: seq,
                occurred_at: at,
                job_id: id(payload, "job_id"),
                kind: text(payload, "kind"),
            }),
            EventType::WebhookFailed => StreamMessage::WebhookFailed(WebhookFailedEvent {
                id: seq,
                occurred_at: at,
                delivery_id: id(payload, "delivery_id"),
                provider: text(payload, "provider"),
                route: text(payload, "route"),
            }),
        }
    }

    /// The wire form of a stream item, with its SSE id and type.
    pub fn of_item(item: &StreamItem) -> (Option<u64>, &'static str, Self) {
        match item {
            StreamItem::Event(event) => (
                Some(event.sequence),
                event.event_type.as_str(),
                Self::of(event),
            ),
            StreamItem::Resync { at } => (
                Some(*at),
                "resync",
                StreamMessage::Resync(ResyncEvent {
                    id: *at,
                    reason: "unknown_or_expired_id".to_owned(),
                }),
            ),
            StreamItem::Closing(reason) => (
                None,
                "close",
                StreamMessage::Close(CloseEvent {
                    reason: reason.as_str().to_owned(),
                }),
            ),
        }
    }
}

/// A stream item's SSE id and type and its JSON text; an event's text is made once
/// for every stream that sends it.
pub fn wire(item: &StreamItem) -> (Option<u64>, &'static str, String) {
    match item {
        StreamItem::Event(event) => (
            Some(event.sequence),
            event.event_type.as_str(),
            event
                .wire(|event| StreamMessage::of(event).to_json_string())
                .to_owned(),
        ),
        _ => {
            let (id, event_type, message) = StreamMessage::of_item(item);
            (id, event_type, message.to_json_string())
        }
    }
}

/// A stream item as a Server-Sent Event.
pub fn sse_event(item: &StreamItem) -> Event {
    let (id, event_type, text) = wire(item);
    let event = Event::message(text).event_type(event_type);
    match id {
        Some(id) => event.id(id.to_string()),
        None => event,
    }
}
