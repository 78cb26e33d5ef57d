//! Tenant-scoped storage. Every method takes a [`TenantScope`]; implementations
//! must never return or touch a row of another tenant.

use async_trait::async_trait;
use uuid::Uuid;

use crate::calls::{Call, CallCursor, CallFilter, NewCall, OutcomeChange, Page};
use crate::tenancy::TenantScope;

/// A storage failure (never a "not found": that is `Ok(None)`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store could not be reached or the operation timed out: retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The write conflicts with an existing row.
    #[error("conflict: {0}")]
    Conflict(String),
    /// Anything else; a bug or a broken schema.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// Runs `delete` (at most `batch` rows per call) until a call deletes fewer, so that
/// a large purge never holds a lock for long; returns the total.
pub async fn in_batches<F, Fut>(batch: u32, delete: F) -> Result<u64, StoreError>
where
    F: Fn(u32) -> Fut,
    Fut: std::future::Future<Output = Result<u64, StoreError>>,
{
    let batch = batch.max(1);
    let mut total = 0;
    loop {
        let deleted = delete(batch).await?;
        total += deleted;
        if deleted < u64::from(batch) {
            return Ok(total);
        }
    }
}

/// A company (tenant) as Otto knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    /// Display name, once Clerk has told Otto.
    pub name: Option<String>,
    /// URL slug.
    pub slug: Option<String>,
}

/// The tenant's own record.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::{Company, CompanyDirectory};
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let companies = InMemoryStore::default();
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// let globex = TenantScope::for_job(TenantId::parse("org_globex")?);
/// assert_eq!(companies.company(&acme).await?, None);
/// let mut company = Company {
///     name: Some("Acme Plumbing".into()),
///     slug: Some("acme".into()),
/// };
/// companies.save_company(&acme, &company).await?;
/// // Saving again updates the record in place.
/// company.name = Some("Acme Plumbing & Heating".into());
/// companies.save_company(&acme, &company).await?;
/// assert_eq!(companies.company(&acme).await?, Some(company));
/// // Another tenant does not see it.
/// assert_eq!(companies.company(&globex).await?, None);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait CompanyDirectory: Send + Sync {
    /// The scope's company, if Otto has a record of it.
    async fn company(&self, scope: &TenantScope) -> Result<Option<Company>, StoreError>;

    /// Creates or updates the scope's company record.
    async fn save_company(&self, scope: &TenantScope, company: &Company) -> Result<(), StoreError>;

    /// The scope's members (kept in sync from Clerk), ordered by user id.
    async fn members(&self, scope: &TenantScope) -> Result<Vec<Member>, StoreError>;
}

/// A user of a company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user_id: crate::tenancy::UserId,
    /// Their email address, when known.
    pub email: Option<String>,
    /// Their name, when known.
    pub name: Option<String>,
    /// Their organization role.
    pub role: crate::tenancy::Role,
}

/// A tenant's calls.
#[cfg_attr(feature = "mocks", mockall::automock)]
#[async_trait]
pub trait CallRepository: Send + Sync {
    /// Records a call; recording the same provider call twice keeps one row and
    /// returns it.
    async fn record(&self, scope: &TenantScope, call: NewCall) -> Result<Call, StoreError>;

    /// The scope's calls that pass `filter`, newest first, `limit` per page, after
    /// `cursor`.
    async fn list(
        &self,
        scope: &TenantScope,
        filter: &CallFilter,
        cursor: Option<CallCursor>,
        limit: u32,
    ) -> Result<Page<Call, CallCursor>, StoreError>;

    /// One of the scope's calls; `None` if it does not exist *in this tenant*.
    async fn get(&self, scope: &TenantScope, id: Uuid) -> Result<Option<Call>, StoreError>;

    /// Applies `change` to the outcome of the scope's call `id` and returns the call
    /// as changed; `None` if it does not exist in this tenant.
    async fn update_outcome(
        &self,
        scope: &TenantScope,
        id: Uuid,
        change: &OutcomeChange,
    ) -> Result<Option<Call>, StoreError>;
}
