//! Clerk session JWTs: RS256 verification against a PEM key or a cached JWKS.
//!
//! The JWKS is fetched on first use and again when it is older than its time to live.
//! A token naming an unknown `kid` triggers a refetch, but at most one per
//! `refetch_interval` however many such tokens arrive, so a flood of random kids never
//! becomes a flood of fetches. A failed fetch keeps the last good keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use otto_core::origin::{OriginPattern, is_allowed};
use otto_core::ports::{Clock, CredentialError, CredentialVerifier};
use otto_core::tenancy::{CredentialKind, Operation, Principal, Role, TenantId, UserId};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use crate::verified_tokens::VerifiedTokens;

/// Clock skew tolerated on `exp` and `nbf`, as Clerk's own SDKs do.
pub const CLOCK_SKEW_SECONDS: i64 = 5;

/// Where verification keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// One PEM public key (CLERK_JWT_KEY): fully offline.
    Pem(String),
    /// A JWKS document, optionally fetched with a bearer token (Clerk's Backend API
    /// takes the secret key).
    Jwks {
        /// The JWKS URL.
        url: String,
        /// Bearer token for the request.
        bearer: Option<String>,
    },
}

/// How session tokens are verified.
#[derive(Debug, Clone)]
pub struct ClerkSettings {
    /// The keys.
    pub keys: KeySource,
    /// The expected `iss`, when known.
    pub issuer: Option<String>,
    /// Accepted `azp` origins; when non-empty a token without `azp` is refused.
    pub authorized_parties: Vec<OriginPattern>,
    /// Least time between two JWKS fetches caused by unknown key ids.
    pub refetch_interval: Duration,
    /// Age after which the JWKS is refreshed on use.
    pub keys_ttl: Duration,
}

/// Clerk's Backend API JWKS endpoint (authenticated with the secret key).
pub const BACKEND_API_JWKS_URL: &str = "https://api.clerk.com/v1/jwks";

/// The Frontend API host a publishable key names: `pk_test_`/`pk_live_` followed by
/// base64 of `HOST$`.
pub fn frontend_api_host(publishable_key: &str) -> Option<String> {
    let encoded = publishable_key
        .strip_prefix("pk_test_")
        .or_else(|| publishable_key.strip_prefix("pk_live_"))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(encoded))
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let host = text.strip_suffix('$')?;
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
    valid.then(|| host.to_owned())
}

#[derive(Debug, Default)]
struct KeyCache {
    keys: HashMap<String, DecodingKey>,
    fetched_at: Option<DateTime<Utc>>,
    last_attempt: Option<DateTime<Utc>>,
}

/// The verifier; see the module docs.
pub struct ClerkJwtVerifier {
    settings: ClerkSettings,
    static_key: Option<DecodingKey>,
    cache: RwLock<KeyCache>,
    fetch_lock: Mutex<()>,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    /// Session tokens whose signatures verified; their claims (time, issuer,
    /// party) are still checked on every request.
    verified: VerifiedTokens<SessionClaims>,
}

/// Distinct session tokens remembered per generation. Clerk reissues a session's
/// token every minute, so a generation holds about a minute of active sessions.
const REMEMBERED_SESSION_TOKENS: usize = 4_096;

impl std::fmt::Debug for ClerkJwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClerkJwtVerifier")
            .field("issuer", &self.settings.issuer)
            .finish_non_exhaustive()
    }
}

/// Why the verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ClerkSetupError {
    /// CLERK_JWT_KEY is not an RSA public key in PEM form.
    #[error("CLERK_JWT_KEY is not an RSA public key in PEM form: {0}")]
    InvalidPem(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Http(String),
}

#[derive(Debug, Deserialize)]
struct OrganizationClaim {
    id: Option<String>,
    rol: Option<String>,
}

#[derive(Debug, Deserialize)]
struct SessionClaims {
    sub: Option<String>,
    iss: Option<String>,
    azp: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
    /// Session token v2: the active organization.
    o: Option<OrganizationClaim>,
    /// Session token v1.
    org_id: Option<String>,
    org_role: Option<String>,
}

impl ClerkJwtVerifier {
    /// A verifier with `settings`, reading time from `clock`.
    pub fn new(settings: ClerkSettings, clock: Arc<dyn Clock>) -> Result<Self, ClerkSetupError> {
        let static_key = match &settings.keys {
            KeySource::Pem(pem) => Some(
                DecodingKey::from_rsa_pem(pem.replace("\\n", "\n").as_bytes())
                    .map_err(|error| ClerkSetupError::InvalidPem(error.to_string()))?,
            ),
            KeySource::Jwks { .. } => None,
        };
        crate::tls::ensure_crypto_provider();
        crate::jwt_crypto::ensure_jwt_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|error| ClerkSetupError::Http(error.to_string()))?;
        Ok(ClerkJwtVerifier {
            settings,
            static_key,
            cache: RwLock::new(KeyCache::default()),
            fetch_lock: Mutex::new(()),
            http,
            clock,
            verified: VerifiedTokens::new(REMEMBERED_SESSION_TOKENS),
        })
    }

    /// The key to verify a token whose header names `kid`.
    async fn key_for(&self, kid: Option<&str>) -> Result<DecodingKey, CredentialError> {
        if let Some(key) = &self.static_key {
            return Ok(key.clone());
        }
        let kid = kid.ok_or_else(|| {
            CredentialError::Malformed("the token header names no key (kid)".to_owned())
        })?;
        let now = self.clock.now();
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched_at
                .is_some_and(|fetched| now - fetched < ttl(self.settings.keys_ttl));
            if let Some(key) = cache.keys.get(kid).filter(|_| fresh) {
                return Ok(key.clone());
            }
        }
        self.refresh_keys(now).await;
        let cache = self.cache.read().await;
        match cache.keys.get(kid) {
            Some(key) => Ok(key.clone()),
            None if cache.keys.is_empty() => Err(CredentialError::KeysUnavailable(
                "the JWKS could not be fetched".to_owned(),
            )),
            None => Err(CredentialError::UnknownKey),
        }
    }

    /// Fetches the JWKS unless another fetch happened within the refetch interval.
    async fn refresh_keys(&self, now: DateTime<Utc>) {
        let KeySource::Jwks { url, bearer } = &self.settings.keys else {
            return;
        };
        // One fetch at a time; whoever waited re-checks whether it is still needed.
        let _fetching = self.fetch_lock.lock().await;
        {
            let cache = self.cache.read().await;
            let recently = cache
                .last_attempt
                .is_some_and(|last| now - last < ttl(self.settings.refetch_interval));
            if recently {
                return;
            }
        }
        let fetched = self.fetch_jwks(url, bearer.as_deref()).await;
        let mut cache = self.cache.write().await;
        cache.last_attempt = Some(now);
        match fetched {
            Ok(keys) => {
                tracing::info!(keys = keys.len(), "Clerk JWKS refreshed");
                cache.keys = keys;
                cache.fetched_at = Some(now);
                // A kid may now name other key material: verify every token again.
                self.verified.clear();
            }
            Err(error) => {
                tracing::warn!(error = %error, kept = cache.keys.len(), "Clerk JWKS fetch failed; keeping the last good keys");
            }
        }
    }

    async fn fetch_jwks(
        &self,
        url: &str,
        bearer: Option<&str>,
    ) -> Result<HashMap<String, DecodingKey>, String> {
        let mut request = self.http.get(url);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let request = request.build().map_err(|error| error.to_string())?;
        let response = crate::traced_http::execute(&self.http, "clerk", request)
            .await
            .map_err(|error| error.to_string())?;
        if !response.status().is_success() {
            return Err(format!("JWKS endpoint answered {}", response.status()));
        }
        let set: JwkSet = response
            .json()
            .await
            .map_err(|error| format!("JWKS is not valid: {error}"))?;
        let keys: HashMap<String, DecodingKey> = set
            .keys
            .iter()
            .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|key| (kid, key))
            })
            .collect();
        if keys.is_empty() {
            Err("the JWKS holds no usable RSA key".to_owned())
        } else {
            Ok(keys)
        }
    }

    fn check_claims(&self, claims: &SessionClaims) -> Result<Principal, CredentialError> {
        let now = self.clock.now().timestamp();
        let exp = claims.exp.ok_or_else(|| {
            CredentialError::Malformed("the token has no expiry (exp)".to_owned())
        })?;
        // Saturating: a signed `exp` near i64::MAX means "never", not an overflow.
        if now > exp.saturating_add(CLOCK_SKEW_SECONDS) {
            return Err(CredentialError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| now + CLOCK_SKEW_SECONDS < nbf) {
            return Err(CredentialError::NotYetValid);
        }
        let issued_by = claims.iss.as_deref().map(|iss| iss.trim_end_matches('/'));
        if let Some(issuer) = &self.settings.issuer
            && issued_by != Some(issuer.trim_end_matches('/'))
        {
            return Err(CredentialError::WrongIssuer);
        }
        if !self.settings.authorized_parties.is_empty() {
            let party = claims
                .azp
                .as_deref()
                .ok_or(CredentialError::WrongAuthorizedParty)?;
            if !is_allowed(&self.settings.authorized_parties, party) {
                return Err(CredentialError::WrongAuthorizedParty);
            }
        }
        let subject = claims.sub.as_deref().ok_or_else(|| {
            CredentialError::Malformed("the token names no user (sub)".to_owned())
        })?;
        let user_id = UserId::parse(subject)
            .map_err(|error| CredentialError::Malformed(error.to_string()))?;
        let (tenant, role) = match &claims.o {
            Some(organization) if organization.id.is_some() => {
                (organization.id.as_deref(), organization.rol.as_deref())
            }
            _ => (claims.org_id.as_deref(), claims.org_role.as_deref()),
        };
        let tenant = tenant
            .filter(|id| !id.is_empty())
            .ok_or(CredentialError::NoTenant)?;
        let tenant_id = TenantId::parse(tenant)
            .map_err(|error| CredentialError::Malformed(error.to_string()))?;
        let role = match role {
            Some(role) => {
                Role::parse(role).map_err(|error| CredentialError::Malformed(error.to_string()))?
            }
            None => Role::member(),
        };
        Ok(Principal {
            tenant_id,
            user_id,
            role,
            credential: CredentialKind::ClerkSession,
            platform_admin: false,
        })
    }
}

fn ttl(duration: Duration) -> chrono::Duration {
    chrono::Duration::from_std(duration).unwrap_or(chrono::Duration::MAX)
}

#[async_trait]
impl CredentialVerifier for ClerkJwtVerifier {
    async fn verify(
        &self,
        token: &str,
        _operation: Operation,
    ) -> Result<Principal, CredentialError> {
        let header = jsonwebtoken::decode_header(token).map_err(|error| {
            CredentialError::Malformed(format!("unreadable token header: {error}"))
        })?;
        // RS256 only: `none`, HS* (including HMAC keyed with the public key) and any
        // other algorithm are refused before a key is even looked up.
        if header.alg != Algorithm::RS256 {
            return Err(CredentialError::InvalidSignature);
        }
        // The key is looked up on every request, so a token whose key left the key
        // set is refused even when its signature was verified before.
        let key = self.key_for(header.kid.as_deref()).await?;
        let claims = self
            .verified
            .get_or_verify(token, || decode_claims(token, &key))?;
        self.check_claims(&claims)
    }
}

/// The claims of `token` once its RS256 signature verified under `key`.
fn decode_claims(token: &str, key: &DecodingKey) -> Result<SessionClaims, CredentialError> {
    let mut validation = Validation::new(Algorithm::RS256);
    // Time, issuer and party are checked by `check_claims` against the injected clock,
    // on every request, with distinct errors for each.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data =
        jsonwebtoken::decode::<SessionClaims>(token, key, &validation).map_err(
            |error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidSignature
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
                | jsonwebtoken::errors::ErrorKind::InvalidAlgorithmName => {
                    CredentialError::InvalidSignature
                }
                _ => CredentialError::Malformed(error.to_string()),
            },
        )?;
    Ok(data.claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishable_keys_name_their_frontend_api_host() {
        let encoded = base64::engine::general_purpose::STANDARD.encode("clerk.otto.example.com$");
        assert_eq!(
            frontend_api_host(&format!("pk_live_{encoded}")).as_deref(),
            Some("clerk.otto.example.com")
        );
        assert_eq!(
            frontend_api_host(&format!("pk_test_{encoded}")).as_deref(),
            Some("clerk.otto.example.com")
        );
        let unpadded = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode("happy-hen-1.clerk.accounts.dev$");
        assert_eq!(
            frontend_api_host(&format!("pk_test_{unpadded}")).as_deref(),
            Some("happy-hen-1.clerk.accounts.dev")
        );
        for bad in [
            "pk_live_",
            "sk_live_abc",
            "pk_test_!!!",
            &format!(
                "pk_test_{}",
                base64::engine::general_purpose::STANDARD.encode("no-dollar")
            ),
        ] {
            assert_eq!(frontend_api_host(bad), None, "{bad}");
        }
    }
}
