//! Shared test harness: an application over the real middleware stack, with fakes
//! for its dependencies, driven through poem's test client.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use otto_core::ports::ReadinessProbe;
use otto_server::config::{Config, Environment};
use otto_server::http::json_body::{JsonBody, Validate};
use otto_server::http::problem::{ApiError, FieldError, ProblemBody, ProblemKind};
use otto_server::http::{self, routes::system::SystemApi};
use otto_server::state::{AppState, Readiness};
use otto_server::telemetry::metrics::Metrics;
use otto_testkit::SwitchableProbe;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use poem::{Response, http::StatusCode};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use serde_json::Value;

pub const ALLOWED_ORIGINS: &str = "http://localhost:3000,exp://*,https://*.vercel.app";

/// A configuration for tests: OTTO_ENV=test, the test origins, and `extra`.
pub fn config(extra: &[(&str, &str)]) -> Config {
    let mut pairs = vec![("OTTO_ENV", "test"), ("ALLOWED_ORIGINS", ALLOWED_ORIGINS)];
    pairs.extend_from_slice(extra);
    Config::load(&Environment::from_pairs(pairs)).expect("test configuration is valid")
}

/// State over fake dependencies.
pub fn state(
    config: Config,
    probes: Vec<Arc<dyn ReadinessProbe>>,
    not_configured: Vec<&'static str>,
) -> AppState {
    let readiness = Readiness::new(probes, not_configured, config.ready_timeout);
    AppState {
        config: Arc::new(config),
        metrics: Arc::new(Metrics::new()),
        readiness: Arc::new(readiness),
    }
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
    TestClient::new(http::app_with(
        (SystemApi::new(state.clone()), ProbeApi),
        state,
    ))
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
    #[oai(status = 500)]
    Internal(ProblemBody),
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

    /// Answers with a documented domain problem.
    #[oai(path = "/probe/conflict", method = "get")]
    async fn conflict(&self) -> Result<Json<u32>, ProbeErrors> {
        Err(ProbeErrors::Conflict(ProblemBody(ApiError::new(
            ProblemKind::Conflict,
            "The number opted out.",
        ))))
    }
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
