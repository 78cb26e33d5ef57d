//! Credentials: turning a presented token into a verified [`Principal`].

use async_trait::async_trait;

use crate::tenancy::{Operation, Principal};

/// Why a credential was refused. Each reason maps to its own problem type, so that a
/// client can tell "log in again" from "you have no organization".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    /// No token was presented.
    #[error("no credential was presented")]
    Missing,
    /// The token is not a well-formed token of any accepted kind.
    #[error("the token is malformed: {0}")]
    Malformed(String),
    /// The signature does not verify, or the algorithm is not accepted.
    #[error("the token signature is invalid")]
    InvalidSignature,
    /// The token names a signing key that is not (or no longer) published.
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    /// The token has expired.
    #[error("the token has expired")]
    Expired,
    /// The token is not valid yet.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// The token was issued by someone else.
    #[error("the token was issued by an unexpected issuer")]
    WrongIssuer,
    /// The token was issued to another application (`azp`), or names none.
    #[error("the token was issued for another application")]
    WrongAuthorizedParty,
    /// The token is valid but names no organization.
    #[error("the token names no organization; select one and retry")]
    NoTenant,
    /// The token is valid but restricted so that it does not allow this operation.
    #[error("the token does not allow this operation")]
    NotPermitted,
    /// Verification keys cannot be obtained right now (not the caller's fault).
    #[error("verification keys are unavailable: {0}")]
    KeysUnavailable(String),
}

/// Verifies one kind of credential.
///
/// ```
/// # use otto_core::ports::{CredentialError, CredentialVerifier};
/// # use otto_core::tenancy::{CredentialKind, Operation, Principal, Role, TenantId, UserId};
/// struct OneToken(Principal);
///
/// #[async_trait::async_trait]
/// impl CredentialVerifier for OneToken {
///     async fn verify(&self, token: &str, _: Operation) -> Result<Principal, CredentialError> {
///         if token == "let-me-in" { Ok(self.0.clone()) } else { Err(CredentialError::InvalidSignature) }
///     }
/// }
/// ```
#[async_trait]
pub trait CredentialVerifier: Send + Sync {
    /// Verifies `token` for a request performing `operation`.
    async fn verify(&self, token: &str, operation: Operation)
    -> Result<Principal, CredentialError>;
}
