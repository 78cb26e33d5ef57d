//! Webhook signature schemes of CallRail, Twilio, Clerk (Svix) and Bland AI.
//!
//! Every comparison is constant-time. The functions take the raw bytes as received:
//! a signature is over the body the provider sent, never over a re-serialisation.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header (or one of Svix's headers) is absent.
    #[error("the signature is missing")]
    Missing,
    /// The header is present but not in the scheme's format.
    #[error("the signature is malformed")]
    Malformed,
    /// The signature does not match the body and secret.
    #[error("the signature does not match")]
    Mismatch,
    /// The signed timestamp is outside the tolerance (a replay, or a wrong clock).
    #[error("the signed timestamp is outside the tolerance")]
    Stale,
}

impl SignatureError {
    /// A short stable name, for metrics labels.
    pub fn reason(self) -> &'static str {
        match self {
            SignatureError::Missing => "missing_signature",
            SignatureError::Malformed => "malformed_signature",
            SignatureError::Mismatch => "bad_signature",
            SignatureError::Stale => "stale_timestamp",
        }
    }
}

fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

fn equal(expected: &[u8], presented: &[u8]) -> bool {
    expected.ct_eq(presented).into()
}

/// `bytes` as lower-case hexadecimal (digests in signatures, keys and proofs).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// CallRail: `Signature` = base64(HMAC-SHA1(signing key, raw body)).
pub mod callrail {
    use super::*;

    /// The signature CallRail sends for `body`.
    pub fn sign(key: &str, body: &[u8]) -> String {
        BASE64.encode(hmac_sha1(key.as_bytes(), body))
    }

    /// Verifies the `Signature` header.
    pub fn verify(key: &str, body: &[u8], signature: Option<&str>) -> Result<(), SignatureError> {
        let presented = signature
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(SignatureError::Missing)?;
        let presented = BASE64
            .decode(presented)
            .map_err(|_| SignatureError::Malformed)?;
        if equal(&hmac_sha1(key.as_bytes(), body), &presented) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Twilio: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + sorted params)).
pub mod twilio {
    use super::*;

    /// The string Twilio signs: the full URL, then each parameter name followed by
    /// its value, names sorted, repeated values sorted and de-duplicated.
    fn signed_text(url: &str, params: &[(String, String)]) -> String {
        let mut pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut text = url.to_owned();
        for (name, value) in pairs {
            text.push_str(name);
            text.push_str(value);
        }
        text
    }

    /// The signature Twilio sends for a form-encoded request to `url`.
    pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
        BASE64.encode(hmac_sha1(
            auth_token.as_bytes(),
            signed_text(url, params).as_bytes(),
        ))
    }

    /// `url` with its default port added when absent, or removed when present:
    /// Twilio signs either form, inconsistently.
    pub fn alternate_port_form(url: &str) -> Option<String> {
        let (scheme, rest) = url.split_once("://")?;
        let default_port = match scheme {
            "https" => "443",
            "http" => "80",
            _ => return None,
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (format!("{userinfo}@"), host_port),
            None => (String::new(), authority),
        };
        // A colon inside brackets belongs to an IPv6 literal, not to a port.
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (host_port, None),
        };
        let alternate = match port {
            Some(port) if port == default_port => host.to_owned(),
            Some(_) => return None,
            None => format!("{host}:{default_port}"),
        };
        Some(format!("{scheme}://{userinfo}{alternate}{tail}"))
    }

    fn matches(auth_token: &str, url: &str, params: &[(String, String)], presented: &[u8]) -> bool {
        let direct = equal(
            &hmac_sha1(auth_token.as_bytes(), signed_text(url, params).as_bytes()),
            presented,
        );
        direct
            || alternate_port_form(url).is_some_and(|alternate| {
                equal(
                    &hmac_sha1(
                        auth_token.as_bytes(),
                        signed_text(&alternate, params).as_bytes(),
                    ),
                    presented,
                )
            })
    }

    fn decode(signature: Option<&str>) -> Result<Vec<u8>, SignatureError> {
        let presented = signature
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(SignatureError::Missing)?;
        BASE64
            .decode(presented)
            .map_err(|_| SignatureError::Malformed)
    }

    /// Verifies a form-encoded request to `url` (the public URL Twilio called).
    pub fn verify(
        auth_token: &str,
        url: &str,
        params: &[(String, String)],
        signature: Option<&str>,
    ) -> Result<(), SignatureError> {
        let presented = decode(signature)?;
        if matches(auth_token, url, params, &presented) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }

    /// Hex SHA-256 of a body, as Twilio puts it in the `bodySHA256` query parameter.
    pub fn body_hash(body: &[u8]) -> String {
        hex(&Sha256::digest(body))
    }

    /// Verifies a request with a non-form body (JSON): the URL carries
    /// `bodySHA256=<hex sha256 of the body>` and is signed with no parameters.
    pub fn verify_with_body(
        auth_token: &str,
        url: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), SignatureError> {
        let presented = decode(signature)?;
        let query = url.split_once('?').map_or("", |(_, query)| query);
        let declared = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("bodySHA256="))
            .ok_or(SignatureError::Malformed)?;
        if !equal(
            body_hash(body).as_bytes(),
            declared.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(SignatureError::Mismatch);
        }
        if matches(auth_token, url, &[], &presented) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}

/// Clerk, through Svix: `svix-signature` holds space-separated `v1,<base64>` entries,
/// each HMAC-SHA256 of `"{svix-id}.{svix-timestamp}.{body}"` keyed with the base64
/// part of the `whsec_` secret; the timestamp must be within five minutes of now.
pub mod svix {
    use super::*;

    /// Tolerance between the signed timestamp and now, either way.
    pub const TOLERANCE_SECONDS: i64 = 5 * 60;

    fn key(secret: &str) -> Result<Vec<u8>, SignatureError> {
        BASE64
            .decode(secret.trim().trim_start_matches("whsec_"))
            .map_err(|_| SignatureError::Malformed)
    }

    /// The `v1,<base64>` signature of a message.
    pub fn sign(
        secret: &str,
        msg_id: &str,
        timestamp: i64,
        body: &[u8],
    ) -> Result<String, SignatureError> {
        let mut signed = format!("{msg_id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        Ok(format!(
            "v1,{}",
            BASE64.encode(hmac_sha256(&key(secret)?, &signed))
        ))
    }

    /// Verifies a delivery's three headers at `now` (Unix seconds).
    pub fn verify(
        secret: &str,
        msg_id: Option<&str>,
        timestamp: Option<&str>,
        signatures: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        let (msg_id, timestamp, signatures) = match (msg_id, timestamp, signatures) {
            (Some(id), Some(ts), Some(sigs)) => (id.trim(), ts.trim(), sigs),
            _ => return Err(SignatureError::Missing),
        };
        let timestamp: i64 = timestamp.parse().map_err(|_| SignatureError::Malformed)?;
        // `abs_diff`: a timestamp near either end of i64 must be stale, not overflow.
        if now.abs_diff(timestamp) > TOLERANCE_SECONDS.unsigned_abs() {
            return Err(SignatureError::Stale);
        }
        let mut signed = format!("{msg_id}.{timestamp}.").into_bytes();
        signed.extend_from_slice(body);
        let expected = hmac_sha256(&key(secret)?, &signed);
        let mut any_v1 = false;
        for entry in signatures.split_whitespace() {
            let Some(encoded) = entry.strip_prefix("v1,") else {
                continue;
            };
            any_v1 = true;
            if let Ok(presented) = BASE64.decode(encoded)
                && equal(&expected, &presented)
            {
                return Ok(());
            }
        }
        if any_v1 {
            Err(SignatureError::Mismatch)
        } else {
            Err(SignatureError::Malformed)
        }
    }
}

/// Bland AI: `X-Webhook-Signature` = hex(HMAC-SHA256(signing secret, raw body)).
pub mod bland {
    use super::*;

    /// The signature Bland sends for `body`.
    pub fn sign(secret: &str, body: &[u8]) -> String {
        hex(&hmac_sha256(secret.as_bytes(), body))
    }

    /// Verifies the `X-Webhook-Signature` header (hex, either case).
    pub fn verify(
        secret: &str,
        body: &[u8],
        signature: Option<&str>,
    ) -> Result<(), SignatureError> {
        let presented = signature
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or(SignatureError::Missing)?;
        if presented.len() != 64 || !presented.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(SignatureError::Malformed);
        }
        if equal(
            sign(secret, body).as_bytes(),
            presented.to_ascii_lowercase().as_bytes(),
        ) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch)
        }
    }
}
