//! Verifies a webhook request's provider signature with the configured secret, or
//! during a rotation with the previous one (`*_PREVIOUS`), using the pure schemes of
//! `otto_core::webhooks::signatures`. The caller learns which secret matched, so
//! operators can see when the previous one is no longer used.
//!
//! A provider account can have its own signing key (CallRail signs each company's
//! deliveries with that company's key): a delivery the provider-wide secrets do not
//! verify is checked with the keys of the linked accounts it names.
//!
//! Outside production a provider without a secret accepts unsigned deliveries, so the
//! embedded default works with `curl` (unless the account named has its own key); a
//! warning is logged the first time. In production a delivery verified by no secret
//! and no account key is refused.

use std::sync::atomic::{AtomicBool, Ordering};

use otto_core::ports::{ProviderAccounts, StoreError};
use otto_core::webhooks::signatures::{SignatureError, bland, callrail, svix, twilio};
use otto_core::webhooks::{AccountRef, Delivery, Provider};
use poem::Request;

use crate::config::{Config, OttoEnv, Secret};

/// Which secret a delivery was accepted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretUsed {
    /// The configured secret.
    Current,
    /// The previous secret, still accepted during a rotation.
    Previous,
    /// The signing key of a provider account the delivery names (CallRail signs
    /// each company's deliveries with that company's key).
    Account,
    /// None: no secret is configured (development only).
    Unsigned,
}

impl SecretUsed {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretUsed::Current => "current",
            SecretUsed::Previous => "previous",
            SecretUsed::Account => "account",
            SecretUsed::Unsigned => "none",
        }
    }
}

/// A provider's current and previous secret.
#[derive(Debug, Default)]
struct Secrets {
    current: Option<Secret>,
    previous: Option<Secret>,
}

/// The secrets and the public URL deliveries are checked against.
#[derive(Debug)]
pub struct WebhookVerifier {
    callrail: Secrets,
    twilio: Secrets,
    clerk: Secrets,
    bland: Secrets,
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
        let previous = &config.webhooks.previous_secrets;
        let secrets = |current: &Option<Secret>, previous: &Option<Secret>| Secrets {
            current: current.clone(),
            previous: previous.clone(),
        };
        WebhookVerifier {
            callrail: secrets(&config.webhooks.callrail_secret, &previous.callrail),
            twilio: secrets(&config.twilio.auth_token, &previous.twilio),
            clerk: secrets(&config.webhooks.clerk_secret, &previous.clerk),
            bland: secrets(&config.webhooks.bland_secret, &previous.bland),
            public_url: config.webhooks.public_url.clone(),
            allow_unsigned: config.env != OttoEnv::Production,
            warned: Default::default(),
        }
    }

    fn secrets(&self, provider: Provider) -> &Secrets {
        match provider {
            Provider::CallRail => &self.callrail,
            Provider::Twilio => &self.twilio,
            Provider::Clerk => &self.clerk,
            Provider::Bland => &self.bland,
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

    /// Checks `request`'s signature over `body` with the current secret, then the
    /// previous one; `now` is the Unix time (Svix's tolerance). A refusal is the
    /// current secret's reason.
    pub fn verify(
        &self,
        provider: Provider,
        request: &Request,
        body: &[u8],
        now: i64,
    ) -> Result<SecretUsed, SignatureError> {
        let secrets = self.secrets(provider);
        let Some(current) = &secrets.current else {
            if self.allow_unsigned {
                self.warn_once(provider);
                return Ok(SecretUsed::Unsigned);
            }
            return Err(SignatureError::Missing);
        };
        let refused = match self.check(provider, current.expose(), request, body, now) {
            Ok(()) => return Ok(SecretUsed::Current),
            Err(refused) => refused,
        };
        match &secrets.previous {
            Some(previous)
                if self
                    .check(provider, previous.expose(), request, body, now)
                    .is_ok() =>
            {
                Ok(SecretUsed::Previous)
            }
            _ => Err(refused),
        }
    }

    /// [`WebhookVerifier::verify`], then, unless the provider-wide secrets verified
    /// it, the signing keys of the linked accounts the delivery names (read from the
    /// still unverified body only to pick keys; `now` is the Unix time). An account
    /// with a key is never accepted unsigned, not even in development.
    pub async fn verify_with_accounts(
        &self,
        request: &Request,
        delivery: &Delivery,
        now: i64,
        accounts: &dyn ProviderAccounts,
    ) -> Result<Result<SecretUsed, SignatureError>, StoreError> {
        let provider = delivery.event.provider();
        let body = delivery.body.as_slice();
        let global = self.verify(provider, request, body, now);
        if matches!(global, Ok(SecretUsed::Current | SecretUsed::Previous)) {
            return Ok(global);
        }
        // Only the key of the account the delivery is routed by may sign it. Routing
        // takes the first linked account the body names; accepting any named
        // account's key let a company sign a body that also names another company
        // and so write into that company's tenant.
        let Some(routed) = routed_account(accounts, &delivery.named_accounts()).await? else {
            return Ok(global);
        };
        let keys = accounts.signing_keys(std::slice::from_ref(&routed)).await?;
        let mut refused = None;
        for key in &keys {
            match self.check(provider, key, request, body, now) {
                Ok(()) => return Ok(Ok(SecretUsed::Account)),
                Err(error) => refused = refused.or(Some(error)),
            }
        }
        Ok(match refused {
            // A key exists and none matched: refused, even where unsigned would pass;
            // the provider-wide refusal, if any, is the reason given.
            Some(error) => Err(global.err().unwrap_or(error)),
            None => global,
        })
    }

    /// Checks the signature with one `secret`.
    fn check(
        &self,
        provider: Provider,
        secret: &str,
        request: &Request,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
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

/// The account a delivery naming `named` is routed by: the first linked one, as
/// [`ProviderAccounts::tenant_of`] picks it.
async fn routed_account(
    accounts: &dyn ProviderAccounts,
    named: &[AccountRef],
) -> Result<Option<AccountRef>, StoreError> {
    for account in named {
        if accounts
            .tenant_of(std::slice::from_ref(account))
            .await?
            .is_some()
        {
            return Ok(Some(account.clone()));
        }
    }
    Ok(None)
}
