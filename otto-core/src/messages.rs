//! Text messages with customers, read as conversations (one per customer number),
//! and sent by users through the job queue.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::calls::Direction;

mod sending;

pub use sending::{MAX_MESSAGE_LEN, Messaging, MessagingError, OutgoingMessage};

/// A stored text message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Otto's id.
    pub id: Uuid,
    /// The call it followed up, if any.
    pub call_id: Option<Uuid>,
    /// Who carried it (`twilio`).
    pub provider: String,
    /// From the customer (inbound) or to them (outbound).
    pub direction: Direction,
    /// The customer's number (E.164).
    pub customer_number: String,
    /// The text.
    pub body: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

/// The messages exchanged with one customer number, summarised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// The customer's number.
    pub customer_number: String,
    /// When the latest message was sent.
    pub last_message_at: DateTime<Utc>,
    /// The latest message's text.
    pub last_body: String,
    /// The latest message's direction.
    pub last_direction: Direction,
    /// How many messages the conversation holds.
    pub message_count: u64,
}

/// A position in the latest-first list of conversations: the (latest message time,
/// number) of the last conversation of the previous page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationCursor {
    /// Latest message time of the last conversation seen.
    pub last_message_at: DateTime<Utc>,
    /// Its customer number.
    pub customer_number: String,
}

impl ConversationCursor {
    /// The cursor after `conversation`.
    pub fn after(conversation: &Conversation) -> Self {
        ConversationCursor {
            last_message_at: conversation.last_message_at,
            customer_number: conversation.customer_number.clone(),
        }
    }

    /// An opaque text form for APIs: `<unix micros>.<number>`.
    pub fn encode(&self) -> String {
        format!(
            "{}.{}",
            self.last_message_at.timestamp_micros(),
            self.customer_number
        )
    }

    /// Parses [`ConversationCursor::encode`]'s form; `None` for anything else (an
    /// empty number or one with a NUL, a time outside years 1-9999). The number is
    /// not held to E.164: conversations are keyed by what providers sent.
    pub fn decode(text: &str) -> Option<Self> {
        let (micros, number) = text.split_once('.')?;
        if number.is_empty() || crate::validation::has_nul(number) {
            return None;
        }
        Some(ConversationCursor {
            last_message_at: DateTime::from_timestamp_micros(micros.parse().ok()?)
                .filter(crate::validation::is_storable_time)?,
            customer_number: number.to_owned(),
        })
    }
}

/// A position in the newest-first list of one conversation's messages: the (sent
/// time, id) of the last message of the previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageCursor {
    /// Sent time of the last message seen.
    pub sent_at: DateTime<Utc>,
    /// Its id.
    pub id: Uuid,
}

impl MessageCursor {
    /// The cursor after `message`.
    pub fn after(message: &Message) -> Self {
        MessageCursor {
            sent_at: message.sent_at,
            id: message.id,
        }
    }

    /// An opaque text form for APIs: `<unix micros>.<uuid>`.
    pub fn encode(&self) -> String {
        crate::calls::CallCursor {
            started_at: self.sent_at,
            id: self.id,
        }
        .encode()
    }

    /// Parses [`MessageCursor::encode`]'s form; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        crate::calls::CallCursor::decode(text).map(|cursor| MessageCursor {
            sent_at: cursor.started_at,
            id: cursor.id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_cursors_round_trip_and_garbage_is_refused() {
        let cursor = ConversationCursor {
            last_message_at: DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid"),
            customer_number: "+15551230000".into(),
        };
        assert_eq!(ConversationCursor::decode(&cursor.encode()), Some(cursor));
        for garbage in ["", "+1555", "x.+1555", "12."] {
            assert_eq!(ConversationCursor::decode(garbage), None, "{garbage}");
        }
    }
}
