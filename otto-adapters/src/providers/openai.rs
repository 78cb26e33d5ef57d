//! OpenAI's chat completions with a strict JSON schema: the model reads a call's
//! transcript and answers the structured [`CallAnalysis`].

use async_trait::async_trait;
use otto_core::ports::{AnalysisResult, CallAnalysis, CallAnalyzer, ProviderError, TokenUsage};
use serde::Deserialize;
use serde_json::{Value, json};

use super::http::{ProviderHttp, Repeat};

/// OpenAI's API, as the default base URL.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// Longest transcript sent, in characters (a long call fits; a runaway one is cut).
const MAX_TRANSCRIPT_CHARS: usize = 60_000;

const INSTRUCTIONS: &str = "You analyse phone calls to a home-services company (plumbing, \
HVAC, electrical, roofing and the like). Read the transcript and report: whether the caller \
is a prospective or existing customer asking for service (is_sales_call; false for spam, \
vendors, wrong numbers); whether an appointment was booked, and its time (ISO 8601 when a \
date and time are clear, else as said), the service address, the customer's name and their \
problem in a few words; whether the customer cancelled or rescheduled an appointment; and a \
one- or two-sentence summary. Use null for anything the call does not say.";

/// Analyses transcripts through OpenAI with one model.
#[derive(Clone)]
pub struct OpenAiAnalyzer {
    http: ProviderHttp,
    completions_url: url::Url,
    api_key: String,
    model: String,
}

impl std::fmt::Debug for OpenAiAnalyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenAiAnalyzer")
            .field("completions_url", &self.completions_url.as_str())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Completion {
    model: String,
    choices: Vec<Choice>,
    usage: Usage,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Message,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Usage {
    prompt_tokens: u64,
    completion_tokens: u64,
    total_tokens: u64,
}

/// The JSON schema the model must answer with: exactly [`CallAnalysis`].
fn analysis_schema() -> Value {
    let nullable_text = json!({ "type": ["string", "null"] });
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": [
            "is_sales_call", "booked", "appointment_time", "address", "customer_name",
            "problem", "cancelled", "rescheduled", "summary"
        ],
        "properties": {
            "is_sales_call": { "type": "boolean" },
            "booked": { "type": "boolean" },
            "appointment_time": nullable_text,
            "address": nullable_text,
            "customer_name": nullable_text,
            "problem": nullable_text,
            "cancelled": { "type": "boolean" },
            "rescheduled": { "type": "boolean" },
            "summary": { "type": "string" }
        }
    })
}

fn refused(message: impl Into<String>) -> ProviderError {
    ProviderError::Permanent {
        provider: "openai",
        message: message.into(),
    }
}

impl OpenAiAnalyzer {
    /// An analyzer using `model` (OPENAI_MODEL) at `base_url` (OPENAI_BASE_URL).
    pub fn new(
        http: ProviderHttp,
        base_url: &str,
        api_key: &str,
        model: &str,
    ) -> Result<Self, String> {
        let base = if base_url.ends_with('/') {
            base_url.to_owned()
        } else {
            format!("{base_url}/")
        };
        let completions_url = url::Url::parse(&base)
            .and_then(|base| base.join("chat/completions"))
            .map_err(|error| format!("OPENAI_BASE_URL: {error}"))?;
        Ok(OpenAiAnalyzer {
            http,
            completions_url,
            api_key: api_key.to_owned(),
            model: model.to_owned(),
        })
    }

    fn request_body(&self, transcript: &str) -> String {
        let transcript: String = transcript.chars().take(MAX_TRANSCRIPT_CHARS).collect();
        json!({
            "model": self.model,
            "temperature": 0,
            "messages": [
                { "role": "system", "content": INSTRUCTIONS },
                { "role": "user", "content": transcript }
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": "call_analysis", "strict": true, "schema": analysis_schema() }
            }
        })
        .to_string()
    }
}

#[async_trait]
impl CallAnalyzer for OpenAiAnalyzer {
    async fn analyze(&self, transcript: &str) -> Result<AnalysisResult, ProviderError> {
        let body = self.request_body(transcript);
        let response = self
            .http
            .send(Repeat::Safe, || {
                self.http
                    .client()
                    .post(self.completions_url.clone())
                    .bearer_auth(&self.api_key)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let completion: Completion = self.http.json(response).await?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| refused("the answer holds no choice"))?;
        if let Some(refusal) = choice.message.refusal {
            return Err(refused(format!("the model refused: {refusal}")));
        }
        if choice.finish_reason.as_deref() == Some("length") {
            return Err(refused("the answer was cut off (finish_reason length)"));
        }
        let content = choice
            .message
            .content
            .ok_or_else(|| refused("the answer has no content"))?;
        let analysis: CallAnalysis = super::http::from_json_without_nul(content.as_bytes())
            .map_err(|error| refused(format!("the answer does not match the schema: {error}")))?;
        Ok(AnalysisResult {
            analysis,
            model: completion.model,
            usage: TokenUsage {
                prompt_tokens: completion.usage.prompt_tokens,
                completion_tokens: completion.usage.completion_tokens,
                total_tokens: completion.usage.total_tokens,
            },
        })
    }
}
