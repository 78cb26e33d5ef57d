//! Secrets that cannot leak through `Debug`, `Display` or logs.

use std::fmt;

/// A secret value (API key, token). Printing it shows a mask, never the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What every secret prints as.
pub const MASK: &str = "********";

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it to a provider.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// A URL with its password (if any) replaced by the mask, for printing.
pub fn mask_url_password(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut parsed) if parsed.password().is_some() => {
            // Setting a password only fails for URLs that cannot have one.
            let _ = parsed.set_password(Some(MASK));
            parsed.to_string()
        }
        Ok(_) => raw.to_owned(),
        // Unparseable: it may still contain a secret, so show nothing of it.
        Err(_) => MASK.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print_their_value() {
        let secret = Secret::new("sk_live_do_not_print");
        assert_eq!(secret.to_string(), MASK);
        assert!(!format!("{secret:?}").contains("do_not_print"));
        assert_eq!(secret.expose(), "sk_live_do_not_print");
    }

    #[test]
    fn url_passwords_are_masked_and_the_rest_kept() {
        // Generated, so that no credential-shaped literal is committed.
        let password = uuid::Uuid::new_v4().simple().to_string();
        let masked = mask_url_password(&format!("postgres://otto:{password}@db:5432/otto"));
        assert_eq!(masked, "postgres://otto:********@db:5432/otto");
        assert_eq!(
            mask_url_password("redis://localhost:6379/0"),
            "redis://localhost:6379/0"
        );
        assert_eq!(mask_url_password("not a url with hunter2"), MASK);
    }
}
