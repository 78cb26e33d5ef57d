//! [`RememberedRoutes`]: the account → tenant map, remembered for a few seconds.
//!
//! Every delivery that names provider accounts asks which tenant linked them, and
//! links change rarely (an operator links a company once). Asking the database for
//! each delivery was a round trip and a pooled connection of its own, beside the
//! delivery's transaction. A found tenant is therefore remembered for `ttl`:
//!
//! - links and unlinks made through this instance take effect at once (it forgets
//!   everything it remembered);
//! - a link made elsewhere (another process, the CLI) is seen at once for accounts
//!   that were not linked, since "not linked" is never remembered, and within `ttl`
//!   for an account that moved or was unlinked.
//!
//! Memory is bounded: past `capacity` routes, expired ones are dropped, then all.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::plan::AccountRef;
use crate::ports::{AccountLink, Clock, ProviderAccounts, StoreError};
use crate::tenancy::TenantId;

/// Routes remembered at most.
const CAPACITY: usize = 10_000;

/// The tenant found for a list of accounts, and until when it is remembered.
type Routes = HashMap<Vec<AccountRef>, (TenantId, DateTime<Utc>)>;

/// A [`ProviderAccounts`] that remembers found tenants; see the module docs.
pub struct RememberedRoutes {
    accounts: Arc<dyn ProviderAccounts>,
    clock: Arc<dyn Clock>,
    ttl: chrono::Duration,
    routes: Mutex<Routes>,
}

impl std::fmt::Debug for RememberedRoutes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RememberedRoutes")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl RememberedRoutes {
    /// `accounts`, with each found tenant remembered for `ttl`.
    pub fn new(
        accounts: Arc<dyn ProviderAccounts>,
        clock: Arc<dyn Clock>,
        ttl: std::time::Duration,
    ) -> Self {
        RememberedRoutes {
            accounts,
            clock,
            ttl: chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX),
            routes: Mutex::new(HashMap::new()),
        }
    }

    fn routes(&self) -> MutexGuard<'_, Routes> {
        // A map of plain values stays consistent whatever panicked holding it.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn remembered(&self, accounts: &[AccountRef], now: DateTime<Utc>) -> Option<TenantId> {
        self.routes()
            .get(accounts)
            .filter(|(_, until)| now < *until)
            .map(|(tenant, _)| tenant.clone())
    }

    fn remember(&self, accounts: &[AccountRef], tenant: &TenantId, now: DateTime<Utc>) {
        let until = now
            .checked_add_signed(self.ttl)
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let mut routes = self.routes();
        if routes.len() >= CAPACITY {
            routes.retain(|_, (_, until)| now < *until);
            if routes.len() >= CAPACITY {
                routes.clear();
            }
        }
        routes.insert(accounts.to_vec(), (tenant.clone(), until));
    }

    fn forget_all(&self) {
        self.routes().clear();
    }
}

#[async_trait]
impl ProviderAccounts for RememberedRoutes {
    async fn tenant_of(&self, accounts: &[AccountRef]) -> Result<Option<TenantId>, StoreError> {
        let now = self.clock.now();
        if let Some(tenant) = self.remembered(accounts, now) {
            return Ok(Some(tenant));
        }
        let found = self.accounts.tenant_of(accounts).await?;
        if let Some(tenant) = &found {
            self.remember(accounts, tenant, now);
        }
        Ok(found)
    }

    async fn link(&self, account: &AccountRef, tenant: &TenantId) -> Result<(), StoreError> {
        let linked = self.accounts.link(account, tenant).await;
        self.forget_all();
        linked
    }

    async fn set_signing_key(
        &self,
        account: &AccountRef,
        key: Option<&str>,
    ) -> Result<bool, StoreError> {
        self.accounts.set_signing_key(account, key).await
    }

    async fn signing_keys(&self, accounts: &[AccountRef]) -> Result<Vec<String>, StoreError> {
        self.accounts.signing_keys(accounts).await
    }

    async fn unlink(&self, account: &AccountRef) -> Result<bool, StoreError> {
        let unlinked = self.accounts.unlink(account).await;
        self.forget_all();
        unlinked
    }

    async fn links(&self) -> Result<Vec<AccountLink>, StoreError> {
        self.accounts.links().await
    }
}
