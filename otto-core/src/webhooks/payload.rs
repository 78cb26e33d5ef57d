//! A delivery's body, read once: a JSON object (CallRail, Clerk, Bland) or form
//! fields (Twilio), with accessors that accept the loose types providers send
//! (CallRail's `duration` is a string, its legacy `id` a number).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::validation::{is_storable_time, without_nul};

/// Why a body could not be read. Each maps to a 4xx: the provider's retry would fail
/// the same way, so nothing is recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    /// The content type is not the one this provider sends.
    #[error("expected a body of type {expected}, got `{actual}`")]
    UnsupportedMediaType {
        /// The media type the route takes.
        expected: &'static str,
        /// The media type received.
        actual: String,
    },
    /// The body is not well-formed JSON or form data.
    #[error("the body is not valid {format}: {reason}")]
    Malformed {
        /// `JSON` or `form data`.
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A field the event needs is missing or of the wrong type.
    #[error("the field `{0}` is missing or invalid")]
    InvalidField(String),
}

/// The media type of JSON deliveries.
pub const JSON: &str = "application/json";
/// The media type of form deliveries.
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A parsed body.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A JSON object.
    Json(Map<String, Value>),
    /// Form fields, in order, repeated names kept.
    Form(Vec<(String, String)>),
}

fn essence(content_type: Option<&str>) -> String {
    content_type
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

impl Payload {
    /// Reads a JSON object body. Besides JSON media types, a missing content type and
    /// `curl -d`'s default form type are accepted when the body is a JSON object (the
    /// original service's documented manual test posts JSON that way); any other media
    /// type is refused.
    pub fn json(content_type: Option<&str>, body: &[u8]) -> Result<Self, PayloadError> {
        let media = essence(content_type);
        let unsupported = || PayloadError::UnsupportedMediaType {
            expected: JSON,
            actual: media.clone(),
        };
        if media == FORM {
            return match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(object)) => Ok(Payload::Json(object)),
                _ => Err(unsupported()),
            };
        }
        if !(media.is_empty() || media == JSON || media.ends_with("+json")) {
            return Err(unsupported());
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(object)) => Ok(Payload::Json(object)),
            Ok(_) => Err(PayloadError::Malformed {
                format: "JSON",
                reason: "the document is not an object".to_owned(),
            }),
            Err(error) => Err(PayloadError::Malformed {
                format: "JSON",
                reason: error.to_string(),
            }),
        }
    }

    /// Reads a form body.
    pub fn form(content_type: Option<&str>, body: &[u8]) -> Result<Self, PayloadError> {
        let media = essence(content_type);
        if media != FORM {
            return Err(PayloadError::UnsupportedMediaType {
                expected: FORM,
                actual: media,
            });
        }
        if std::str::from_utf8(body).is_err() {
            return Err(PayloadError::Malformed {
                format: "form data",
                reason: "the body is not UTF-8".to_owned(),
            });
        }
        Ok(Payload::Form(
            url::form_urlencoded::parse(body)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        ))
    }

    /// The form fields (empty for JSON).
    pub fn form_fields(&self) -> &[(String, String)] {
        match self {
            Payload::Form(fields) => fields,
            Payload::Json(_) => &[],
        }
    }

    /// The value at a dotted path (`call.id`), JSON only.
    pub fn value(&self, path: &str) -> Option<&Value> {
        let Payload::Json(object) = self else {
            return None;
        };
        let mut segments = path.split('.');
        let mut current = object.get(segments.next()?)?;
        for segment in segments {
            current = current.as_object()?.get(segment)?;
        }
        Some(current)
    }

    /// A non-blank text at `path` (a JSON string or number, or a form field), trimmed,
    /// with any NUL character removed: no text column stores one, and the delivery is
    /// the provider's record (its raw body is kept as received in the delivery log).
    pub fn text(&self, path: &str) -> Option<String> {
        let text = match self {
            Payload::Form(fields) => fields
                .iter()
                .find(|(name, _)| name == path)
                .map(|(_, value)| value.clone()),
            Payload::Json(_) => match self.value(path)? {
                Value::String(text) => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            },
        }?;
        let text = without_nul(text);
        let trimmed = text.trim();
        (!trimmed.is_empty()).then(|| trimmed.to_owned())
    }

    /// The first non-blank text among `paths`.
    pub fn first_text(&self, paths: &[&str]) -> Option<String> {
        paths.iter().find_map(|path| self.text(path))
    }

    /// The first non-blank text among `paths`, or an error naming the first path.
    pub fn required_text(&self, paths: &[&str]) -> Result<String, PayloadError> {
        self.first_text(paths)
            .ok_or_else(|| PayloadError::InvalidField(paths.join(" | ")))
    }

    /// A boolean at `path`: JSON true/false or the text `true`/`false`.
    pub fn flag(&self, path: &str) -> Option<bool> {
        match self.value(path) {
            Some(Value::Bool(flag)) => Some(*flag),
            _ => match self.text(path)?.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
        }
    }

    /// Whole seconds at `path`, from an integer, a decimal or a numeric string.
    pub fn seconds(&self, path: &str) -> Option<i32> {
        let number: f64 = self.text(path)?.parse().ok()?;
        (0.0..f64::from(i32::MAX))
            .contains(&number)
            .then(|| number.round() as i32)
    }

    /// An RFC 3339 (CallRail, Bland) or RFC 2822 (Twilio) time at `path`, within
    /// years 1-9999 ([`is_storable_time`]); a time outside them is no time at all.
    pub fn time(&self, path: &str) -> Option<DateTime<Utc>> {
        let text = self.text(path)?;
        DateTime::parse_from_rfc3339(&text)
            .or_else(|_| DateTime::parse_from_rfc2822(&text))
            .ok()
            .map(|time| time.with_timezone(&Utc))
            .filter(is_storable_time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_accessors_take_the_loose_types_providers_send() {
        let payload = Payload::json(
            Some("application/json; charset=utf-8"),
            br#"{"id":766970532,"duration":"13","answered":false,"call":{"id":" CAL1 "},
                "start_time":"2018-02-19T13:41:00.236-05:00","blank":"  "}"#,
        )
        .expect("valid");
        assert_eq!(payload.text("id").as_deref(), Some("766970532"));
        assert_eq!(payload.text("call.id").as_deref(), Some("CAL1"));
        assert_eq!(payload.seconds("duration"), Some(13));
        assert_eq!(payload.flag("answered"), Some(false));
        assert_eq!(payload.text("blank"), None);
        assert_eq!(
            payload.time("start_time").map(|time| time.to_rfc3339()),
            Some("2018-02-19T18:41:00.236+00:00".to_owned())
        );
        assert_eq!(
            payload.first_text(&["missing", "call.id"]).as_deref(),
            Some("CAL1")
        );
    }

    #[test]
    fn bodies_of_the_wrong_kind_are_refused_with_the_reason() {
        assert!(matches!(
            Payload::json(Some("text/plain"), b"{}"),
            Err(PayloadError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            Payload::json(None, b"{\"a\":"),
            Err(PayloadError::Malformed { .. })
        ));
        assert!(matches!(
            Payload::json(None, b"[1,2]"),
            Err(PayloadError::Malformed { .. })
        ));
        assert!(matches!(
            Payload::json(Some(FORM), b"call_id=1"),
            Err(PayloadError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            Payload::json(Some(FORM), br#"{"call_id":"test-123"}"#),
            Ok(Payload::Json(_))
        ));
        assert!(matches!(
            Payload::form(Some(JSON), b"a=b"),
            Err(PayloadError::UnsupportedMediaType { .. })
        ));
        assert!(matches!(
            Payload::form(Some(FORM), &[0xff, 0xfe]),
            Err(PayloadError::Malformed { .. })
        ));
    }

    #[test]
    fn form_fields_are_decoded() {
        let payload = Payload::form(
            Some(FORM),
            b"CallSid=CA1&From=%2B14155550100&Timestamp=Wed%2C+25+Nov+2026+10%3A00%3A00+%2B0000",
        )
        .expect("valid");
        assert_eq!(payload.text("From").as_deref(), Some("+14155550100"));
        assert!(payload.time("Timestamp").is_some());
        assert_eq!(payload.form_fields().len(), 3);
    }
}
