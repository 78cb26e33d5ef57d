//! A Server-Sent Events reader for tests, framing by the spec (fields up to a blank
//! line; comments, such as heartbeats, skipped), over a test or a real response.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

/// How long a test waits for an event that should come.
pub const WAIT: Duration = Duration::from_secs(5);

/// One SSE message: (id, event type, data).
pub type Message3 = (String, String, Value);

/// A Server-Sent Events reader over a response body, framing by the spec: fields
/// up to a blank line; comments (heartbeats) skipped.
pub struct SseReader {
    body: futures_util::stream::BoxStream<'static, Result<Vec<u8>, std::io::Error>>,
    buffer: String,
}

/// One SSE frame's fields.
#[derive(Debug, Default, PartialEq)]
pub struct Frame {
    pub id: String,
    pub event: String,
    pub data: String,
    pub retry: Option<u64>,
}

impl SseReader {
    pub fn of(response: poem::test::TestResponse) -> Self {
        SseReader {
            body: response
                .0
                .into_body()
                .into_bytes_stream()
                .map(|chunk| chunk.map(|bytes| bytes.to_vec()))
                .boxed(),
            buffer: String::new(),
        }
    }

    pub async fn frame(&mut self, within: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                let mut frame = Frame::default();
                for line in raw.lines().filter(|line| !line.starts_with(':')) {
                    let (field, value) = line.split_once(": ").unwrap_or((line, ""));
                    match field {
                        "id" => frame.id = value.to_owned(),
                        "event" => frame.event = value.to_owned(),
                        "data" => frame.data.push_str(value),
                        "retry" => frame.retry = value.parse().ok(),
                        _ => {}
                    }
                }
                if frame == Frame::default() {
                    continue;
                }
                return Some(frame);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            self.buffer
                .push_str(std::str::from_utf8(&chunk.expect("readable")).expect("UTF-8"));
        }
    }

    pub async fn next_message(&mut self) -> Message3 {
        loop {
            let frame = self.frame(WAIT).await.expect("an event within 5 s");
            if frame.retry.is_none() {
                let data = serde_json::from_str(&frame.data).expect("JSON data");
                return (frame.id, frame.event, data);
            }
        }
    }

    /// Nothing more arrives within a short while.
    pub async fn assert_quiet(&mut self) {
        while let Some(frame) = self.frame(Duration::from_millis(300)).await {
            assert!(frame.retry.is_some(), "unexpected event {frame:?}");
        }
    }
}
