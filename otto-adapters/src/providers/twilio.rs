//! Twilio's Messaging API: send a text message, and find one sent earlier.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::ports::{ProviderError, SentSms, SmsRequest, SmsSender};
use serde::Deserialize;

use super::http::{ProviderHttp, Repeat};

/// Twilio's API, as the default base URL.
pub const TWILIO_API_BASE_URL: &str = "https://api.twilio.com";

/// Messages a lookup reads at most.
const LOOKUP_PAGE_SIZE: &str = "50";

/// Sends SMS through one Twilio account.
#[derive(Clone)]
pub struct TwilioSms {
    http: ProviderHttp,
    messages_url: url::Url,
    account_sid: String,
    auth_token: String,
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSms")
            .field("messages_url", &self.messages_url.as_str())
            .field("account_sid", &self.account_sid)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Message {
    sid: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    date_created: Option<String>,
}

#[derive(Debug, Deserialize)]
struct MessagePage {
    messages: Vec<Message>,
}

impl TwilioSms {
    /// A sender for `account_sid` authenticated with `auth_token`, at `base_url`
    /// (TWILIO_API_BASE_URL).
    pub fn new(
        http: ProviderHttp,
        base_url: &str,
        account_sid: &str,
        auth_token: &str,
    ) -> Result<Self, String> {
        let messages_url = url::Url::parse(base_url)
            .and_then(|base| base.join(&format!("2010-04-01/Accounts/{account_sid}/Messages.json")))
            .map_err(|error| format!("TWILIO_API_BASE_URL: {error}"))?;
        Ok(TwilioSms {
            http,
            messages_url,
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
        })
    }
}

#[async_trait]
impl SmsSender for TwilioSms {
    async fn send(&self, request: &SmsRequest) -> Result<SentSms, ProviderError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("To", &request.to)
            .append_pair("From", &request.from)
            .append_pair("Body", &request.body)
            .finish();
        let response = self
            .http
            .send(Repeat::OnlyIfRefused, || {
                self.http
                    .client()
                    .post(self.messages_url.clone())
                    .basic_auth(&self.account_sid, Some(&self.auth_token))
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(form.clone())
            })
            .await?;
        let message: Message = self.http.json(response).await?;
        Ok(SentSms {
            provider_message_id: message.sid,
        })
    }

    async fn find_sent(
        &self,
        request: &SmsRequest,
        since: DateTime<Utc>,
    ) -> Result<Option<SentSms>, ProviderError> {
        let mut url = self.messages_url.clone();
        url.query_pairs_mut()
            .append_pair("To", &request.to)
            .append_pair("From", &request.from)
            // Twilio filters by day; the exact instant is checked below.
            .append_pair("DateSent>", &since.format("%Y-%m-%d").to_string())
            .append_pair("PageSize", LOOKUP_PAGE_SIZE);
        let response = self
            .http
            .send(Repeat::Safe, || {
                self.http
                    .client()
                    .get(url.clone())
                    .basic_auth(&self.account_sid, Some(&self.auth_token))
            })
            .await?;
        let page: MessagePage = self.http.json(response).await?;
        Ok(page
            .messages
            .into_iter()
            .find(|message| {
                let created = message
                    .date_created
                    .as_deref()
                    .and_then(|text| DateTime::parse_from_rfc2822(text).ok())
                    .map(|at| at.with_timezone(&Utc));
                message.body.as_deref() == Some(request.body.as_str())
                    && created.is_none_or(|created| created >= since)
            })
            .map(|message| SentSms {
                provider_message_id: message.sid,
            }))
    }
}
