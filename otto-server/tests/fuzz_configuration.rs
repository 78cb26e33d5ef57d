//! Property-based fuzzing of configuration parsing: whatever the environment (or a
//! stray `.env`) holds, loading returns a configuration or errors that name the
//! variables at fault, never panics, and never prints a secret.
//!
//! `PROPTEST_CASES` raises every case count for a long run.

mod support;

use otto_server::config::{
    Config, ConfigErrors, Environment, MASK, effective_settings, spec::VARIABLES,
    unconfigured_components,
};
use otto_testkit::fuzz::cases;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use support::production_env::production_pairs;

/// Values as a hostile or careless environment holds them: arbitrary text, and
/// near-misses of every format the variables take (numbers past their type, rates,
/// URLs of every scheme, origin lists, times, route overrides, role maps, PEM).
fn value() -> BoxedStrategy<String> {
    prop_oneof![
        4 => any::<String>(),
        2 => vec(any::<char>(), 0..128).prop_map(String::from_iter),
        1 => any::<i128>().prop_map(|n| n.to_string()),
        1 => "[ +-]?[0-9]{1,30}",
        2 => select(vec![
            "", " ", "\t\n", "0", "1", "-1", "true", "FALSE", "yes", "off", "maybe", "auto", "none",
            "otlp", "console", "stdout", "production", "PROD", "test", "dev", "staging", "TRACE",
            "critical", "*", "null", "changeme", "<value>", "${VALUE}", "********",
        ])
        .prop_map(str::to_owned),
        2 => (
            select(vec!["http", "https", "postgres", "postgresql", "sqlite", "redis", "rediss", "redis-sentinel", "ftp", "mysql", ""]),
            "[a-zA-Z0-9.:@/_%?#\\[\\]-]{0,40}",
        )
            .prop_map(|(scheme, rest)| format!("{scheme}://{rest}")),
        1 => "[ 0-9+-]{0,14}/[ a-zA-Z]{0,9}",
        1 => "([a-zA-Z]{0,6}://[*a-zA-Z0-9.:\\[\\]-]{0,16}/? ?,? ?){0,4}",
        1 => "[0-9]{1,3}:[0-9]{1,3}",
        1 => "((GET|post|X|) ?/?[a-z/{}]{0,10}=(user|tenant|x):[0-9]{0,4}/(minute|s|x)(,tenant:[0-9]{1,3}/hour)?;?){0,3}",
        1 => "(([a-z:*_ -]{0,8})=(leadership|csr|rep|x| ),?){0,4}",
        1 => "-----BEGIN PUBLIC KEY-----[A-Za-z0-9+/=\\\\n]{0,40}(-----END PUBLIC KEY-----)?",
        1 => ("[a-z0-9]{1,4}", 1usize..20_000).prop_map(|(chunk, times)| chunk.repeat(times)),
    ]
    .boxed()
}

fn variable() -> impl Strategy<Value = &'static str> {
    select(
        VARIABLES
            .iter()
            .map(|variable| variable.name)
            .collect::<Vec<_>>(),
    )
}

fn load(pairs: &[(&str, String)]) -> Result<Config, ConfigErrors> {
    Config::load(&Environment::from_pairs(
        pairs.iter().map(|(name, value)| (*name, value.as_str())),
    ))
}

/// `pairs` with `name` set to `value` (replacing any value it had).
fn with(
    pairs: &[(&'static str, String)],
    name: &'static str,
    value: &str,
) -> Vec<(&'static str, String)> {
    let mut pairs: Vec<_> = pairs
        .iter()
        .filter(|(set, _)| *set != name)
        .cloned()
        .collect();
    pairs.push((name, value.to_owned()));
    pairs
}

/// Everything printed from a load: the errors, or `check-config`'s listing and the
/// startup notes.
fn printed(loaded: &Result<Config, ConfigErrors>, pairs: &[(&str, String)]) -> String {
    match loaded {
        Ok(config) => {
            let env =
                Environment::from_pairs(pairs.iter().map(|(name, value)| (*name, value.as_str())));
            let settings: String = effective_settings(config, &env)
                .into_iter()
                .map(|(name, shown)| format!("{name}={shown}\n"))
                .collect();
            format!(
                "{settings}{}\n{}",
                unconfigured_components(config).join("\n"),
                config.bind_address()
            )
        }
        Err(errors) => errors.to_string(),
    }
}

/// The variables a bad value of `name` may be blamed on: itself, and the endpoint
/// the exporter it selects needs.
fn blamed_for(name: &str) -> Vec<&str> {
    match name {
        "OTEL_TRACES_EXPORTER" => vec![name, "OTEL_EXPORTER_OTLP_ENDPOINT"],
        _ => vec![name],
    }
}

fn selects_production(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "production" | "prod"
    )
}

proptest! {
    // Each case loads every variable twice (~140 loads): fewer cases.
    #![proptest_config(cases(64))]

    #[test]
    fn an_arbitrary_value_of_any_variable_is_loaded_or_blamed_on_that_variable(raw in value()) {
        let production = production_pairs();
        prop_assert!(load(&production).is_ok(), "the production baseline loads");
        for variable in VARIABLES {
            let name = variable.name;
            for (baseline, label) in [(&production, "production"), (&Vec::new(), "development")] {
                if label == "development" && name == "OTTO_ENV" && selects_production(&raw) {
                    // Switching to production makes every unset required variable an error.
                    continue;
                }
                let pairs = with(baseline, name, &raw);
                let loaded = load(&pairs);
                let _ = printed(&loaded, &pairs);
                if let Err(errors) = loaded {
                    prop_assert!(!errors.0.is_empty());
                    for error in &errors.0 {
                        prop_assert!(
                            blamed_for(name).contains(&error.variable),
                            "{label}: {name}={raw:?} blamed {}: {}", error.variable, error.problem
                        );
                    }
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn arbitrary_environments_load_or_fail_with_known_variables_never_panicking(
        pairs in vec(
            (prop_oneof![4 => variable(), 1 => select(vec!["", "PATH", "otto_env", "PORT "])], value()),
            0..16,
        ),
        production in any::<bool>(),
    ) {
        let mut pairs: Vec<(&str, String)> = pairs;
        if production {
            pairs.insert(0, ("OTTO_ENV", "production".to_owned()));
        }
        let loaded = load(&pairs);
        let _ = printed(&loaded, &pairs);
        if let Err(errors) = &loaded {
            prop_assert!(!errors.0.is_empty());
            for error in &errors.0 {
                prop_assert!(
                    VARIABLES.iter().any(|variable| variable.name == error.variable),
                    "unknown variable {}", error.variable
                );
                prop_assert!(!error.problem.is_empty());
            }
        }
    }

    #[test]
    fn secret_values_are_never_printed_whatever_else_is_set(
        marker in "[A-Za-z0-9]{16,24}".prop_map(|marker| format!("Zq{marker}")),
        (before, after) in ("[ -~]{0,12}", "[ -~]{0,12}"),
        secrets in vec(
            select(VARIABLES.iter().filter(|variable| variable.secret).map(|variable| variable.name).collect::<Vec<_>>()),
            1..4,
        ),
        others in vec((variable(), value()), 0..8),
        production in any::<bool>(),
    ) {
        let mut pairs: Vec<(&str, String)> = if production { production_pairs() } else { Vec::new() };
        for (name, value) in others {
            if !VARIABLES.iter().any(|variable| variable.name == name && variable.secret) {
                pairs = with(&pairs, name, &value);
            }
        }
        for name in secrets {
            // A URL's password is its secret part: the rest of a URL is shown.
            let value = match name {
                "DATABASE_URL" => format!("postgres://otto:{marker}@db.internal:5432/otto"),
                "REDIS_URL" => format!("rediss://default:{marker}@cache.internal:6380"),
                _ => format!("{before}{marker}{after}"),
            };
            pairs = with(&pairs, name, &value);
        }
        let loaded = load(&pairs);
        let shown = printed(&loaded, &pairs);
        prop_assert!(!shown.contains(&marker), "a secret was printed:\n{shown}");
        if let Ok(config) = &loaded {
            let env = Environment::from_pairs(pairs.iter().map(|(name, value)| (*name, value.as_str())));
            for (name, shown) in effective_settings(config, &env) {
                let secret = VARIABLES.iter().any(|variable| variable.name == name && variable.secret);
                if secret && env.get(name).is_some() && !name.ends_with("_URL") {
                    prop_assert_eq!(shown, MASK);
                }
            }
        }
    }
}
