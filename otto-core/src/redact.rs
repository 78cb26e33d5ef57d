//! PII redaction for logs: phone numbers and e-mail addresses, nothing else.
//!
//! The function is deliberately conservative about digits: a bare run of digits is
//! never treated as a phone number, because numeric ids, epoch timestamps and amounts
//! look the same. A phone number is redacted when it is written as one: with a leading
//! `+` (also URL-encoded as `%2B`, as Twilio form bodies carry it), or in the North
//! American `(555) 123-4567` / `555-123-4567` / `1 555 123 4567` shapes.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

/// What a redacted phone number is replaced with.
pub const PHONE_PLACEHOLDER: &str = "[REDACTED_PHONE]";
/// What a redacted e-mail address is replaced with.
pub const EMAIL_PLACEHOLDER: &str = "[REDACTED_EMAIL]";

/// Shortest and longest digit counts of an international number (ITU E.164).
const INTERNATIONAL_DIGITS: std::ops::RangeInclusive<usize> = 8..=15;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)[a-z0-9._+-]+(?:@|%40)[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}")
        .expect("e-mail pattern compiles")
});

static PHONE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // International: +, then groups of digits with optional single separators.
        r"(?P<intl>(?:\+|%2[bB])\d{1,4}(?:[ .-]?\(?\d{1,5}\)?){1,5})",
        "|",
        // North American without +: optional country code 1, area code, 3 + 4 digits.
        r"(?P<nanp>(?:\b1[ .-]?)?(?:\(\d{3}\)[ ]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b)",
    ))
    .expect("phone pattern compiles")
});

/// Replaces phone numbers and e-mail addresses in `text` with placeholders.
///
/// Returns the input unchanged (borrowed) when there is nothing to redact, so calling
/// it on every log field is cheap. Timestamps, UUIDs and numeric ids are left alone.
///
/// ```
/// use otto_core::redact_pii;
///
/// assert_eq!(
///     redact_pii("call from +15551234567 (jane@example.com) at 2026-11-25T10:00:00Z"),
///     "call from [REDACTED_PHONE] ([REDACTED_EMAIL]) at 2026-11-25T10:00:00Z",
/// );
/// assert_eq!(redact_pii("call 766970532"), "call 766970532");
/// ```
pub fn redact_pii(text: &str) -> Cow<'_, str> {
    // Fast path: neither pattern can match without one of these characters.
    if !text
        .bytes()
        .any(|b| b.is_ascii_digit() || b == b'@' || b == b'%')
    {
        return Cow::Borrowed(text);
    }
    let without_emails = EMAIL.replace_all(text, EMAIL_PLACEHOLDER);
    let redacted = PHONE
        .replace_all(&without_emails, |captures: &Captures<'_>| {
            let whole = captures.get(0).map_or("", |m| m.as_str());
            if captures.name("nanp").is_some() || is_international_number(whole) {
                return PHONE_PLACEHOLDER.to_owned();
            }
            // The pattern is greedy: a number followed by another digit group (a
            // timestamp, an id) matches as one candidate with too many digits. The
            // number is then its longest prefix that ends a group and has a
            // plausible digit count.
            match international_number_prefix(whole) {
                Some(end) => format!("{PHONE_PLACEHOLDER}{}", &whole[end..]),
                None => whole.to_owned(),
            }
        })
        .into_owned();
    if redacted == text {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(redacted)
    }
}

/// A `+`-prefixed candidate is a phone number only with a plausible digit count; this
/// keeps time-zone offsets such as `+05:30` or `+0000` out.
fn is_international_number(candidate: &str) -> bool {
    let digits = after_encoded_plus(candidate)
        .bytes()
        .filter(u8::is_ascii_digit)
        .count();
    INTERNATIONAL_DIGITS.contains(&digits)
}

/// `candidate` without a URL-encoded `+` (`%2B`), whose digits are not the number's.
fn after_encoded_plus(candidate: &str) -> &str {
    candidate
        .trim_start_matches("%2B")
        .trim_start_matches("%2b")
}

/// The end of the longest prefix of a `+`-prefixed candidate that ends a digit group
/// (the next character is not a digit) and has a plausible digit count.
fn international_number_prefix(candidate: &str) -> Option<usize> {
    let prefix = candidate.len() - after_encoded_plus(candidate).len();
    let bytes = candidate.as_bytes();
    let mut digits = 0;
    let mut end = None;
    for (at, byte) in bytes.iter().enumerate().skip(prefix) {
        if !byte.is_ascii_digit() {
            continue;
        }
        digits += 1;
        let ends_group = bytes.get(at + 1).is_none_or(|next| !next.is_ascii_digit());
        if ends_group && INTERNATIONAL_DIGITS.contains(&digits) {
            end = Some(at + 1);
        }
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn e164_numbers_are_redacted() {
        assert_eq!(redact_pii("+15551234567"), PHONE_PLACEHOLDER);
        assert_eq!(redact_pii("to=+442079460958;"), "to=[REDACTED_PHONE];");
    }

    #[test]
    fn formatted_numbers_are_redacted() {
        for number in [
            "+1 (555) 123-4567",
            "+1 555 123 4567",
            "+1-555-123-4567",
            "+44 20 7946 0958",
            "(555) 123-4567",
            "555-123-4567",
            "555.123.4567",
            "1-800-555-1234",
        ] {
            assert_eq!(
                redact_pii(&format!("caller {number} rang")),
                "caller [REDACTED_PHONE] rang",
                "{number}"
            );
        }
    }

    #[test]
    fn url_encoded_values_from_form_bodies_are_redacted() {
        assert_eq!(
            redact_pii("From=%2B15551234567&Email=jane%40example.com"),
            "From=[REDACTED_PHONE]&Email=[REDACTED_EMAIL]"
        );
    }

    #[test]
    fn email_addresses_are_redacted() {
        assert_eq!(
            redact_pii("jane.doe+sales@mail.example.co.uk"),
            EMAIL_PLACEHOLDER
        );
        assert_eq!(redact_pii("<a@b.io>"), "<[REDACTED_EMAIL]>");
    }

    #[test]
    fn timestamps_uuids_and_ids_are_left_alone() {
        for text in [
            "2026-11-25T10:20:30.123+00:00",
            "2026-11-25 10:20:30 +0000",
            "Tue, 25 Nov 2026 10:20:30 +0530",
            "123e4567-e89b-12d3-a456-426614174000",
            "0195f2a4-8c1e-7b3d-9a2f-1c2d3e4f5a6b",
            "call id 766970532",
            "epoch 1732500000 and millis 1732500000123",
            "CAL8154748ae6bd4e278a7cddd38a662f4f",
            "CA1234567890abcdef1234567890abcdef", // pragma: allowlist secret (a made-up Twilio SID)
            "latency_ms=1234.5678",
            "version 1.2.3",
            "192.168.100.123",
        ] {
            assert_eq!(redact_pii(text), text, "{text}");
        }
    }

    #[test]
    fn text_without_pii_is_borrowed_not_copied() {
        assert!(matches!(redact_pii("nothing here 42"), Cow::Borrowed(_)));
        assert!(matches!(redact_pii("plain words"), Cow::Borrowed(_)));
    }

    proptest! {
        #[test]
        fn any_e164_number_in_text_is_redacted(country in 1u32..999, rest in 1_000_000u64..99_999_999_999) {
            let number = format!("+{country}{rest}");
            prop_assume!(INTERNATIONAL_DIGITS.contains(&(number.len() - 1)));
            let text = format!("sms to {number} sent");
            let redacted = redact_pii(&text);
            prop_assert!(!redacted.contains(&number));
            prop_assert_eq!(redacted.as_ref(), "sms to [REDACTED_PHONE] sent");
        }

        #[test]
        fn redaction_is_idempotent_and_never_panics(text in "\\PC{0,200}") {
            let once = redact_pii(&text).into_owned();
            let twice = redact_pii(&once).into_owned();
            prop_assert_eq!(once, twice);
        }

        #[test]
        fn uuids_are_never_touched(bytes in any::<[u8; 16]>()) {
            let uuid = uuid::Uuid::from_bytes(bytes).to_string();
            prop_assert_eq!(redact_pii(&uuid).into_owned(), uuid);
        }

        #[test]
        fn rfc3339_timestamps_are_never_touched(secs in 0i64..4_102_444_800, offset_minutes in -720i32..=840) {
            let offset = chrono::FixedOffset::east_opt(offset_minutes * 60).expect("in range");
            let stamp = chrono::DateTime::from_timestamp(secs, 0).expect("in range").with_timezone(&offset);
            for text in [stamp.to_rfc3339(), stamp.to_rfc2822(), secs.to_string()] {
                prop_assert_eq!(redact_pii(&text).into_owned(), text.clone());
            }
        }
    }
}
