//! `JsonBody<T>`: the request payload every JSON route uses.
//!
//! Unlike a plain JSON extractor it tells the client precisely what is wrong:
//! a body that is not JSON is a 400; JSON of the wrong shape is a 422 naming the
//! field (`items[2].phone`); a string holding a NUL character (`\u0000`), which no
//! text column stores, is a 422 naming its field; a value that breaks a domain rule is
//! a 422 listing every invalid field ([`Validate`]).

use poem::{Request, RequestBody, Result};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::de::DeserializeOwned;

use super::problem::{ApiError, FieldError, ProblemKind};

/// Domain rules a request body must satisfy beyond its shape.
pub trait Validate {
    /// Every invalid field, or `Ok` when the value is acceptable.
    fn validate(&self) -> Result<(), Vec<FieldError>>;
}

/// A JSON request body, parsed and validated (see the module docs).
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json";

    fn check_content_type(content_type: &str) -> bool {
        content_type
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + DeserializeOwned + Validate + Send> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> Result<Self> {
        let bytes = body.take()?.into_vec().await?;
        Ok(JsonBody(parse_json(&bytes)?))
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned + Validate + Send);

/// Parses and validates a JSON body; the error is the problem to answer with.
pub fn parse_json<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(
            ProblemKind::BadRequest,
            "The request body is empty; a JSON document is required.",
        ));
    }
    let document: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| {
        ApiError::new(
            ProblemKind::BadRequest,
            format!("The request body is not valid JSON: {error}."),
        )
    })?;
    if let Some(field) = field_with_nul(&document, ".") {
        return Err(ApiError::validation(vec![FieldError {
            field,
            message: "must not contain a NUL character (\\u0000)".to_owned(),
        }]));
    }
    let value: T = serde_path_to_error::deserialize(document).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        ApiError::validation(vec![FieldError {
            field: field_of(&path, &message),
            message,
        }])
    })?;
    value.validate().map_err(ApiError::validation)?;
    Ok(value)
}

/// The path (as serde_path_to_error writes it: `notes`, `items[2].phone`) of the
/// first string or member name under `value` that holds a NUL character.
fn field_with_nul(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let child = |name: &str| {
        if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    match value {
        Value::String(text) if text.contains('\0') => Some(path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(index, item)| field_with_nul(item, &format!("{path}[{index}]"))),
        Value::Object(members) => members.iter().find_map(|(name, member)| {
            if name.contains('\0') {
                Some(child(&name.replace('\0', "\\u0000")))
            } else {
                field_with_nul(member, &child(name))
            }
        }),
        _ => None,
    }
}

/// The field a deserialization error is about. serde reports a missing field at
/// its parent's path, naming the field only in the message; join the two.
fn field_of(path: &str, message: &str) -> String {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (path, missing) {
        (".", Some(field)) => field.to_owned(),
        (".", None) => "(body)".to_owned(),
        (parent, Some(field)) => format!("{parent}.{field}"),
        (path, None) => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Settings {
        template: String,
        quiet_hours: QuietHours,
    }

    #[derive(Debug, serde::Deserialize)]
    struct QuietHours {
        start: u8,
        end: u8,
    }

    impl Validate for Settings {
        fn validate(&self) -> Result<(), Vec<FieldError>> {
            let mut errors = Vec::new();
            if self.template.trim().is_empty() {
                errors.push(FieldError {
                    field: "template".into(),
                    message: "must not be blank".into(),
                });
            }
            for (field, hour) in [
                ("quiet_hours.start", self.quiet_hours.start),
                ("quiet_hours.end", self.quiet_hours.end),
            ] {
                if hour > 23 {
                    errors.push(FieldError {
                        field: field.into(),
                        message: "must be an hour 0-23".into(),
                    });
                }
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        }
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        let error = parse_json::<Settings>(b"{\"template\": ").expect_err("truncated");
        assert_eq!(error.kind, ProblemKind::BadRequest);
        let error = parse_json::<Settings>(b"   ").expect_err("blank");
        assert_eq!(error.kind, ProblemKind::BadRequest);
    }

    #[test]
    fn wrong_shape_names_the_nested_field() {
        let error =
            parse_json::<Settings>(br#"{"template":"hi","quiet_hours":{"start":"nine","end":5}}"#)
                .expect_err("string hour");
        assert_eq!(error.kind, ProblemKind::ValidationFailed);
        let errors = error.errors.expect("field errors");
        assert_eq!(errors[0].field, "quiet_hours.start");
    }

    #[test]
    fn missing_fields_are_named_with_their_full_path() {
        let error = parse_json::<Settings>(br#"{"quiet_hours":{"start":1,"end":2}}"#)
            .expect_err("no template");
        assert_eq!(error.errors.expect("field errors")[0].field, "template");
        let error = parse_json::<Settings>(br#"{"template":"t","quiet_hours":{"start":1}}"#)
            .expect_err("no end");
        assert_eq!(
            error.errors.expect("field errors")[0].field,
            "quiet_hours.end"
        );
        let error = parse_json::<Settings>(br#""just text""#).expect_err("not an object");
        assert_eq!(error.errors.expect("field errors")[0].field, "(body)");
    }

    #[test]
    fn domain_rules_list_every_invalid_field() {
        let error =
            parse_json::<Settings>(br#"{"template":" ","quiet_hours":{"start":30,"end":25}}"#)
                .expect_err("invalid values");
        let fields: Vec<String> = error
            .errors
            .expect("field errors")
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["template", "quiet_hours.start", "quiet_hours.end"]);
    }

    #[test]
    fn a_valid_body_parses() {
        let settings = parse_json::<Settings>(
            br#"{"template":"Sorry we missed you","quiet_hours":{"start":21,"end":8}}"#,
        )
        .expect("valid");
        assert_eq!(settings.quiet_hours.end, 8);
    }
}
