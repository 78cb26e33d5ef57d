//! A delivery as received (after its signature was verified), and its plan.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::event::{Provider, WebhookEvent};
use super::payload::{Payload, PayloadError};
use super::plan::{AccountRef, Plan, Routing};
use super::{bland, callrail, clerk, twilio};

/// One webhook request's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The route it came through.
    pub event: WebhookEvent,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// Svix's message id (`svix-id`), Clerk's event id, constant across retries.
    pub message_id: Option<String>,
    /// When Otto received it.
    pub received_at: DateTime<Utc>,
    /// The W3C `traceparent` of the request that carried it: the jobs it enqueues
    /// continue that trace.
    pub trace_context: Option<String>,
    /// The request id of the request that carried it (`trace_id` in logs and
    /// problems), kept in the delivery log.
    pub trace_id: Option<String>,
}

impl Delivery {
    /// Reads the body and decides what the delivery means.
    pub fn plan(&self) -> Result<Plan, PayloadError> {
        let content_type = self.content_type.as_deref();
        let payload = if self.event.is_form() {
            Payload::form(content_type, &self.body)?
        } else {
            Payload::json(content_type, &self.body)?
        };
        match self.event.provider() {
            Provider::CallRail => callrail::plan(self, &payload),
            Provider::Twilio => twilio::plan(self, &payload),
            Provider::Clerk => clerk::plan(self, &payload),
            Provider::Bland => bland::plan(self, &payload),
        }
    }

    /// The provider accounts the body names (none when it cannot be read or is
    /// routed otherwise): before its signature is verified, only to choose the
    /// accounts' signing keys.
    pub fn named_accounts(&self) -> Vec<AccountRef> {
        match self.plan().map(|plan| plan.routing) {
            Ok(Routing::Accounts(accounts)) => accounts,
            _ => Vec::new(),
        }
    }

    /// Hex SHA-256 of the body.
    pub fn body_digest(&self) -> String {
        super::signatures::hex(&Sha256::digest(&self.body))
    }
}

/// What a text message asks of the sender, by the carriers' standard keywords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKeyword {
    /// STOP and its synonyms.
    OptOut,
    /// START and its synonyms.
    OptIn,
}

impl OptKeyword {
    /// The keyword a message consists of, if any (case and surrounding space ignored).
    pub fn of(body: &str) -> Option<Self> {
        let word = body.trim().to_ascii_uppercase();
        match word.as_str() {
            "STOP" | "STOPALL" | "STOP ALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT"
            | "OPTOUT" | "OPT OUT" | "REVOKE" => Some(OptKeyword::OptOut),
            "START" | "UNSTOP" | "YES" => Some(OptKeyword::OptIn),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_words_are_recognised_whatever_their_case() {
        assert_eq!(OptKeyword::of(" stop "), Some(OptKeyword::OptOut));
        assert_eq!(OptKeyword::of("Unsubscribe"), Some(OptKeyword::OptOut));
        assert_eq!(OptKeyword::of("start"), Some(OptKeyword::OptIn));
        assert_eq!(OptKeyword::of("please stop calling"), None);
    }

    #[test]
    fn the_digest_is_of_the_raw_body() {
        let delivery = Delivery {
            event: WebhookEvent::Bland,
            content_type: None,
            body: b"abc".to_vec(),
            message_id: None,
            received_at: DateTime::UNIX_EPOCH,
            trace_context: None,
            trace_id: None,
        };
        assert_eq!(
            delivery.body_digest(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" // pragma: allowlist secret
        );
    }
}
