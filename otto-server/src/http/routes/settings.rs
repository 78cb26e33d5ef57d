//! `/api/v1/company/settings`: the company's follow-up settings, for its leadership.

use otto_core::company_settings::{CompanySettings, SettingsError, validate};
use otto_core::follow_ups::DEFAULT_MISSED_CALL_TEMPLATE;
use otto_core::ports::FollowUpSettings;
use otto_core::quiet_hours::QuietHours;
use otto_core::validation::InvalidField;
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Object, OpenApi};

use super::{ApiTags, field_errors, role_refusal, store_failure};
use crate::http::auth::Caller;
use crate::http::json_body::{JsonBody, Validate};
use crate::http::problem::{ApiError, FieldError, ProblemBody};
use crate::state::AppState;

/// The company's follow-up settings.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct SettingsView {
    /// Whether a missed inbound call gets a text message.
    pub missed_call_sms_enabled: bool,
    /// The company's message, with `{company_name}` and `{customer_name}`
    /// placeholders; absent: Otto's default is used.
    pub missed_call_sms_template: Option<String>,
    /// Otto's default message, shown for reference.
    pub default_missed_call_sms_template: String,
    /// The number texts are sent from (E.164); absent: the platform's number.
    pub sms_from_number: Option<String>,
    /// Whether a missed inbound call also gets an AI call-back (Bland AI), 15 minutes
    /// after the call.
    pub ai_follow_up_enabled: bool,
    /// When no automatic text or AI call goes out (work waits for the end); absent:
    /// none.
    pub quiet_hours: Option<QuietHoursBody>,
}

/// A daily quiet window in the company's time zone; `end` earlier than `start` spans
/// midnight (21:00-08:00).
#[derive(Debug, Clone, serde::Deserialize, Object)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursBody {
    /// When quiet begins, local time `HH:MM`.
    pub start: String,
    /// When quiet ends, local time `HH:MM`.
    pub end: String,
    /// The IANA time zone, such as `America/New_York`.
    pub time_zone: String,
}

impl From<QuietHours> for QuietHoursBody {
    fn from(quiet: QuietHours) -> Self {
        QuietHoursBody {
            start: QuietHours::format(quiet.start),
            end: QuietHours::format(quiet.end),
            time_zone: quiet.zone_name().to_owned(),
        }
    }
}

fn example_quiet_hours() -> QuietHoursBody {
    QuietHoursBody {
        start: "21:00".into(),
        end: "08:00".into(),
        time_zone: "America/New_York".into(),
    }
}

impl From<FollowUpSettings> for SettingsView {
    fn from(settings: FollowUpSettings) -> Self {
        SettingsView {
            missed_call_sms_enabled: settings.missed_call_sms_enabled,
            missed_call_sms_template: settings.missed_call_sms_template,
            default_missed_call_sms_template: DEFAULT_MISSED_CALL_TEMPLATE.to_owned(),
            sms_from_number: settings.sms_from_number,
            ai_follow_up_enabled: settings.ai_follow_up_enabled,
            quiet_hours: settings.quiet_hours.map(QuietHoursBody::from),
        }
    }
}

impl Example for SettingsView {
    fn example() -> Self {
        SettingsView {
            missed_call_sms_enabled: true,
            missed_call_sms_template: Some(
                "Hi {customer_name}, {company_name} here. Sorry we missed you - how can we help?"
                    .to_owned(),
            ),
            default_missed_call_sms_template: DEFAULT_MISSED_CALL_TEMPLATE.to_owned(),
            sms_from_number: Some("+15551230000".to_owned()),
            ai_follow_up_enabled: false,
            quiet_hours: Some(example_quiet_hours()),
        }
    }
}

/// New settings: every field is replaced.
#[derive(Debug, serde::Deserialize, Object)]
#[serde(deny_unknown_fields)]
#[oai(example)]
pub struct SettingsUpdate {
    /// Whether a missed inbound call gets a text message.
    pub missed_call_sms_enabled: bool,
    /// The message (at most 1600 characters; placeholders `{company_name}` and
    /// `{customer_name}`), or `null` for Otto's default.
    #[serde(default)]
    pub missed_call_sms_template: Option<String>,
    /// The sending number in E.164 form, or `null` for the platform's number.
    #[serde(default)]
    pub sms_from_number: Option<String>,
    /// Whether a missed inbound call also gets an AI call-back (default `false`).
    #[serde(default)]
    pub ai_follow_up_enabled: bool,
    /// The quiet window, or `null` for none.
    #[serde(default)]
    pub quiet_hours: Option<QuietHoursBody>,
}

impl SettingsUpdate {
    /// The settings asked for, or every rule they break.
    fn settings(&self) -> Result<FollowUpSettings, Vec<InvalidField>> {
        let quiet_hours = self
            .quiet_hours
            .as_ref()
            .map(|quiet| QuietHours::parse(&quiet.start, &quiet.end, &quiet.time_zone))
            .transpose();
        let settings = FollowUpSettings {
            missed_call_sms_enabled: self.missed_call_sms_enabled,
            missed_call_sms_template: self.missed_call_sms_template.clone(),
            sms_from_number: self.sms_from_number.clone(),
            ai_follow_up_enabled: self.ai_follow_up_enabled,
            quiet_hours: quiet_hours.as_ref().ok().copied().flatten(),
        };
        let mut invalid = quiet_hours.err().unwrap_or_default();
        invalid.extend(validate(&settings));
        if invalid.is_empty() {
            Ok(settings)
        } else {
            Err(invalid)
        }
    }
}

impl Example for SettingsUpdate {
    fn example() -> Self {
        SettingsUpdate {
            missed_call_sms_enabled: true,
            missed_call_sms_template: Some(
                "Hi {customer_name}, {company_name} here. How can we help?".to_owned(),
            ),
            sms_from_number: Some("+15551230000".to_owned()),
            ai_follow_up_enabled: true,
            quiet_hours: Some(example_quiet_hours()),
        }
    }
}

impl Validate for SettingsUpdate {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.settings().map(|_| ()).map_err(field_errors)
    }
}

problem_responses!(
    /// Problems of the settings operations.
    SettingsErrors, not_found: Internal, {
    /// The body is not JSON.
    400 BadRequest,
    /// The credential is refused, or the caller's role is not leadership
    /// (`/problems/forbidden`, naming the role needed).
    403 Forbidden,
    /// The body is larger than OTTO_MAX_BODY_BYTES.
    413 PayloadTooLarge,
    /// The body is not `application/json`.
    415 UnsupportedMediaType,
    /// A field is invalid (`errors` names each): a template that is blank, too long or
    /// uses an unknown placeholder, a number not in E.164 form, an unknown field.
    422 ValidationFailed,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<SettingsError> for SettingsErrors {
    fn from(error: SettingsError) -> Self {
        match error {
            SettingsError::Forbidden(refusal) => {
                SettingsErrors::Forbidden(role_refusal("Company settings", &refusal))
            }
            SettingsError::Invalid(invalid) => SettingsErrors::ValidationFailed(ProblemBody(
                ApiError::validation(field_errors(invalid)),
            )),
            SettingsError::Store(error) => store_failure(error).into(),
        }
    }
}

/// Company settings operations.
#[derive(Clone, Debug)]
pub struct SettingsApi {
    settings: CompanySettings,
}

impl SettingsApi {
    /// Operations over the state's follow-up store and role map.
    pub fn new(state: &AppState) -> Self {
        SettingsApi {
            settings: CompanySettings::new(state.follow_ups.clone(), state.config.roles.clone()),
        }
    }
}

#[OpenApi(tag = "ApiTags::Account")]
impl SettingsApi {
    /// The company's follow-up settings (leadership only).
    #[oai(
        path = "/api/v1/company/settings",
        method = "get",
        operation_id = "getCompanySettings"
    )]
    async fn settings(&self, caller: Caller) -> Result<Json<SettingsView>, SettingsErrors> {
        Ok(Json(self.settings.settings(&caller.0).await?.into()))
    }

    /// Replaces the company's follow-up settings (leadership only).
    #[oai(
        path = "/api/v1/company/settings",
        method = "put",
        operation_id = "replaceCompanySettings"
    )]
    async fn replace(
        &self,
        caller: Caller,
        body: JsonBody<SettingsUpdate>,
    ) -> Result<Json<SettingsView>, SettingsErrors> {
        let settings = body.0.settings().map_err(SettingsError::Invalid)?;
        let saved = self.settings.replace(&caller.0, settings).await?;
        tracing::info!(
            user_id = %caller.0.user_id,
            missed_call_sms_enabled = saved.missed_call_sms_enabled,
            ai_follow_up_enabled = saved.ai_follow_up_enabled,
            "company settings replaced"
        );
        Ok(Json(saved.into()))
    }
}
