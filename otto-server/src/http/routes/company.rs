//! `/api/v1/company` (and the original service's `/user/company`).

use otto_core::ports::CompanyDirectory;
use otto_core::tenancy::TenantScope;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::sync::Arc;

use super::{ApiTags, AuthenticatedErrors, store_failure};
use crate::http::auth::Caller;

/// The caller's company.
#[derive(Debug, Object)]
pub struct CompanyView {
    /// The company's id: its Clerk organization id, the caller's tenant.
    pub company_id: String,
    /// The company's name, once known (Clerk organization webhooks provide it).
    pub company_name: Option<String>,
    /// The caller's role in the company.
    pub user_role: String,
}

/// Company operations.
#[derive(Clone)]
pub struct CompanyApi {
    companies: Arc<dyn CompanyDirectory>,
}

impl std::fmt::Debug for CompanyApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanyApi").finish_non_exhaustive()
    }
}

impl CompanyApi {
    /// Operations over `companies`.
    pub fn new(companies: Arc<dyn CompanyDirectory>) -> Self {
        CompanyApi { companies }
    }

    async fn view(&self, caller: Caller) -> Result<Json<CompanyView>, AuthenticatedErrors> {
        let principal = caller.0;
        let company = self
            .companies
            .company(&TenantScope::of(&principal))
            .await
            .map_err(store_failure)?;
        Ok(Json(CompanyView {
            company_id: principal.tenant_id.to_string(),
            company_name: company.and_then(|company| company.name),
            user_role: principal.role.to_string(),
        }))
    }
}

#[OpenApi(tag = "ApiTags::Account")]
impl CompanyApi {
    /// The caller's company and role in it.
    #[oai(path = "/api/v1/company", method = "get", operation_id = "getCompany")]
    async fn company(&self, caller: Caller) -> Result<Json<CompanyView>, AuthenticatedErrors> {
        self.view(caller).await
    }

    /// The caller's company: the original service's path, kept for existing clients.
    #[oai(
        path = "/user/company",
        method = "get",
        operation_id = "getUserCompany",
        deprecated
    )]
    async fn user_company(&self, caller: Caller) -> Result<Json<CompanyView>, AuthenticatedErrors> {
        self.view(caller).await
    }
}
