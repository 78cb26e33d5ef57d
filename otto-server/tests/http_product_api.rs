//! The product API over HTTP: call filters, details and outcomes; messages; the
//! dashboard; CallRail. Each route's success and error paths, its role rules, and
//! tenant isolation (another company's ids are 404s).

mod support;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use otto_core::calls::{Direction, NewCall};
use otto_core::ports::{
    CallRepository, IdempotencyKey, InsightStore, RecordingRef, Target, TrackedCall, WebhookLedger,
};
use otto_core::tenancy::{Role, TenantId, TenantScope, UserId};
use otto_core::webhooks::{Effect, MessageFacts, Provider, RecordingFacts};
use otto_testkit::contracts::{sample_analysis, sample_transcript};
use otto_testkit::{FakeCallTracking, InMemoryStore, SwitchableProbe};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::{Value, json};
use support::{api_token, assert_problem, config, json, state_with_store};

type Client = TestClient<BoxEndpoint<'static, Response>>;

const ROLE_MAP: (&str, &str) = ("OTTO_ROLE_MAP", "admin=leadership,sales_rep=rep");

fn app_with(store: &InMemoryStore, tracking: Option<FakeCallTracking>) -> Client {
    let mut state = state_with_store(
        config(&[ROLE_MAP]),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    );
    state.call_tracking =
        tracking.map(|fake| Arc::new(fake) as Arc<dyn otto_core::ports::CallTracking>);
    support::client(&state)
}

fn app(store: &InMemoryStore) -> Client {
    app_with(store, None)
}

fn scope(tenant: &str) -> TenantScope {
    TenantScope::for_job(TenantId::parse(tenant).expect("valid"))
}

fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00Z")
        .expect("valid")
        .to_utc()
}

fn lead(tenant: &str) -> String {
    api_token("user_lead", tenant, "org:admin")
}

fn csr(tenant: &str) -> String {
    api_token("user_csr", tenant, "org:member")
}

fn rep() -> String {
    api_token("user_rep", "org_a", "org:sales_rep")
}

async fn call(
    store: &InMemoryStore,
    tenant: &str,
    id: &str,
    hours_ago: i64,
    answered: bool,
    name: &str,
    number: &str,
) -> String {
    store
        .record(
            &scope(tenant),
            NewCall {
                provider: "callrail".into(),
                external_id: id.into(),
                direction: Direction::Inbound,
                customer_name: Some(name.into()),
                customer_number: Some(number.into()),
                answered,
                duration_seconds: 30,
                started_at: noon() - Duration::hours(hours_ago),
            },
        )
        .await
        .expect("recorded")
        .id
        .to_string()
}

async fn apply(
    store: &InMemoryStore,
    tenant: &str,
    provider: Provider,
    id: &str,
    effects: Vec<Effect>,
) {
    let target = if provider == Provider::Clerk {
        Target::Platform
    } else {
        Target::Tenant(scope(tenant))
    };
    store
        .apply(&otto_core::ports::Application {
            target: &target,
            key: &IdempotencyKey {
                tenant: (provider != Provider::Clerk)
                    .then(|| TenantId::parse(tenant).expect("valid")),
                provider,
                event: "test".into(),
                external_id: id.into(),
            },
            body_digest: "digest",
            effects: &effects,
            jobs: &[],
            at: noon(),
            log: None,
        })
        .await
        .expect("applied");
}

async fn member(store: &InMemoryStore, tenant: &str, user: &str, role: &str) {
    apply(
        store,
        tenant,
        Provider::Clerk,
        &format!("msg_{tenant}_{user}"),
        vec![Effect::SaveMembership {
            tenant: TenantId::parse(tenant).expect("valid"),
            user: UserId::parse(user).expect("valid"),
            role: Role::parse(role).expect("valid"),
        }],
    )
    .await;
}

/// A recording of `org_a`'s call `call`, at `https://recordings.example/<call>.mp3`.
async fn record_recording(store: &InMemoryStore, call: &str, id: &str, seconds: i32) {
    let recording = RecordingFacts {
        call_external_id: call.into(),
        external_id: id.into(),
        url: format!("https://recordings.example/{}.mp3", call.to_lowercase()),
        duration_seconds: Some(seconds),
    };
    apply(
        store,
        "org_a",
        Provider::CallRail,
        id,
        vec![Effect::StoreRecording(recording)],
    )
    .await;
}

fn message(id: &str, number: &str, body: &str, minutes: i64) -> Effect {
    Effect::StoreMessage(MessageFacts {
        external_id: id.into(),
        direction: Direction::Inbound,
        customer_number: number.into(),
        body: body.into(),
        sent_at: noon() + Duration::minutes(minutes),
    })
}

async fn send(
    client: &Client,
    method: &str,
    token: &str,
    path: &str,
    body: Option<Value>,
) -> TestResponse {
    let request = match method {
        "GET" => client.get(path),
        "POST" => client.post(path),
        "PATCH" => client.patch(path),
        other => panic!("method {other}"),
    }
    .header("authorization", format!("Bearer {token}"));
    match body {
        Some(body) => {
            request
                .content_type("application/json")
                .body(body.to_string())
                .send()
                .await
        }
        None => request.send().await,
    }
}

async fn get(client: &Client, token: &str, path: &str) -> Value {
    let response = send(client, "GET", token, path, None).await;
    assert_eq!(response.0.status().as_u16(), 200, "GET {path}");
    json(response).await
}

fn external_ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|call| call["external_id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn calls_are_filtered_by_query_parameters() {
    let store = InMemoryStore::default();
    call(&store, "org_a", "C1", 1, false, "Ana Lima", "+15551110001").await;
    call(&store, "org_a", "C2", 2, true, "Bo Chen", "+15552220002").await;
    call(&store, "org_a", "C3", 48, true, "Ana Ortiz", "+15553330003").await;
    call(&store, "org_b", "B1", 1, false, "Ana Lima", "+15551110001").await;
    record_recording(&store, "C2", "RC2", 30).await;
    let client = app(&store);
    let token = csr("org_a");
    for (query, expected) in [
        ("", vec!["C1", "C2", "C3"]),
        ("?answered=false", vec!["C1"]),
        ("?has_recording=true", vec!["C2"]),
        ("?q=ana", vec!["C1", "C3"]),
        ("?q=222-0002", vec!["C2"]),
        ("?q=%2B1%20(555)%20222-0002", vec!["C2"]),
        ("?q=ana%20o", vec!["C3"]),
        ("?direction=outbound", vec![]),
        (
            "?from=2026-11-20T09:00:00Z&to=2026-11-20T11:30:00Z",
            vec!["C1", "C2"],
        ),
        ("?q=ana&answered=true", vec!["C3"]),
    ] {
        let page = get(&client, &token, &format!("/api/v1/calls{query}")).await;
        assert_eq!(external_ids(&page), expected, "{query}");
    }
    for (query, parameter) in [
        ("?direction=sideways", "direction"),
        ("?answered=maybe", "answered"),
        ("?from=yesterday", "from"),
        ("?from=2026-11-20T12:00:00Z&to=2026-11-20T11:00:00Z", "to"),
        ("?assigned_to=not%20a%20user", "assigned_to"),
        ("?limit=0", "limit"),
        ("?cursor=garbage", "cursor"),
    ] {
        let response = send(
            &client,
            "GET",
            &token,
            &format!("/api/v1/calls{query}"),
            None,
        )
        .await;
        let problem = assert_problem(response, 400, "/api/v1/calls").await;
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains(parameter),
            "{query}: {problem}"
        );
    }
}

#[tokio::test]
async fn a_call_detail_carries_its_recording_transcript_analysis_and_messages() {
    let store = InMemoryStore::default();
    let id = call(&store, "org_a", "CD1", 1, true, "Jane Doe", "+15551230000").await;
    record_recording(&store, "CD1", "REC1", 93).await;
    let recording = RecordingRef {
        provider: "callrail".into(),
        call_external_id: "CD1".into(),
        recording_external_id: "REC1".into(),
    };
    let then = otto_core::follow_ups::analysis_job(
        &TenantId::parse("org_a").expect("valid"),
        &recording,
        noon(),
        None,
    );
    store
        .save_transcript(
            &scope("org_a"),
            &recording,
            &sample_transcript(),
            &then,
            noon(),
        )
        .await
        .expect("saved");
    store
        .save_analysis(&scope("org_a"), &recording, &sample_analysis(), noon())
        .await
        .expect("saved");
    apply(
        &store,
        "org_a",
        Provider::Twilio,
        "sms",
        vec![message("SM1", "+15551230000", "Thanks!", 5)],
    )
    .await;
    let client = app(&store);
    let detail = get(&client, &csr("org_a"), &format!("/api/v1/calls/{id}")).await;
    assert_eq!(detail["id"], id.as_str());
    assert_eq!(detail["customer_name"], "Jane Doe");
    assert_eq!(
        detail["recording"]["url"],
        "https://recordings.example/cd1.mp3"
    );
    assert_eq!(detail["transcript"]["text"], sample_transcript().text);
    assert_eq!(detail["transcript"]["words"][1]["speaker"], 1);
    assert_eq!(detail["analysis"]["booked"], true);
    assert_eq!(detail["analysis"]["problem"], "leaking sink");
    assert_eq!(detail["messages"][0]["body"], "Thanks!");
    assert!(detail.get("outcome").is_some());
    assert!(
        detail["outcome"].get("booked").is_none(),
        "unset fields are absent, not null"
    );

    let bare = call(&store, "org_a", "CD2", 2, false, "No Data", "+15559990000").await;
    let detail = get(&client, &csr("org_a"), &format!("/api/v1/calls/{bare}")).await;
    assert!(detail.get("recording").is_none() && detail.get("transcript").is_none());
    assert_eq!(detail["messages"], json!([]));

    let path = format!("/api/v1/calls/{id}");
    assert_problem(
        send(&client, "GET", &lead("org_b"), &path, None).await,
        404,
        &path,
    )
    .await;
    let path = "/api/v1/calls/not-a-uuid";
    assert_problem(
        send(&client, "GET", &lead("org_a"), path, None).await,
        400,
        path,
    )
    .await;
}

#[tokio::test]
async fn outcomes_are_recorded_validated_and_kept_within_the_company() {
    let store = InMemoryStore::default();
    member(&store, "org_a", "user_rep", "sales_rep").await;
    member(&store, "org_b", "user_stranger", "admin").await;
    let id = call(&store, "org_a", "O1", 1, true, "Cy", "+15554440004").await;
    let client = app(&store);
    let path = format!("/api/v1/calls/{id}");
    let updated = json(
        send(
            &client,
            "PATCH",
            &csr("org_a"),
            &path,
            Some(json!({"booked": true, "appointment_at": "2026-11-27T14:00:00Z", "notes": "Ladder", "assigned_rep": "user_rep"})),
        )
        .await,
    )
    .await;
    assert_eq!(
        updated["outcome"],
        json!({"booked": true, "appointment_at": "2026-11-27T14:00:00+00:00", "notes": "Ladder", "assigned_rep": "user_rep"})
    );
    // Left out: unchanged; null: cleared.
    let cleared = json(
        send(
            &client,
            "PATCH",
            &lead("org_a"),
            &path,
            Some(json!({"notes": null})),
        )
        .await,
    )
    .await;
    assert_eq!(
        cleared["outcome"],
        json!({"booked": true, "appointment_at": "2026-11-27T14:00:00+00:00", "assigned_rep": "user_rep"})
    );

    for (body, field) in [
        (json!({"notes": "x".repeat(4001)}), "notes"),
        (json!({"assigned_rep": "user_stranger"}), "assigned_rep"),
        (json!({"assigned_rep": "not a user"}), "assigned_rep"),
        (json!({"booked": "yes"}), "booked"),
        (json!({"appointment_at": "tomorrow"}), "appointment_at"),
        (json!({"color": "red"}), "color"),
    ] {
        let problem = assert_problem(
            send(&client, "PATCH", &lead("org_a"), &path, Some(body.clone())).await,
            422,
            &path,
        )
        .await;
        let fields: Vec<&str> = problem["errors"]
            .as_array()
            .expect("errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field"))
            .collect();
        assert!(
            fields.iter().any(|f| f.contains(field) || *f == field),
            "{body}: {problem}"
        );
    }
    assert_problem(
        send(
            &client,
            "PATCH",
            &lead("org_b"),
            &path,
            Some(json!({"booked": false})),
        )
        .await,
        404,
        &path,
    )
    .await;
    let unknown = format!("/api/v1/calls/{}", uuid::Uuid::from_u128(9));
    assert_problem(
        send(
            &client,
            "PATCH",
            &lead("org_a"),
            &unknown,
            Some(json!({"booked": false})),
        )
        .await,
        404,
        &unknown,
    )
    .await;
    let stored = store
        .get(&scope("org_a"), id.parse().expect("uuid"))
        .await
        .expect("reads")
        .expect("found");
    assert_eq!(stored.outcome.notes, None);
    assert_eq!(
        stored.outcome.booked,
        Some(true),
        "refused changes changed nothing"
    );
}

#[tokio::test]
async fn a_rep_sees_and_changes_only_the_calls_assigned_to_them() {
    let store = InMemoryStore::default();
    member(&store, "org_a", "user_rep", "sales_rep").await;
    let assigned = call(&store, "org_a", "R1", 1, true, "Mine", "+15551110001").await;
    let other = call(&store, "org_a", "R2", 2, true, "Theirs", "+15552220002").await;
    let client = app(&store);
    let path = format!("/api/v1/calls/{assigned}");
    send(
        &client,
        "PATCH",
        &lead("org_a"),
        &path,
        Some(json!({"assigned_rep": "user_rep"})),
    )
    .await
    .assert_status_is_ok();

    assert_eq!(
        external_ids(&get(&client, &rep(), "/api/v1/calls").await),
        ["R1"]
    );
    assert_eq!(
        external_ids(&get(&client, &rep(), "/api/v1/calls?assigned_to=user_lead").await),
        ["R1"],
        "a rep cannot widen their listing"
    );
    assert_eq!(
        external_ids(&get(&client, &csr("org_a"), "/api/v1/calls?assigned_to=user_rep").await),
        ["R1"]
    );
    get(&client, &rep(), &path).await;
    let updated = json(
        send(
            &client,
            "PATCH",
            &rep(),
            &path,
            Some(json!({"booked": true})),
        )
        .await,
    )
    .await;
    assert_eq!(updated["outcome"]["booked"], true);
    let refused = assert_problem(
        send(
            &client,
            "PATCH",
            &rep(),
            &path,
            Some(json!({"assigned_rep": null})),
        )
        .await,
        403,
        &path,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("leadership or csr"),
        "{refused}"
    );

    let path = format!("/api/v1/calls/{other}");
    assert_problem(send(&client, "GET", &rep(), &path, None).await, 404, &path).await;
    assert_problem(
        send(
            &client,
            "PATCH",
            &rep(),
            &path,
            Some(json!({"booked": true})),
        )
        .await,
        404,
        &path,
    )
    .await;
}

#[tokio::test]
async fn paging_is_stable_while_calls_arrive() {
    let store = InMemoryStore::default();
    for n in 0..30 {
        call(
            &store,
            "org_a",
            &format!("P{n:02}"),
            n,
            true,
            "Pat",
            "+15551110001",
        )
        .await;
    }
    let client = app(&store);
    let token = csr("org_a");
    let mut seen = Vec::new();
    let mut path = "/api/v1/calls?limit=7".to_owned();
    let mut arrivals = 0;
    loop {
        let page = get(&client, &token, &path).await;
        seen.extend(external_ids(&page));
        // Calls arrive between pages, newer than everything listed and older than
        // the cursor: neither shifts the pages still to come.
        let writer = store.clone();
        let first = tokio::spawn(async move {
            call(
                &writer,
                "org_a",
                &format!("NEW{arrivals}"),
                -1,
                true,
                "New",
                "+15550000000",
            )
            .await
        });
        first.await.expect("joined");
        arrivals += 1;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/calls?limit=7&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).map(|n| format!("P{n:02}")).collect();
    assert_eq!(
        seen, expected,
        "every call once, newest first, no arrival in between"
    );
    let first_page = get(&client, &token, "/api/v1/calls?limit=100").await;
    assert_eq!(
        external_ids(&first_page).len(),
        30 + arrivals,
        "arrivals are on a fresh first page"
    );
}

#[tokio::test]
async fn conversations_and_messages_are_listed_per_company() {
    let store = InMemoryStore::default();
    apply(
        &store,
        "org_a",
        Provider::Twilio,
        "sms",
        vec![
            message("SM1", "+15551110001", "hi", 1),
            message("SM2", "+15552220002", "hello", 2),
            message("SM3", "+15551110001", "still there?", 3),
        ],
    )
    .await;
    apply(
        &store,
        "org_b",
        Provider::Twilio,
        "smsb",
        vec![message("SMB", "+15551110001", "theirs", 9)],
    )
    .await;
    let client = app(&store);
    let token = rep();
    let page = get(&client, &token, "/api/v1/messages?limit=1").await;
    assert_eq!(page["items"][0]["customer_number"], "+15551110001");
    assert_eq!(page["items"][0]["last_body"], "still there?");
    assert_eq!(page["items"][0]["message_count"], 2);
    let next = page["next_cursor"].as_str().expect("a second page");
    let page = get(
        &client,
        &token,
        &format!("/api/v1/messages?limit=1&cursor={next}"),
    )
    .await;
    assert_eq!(page["items"][0]["customer_number"], "+15552220002");
    assert!(page.get("next_cursor").is_none());

    let thread = get(&client, &token, "/api/v1/messages/%2B15551110001").await;
    let bodies: Vec<&str> = thread["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|m| m["body"].as_str().expect("body"))
        .collect();
    assert_eq!(
        bodies,
        ["still there?", "hi"],
        "newest first, this company's only"
    );
    let path = "/api/v1/messages/5551110001";
    assert_problem(send(&client, "GET", &token, path, None).await, 400, path).await;
    let path = "/api/v1/messages";
    assert_problem(
        send(&client, "GET", &token, "/api/v1/messages?cursor=nope", None).await,
        400,
        path,
    )
    .await;
}

#[tokio::test]
async fn sending_a_message_queues_one_job_and_refuses_opted_out_numbers() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let path = "/api/v1/messages";
    let body = json!({"to": "+15551230000", "body": "We can come at 9."});
    let accepted = send(&client, "POST", &rep(), path, Some(body.clone())).await;
    assert_eq!(accepted.0.status().as_u16(), 202);
    let accepted = json(accepted).await;
    assert_eq!(accepted["created"], true);
    let jobs = store.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "send_message");
    assert_eq!(jobs[0].payload["to"], "+15551230000");
    assert_eq!(jobs[0].payload["requested_by"], "user_rep");

    let keyed = |key: &'static str| {
        client
            .post(path)
            .header("authorization", format!("Bearer {}", rep()))
            .header("idempotency-key", key)
            .content_type("application/json")
            .body(body.to_string())
            .send()
    };
    let first = json(keyed("retry-1").await).await;
    let again = json(keyed("retry-1").await).await;
    assert_eq!(
        again["job_id"], first["job_id"],
        "the same key is the same job"
    );
    assert_eq!(again["created"], false);
    assert_eq!(store.jobs().len(), 2);

    store.record_opt_out(&TenantId::parse("org_a").expect("valid"), "+15559990000");
    let refused = assert_problem(
        send(
            &client,
            "POST",
            &csr("org_a"),
            path,
            Some(json!({"to": "+15559990000", "body": "hi"})),
        )
        .await,
        409,
        path,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("opted out")
    );
    for (bad, field) in [
        (json!({"to": "555-1234", "body": "hi"}), "to"),
        (json!({"to": "+15551230000", "body": "  "}), "body"),
        (
            json!({"to": "+15551230000", "body": "x".repeat(1601)}),
            "body",
        ),
        (json!({"to": "+15551230000"}), "body"),
        (
            json!({"to": "+15551230000", "body": "hi", "cc": "+1555"}),
            "cc",
        ),
    ] {
        let problem = assert_problem(
            send(&client, "POST", &csr("org_a"), path, Some(bad.clone())).await,
            422,
            path,
        )
        .await;
        assert!(
            problem["errors"]
                .as_array()
                .expect("errors")
                .iter()
                .any(|e| e["field"] == field),
            "{bad}: {problem}"
        );
    }
    assert_eq!(store.jobs().len(), 2, "refused messages queue nothing");
}

#[tokio::test]
async fn sending_has_its_own_tighter_user_limit() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let token = api_token("user_fast", "org_a", "org:member");
    let body = json!({"to": "+15551230000", "body": "hi"});
    for n in 0..20 {
        let response = send(
            &client,
            "POST",
            &token,
            "/api/v1/messages",
            Some(body.clone()),
        )
        .await;
        assert_eq!(response.0.status().as_u16(), 202, "message {n}");
    }
    let limited = send(&client, "POST", &token, "/api/v1/messages", Some(body)).await;
    assert_eq!(limited.0.status().as_u16(), 429);
    assert!(!support::header(&limited, "retry-after").is_empty());
    let problem = json(limited).await;
    assert_eq!(problem["limit_type"], "user", "{problem}");
    // Reading is on the default limits, untouched by sending.
    get(&client, &token, "/api/v1/messages").await;
}

#[tokio::test]
async fn the_dashboard_counts_the_range_for_leadership_and_csr() {
    let store = InMemoryStore::default();
    call(&store, "org_a", "D1", 1, false, "A", "+15551110001").await;
    let booked = call(&store, "org_a", "D2", 2, true, "B", "+15552220002").await;
    call(&store, "org_a", "D3", 24 * 40, false, "C", "+15553330003").await;
    call(&store, "org_b", "DB", 1, false, "D", "+15554440004").await;
    apply(
        &store,
        "org_a",
        Provider::Twilio,
        "sms",
        vec![message("SMD", "+15551110001", "hi", 0)],
    )
    .await;
    let client = app(&store);
    send(
        &client,
        "PATCH",
        &lead("org_a"),
        &format!("/api/v1/calls/{booked}"),
        Some(json!({"booked": true})),
    )
    .await
    .assert_status_is_ok();
    let path = "/api/v1/dashboard/summary?from=2026-11-19T00:00:00Z&to=2026-11-21T00:00:00Z";
    let summary = get(&client, &csr("org_a"), path).await;
    assert_eq!(
        summary,
        json!({"from": "2026-11-19T00:00:00+00:00", "to": "2026-11-21T00:00:00+00:00", "calls": 2, "missed": 1, "recovered_by_sms": 0, "booked": 1, "messages": 1})
    );
    let instance = "/api/v1/dashboard/summary";
    let refused = assert_problem(
        send(&client, "GET", &rep(), path, None).await,
        403,
        instance,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .expect("detail")
            .contains("leadership or csr")
    );
    for bad in [
        "?from=2026-11-19T00:00:00Z",
        "?from=2026-11-21T00:00:00Z&to=2026-11-19T00:00:00Z",
        "?from=2024-01-01T00:00:00Z&to=2026-01-01T00:00:00Z",
        "?from=monday&to=2026-11-19T00:00:00Z",
    ] {
        assert_problem(
            send(
                &client,
                "GET",
                &lead("org_a"),
                &format!("{instance}{bad}"),
                None,
            )
            .await,
            400,
            instance,
        )
        .await;
    }
}

fn tracked(id: &str) -> TrackedCall {
    TrackedCall {
        id: id.into(),
        direction: Direction::Inbound,
        answered: false,
        customer_name: Some("Live Caller".into()),
        customer_number: Some("+15551230000".into()),
        duration_seconds: 12,
        started_at: noon(),
    }
}

#[tokio::test]
async fn callrail_is_read_live_and_synced_as_a_job_for_a_linked_company() {
    let store = InMemoryStore::default();
    let unconfigured = app(&store);
    let client = app_with(
        &store,
        Some(FakeCallTracking::with_calls(vec![
            tracked("CAL1"),
            tracked("CAL2"),
        ])),
    );
    let live = "/api/v1/callrail/calls";
    let sync = "/api/v1/callrail/sync";
    assert_problem(
        send(&client, "GET", &lead("org_a"), live, None).await,
        409,
        live,
    )
    .await;
    assert_problem(
        send(&client, "POST", &lead("org_a"), sync, Some(json!({}))).await,
        409,
        sync,
    )
    .await;
    otto_core::ports::ProviderAccounts::link(
        &store,
        &otto_core::webhooks::AccountRef::parse("callrail", "COM1").expect("valid"),
        &TenantId::parse("org_a").expect("valid"),
    )
    .await
    .expect("linked");
    assert_problem(
        send(&unconfigured, "GET", &lead("org_a"), live, None).await,
        503,
        live,
    )
    .await;

    let page = get(&client, &csr("org_a"), "/api/v1/callrail/calls?per_page=1").await;
    assert_eq!(page["items"][0]["id"], "CAL1");
    assert_eq!(page["next_page"], 2);
    let path = "/api/v1/callrail/calls?company=COM2";
    assert_problem(
        send(&client, "GET", &csr("org_a"), path, None).await,
        409,
        live,
    )
    .await;
    assert_problem(
        send(&client, "GET", &lead("org_b"), live, None).await,
        409,
        live,
    )
    .await;
    assert_problem(send(&client, "GET", &rep(), live, None).await, 403, live).await;
    assert_problem(
        send(
            &client,
            "GET",
            &csr("org_a"),
            "/api/v1/callrail/calls?per_page=500",
            None,
        )
        .await,
        400,
        live,
    )
    .await;

    let accepted = send(
        &client,
        "POST",
        &lead("org_a"),
        sync,
        Some(json!({"pages": 2})),
    )
    .await;
    assert_eq!(accepted.0.status().as_u16(), 202);
    let jobs = store.jobs();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "callrail_sync");
    assert_eq!(jobs[0].payload["company"], "COM1");
    assert_eq!(jobs[0].payload["pages"], 2);
    assert_problem(
        send(
            &client,
            "POST",
            &lead("org_a"),
            sync,
            Some(json!({"pages": 0})),
        )
        .await,
        422,
        sync,
    )
    .await;
    assert_problem(
        send(&client, "POST", &rep(), sync, Some(json!({}))).await,
        403,
        sync,
    )
    .await;
}

/// Paging over the SQL store (SQLite) while another task keeps
/// recording calls, some newer than every page and some older than the cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_over_the_database_is_stable_under_concurrent_inserts() {
    use otto_adapters::store::SqlStore;
    use otto_adapters::system::UuidV7Ids;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let connection = otto_adapters::database::connect(&url, &Default::default())
        .await
        .expect("opens");
    otto_adapters::database::migrate_up(&connection)
        .await
        .expect("migrates");
    let store = Arc::new(SqlStore::new(connection, Arc::new(UuidV7Ids)));
    let record = |store: Arc<SqlStore>, id: String, minutes_ago: i64| async move {
        store
            .record(
                &scope("org_a"),
                NewCall {
                    provider: "callrail".into(),
                    external_id: id,
                    direction: Direction::Inbound,
                    customer_name: None,
                    customer_number: Some("+15551230000".into()),
                    answered: true,
                    duration_seconds: 1,
                    started_at: noon() - Duration::minutes(minutes_ago),
                },
            )
            .await
            .expect("recorded");
    };
    for n in 0..40 {
        record(store.clone(), format!("P{n:02}"), n * 10).await;
    }
    let mut state = state_with_store(
        config(&[ROLE_MAP]),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        InMemoryStore::default(),
    );
    state.calls = store.clone();
    let client = support::client(&state);
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..60 {
                // Newer than everything, or squeezed between existing calls.
                let minutes_ago = if n % 2 == 0 { -n } else { n * 7 + 3 };
                record(store.clone(), format!("W{n:02}"), minutes_ago).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let token = csr("org_a");
    let mut seen: Vec<String> = Vec::new();
    let mut starts: Vec<String> = Vec::new();
    let mut path = "/api/v1/calls?limit=6".to_owned();
    loop {
        let page = get(&client, &token, &path).await;
        for call in page["items"].as_array().expect("items") {
            seen.push(call["external_id"].as_str().expect("id").to_owned());
            starts.push(call["started_at"].as_str().expect("time").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/calls?limit=6&cursor={cursor}"),
            None => break,
        }
    }
    writer.await.expect("writer finished");
    let originals: Vec<&String> = seen.iter().filter(|id| id.starts_with('P')).collect();
    let expected: Vec<String> = (0..40).map(|n| format!("P{n:02}")).collect();
    assert_eq!(
        originals,
        expected.iter().collect::<Vec<_>>(),
        "every call present at the start, once, in order"
    );
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no call is listed twice");
    let times: Vec<DateTime<Utc>> = starts
        .iter()
        .map(|time| DateTime::parse_from_rfc3339(time).expect("time").to_utc())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first throughout"
    );
}
