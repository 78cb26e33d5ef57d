//! Rules for values users send, shared by the services that check them.

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidField {
    /// The field's name.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl InvalidField {
    /// `field` is invalid because `message`.
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        InvalidField {
            field,
            message: message.into(),
        }
    }
}

/// The message for a number that is not E.164.
pub const E164_EXPECTED: &str = "must be a phone number in E.164 form, such as +15551230000";

/// Whether `number` is an E.164 phone number (`+` and 8-15 digits, no leading 0).
pub fn is_e164(number: &str) -> bool {
    let Some(digits) = number.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The message for a time outside [`is_storable_time`]'s range.
pub const STORABLE_TIME_EXPECTED: &str =
    "must be a time between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z";

/// Whether `time` lies in years 1 to 9999 (UTC): what RFC 3339 can write and what
/// every database Otto supports can store and order. Times from outside are held to
/// it at the edge; chrono alone accepts years far beyond what PostgreSQL stores.
pub fn is_storable_time(time: &chrono::DateTime<chrono::Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&time.year())
}

/// Whether `text` holds a NUL character, which no text column stores (PostgreSQL
/// refuses it outright).
pub fn has_nul(text: &str) -> bool {
    text.contains('\0')
}

/// `text` without its NUL characters, for text from outside that is the sender's
/// record rather than a request to refuse (a provider's delivery or API answer).
pub fn without_nul(text: String) -> String {
    if has_nul(&text) {
        text.replace('\0', "")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storable_times_are_years_one_to_9999() {
        use chrono::{DateTime, TimeZone, Utc};
        let year = |year| {
            Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
                .single()
                .expect("valid")
        };
        for good in [year(1), year(1970), year(9999)] {
            assert!(is_storable_time(&good), "{good}");
        }
        for bad in [
            year(0),
            year(-9999),
            year(10_000),
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
        ] {
            assert!(!is_storable_time(&bad), "{bad}");
        }
    }

    #[test]
    fn phone_numbers_must_be_e164() {
        for good in ["+15551230000", "+447911123456", "+4930123456"] {
            assert!(is_e164(good), "{good}");
        }
        for bad in [
            "5551230000",
            "+0551230000",
            "+1 555 123 0000",
            "+1555",
            "+1234567890123456",
            "",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
    }
}
