//! Biscuit API tokens for servers, scripts and smoke tests.
//!
//! A token's authority block (signed with the root private key) names the tenant, the
//! user, the role and an expiry:
//!
//! ```text
//! tenant("org_1"); user("user_1"); role("admin");
//! check if time($time), $time < 2026-11-25T13:00:00Z;
//! ```
//!
//! An operator's token also carries `platform_admin(true);` in its authority block,
//! which grants the platform-wide operations (provider-account links, replays).
//!
//! A holder can attenuate a token offline by appending a block of checks (read-only,
//! an earlier expiry); the verifier supplies `time(now)` and `operation("read"|"write")`
//! so those checks bind. Facts in appended blocks are never trusted for identity:
//! only the authority block says who the caller is.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use biscuit_auth::error::{Format, Logic, Token};
use biscuit_auth::macros::{authorizer, biscuit, block};
use biscuit_auth::{AuthorizerLimits, Biscuit, KeyPair, PrivateKey, PublicKey, UnverifiedBiscuit};
use chrono::{DateTime, Utc};
use otto_core::ports::{Clock, CredentialError, CredentialVerifier};
use otto_core::tenancy::{CredentialKind, Operation, Principal, Role, TenantId, UserId};

use crate::verified_tokens::VerifiedTokens;

/// Why an API token operation failed (outside verification).
#[derive(Debug, thiserror::Error)]
pub enum ApiTokenError {
    /// The key text is not a biscuit key (`ed25519-private/<hex>`, `ed25519/<hex>`).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// This instance holds only the public key and cannot issue tokens.
    #[error("issuing tokens needs the private key (OTTO_BISCUIT_PRIVATE_KEY)")]
    CannotIssue,
    /// The token could not be built, parsed or extended.
    #[error("token error: {0}")]
    Token(String),
}

/// A new root key pair, as text: the private key for OTTO_BISCUIT_PRIVATE_KEY and
/// the public key that verifiers need.
#[derive(Debug, Clone)]
pub struct GeneratedKeys {
    /// `ed25519-private/<hex>`: keep secret.
    pub private_key: String,
    /// `ed25519/<hex>`: safe to share.
    pub public_key: String,
}

/// Generates a root key pair.
pub fn generate_keys() -> GeneratedKeys {
    let pair = KeyPair::new();
    GeneratedKeys {
        private_key: pair.private().to_prefixed_string(),
        public_key: pair.public().to_string(),
    }
}

/// A restriction a holder adds to a token without contacting Otto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restriction {
    /// Only read operations.
    ReadOnly,
    /// Invalid from this instant on.
    ExpiresAt(DateTime<Utc>),
}

/// Appends `restriction` to `token`, offline: no key is needed.
pub fn attenuate(token: &str, restriction: Restriction) -> Result<String, ApiTokenError> {
    let parsed = UnverifiedBiscuit::from_base64(token)
        .map_err(|error| ApiTokenError::Token(error.to_string()))?;
    let restriction_block = match restriction {
        Restriction::ReadOnly => block!(r#"check if operation("read");"#),
        Restriction::ExpiresAt(instant) => {
            let expiry: SystemTime = instant.into();
            block!(
                r#"check if time($time), $time < {expiry};"#,
                expiry = expiry
            )
        }
    };
    parsed
        .append(restriction_block)
        .and_then(|attenuated| attenuated.to_base64())
        .map_err(|error| ApiTokenError::Token(error.to_string()))
}

/// Issues and verifies API tokens.
pub struct ApiTokens {
    signing: Option<KeyPair>,
    public: PublicKey,
    clock: Arc<dyn Clock>,
    /// Tokens whose signatures verified under `public`; the authorizer still runs on
    /// every request.
    verified: VerifiedTokens<Biscuit>,
}

/// Distinct API tokens remembered per generation: a deployment's scripts and
/// servers hold a handful each.
const REMEMBERED_TOKENS: usize = 1_024;

impl std::fmt::Debug for ApiTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiTokens")
            .field("can_issue", &self.signing.is_some())
            .finish_non_exhaustive()
    }
}

/// The longest token accepted: an Otto token with a few attenuation blocks is well
/// under 2 KiB.
const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The most blocks (authority and attenuations) a token may have.
const MAX_BLOCKS: usize = 8;

/// Datalog limits that bound the work a token can cause (facts, iterations, with the
/// token's size and blocks checked before), not the time it takes: a wall-clock
/// limit of 100 ms refused valid tokens on a busy machine ("Reached Datalog execution
/// limits"). The time limit is only a backstop for a stalled process.
fn limits() -> AuthorizerLimits {
    AuthorizerLimits {
        max_facts: 1_000,
        max_iterations: 100,
        max_time: Duration::from_secs(5),
    }
}

impl ApiTokens {
    /// Issues and verifies with a private key (`ed25519-private/<hex>`).
    pub fn from_private_key(text: &str, clock: Arc<dyn Clock>) -> Result<Self, ApiTokenError> {
        let private = PrivateKey::from_str(text.trim())
            .map_err(|error| ApiTokenError::InvalidKey(error.to_string()))?;
        let pair = KeyPair::from(&private);
        Ok(ApiTokens {
            public: pair.public(),
            signing: Some(pair),
            clock,
            verified: VerifiedTokens::new(REMEMBERED_TOKENS),
        })
    }

    /// Verifies only, with a public key (`ed25519/<hex>`).
    pub fn from_public_key(text: &str, clock: Arc<dyn Clock>) -> Result<Self, ApiTokenError> {
        let public = PublicKey::from_str(text.trim())
            .map_err(|error| ApiTokenError::InvalidKey(error.to_string()))?;
        Ok(ApiTokens {
            signing: None,
            public,
            clock,
            verified: VerifiedTokens::new(REMEMBERED_TOKENS),
        })
    }

    /// The public key, as text.
    pub fn public_key(&self) -> String {
        self.public.to_string()
    }

    /// Issues a token for `principal` valid for `ttl` from now.
    pub fn issue(&self, principal: &Principal, ttl: Duration) -> Result<String, ApiTokenError> {
        let pair = self.signing.as_ref().ok_or(ApiTokenError::CannotIssue)?;
        let expiry: SystemTime = self
            .clock
            .now()
            .checked_add_signed(chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX))
            .ok_or_else(|| {
                ApiTokenError::Token(format!("a lifetime of {ttl:?} ends beyond the calendar"))
            })?
            .into();
        let tenant = principal.tenant_id.as_str();
        let user = principal.user_id.as_str();
        let role = principal.role.as_str();
        let mut builder = biscuit!(
            r#"
            tenant({tenant});
            user({user});
            role({role});
            check if time($time), $time < {expiry};
            "#,
            tenant = tenant,
            user = user,
            role = role,
            expiry = expiry,
        );
        if principal.platform_admin {
            builder = builder
                .fact("platform_admin(true)")
                .map_err(|error| ApiTokenError::Token(error.to_string()))?;
        }
        builder
            .build(pair)
            .and_then(|token| token.to_base64())
            .map_err(|error| ApiTokenError::Token(error.to_string()))
    }
}

fn refusal(error: Token) -> CredentialError {
    match error {
        Token::Format(
            Format::Signature(_)
            | Format::InvalidSignatureSize(_)
            | Format::SignatureDeserializationError(_),
        ) => CredentialError::InvalidSignature,
        Token::FailedLogic(
            Logic::Unauthorized { checks, .. } | Logic::NoMatchingPolicy { checks },
        ) => {
            if checks.is_empty() {
                // Every check passed but no policy matched: the token names no tenant or user.
                CredentialError::NoTenant
            } else if checks
                .iter()
                .any(|check| check.to_string().contains("time("))
            {
                CredentialError::Expired
            } else {
                CredentialError::NotPermitted
            }
        }
        other => CredentialError::Malformed(other.to_string()),
    }
}

#[async_trait]
impl CredentialVerifier for ApiTokens {
    async fn verify(
        &self,
        token: &str,
        operation: Operation,
    ) -> Result<Principal, CredentialError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(CredentialError::Malformed(format!(
                "the token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let token = self
            .verified
            .get_or_verify(token, || Biscuit::from_base64(token, self.public))
            .map_err(refusal)?;
        if token.block_count() > MAX_BLOCKS {
            return Err(CredentialError::Malformed(format!(
                "the token has more than {MAX_BLOCKS} blocks"
            )));
        }
        let now: SystemTime = self.clock.now().into();
        let operation = operation.as_str();
        let mut authorizer = authorizer!(
            r#"
            time({now});
            operation({operation});
            allow if tenant($tenant), user($user);
            "#,
            now = now,
            operation = operation,
        )
        .set_limits(limits())
        .build(&token)
        .map_err(refusal)?;
        authorizer.authorize().map_err(refusal)?;
        let (tenant, user): (String, String) = authorizer
            .query_exactly_one("identity($tenant, $user) <- tenant($tenant), user($user)")
            .map_err(|_| {
                CredentialError::Malformed(
                    "the token must name exactly one tenant and user".to_owned(),
                )
            })?;
        let role = authorizer
            .query_exactly_one::<_, (String,), _>("granted($role) <- role($role)")
            .ok()
            .map(|(role,)| role);
        // The authorizer's queries trust only the authority block and the authorizer,
        // so a holder cannot make a token admin by appending `platform_admin(true)`.
        let platform_admin = authorizer
            .query::<_, (bool,), _>("admin($flag) <- platform_admin($flag)")
            .is_ok_and(|flags| flags.iter().any(|(flag,)| *flag));
        Ok(Principal {
            tenant_id: TenantId::parse(&tenant)
                .map_err(|error| CredentialError::Malformed(error.to_string()))?,
            user_id: UserId::parse(&user)
                .map_err(|error| CredentialError::Malformed(error.to_string()))?,
            role: match role {
                Some(role) => Role::parse(&role)
                    .map_err(|error| CredentialError::Malformed(error.to_string()))?,
                None => Role::member(),
            },
            credential: CredentialKind::ApiToken,
            platform_admin,
        })
    }
}

/// Parses a lifetime such as `90s`, `15m`, `1h` or `30d`.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a lifetime such as 15m, 1h or 30d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("`{text}` has an unknown unit; use s, m, h or d")),
    };
    if number == 0 {
        return Err("a lifetime must be positive".to_owned());
    }
    number
        .checked_mul(seconds)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("`{text}` is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_parse_in_every_unit() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3_600)));
        assert_eq!(parse_ttl("30d"), Ok(Duration::from_secs(2_592_000)));
        for bad in ["", "h", "10", "10y", "0h", "-1h", "99999999999999999999d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}
