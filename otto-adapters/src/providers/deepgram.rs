//! Deepgram's pre-recorded transcription: Deepgram fetches the recording from its
//! URL and answers with the transcript, words, timings and speakers.

use async_trait::async_trait;
use otto_core::ports::{ProviderError, Transcriber, Transcript, TranscriptWord};
use serde::Deserialize;
use serde_json::json;

use super::http::{ProviderHttp, Repeat};

/// Deepgram's API, as the default base URL.
pub const DEEPGRAM_API_BASE_URL: &str = "https://api.deepgram.com";

/// Transcribes through Deepgram with one model.
#[derive(Clone)]
pub struct DeepgramTranscriber {
    http: ProviderHttp,
    listen_url: url::Url,
    api_key: String,
    model: String,
}

impl std::fmt::Debug for DeepgramTranscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeepgramTranscriber")
            .field("listen_url", &self.listen_url.as_str())
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
struct Listen {
    metadata: Metadata,
    results: Results,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    duration: f64,
}

#[derive(Debug, Deserialize)]
struct Results {
    channels: Vec<Channel>,
}

#[derive(Debug, Deserialize)]
struct Channel {
    alternatives: Vec<Alternative>,
    #[serde(default)]
    detected_language: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Alternative {
    transcript: String,
    #[serde(default)]
    words: Vec<Word>,
}

#[derive(Debug, Deserialize)]
struct Word {
    word: String,
    #[serde(default)]
    punctuated_word: Option<String>,
    start: f64,
    end: f64,
    confidence: f64,
    #[serde(default)]
    speaker: Option<u32>,
}

impl DeepgramTranscriber {
    /// A transcriber using `model` (DEEPGRAM_MODEL) at `base_url`
    /// (DEEPGRAM_API_BASE_URL).
    pub fn new(
        http: ProviderHttp,
        base_url: &str,
        api_key: &str,
        model: &str,
    ) -> Result<Self, String> {
        let mut listen_url = url::Url::parse(base_url)
            .and_then(|base| base.join("v1/listen"))
            .map_err(|error| format!("DEEPGRAM_API_BASE_URL: {error}"))?;
        listen_url
            .query_pairs_mut()
            .append_pair("model", model)
            .append_pair("smart_format", "true")
            .append_pair("punctuate", "true")
            .append_pair("diarize", "true");
        Ok(DeepgramTranscriber {
            http,
            listen_url,
            api_key: api_key.to_owned(),
            model: model.to_owned(),
        })
    }
}

#[async_trait]
impl Transcriber for DeepgramTranscriber {
    async fn transcribe(&self, recording_url: &str) -> Result<Transcript, ProviderError> {
        let body = json!({ "url": recording_url }).to_string();
        let response = self
            .http
            .send(Repeat::Safe, || {
                self.http
                    .client()
                    .post(self.listen_url.clone())
                    .header(
                        reqwest::header::AUTHORIZATION,
                        format!("Token {}", self.api_key),
                    )
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone())
            })
            .await?;
        let listen: Listen = self.http.json(response).await?;
        let channel = listen.results.channels.into_iter().next();
        let language = channel
            .as_ref()
            .and_then(|channel| channel.detected_language.clone());
        let alternative = channel
            .and_then(|channel| channel.alternatives.into_iter().next())
            .ok_or_else(|| ProviderError::Permanent {
                provider: "deepgram",
                message: "the answer holds no transcript".into(),
            })?;
        Ok(Transcript {
            text: alternative.transcript,
            language,
            duration_seconds: listen.metadata.duration,
            words: alternative
                .words
                .into_iter()
                .map(|word| TranscriptWord {
                    word: word.punctuated_word.unwrap_or(word.word),
                    start: word.start,
                    end: word.end,
                    confidence: word.confidence,
                    speaker: word.speaker,
                })
                .collect(),
            model: self.model.clone(),
        })
    }
}
