//! `/api/v1/company/settings`: leadership reads and replaces its company's follow-up
//! settings; other roles get a 403 naming the role; invalid settings are 422 with
//! each field named; one company never sees another's.

mod support;

use std::sync::Arc;

use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::{Value, json};
use support::{api_token, assert_problem, config, json as body_of, state_with_store};

const PATH: &str = "/api/v1/company/settings";

type Client = TestClient<BoxEndpoint<'static, Response>>;

fn app(extra: &[(&str, &str)]) -> Client {
    let state = state_with_store(
        config(extra),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        InMemoryStore::default(),
    );
    support::client(&state)
}

async fn get(client: &Client, token: &str) -> TestResponse {
    client
        .get(PATH)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
}

async fn put(client: &Client, token: &str, body: &Value) -> TestResponse {
    client
        .put(PATH)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
}

fn leader(org: &str) -> String {
    api_token("user_lead", org, "org:admin")
}

#[tokio::test]
async fn leadership_reads_defaults_then_replaces_them() {
    let client = app(&[]);
    let defaults = body_of(get(&client, &leader("org_a")).await).await;
    assert_eq!(defaults["missed_call_sms_enabled"], true);
    assert_eq!(defaults["missed_call_sms_template"], Value::Null);
    assert!(
        defaults["default_missed_call_sms_template"]
            .as_str()
            .expect("shown")
            .contains("{company_name}")
    );
    let new = json!({
        "missed_call_sms_enabled": false,
        "missed_call_sms_template": "Hi {customer_name}, {company_name} here. How can we help?",
        "sms_from_number": "+15550001111",
    });
    let saved = body_of(put(&client, &leader("org_a"), &new).await).await;
    assert_eq!(saved["missed_call_sms_enabled"], false);
    let read = body_of(get(&client, &leader("org_a")).await).await;
    assert_eq!(
        read["missed_call_sms_template"],
        new["missed_call_sms_template"]
    );
    assert_eq!(read["sms_from_number"], "+15550001111");

    let other = body_of(get(&client, &leader("org_b")).await).await;
    assert_eq!(
        other["missed_call_sms_enabled"], true,
        "another company keeps its own"
    );
    assert_eq!(other["sms_from_number"], Value::Null);
}

#[tokio::test]
async fn ai_call_backs_and_quiet_hours_are_saved_and_cleared() {
    let client = app(&[]);
    let token = leader("org_a");
    let defaults = body_of(get(&client, &token).await).await;
    assert_eq!(defaults["ai_follow_up_enabled"], false);
    assert!(
        defaults.get("quiet_hours").is_none(),
        "no quiet hours by default"
    );
    let quiet = json!({"start": "21:00", "end": "08:00", "time_zone": "America/New_York"});
    let new = json!({"missed_call_sms_enabled": true, "ai_follow_up_enabled": true, "quiet_hours": quiet});
    put(&client, &token, &new).await.assert_status_is_ok();
    let read = body_of(get(&client, &token).await).await;
    assert_eq!(read["ai_follow_up_enabled"], true);
    assert_eq!(read["quiet_hours"], quiet);
    // PUT replaces everything: leaving them out turns both off.
    put(&client, &token, &json!({"missed_call_sms_enabled": true}))
        .await
        .assert_status_is_ok();
    let read = body_of(get(&client, &token).await).await;
    assert_eq!(read["ai_follow_up_enabled"], false);
    assert!(read.get("quiet_hours").is_none());
}

#[tokio::test]
async fn other_roles_are_refused_with_the_role_they_need() {
    let client = app(&[]);
    let member = api_token("user_csr", "org_a", "org:member");
    for response in [
        get(&client, &member).await,
        put(&client, &member, &json!({"missed_call_sms_enabled": false})).await,
    ] {
        let problem = assert_problem(response, 403, PATH).await;
        assert_eq!(problem["type"], "/problems/forbidden");
        let detail = problem["detail"].as_str().expect("detail");
        assert!(
            detail.contains("leadership") && detail.contains("csr"),
            "{detail}"
        );
    }
    let unchanged = body_of(get(&client, &leader("org_a")).await).await;
    assert_eq!(
        unchanged["missed_call_sms_enabled"], true,
        "nothing was saved"
    );
}

#[tokio::test]
async fn the_role_map_is_configurable() {
    let client = app(&[("OTTO_ROLE_MAP", "sales_lead=leadership,admin=csr")]);
    let lead = api_token("user_1", "org_a", "org:sales_lead");
    assert_eq!(get(&client, &lead).await.0.status().as_u16(), 200);
    let admin = api_token("user_2", "org_a", "org:admin");
    assert_problem(get(&client, &admin).await, 403, PATH).await;
}

#[tokio::test]
async fn invalid_settings_name_every_bad_field() {
    let client = app(&[]);
    let token = leader("org_a");
    let cases = [
        (
            json!({"missed_call_sms_enabled": true, "sms_from_number": "555-1230"}),
            vec!["sms_from_number"],
        ),
        (
            json!({"missed_call_sms_enabled": true, "missed_call_sms_template": "x".repeat(1601)}),
            vec!["missed_call_sms_template"],
        ),
        (
            json!({"missed_call_sms_enabled": true, "missed_call_sms_template": "Hi {name}", "sms_from_number": "+0123"}),
            vec!["missed_call_sms_template", "sms_from_number"],
        ),
        (
            json!({"missed_call_sms_enabled": true, "quiet_hours": 3}),
            vec!["quiet_hours"],
        ),
        (
            json!({"missed_call_sms_enabled": true, "quiet_hours": {"start": "9pm", "end": "24:30", "time_zone": "Eastern"}}),
            vec![
                "quiet_hours.start",
                "quiet_hours.end",
                "quiet_hours.time_zone",
            ],
        ),
        (
            json!({"missed_call_sms_enabled": true, "quiet_hours": {"start": "08:00", "end": "08:00", "time_zone": "UTC"}}),
            vec!["quiet_hours.end"],
        ),
        (
            json!({"missed_call_sms_enabled": true, "quiet_hours": {"start": "21:00", "end": "08:00"}}),
            vec!["quiet_hours.time_zone"],
        ),
        (
            json!({"missed_call_sms_template": null}),
            vec!["missed_call_sms_enabled"],
        ),
        (
            json!({"missed_call_sms_enabled": "yes"}),
            vec!["missed_call_sms_enabled"],
        ),
    ];
    for (body, fields) in cases {
        let problem = assert_problem(put(&client, &token, &body).await, 422, PATH).await;
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|error| error["field"].as_str().expect("field"))
            .collect();
        assert_eq!(named, fields, "{body}");
    }
    let unchanged = body_of(get(&client, &token).await).await;
    assert_eq!(
        unchanged["sms_from_number"],
        Value::Null,
        "nothing invalid was saved"
    );
}
