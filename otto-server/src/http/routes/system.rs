//! `/health` and `/ready`. (`/metrics` is served on the operators' listener,
//! [`operator_port`](crate::http::operator_port), never on the public port.)

use std::borrow::Cow;
use std::collections::BTreeMap;

use poem::Request;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::{ApiTags, PublicErrors};
use crate::http::request_context::RequestContext;
use crate::state::{AppState, ComponentState};
use crate::telemetry::metrics::CheckLabels;

/// Liveness of the process.
#[derive(Debug, Object)]
#[oai(example)]
pub struct Health {
    /// Always `healthy` when the process answers.
    pub status: String,
    /// The service name (`otto-api`).
    pub service: String,
    /// The running version.
    pub version: String,
    /// The request's trace id.
    pub trace_id: String,
}

/// The marker of a dependency this deployment does not use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum NotConfigured {
    /// Not configured.
    NotConfigured,
}

/// One dependency in a readiness report: whether it answered, or `not_configured`.
///
/// `Type` is written by hand rather than derived with `Union`: the derive always
/// declares `"type": "object"` beside the `anyOf`, which contradicts both variants (a
/// boolean and a string), so that no value Otto sends matched the documented schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentStatus {
    /// `true` when the dependency answered within the timeout.
    Checked(bool),
    /// The dependency is not configured (not a failure).
    NotConfigured(NotConfigured),
}

impl Type for ComponentStatus {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "ComponentStatus".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Reference(Self::name().into_owned())
    }

    fn register(registry: &mut Registry) {
        registry.create_schema::<Self, _>(Self::name().into_owned(), |registry| {
            bool::register(registry);
            NotConfigured::register(registry);
            MetaSchema {
                description: Some(
                    "One dependency in a readiness report: whether it answered, or \
                     `not_configured`.",
                ),
                any_of: vec![bool::schema_ref(), NotConfigured::schema_ref()],
                ..MetaSchema::ANY
            }
        });
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }
}

impl ParseFromJSON for ComponentStatus {
    fn parse_from_json(value: Option<serde_json::Value>) -> ParseResult<Self> {
        let value = value.unwrap_or_default();
        if let Ok(up) = bool::parse_from_json(Some(value.clone())) {
            return Ok(Self::Checked(up));
        }
        if let Ok(marker) = NotConfigured::parse_from_json(Some(value.clone())) {
            return Ok(Self::NotConfigured(marker));
        }
        Err(ParseError::expected_type(value))
    }
}

impl ToJSON for ComponentStatus {
    fn to_json(&self) -> Option<serde_json::Value> {
        match self {
            Self::Checked(up) => up.to_json(),
            Self::NotConfigured(marker) => marker.to_json(),
        }
    }
}

/// Readiness of the process and each dependency.
#[derive(Debug, Object)]
pub struct ReadinessReport {
    /// Whether every configured dependency answered.
    pub ready: bool,
    /// Each dependency by name (`database`, `redis`).
    pub components: BTreeMap<String, ComponentStatus>,
    /// How long the checks took, in milliseconds.
    pub duration_ms: f64,
    /// `true` once the process is shutting down: it still serves requests for a
    /// moment, but should get no new traffic.
    pub draining: bool,
}

/// `/ready`'s answers.
#[derive(Debug, ApiResponse)]
pub enum ReadyResponse {
    /// Every configured dependency answered.
    #[oai(status = 200)]
    Ready(Json<ReadinessReport>),
    /// At least one configured dependency did not answer in time.
    #[oai(status = 503)]
    NotReady(Json<ReadinessReport>),
}

/// The system operations.
#[derive(Debug, Clone)]
pub struct SystemApi {
    state: AppState,
}

impl SystemApi {
    /// Operations over the shared state.
    pub fn new(state: AppState) -> Self {
        SystemApi { state }
    }
}

#[OpenApi(tag = "ApiTags::System")]
impl SystemApi {
    /// Liveness: answers as long as the process serves HTTP.
    #[oai(path = "/health", method = "get", operation_id = "getHealth")]
    async fn health(&self, request: &Request) -> Result<Json<Health>, PublicErrors> {
        let trace_id = request
            .data::<RequestContext>()
            .map(|context| context.request_id.to_string())
            .unwrap_or_default();
        Ok(Json(Health {
            status: "healthy".to_owned(),
            service: self.state.config.service_name_api.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            trace_id,
        }))
    }

    /// Readiness: checks every configured dependency, each within
    /// OTTO_READY_TIMEOUT_MS; 503 when one does not answer.
    #[oai(path = "/ready", method = "get", operation_id = "getReady")]
    async fn ready(&self) -> Result<ReadyResponse, PublicErrors> {
        let outcome = self.state.readiness.check().await;
        for (name, state) in &outcome.components {
            if let ComponentState::Checked(up) = state {
                self.state
                    .metrics
                    .readiness_status
                    .get_or_create(&CheckLabels {
                        check: (*name).to_owned(),
                    })
                    .set(i64::from(*up));
            }
        }
        let report = ReadinessReport {
            ready: outcome.ready,
            components: outcome
                .components
                .into_iter()
                .map(|(name, state)| {
                    let status = match state {
                        ComponentState::Checked(up) => ComponentStatus::Checked(up),
                        ComponentState::NotConfigured => {
                            ComponentStatus::NotConfigured(NotConfigured::NotConfigured)
                        }
                    };
                    (name.to_owned(), status)
                })
                .collect(),
            duration_ms: (outcome.duration.as_secs_f64() * 1_000_000.0).round() / 1_000.0,
            draining: outcome.draining,
        };
        Ok(if report.ready {
            ReadyResponse::Ready(Json(report))
        } else {
            ReadyResponse::NotReady(Json(report))
        })
    }
}

impl poem_openapi::types::Example for Health {
    fn example() -> Self {
        Health {
            status: "healthy".into(),
            service: "otto-api".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            trace_id: "5f0c9a4e-8d2b-4f1e-9a6b-2c7d3e1f0a9b".into(),
        }
    }
}
