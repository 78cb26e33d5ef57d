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

#[cfg(test)]
mod tests {
    use super::*;

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
