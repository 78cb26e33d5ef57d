//! The catalogue of every configuration variable: one table that drives parsing
//! checks, production requirements, masking in `check-config`, and the tests that
//! keep `.env.example` and `docs/configuration.md` complete.

/// One environment variable Otto reads.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    /// The variable's name.
    pub name: &'static str,
    /// Whether its value is a secret (masked whenever printed).
    pub secret: bool,
    /// Whether `OTTO_ENV=production` refuses to start without a real value.
    pub required_in_production: bool,
    /// The default used when unset, as text (`None`: no default, feature off).
    pub default: Option<&'static str>,
}

const fn var(name: &'static str, default: Option<&'static str>) -> Variable {
    Variable {
        name,
        secret: false,
        required_in_production: false,
        default,
    }
}

const fn secret(name: &'static str) -> Variable {
    Variable {
        name,
        secret: true,
        required_in_production: false,
        default: None,
    }
}

const fn required(name: &'static str) -> Variable {
    Variable {
        name,
        secret: false,
        required_in_production: true,
        default: None,
    }
}

const fn required_secret(name: &'static str) -> Variable {
    Variable {
        name,
        secret: true,
        required_in_production: true,
        default: None,
    }
}

/// Every variable, in the order `check-config` prints them.
pub const VARIABLES: &[Variable] = &[
    var("OTTO_ENV", Some("development")),
    var("HOST", Some("127.0.0.1")),
    var("PORT", Some("8000")),
    var("OTTO_DATA_DIR", Some("data")),
    var("OTTO_MAX_BODY_BYTES", Some("1048576")),
    var("OTTO_REQUEST_TIMEOUT_SECONDS", Some("30")),
    var("OTTO_IDLE_TIMEOUT_SECONDS", Some("60")),
    var("OTTO_READY_TIMEOUT_MS", Some("500")),
    var("OTTO_MIGRATE_ON_START", Some("true")),
    var("OTTO_SHUTDOWN_GRACE_SECONDS", Some("10")),
    var("OTTO_SHUTDOWN_DRAIN_SECONDS", Some("0")),
    required_secret("DATABASE_URL"),
    secret("OTTO_MIGRATION_DATABASE_URL"),
    var("OTTO_SQLITE_WRITE_QUEUE", Some("256")),
    required_secret("OTTO_DATABASE_SCOPE_KEY"),
    required_secret("REDIS_URL"),
    required_secret("CLERK_SECRET_KEY"),
    required("CLERK_PUBLISHABLE_KEY"),
    var("CLERK_JWT_KEY", None),
    var("CLERK_JWKS_URL", None),
    var("CLERK_ISSUER", None),
    var("CLERK_AUTHORIZED_PARTIES", None),
    var("CLERK_JWKS_REFETCH_SECONDS", Some("30")),
    var("CLERK_ALLOW_TEST_INSTANCE", Some("false")),
    secret("OTTO_BISCUIT_PRIVATE_KEY"),
    required("TWILIO_ACCOUNT_SID"),
    required_secret("TWILIO_AUTH_TOKEN"),
    required("TWILIO_FROM_NUMBER"),
    var("TWILIO_API_BASE_URL", Some("https://api.twilio.com")),
    required_secret("CALLRAIL_API_KEY"),
    required("CALLRAIL_ACCOUNT_ID"),
    var("CALLRAIL_BASE_URL", Some("https://api.callrail.com")),
    required_secret("DEEPGRAM_API_KEY"),
    var("DEEPGRAM_API_BASE_URL", Some("https://api.deepgram.com")),
    var("DEEPGRAM_MODEL", Some("nova-3")),
    required_secret("OPENAI_API_KEY"),
    var("OPENAI_BASE_URL", Some("https://api.openai.com/v1")),
    var("OPENAI_MODEL", Some("gpt-4o")),
    required_secret("BLAND_API_KEY"),
    var("BLAND_API_BASE_URL", Some("https://api.bland.ai")),
    secret("CALLRAIL_WEBHOOK_SECRET"),
    required_secret("CLERK_WEBHOOK_SECRET"),
    required_secret("BLAND_WEBHOOK_SECRET"),
    secret("CALLRAIL_WEBHOOK_SECRET_PREVIOUS"),
    secret("TWILIO_AUTH_TOKEN_PREVIOUS"),
    secret("CLERK_WEBHOOK_SECRET_PREVIOUS"),
    secret("BLAND_WEBHOOK_SECRET_PREVIOUS"),
    required("OTTO_PUBLIC_URL"),
    var("OTTO_DEFAULT_TENANT", Some("dev")),
    required("ALLOWED_ORIGINS"),
    var("CORS_MAX_AGE_SECONDS", Some("600")),
    var("RATE_LIMIT_USER", Some("60/minute")),
    var("RATE_LIMIT_TENANT", Some("600/minute")),
    var("RATE_LIMIT_ROUTES", None),
    var("RATE_LIMIT_REDIS_TIMEOUT_MS", Some("50")),
    var("RATE_LIMIT_MAX_BUCKETS", Some("100000")),
    var("LOG_LEVEL", Some("INFO")),
    var("OBS_REDACT_PII", Some("true")),
    var("OTEL_EXPORTER_OTLP_ENDPOINT", None),
    var("OTEL_TRACES_EXPORTER", None),
    var("OTEL_SERVICE_NAME_API", Some("otto-api")),
    var("OTEL_SERVICE_NAME_WORKER", Some("otto-worker")),
    var("IDEMPOTENCY_TTL_DAYS", Some("90")),
    var("WEBHOOK_LOG_RETENTION_DAYS", None),
    var("OTTO_STORE_WEBHOOK_BODIES", Some("false")),
    var("OTTO_ROUTING_CACHE_SECONDS", Some("5")),
    var("OTTO_EVENT_RETENTION_HOURS", Some("24")),
    var("OTTO_EVENT_HEARTBEAT_SECONDS", Some("15")),
    var("OTTO_EVENT_BUFFER", Some("256")),
    var("OTTO_EVENT_STREAMS_PER_USER", Some("10")),
    var("OTTO_EVENT_STREAMS_PER_TENANT", Some("500")),
    var("OTTO_EVENT_POLL_SECONDS", Some("5")),
    var("OTTO_WORKER_CONCURRENCY", Some("4")),
    var("OTTO_WORKER_POLL_MS", Some("1000")),
    var("OTTO_JOB_LEASE_SECONDS", Some("300")),
    var("OTTO_JOB_MAX_ATTEMPTS", Some("8")),
    var("OTTO_JOB_RETRY_BASE_SECONDS", Some("30")),
    var("OTTO_JOB_RETRY_MAX_SECONDS", Some("1800")),
    var("OTTO_PURGE_AT", Some("02:00")),
    var("OTTO_SERVE_WORKER", Some("auto")),
    var("OTTO_WORKER_PORT", Some("9101")),
    var("OTTO_METRICS_ADDR", Some("127.0.0.1:9100")),
    secret("OTTO_METRICS_TOKEN"),
    var("OTTO_PROVIDER_TIMEOUT_SECONDS", Some("30")),
    var("OTTO_ROLE_MAP", Some("admin=leadership,*=csr")),
];

/// The committed `.env.example`, whose values are placeholders by definition: a
/// production value equal to one of them is refused.
pub const ENV_EXAMPLE: &str = include_str!("../../../.env.example");

/// The value `.env.example` gives `name`, if it lists one.
pub fn example_value(name: &str) -> Option<&'static str> {
    ENV_EXAMPLE
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .find(|(key, _)| key.trim() == name)
        .map(|(_, value)| value.trim())
}

/// Whether `value` is a placeholder rather than a real setting: a placeholder by
/// its look, or the very value `.env.example` gives the variable.
pub fn is_placeholder(name: &str, value: &str) -> bool {
    let trimmed = value.trim();
    looks_like_placeholder(trimmed)
        || example_value(name).is_some_and(|example| !example.is_empty() && example == trimmed)
}

/// Words that make a value a placeholder wherever they stand in it, as words of
/// their own between punctuation: `https://api.example.com`, `sk_test_...`,
/// `my-changeme-token`. (`latest` or `contest` are not the word `test`.)
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "placeholder",
    "example",
    "test",
    "dummy",
    "fake",
    "sample",
    "todo",
    "tbd",
    "fixme",
];

/// Whole values that are placeholders (too common inside real values to refuse as
/// words: a URL may well name a `secret` store or a `none` path).
const PLACEHOLDER_VALUES: &[&str] = &[
    "change_me",
    "change-me",
    "none",
    "null",
    "undefined",
    "secret",
    "password",
];

/// Whether a value is a placeholder by its look alone: empty, a placeholder value,
/// a placeholder word anywhere in it, `xxx`, `your_...`, `<...>`, `${...}` or `***`.
pub fn looks_like_placeholder(value: &str) -> bool {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return true;
    }
    let lower = trimmed.to_ascii_lowercase();
    let has_placeholder_word = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| PLACEHOLDER_WORDS.contains(&word));
    PLACEHOLDER_VALUES.contains(&lower.as_str())
        || has_placeholder_word
        || lower.starts_with("your ")
        || lower.contains("your_")
        || lower.contains("your-")
        || lower.contains("xxx")
        || lower.contains("changeme")
        || (trimmed.starts_with('<') && trimmed.ends_with('>'))
        || (trimmed.starts_with("${") && trimmed.ends_with('}'))
        || trimmed.chars().all(|c| c == '*')
}

/// The prefixes of a Clerk development (test) instance's keys, by variable.
pub const CLERK_TEST_KEY_PREFIXES: &[(&str, &str)] = &[
    ("CLERK_SECRET_KEY", "sk_test_"),
    ("CLERK_PUBLISHABLE_KEY", "pk_test_"),
];

/// The test-instance prefix of a Clerk key in `name`, if `value` has one.
pub fn clerk_test_key_prefix(name: &str, value: &str) -> Option<&'static str> {
    CLERK_TEST_KEY_PREFIXES
        .iter()
        .find(|(variable, prefix)| *variable == name && value.trim().starts_with(prefix))
        .map(|(_, prefix)| *prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_example_lists_every_variable_and_nothing_else() {
        for variable in VARIABLES {
            assert!(
                example_value(variable.name).is_some(),
                ".env.example lacks {}",
                variable.name
            );
        }
        for line in ENV_EXAMPLE
            .lines()
            .filter(|line| !line.trim_start().starts_with('#') && line.contains('='))
        {
            let (key, _) = line.split_once('=').unwrap_or_default();
            assert!(
                VARIABLES.iter().any(|variable| variable.name == key),
                ".env.example has unknown {key}"
            );
        }
    }

    #[test]
    fn every_production_variable_in_env_example_is_a_placeholder() {
        for variable in VARIABLES
            .iter()
            .filter(|variable| variable.required_in_production)
        {
            let example = example_value(variable.name).unwrap_or_default();
            assert!(
                looks_like_placeholder(example),
                "{} example `{example}` looks real",
                variable.name
            );
        }
    }

    #[test]
    fn placeholders_are_recognised_and_real_values_are_not() {
        for placeholder in [
            "",
            "  ",
            "changeme",
            "CHANGEME",
            "your_key",
            "<token>",
            "${TOKEN}",
            "sk_test_xxx",
            "****",
            "https://api.example.com",
            "https://otto.example.org/webhooks",
            "sk_test_4f9a1c2e7b",
            "pk_test_Y2xlcmsub3R0by5pbyQ",
            "postgres://otto:changeme@db/otto", // pragma: allowlist secret
            "api.otto.test",
            "my-dummy-token",
            "SAMPLE_KEY_1",
            "secret",
            "Password",
        ] {
            assert!(
                is_placeholder("OPENAI_API_KEY", placeholder),
                "`{placeholder}` is a placeholder"
            );
        }
        for real in [
            "sk-proj-4f9a1c2e7b",
            "AC1d2e3f4a5b6c7d8e9f", // pragma: allowlist secret (made up)
            "postgres://otto@db/otto",
            "https://app.otto.io",
            "https://latest.otto.io",
            "contest-4f9a1c2e7b",
            "https://secrets.otto.io/none",
            "sk_live_4f9a1c2e7b",
        ] {
            assert!(!is_placeholder("OPENAI_API_KEY", real), "`{real}` is real");
        }
    }

    #[test]
    fn docs_describe_every_variable() {
        let docs = include_str!("../../../docs/configuration.md");
        for variable in VARIABLES {
            assert!(
                docs.contains(&format!("`{}`", variable.name)),
                "docs/configuration.md lacks `{}`",
                variable.name
            );
        }
    }
}
