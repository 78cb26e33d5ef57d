//! `/api/v1/messages`: the company's text conversations, and sending a message
//! (queued as a job, with a tighter rate limit of its own).

use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_core::messages::{
    Conversation, ConversationCursor, MessageCursor, Messaging, MessagingError, OutgoingMessage,
};
use poem_openapi::param::{Header, Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{ApiResponse, Object, OpenApi};
use std::sync::Arc;

use super::call_views::MessageView;
use super::follow_ups::FollowUpAccepted;
use super::{
    ApiTags, bad_parameter, field_errors, invalid_body, page_cursor, page_limit, problem,
    store_failure,
};
use crate::http::auth::Caller;
use crate::http::json_body::{JsonBody, Validate};
use crate::http::problem::{FieldError, ProblemKind};
use crate::http::rate_limit::RouteLimits;
use crate::state::AppState;

/// Sending is limited per user more tightly than reading: a runaway client cannot
/// text a customer list.
#[derive(Debug)]
pub struct SendMessageLimits;

impl RouteLimits for SendMessageLimits {
    fn user() -> Option<&'static str> {
        Some("20/minute")
    }
}

/// The messages exchanged with one customer, summarised.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ConversationView {
    /// The customer's number (E.164); `GET /api/v1/messages/{customer_number}` lists
    /// the messages.
    pub customer_number: String,
    /// When the latest message was sent.
    pub last_message_at: chrono::DateTime<chrono::Utc>,
    /// The latest message's text.
    pub last_body: String,
    /// The latest message's direction: `inbound` or `outbound`.
    pub last_direction: String,
    /// How many messages the conversation holds.
    pub message_count: u64,
}

impl From<Conversation> for ConversationView {
    fn from(conversation: Conversation) -> Self {
        ConversationView {
            customer_number: conversation.customer_number,
            last_message_at: conversation.last_message_at,
            last_body: conversation.last_body,
            last_direction: conversation.last_direction.as_str().to_owned(),
            message_count: conversation.message_count,
        }
    }
}

impl Example for ConversationView {
    fn example() -> Self {
        ConversationView {
            customer_number: "+15551230000".into(),
            last_message_at: chrono::DateTime::parse_from_rfc3339("2026-11-25T15:10:00Z")
                .map(|time| time.to_utc())
                .unwrap_or_default(),
            last_body: "Yes please, tomorrow morning works.".into(),
            last_direction: "inbound".into(),
            message_count: 3,
        }
    }
}

/// A page of conversations.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct ConversationPage {
    /// The conversations, latest message first.
    pub items: Vec<ConversationView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A page of one conversation's messages.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct MessagePage {
    /// The messages, newest first.
    pub items: Vec<MessageView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// A text message to send.
#[derive(Debug, serde::Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct NewMessage {
    /// The customer's number in E.164 form.
    pub to: String,
    /// The text, 1-1600 characters.
    pub body: String,
}

impl Example for NewMessage {
    fn example() -> Self {
        NewMessage {
            to: "+15551230000".into(),
            body: "Hi Jane, this is Acme Plumbing. We can come tomorrow at 9am.".into(),
        }
    }
}

impl Validate for NewMessage {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        // The rules live in `Messaging::send`; it answers with every broken one.
        Ok(())
    }
}

/// The answer to a send request.
#[derive(Debug, ApiResponse)]
pub enum MessageAccepted {
    /// Queued; the job sends it (poll `GET /api/v1/jobs/{id}`). With the same
    /// `Idempotency-Key`, the first request's job.
    #[oai(status = 202)]
    Queued(Json<FollowUpAccepted>),
}

problem_responses!(
    /// Problems of reading messages.
    MessageReadErrors, not_found: Internal, {
    /// A parameter is invalid (`errors` names it): a cursor or limit, a number not in
    /// E.164 form.
    400 BadRequest,
    /// The credential is refused.
    403 Forbidden,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<MessagingError> for MessageReadErrors {
    fn from(error: MessagingError) -> Self {
        match error {
            // Reading validates only the number in the path.
            MessagingError::Invalid(_) => MessageReadErrors::BadRequest(bad_parameter(
                "customer_number",
                otto_core::validation::E164_EXPECTED,
            )),
            MessagingError::Store(error) => store_failure(error).into(),
            MessagingError::OptedOut => {
                tracing::error!("reading messages answered opted-out");
                MessageReadErrors::Internal(problem(
                    ProblemKind::Internal,
                    "An internal error occurred; quote the trace_id to support.",
                ))
            }
        }
    }
}

problem_responses!(
    /// Problems of sending a message.
    MessageErrors, not_found: Internal, {
    /// A parameter is invalid or the body is not JSON.
    400 BadRequest,
    /// The credential is refused.
    403 Forbidden,
    /// The customer opted out of text messages (`/problems/conflict`).
    409 Conflict,
    /// The body is larger than OTTO_MAX_BODY_BYTES.
    413 PayloadTooLarge,
    /// The body is not `application/json`.
    415 UnsupportedMediaType,
    /// A field is invalid (`errors` names each): a number not in E.164 form, a blank
    /// or too long body, an unknown field.
    422 ValidationFailed,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<MessagingError> for MessageErrors {
    fn from(error: MessagingError) -> Self {
        match error {
            MessagingError::Invalid(invalid) => {
                MessageErrors::ValidationFailed(invalid_body(field_errors(invalid)))
            }
            MessagingError::OptedOut => MessageErrors::Conflict(problem(
                ProblemKind::Conflict,
                "The customer opted out of text messages (they replied STOP); they can opt \
                 back in by replying START.",
            )),
            MessagingError::Store(error) => store_failure(error).into(),
        }
    }
}

/// Message operations.
#[derive(Clone, Debug)]
pub struct MessagesApi {
    messaging: Messaging,
}

impl MessagesApi {
    /// Operations over the state's message log, opt-outs and job queue.
    pub fn new(state: &AppState) -> Self {
        MessagesApi {
            messaging: Messaging::new(
                state.messages.clone(),
                state.follow_ups.clone(),
                state.jobs.clone(),
                Arc::new(SystemClock),
                Arc::new(UuidV7Ids),
            ),
        }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Messages")]
impl MessagesApi {
    /// The company's text conversations, one per customer number, latest message
    /// first, with cursor pagination.
    #[oai(path = "/messages", method = "get", operation_id = "listConversations")]
    async fn conversations(
        &self,
        caller: Caller,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Conversations per page, 1-100 (default 25).
        limit: Query<Option<u32>>,
    ) -> Result<Json<ConversationPage>, MessageReadErrors> {
        let cursor = page_cursor(cursor.0, ConversationCursor::decode)
            .map_err(MessageReadErrors::BadRequest)?;
        let limit = page_limit(limit.0).map_err(MessageReadErrors::BadRequest)?;
        let page = self
            .messaging
            .conversations(&caller.0, cursor, limit)
            .await?;
        Ok(Json(ConversationPage {
            items: page.items.into_iter().map(ConversationView::from).collect(),
            next_cursor: page.next.map(|next| next.encode()),
        }))
    }

    /// The messages exchanged with one customer number, newest first.
    #[oai(
        path = "/messages/:customer_number",
        method = "get",
        operation_id = "listMessages"
    )]
    async fn conversation(
        &self,
        caller: Caller,
        /// The customer's number in E.164 form (`+15551230000`; URL-encode the `+`
        /// as `%2B`).
        customer_number: Path<String>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Messages per page, 1-100 (default 25).
        limit: Query<Option<u32>>,
    ) -> Result<Json<MessagePage>, MessageReadErrors> {
        let cursor =
            page_cursor(cursor.0, MessageCursor::decode).map_err(MessageReadErrors::BadRequest)?;
        let limit = page_limit(limit.0).map_err(MessageReadErrors::BadRequest)?;
        let page = self
            .messaging
            .conversation(&caller.0, &customer_number.0, cursor, limit)
            .await?;
        Ok(Json(MessagePage {
            items: page.items.into_iter().map(MessageView::from).collect(),
            next_cursor: page.next.map(|next| next.encode()),
        }))
    }

    /// Sends a text message to a customer from the company's number. It is queued
    /// as a job and sent once (retried if Twilio is down, never doubled); a number
    /// that opted out is refused with 409. Limited to 20 per user and minute.
    #[oai(path = "/messages", method = "post", operation_id = "sendMessage")]
    async fn send(
        &self,
        caller: Caller<SendMessageLimits>,
        /// Makes retries safe: a second request with the same key (per user) returns
        /// the first one's job instead of sending again. 1-200 characters.
        #[oai(name = "Idempotency-Key")]
        idempotency_key: Header<Option<String>>,
        body: JsonBody<NewMessage>,
    ) -> Result<MessageAccepted, MessageErrors> {
        let message = OutgoingMessage {
            to: body.0.to,
            body: body.0.body,
        };
        let trace = crate::telemetry::trace_context::current_traceparent();
        let enqueued = self
            .messaging
            .send(&caller.0, message, idempotency_key.0.as_deref(), trace)
            .await?;
        tracing::info!(user_id = %caller.0.user_id, job_id = %enqueued.id(), "message queued");
        Ok(MessageAccepted::Queued(Json(enqueued.into())))
    }
}

impl poem_openapi::types::Example for ConversationPage {
    fn example() -> Self {
        ConversationPage {
            items: vec![ConversationView::example()],
            next_cursor: None,
        }
    }
}

impl poem_openapi::types::Example for MessagePage {
    fn example() -> Self {
        MessagePage {
            items: vec![MessageView::example()],
            next_cursor: None,
        }
    }
}
