//! Configuration: defaults, parse errors naming the variable, production refusal.

mod support;

use support::production_env::production_pairs;

use otto_server::config::{Config, ConfigErrors, Environment, OttoEnv, spec::VARIABLES};

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
    Config::load(&Environment::from_pairs(pairs.iter().copied()))
}

fn offending(errors: &ConfigErrors) -> Vec<&'static str> {
    errors.0.iter().map(|error| error.variable).collect()
}

fn load_owned(pairs: &[(&str, String)]) -> Result<Config, ConfigErrors> {
    Config::load(&Environment::from_pairs(
        pairs.iter().map(|(name, value)| (*name, value.as_str())),
    ))
}

#[test]
fn development_needs_nothing_and_uses_the_embedded_defaults() {
    let config = load(&[]).expect("empty environment is valid");
    assert_eq!(config.env, OttoEnv::Development);
    assert_eq!(config.bind_address(), "127.0.0.1:8000");
    assert!(config.database_is_embedded);
    assert_eq!(config.database_url.expose(), "sqlite://data/otto.db");
    assert!(config.redis_url.is_none());
    assert_eq!(config.rate_limit_user.to_string(), "60/minute");
    assert_eq!(config.rate_limit_tenant.to_string(), "600/minute");
    assert!(config.redact_pii);
    assert_eq!(config.idempotency_ttl_days, 90);
    assert_eq!(config.max_body_bytes, 1_048_576);
    assert_eq!(config.service_name_api, "otto-api");
    assert_eq!(config.service_name_worker, "otto-worker");
    let origins: Vec<String> = config
        .allowed_origins
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        origins,
        ["http://localhost:3000", "http://127.0.0.1:3000"],
        "a local frontend works out of the box"
    );
}

#[test]
fn allowed_origins_are_parsed_from_the_variable() {
    let config =
        load(&[("ALLOWED_ORIGINS", "https://app.otto.io, exp://*")]).expect("valid origins");
    let origins: Vec<String> = config
        .allowed_origins
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(origins, ["https://app.otto.io", "exp://*"]);
    let errors =
        load(&[("ALLOWED_ORIGINS", "https://ok.io,https://*")]).expect_err("https://* is refused");
    assert_eq!(offending(&errors), ["ALLOWED_ORIGINS"]);
    assert!(errors.to_string().contains("https://*"), "{errors}");
}

#[test]
fn malformed_rates_name_the_variable_and_show_the_accepted_form() {
    let errors = load(&[
        ("RATE_LIMIT_USER", "60 per minute"),
        ("RATE_LIMIT_TENANT", "0/hour"),
    ])
    .expect_err("bad rates");
    assert_eq!(offending(&errors), ["RATE_LIMIT_USER", "RATE_LIMIT_TENANT"]);
    for error in &errors.0 {
        assert!(error.problem.contains("N/minute"), "{error}");
    }
}

#[test]
fn every_malformed_value_is_reported_at_once() {
    let errors = load(&[
        ("PORT", "eighty"),
        ("OBS_REDACT_PII", "maybe"),
        ("LOG_LEVEL", "LOUD"),
        ("IDEMPOTENCY_TTL_DAYS", "0"),
        ("ALLOWED_ORIGINS", "*"),
        ("DATABASE_URL", "mysql://db/otto"),
        ("OTTO_ENV", "staging"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
    ])
    .expect_err("all bad");
    let mut names = offending(&errors);
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "ALLOWED_ORIGINS",
            "DATABASE_URL",
            "IDEMPOTENCY_TTL_DAYS",
            "LOG_LEVEL",
            "OBS_REDACT_PII",
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTTO_ENV",
            "PORT"
        ]
    );
}

#[test]
fn production_with_nothing_set_names_every_required_variable() {
    let errors = load(&[("OTTO_ENV", "production")]).expect_err("production needs values");
    let required: Vec<&str> = VARIABLES
        .iter()
        .filter(|v| v.required_in_production)
        .map(|v| v.name)
        .collect();
    assert_eq!(offending(&errors), required);
    assert!(required.contains(&"DATABASE_URL") && required.contains(&"OPENAI_API_KEY"));
}

#[test]
fn the_default_tenant_catches_unroutable_deliveries_only_outside_production() {
    let development = load(&[]).expect("valid");
    assert_eq!(
        development.webhooks.default_tenant.map(|t| t.to_string()),
        Some("dev".to_owned())
    );
    let chosen = load(&[("OTTO_DEFAULT_TENANT", "org_demo")]).expect("valid");
    assert_eq!(
        chosen.webhooks.default_tenant.map(|t| t.to_string()),
        Some("org_demo".to_owned())
    );
    let invalid = load(&[("OTTO_DEFAULT_TENANT", "not a tenant")]).expect_err("invalid");
    assert_eq!(offending(&invalid), ["OTTO_DEFAULT_TENANT"]);
    let production = load_owned(&production_pairs()).expect("valid");
    assert!(production.webhooks.default_tenant.is_none());
    let mut pairs = production_pairs();
    pairs.push(("OTTO_DEFAULT_TENANT", "org_demo".to_owned()));
    let errors = load_owned(&pairs).expect_err("refused in production");
    assert_eq!(offending(&errors), ["OTTO_DEFAULT_TENANT"]);
}

#[test]
fn production_with_real_values_starts() {
    let config = load_owned(&production_pairs()).expect("real values are accepted");
    assert_eq!(config.env, OttoEnv::Production);
    assert!(!config.database_is_embedded);
}

#[test]
fn production_refuses_each_placeholder_without_printing_it() {
    for placeholder in [
        "",
        "changeme",
        "your_openai_api_key",
        "<openai key>",
        "sk-xxxxxxxx",
    ] {
        let mut pairs = production_pairs();
        pairs.retain(|(name, _)| *name != "OPENAI_API_KEY");
        pairs.push(("OPENAI_API_KEY", placeholder.to_owned()));
        let errors = load_owned(&pairs).expect_err(placeholder);
        assert_eq!(offending(&errors), ["OPENAI_API_KEY"], "{placeholder}");
        if !placeholder.is_empty() {
            assert!(
                !errors.to_string().contains(placeholder),
                "value not echoed: {errors}"
            );
        }
    }
}

/// `pairs` with `name` set to `value`.
fn with(
    mut pairs: Vec<(&'static str, String)>,
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    pairs.retain(|(existing, _)| *existing != name);
    pairs.push((name, value.to_owned()));
    pairs
}

#[test]
fn production_refuses_placeholder_words_inside_values_as_documented() {
    for (name, value) in [
        ("OTTO_PUBLIC_URL", "https://api.example.com"),
        ("OTTO_PUBLIC_URL", "https://otto.test"),
        (
            "ALLOWED_ORIGINS",
            "https://app.otto.io,https://app.example.org",
        ),
        ("DATABASE_URL", "postgres://otto:changeme@db.internal/otto"), // pragma: allowlist secret
        ("REDIS_URL", "redis://dummy-cache:6379"),
        ("TWILIO_FROM_NUMBER", "test"),
        // A secret that is optional in production is still checked when set.
        ("CALLRAIL_WEBHOOK_SECRET_PREVIOUS", "my-fake-secret"),
        ("TWILIO_AUTH_TOKEN_PREVIOUS", "example"),
    ] {
        let errors = load_owned(&with(production_pairs(), name, value)).expect_err(value);
        assert_eq!(offending(&errors), [name], "{value}");
        assert!(!errors.to_string().contains(value), "not echoed: {errors}");
    }
    for (name, value) in [
        ("OTTO_PUBLIC_URL", "https://latest.otto.io"),
        ("ALLOWED_ORIGINS", "https://contest.otto.io"),
    ] {
        load_owned(&with(production_pairs(), name, value))
            .unwrap_or_else(|errors| panic!("{value} is real: {errors}"));
    }
}

#[test]
fn production_refuses_clerk_test_instance_keys_unless_intended() {
    let test_secret = format!("sk_test_{}", uuid::Uuid::new_v4().simple());
    let test_publishable = "pk_test_Y2xlcmsub3R0by5pbyQ";
    let pairs = with(
        with(production_pairs(), "CLERK_SECRET_KEY", &test_secret),
        "CLERK_PUBLISHABLE_KEY",
        test_publishable,
    );
    let errors = load_owned(&pairs).expect_err("test instance keys");
    assert_eq!(
        offending(&errors),
        ["CLERK_SECRET_KEY", "CLERK_PUBLISHABLE_KEY"]
    );
    assert!(
        errors.to_string().contains("CLERK_ALLOW_TEST_INSTANCE"),
        "{errors}"
    );
    assert!(!errors.to_string().contains(&test_secret), "not echoed");

    let intended = with(pairs, "CLERK_ALLOW_TEST_INSTANCE", "true");
    load_owned(&intended).unwrap_or_else(|errors| panic!("a test instance is intended: {errors}"));
    let placeholder = with(intended, "CLERK_SECRET_KEY", "sk_test_xxxxxxxx");
    let errors = load_owned(&placeholder).expect_err("still a placeholder");
    assert_eq!(offending(&errors), ["CLERK_SECRET_KEY"]);
}

#[test]
fn production_refuses_the_env_example_values() {
    let mut pairs = production_pairs();
    pairs.retain(|(name, _)| *name != "TWILIO_AUTH_TOKEN");
    pairs.push(("TWILIO_AUTH_TOKEN", "your_twilio_auth_token".to_owned()));
    let errors = load_owned(&pairs).expect_err("example value");
    assert_eq!(offending(&errors), ["TWILIO_AUTH_TOKEN"]);
}

#[test]
fn errors_print_one_line_per_variable() {
    let errors = load(&[("OTTO_ENV", "production")]).expect_err("missing");
    let text = errors.to_string();
    assert_eq!(text.lines().count(), errors.0.len());
    assert!(
        text.lines()
            .all(|line| line.starts_with("configuration error: "))
    );
}
