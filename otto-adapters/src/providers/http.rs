//! The HTTP client every provider adapter shares: a timeout per request, retries on
//! the answers that mean "not now" (429, 502-504, and for idempotent requests also
//! 500 and network failures) honouring `Retry-After`, and errors that name the
//! provider and status but never a credential.

use std::time::Duration;

use chrono::{DateTime, Utc};
use otto_core::ports::ProviderError;
use reqwest::{RequestBuilder, Response, StatusCode};

/// Longest provider error text kept in a job's `last_error`.
const MAX_ERROR_TEXT: usize = 300;

/// How an adapter talks to its provider.
#[derive(Debug, Clone)]
pub struct ProviderHttp {
    client: reqwest::Client,
    provider: &'static str,
    retries: u32,
    backoff: Duration,
    max_wait: Duration,
}

/// Whether repeating a request is harmless.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A read, or a write the provider deduplicates: retry on any transient failure.
    Safe,
    /// A write that may have taken effect when the answer was lost (sending an SMS):
    /// retry only when the provider said it did not take the request.
    OnlyIfRefused,
}

impl ProviderHttp {
    /// A client for `provider` with `timeout` per request, retrying up to `retries`
    /// times.
    pub fn new(provider: &'static str, timeout: Duration, retries: u32) -> Result<Self, String> {
        crate::tls::ensure_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|error| format!("{provider} HTTP client: {error}"))?;
        Ok(ProviderHttp {
            client,
            provider,
            retries,
            backoff: Duration::from_millis(200),
            max_wait: Duration::from_secs(30),
        })
    }

    /// Waits `backoff` (doubling) between retries that the provider gave no
    /// `Retry-After` for; tests shorten it.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// The underlying client, to build requests.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The provider's name.
    pub fn provider(&self) -> &'static str {
        self.provider
    }

    /// Sends the request `build` makes (once per attempt) and returns the successful
    /// response.
    pub async fn send(
        &self,
        repeat: Repeat,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Response, ProviderError> {
        let mut attempt = 0;
        loop {
            let sent = match build().build() {
                Ok(request) => {
                    crate::traced_http::execute(&self.client, self.provider, request).await
                }
                Err(error) => Err(error),
            };
            let failure = match sent {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => self.refusal(response, repeat).await,
                Err(error) => self.network_failure(&error, repeat),
            };
            match failure {
                Failure::Retry { wait, error } if attempt < self.retries => {
                    let wait = wait.unwrap_or(self.backoff * 2u32.saturating_pow(attempt));
                    if wait > self.max_wait {
                        return Err(error);
                    }
                    tracing::debug!(
                        provider = self.provider,
                        attempt,
                        ?wait,
                        "retrying provider request"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Failure::Retry { error, .. } | Failure::Final(error) => return Err(error),
            }
        }
    }

    /// Reads a successful response as JSON of type `T`.
    pub async fn json<T: serde::de::DeserializeOwned>(
        &self,
        response: Response,
    ) -> Result<T, ProviderError> {
        let bytes = response
            .bytes()
            .await
            .map_err(|error| ProviderError::Transient {
                provider: self.provider,
                message: format!("reading the answer failed: {}", without_url(&error)),
                retry_after: None,
            })?;
        from_json_without_nul(&bytes).map_err(|error| ProviderError::Permanent {
            provider: self.provider,
            message: format!("unexpected answer: {error}"),
        })
    }

    async fn refusal(&self, response: Response, repeat: Repeat) -> Failure {
        let status = response.status();
        let retry_after = retry_after(&response);
        let text = response.text().await.unwrap_or_default();
        let message = format!("HTTP {}: {}", status.as_u16(), summary(&text));
        let refused_for_now = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS
                | StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT
        ) || (status == StatusCode::INTERNAL_SERVER_ERROR
            && repeat == Repeat::Safe);
        if refused_for_now || status.is_server_error() {
            let error = ProviderError::Transient {
                provider: self.provider,
                message,
                retry_after,
            };
            if refused_for_now {
                Failure::Retry {
                    wait: retry_after,
                    error,
                }
            } else {
                Failure::Final(error)
            }
        } else {
            Failure::Final(ProviderError::Permanent {
                provider: self.provider,
                message,
            })
        }
    }

    fn network_failure(&self, error: &reqwest::Error, repeat: Repeat) -> Failure {
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "connection failed"
        } else {
            "request failed"
        };
        let error = ProviderError::Transient {
            provider: self.provider,
            message: format!("{kind}: {}", without_url(error)),
            retry_after: None,
        };
        match repeat {
            Repeat::Safe => Failure::Retry { wait: None, error },
            Repeat::OnlyIfRefused => Failure::Final(error),
        }
    }
}

enum Failure {
    Retry {
        wait: Option<Duration>,
        error: ProviderError,
    },
    Final(ProviderError),
}

/// `Retry-After` in seconds or as an HTTP date.
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    (at - Utc::now()).to_std().ok()
}

/// The provider's own message when the body is JSON with one, else the body's start.
fn summary(text: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(text).ok();
    let message = parsed.as_ref().and_then(|value| {
        let code = value.get("code").map(|code| code.to_string());
        let text = ["message", "error", "err_msg", "detail"]
            .iter()
            .find_map(|key| match value.get(key) {
                Some(serde_json::Value::String(text)) => Some(text.clone()),
                Some(serde_json::Value::Object(inner)) => inner
                    .get("message")
                    .and_then(|message| message.as_str())
                    .map(str::to_owned),
                _ => None,
            })?;
        Some(match code {
            Some(code) => format!("{code} {text}"),
            None => text,
        })
    });
    // The text becomes a job's stored error: no NUL, which no text column stores.
    message
        .unwrap_or_else(|| text.trim().to_owned())
        .chars()
        .filter(|c| *c != '\0')
        .take(MAX_ERROR_TEXT)
        .collect()
}

/// A reqwest error without its URL, which may carry credentials in a query.
fn without_url(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    if let Some(url) = error.url() {
        text = text.replace(url.as_str(), "<provider URL>");
    }
    text
}

/// Reads JSON from a provider as `T`, with every NUL character removed from its
/// strings and keys first: a provider's text (a transcript, a summary, a name) is
/// stored, and no text column stores a NUL.
pub fn from_json_without_nul<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
) -> serde_json::Result<T> {
    let mut document: serde_json::Value = serde_json::from_slice(bytes)?;
    strip_nul(&mut document);
    serde_json::from_value(document)
}

fn strip_nul(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(text) if text.contains('\0') => text.retain(|c| c != '\0'),
        Value::Array(items) => items.iter_mut().for_each(strip_nul),
        Value::Object(object) => {
            if object.keys().any(|key| key.contains('\0')) {
                *object = std::mem::take(object)
                    .into_iter()
                    .map(|(key, value)| (key.replace('\0', ""), value))
                    .collect();
            }
            object.values_mut().for_each(strip_nul);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_summarised_without_nul_characters() {
        for body in [
            r#"{"code":21211,"message":"bad\u0000number"}"#,
            "plain\0text",
        ] {
            let summary = summary(body);
            assert!(!summary.contains('\0'), "{summary:?}");
            assert!(
                summary.contains("bad") || summary.contains("plain"),
                "{summary}"
            );
        }
    }

    #[test]
    fn answers_lose_their_nul_characters_in_strings_and_names() {
        let answer: serde_json::Value =
            from_json_without_nul(br#"{"tran\u0000script":["a\u0000b",{"c":"d\u0000"}]}"#)
                .expect("parses");
        assert_eq!(
            answer,
            serde_json::json!({"transcript": ["ab", {"c": "d"}]})
        );
    }
}
