//! The cryptography jsonwebtoken verifies session tokens with.
//!
//! Every API request with a Clerk session token verifies one RS256 signature. The
//! RustCrypto backend does it with a general-purpose bignum crate, which profiled at a
//! fifth of the server's CPU under load. ring, already in the build as rustls' and
//! sqlx's provider, verifies the same signature an order of magnitude faster. So RS256
//! verification goes to ring, and everything else (signing, other algorithms, JWK
//! helpers) stays with the RustCrypto provider.

use std::sync::LazyLock;

use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier, rust_crypto};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey};

/// RustCrypto for everything but RS256 verification, which ring does.
static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: rust_crypto::DEFAULT_PROVIDER.signer_factory,
    verifier_factory,
    key_utils: rust_crypto::DEFAULT_PROVIDER.key_utils.clone(),
});

/// Installs the ring `CryptoProvider` as jsonwebtoken's process-wide provider unless one is
/// installed already (by an earlier call, or by an embedder who chose their own).
pub fn ensure_jwt_provider() {
    // An error only means a provider is installed already.
    let provider: &'static CryptoProvider = &PROVIDER;
    let _ = provider.install_default();
}

fn verifier_factory(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>> {
    match algorithm {
        Algorithm::RS256 => {
            if key.family() != AlgorithmFamily::Rsa {
                return Err(ErrorKind::InvalidKeyFormat.into());
            }
            Ok(Box::new(RingRs256(key.clone())))
        }
        _ => (rust_crypto::DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
    }
}

/// RSASSA-PKCS1-v1_5 with SHA-256, keys of 2048 to 8192 bits (ring refuses smaller
/// keys, as should anyone verifying session tokens).
struct RingRs256(DecodingKey);

impl signature::Verifier<Vec<u8>> for RingRs256 {
    fn verify(
        &self,
        message: &[u8],
        signature: &Vec<u8>,
    ) -> std::result::Result<(), signature::Error> {
        let verified =
            match self.0.kind() {
                // A PEM key: jsonwebtoken keeps the PKCS#1 RSAPublicKey DER, which is the
                // form ring parses.
                DecodingKeyKind::SecretOrDer(der) => {
                    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, der)
                        .verify(message, signature)
                }
                // A JWK: modulus and exponent.
                DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
                    .verify(&RSA_PKCS1_2048_8192_SHA256, message, signature),
            };
        verified.map_err(|_| signature::Error::new())
    }
}

impl JwtVerifier for RingRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}
