//! One TLS crypto provider for the whole process: ring.
//!
//! reqwest is built without a provider of its own (so that it does not bring
//! aws-lc-rs next to sqlx's ring), and panics when it builds a client before one is
//! installed. Every adapter that builds an HTTP client calls [`ensure_crypto_provider`]
//! first, so embedders and tests need not remember to.

/// Installs ring as the process-wide rustls provider unless one is installed already.
pub fn ensure_crypto_provider() {
    // An error only means a provider is installed already, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
