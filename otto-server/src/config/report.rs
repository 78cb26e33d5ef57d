//! Human-readable views of the configuration: `check-config` and the startup notes.

use super::spec::VARIABLES;
use super::{Config, Environment, MASK, mask_url_password};

/// Every variable with its effective value, secrets masked: what `check-config` prints.
pub fn effective_settings(config: &Config, env: &Environment) -> Vec<(&'static str, String)> {
    VARIABLES
        .iter()
        .map(|variable| {
            let shown = match env.get(variable.name) {
                Some(value) if variable.name.ends_with("_URL") && variable.secret => {
                    mask_url_password(value)
                }
                Some(_) if variable.secret => MASK.to_owned(),
                Some(value) => value.to_owned(),
                None if variable.name == "DATABASE_URL" => {
                    format!(
                        "{} (default: embedded SQLite)",
                        config.database_url.expose()
                    )
                }
                None if variable.name == "ALLOWED_ORIGINS"
                    && !config.allowed_origins.is_empty() =>
                {
                    let origins: Vec<String> = config
                        .allowed_origins
                        .iter()
                        .map(ToString::to_string)
                        .collect();
                    format!("{} (development default)", origins.join(","))
                }
                None => match variable.default {
                    Some(default) => format!("{default} (default)"),
                    None => "(not set)".to_owned(),
                },
            };
            (variable.name, shown)
        })
        .collect()
}

/// An optional capability: its name, its variables (and whether each is set), and
/// what being off means.
type Capability<'a> = (&'a str, Vec<(&'a str, bool)>, &'a str);

/// One line per optional capability that is off, and what that means. Printed once
/// at startup so that a developer knows what the embedded default leaves out.
pub fn unconfigured_components(config: &Config) -> Vec<String> {
    let mut notes = Vec::new();
    if config.database_is_embedded {
        notes.push(format!(
            "database: DATABASE_URL unset, using the embedded SQLite file {}",
            config.database_url.expose().trim_start_matches("sqlite://")
        ));
    }
    let capabilities: [Capability<'_>; 7] = [
        (
            "redis",
            vec![("REDIS_URL", config.redis_url.is_some())],
            "rate limits are kept in-process",
        ),
        (
            "twilio",
            vec![
                ("TWILIO_ACCOUNT_SID", config.twilio.account_sid.is_some()),
                ("TWILIO_AUTH_TOKEN", config.twilio.auth_token.is_some()),
                ("TWILIO_FROM_NUMBER", config.twilio.from_number.is_some()),
            ],
            "SMS jobs will be skipped",
        ),
        (
            "callrail",
            vec![
                ("CALLRAIL_API_KEY", config.callrail.api_key.is_some()),
                ("CALLRAIL_ACCOUNT_ID", config.callrail.account_id.is_some()),
            ],
            "CallRail sync jobs will be skipped",
        ),
        (
            "deepgram",
            vec![("DEEPGRAM_API_KEY", config.deepgram_api_key.is_some())],
            "transcription jobs will be skipped",
        ),
        (
            "openai",
            vec![("OPENAI_API_KEY", config.openai_api_key.is_some())],
            "analysis jobs will be skipped",
        ),
        (
            "bland",
            vec![("BLAND_API_KEY", config.bland_api_key.is_some())],
            "AI follow-up calls will be skipped",
        ),
        (
            "opentelemetry",
            vec![(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                config.otlp_endpoint.is_some(),
            )],
            "spans are not sent to a collector",
        ),
    ];
    for (component, variables, consequence) in capabilities {
        let missing: Vec<&str> = variables
            .iter()
            .filter(|(_, set)| !set)
            .map(|(name, _)| *name)
            .collect();
        if !missing.is_empty() {
            notes.push(format!(
                "{component}: not configured ({} unset), {consequence}",
                missing.join(", ")
            ));
        }
    }
    if !config.clerk.has_key_source() {
        notes.push(
            "clerk: not configured (CLERK_JWT_KEY, CLERK_JWKS_URL, CLERK_PUBLISHABLE_KEY, CLERK_SECRET_KEY unset), \
             session tokens are refused (API tokens still work)"
                .to_owned(),
        );
    }
    if config.api_token_private_key.is_none() {
        notes.push(if config.env == super::OttoEnv::Production {
            "api tokens: not configured (OTTO_BISCUIT_PRIVATE_KEY unset), API tokens are refused"
                .to_owned()
        } else {
            format!(
                "api tokens: OTTO_BISCUIT_PRIVATE_KEY unset, using the development key in {}",
                config.data_dir.join("api-token.key").display()
            )
        });
    }
    notes
}
