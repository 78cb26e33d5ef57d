//! How calls, their insights and messages look in the API.

use chrono::{DateTime, Utc};
use otto_core::call_log::CallDetail;
use otto_core::calls::{Call, CallOutcome};
use otto_core::messages::Message;
use otto_core::ports::{CallAnalysis, Recording, Transcript, TranscriptWord};
use poem_openapi::Object;
use poem_openapi::types::Example;
use serde::Serialize;

use crate::http::direct_json::{optional_rfc3339, rfc3339};
use uuid::Uuid;

/// What the team recorded about a call.
#[derive(Debug, Object, Serialize)]
#[oai(skip_serializing_if_is_none)]
pub struct OutcomeView {
    /// Whether the call booked an appointment; absent until someone says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booked: Option<bool>,
    /// When the booked appointment is.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_rfc3339"
    )]
    pub appointment_at: Option<DateTime<Utc>>,
    /// The team's notes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// The user id of the rep the call is assigned to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_rep: Option<String>,
}

impl From<CallOutcome> for OutcomeView {
    fn from(outcome: CallOutcome) -> Self {
        OutcomeView {
            booked: outcome.booked,
            appointment_at: outcome.appointment_at,
            notes: outcome.notes,
            assigned_rep: outcome.assigned_rep.map(|rep| rep.as_str().to_owned()),
        }
    }
}

/// A call.
#[derive(Debug, Object, Serialize)]
#[oai(skip_serializing_if_is_none, example)]
pub struct CallView {
    /// Otto's id of the call.
    pub id: Uuid,
    /// Where the call came from: `callrail` or `twilio`.
    pub provider: String,
    /// The provider's id of the call.
    pub external_id: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The customer's name, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_name: Option<String>,
    /// The customer's number (E.164), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<String>,
    /// Whether someone answered.
    pub answered: bool,
    /// Duration in seconds.
    pub duration_seconds: i32,
    /// When the call started.
    #[serde(serialize_with = "rfc3339")]
    pub started_at: DateTime<Utc>,
    /// What the team recorded about it.
    pub outcome: OutcomeView,
}

impl From<Call> for CallView {
    fn from(call: Call) -> Self {
        CallView {
            id: call.id,
            provider: call.provider,
            external_id: call.external_id,
            direction: call.direction.as_str().to_owned(),
            customer_name: call.customer_name,
            customer_number: call.customer_number,
            answered: call.answered,
            duration_seconds: call.duration_seconds,
            started_at: call.started_at,
            outcome: call.outcome.into(),
        }
    }
}

fn example_time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.to_utc())
        .unwrap_or_default()
}

impl Example for CallView {
    fn example() -> Self {
        CallView {
            id: Uuid::from_u128(0x0193_6a2e_7c4b_7d1e_9f00_0000_0000_0001),
            provider: "callrail".into(),
            external_id: "CAL8154748ae6bd4e278a7cddd38a662f4f".into(),
            direction: "inbound".into(),
            customer_name: Some("Jane Doe".into()),
            customer_number: Some("+15551230000".into()),
            answered: false,
            duration_seconds: 0,
            started_at: example_time("2026-11-25T15:04:05Z"),
            outcome: OutcomeView {
                booked: Some(true),
                appointment_at: Some(example_time("2026-11-27T14:00:00Z")),
                notes: Some("Called back; booked a water heater install.".into()),
                assigned_rep: Some("user_2abcRep".into()),
            },
        }
    }
}

/// A call's recording.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct RecordingView {
    /// The provider's id of the recording.
    pub external_id: String,
    /// Where the audio is (the provider's URL).
    pub url: String,
    /// Length in seconds, when the provider said.
    pub duration_seconds: Option<i32>,
}

impl From<Recording> for RecordingView {
    fn from(recording: Recording) -> Self {
        RecordingView {
            external_id: recording.external_id,
            url: recording.url,
            duration_seconds: recording.duration_seconds,
        }
    }
}

/// One word of a transcript, with its timing.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct WordView {
    /// The word as spoken (with punctuation).
    pub word: String,
    /// Start, in seconds from the beginning of the recording.
    pub start: f64,
    /// End, in seconds.
    pub end: f64,
    /// The speaker's number, when speakers were told apart.
    pub speaker: Option<u32>,
}

impl From<TranscriptWord> for WordView {
    fn from(word: TranscriptWord) -> Self {
        WordView {
            word: word.word,
            start: word.start,
            end: word.end,
            speaker: word.speaker,
        }
    }
}

/// A recording's transcript.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct TranscriptView {
    /// The whole text.
    pub text: String,
    /// The detected language, when known.
    pub language: Option<String>,
    /// Length of the audio in seconds.
    pub duration_seconds: f64,
    /// The words with their timings.
    pub words: Vec<WordView>,
    /// The speech model that made it.
    pub model: String,
}

impl From<Transcript> for TranscriptView {
    fn from(transcript: Transcript) -> Self {
        TranscriptView {
            text: transcript.text,
            language: transcript.language,
            duration_seconds: transcript.duration_seconds,
            words: transcript.words.into_iter().map(WordView::from).collect(),
            model: transcript.model,
        }
    }
}

/// What the analysis of a transcript found.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AnalysisView {
    /// Whether it was a sales call.
    pub is_sales_call: bool,
    /// Whether an appointment was booked.
    pub booked: bool,
    /// The appointment time as said on the call.
    pub appointment_time: Option<String>,
    /// The service address.
    pub address: Option<String>,
    /// The customer's name as said on the call.
    pub customer_name: Option<String>,
    /// The customer's problem.
    pub problem: Option<String>,
    /// Whether an appointment was cancelled.
    pub cancelled: bool,
    /// Whether an appointment was moved.
    pub rescheduled: bool,
    /// A short summary.
    pub summary: String,
}

impl From<CallAnalysis> for AnalysisView {
    fn from(analysis: CallAnalysis) -> Self {
        AnalysisView {
            is_sales_call: analysis.is_sales_call,
            booked: analysis.booked,
            appointment_time: analysis.appointment_time,
            address: analysis.address,
            customer_name: analysis.customer_name,
            problem: analysis.problem,
            cancelled: analysis.cancelled,
            rescheduled: analysis.rescheduled,
            summary: analysis.summary,
        }
    }
}

/// A text message.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct MessageView {
    /// Otto's id.
    pub id: Uuid,
    /// The call it followed up, if any.
    pub call_id: Option<Uuid>,
    /// `inbound` (from the customer) or `outbound`.
    pub direction: String,
    /// The customer's number (E.164).
    pub customer_number: String,
    /// The text.
    pub body: String,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

impl From<Message> for MessageView {
    fn from(message: Message) -> Self {
        MessageView {
            id: message.id,
            call_id: message.call_id,
            direction: message.direction.as_str().to_owned(),
            customer_number: message.customer_number,
            body: message.body,
            sent_at: message.sent_at,
        }
    }
}

impl Example for MessageView {
    fn example() -> Self {
        MessageView {
            id: Uuid::from_u128(0x0193_6a2e_7c4b_7d1e_9f00_0000_0000_0002),
            call_id: None,
            direction: "inbound".into(),
            customer_number: "+15551230000".into(),
            body: "Yes please, tomorrow morning works.".into(),
            sent_at: example_time("2026-11-25T15:10:00Z"),
        }
    }
}

/// A call with everything known about it.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none, example)]
pub struct CallDetailView {
    /// The call.
    #[oai(flatten)]
    pub call: CallView,
    /// Its latest recording.
    pub recording: Option<RecordingView>,
    /// The recording's transcript, once transcribed.
    pub transcript: Option<TranscriptView>,
    /// The transcript's analysis, once analysed.
    pub analysis: Option<AnalysisView>,
    /// The latest messages with the call's customer (at most 20), newest first.
    pub messages: Vec<MessageView>,
}

impl From<CallDetail> for CallDetailView {
    fn from(detail: CallDetail) -> Self {
        CallDetailView {
            call: detail.call.into(),
            recording: detail.recording.map(RecordingView::from),
            transcript: detail.transcript.map(TranscriptView::from),
            analysis: detail.analysis.map(AnalysisView::from),
            messages: detail.messages.into_iter().map(MessageView::from).collect(),
        }
    }
}

impl Example for CallDetailView {
    fn example() -> Self {
        CallDetailView {
            call: CallView::example(),
            recording: Some(RecordingView {
                external_id: "REC8154748ae6bd4e278a7cddd38a662f4f".into(),
                url: "https://api.callrail.com/v3/a/123/calls/CAL815/recording.json".into(),
                duration_seconds: Some(93),
            }),
            transcript: Some(TranscriptView {
                text: "Hello, Acme Plumbing. Hi, my water heater is leaking.".into(),
                language: Some("en".into()),
                duration_seconds: 93.5,
                words: vec![WordView {
                    word: "Hello,".into(),
                    start: 0.08,
                    end: 0.4,
                    speaker: Some(0),
                }],
                model: "nova-3".into(),
            }),
            analysis: Some(AnalysisView {
                is_sales_call: true,
                booked: true,
                appointment_time: Some("2026-11-27T14:00:00-05:00".into()),
                address: Some("12 Main St".into()),
                customer_name: Some("Jane Doe".into()),
                problem: Some("leaking water heater".into()),
                cancelled: false,
                rescheduled: false,
                summary: "The customer booked a water heater replacement.".into(),
            }),
            messages: vec![MessageView::example()],
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ToJSON;

    use super::*;
    use crate::http::routes::calls::CallPage;

    /// A page answered with `DirectJson` must read exactly as the schema poem-openapi
    /// documents and writes: the same fields, the same absences, the same times.
    fn assert_both_forms_agree(page: &CallPage) {
        let documented = page.to_json().expect("poem-openapi writes it");
        let direct = serde_json::to_value(page).expect("serde writes it");
        assert_eq!(direct, documented);
    }

    #[test]
    fn a_call_page_is_written_alike_by_serde_and_by_its_schema() {
        let full = CallPage {
            items: vec![CallView::example()],
            next_cursor: Some("cursor".into()),
        };
        assert_both_forms_agree(&full);

        let mut sparse = CallView::example();
        sparse.customer_name = None;
        sparse.customer_number = None;
        sparse.started_at = example_time("2026-11-25T15:04:05.123456Z");
        sparse.outcome = OutcomeView {
            booked: None,
            appointment_at: None,
            notes: None,
            assigned_rep: None,
        };
        let page = CallPage {
            items: vec![sparse],
            next_cursor: None,
        };
        assert_both_forms_agree(&page);
        let written = serde_json::to_value(&page).expect("writes");
        assert_eq!(written["items"][0]["outcome"], serde_json::json!({}));
        assert_eq!(
            written["items"][0]["started_at"],
            "2026-11-25T15:04:05.123456+00:00"
        );
        assert!(written.get("next_cursor").is_none());

        let empty = CallPage {
            items: Vec::new(),
            next_cursor: None,
        };
        assert_both_forms_agree(&empty);
    }
}
