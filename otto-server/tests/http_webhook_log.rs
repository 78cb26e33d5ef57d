//! The webhook delivery log over HTTP: leadership sees its company's deliveries
//! (filtered, paged, bodies redacted), platform admins every tenant's; replays
//! process failed and unroutable deliveries, refuse processed ones unless forced,
//! and a forced replay queues nothing, so no text message goes out twice.

mod support;

use std::sync::Arc;

use otto_core::ports::{DeliveryLog, DeliveryOutcome};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{Provider, WebhookEvent};
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use serde_json::Value;
use support::{
    api_token, calls_of, config, header, json, link_account, platform_admin_token, state_with_store,
};

type Client = TestClient<BoxEndpoint<'static, Response>>;

/// Unsigned deliveries (no secrets: the embedded default), routed to `fallback` when
/// their account is not linked, or kept as unroutable without one.
fn app(store: &InMemoryStore, extra: &[(&str, &str)], fallback: Option<&str>) -> Client {
    let mut config = config(extra);
    config.webhooks.default_tenant = fallback.map(|id| TenantId::parse(id).expect("valid"));
    let state = state_with_store(
        config,
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    );
    support::client(&state)
}

fn lead(org: &str) -> String {
    api_token("user_lead", org, "org:admin")
}

fn admin() -> String {
    platform_admin_token("user_ops", "org_ops")
}

/// Posts a CallRail delivery; the receipt and the response's request id.
async fn deliver(client: &Client, event: &str, body: &str) -> (u16, Value, String) {
    let response = client
        .post(format!("/webhook/callrail/{event}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await;
    let status = response.0.status().as_u16();
    let request_id = header(&response, "x-request-id");
    (status, json(response).await, request_id)
}

async fn call(client: &Client, method: &str, path: &str, token: &str) -> (u16, Value) {
    let request = match method {
        "get" => client.get(path),
        "post" => client.post(path),
        other => panic!("method {other}"),
    };
    let response = request
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await;
    let status = response.0.status().as_u16();
    (status, json(response).await)
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect()
}

fn pre_call(id: &str, company: &str) -> String {
    format!(
        r#"{{"resource_id":"{id}","company_resource_id":"{company}","customer_name":"Jane Roe","customer_phone_number":"+15551234567"}}"#
    )
}

#[tokio::test]
async fn leadership_sees_its_own_deliveries_filtered_and_paged() {
    let store = InMemoryStore::default();
    link_account(&store, Provider::CallRail, "COMB", "org_b").await;
    let client = app(&store, &[], Some("org_a"));
    let (_, first, first_request_id) = deliver(&client, "pre-call", &pre_call("C1", "COMA")).await;
    for id in ["C2", "C3"] {
        assert_eq!(
            deliver(&client, "pre-call", &pre_call(id, "COMA")).await.0,
            200
        );
    }
    let (_, duplicate, _) = deliver(&client, "pre-call", &pre_call("C1", "COMA")).await;
    assert_eq!(duplicate["status"], "duplicate_ignored");
    assert_eq!(
        duplicate["first_delivery_id"], first["delivery_id"],
        "a duplicate points to the delivery that was processed"
    );
    let (_, other, _) = deliver(&client, "pre-call", &pre_call("C9", "COMB")).await;

    let (status, page) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries",
        &lead("org_a"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let listed = ids(&page);
    assert_eq!(listed.len(), 4, "org_a's four, not org_b's: {page}");
    assert_eq!(
        listed[0],
        duplicate["delivery_id"].as_str().expect("id"),
        "newest first"
    );
    assert_eq!(page["items"][0]["outcome"], "duplicate_ignored");
    assert_eq!(page["items"][0]["attempts"], 2);
    assert_eq!(page["items"][0]["conflict"], false);
    assert!(!listed.contains(&other["delivery_id"].as_str().expect("id").to_owned()));

    let (_, processed) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries?outcome=processed&provider=callrail&event=pre-call",
        &lead("org_a"),
    )
    .await;
    assert_eq!(ids(&processed).len(), 3);
    let (_, none) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries?provider=twilio",
        &lead("org_a"),
    )
    .await;
    assert_eq!(ids(&none).len(), 0);

    // Pages of two cover the four once each.
    let (_, page_one) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries?limit=2",
        &lead("org_a"),
    )
    .await;
    let cursor = page_one["next_cursor"].as_str().expect("a next page");
    let (_, page_two) = call(
        &client,
        "get",
        &format!("/api/v1/webhooks/deliveries?limit=2&cursor={cursor}"),
        &lead("org_a"),
    )
    .await;
    assert!(page_two["next_cursor"].is_null(), "{page_two}");
    let mut paged = ids(&page_one);
    paged.extend(ids(&page_two));
    assert_eq!(paged, listed);

    // One delivery, its body redacted and its request id kept.
    let first_id = first["delivery_id"].as_str().expect("id");
    let (status, detail) = call(
        &client,
        "get",
        &format!("/api/v1/webhooks/deliveries/{first_id}"),
        &lead("org_a"),
    )
    .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["external_id"], "C1");
    assert_eq!(detail["tenant_id"], "org_a");
    assert_eq!(detail["route"], "/webhook/callrail/pre-call");
    assert_eq!(detail["trace_id"], first_request_id.as_str());
    assert_eq!(detail["body_redacted"], true);
    let body: Value = serde_json::from_str(detail["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["resource_id"], "C1");
    assert_eq!(body["customer_name"], "[REDACTED]");
    assert_eq!(body["customer_phone_number"], "[REDACTED_PHONE]");

    // Another company's delivery is not found; other roles are refused.
    let other_id = other["delivery_id"].as_str().expect("id");
    let (status, _) = call(
        &client,
        "get",
        &format!("/api/v1/webhooks/deliveries/{other_id}"),
        &lead("org_a"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, refusal) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries",
        &api_token("user_csr", "org_a", "org:member"),
    )
    .await;
    assert_eq!(status, 403);
    assert!(
        refusal["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("needs the leadership role"),
        "{refusal}"
    );

    // A platform admin sees every tenant's, and filters by tenant.
    let (_, everything) = call(&client, "get", "/api/v1/webhooks/deliveries", &admin()).await;
    assert_eq!(ids(&everything).len(), 5);
    let (_, only_b) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries?tenant_id=org_b",
        &admin(),
    )
    .await;
    assert_eq!(ids(&only_b), vec![other_id.to_owned()]);

    for query in [
        "provider=fax",
        "outcome=lost",
        "cursor=garbage",
        "limit=0",
        "from=2026-11-26T00:00:00Z&to=2026-11-25T00:00:00Z",
    ] {
        let (status, problem) = call(
            &client,
            "get",
            &format!("/api/v1/webhooks/deliveries?{query}"),
            &lead("org_a"),
        )
        .await;
        assert_eq!(status, 400, "{query}: {problem}");
    }
    let (status, _) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries/not-a-uuid",
        &lead("org_a"),
    )
    .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn replays_process_unroutable_and_failed_deliveries_and_a_forced_one_texts_nobody_again() {
    let store = InMemoryStore::default();
    let client = app(&store, &[("OTTO_STORE_WEBHOOK_BODIES", "true")], None);
    let missed = r#"{"resource_id":"CAL7","company_resource_id":"COM7","direction":"inbound","answered":false,"customer_phone_number":"+15551230007"}"#;
    let (_, receipt, _) = deliver(&client, "call-complete", missed).await;
    assert_eq!(receipt["status"], "unroutable");
    let id = receipt["delivery_id"].as_str().expect("id").to_owned();
    let replay = |force: bool| format!("/api/v1/webhooks/deliveries/{id}/replay?force={force}");

    // Unroutable: no company sees it until it is routed; a platform admin replays it.
    assert_eq!(
        call(&client, "post", &replay(false), &lead("org_r"))
            .await
            .0,
        404
    );
    let (_, still) = call(&client, "post", &replay(false), &admin()).await;
    assert_eq!(still["outcome"], "unroutable", "not linked yet: {still}");
    assert_eq!(still["replays"], 1);
    link_account(&store, Provider::CallRail, "COM7", "org_r").await;
    let (status, replayed) = call(&client, "post", &replay(false), &admin()).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["outcome"], "processed");
    assert_eq!(replayed["tenant_id"], "org_r");
    assert_eq!(replayed["replays"], 2);
    assert_eq!(calls_of(&store, "org_r").await, 1);
    let jobs = store.jobs();
    assert_eq!(jobs.len(), 2, "missed-call recovery and AI follow-up");

    // Processed: refused unless forced; forcing re-applies and queues nothing.
    let (status, problem) = call(&client, "post", &replay(false), &lead("org_r")).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("force"),
        "{problem}"
    );
    let (status, forced) = call(&client, "post", &replay(true), &lead("org_r")).await;
    assert_eq!(status, 200, "{forced}");
    assert_eq!(forced["outcome"], "processed");
    assert_eq!(forced["replays"], 3);
    assert_eq!(
        calls_of(&store, "org_r").await,
        1,
        "the same call, repaired"
    );
    assert_eq!(
        store.jobs(),
        jobs,
        "no job queued again: the customer is not texted or called twice"
    );

    // Failed before it was applied (a fault, not the body): a replay processes it.
    let mut failed = otto_testkit::contracts::logged_delivery(
        Some("org_r"),
        WebhookEvent::CallRailPreCall,
        "CAL8",
        DeliveryOutcome::Failed,
        chrono::Utc::now(),
    );
    failed.body = br#"{"resource_id":"CAL8","company_resource_id":"COM7"}"#.to_vec();
    store.record(&failed).await.expect("logged");
    let (status, fixed) = call(
        &client,
        "post",
        &format!("/api/v1/webhooks/deliveries/{}/replay", failed.id),
        &lead("org_r"),
    )
    .await;
    assert_eq!(status, 200, "{fixed}");
    assert_eq!(fixed["outcome"], "processed");
    assert!(fixed["error"].is_null(), "{fixed}");
    assert_eq!(calls_of(&store, "org_r").await, 2);

    // Failed for its body: kept with its error, and a replay fails alike.
    let (status, _, _) = deliver(&client, "call-complete", r#"{"direction":"inbound"}"#).await;
    assert_eq!(status, 422);
    let (_, failures) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries?outcome=failed",
        &admin(),
    )
    .await;
    let failure = &failures["items"][0];
    assert!(failure["error"].as_str().is_some(), "{failures}");
    let (status, again) = call(
        &client,
        "post",
        &format!(
            "/api/v1/webhooks/deliveries/{}/replay",
            failure["id"].as_str().expect("id")
        ),
        &admin(),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["outcome"], "failed");
    assert_eq!(again["replays"], 1);
}

#[tokio::test]
async fn a_redacted_delivery_cannot_be_forced_and_a_reused_key_is_flagged() {
    let store = InMemoryStore::default();
    let client = app(&store, &[], Some("org_c"));
    let (_, first, _) = deliver(&client, "pre-call", &pre_call("C1", "COMC")).await;
    let (_, reused, _) = deliver(&client, "pre-call", &pre_call("C1", "COMD")).await;
    assert_eq!(reused["status"], "duplicate_ignored");
    let (_, page) = call(
        &client,
        "get",
        "/api/v1/webhooks/deliveries?outcome=duplicate_ignored",
        &lead("org_c"),
    )
    .await;
    assert_eq!(page["items"][0]["conflict"], true, "{page}");

    let id = first["delivery_id"].as_str().expect("id");
    let (status, problem) = call(
        &client,
        "post",
        &format!("/api/v1/webhooks/deliveries/{id}/replay?force=true"),
        &lead("org_c"),
    )
    .await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("OTTO_STORE_WEBHOOK_BODIES"),
        "{problem}"
    );
}

/// The customer names of `org`'s calls, as its leadership lists them.
async fn customer_names(client: &Client, org: &str) -> Vec<String> {
    let (status, page) = call(client, "get", "/api/v1/calls", &lead(org)).await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|call| call["customer_name"].as_str().unwrap_or("-").to_owned())
        .collect()
}

fn pre_call_named(id: &str, company: &str, name: &str) -> String {
    format!(
        r#"{{"resource_id":"{id}","company_resource_id":"{company}","customer_name":"{name}","customer_phone_number":"+15551234567"}}"#
    )
}

#[tokio::test]
async fn a_company_cannot_replay_a_delivery_into_the_company_its_account_moved_to() {
    let store = InMemoryStore::default();
    let client = app(&store, &[("OTTO_STORE_WEBHOOK_BODIES", "true")], None);
    link_account(&store, Provider::CallRail, "COMMOVE", "org_a").await;
    let (_, receipt, _) = deliver(
        &client,
        "pre-call",
        &pre_call_named("CALSHARED", "COMMOVE", "Old Caller"),
    )
    .await;
    assert_eq!(receipt["status"], "processed", "{receipt}");
    let id = receipt["delivery_id"].as_str().expect("id").to_owned();

    // The account moves to org_b, which then receives the same call id.
    link_account(&store, Provider::CallRail, "COMMOVE", "org_b").await;
    let (_, theirs, _) = deliver(
        &client,
        "pre-call",
        &pre_call_named("CALSHARED", "COMMOVE", "Their Customer"),
    )
    .await;
    assert_eq!(theirs["status"], "processed", "{theirs}");

    for force in [true, false] {
        let path = format!("/api/v1/webhooks/deliveries/{id}/replay?force={force}");
        let (status, problem) = call(&client, "post", &path, &lead("org_a")).await;
        let expected = if force { "another company" } else { "force" };
        assert_eq!(status, 409, "force={force}: {problem}");
        assert_eq!(problem["type"], "/problems/conflict");
        let text = problem.to_string();
        assert!(
            !text.contains("org_b"),
            "the other company is not named: {text}"
        );
        if force {
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("no longer"),
                "{problem} ({expected})"
            );
        }
    }
    assert_eq!(
        customer_names(&client, "org_b").await,
        ["Their Customer"],
        "org_b's call is untouched"
    );
    assert_eq!(customer_names(&client, "org_a").await, ["Old Caller"]);
    let (_, logged) = call(
        &client,
        "get",
        &format!("/api/v1/webhooks/deliveries/{id}"),
        &lead("org_a"),
    )
    .await;
    assert_eq!(
        logged["replays"], 0,
        "a refused replay changes nothing: {logged}"
    );

    // A platform operator may replay it where today's links send it, and is told where.
    let path = format!("/api/v1/webhooks/deliveries/{id}/replay?force=true");
    let (status, replayed) = call(&client, "post", &path, &admin()).await;
    assert_eq!(status, 200, "{replayed}");
    assert_eq!(replayed["tenant_id"], "org_b", "{replayed}");
    assert_eq!(replayed["replays"], 1);
}

#[tokio::test]
async fn a_company_cannot_replay_clerk_directory_changes_only_operators_can() {
    let store = InMemoryStore::default();
    let client = app(&store, &[("OTTO_STORE_WEBHOOK_BODIES", "true")], None);
    let membership = r#"{"type":"organizationMembership.created","data":{"id":"orgmem_r","role":"org:admin","organization":{"id":"org_dir"},"public_user_data":{"user_id":"user_gone"}}}"#;
    let response = client
        .post("/webhook/clerk")
        .header("content-type", "application/json")
        .header("svix-id", "msg_replay_dir")
        .body(membership)
        .send()
        .await;
    let receipt = json(response).await;
    assert_eq!(receipt["status"], "processed", "{receipt}");
    let id = receipt["delivery_id"].as_str().expect("id").to_owned();
    let path = format!("/api/v1/webhooks/deliveries/{id}/replay?force=true");

    let (status, problem) = call(&client, "post", &path, &lead("org_dir")).await;
    assert_eq!(status, 409, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("platform operator"),
        "{problem}"
    );
    let (status, replayed) = call(&client, "post", &path, &admin()).await;
    assert_eq!(status, 200, "an operator may: {replayed}");
}
