//! `/api/v1/admin`: platform operations across tenants, for platform-admin API
//! tokens only (`otto-server token issue --platform-admin`). Every change is logged
//! with the operator who made it.

use otto_core::ports::StoreError;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{
    AccountLink, AccountRef, AdministrationError, SigningKeyChange, WebhookAdministration,
};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::{ApiTags, problem, store_failure};
use crate::http::auth::Caller;
use crate::http::json_body::{JsonBody, Validate};
use crate::http::problem::{ApiError, FieldError, ProblemBody, ProblemKind};
use crate::state::AppState;

/// Most unroutable deliveries one replay request processes.
const MAX_REPLAY_LIMIT: u32 = 1_000;
/// Replay batch when the request names none.
const DEFAULT_REPLAY_LIMIT: u32 = 100;

/// A provider account and the tenant its deliveries are routed to.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ProviderAccountLink {
    /// `callrail`, `twilio` or `bland`.
    pub provider: String,
    /// The provider's id of the account: a CallRail company id, a Twilio number in
    /// E.164 or an `AccountSid`.
    pub account_id: String,
    /// The tenant (Clerk organization id).
    pub tenant_id: String,
    /// Whether the account's deliveries are verified with its own signing key (the
    /// key itself is never returned).
    pub has_signing_key: bool,
}

impl Example for ProviderAccountLink {
    fn example() -> Self {
        ProviderAccountLink {
            provider: "callrail".to_owned(),
            account_id: "COM8154748ae6bd4e278a7cddd38a662f4f".to_owned(),
            tenant_id: "org_2abcXYZ".to_owned(),
            has_signing_key: true,
        }
    }
}

impl From<AccountLink> for ProviderAccountLink {
    fn from(link: AccountLink) -> Self {
        ProviderAccountLink {
            provider: link.account.provider.as_str().to_owned(),
            account_id: link.account.account_id,
            tenant_id: link.tenant_id.to_string(),
            has_signing_key: link.has_signing_key,
        }
    }
}

/// Every link (of one tenant, when filtered).
#[derive(Debug, Object)]
#[oai(example)]
pub struct ProviderAccountLinks {
    /// Ordered by provider, then account id.
    pub links: Vec<ProviderAccountLink>,
}

impl Example for ProviderAccountLinks {
    fn example() -> Self {
        ProviderAccountLinks {
            links: vec![ProviderAccountLink::example()],
        }
    }
}

/// The body of a link request.
#[derive(Debug, serde::Deserialize, Object)]
#[oai(example)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    /// The tenant to route the account's deliveries to.
    pub tenant_id: String,
    /// The account's own signing key (CallRail signs each company's deliveries with
    /// that company's key): deliveries naming the account are verified with it, or
    /// with the provider-wide secret. Left out, the key stays as it is; `null`
    /// removes it. Write-only.
    #[serde(default)]
    pub signing_key: MaybeUndefined<String>,
}

impl Example for LinkRequest {
    fn example() -> Self {
        LinkRequest {
            tenant_id: "org_2abcXYZ".to_owned(),
            signing_key: MaybeUndefined::Undefined,
        }
    }
}

impl LinkRequest {
    fn signing_key_change(&self) -> Result<SigningKeyChange, FieldError> {
        match &self.signing_key {
            MaybeUndefined::Undefined => Ok(SigningKeyChange::Keep),
            MaybeUndefined::Null => Ok(SigningKeyChange::Remove),
            MaybeUndefined::Value(key) => SigningKeyChange::set(key).map_err(|error| FieldError {
                field: "signing_key".to_owned(),
                message: error.to_string(),
            }),
        }
    }
}

impl Validate for LinkRequest {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Err(error) = TenantId::parse(&self.tenant_id) {
            errors.push(FieldError {
                field: "tenant_id".to_owned(),
                message: error.to_string(),
            });
        }
        if let Err(error) = self.signing_key_change() {
            errors.push(error);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// The outcome of replaying stored unroutable deliveries.
#[derive(Debug, Object)]
#[oai(example)]
pub struct ReplayResult {
    /// Replayed and processed.
    pub processed: u32,
    /// Replayed and found already processed.
    pub duplicates: u32,
    /// Still without a tenant; kept for a later replay.
    pub still_unroutable: u32,
    /// Could not be planned or applied; kept for a later replay (see the logs).
    pub failed: u32,
}

problem_responses!(
    /// Problems of the admin operations.
    AdminErrors, not_found: NotFound, {
    /// A path or query parameter is invalid (unknown provider, bad limit); `errors`
    /// names it.
    400 BadRequest,
    /// The credential is refused, or it is not a platform-admin token
    /// (`/problems/forbidden`).
    403 Forbidden,
    /// The account is not linked.
    404 NotFound,
    /// The body is larger than OTTO_MAX_BODY_BYTES.
    413 PayloadTooLarge,
    /// The body is not `application/json`.
    415 UnsupportedMediaType,
    /// The body's content is invalid; `errors` names each field.
    422 ValidationFailed,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<AdministrationError> for AdminErrors {
    fn from(error: AdministrationError) -> Self {
        match error {
            AdministrationError::NotPlatformAdmin => AdminErrors::Forbidden(problem(
                ProblemKind::Forbidden,
                "This operation needs a platform-admin API token \
                 (`otto-server token issue --platform-admin`).",
            )),
            AdministrationError::Store(error) => storage(error),
        }
    }
}

fn storage(error: StoreError) -> AdminErrors {
    store_failure(error).into()
}

fn bad_parameter(name: &str, message: impl Into<String>) -> AdminErrors {
    AdminErrors::BadRequest(ProblemBody(ApiError {
        errors: Some(vec![FieldError {
            field: name.to_owned(),
            message: message.into(),
        }]),
        ..ApiError::new(
            ProblemKind::BadRequest,
            format!("The parameter `{name}` is invalid."),
        )
    }))
}

fn account(provider: &str, account_id: &str) -> Result<AccountRef, AdminErrors> {
    AccountRef::parse(provider, account_id).map_err(|error| match error {
        otto_core::webhooks::InvalidAccount::Provider(_) => {
            bad_parameter("provider", error.to_string())
        }
        otto_core::webhooks::InvalidAccount::AccountId
        | otto_core::webhooks::InvalidAccount::SigningKey => {
            bad_parameter("account_id", error.to_string())
        }
    })
}

/// Platform administration.
#[derive(Clone)]
pub struct AdminApi {
    administration: WebhookAdministration,
}

impl std::fmt::Debug for AdminApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminApi").finish_non_exhaustive()
    }
}

impl AdminApi {
    /// Operations over the state's provider accounts and webhook ingestion.
    pub fn new(state: &AppState) -> Self {
        AdminApi {
            administration: WebhookAdministration::new(
                state.provider_accounts.clone(),
                (*state.webhooks).clone(),
            ),
        }
    }
}

#[OpenApi(tag = "ApiTags::Admin")]
impl AdminApi {
    /// Every provider-account link, or those of one tenant.
    #[oai(
        path = "/api/v1/admin/provider-accounts",
        method = "get",
        operation_id = "listProviderAccounts"
    )]
    async fn list_links(
        &self,
        caller: Caller,
        /// Only the links of this tenant.
        tenant_id: Query<Option<String>>,
    ) -> Result<Json<ProviderAccountLinks>, AdminErrors> {
        let tenant = tenant_id
            .0
            .map(|tenant| TenantId::parse(&tenant))
            .transpose()
            .map_err(|error| bad_parameter("tenant_id", error.to_string()))?;
        let links = self
            .administration
            .links(&caller.0, tenant.as_ref())
            .await?;
        Ok(Json(ProviderAccountLinks {
            links: links.into_iter().map(Into::into).collect(),
        }))
    }

    /// Routes a provider account's deliveries to a tenant (moving it if it was linked
    /// elsewhere). Deliveries stored as unroutable before the link wait for a replay.
    #[oai(
        path = "/api/v1/admin/provider-accounts/:provider/:account_id",
        method = "put",
        operation_id = "linkProviderAccount"
    )]
    async fn link(
        &self,
        caller: Caller,
        /// `callrail`, `twilio` or `bland`.
        provider: Path<String>,
        /// The provider's account id (percent-encode a leading `+`).
        account_id: Path<String>,
        body: JsonBody<LinkRequest>,
    ) -> Result<Json<ProviderAccountLink>, AdminErrors> {
        let account = account(&provider.0, &account_id.0)?;
        let tenant = TenantId::parse(&body.0.tenant_id).map_err(|error| {
            AdminErrors::ValidationFailed(ProblemBody(ApiError::validation(vec![FieldError {
                field: "tenant_id".to_owned(),
                message: error.to_string(),
            }])))
        })?;
        let signing_key = body.0.signing_key_change().map_err(|error| {
            AdminErrors::ValidationFailed(ProblemBody(ApiError::validation(vec![error])))
        })?;
        let link = self
            .administration
            .link(&caller.0, &account, &tenant, &signing_key)
            .await?;
        tracing::info!(
            operator = %caller.0.user_id,
            provider = account.provider.as_str(),
            account_id = %account.account_id,
            tenant_id = %tenant,
            has_signing_key = link.has_signing_key,
            "provider account linked"
        );
        Ok(Json(link.into()))
    }

    /// Stops routing a provider account's deliveries; later ones are stored as
    /// unroutable.
    #[oai(
        path = "/api/v1/admin/provider-accounts/:provider/:account_id",
        method = "delete",
        operation_id = "unlinkProviderAccount"
    )]
    async fn unlink(
        &self,
        caller: Caller,
        /// `callrail`, `twilio` or `bland`.
        provider: Path<String>,
        /// The provider's account id.
        account_id: Path<String>,
    ) -> Result<Unlinked, AdminErrors> {
        let account = account(&provider.0, &account_id.0)?;
        if !self.administration.unlink(&caller.0, &account).await? {
            return Err(AdminErrors::NotFound(problem(
                ProblemKind::NotFound,
                format!(
                    "{}:{} is not linked to any tenant.",
                    account.provider, account.account_id
                ),
            )));
        }
        tracing::info!(
            operator = %caller.0.user_id,
            provider = account.provider.as_str(),
            account_id = %account.account_id,
            "provider account unlinked"
        );
        Ok(Unlinked::Done)
    }

    /// Replays stored unroutable deliveries, oldest first, through the normal
    /// exactly-once processing; those still without a tenant stay stored.
    #[oai(
        path = "/api/v1/admin/webhooks/unroutable/replay",
        method = "post",
        operation_id = "replayUnroutableWebhooks"
    )]
    async fn replay_unroutable(
        &self,
        caller: Caller,
        /// How many deliveries to replay (1-1000, default 100).
        limit: Query<Option<u32>>,
    ) -> Result<Json<ReplayResult>, AdminErrors> {
        let limit = limit.0.unwrap_or(DEFAULT_REPLAY_LIMIT);
        if !(1..=MAX_REPLAY_LIMIT).contains(&limit) {
            return Err(bad_parameter("limit", "must be between 1 and 1000"));
        }
        let report = self
            .administration
            .replay_unroutable(&caller.0, limit)
            .await?;
        tracing::info!(
            operator = %caller.0.user_id,
            processed = report.processed,
            duplicates = report.duplicates,
            still_unroutable = report.still_unroutable,
            failed = report.failed,
            "unroutable deliveries replayed"
        );
        Ok(Json(ReplayResult {
            processed: report.processed,
            duplicates: report.duplicates,
            still_unroutable: report.still_unroutable,
            failed: report.failed,
        }))
    }
}

/// The answer to a successful unlink.
#[derive(Debug, ApiResponse)]
pub enum Unlinked {
    /// The account is no longer linked.
    #[oai(status = 204)]
    Done,
}

impl poem_openapi::types::Example for ReplayResult {
    fn example() -> Self {
        ReplayResult {
            processed: 3,
            duplicates: 1,
            still_unroutable: 0,
            failed: 0,
        }
    }
}
