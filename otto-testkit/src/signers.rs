//! Signers for tests: RSA keys generated at test time (never committed), Clerk-style
//! session tokens minted with them, and the JWKS that publishes them.

use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};

/// An RSA signing key with a key id, as Clerk publishes them.
#[derive(Clone)]
pub struct TestSigningKey {
    /// The key id (`kid`).
    pub kid: String,
    encoding: EncodingKey,
    /// The public key as PEM (what CLERK_JWT_KEY holds).
    pub public_pem: String,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl std::fmt::Debug for TestSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestSigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl TestSigningKey {
    /// Generates a fresh 2048-bit key named `kid`.
    ///
    /// # Panics
    /// When key generation fails (it does not, short of a broken RNG).
    pub fn generate(kid: &str) -> Self {
        Self::generate_with_bits(kid, 2048)
    }

    /// Generates a fresh key of `bits` bits named `kid` (a weak one, to show it is
    /// refused).
    ///
    /// # Panics
    /// When key generation fails (it does not, short of a broken RNG or a size the
    /// `rsa` crate refuses).
    pub fn generate_with_bits(kid: &str, bits: usize) -> Self {
        let private =
            rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, bits).expect("RSA key generation");
        let public = private.to_public_key();
        let private_pem = private.to_pkcs8_pem(LineEnding::LF).expect("PKCS#8 PEM");
        let public_pem = public
            .to_public_key_pem(LineEnding::LF)
            .expect("public PEM");
        TestSigningKey {
            kid: kid.to_owned(),
            encoding: EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("encoding key"),
            public_pem,
            modulus: public.n().to_bytes_be(),
            exponent: public.e().to_bytes_be(),
        }
    }

    /// Signs `claims` with RS256, naming this key in the header.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("signing")
    }

    /// Signs `claims` with RS256 under a header of `alg`, `typ`, this key's `kid` and
    /// `fields` (which may override `kid`): tokens whose header names its own key
    /// (`jku`, `x5u`, an embedded `jwk`, a path for a `kid`), as an attacker would.
    ///
    /// # Panics
    /// When `fields` is not a JSON object.
    pub fn sign_with_header(&self, fields: &Value, claims: &Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        for (name, value) in fields.as_object().expect("header fields are an object") {
            header[name] = value.clone();
        }
        let message = format!(
            "{}.{}",
            b64.encode(header.to_string()),
            b64.encode(claims.to_string())
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)
                .expect("signing");
        format!("{message}.{signature}")
    }

    /// This key as a JWK.
    pub fn jwk(&self) -> Value {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": b64.encode(&self.modulus),
            "e": b64.encode(&self.exponent),
        })
    }
}

/// A JWKS document publishing `keys`.
pub fn jwks(keys: &[&TestSigningKey]) -> Value {
    json!({ "keys": keys.iter().map(|key| key.jwk()).collect::<Vec<_>>() })
}

/// Claims of a Clerk v2 session token for `user` in organization `org` with `role`,
/// valid from `now - 10 s` to `now + 60 s`.
pub fn session_claims_v2(
    issuer: &str,
    party: &str,
    user: &str,
    org: &str,
    role: &str,
    now: i64,
) -> Value {
    json!({
        "iss": issuer, "azp": party, "sub": user, "sid": "sess_test", "v": 2,
        "iat": now - 10, "nbf": now - 10, "exp": now + 60,
        "o": { "id": org, "rol": role, "slg": "acme" },
    })
}

/// Claims of a Clerk v1 session token (`org_id`, `org_role` with the `org:` prefix).
pub fn session_claims_v1(
    issuer: &str,
    party: &str,
    user: &str,
    org: &str,
    role: &str,
    now: i64,
) -> Value {
    json!({
        "iss": issuer, "azp": party, "sub": user, "sid": "sess_test",
        "iat": now - 10, "nbf": now - 10, "exp": now + 60,
        "org_id": org, "org_role": format!("org:{role}"), "org_slug": "acme",
    })
}

/// A token with `alg: none` and no signature.
pub fn unsigned_token(claims: &Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        b64.encode(claims.to_string())
    )
}

/// An HS256 token keyed with `secret` (for the classic "HMAC with the public key" attack).
pub fn hs256_token(claims: &Value, secret: &[u8], kid: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("signing")
}

/// `token` with its payload replaced by `claims`, keeping the original signature.
pub fn tampered(token: &str, claims: &Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = token.split('.');
    let header = parts.next().unwrap_or_default();
    let _payload = parts.next();
    let signature = parts.next().unwrap_or_default();
    format!("{header}.{}.{signature}", b64.encode(claims.to_string()))
}
