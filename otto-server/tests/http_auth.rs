//! Authentication of API routes: Clerk session tokens and API tokens, each refusal
//! a 403 problem of its own type.

mod support;

use otto_adapters::api_tokens::{self, Restriction};
use serde_json::{Value, json};
use support::*;

const ISSUER: &str = "https://clerk.otto.test";

fn issuer_checked_state() -> otto_server::state::AppState {
    state(config(&[("CLERK_ISSUER", ISSUER)]), vec![], vec![])
}

async fn me(state: &otto_server::state::AppState, token: &str) -> poem::test::TestResponse {
    client(state)
        .get("/api/v1/me")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
}

fn edit(mut claims: Value, field: &str, value: Option<Value>) -> Value {
    match value {
        Some(value) => claims[field] = value,
        None => {
            claims.as_object_mut().expect("object").remove(field);
        }
    }
    claims
}

#[tokio::test]
async fn a_valid_v2_session_token_identifies_the_caller() {
    let state = issuer_checked_state();
    let response = me(
        &state,
        &session_token(&session_claims("user_1", "org_a", "admin")),
    )
    .await;
    response.assert_status_is_ok();
    let body = json(response).await;
    assert_eq!(
        body,
        json!({"tenant_id": "org_a", "user_id": "user_1", "role": "admin", "credential": "clerk_session"})
    );
}

#[tokio::test]
async fn a_valid_v1_session_token_identifies_the_caller() {
    let state = issuer_checked_state();
    let claims = otto_testkit::signers::session_claims_v1(
        ISSUER,
        PARTY,
        "user_2",
        "org_b",
        "member",
        chrono::Utc::now().timestamp(),
    );
    let body = json(me(&state, &session_token(&claims)).await).await;
    assert_eq!(body["tenant_id"], "org_b");
    assert_eq!(body["role"], "member");
}

#[tokio::test]
async fn the_session_cookie_is_accepted() {
    let state = issuer_checked_state();
    let token = session_token(&session_claims("user_1", "org_a", "admin"));
    let response = client(&state)
        .get("/api/v1/me")
        .header("Cookie", format!("theme=dark; __session={token}"))
        .send()
        .await;
    response.assert_status_is_ok();
}

#[tokio::test]
async fn a_missing_token_is_a_missing_token_problem_with_a_challenge() {
    let state = issuer_checked_state();
    let response = client(&state).get("/api/v1/me").send().await;
    assert_eq!(
        header(&response, "www-authenticate"),
        r#"Bearer realm="otto""#
    );
    let body = assert_problem(response, 403, "/api/v1/me").await;
    assert_eq!(body["type"], "/problems/missing_token");
}

#[tokio::test]
async fn each_refusal_has_its_own_problem_type() {
    let state = issuer_checked_state();
    let valid = session_claims("user_1", "org_a", "admin");
    let now = chrono::Utc::now().timestamp();
    let cases: Vec<(&str, String, &str)> = vec![
        ("garbage", "not.a.jwt".to_owned(), "invalid_token"),
        (
            "alg none",
            otto_testkit::signers::unsigned_token(&valid),
            "invalid_token",
        ),
        (
            "HS256 keyed with the public key",
            otto_testkit::signers::hs256_token(
                &valid,
                keys().clerk.public_pem.as_bytes(),
                "test-key",
            ),
            "invalid_token",
        ),
        (
            "tampered",
            otto_testkit::signers::tampered(
                &session_token(&valid),
                &edit(valid.clone(), "o", Some(json!({"id": "org_victim"}))),
            ),
            "invalid_token",
        ),
        (
            "expired",
            session_token(&edit(valid.clone(), "exp", Some((now - 60).into()))),
            "expired_token",
        ),
        (
            "not yet valid",
            session_token(&edit(valid.clone(), "nbf", Some((now + 60).into()))),
            "invalid_token",
        ),
        (
            "wrong issuer",
            session_token(&edit(
                valid.clone(),
                "iss",
                Some("https://clerk.evil.test".into()),
            )),
            "invalid_issuer",
        ),
        (
            "wrong party",
            session_token(&edit(
                valid.clone(),
                "azp",
                Some("https://evil.test".into()),
            )),
            "invalid_authorized_party",
        ),
        (
            "no party",
            session_token(&edit(valid.clone(), "azp", None)),
            "invalid_authorized_party",
        ),
        (
            "no organization",
            session_token(&edit(valid.clone(), "o", None)),
            "no_tenant",
        ),
        (
            "unknown API token",
            "En0KEwoEb3JnXzEY".to_owned(),
            "invalid_token",
        ),
    ];
    for (case, token, expected) in cases {
        let response = me(&state, &token).await;
        let challenge = header(&response, "www-authenticate");
        let body = assert_problem(response, 403, "/api/v1/me").await;
        assert_eq!(
            body["type"],
            format!("/problems/{expected}"),
            "{case}: {body}"
        );
        if expected != "no_tenant" {
            assert!(
                challenge.contains(r#"error="invalid_token""#),
                "{case}: {challenge}"
            );
        }
    }
}

#[tokio::test]
async fn an_api_token_identifies_the_caller() {
    let state = issuer_checked_state();
    let body = json(me(&state, &api_token("user_svc", "org_a", "admin")).await).await;
    assert_eq!(
        body,
        json!({"tenant_id": "org_a", "user_id": "user_svc", "role": "admin", "credential": "api_token"})
    );
}

#[tokio::test]
async fn a_read_only_api_token_reads_but_cannot_write() {
    let state = issuer_checked_state();
    let token = api_token("user_svc", "org_a", "admin");
    let read_only = api_tokens::attenuate(&token, Restriction::ReadOnly).expect("attenuated");
    me(&state, &read_only).await.assert_status_is_ok();
    let client = client_with_probe_api(&state);
    let write = client
        .post("/probe/notes")
        .header("Authorization", format!("Bearer {read_only}"))
        .send()
        .await;
    assert_eq!(
        header(&write, "www-authenticate"),
        r#"Bearer realm="otto", error="insufficient_scope""#
    );
    let body = assert_problem(write, 403, "/probe/notes").await;
    assert_eq!(body["type"], "/problems/insufficient_scope");
    let write = client
        .post("/probe/notes")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await;
    write.assert_status_is_ok();
}

#[tokio::test]
async fn system_routes_need_no_credential() {
    let state = issuer_checked_state();
    for path in ["/health", "/ready", "/openapi.json", "/docs", "/redoc"] {
        let response = client(&state).get(path).send().await;
        assert!(
            response.0.status().is_success(),
            "{path}: {}",
            response.0.status()
        );
    }
}

#[tokio::test]
async fn every_operation_but_the_exempt_ones_requires_a_credential() {
    let state = issuer_checked_state();
    let document = json(client(&state).get("/openapi.json").send().await).await;
    let exempt = ["/health", "/ready"];
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let secured = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|schemes| !schemes.is_empty());
            if exempt.contains(&path.as_str()) || path.starts_with("/webhook/") {
                assert!(!secured, "{method} {path} is exempt");
            } else {
                assert!(secured, "{method} {path} must require a credential");
                for status in ["403", "429"] {
                    assert!(
                        operation["responses"].get(status).is_some(),
                        "{method} {path} documents {status}"
                    );
                }
            }
        }
    }
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["ClerkSession"]["scheme"], "bearer");
    assert_eq!(schemes["ApiToken"]["scheme"], "bearer");
    assert_eq!(schemes["SessionCookie"]["name"], "__session");
}

#[tokio::test]
async fn the_principal_is_in_the_request_log_lines() {
    use otto_server::telemetry::json_log::CapturedLines;
    use otto_server::telemetry::{JsonLogLayer, Service};
    use tracing_subscriber::layer::SubscriberExt;
    let lines = CapturedLines::default();
    let subscriber =
        tracing_subscriber::registry().with(JsonLogLayer::new(Service::Api, true, lines.clone()));
    let _guard = tracing::subscriber::set_default(subscriber);
    let state = issuer_checked_state();
    me(
        &state,
        &session_token(&session_claims("user_1", "org_a", "admin")),
    )
    .await
    .assert_status_is_ok();
    let access: Vec<Value> = lines
        .lines()
        .into_iter()
        .filter(|line| line["message"] == "request completed")
        .collect();
    assert_eq!(access[0]["tenant_id"], "org_a");
    assert_eq!(access[0]["user_id"], "user_1");
    assert_eq!(access[0]["route"], "/api/v1/me");
}

#[tokio::test]
async fn session_tokens_verify_against_a_configured_jwks_url() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let jwks = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(otto_testkit::signers::jwks(&[&keys().clerk])),
        )
        .mount(&jwks)
        .await;
    let url = format!("{}/.well-known/jwks.json", jwks.uri());
    let config =
        otto_server::config::Config::load(&otto_server::config::Environment::from_pairs([
            ("OTTO_ENV", "test"),
            ("ALLOWED_ORIGINS", ALLOWED_ORIGINS),
            ("CLERK_JWKS_URL", url.as_str()),
            ("CLERK_ISSUER", ISSUER),
            (
                "OTTO_BISCUIT_PRIVATE_KEY",
                keys().api_token_private_key.as_str(),
            ),
        ]))
        .expect("valid configuration");
    let state = state(config, vec![], vec![]);
    let response = me(
        &state,
        &session_token(&session_claims("user_1", "org_a", "admin")),
    )
    .await;
    response.assert_status_is_ok();
    assert_eq!(json(response).await["tenant_id"], "org_a");
    assert_eq!(
        jwks.received_requests()
            .await
            .map_or(0, |requests| requests.len()),
        1
    );
}
