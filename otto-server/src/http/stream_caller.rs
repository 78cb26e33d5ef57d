//! Who opens a live-event stream: a single-use ticket in `?ticket=` (browsers cannot
//! set headers on `EventSource` or `WebSocket`), else the credential every API route
//! takes (bearer token or `__session` cookie). A present ticket decides alone, so a
//! browser's same-origin cookie beside it changes nothing.
//!
//! Streams are not limited per request (they are held, not repeated): the hub counts
//! open streams per user and per tenant instead.

use std::sync::Arc;

use chrono::Utc;
use otto_core::live::{Viewer, ticket_digest, ticket_tenant};
use otto_core::ports::StoreError;
use otto_core::roles::RoleMap;
use otto_core::tenancy::{Role, TenantScope};
use poem::{Request, RequestBody, Result};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::auth::{
    API_TOKEN_SCHEME, COOKIE_SCHEME, Caller, SESSION_SCHEME, authenticated, record_principal,
};
use super::problem::{ApiError, ProblemKind};
use crate::live::hub::LiveHub;

/// OpenAPI name of the stream-ticket scheme.
pub const TICKET_SCHEME: &str = "StreamTicket";

/// The query parameter that carries a ticket.
pub const TICKET_PARAMETER: &str = "ticket";

/// The tenant and viewer of an authenticated stream.
#[derive(Debug, Clone)]
pub struct StreamCaller {
    /// Whose events.
    pub scope: TenantScope,
    /// Who watches (what they may see).
    pub viewer: Viewer,
}

/// The first query parameter `name` of `request`, decoded, if any.
pub fn query_parameter(request: &Request, name: &str) -> Option<String> {
    url::form_urlencoded::parse(request.uri().query().unwrap_or_default().as_bytes())
        .find(|(found, _)| found == name)
        .map(|(_, value)| value.into_owned())
}

fn refused_ticket() -> ApiError {
    ApiError::new(
        ProblemKind::Unauthorized,
        "The stream ticket is unknown, used or expired; ask POST /api/v1/events/tickets for a new one.",
    )
}

fn unavailable(error: StoreError) -> ApiError {
    tracing::warn!(error = %error, "a stream ticket could not be checked");
    ApiError {
        retry_after: Some(2),
        ..ApiError::new(
            ProblemKind::ServiceUnavailable,
            "Stream tickets cannot be checked right now; retry shortly.",
        )
    }
}

/// The stream caller of `request`: its ticket redeemed (once), or its credential
/// verified.
pub async fn stream_caller(request: &Request) -> Result<StreamCaller, ApiError> {
    let roles = request
        .data::<Arc<RoleMap>>()
        .ok_or_else(|| ApiError::new(ProblemKind::Internal, "roles are not wired"))?;
    let Some(ticket) = query_parameter(request, TICKET_PARAMETER) else {
        let principal = authenticated(request).await?;
        return Ok(StreamCaller {
            scope: TenantScope::of(&principal),
            viewer: Viewer {
                role: roles.role_of(&principal.role),
                user_id: principal.user_id,
            },
        });
    };
    let hub = request
        .data::<Arc<LiveHub>>()
        .ok_or_else(|| ApiError::new(ProblemKind::Internal, "live events are not wired"))?;
    let tenant = ticket_tenant(&ticket).ok_or_else(refused_ticket)?;
    let scope = TenantScope::for_event_stream(tenant);
    let holder = hub
        .log()
        .redeem_ticket(&scope, &ticket_digest(&ticket), Utc::now())
        .await
        .map_err(unavailable)?
        .ok_or_else(refused_ticket)?;
    let role = Role::parse(&holder.role).map_err(|_| refused_ticket())?;
    record_principal(scope.tenant_id(), &holder.user_id);
    Ok(StreamCaller {
        viewer: Viewer {
            role: roles.role_of(&role),
            user_id: holder.user_id,
        },
        scope,
    })
}

impl<'a> ApiExtractor<'a> for StreamCaller {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <Caller as ApiExtractor>::register(registry);
        registry.create_security_scheme(
            TICKET_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "A single-use stream ticket from `POST /api/v1/events/tickets`, valid for \
                     about 30 seconds, in the `ticket` query parameter: for browsers, whose \
                     `EventSource` and `WebSocket` cannot set headers.",
                ),
                name: Some(TICKET_PARAMETER),
                key_in: Some("query"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![
            SESSION_SCHEME,
            API_TOKEN_SCHEME,
            COOKIE_SCHEME,
            TICKET_SCHEME,
        ]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> Result<Self> {
        Ok(stream_caller(request).await?)
    }
}
