//! The binary itself: exit codes, `check-config`, `openapi`, `migrate`.

use std::process::{Command, Output};

fn otto(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(env!("CARGO_BIN_EXE_otto-server"));
    command.args(args).current_dir(dir.path()).env_clear();
    if let Ok(path) = std::env::var("PATH") {
        command.env("PATH", path);
    }
    command.envs(env.iter().copied());
    let output = command.output().expect("otto-server runs");
    drop(dir);
    output
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn production_without_configuration_exits_2_naming_each_variable() {
    let output = otto(
        &["check-config"],
        &[("OTTO_ENV", "production"), ("OPENAI_API_KEY", "changeme")],
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    for variable in [
        "DATABASE_URL",
        "CLERK_SECRET_KEY",
        "TWILIO_AUTH_TOKEN",
        "OPENAI_API_KEY",
        "ALLOWED_ORIGINS",
    ] {
        assert!(
            stderr.lines().any(|line| line.contains(variable)),
            "{variable} named:\n{stderr}"
        );
    }
    assert!(!stderr.contains("changeme"), "values are never printed");
}

#[test]
fn serve_refuses_to_start_on_a_bad_rate() {
    let output = otto(&["serve"], &[("RATE_LIMIT_USER", "lots")]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("RATE_LIMIT_USER") && stderr.contains("N/minute"),
        "{stderr}"
    );
}

#[test]
fn check_config_prints_every_variable_with_secrets_masked() {
    // Generated, so that no credential-shaped literal is committed.
    let api_key = format!("sk-proj-{}", uuid::Uuid::new_v4().simple());
    let password = uuid::Uuid::new_v4().simple().to_string();
    let database_url = format!("postgres://otto:{password}@db:5432/otto");
    let output = otto(
        &["check-config"],
        &[
            ("OPENAI_API_KEY", &api_key),
            ("DATABASE_URL", &database_url),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(
        !stdout.contains(&api_key) && !stdout.contains(&password),
        "{stdout}"
    );
    assert!(stdout.contains("OPENAI_API_KEY=********"));
    assert!(stdout.contains("DATABASE_URL=postgres://otto:********@db:5432/otto"));
    assert!(stdout.contains("RATE_LIMIT_USER=60/minute (default)"));
    assert!(stdout.contains("twilio: not configured"));
}

#[test]
fn openapi_prints_the_committed_document_without_configuration_or_database() {
    // A production environment with none of its required variables: the document
    // describes the code, so printing it reads no configuration.
    let output = otto(&["openapi"], &[("OTTO_ENV", "production")]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("JSON on stdout");
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../../docs/openapi.json")).expect("committed JSON");
    assert!(
        printed == committed,
        "docs/openapi.json is stale: run `make openapi`"
    );
}

#[test]
fn migrate_status_up_and_down_work_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let env = [("DATABASE_URL", url.as_str())];
    let status = text(&otto(&["migrate", "status"], &env).stdout);
    assert!(
        status.lines().all(|line| line.starts_with("pending")),
        "{status}"
    );
    assert_eq!(otto(&["migrate", "up"], &env).status.code(), Some(0));
    let status = text(&otto(&["migrate", "status"], &env).stdout);
    assert!(
        status.lines().all(|line| line.starts_with("applied")),
        "{status}"
    );
    assert_eq!(
        otto(&["migrate", "down", "--steps", "1"], &env)
            .status
            .code(),
        Some(0)
    );
    let status = text(&otto(&["migrate", "status"], &env).stdout);
    assert!(
        status
            .lines()
            .last()
            .is_some_and(|line| line.starts_with("pending")),
        "{status}"
    );
}

#[test]
fn an_unknown_subcommand_is_a_usage_error() {
    let output = otto(&["frobnicate"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("Usage"));
}
