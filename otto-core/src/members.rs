//! A company's users and their roles, for its leadership.

use std::sync::Arc;

use crate::ports::{CompanyDirectory, Member, StoreError};
use crate::roles::{AppRole, RoleMap, RoleRequired, require};
use crate::tenancy::{Principal, TenantScope};

/// Why the members could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum MembersError {
    /// The caller's role may not.
    #[error(transparent)]
    Forbidden(#[from] RoleRequired),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The members service.
#[derive(Clone)]
pub struct CompanyMembers {
    directory: Arc<dyn CompanyDirectory>,
    roles: RoleMap,
}

impl std::fmt::Debug for CompanyMembers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanyMembers").finish_non_exhaustive()
    }
}

impl CompanyMembers {
    /// Members read from `directory`, with Otto roles from `roles`.
    pub fn new(directory: Arc<dyn CompanyDirectory>, roles: RoleMap) -> Self {
        CompanyMembers { directory, roles }
    }

    /// The caller's company's members with their Otto roles (leadership only).
    pub async fn list(
        &self,
        principal: &Principal,
    ) -> Result<Vec<(Member, AppRole)>, MembersError> {
        require(&self.roles, principal, &[AppRole::Leadership])?;
        Ok(self
            .directory
            .members(&TenantScope::of(principal))
            .await?
            .into_iter()
            .map(|member| {
                let role = self.roles.role_of(&member.role);
                (member, role)
            })
            .collect())
    }
}
