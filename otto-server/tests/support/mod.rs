//! Shared test harness: an application over the real middleware stack, with fakes
//! for its dependencies, driven through poem's test client.

#![allow(dead_code)]

pub mod production_env;
pub mod sse;
pub mod webhooks;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use otto_adapters::api_tokens::{self, ApiTokens};
use otto_adapters::system::SystemClock;
use otto_core::tenancy::{CredentialKind, Principal, Role, TenantId, TenantScope, UserId};
use otto_server::startup;
use otto_testkit::signers::{self, TestSigningKey};

use otto_core::ports::ReadinessProbe;
use otto_server::config::{Config, Environment};
use otto_server::http;
use otto_server::http::json_body::{JsonBody, Validate};
use otto_server::http::problem::{ApiError, FieldError, ProblemBody, ProblemKind};
use otto_server::state::{AppState, Readiness};
use otto_server::telemetry::metrics::Metrics;
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use poem::{Response, http::StatusCode};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

/// The test client of an application.
pub type Client = TestClient<BoxEndpoint<'static, Response>>;

pub const ALLOWED_ORIGINS: &str = "http://localhost:3000,exp://*,https://*.vercel.app";

/// The authorized party (`azp`) of test session tokens: a web entry of ALLOWED_ORIGINS.
pub const PARTY: &str = "http://localhost:3000";

/// Keys generated once per test binary (never committed): the Clerk signing key whose
/// public half is CLERK_JWT_KEY, and the API-token root key.
pub struct TestKeys {
    pub clerk: TestSigningKey,
    pub api_token_private_key: String,
}

pub fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| TestKeys {
        clerk: TestSigningKey::generate("test-key"),
        api_token_private_key: api_tokens::generate_keys().private_key,
    })
}

/// A configuration for tests: OTTO_ENV=test, the test origins and keys, and `extra`.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let keys = keys();
    let mut pairs = vec![
        ("OTTO_ENV", "test"),
        ("ALLOWED_ORIGINS", ALLOWED_ORIGINS),
        ("CLERK_JWT_KEY", keys.clerk.public_pem.as_str()),
        (
            "OTTO_BISCUIT_PRIVATE_KEY",
            keys.api_token_private_key.as_str(),
        ),
    ];
    pairs.extend_from_slice(extra);
    Config::load(&Environment::from_pairs(pairs)).expect("test configuration is valid")
}

/// State over fake dependencies and the real credential verifiers.
pub fn state(
    config: Config,
    probes: Vec<Arc<dyn ReadinessProbe>>,
    not_configured: Vec<&'static str>,
) -> AppState {
    state_with_store(config, probes, not_configured, InMemoryStore::default())
}

/// [`state`] over a given in-memory store (to seed data).
pub fn state_with_store(
    config: Config,
    probes: Vec<Arc<dyn ReadinessProbe>>,
    not_configured: Vec<&'static str>,
    store: InMemoryStore,
) -> AppState {
    let readiness = Readiness::new(probes, not_configured, config.ready_timeout);
    let authenticator =
        startup::authenticator(&config, Arc::new(SystemClock)).expect("credentials configured");
    let webhooks = otto_server::state::webhook_ingestion(&config, Arc::new(store.clone()));
    let metrics = Arc::new(Metrics::new());
    let live = otto_server::live::hub::LiveHub::new(
        Arc::new(store.clone()),
        config.live.clone(),
        metrics.clone(),
    );
    store.notify_events_to(live.clone());
    AppState {
        live,
        webhooks: Arc::new(webhooks),
        webhook_verifier: Arc::new(
            otto_server::http::webhook_signatures::WebhookVerifier::from_config(&config),
        ),
        provider_accounts: Arc::new(store.clone()),
        follow_ups: Arc::new(store.clone()),
        jobs: Arc::new(store.clone()),
        insights: Arc::new(store.clone()),
        messages: Arc::new(store.clone()),
        dashboard: Arc::new(store.clone()),
        call_tracking: None,
        metrics,
        readiness: Arc::new(readiness),
        authenticator: Arc::new(authenticator),
        rate_limiter: otto_server::startup::rate_limiter(&config, None),
        calls: Arc::new(store.clone()),
        companies: Arc::new(store),
        config: Arc::new(config),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The state `serve` builds from `config` over real connections (connected and
/// migrated, credentials from the configuration), and those connections.
pub async fn connected_state(config: Config) -> (AppState, startup::Connections) {
    let connections = startup::connect(&config)
        .await
        .expect("connects and migrates");
    let authenticator =
        startup::authenticator(&config, Arc::new(SystemClock)).expect("credentials");
    let state = startup::state(config, &connections, authenticator).expect("state");
    (state, connections)
}

/// Claims of a valid v2 session token of `user` in `org` as `role`.
pub fn session_claims(user: &str, org: &str, role: &str) -> Value {
    signers::session_claims_v2("https://clerk.otto.test", PARTY, user, org, role, now())
}

/// A session token signed with the test key.
pub fn session_token(claims: &Value) -> String {
    keys().clerk.sign(claims)
}

/// An API token for `user` in `org` as `role`, valid for an hour.
pub fn api_token(user: &str, org: &str, role: &str) -> String {
    issue_api_token(user, org, role, false)
}

/// A platform-admin API token for `user` of `org`, valid for an hour.
pub fn platform_admin_token(user: &str, org: &str) -> String {
    issue_api_token(user, org, "admin", true)
}

fn issue_api_token(user: &str, org: &str, role: &str, platform_admin: bool) -> String {
    let tokens = ApiTokens::from_private_key(&keys().api_token_private_key, Arc::new(SystemClock))
        .expect("key");
    let principal = Principal {
        tenant_id: TenantId::parse(org).expect("valid"),
        user_id: UserId::parse(user).expect("valid"),
        role: Role::parse(role).expect("valid"),
        credential: CredentialKind::ApiToken,
        platform_admin,
    };
    tokens
        .issue(&principal, Duration::from_secs(3600))
        .expect("issued")
}

/// The application with a healthy database fake and no Redis.
pub fn default_state() -> AppState {
    state(
        config(&[]),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
    )
}

/// Otto's real application.
pub fn client(state: &AppState) -> TestClient<BoxEndpoint<'static, Response>> {
    TestClient::new(http::app(state))
}

/// Otto's application plus [`ProbeApi`], operations that exercise request bodies and
/// failures through the same middleware stack.
pub fn client_with_probe_api(state: &AppState) -> TestClient<BoxEndpoint<'static, Response>> {
    TestClient::new(http::app_with((http::api(state), ProbeApi), state))
}

/// A body with a shape and domain rules, like the product's request bodies.
#[derive(Debug, serde::Deserialize, Object)]
pub struct Appointment {
    pub customer_name: String,
    pub duration_minutes: u32,
}

impl Validate for Appointment {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Vec::new();
        if self.customer_name.trim().is_empty() {
            errors.push(FieldError {
                field: "customer_name".into(),
                message: "must not be blank".into(),
            });
        }
        if !(15..=240).contains(&self.duration_minutes) {
            errors.push(FieldError {
                field: "duration_minutes".into(),
                message: "must be 15-240".into(),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

#[derive(Debug, ApiResponse)]
pub enum ProbeErrors {
    #[oai(status = 400)]
    BadRequest(ProblemBody),
    #[oai(status = 409)]
    Conflict(ProblemBody),
    #[oai(status = 429)]
    TooManyRequests(ProblemBody),
    #[oai(status = 500)]
    Internal(ProblemBody),
}

/// The limits of `/probe/expensive`: two per user per minute.
#[derive(Debug)]
pub struct TwoPerMinute;

impl otto_server::http::rate_limit::RouteLimits for TwoPerMinute {
    fn user() -> Option<&'static str> {
        Some("2/minute")
    }
}

/// The limits of `/probe/live`: the defaults, on an operation that serves WebSockets.
#[derive(Debug)]
pub struct LiveStream;

impl otto_server::http::rate_limit::RouteLimits for LiveStream {
    fn serves_websocket() -> bool {
        true
    }
}

/// Test-only operations.
#[derive(Debug)]
pub struct ProbeApi;

#[OpenApi]
impl ProbeApi {
    /// Echoes a valid appointment.
    #[oai(path = "/probe/appointments", method = "post")]
    async fn create(&self, body: JsonBody<Appointment>) -> Result<Json<u32>, ProbeErrors> {
        Ok(Json(body.0.duration_minutes))
    }

    /// Fails like a handler whose database call broke.
    #[oai(path = "/probe/crash", method = "get")]
    async fn crash(&self) -> poem::Result<Json<u32>> {
        Err(poem::Error::from_string(
            "connection to postgres://otto:hunter2@db/otto refused", // pragma: allowlist secret
            StatusCode::INTERNAL_SERVER_ERROR,
        ))
    }

    /// Fails like a handler whose dependency is down.
    #[oai(path = "/probe/unavailable", method = "get")]
    async fn unavailable(&self) -> poem::Result<Json<u32>> {
        Err(ApiError {
            retry_after: Some(5),
            ..ApiError::new(
                ProblemKind::ServiceUnavailable,
                "The database is unavailable; retry shortly.",
            )
        }
        .into())
    }

    /// A write that needs a credential allowing writes.
    #[oai(path = "/probe/notes", method = "post")]
    async fn write_note(
        &self,
        caller: otto_server::http::auth::Caller,
    ) -> Result<Json<String>, ProbeErrors> {
        Ok(Json(caller.0.user_id.to_string()))
    }

    /// An operation with its own, tighter limits declared in code.
    #[oai(path = "/probe/expensive", method = "post")]
    async fn expensive(
        &self,
        caller: otto_server::http::auth::Caller<TwoPerMinute>,
    ) -> Result<Json<String>, ProbeErrors> {
        Ok(Json(caller.0.user_id.to_string()))
    }

    /// An operation that serves WebSocket handshakes (a stand-in for a live stream).
    #[oai(path = "/probe/live", method = "get")]
    async fn live(
        &self,
        caller: otto_server::http::auth::Caller<LiveStream>,
    ) -> Result<Json<String>, ProbeErrors> {
        Ok(Json(caller.0.user_id.to_string()))
    }

    /// Answers with a documented domain problem.
    #[oai(path = "/probe/conflict", method = "get")]
    async fn conflict(&self) -> Result<Json<u32>, ProbeErrors> {
        Err(ProbeErrors::Conflict(ProblemBody(ApiError::new(
            ProblemKind::Conflict,
            "The number opted out.",
        ))))
    }
}

/// The operators' listener of `state` (`/metrics`, `/health`), as `serve` runs it on
/// OTTO_METRICS_ADDR.
pub fn operator_client(state: &AppState) -> TestClient<BoxEndpoint<'static, Response>> {
    use poem::EndpointExt;
    TestClient::new(
        otto_server::http::operator_port::routes(
            state.metrics.clone(),
            &state.config.service_name_api,
            state.config.metrics.token(),
        )
        .map_to_response()
        .boxed(),
    )
}

/// The `/metrics` exposition of `state`'s process as text.
pub async fn metrics_text(state: &AppState) -> String {
    operator_client(state)
        .get("/metrics")
        .send()
        .await
        .0
        .into_body()
        .into_string()
        .await
        .expect("metrics text")
}

/// How many calls `tenant_id` has in `store`.
pub async fn calls_of(store: &InMemoryStore, tenant_id: &str) -> usize {
    use otto_core::ports::CallRepository;
    let tenant = TenantId::parse(tenant_id).expect("valid tenant id");
    store
        .list(
            &TenantScope::for_verified_delivery(tenant),
            &otto_core::calls::CallFilter::default(),
            None,
            100,
        )
        .await
        .expect("lists")
        .items
        .len()
}

/// The JSON body of a response.
pub async fn json(response: TestResponse) -> Value {
    let text = response
        .0
        .into_body()
        .into_string()
        .await
        .expect("body is text");
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("body is not JSON ({error}): {text}"))
}

/// Asserts the response is a problem of `status` for `instance`, and returns it.
pub async fn assert_problem(response: TestResponse, status: u16, instance: &str) -> Value {
    assert_eq!(response.0.status().as_u16(), status, "status");
    assert_eq!(
        header(&response, "content-type"),
        "application/problem+json"
    );
    let request_id = header(&response, "x-request-id");
    let body = json(response).await;
    for member in ["type", "title", "status", "detail", "instance", "trace_id"] {
        assert!(
            body.get(member).is_some(),
            "problem lacks `{member}`: {body}"
        );
    }
    assert_eq!(body["status"], status);
    assert_eq!(body["instance"], instance);
    assert_eq!(
        body["trace_id"],
        request_id.as_str(),
        "trace_id is the X-Request-Id"
    );
    assert!(
        body["type"]
            .as_str()
            .expect("present")
            .starts_with("/problems/"),
        "{body}"
    );
    body
}

/// A response header as text ("" when absent).
pub fn header(response: &TestResponse, name: &str) -> String {
    response
        .0
        .headers()
        .get(name)
        .map(|value| value.to_str().expect("present").to_owned())
        .unwrap_or_default()
}

/// Every value of a header, comma-joined.
pub fn header_values(response: &TestResponse, name: &str) -> String {
    response
        .0
        .headers()
        .get_all(name)
        .iter()
        .map(|value| value.to_str().expect("present"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub const SHORT: Duration = Duration::from_millis(50);

/// Links `provider`'s `account` to tenant `tenant_id` in `store`, as `otto-server
/// tenant link` does.
pub async fn link_account(
    store: &InMemoryStore,
    provider: otto_core::webhooks::Provider,
    account: &str,
    tenant_id: &str,
) {
    use otto_core::ports::ProviderAccounts;
    store
        .link(
            &otto_core::webhooks::AccountRef::new(provider, account),
            &TenantId::parse(tenant_id).expect("tenant id"),
        )
        .await
        .expect("links");
}

/// Captures the JSON log lines of the current thread's code (as the server writes
/// them, PII-redacted) until the guard is dropped.
pub fn capture_logs() -> (
    otto_server::telemetry::json_log::CapturedLines,
    tracing::subscriber::DefaultGuard,
) {
    use tracing_subscriber::layer::SubscriberExt;
    let lines = otto_server::telemetry::json_log::CapturedLines::default();
    let subscriber =
        tracing_subscriber::registry().with(otto_server::telemetry::JsonLogLayer::new(
            otto_server::telemetry::Service::Api,
            true,
            lines.clone(),
        ));
    (lines, tracing::subscriber::set_default(subscriber))
}

/// Serves `app` on a free loopback port; its address.
pub async fn serve_on_loopback(app: impl poem::Endpoint + 'static) -> std::net::SocketAddr {
    use poem::listener::{Acceptor, Listener};
    let acceptor = poem::listener::TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("binds");
    let address = acceptor.local_addr()[0]
        .as_socket_addr()
        .copied()
        .expect("a socket address");
    tokio::spawn(poem::Server::new_with_acceptor(acceptor).run(app));
    address
}
