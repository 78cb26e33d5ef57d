//! # sms-gateway: a second adapter for Otto's `SmsSender` port
//!
//! A worked example of writing an adapter for a port of `otto-core` and proving it
//! with the port's contract suite (`docs/testing.md` walks through it). The provider
//! is a plain JSON SMS API, the shape most SMS gateways share:
//!
//! - `POST {base}/v1/messages` with `Authorization: Bearer <key>` and
//!   `{"to", "from", "text"}` answers `201 {"id", "created_at"}`;
//! - `GET {base}/v1/messages?to=&from=&created_after=<RFC 3339>` answers
//!   `{"data": [{"id", "to", "from", "text", "created_at"}]}`, newest first.
//!
//! The adapter holds no business rule: it turns a [`SmsRequest`] into the provider's
//! request and the provider's answer into a [`SentSms`] or a [`ProviderError`]. The
//! timeouts, retries and the mapping of statuses to errors come from
//! `otto_adapters::providers::http::ProviderHttp`, shared with Otto's own adapters.

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use otto_adapters::providers::http::{ProviderHttp, Repeat};
use otto_core::ports::{ProviderError, SentSms, SmsRequest, SmsSender};
use serde::{Deserialize, Serialize};

/// The provider's name in errors, metrics and logs.
pub const PROVIDER: &str = "sms-gateway";

/// Sends text messages through one account of the gateway.
#[derive(Clone)]
pub struct GatewaySms {
    http: ProviderHttp,
    messages_url: url::Url,
    api_key: String,
}

impl std::fmt::Debug for GatewaySms {
    // The API key is a credential: never in a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewaySms")
            .field("messages_url", &self.messages_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Serialize)]
struct Outgoing<'a> {
    to: &'a str,
    from: &'a str,
    text: &'a str,
}

#[derive(Debug, Deserialize)]
struct Accepted {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    created_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
struct Listing {
    data: Vec<Listed>,
}

impl GatewaySms {
    /// A sender at `base_url` authenticated with `api_key`; an error names a base URL
    /// that cannot be one.
    pub fn new(http: ProviderHttp, base_url: &str, api_key: &str) -> Result<Self, String> {
        let messages_url = url::Url::parse(base_url)
            .and_then(|base| base.join("v1/messages"))
            .map_err(|error| format!("the gateway's base URL: {error}"))?;
        Ok(GatewaySms {
            http,
            messages_url,
            api_key: api_key.to_owned(),
        })
    }
}

#[async_trait]
impl SmsSender for GatewaySms {
    async fn send(&self, request: &SmsRequest) -> Result<SentSms, ProviderError> {
        let outgoing = Outgoing {
            to: &request.to,
            from: &request.from,
            text: &request.body,
        };
        // A send whose answer is lost may have gone out: repeated only when the
        // gateway said it did not take it. The job's lookup settles the rest.
        let response = self
            .http
            .send(Repeat::OnlyIfRefused, || {
                self.http
                    .client()
                    .post(self.messages_url.clone())
                    .bearer_auth(&self.api_key)
                    .json(&outgoing)
            })
            .await?;
        let accepted: Accepted = self.http.json(response).await?;
        Ok(SentSms {
            provider_message_id: accepted.id,
        })
    }

    async fn find_sent(
        &self,
        request: &SmsRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<SentSms>, ProviderError> {
        let mut url = self.messages_url.clone();
        url.query_pairs_mut()
            .append_pair("to", &request.to)
            .append_pair("from", &request.from)
            .append_pair(
                "created_after",
                &since.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        let response = self
            .http
            .send(Repeat::Safe, || {
                self.http
                    .client()
                    .get(url.clone())
                    .bearer_auth(&self.api_key)
            })
            .await?;
        let listing: Listing = self.http.json(response).await?;
        // The text and the time are checked here too: a gateway's filter may be
        // coarser than the port's promise.
        Ok(listing
            .data
            .into_iter()
            .find(|message| {
                message.text.as_deref() == Some(request.body.as_str())
                    && message.created_at.is_none_or(|created| created >= since)
            })
            .map(|message| SentSms {
                provider_message_id: message.id,
            }))
    }
}
