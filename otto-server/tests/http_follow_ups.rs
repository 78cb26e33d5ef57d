//! Follow-ups users ask for: 202 with the job (the same job when asked twice), the
//! job's status by id, roles, and tenant isolation (another company's call or job is
//! a 404).

mod support;

use std::sync::Arc;

use otto_core::calls::{Direction, NewCall};
use otto_core::ports::CallRepository;
use otto_core::tenancy::{TenantId, TenantScope};
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::Value;
use support::{api_token, assert_problem, config, json, state_with_store};

type Client = TestClient<BoxEndpoint<'static, Response>>;

fn app(store: &InMemoryStore, extra: &[(&str, &str)]) -> Client {
    let state = state_with_store(
        config(extra),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    );
    support::client(&state)
}

async fn call(
    store: &InMemoryStore,
    tenant: &str,
    external_id: &str,
    number: Option<&str>,
) -> String {
    let scope = TenantScope::for_job(TenantId::parse(tenant).expect("valid"));
    store
        .record(
            &scope,
            NewCall {
                provider: "callrail".into(),
                external_id: external_id.into(),
                direction: Direction::Inbound,
                customer_name: None,
                customer_number: number.map(str::to_owned),
                answered: true,
                duration_seconds: 60,
                started_at: chrono::Utc::now(),
            },
        )
        .await
        .expect("records")
        .id
        .to_string()
}

async fn post(client: &Client, token: &str, path: &str) -> TestResponse {
    client
        .post(path)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
}

async fn get(client: &Client, token: &str, path: &str) -> TestResponse {
    client
        .get(path)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
}

#[tokio::test]
async fn a_requested_follow_up_is_one_job_whose_status_can_be_read() {
    let store = InMemoryStore::default();
    let client = app(&store, &[]);
    let id = call(&store, "org_a", "CAL1", Some("+15551230000")).await;
    let csr = api_token("user_csr", "org_a", "org:member");
    for (path, kind) in [
        (
            format!("/api/v1/calls/{id}/follow-up-sms"),
            "missed_call_recovery",
        ),
        (format!("/api/v1/calls/{id}/ai-follow-up"), "ai_follow_up"),
    ] {
        let first = post(&client, &csr, &path).await;
        assert_eq!(first.0.status().as_u16(), 202);
        let first: Value = json(first).await;
        assert_eq!(first["created"], true);
        let again: Value = json(post(&client, &csr, &path).await).await;
        assert_eq!(again["created"], false, "asking twice queues nothing more");
        assert_eq!(again["job_id"], first["job_id"]);

        let job_path = format!("/api/v1/jobs/{}", first["job_id"].as_str().expect("id"));
        let job: Value = json(get(&client, &csr, &job_path).await).await;
        assert_eq!(job["kind"], kind);
        assert_eq!(job["status"], "queued");
        let other = api_token("user_b", "org_b", "org:admin");
        assert_problem(get(&client, &other, &job_path).await, 404, &job_path).await;
    }
    let jobs = store.jobs();
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|job| job.payload["requested_by"] == "user_csr"),
        "the requester is recorded"
    );
}

#[tokio::test]
async fn other_companies_calls_and_bad_requests_are_refused() {
    let store = InMemoryStore::default();
    let client = app(&store, &[("OTTO_ROLE_MAP", "sales_rep=rep")]);
    let theirs = call(&store, "org_b", "CALB", Some("+15551230000")).await;
    let silent = call(&store, "org_a", "CALX", None).await;
    let leader = api_token("user_lead", "org_a", "org:admin");
    let path = format!("/api/v1/calls/{theirs}/follow-up-sms");
    assert_problem(post(&client, &leader, &path).await, 404, &path).await;
    let path = format!("/api/v1/calls/{silent}/ai-follow-up");
    assert_problem(post(&client, &leader, &path).await, 409, &path).await;
    let path = "/api/v1/calls/not-a-uuid/follow-up-sms";
    assert_problem(post(&client, &leader, path).await, 400, path).await;

    // A rep may follow up only the calls assigned to them; another is not found.
    let mine = call(&store, "org_a", "CALA", Some("+15551230000")).await;
    let rep = api_token("user_rep", "org_a", "org:sales_rep");
    let path = format!("/api/v1/calls/{mine}/follow-up-sms");
    assert_problem(post(&client, &rep, &path).await, 404, &path).await;
    assert!(store.jobs().is_empty(), "nothing was queued");
    let assign = otto_core::calls::OutcomeChange {
        assigned_rep: Some(Some(
            otto_core::tenancy::UserId::parse("user_rep").expect("valid"),
        )),
        ..Default::default()
    };
    otto_core::ports::CallRepository::update_outcome(
        &store,
        &otto_core::tenancy::TenantScope::for_verified_delivery(
            otto_core::tenancy::TenantId::parse("org_a").expect("valid"),
        ),
        mine.parse().expect("a uuid"),
        &assign,
    )
    .await
    .expect("assigned");
    let response = post(&client, &rep, &path).await;
    response.assert_status(poem::http::StatusCode::ACCEPTED);
    assert_eq!(store.jobs().len(), 1, "the rep's follow-up was queued");
}
