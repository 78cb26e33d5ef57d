//! Authentication: routing a presented token to the verifier of its kind.

use std::sync::Arc;

use crate::ports::{CredentialError, CredentialVerifier};
use crate::tenancy::{Operation, Principal};

/// Verifies any credential Otto accepts: Clerk session JWTs (`header.payload.signature`)
/// and biscuit API tokens (one base64url blob). A kind that is not configured refuses
/// its tokens as invalid.
#[derive(Clone, Default)]
pub struct Authenticator {
    session_tokens: Option<Arc<dyn CredentialVerifier>>,
    api_tokens: Option<Arc<dyn CredentialVerifier>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("session_tokens", &self.session_tokens.is_some())
            .field("api_tokens", &self.api_tokens.is_some())
            .finish()
    }
}

impl Authenticator {
    /// An authenticator over the configured verifiers.
    pub fn new(
        session_tokens: Option<Arc<dyn CredentialVerifier>>,
        api_tokens: Option<Arc<dyn CredentialVerifier>>,
    ) -> Self {
        Authenticator {
            session_tokens,
            api_tokens,
        }
    }

    /// Verifies the presented token (if any) for `operation`.
    pub async fn authenticate(
        &self,
        token: Option<&str>,
        operation: Operation,
    ) -> Result<Principal, CredentialError> {
        let token = token
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or(CredentialError::Missing)?;
        let (verifier, kind) = if looks_like_jwt(token) {
            (&self.session_tokens, "session tokens")
        } else {
            (&self.api_tokens, "API tokens")
        };
        match verifier {
            Some(verifier) => verifier.verify(token, operation).await,
            None => Err(CredentialError::Malformed(format!(
                "{kind} are not accepted by this deployment"
            ))),
        }
    }
}

/// A compact JWS has exactly three dot-separated parts; biscuits have none.
fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::{CredentialKind, Role, TenantId, UserId};
    use async_trait::async_trait;

    struct Fixed(CredentialKind);

    #[async_trait]
    impl CredentialVerifier for Fixed {
        async fn verify(
            &self,
            _token: &str,
            _operation: Operation,
        ) -> Result<Principal, CredentialError> {
            Ok(Principal {
                tenant_id: TenantId::parse("org_1").expect("valid"),
                user_id: UserId::parse("user_1").expect("valid"),
                role: Role::member(),
                credential: self.0,
                platform_admin: false,
            })
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }

    #[test]
    fn tokens_go_to_the_verifier_of_their_kind() {
        let authenticator = Authenticator::new(
            Some(Arc::new(Fixed(CredentialKind::ClerkSession))),
            Some(Arc::new(Fixed(CredentialKind::ApiToken))),
        );
        let session =
            block_on(authenticator.authenticate(Some("a.b.c"), Operation::Read)).expect("jwt");
        assert_eq!(session.credential, CredentialKind::ClerkSession);
        let api = block_on(authenticator.authenticate(Some("En0KEwoEb3JnXzEY"), Operation::Read))
            .expect("biscuit");
        assert_eq!(api.credential, CredentialKind::ApiToken);
    }

    #[test]
    fn a_missing_or_blank_token_is_missing() {
        let authenticator = Authenticator::default();
        for token in [None, Some(""), Some("   ")] {
            assert_eq!(
                block_on(authenticator.authenticate(token, Operation::Read)),
                Err(CredentialError::Missing)
            );
        }
    }

    #[test]
    fn an_unconfigured_kind_refuses_its_tokens_as_malformed() {
        let authenticator =
            Authenticator::new(None, Some(Arc::new(Fixed(CredentialKind::ApiToken))));
        let refused = block_on(authenticator.authenticate(Some("a.b.c"), Operation::Read));
        assert!(
            matches!(refused, Err(CredentialError::Malformed(_))),
            "{refused:?}"
        );
    }
}
