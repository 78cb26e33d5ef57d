//! The text of a missed-call message.

/// Otto's message when a tenant has not written its own.
pub const DEFAULT_MISSED_CALL_TEMPLATE: &str = "Hi {customer_name}, sorry we missed your call to \
     {company_name}. How can we help? Reply STOP to opt out.";

/// Longest message Otto sends (ten SMS segments).
pub const MAX_SMS_LEN: usize = 1_600;

fn known(name: Option<&str>) -> Option<&str> {
    name.map(str::trim).filter(|name| !name.is_empty())
}

/// Fills `{company_name}` and `{customer_name}` (with friendly fallbacks when a name
/// is unknown) and trims the result to [`MAX_SMS_LEN`] characters.
pub fn render(template: &str, company_name: Option<&str>, customer_name: Option<&str>) -> String {
    let first_name = known(customer_name)
        .and_then(|name| name.split_whitespace().next())
        .unwrap_or("there");
    let text = template
        .replace("{company_name}", known(company_name).unwrap_or("us"))
        .replace("{customer_name}", first_name);
    text.chars().take(MAX_SMS_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fill_the_placeholders_and_unknown_names_read_naturally() {
        assert_eq!(
            render(
                DEFAULT_MISSED_CALL_TEMPLATE,
                Some("Acme Plumbing"),
                Some("Jane Doe")
            ),
            "Hi Jane, sorry we missed your call to Acme Plumbing. How can we help? Reply STOP to opt out."
        );
        assert_eq!(
            render(DEFAULT_MISSED_CALL_TEMPLATE, None, Some("  ")),
            "Hi there, sorry we missed your call to us. How can we help? Reply STOP to opt out."
        );
        assert_eq!(
            render("Call {company_name} back", Some("Zed"), None),
            "Call Zed back"
        );
    }

    #[test]
    fn messages_are_capped() {
        assert_eq!(
            render(&"x".repeat(5_000), None, None).chars().count(),
            MAX_SMS_LEN
        );
    }
}
