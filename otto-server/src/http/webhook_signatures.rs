//! Verifies a webhook request's provider signature with the configured secret,
//! using the pure schemes of `otto_core::webhooks::signatures`.
//!
//! Outside production a provider without a secret accepts unsigned deliveries, so the
//! embedded default works with `curl`; a warning is logged the first time. In
//! production the configuration refuses to start without every secret.

use std::sync::atomic::{AtomicBool, Ordering};

use otto_core::webhooks::Provider;
use otto_core::webhooks::signatures::{SignatureError, bland, callrail, svix, twilio};
use poem::Request;

use crate::config::{Config, OttoEnv, Secret};

/// The secrets and the public URL deliveries are checked against.
#[derive(Debug)]
pub struct WebhookVerifier {
    callrail: Option<Secret>,
    twilio: Option<Secret>,
    clerk: Option<Secret>,
    bland: Option<Secret>,
    public_url: Option<url::Url>,
    allow_unsigned: bool,
    warned: [AtomicBool; 4],
}

fn header<'a>(request: &'a Request, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|name| request.header(name))
}

impl WebhookVerifier {
    /// The verifier of this configuration.
    pub fn from_config(config: &Config) -> Self {
        WebhookVerifier {
            callrail: config.webhooks.callrail_secret.clone(),
            twilio: config.twilio.auth_token.clone(),
            clerk: config.webhooks.clerk_secret.clone(),
            bland: config.webhooks.bland_secret.clone(),
            public_url: config.webhooks.public_url.clone(),
            allow_unsigned: config.env != OttoEnv::Production,
            warned: Default::default(),
        }
    }

    fn secret(&self, provider: Provider) -> Option<&Secret> {
        match provider {
            Provider::CallRail => self.callrail.as_ref(),
            Provider::Twilio => self.twilio.as_ref(),
            Provider::Clerk => self.clerk.as_ref(),
            Provider::Bland => self.bland.as_ref(),
        }
    }

    fn warn_once(&self, provider: Provider) {
        let index = Provider::ALL
            .iter()
            .position(|candidate| *candidate == provider)
            .unwrap_or_default();
        if !self.warned[index].swap(true, Ordering::Relaxed) {
            tracing::warn!(
                provider = provider.as_str(),
                "no webhook secret is configured for this provider: accepting unsigned \
                 deliveries (development only)"
            );
        }
    }

    /// Checks `request`'s signature over `body`; `now` is the Unix time (Svix's
    /// tolerance).
    pub fn verify(
        &self,
        provider: Provider,
        request: &Request,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let Some(secret) = self.secret(provider) else {
            if self.allow_unsigned {
                self.warn_once(provider);
                return Ok(());
            }
            return Err(SignatureError::Missing);
        };
        let secret = secret.expose();
        match provider {
            Provider::CallRail => callrail::verify(secret, body, request.header("Signature")),
            Provider::Bland => bland::verify(secret, body, request.header("X-Webhook-Signature")),
            Provider::Clerk => svix::verify(
                secret,
                header(request, &["svix-id", "webhook-id"]),
                header(request, &["svix-timestamp", "webhook-timestamp"]),
                header(request, &["svix-signature", "webhook-signature"]),
                body,
                now,
            ),
            Provider::Twilio => {
                let url = self.called_url(request);
                let signature = request.header("X-Twilio-Signature");
                let signs_body = request.uri().query().is_some_and(|query| {
                    url::form_urlencoded::parse(query.as_bytes())
                        .any(|(name, _)| name == "bodySHA256")
                });
                if signs_body {
                    twilio::verify_with_body(secret, &url, body, signature)
                } else {
                    let params: Vec<(String, String)> = url::form_urlencoded::parse(body)
                        .map(|(name, value)| (name.into_owned(), value.into_owned()))
                        .collect();
                    twilio::verify(secret, &url, &params, signature)
                }
            }
        }
    }

    /// The URL Twilio called: OTTO_PUBLIC_URL plus the path and query, since a proxy
    /// in front of Otto may have changed the scheme, host or port; without it, the
    /// request's own `Host` over http (development).
    fn called_url(&self, request: &Request) -> String {
        let path_and_query = request
            .uri()
            .path_and_query()
            .map_or("/", |path_and_query| path_and_query.as_str());
        match &self.public_url {
            Some(base) => format!("{}{path_and_query}", base.as_str().trim_end_matches('/')),
            None => format!(
                "http://{}{path_and_query}",
                request.header("host").unwrap_or("localhost")
            ),
        }
    }
}
