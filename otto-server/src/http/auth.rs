//! Authentication of API operations: the [`Caller`] extractor.
//!
//! An operation that takes a `Caller` is authenticated: the token comes from
//! `Authorization: Bearer` or the `__session` cookie (Clerk's same-origin cookie), is
//! verified by the [`Authenticator`], and the principal is recorded on the request
//! span so that every log line and span of the request carries `tenant_id` and
//! `user_id`. Every refusal is a 403 problem with its own type; token problems also
//! carry `WWW-Authenticate` so that clients know to refresh.

use std::marker::PhantomData;
use std::sync::Arc;

use otto_core::authentication::Authenticator;
use otto_core::ports::CredentialError;
use otto_core::tenancy::{Operation, Principal};
use poem::http::{Method, header};
use poem::{Request, RequestBody, Result};
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::problem::{ApiError, ProblemKind};
use super::rate_limit::{DefaultLimits, RateLimiting, RouteLimits};

/// The cookie Clerk sets for same-origin browser sessions.
pub const SESSION_COOKIE: &str = "__session";
/// OpenAPI name of the Clerk session JWT scheme.
pub const SESSION_SCHEME: &str = "ClerkSession";
/// OpenAPI name of the biscuit API token scheme.
pub const API_TOKEN_SCHEME: &str = "ApiToken";
/// OpenAPI name of the cookie scheme.
pub const COOKIE_SCHEME: &str = "SessionCookie";

/// The verified principal of an authenticated (and rate-limited) operation. `L`
/// declares the operation's own limits; see [`RouteLimits`].
#[derive(Debug, Clone)]
pub struct Caller<L: RouteLimits = DefaultLimits>(pub Principal, PhantomData<L>);

/// The token a request presents: the bearer token, else the session cookie.
pub fn presented_token(request: &Request) -> Option<String> {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    bearer.or_else(|| session_cookie(request))
}

/// The `__session` cookie's value, from any `Cookie` header of the request.
fn session_cookie(request: &Request) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// What an HTTP method does, for credentials that restrict operations.
pub fn operation_of(method: &Method) -> Operation {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => Operation::Read,
        _ => Operation::Write,
    }
}

/// The problem a credential refusal answers with.
pub fn refusal(error: &CredentialError) -> ApiError {
    let (kind, error_code) = match error {
        CredentialError::Missing => (ProblemKind::MissingToken, None),
        CredentialError::Malformed(_)
        | CredentialError::InvalidSignature
        | CredentialError::UnknownKey => (ProblemKind::InvalidToken, Some("invalid_token")),
        CredentialError::NotYetValid => (ProblemKind::InvalidToken, Some("invalid_token")),
        CredentialError::Expired => (ProblemKind::ExpiredToken, Some("invalid_token")),
        CredentialError::WrongIssuer => (ProblemKind::InvalidIssuer, Some("invalid_token")),
        CredentialError::WrongAuthorizedParty => {
            (ProblemKind::InvalidAuthorizedParty, Some("invalid_token"))
        }
        CredentialError::NoTenant => (ProblemKind::NoTenant, None),
        CredentialError::NotPermitted => {
            (ProblemKind::InsufficientScope, Some("insufficient_scope"))
        }
        CredentialError::KeysUnavailable(_) => {
            return ApiError {
                retry_after: Some(5),
                ..ApiError::new(
                    ProblemKind::ServiceUnavailable,
                    "Credentials cannot be verified right now; retry shortly.",
                )
            };
        }
    };
    let challenge = match error_code {
        Some(code) => format!(r#"Bearer realm="otto", error="{code}""#),
        None => r#"Bearer realm="otto""#.to_owned(),
    };
    ApiError {
        challenge: Some(challenge),
        ..ApiError::new(kind, capitalised(&error.to_string()))
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

impl<'a, L: RouteLimits> ApiExtractor<'a> for Caller<L> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SESSION_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "A Clerk session JWT (RS256, v2 claims) in `Authorization: Bearer`. Its \
                     organization (`o.id`) is the tenant of every request; its organization \
                     role maps to leadership, csr or rep (OTTO_ROLE_MAP).",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("JWT"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            API_TOKEN_SCHEME,
            MetaSecurityScheme {
                ty: "http",
                description: Some(
                    "An Otto API token (a biscuit, from `otto-server token issue`) in \
                     `Authorization: Bearer`, for servers and scripts. It names the tenant, \
                     user and role; a platform-admin token also reaches /api/v1/admin.",
                ),
                name: None,
                key_in: None,
                scheme: Some("bearer"),
                bearer_format: Some("biscuit"),
                flows: None,
                openid_connect_url: None,
            },
        );
        registry.create_security_scheme(
            COOKIE_SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some("Clerk's same-origin session cookie."),
                name: Some(SESSION_COOKIE),
                key_in: Some("cookie"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SESSION_SCHEME, API_TOKEN_SCHEME, COOKIE_SCHEME]
    }

    async fn from_request(
        request: &'a Request,
        _body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> Result<Self> {
        let principal = authenticated(request).await?;
        if let Some(limiting) = request.data::<Arc<RateLimiting>>() {
            limiting.admit::<L>(request, &principal).await?;
        }
        Ok(Caller(principal, PhantomData))
    }
}

/// The verified principal of `request`'s credential (bearer token or session
/// cookie), recorded on the request span; a refusal is the problem to answer with.
pub async fn authenticated(request: &Request) -> Result<Principal, ApiError> {
    let authenticator = request
        .data::<Arc<Authenticator>>()
        .ok_or_else(|| ApiError::new(ProblemKind::Internal, "authentication is not wired"))?;
    let refused = |error: CredentialError| {
        tracing::info!(reason = %error, "credential refused");
        refusal(&error)
    };
    // Two credentials are ambiguous: a proxy in front of Otto may have checked
    // one while Otto would read the other, so neither is used.
    if request
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return Err(refused(CredentialError::Malformed(
            "the request carries more than one Authorization header".to_owned(),
        )));
    }
    let token = presented_token(request);
    let principal = authenticator
        .authenticate(token.as_deref(), operation_of(request.method()))
        .await
        .map_err(refused)?;
    record_principal(&principal.tenant_id, &principal.user_id);
    Ok(principal)
}

/// Records who is calling on the request span, so that every log line and span of
/// the request names the tenant and user.
pub fn record_principal(tenant: &otto_core::tenancy::TenantId, user: &otto_core::tenancy::UserId) {
    let span = tracing::Span::current();
    span.record("tenant_id", tenant.as_str());
    span.record("user_id", user.as_str());
}
