//! `/api/v1/company` (and the original service's `/user/company`).

use otto_core::ports::CompanyDirectory;
use otto_core::tenancy::TenantScope;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use std::sync::Arc;

use super::{ApiTags, AuthenticatedErrors, role_refusal, store_failure};
use crate::http::auth::Caller;
use otto_core::members::{CompanyMembers, MembersError};
use otto_core::roles::RoleMap;

/// The caller's company.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct CompanyView {
    /// The company's id: its Clerk organization id, the caller's tenant.
    pub company_id: String,
    /// The company's name, once known (Clerk organization webhooks provide it).
    pub company_name: Option<String>,
    /// The caller's role in the company.
    pub user_role: String,
}

/// A user of the company.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
pub struct CompanyUser {
    /// The user's id (Clerk user id).
    pub user_id: String,
    /// Their email address, when known.
    pub email: Option<String>,
    /// Their name, when known.
    pub name: Option<String>,
    /// Their organization role (`admin`, `member`, a custom role).
    pub organization_role: String,
    /// Their Otto role: `leadership`, `csr` or `rep`.
    pub role: String,
}

/// The company's users.
#[derive(Debug, Object)]
#[oai(example)]
pub struct CompanyUsers {
    /// Ordered by user id.
    pub users: Vec<CompanyUser>,
}

/// Company operations.
#[derive(Clone)]
pub struct CompanyApi {
    companies: Arc<dyn CompanyDirectory>,
    members: CompanyMembers,
}

impl std::fmt::Debug for CompanyApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompanyApi").finish_non_exhaustive()
    }
}

impl CompanyApi {
    /// Operations over `companies`, with Otto roles from `roles`.
    pub fn new(companies: Arc<dyn CompanyDirectory>, roles: RoleMap) -> Self {
        CompanyApi {
            members: CompanyMembers::new(companies.clone(), roles),
            companies,
        }
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

    /// The company's users and their roles (leadership only).
    #[oai(
        path = "/api/v1/company/users",
        method = "get",
        operation_id = "listCompanyUsers"
    )]
    async fn users(&self, caller: Caller) -> Result<Json<CompanyUsers>, AuthenticatedErrors> {
        let members = self
            .members
            .list(&caller.0)
            .await
            .map_err(|error| match error {
                MembersError::Forbidden(refusal) => {
                    AuthenticatedErrors::Forbidden(role_refusal("The user list", &refusal))
                }
                MembersError::Store(error) => store_failure(error),
            })?;
        Ok(Json(CompanyUsers {
            users: members
                .into_iter()
                .map(|(member, role)| CompanyUser {
                    user_id: member.user_id.to_string(),
                    email: member.email,
                    name: member.name,
                    organization_role: member.role.to_string(),
                    role: role.to_string(),
                })
                .collect(),
        }))
    }
}

impl poem_openapi::types::Example for CompanyView {
    fn example() -> Self {
        CompanyView {
            company_id: "org_2abcXYZ".into(),
            company_name: Some("Acme Plumbing".into()),
            user_role: "admin".into(),
        }
    }
}

impl poem_openapi::types::Example for CompanyUsers {
    fn example() -> Self {
        CompanyUsers {
            users: vec![
                CompanyUser {
                    user_id: "user_2defUVW".into(),
                    email: Some("dana@acme.example".into()),
                    name: Some("Dana Reyes".into()),
                    organization_role: "admin".into(),
                    role: "leadership".into(),
                },
                CompanyUser {
                    user_id: "user_2ghiRST".into(),
                    email: Some("sam@acme.example".into()),
                    name: None,
                    organization_role: "sales_rep".into(),
                    role: "rep".into(),
                },
            ],
        }
    }
}
