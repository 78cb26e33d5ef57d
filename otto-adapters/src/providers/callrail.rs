//! CallRail's REST API v3: list and get the calls of an account, with offset
//! pagination.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::calls::Direction;
use otto_core::ports::{CallTracking, ProviderError, TrackedCall, TrackedCallPage};
use serde::Deserialize;
use serde_json::Value;

use super::http::{ProviderHttp, Repeat};

/// CallRail's API, as the default base URL.
pub const CALLRAIL_BASE_URL: &str = "https://api.callrail.com";

/// Reads one CallRail account's calls.
#[derive(Clone)]
pub struct CallRailClient {
    http: ProviderHttp,
    account_url: url::Url,
    api_key: String,
}

impl std::fmt::Debug for CallRailClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallRailClient")
            .field("account_url", &self.account_url.as_str())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct CallPage {
    page: u32,
    total_pages: u32,
    calls: Vec<Value>,
}

fn malformed(message: impl Into<String>) -> ProviderError {
    ProviderError::Permanent {
        provider: "callrail",
        message: message.into(),
    }
}

/// A text or number field as text (CallRail writes ids and durations both ways),
/// without NUL characters, which no text column stores.
fn loose_text(call: &Value, field: &str) -> Option<String> {
    match call.get(field)? {
        Value::String(text) if !text.is_empty() => {
            Some(otto_core::validation::without_nul(text.clone())).filter(|text| !text.is_empty())
        }
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn tracked(call: &Value) -> Result<TrackedCall, ProviderError> {
    let id = loose_text(call, "id").ok_or_else(|| malformed("a call without an id"))?;
    let started_at = call
        .get("start_time")
        .and_then(Value::as_str)
        .and_then(|text| DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.with_timezone(&Utc))
        .filter(otto_core::validation::is_storable_time)
        .ok_or_else(|| malformed(format!("call {id} has no readable start_time")))?;
    Ok(TrackedCall {
        direction: match call.get("direction").and_then(Value::as_str) {
            Some(direction) if direction.starts_with("out") => Direction::Outbound,
            _ => Direction::Inbound,
        },
        answered: call
            .get("answered")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        customer_name: loose_text(call, "customer_name"),
        customer_number: loose_text(call, "customer_phone_number"),
        duration_seconds: loose_text(call, "duration")
            .and_then(|duration| duration.parse().ok())
            .unwrap_or(0),
        started_at,
        id,
    })
}

impl CallRailClient {
    /// A client of account `account_id` authenticated with `api_key`, at `base_url`
    /// (CALLRAIL_BASE_URL).
    pub fn new(
        http: ProviderHttp,
        base_url: &str,
        account_id: &str,
        api_key: &str,
    ) -> Result<Self, String> {
        let account_url = url::Url::parse(base_url)
            .and_then(|base| base.join(&format!("v3/a/{account_id}/")))
            .map_err(|error| format!("CALLRAIL_BASE_URL: {error}"))?;
        Ok(CallRailClient {
            http,
            account_url,
            api_key: api_key.to_owned(),
        })
    }

    async fn get(&self, url: url::Url) -> Result<reqwest::Response, ProviderError> {
        self.http
            .send(Repeat::Safe, || {
                self.http.client().get(url.clone()).header(
                    reqwest::header::AUTHORIZATION,
                    format!("Token token=\"{}\"", self.api_key),
                )
            })
            .await
    }
}

#[async_trait]
impl CallTracking for CallRailClient {
    async fn list_calls(
        &self,
        company: Option<&str>,
        page: u32,
        per_page: u32,
    ) -> Result<TrackedCallPage, ProviderError> {
        let mut url = self
            .account_url
            .join("calls.json")
            .map_err(|error| malformed(error.to_string()))?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("page", &page.to_string())
                .append_pair("per_page", &per_page.to_string())
                .append_pair("sort", "start_time")
                .append_pair("order", "desc");
            if let Some(company) = company {
                query.append_pair("company_id", company);
            }
        }
        let listed: CallPage = self.http.json(self.get(url).await?).await?;
        Ok(TrackedCallPage {
            calls: listed.calls.iter().map(tracked).collect::<Result<_, _>>()?,
            next_page: (listed.page < listed.total_pages).then_some(listed.page + 1),
        })
    }

    async fn get_call(&self, id: &str) -> Result<Option<TrackedCall>, ProviderError> {
        let url = self
            .account_url
            .join(&format!("calls/{id}.json"))
            .map_err(|error| malformed(error.to_string()))?;
        match self.get(url).await {
            Ok(response) => Ok(Some(tracked(&self.http.json::<Value>(response).await?)?)),
            Err(ProviderError::Permanent { message, .. }) if message.starts_with("HTTP 404") => {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }
}
