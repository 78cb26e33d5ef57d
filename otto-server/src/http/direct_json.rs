//! [`DirectJson`]: a JSON response written straight from its value's serde form.
//!
//! poem-openapi's `Json<T>` first builds a `serde_json::Value` tree from `T` (a map
//! and a copy of every string) and then serialises that tree. For a page of 50 calls
//! that tree was the largest single cost of the request after the database. The
//! OpenAPI document still comes from `T`'s poem-openapi schema, so a type answered
//! this way derives both: its tests check that both forms write the same JSON.

use chrono::{DateTime, Utc};
use poem::http::{StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaMediaType, MetaResponse, MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::{Serialize, Serializer};

use super::problem::{ApiError, ProblemBody, ProblemKind};

/// A `200 application/json` response of `T`, documented by `T`'s schema and written
/// with serde.
#[derive(Debug)]
pub struct DirectJson<T>(pub T);

/// What poem-openapi's `Json` answers with, so the document does not change.
const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";

impl<T: Type> Payload for DirectJson<T> {
    const CONTENT_TYPE: &'static str = JSON_CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        content_type.starts_with("application/json")
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Serialize + Send> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, JSON_CONTENT_TYPE)
                .body(body),
            Err(error) => {
                tracing::error!(error = %error, "a response cannot be written as JSON");
                ProblemBody(ApiError::new(
                    ProblemKind::Internal,
                    "The response could not be written.",
                ))
                .into_response()
            }
        }
    }
}

impl<T: Type + Serialize + Send> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        MetaResponses {
            responses: vec![MetaResponse {
                description: "",
                status: Some(200),
                status_range: None,
                content: vec![MetaMediaType {
                    content_type: Self::CONTENT_TYPE,
                    schema: Self::schema_ref(),
                }],
                headers: vec![],
            }],
        }
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// A time as poem-openapi writes it (`to_rfc3339`: `+00:00`, not serde's `Z`), so
/// that both forms of a type agree.
pub fn rfc3339<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&time.to_rfc3339())
}

/// [`rfc3339`] of an optional time (used with `skip_serializing_if = "Option::is_none"`).
pub fn optional_rfc3339<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => rfc3339(time, serializer),
        None => serializer.serialize_none(),
    }
}
