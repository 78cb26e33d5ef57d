//! One line of the input: `{"event": "callrail/call-complete", "signature": "…",
//! "body": "<the raw body, as the provider sent it>"}`. The body is a string, not
//! parsed JSON, because the signature is over the exact bytes the provider sent.

use std::io::{self, BufRead, Read};

use otto_core::ports::StoreError;
use otto_core::webhooks::signatures::SignatureError;
use otto_core::webhooks::{PayloadError, Provider, WebhookEvent};
use serde::{Deserialize, Serialize};

/// The longest line read (Otto's own webhook body limit is 1 MiB).
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// A delivery as written in the input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryLine {
    /// The route's provider and event, as in Otto's URL: `callrail/call-complete`,
    /// `callrail/pre-call`, `bland`.
    pub event: String,
    /// The provider's signature header, as sent.
    #[serde(default)]
    pub signature: Option<String>,
    /// The raw body.
    pub body: String,
}

/// Why a line was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE_BYTES`].
    #[error("the line is longer than {MAX_LINE_BYTES} bytes")]
    TooLong,
    /// Not UTF-8.
    #[error("the line is not UTF-8 text")]
    NotText,
    /// Not a JSON object with `event`, `signature` and `body`.
    #[error("the line is not a delivery: {0}")]
    Unreadable(#[from] serde_json::Error),
    /// An event Otto has no route for.
    #[error("unknown event {0:?}: expected one of {known}", known = known_events())]
    UnknownEvent(String),
    /// A provider whose signature covers more than the body.
    #[error(
        "{0} deliveries cannot be imported from a file: their signature covers more than the body"
    )]
    UnsupportedProvider(Provider),
    /// No secret to verify the provider's signature with.
    #[error("no signing secret for {0}: set its *_WEBHOOK_SECRET")]
    NoSecret(Provider),
    /// The signature was refused.
    #[error("{0}")]
    Signature(SignatureError),
    /// The body cannot be read as the event's payload.
    #[error(transparent)]
    Payload(PayloadError),
    /// The database failed; nothing of this delivery was kept.
    #[error(transparent)]
    Store(StoreError),
}

fn known_events() -> String {
    WebhookEvent::ALL
        .iter()
        .filter(|event| matches!(event.provider(), Provider::CallRail | Provider::Bland))
        .map(|event| event_name(*event))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `callrail/call-complete`, `bland`: the route's path after `/webhook/`.
pub fn event_name(event: WebhookEvent) -> String {
    event.path().trim_start_matches("/webhook/").to_owned()
}

impl DeliveryLine {
    /// Parses one line.
    pub fn parse(text: &str) -> Result<Self, LineError> {
        if text.len() > MAX_LINE_BYTES {
            return Err(LineError::TooLong);
        }
        Ok(serde_json::from_str(text)?)
    }

    /// The route this delivery came through.
    pub fn event(&self) -> Result<WebhookEvent, LineError> {
        WebhookEvent::ALL
            .into_iter()
            .find(|event| event_name(*event) == self.event)
            .ok_or_else(|| LineError::UnknownEvent(self.event.chars().take(64).collect()))
    }
}

/// The next line of `input` without its line break, `None` at the end. At most
/// [`MAX_LINE_BYTES`] are held: a longer line is skipped to its end and answered
/// [`LineError::TooLong`], so one line cannot take the process's memory.
pub fn read_line(input: &mut impl BufRead) -> io::Result<Option<Result<String, LineError>>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
    if input.by_ref().take(limit).read_until(b'\n', &mut bytes)? == 0 {
        return Ok(None);
    }
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
    } else if bytes.len() > MAX_LINE_BYTES {
        skip_rest_of_line(input)?;
        return Ok(Some(Err(LineError::TooLong)));
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    Ok(Some(
        String::from_utf8(bytes).map_err(|_| LineError::NotText),
    ))
}

fn skip_rest_of_line(input: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buffered = input.fill_buf()?;
        if buffered.is_empty() {
            return Ok(());
        }
        match buffered.iter().position(|byte| *byte == b'\n') {
            Some(end) => {
                input.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffered.len();
                input.consume(all);
            }
        }
    }
}

/// A line for `body` delivered through `event`, signed with `signature`.
pub fn signed_line(event: WebhookEvent, signature: String, body: String) -> String {
    serde_json::to_string(&DeliveryLine {
        event: event_name(event),
        signature: Some(signature),
        body,
    })
    .expect("a line of strings serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Result<String, String>> {
        let mut reader = io::BufReader::with_capacity(64, input);
        let mut read = Vec::new();
        while let Some(line) = read_line(&mut reader).expect("reads") {
            read.push(line.map_err(|error| error.to_string()));
        }
        read
    }

    #[test]
    fn an_over_long_or_binary_line_is_refused_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nnext\r\n\xff\xfe\nlast");
        assert_eq!(
            lines(&input),
            [
                Err(LineError::TooLong.to_string()),
                Ok("next".to_owned()),
                Err(LineError::NotText.to_string()),
                Ok("last".to_owned()),
            ]
        );
        let mut exactly = vec![b'y'; MAX_LINE_BYTES];
        exactly.push(b'\n');
        assert_eq!(lines(&exactly), [Ok("y".repeat(MAX_LINE_BYTES))]);
    }
}
