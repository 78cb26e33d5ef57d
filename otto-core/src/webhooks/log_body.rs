//! The form of a delivery's body the log keeps once the delivery is processed:
//! personal data removed, the shape kept, so an operator can still see what arrived.
//!
//! Fields whose name says they hold a person's words or identity (names, e-mail
//! addresses, message bodies, transcripts, summaries, addresses) are replaced
//! whatever their value; every other string has phone numbers and e-mail addresses
//! redacted ([`crate::redact_pii`]). Identifiers (`*_id`, `*Sid`) are kept.

use serde_json::Value;
use url::form_urlencoded;

use crate::redact::redact_pii;

/// What a personal field's value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Parts of a field name that mark personal content.
const PERSONAL_MARKERS: [&str; 10] = [
    "name",
    "email",
    "transcript",
    "summary",
    "body",
    "content",
    "message",
    "address",
    "city",
    "zip",
];

/// Whether a field called `key` holds personal content. Identifiers (`message_id`,
/// `MessageSid`) are not, though their names contain a marker.
fn is_personal(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    !key.ends_with("id") && PERSONAL_MARKERS.iter().any(|marker| key.contains(marker))
}

/// `body` with personal data removed: JSON and form bodies field by field, anything
/// else (unparseable) as text.
pub fn redact_body(body: &[u8], is_form: bool) -> Vec<u8> {
    if is_form {
        return redact_form(body);
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(mut value) => {
            redact_value(&mut value, false);
            serde_json::to_vec(&value).unwrap_or_default()
        }
        Err(_) => redact_pii(&String::from_utf8_lossy(body))
            .into_owned()
            .into_bytes(),
    }
}

fn redact_value(value: &mut Value, personal: bool) {
    match value {
        Value::String(text) => {
            if personal {
                REDACTED.clone_into(text);
            } else if let std::borrow::Cow::Owned(redacted) = redact_pii(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| redact_value(item, personal)),
        Value::Object(fields) => {
            for (key, field) in fields.iter_mut() {
                redact_value(field, personal || is_personal(key));
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn redact_form(body: &[u8]) -> Vec<u8> {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in form_urlencoded::parse(body) {
        let value = if is_personal(&key) {
            std::borrow::Cow::Borrowed(REDACTED)
        } else {
            redact_pii(&value).into_owned().into()
        };
        out.append_pair(&key, &value);
    }
    out.finish().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(body: &[u8]) -> Value {
        serde_json::from_slice(&redact_body(body, false)).expect("json stays json")
    }

    #[test]
    fn personal_json_fields_are_replaced_and_ids_kept() {
        let redacted = json(
            br#"{"resource_id":"CAL1","customer_name":"Jane Doe","customer_phone_number":"+15551234567",
                "answered":false,"duration":"42","company_id":"COM1",
                "nested":{"transcript":["hello","world"],"notes":"mail jane@example.com"}}"#,
        );
        assert_eq!(redacted["resource_id"], "CAL1");
        assert_eq!(redacted["company_id"], "COM1");
        assert_eq!(redacted["customer_name"], REDACTED);
        assert_eq!(redacted["customer_phone_number"], "[REDACTED_PHONE]");
        assert_eq!(redacted["answered"], false);
        assert_eq!(redacted["duration"], "42");
        assert_eq!(redacted["nested"]["transcript"][1], REDACTED);
        assert_eq!(redacted["nested"]["notes"], "mail [REDACTED_EMAIL]");
    }

    #[test]
    fn form_bodies_keep_their_fields_and_sids() {
        let redacted = redact_body(
            b"MessageSid=SM1&AccountSid=AC1&From=%2B15551234567&Body=call+me+Jane&FromCity=AUSTIN",
            true,
        );
        let fields: Vec<(String, String)> = form_urlencoded::parse(&redacted)
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
        let field = |name: &str| {
            fields
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.as_str())
        };
        assert_eq!(field("MessageSid"), Some("SM1"));
        assert_eq!(field("AccountSid"), Some("AC1"));
        assert_eq!(field("From"), Some("[REDACTED_PHONE]"));
        assert_eq!(field("Body"), Some(REDACTED));
        assert_eq!(field("FromCity"), Some(REDACTED));
    }

    #[test]
    fn unreadable_bodies_are_redacted_as_text() {
        assert_eq!(
            redact_body(b"{broken +15551234567", false),
            b"{broken [REDACTED_PHONE]".to_vec()
        );
    }
}
