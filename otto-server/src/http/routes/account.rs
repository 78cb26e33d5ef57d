//! `/api/v1/me`: who the caller is.

use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, AuthenticatedErrors};
use crate::http::auth::Caller;

/// The authenticated caller.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Me {
    /// The tenant (Clerk organization id) every request of this caller is confined to.
    pub tenant_id: String,
    /// The user (Clerk user id).
    pub user_id: String,
    /// The user's role in the tenant (`admin`, `member`, ...).
    pub role: String,
    /// How the caller authenticated: `clerk_session` or `api_token`.
    pub credential: String,
}

/// Account operations.
#[derive(Debug, Clone, Copy, Default)]
pub struct AccountApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Account")]
impl AccountApi {
    /// The verified principal of the request.
    #[oai(path = "/me", method = "get", operation_id = "getMe")]
    async fn me(&self, caller: Caller) -> Result<Json<Me>, AuthenticatedErrors> {
        let principal = caller.0;
        Ok(Json(Me {
            tenant_id: principal.tenant_id.to_string(),
            user_id: principal.user_id.to_string(),
            role: principal.role.to_string(),
            credential: principal.credential.as_str().to_owned(),
        }))
    }
}

impl poem_openapi::types::Example for Me {
    fn example() -> Self {
        Me {
            tenant_id: "org_2abcXYZ".into(),
            user_id: "user_2defUVW".into(),
            role: "admin".into(),
            credential: "clerk_session".into(),
        }
    }
}
