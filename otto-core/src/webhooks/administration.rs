//! Platform administration of webhook routing: which tenant a provider account
//! belongs to, and replaying deliveries that arrived before their account was linked.
//!
//! These operations cross tenants, so every one requires a platform-admin principal;
//! the check lives here, not in the HTTP handlers, so that every way in is guarded.

use std::sync::Arc;

use crate::ports::{AccountLink, ProviderAccounts, StoreError};
use crate::tenancy::{Principal, TenantId};

use super::{AccountRef, Provider, ReplayReport, WebhookIngestion};

/// Longest provider account id accepted.
const MAX_ACCOUNT_ID_LEN: usize = 128;

/// Why an account reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAccount {
    /// Not a provider whose accounts route deliveries.
    #[error("unknown provider `{0}`: expected callrail, twilio or bland")]
    Provider(String),
    /// Empty, too long, or with spaces or control characters.
    #[error("the account id must be 1-128 printable characters without spaces")]
    AccountId,
    /// A signing key that is empty, too long, or has spaces or control characters.
    #[error("the signing key must be 1-256 printable characters without spaces")]
    SigningKey,
}

impl AccountRef {
    /// Parses an operator's account reference. Clerk is refused: its deliveries carry
    /// their organization and are never routed through links.
    pub fn parse(provider: &str, account_id: &str) -> Result<Self, InvalidAccount> {
        let provider_name = provider.trim().to_ascii_lowercase();
        let provider = Provider::parse(&provider_name)
            .filter(|provider| *provider != Provider::Clerk)
            .ok_or_else(|| InvalidAccount::Provider(provider.chars().take(32).collect()))?;
        let account_id = account_id.trim();
        let valid = !account_id.is_empty()
            && account_id.len() <= MAX_ACCOUNT_ID_LEN
            && account_id.bytes().all(|b| b.is_ascii_graphic());
        if !valid {
            return Err(InvalidAccount::AccountId);
        }
        Ok(AccountRef::new(provider, account_id))
    }
}

/// Why an administrative operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdministrationError {
    /// The caller is not a platform admin.
    #[error("this operation needs a platform-admin credential")]
    NotPlatformAdmin,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What linking does to an account's own signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SigningKeyChange {
    /// Leave it as it is (none for a new link).
    Keep,
    /// Verify the account's deliveries with this key (beside the provider-wide one).
    Set(String),
    /// Verify them with the provider-wide secret only.
    Remove,
}

/// Longest signing key accepted.
const MAX_SIGNING_KEY_LEN: usize = 256;

/// `key` as an account's signing key, if it is 1-256 printable characters without
/// spaces.
pub fn signing_key(key: &str) -> Result<String, InvalidAccount> {
    let valid = !key.is_empty()
        && key.len() <= MAX_SIGNING_KEY_LEN
        && key.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(key.to_owned())
    } else {
        Err(InvalidAccount::SigningKey)
    }
}

impl SigningKeyChange {
    /// A key to set, if it is a valid [`signing_key`].
    pub fn set(key: &str) -> Result<Self, InvalidAccount> {
        signing_key(key).map(SigningKeyChange::Set)
    }
}

/// The administration service.
#[derive(Clone)]
pub struct WebhookAdministration {
    accounts: Arc<dyn ProviderAccounts>,
    ingestion: WebhookIngestion,
}

impl std::fmt::Debug for WebhookAdministration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAdministration")
            .finish_non_exhaustive()
    }
}

fn require_platform_admin(principal: &Principal) -> Result<(), AdministrationError> {
    if principal.platform_admin {
        Ok(())
    } else {
        Err(AdministrationError::NotPlatformAdmin)
    }
}

impl WebhookAdministration {
    /// Administers `accounts` and replays through `ingestion`.
    pub fn new(accounts: Arc<dyn ProviderAccounts>, ingestion: WebhookIngestion) -> Self {
        WebhookAdministration {
            accounts,
            ingestion,
        }
    }

    /// Every link, or those of `tenant`, ordered by provider and account.
    pub async fn links(
        &self,
        principal: &Principal,
        tenant: Option<&TenantId>,
    ) -> Result<Vec<AccountLink>, AdministrationError> {
        require_platform_admin(principal)?;
        Ok(self
            .accounts
            .links()
            .await?
            .into_iter()
            .filter(|link| tenant.is_none_or(|tenant| *tenant == link.tenant_id))
            .collect())
    }

    /// Routes `account`'s deliveries to `tenant` (moving it if it was linked
    /// elsewhere) and changes its signing key as asked. Deliveries that waited as
    /// unroutable are replayed separately.
    pub async fn link(
        &self,
        principal: &Principal,
        account: &AccountRef,
        tenant: &TenantId,
        signing_key: &SigningKeyChange,
    ) -> Result<AccountLink, AdministrationError> {
        require_platform_admin(principal)?;
        self.accounts.link(account, tenant).await?;
        match signing_key {
            SigningKeyChange::Keep => {}
            SigningKeyChange::Set(key) => {
                self.accounts.set_signing_key(account, Some(key)).await?;
            }
            SigningKeyChange::Remove => {
                self.accounts.set_signing_key(account, None).await?;
            }
        }
        let has_signing_key = !self
            .accounts
            .signing_keys(std::slice::from_ref(account))
            .await?
            .is_empty();
        Ok(AccountLink {
            account: account.clone(),
            tenant_id: tenant.clone(),
            has_signing_key,
        })
    }

    /// Stops routing `account`'s deliveries; `false` if it was not linked.
    pub async fn unlink(
        &self,
        principal: &Principal,
        account: &AccountRef,
    ) -> Result<bool, AdministrationError> {
        require_platform_admin(principal)?;
        Ok(self.accounts.unlink(account).await?)
    }

    /// Replays up to `limit` stored unroutable deliveries, oldest first.
    pub async fn replay_unroutable(
        &self,
        principal: &Principal,
        limit: u32,
    ) -> Result<ReplayReport, AdministrationError> {
        require_platform_admin(principal)?;
        Ok(self.ingestion.replay_unroutable(limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_references_parse_like_an_operator_types_them() {
        assert_eq!(
            AccountRef::parse(" CallRail ", " COM8154748ae6bd4e278a7cddd38a662f4f "),
            Ok(AccountRef::new(
                Provider::CallRail,
                "COM8154748ae6bd4e278a7cddd38a662f4f"
            ))
        );
        assert_eq!(
            AccountRef::parse("twilio", "+15551230000"),
            Ok(AccountRef::new(Provider::Twilio, "+15551230000"))
        );
        assert!(matches!(
            AccountRef::parse("clerk", "org_1"),
            Err(InvalidAccount::Provider(_))
        ));
        assert!(matches!(
            AccountRef::parse("stripe", "acct_1"),
            Err(InvalidAccount::Provider(_))
        ));
        for bad in ["", "   ", "two words", "tab\there", &"9".repeat(129)] {
            assert_eq!(
                AccountRef::parse("bland", bad),
                Err(InvalidAccount::AccountId),
                "{bad:?}"
            );
        }
    }
}
