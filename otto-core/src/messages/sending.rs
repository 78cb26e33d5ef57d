//! Reading conversations and sending a text message to a customer: validated and
//! checked against opt-outs here, sent by the `send_message` job (so it is retried,
//! never doubled, and its status visible).

use std::sync::Arc;

use serde_json::json;

use super::{Conversation, ConversationCursor, Message, MessageCursor};
use crate::calls::Page;
use crate::jobs::{Enqueued, JobKind, NewJob};
use crate::ports::{Clock, FollowUpStore, IdGenerator, JobQueue, MessageLog, StoreError};
use crate::tenancy::{Principal, TenantScope};
use crate::validation::{E164_EXPECTED, InvalidField, is_e164};

/// Longest message a user may send, in characters.
pub const MAX_MESSAGE_LEN: usize = crate::follow_ups::MAX_SMS_LEN;

/// Longest client idempotency key.
const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// A message a user wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// The customer's number (E.164).
    pub to: String,
    /// The text.
    pub body: String,
}

/// Why messages could not be read or sent.
#[derive(Debug, thiserror::Error)]
pub enum MessagingError {
    /// The request breaks a rule.
    #[error("invalid message")]
    Invalid(Vec<InvalidField>),
    /// The customer asked not to be texted.
    #[error("the customer opted out of text messages")]
    OptedOut,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The messaging service. Every role may read and send the company's messages.
#[derive(Clone)]
pub struct Messaging {
    log: Arc<dyn MessageLog>,
    opt_outs: Arc<dyn FollowUpStore>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for Messaging {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messaging").finish_non_exhaustive()
    }
}

fn invalid(field: &'static str, message: impl Into<String>) -> MessagingError {
    MessagingError::Invalid(vec![InvalidField::new(field, message)])
}

impl Messaging {
    /// Messages read from `log`, opt-outs from `opt_outs`, sends through `queue`.
    pub fn new(
        log: Arc<dyn MessageLog>,
        opt_outs: Arc<dyn FollowUpStore>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
    ) -> Self {
        Messaging {
            log,
            opt_outs,
            queue,
            clock,
            ids,
        }
    }

    /// The caller's company's conversations, latest first.
    pub async fn conversations(
        &self,
        principal: &Principal,
        cursor: Option<ConversationCursor>,
        limit: u32,
    ) -> Result<Page<Conversation, ConversationCursor>, MessagingError> {
        Ok(self
            .log
            .conversations(&TenantScope::of(principal), cursor, limit)
            .await?)
    }

    /// The messages with `customer_number`, newest first.
    pub async fn conversation(
        &self,
        principal: &Principal,
        customer_number: &str,
        cursor: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Page<Message, MessageCursor>, MessagingError> {
        if !is_e164(customer_number) {
            return Err(invalid("customer_number", E164_EXPECTED));
        }
        Ok(self
            .log
            .messages_with(&TenantScope::of(principal), customer_number, cursor, limit)
            .await?)
    }

    /// Enqueues `message` to be sent. With an `idempotency_key`, sending again with
    /// the same key returns the first job instead of a second message.
    pub async fn send(
        &self,
        principal: &Principal,
        message: OutgoingMessage,
        idempotency_key: Option<&str>,
        trace_context: Option<String>,
    ) -> Result<Enqueued, MessagingError> {
        let mut problems = Vec::new();
        if !is_e164(&message.to) {
            problems.push(InvalidField::new("to", E164_EXPECTED));
        }
        if message.body.trim().is_empty() {
            problems.push(InvalidField::new("body", "must not be blank"));
        } else if message.body.chars().count() > MAX_MESSAGE_LEN {
            problems.push(InvalidField::new(
                "body",
                format!("must be at most {MAX_MESSAGE_LEN} characters"),
            ));
        }
        if idempotency_key.is_some_and(|key| key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN)
        {
            problems.push(InvalidField::new(
                "Idempotency-Key",
                format!("must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters"),
            ));
        }
        if !problems.is_empty() {
            return Err(MessagingError::Invalid(problems));
        }
        let scope = TenantScope::of(principal);
        if self.opt_outs.is_opted_out(&scope, &message.to).await? {
            return Err(MessagingError::OptedOut);
        }
        let request = match idempotency_key {
            Some(key) => key.to_owned(),
            None => self.ids.new_id().to_string(),
        };
        let now = self.clock.now();
        let job = NewJob {
            kind: JobKind::SendMessage,
            tenant_id: Some(principal.tenant_id.clone()),
            unique_key: format!(
                "{}:{}:{}:{request}",
                JobKind::SendMessage,
                principal.tenant_id,
                principal.user_id.as_str()
            ),
            payload: json!({
                "to": message.to,
                "body": message.body,
                "requested_by": principal.user_id.as_str(),
            }),
            run_at: now,
            trace_context,
        };
        Ok(self.queue.enqueue(job, now).await?)
    }
}
