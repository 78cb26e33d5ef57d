//! Bland AI's calls API: start an AI phone call whose result Bland posts to Otto's
//! webhook, and find a call started earlier (by number and Otto's reference in the
//! call's metadata).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::ports::{AiCallRequest, AiCaller, ProviderError, StartedAiCall};
use serde::Deserialize;
use serde_json::json;

use super::http::{ProviderHttp, Repeat};

/// Bland's API, as the default base URL.
pub const BLAND_API_BASE_URL: &str = "https://api.bland.ai";

/// Starts calls through one Bland account.
#[derive(Clone)]
pub struct BlandCaller {
    http: ProviderHttp,
    calls_url: url::Url,
    api_key: String,
}

impl std::fmt::Debug for BlandCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlandCaller")
            .field("calls_url", &self.calls_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Started {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct CallList {
    #[serde(default)]
    calls: Vec<ListedCall>,
}

#[derive(Debug, Deserialize)]
struct ListedCall {
    call_id: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

impl ListedCall {
    fn reference(&self) -> Option<&str> {
        self.metadata.as_ref()?.get("otto_reference")?.as_str()
    }

    fn created(&self) -> Option<DateTime<Utc>> {
        let text = self.created_at.as_deref()?;
        DateTime::parse_from_rfc3339(text)
            .map(|at| at.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                // Bland also writes timestamps without an offset; they are UTC.
                chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
                    .ok()
                    .map(|at| at.and_utc())
            })
    }
}

impl BlandCaller {
    /// A caller authenticated with `api_key` at `base_url` (BLAND_API_BASE_URL).
    pub fn new(http: ProviderHttp, base_url: &str, api_key: &str) -> Result<Self, String> {
        let calls_url = url::Url::parse(base_url)
            .and_then(|base| base.join("v1/calls"))
            .map_err(|error| format!("BLAND_API_BASE_URL: {error}"))?;
        Ok(BlandCaller {
            http,
            calls_url,
            api_key: api_key.to_owned(),
        })
    }
}

#[async_trait]
impl AiCaller for BlandCaller {
    async fn start_call(&self, request: &AiCallRequest) -> Result<StartedAiCall, ProviderError> {
        let mut body = json!({
            "phone_number": request.phone_number,
            "task": request.task,
            "metadata": {
                "tenant_id": request.tenant_id.as_str(),
                "otto_reference": request.reference,
            },
        });
        if let Some(from) = &request.from {
            body["from"] = json!(from);
        }
        if let Some(webhook) = &request.webhook_url {
            body["webhook"] = json!(webhook);
        }
        let body = body.to_string();
        let response = self
            .http
            .send(Repeat::OnlyIfRefused, || {
                self.http
                    .client()
                    .post(self.calls_url.clone())
                    .header(reqwest::header::AUTHORIZATION, &self.api_key)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let started: Started = self.http.json(response).await?;
        match (started.status.as_deref(), started.call_id) {
            (Some("success") | None, Some(call_id)) => Ok(StartedAiCall {
                provider_call_id: call_id,
            }),
            (status, _) => Err(ProviderError::Permanent {
                provider: "bland",
                message: format!(
                    "the call was not started (status {}): {}",
                    status.unwrap_or("missing"),
                    started.message.unwrap_or_default()
                ),
            }),
        }
    }

    async fn find_started(
        &self,
        request: &AiCallRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<StartedAiCall>, ProviderError> {
        let mut url = self.calls_url.clone();
        url.query_pairs_mut()
            .append_pair("to_number", &request.phone_number)
            .append_pair("from", "0")
            .append_pair("to", "50");
        let response = self
            .http
            .send(Repeat::Safe, || {
                self.http
                    .client()
                    .get(url.clone())
                    .header(reqwest::header::AUTHORIZATION, &self.api_key)
            })
            .await?;
        let list: CallList = self.http.json(response).await?;
        Ok(list
            .calls
            .into_iter()
            .find(|call| match call.reference() {
                Some(reference) => reference == request.reference,
                // Without our metadata in the listing, a call to the number since the
                // first attempt began is taken as that attempt's.
                None => call.created().is_some_and(|created| created >= since),
            })
            .map(|call| StartedAiCall {
                provider_call_id: call.call_id,
            }))
    }
}
