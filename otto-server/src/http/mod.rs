//! The HTTP adapter: routes, middleware and the OpenAPI document.
//!
//! Request flow, outermost first: [`request_context`] (request id, trace span,
//! `X-Request-Id`) → [`observe`] (metrics, access log) → [`cors`] → [`problems`]
//! (every error becomes problem details) → [`deadline`] → [`body_limit`] →
//! [`nul_guard`] → routes.

pub mod auth;
pub mod body_limit;
pub mod cors;
pub mod deadline;
pub mod direct_json;
pub mod event_socket;
pub mod json_body;
pub mod nul_guard;
pub mod observe;
pub mod operator_port;
pub mod problem;
pub mod problems;
pub mod rate_limit;
pub mod raw_body;
pub mod request_context;
pub mod route_names;
pub mod routes;
pub mod stream_caller;
pub mod webhook_signatures;

mod described;

use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt, Response, Route};
use poem_openapi::{OpenApi, OpenApiService};

use std::sync::Arc;

use crate::state::AppState;
use body_limit::BodyLimit;
use cors::Cors;
use observe::Observe;
use otto_core::rate_limit::Quotas;
use problems::Problems;
use rate_limit::RateLimiting;
use request_context::AssignRequestContext;
use route_names::RouteNames;
use routes::account::AccountApi;
use routes::admin::AdminApi;
use routes::callrail::CallRailApi;
use routes::calls::CallsApi;
use routes::company::CompanyApi;
use routes::dashboard::DashboardApi;
use routes::events::EventsApi;
use routes::follow_ups::FollowUpApi;
use routes::messages::MessagesApi;
use routes::settings::SettingsApi;
use routes::system::SystemApi;
use routes::webhook_deliveries::WebhookDeliveriesApi;
use routes::webhooks::WebhooksApi;

const API_TITLE: &str = "Otto API";
const API_DESCRIPTION: &str = "Tenant-scoped API of the Otto call-intelligence platform. Every error is an RFC 9457 \
problem (`application/problem+json`) carrying the request's `trace_id`, which is also returned as `X-Request-Id`.";

/// Every API operation group, in the order of the OpenAPI document.
pub type Operations = (
    SystemApi,
    AccountApi,
    CompanyApi,
    CallsApi,
    WebhooksApi,
    AdminApi,
    SettingsApi,
    FollowUpApi,
    MessagesApi,
    DashboardApi,
    CallRailApi,
    WebhookDeliveriesApi,
    EventsApi,
);

/// Every API operation Otto serves.
pub fn api(state: &AppState) -> Operations {
    (
        SystemApi::new(state.clone()),
        AccountApi,
        CompanyApi::new(state.companies.clone(), state.config.roles.clone()),
        CallsApi::new(state),
        WebhooksApi::new(state.clone()),
        AdminApi::new(state),
        SettingsApi::new(state),
        FollowUpApi::new(state),
        MessagesApi::new(state),
        DashboardApi::new(state),
        CallRailApi::new(state),
        WebhookDeliveriesApi::new(state),
        EventsApi::new(state.live.clone()),
    )
}

fn service<T: OpenApi>(api: T) -> OpenApiService<T, ()> {
    OpenApiService::new(api, API_TITLE, env!("CARGO_PKG_VERSION")).description(API_DESCRIPTION)
}

/// The OpenAPI document, as committed in `docs/openapi.json`: made from the
/// operations' types alone, so it needs no state, configuration or database.
pub fn openapi_document() -> String {
    service(described::Described::<Operations>::new()).spec()
}

/// The whole HTTP application.
pub fn app(state: &AppState) -> BoxEndpoint<'static, Response> {
    app_with(api(state), state)
}

/// The application serving `api` with Otto's full middleware stack (tests mount
/// extra operations through this).
pub fn app_with<T: OpenApi + 'static>(api: T, state: &AppState) -> BoxEndpoint<'static, Response> {
    let service = service(api);
    let routes = Arc::new(RouteNames::from_openapi(&service.spec()));
    let spec = service.spec_endpoint();
    let swagger = service.swagger_ui();
    let redoc = service.redoc();
    Route::new()
        .at("/openapi.json", spec)
        .at(event_socket::PATH, poem::get(event_socket::event_socket))
        .nest("/docs", swagger)
        .nest("/redoc", redoc)
        .nest("/", service)
        .data(state.authenticator.clone())
        .data(state.live.clone())
        .data(Arc::new(state.config.roles.clone()))
        .data(Arc::new(RateLimiting::new(
            state.rate_limiter.clone(),
            Quotas {
                user: state.config.rate_limit_user,
                tenant: state.config.rate_limit_tenant,
            },
            state.config.rate_limit_routes.clone(),
            state.metrics.clone(),
            routes.clone(),
        )))
        .before(nul_guard::refuse_nul)
        .with(BodyLimit::new(state.config.max_body_bytes))
        .with(deadline::Deadline::new(state.config.request_timeout))
        .with(Problems::new(routes.clone()))
        .with(Cors::new(
            state.config.allowed_origins.clone(),
            state.config.cors_max_age,
        ))
        .with(Observe::new(state.metrics.clone(), routes))
        .with(AssignRequestContext)
        .boxed()
}
