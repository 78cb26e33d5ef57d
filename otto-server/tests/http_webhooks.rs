//! Webhook routes over the in-memory store: signed deliveries of every route are
//! processed once, duplicates are harmless, bad signatures and bodies are refused
//! with problems and leave nothing behind, unroutable deliveries wait for a replay.

mod support;

use otto_core::ports::{CallRepository, CompanyDirectory, ProviderAccounts};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::signatures::{callrail, twilio};
use otto_core::webhooks::{AccountRef, JobKind, Provider};
use otto_testkit::InMemoryStore;
use otto_testkit::SwitchableProbe;
use poem::test::TestResponse;
use serde_json::Value;
use std::sync::Arc;
use support::webhooks::*;
use support::{
    Client, assert_problem, calls_of, config, header, json, link_account, metrics_text,
    state_with_store,
};

const CALLRAIL_FIXTURE: &str =
    include_str!("../../otto-core/tests/fixtures/callrail_post_call.json");

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).expect("valid")
}

async fn post_callrail(client: &Client, event: &str, body: &str) -> TestResponse {
    post_callrail_with(client, event, CALLRAIL_SECRET, body).await
}

async fn post_twilio(client: &Client, event: &str, fields: &[(&str, &str)]) -> TestResponse {
    let fields = owned(fields);
    post_twilio_with(client, event, TWILIO_TOKEN, &fields, &fields).await
}

async fn post_clerk(client: &Client, message_id: &str, timestamp: i64, body: &str) -> TestResponse {
    let signature = clerk_signature(message_id, timestamp, body);
    post_clerk_with(client, message_id, timestamp, &signature, body).await
}

async fn post_bland(client: &Client, body: &str) -> TestResponse {
    post_bland_with(client, BLAND_SECRET, body).await
}

#[tokio::test]
async fn the_original_manual_test_works_on_the_embedded_default() {
    let store = InMemoryStore::default();
    let client = unsigned_app(&store);
    // `curl -X POST ... -d '{"call_id": "test-123"}'`: curl's default form type.
    let post = || async {
        client
            .post("/webhook/callrail/pre-call")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(r#"{"call_id": "test-123"}"#)
            .send()
            .await
    };
    let first = json(post().await).await;
    assert_eq!(first["status"], "processed");
    assert_eq!(first["provider"], "callrail");
    let second = json(post().await).await;
    assert_eq!(second["status"], "duplicate_ignored");
    assert!(second["first_processed_at"].is_string(), "{second}");
    assert_eq!(
        calls_of(&store, "dev").await,
        1,
        "caught by OTTO_DEFAULT_TENANT"
    );
}

#[tokio::test]
async fn signed_callrail_deliveries_are_processed_once_with_their_jobs() {
    let store = InMemoryStore::default();
    link_account(&store, Provider::CallRail, "155920786", "org_a").await;
    let state = signed_state(&store, &[]);
    let client = support::client(&state);
    assert_eq!(
        status_of(post_callrail(&client, "call-complete", CALLRAIL_FIXTURE).await).await,
        "processed"
    );
    assert_eq!(
        status_of(post_callrail(&client, "call-complete", CALLRAIL_FIXTURE).await).await,
        "duplicate_ignored"
    );
    // The same call's other events are not duplicates of it.
    assert_eq!(
        status_of(post_callrail(&client, "pre-call", CALLRAIL_FIXTURE).await).await,
        "processed"
    );
    assert_eq!(
        status_of(post_callrail(&client, "call-modified", CALLRAIL_FIXTURE).await).await,
        "processed"
    );
    let page = store
        .list(
            &TenantScope::for_verified_delivery(tenant("org_a")),
            &otto_core::calls::CallFilter::default(),
            None,
            10,
        )
        .await
        .expect("lists");
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].duration_seconds, 13);
    assert!(
        !page.items[0].answered,
        "the late pre-call did not reopen it"
    );
    let kinds: Vec<JobKind> = store
        .jobs()
        .iter()
        .filter_map(|job| job.job_kind())
        .collect();
    assert_eq!(kinds.len(), 3, "one set of jobs: {kinds:?}");
    assert!(
        kinds.contains(&JobKind::MissedCallRecovery)
            && kinds.contains(&JobKind::AiFollowUp)
            && kinds.contains(&JobKind::Transcription)
    );

    let sms = r#"{"resource_id":"SMS1","company_id":155920786,"source_number":"+15550001","destination_number":"+15550002","content":"STOP"}"#;
    assert_eq!(
        status_of(post_callrail(&client, "sms", sms).await).await,
        "processed"
    );
    assert!(store.opted_out(&tenant("org_a"), "+15550001"));
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"webhook_processed_total{provider="callrail",tenant_id="org_a"} 4"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"webhook_duplicates_total{provider="callrail",tenant_id="org_a"} 1"#)
    );
}

#[tokio::test]
async fn signed_twilio_deliveries_route_by_number_and_sms_answers_empty_twiml() {
    let store = InMemoryStore::default();
    link_account(&store, Provider::Twilio, "+15550100", "org_t").await;
    let client = signed_app(&store);
    let ringing = [
        ("CallSid", "CA1"),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
        ("From", "+15550001"),
        ("To", "+15550100"),
    ];
    assert_eq!(
        status_of(post_twilio(&client, "call-status", &ringing).await).await,
        "processed"
    );
    let completed = [
        ("CallSid", "CA1"),
        ("CallStatus", "completed"),
        ("Direction", "inbound"),
        ("From", "+15550001"),
        ("To", "+15550100"),
        ("CallDuration", "42"),
    ];
    assert_eq!(
        status_of(post_twilio(&client, "call-status", &completed).await).await,
        "processed"
    );
    assert_eq!(
        status_of(post_twilio(&client, "call-status", &completed).await).await,
        "duplicate_ignored"
    );
    let calls = store
        .list(
            &TenantScope::for_verified_delivery(tenant("org_t")),
            &otto_core::calls::CallFilter::default(),
            None,
            10,
        )
        .await
        .expect("lists");
    assert_eq!(calls.items.len(), 1);
    assert!(calls.items[0].answered);
    assert_eq!(calls.items[0].duration_seconds, 42);

    let sms = [
        ("MessageSid", "SM1"),
        ("AccountSid", "AC1"),
        ("From", "+15550001"),
        ("To", "+15550100"),
        ("Body", "Can you call me back?"),
    ];
    for expected in ["processed", "duplicate_ignored"] {
        let response = post_twilio(&client, "sms", &sms).await;
        response.assert_status_is_ok();
        assert_eq!(header(&response, "content-type"), "text/xml");
        assert_eq!(header(&response, "x-idempotency-status"), expected);
        response
            .assert_text(r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#)
            .await;
    }
    assert_eq!(store.messages(&tenant("org_t")).len(), 1);

    let recording = [
        ("AccountSid", "AC1"),
        ("CallSid", "CA1"),
        ("RecordingSid", "RE1"),
        ("RecordingStatus", "completed"),
        ("RecordingUrl", "https://api.twilio.com/recordings/RE1"),
        ("RecordingDuration", "30"),
    ];
    link_account(&store, Provider::Twilio, "AC1", "org_t").await;
    assert_eq!(
        status_of(post_twilio(&client, "recording", &recording).await).await,
        "processed"
    );
    assert!(
        store
            .jobs()
            .iter()
            .any(|job| job.job_kind() == Some(JobKind::Transcription)
                && job.tenant_id == Some(tenant("org_t")))
    );
}

#[tokio::test]
async fn signed_clerk_and_bland_deliveries_sync_their_data() {
    let store = InMemoryStore::default();
    let client = signed_app(&store);
    let organization = r#"{"type":"organization.created","object":"event","data":{"id":"org_c","name":"Acme Roofing","slug":"acme"}}"#;
    assert_eq!(
        status_of(post_clerk(&client, "msg_1", now(), organization).await).await,
        "processed"
    );
    assert_eq!(
        status_of(post_clerk(&client, "msg_1", now(), organization).await).await,
        "duplicate_ignored",
        "a Svix retry carries the same message id"
    );
    let company = store
        .company(&TenantScope::for_verified_delivery(tenant("org_c")))
        .await
        .expect("reads")
        .expect("created");
    assert_eq!(company.name.as_deref(), Some("Acme Roofing"));
    let membership = r#"{"type":"organizationMembership.created","data":{"id":"orgmem_1","role":"org:admin","organization":{"id":"org_c"},"public_user_data":{"user_id":"user_c"}}}"#;
    assert_eq!(
        status_of(post_clerk(&client, "msg_2", now(), membership).await).await,
        "processed"
    );
    let user = otto_core::tenancy::UserId::parse("user_c").expect("valid");
    assert_eq!(
        store
            .membership(&tenant("org_c"), &user)
            .map(|role| role.as_str().to_owned()),
        Some("admin".to_owned())
    );

    let bland = r#"{"call_id":"b-1","status":"completed","completed":true,"corrected_duration":"71","summary":"Booked for Tuesday","metadata":{"tenant_id":"org_c"}}"#;
    assert_eq!(
        status_of(post_bland(&client, bland).await).await,
        "processed"
    );
    assert_eq!(
        status_of(post_bland(&client, bland).await).await,
        "duplicate_ignored"
    );
    let outcome = store.ai_call(&tenant("org_c"), "b-1").expect("stored");
    assert_eq!(outcome.duration_seconds, Some(71));
}

#[tokio::test]
async fn bad_missing_and_stale_signatures_are_401_problems_and_record_nothing() {
    let store = InMemoryStore::default();
    link_account(&store, Provider::CallRail, "COM1", "org_a").await;
    let state = signed_state(&store, &[]);
    let client = support::client(&state);
    let body = r#"{"resource_id":"CAL1","company_resource_id":"COM1"}"#;
    let unsigned = client
        .post("/webhook/callrail/pre-call")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await;
    assert_problem(unsigned, 401, "/webhook/callrail/pre-call").await;
    let wrong_key = client
        .post("/webhook/callrail/pre-call")
        .header("content-type", "application/json")
        .header("Signature", callrail::sign("another-key", body.as_bytes()))
        .body(body)
        .send()
        .await;
    let problem = assert_problem(wrong_key, 401, "/webhook/callrail/pre-call").await;
    assert_eq!(problem["type"], "/problems/unauthorized");
    // A signature of another body.
    let other = client
        .post("/webhook/callrail/pre-call")
        .header("content-type", "application/json")
        .header("Signature", callrail::sign(CALLRAIL_SECRET, b"{}"))
        .body(body)
        .send()
        .await;
    assert_problem(other, 401, "/webhook/callrail/pre-call").await;

    // Twilio signed for the URL Otto sees rather than the public one.
    let fields = [("CallSid", "CA9"), ("CallStatus", "ringing"), ("To", "+1")];
    let params: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    let internal = client
        .post("/webhook/twilio/call-status")
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "X-Twilio-Signature",
            twilio::sign(
                TWILIO_TOKEN,
                "http://localhost/webhook/twilio/call-status",
                &params,
            ),
        )
        .body(form(&fields))
        .send()
        .await;
    assert_problem(internal, 401, "/webhook/twilio/call-status").await;

    // A Svix delivery replayed ten minutes later.
    let organization = r#"{"type":"organization.created","data":{"id":"org_x"}}"#;
    let stale = post_clerk(&client, "msg_old", now() - 600, organization).await;
    let problem = assert_problem(stale, 401, "/webhook/clerk").await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("tolerance"),
        "{problem}"
    );
    let bland_unsigned = client
        .post("/webhook/bland")
        .header("content-type", "application/json")
        .body(r#"{"call_id":"b","metadata":{"tenant_id":"org_a"}}"#)
        .send()
        .await;
    assert_problem(bland_unsigned, 401, "/webhook/bland").await;

    assert_eq!(calls_of(&store, "org_a").await, 0, "nothing recorded");
    assert!(
        store
            .company(&TenantScope::for_verified_delivery(tenant("org_x")))
            .await
            .expect("reads")
            .is_none()
    );
    let metrics = metrics_text(&state).await;
    for reason in ["missing_signature", "bad_signature", "stale_timestamp"] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} counted: {metrics}"
        );
    }
    // After all that, the correctly signed delivery is processed (nothing was claimed).
    assert_eq!(
        status_of(post_callrail(&client, "pre-call", body).await).await,
        "processed"
    );
}

#[tokio::test]
async fn malformed_bodies_are_4xx_problems_and_record_nothing() {
    let store = InMemoryStore::default();
    let client = unsigned_app(&store);
    let cases: [(&str, &str, &str, u16); 5] = [
        (
            "/webhook/callrail/pre-call",
            "application/json",
            r#"{"call_id": "#,
            400,
        ),
        (
            "/webhook/callrail/pre-call",
            "text/plain",
            r#"{"call_id":"1"}"#,
            415,
        ),
        (
            "/webhook/callrail/pre-call",
            "application/json",
            r#"{"answered":false}"#,
            422,
        ),
        (
            "/webhook/twilio/sms",
            "application/json",
            r#"{"MessageSid":"SM1"}"#,
            415,
        ),
        (
            "/webhook/twilio/call-status",
            "application/x-www-form-urlencoded",
            "CallStatus=ringing",
            422,
        ),
    ];
    for (path, content_type, body, status) in cases {
        let response = client
            .post(path)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await;
        assert_problem(response, status, path).await;
    }
    let oversized = "x".repeat(2 * 1024 * 1024);
    let response = client
        .post("/webhook/callrail/pre-call")
        .header("content-type", "application/json")
        .body(format!(r#"{{"call_id":"big","pad":"{oversized}"}}"#))
        .send()
        .await;
    assert_problem(response, 413, "/webhook/callrail/pre-call").await;
    assert_eq!(calls_of(&store, "dev").await, 0);
    assert!(store.jobs().is_empty());
}

#[tokio::test]
async fn unroutable_deliveries_are_kept_and_replayed_once_linked() {
    let store = InMemoryStore::default();
    let state = signed_state(&store, &[]);
    let client = support::client(&state);
    let body = r#"{"resource_id":"CAL7","company_resource_id":"COM7","direction":"inbound","answered":false}"#;
    for _ in 0..2 {
        let response = post_callrail(&client, "call-complete", body).await;
        let receipt: Value = json(response).await;
        assert_eq!(receipt["status"], "unroutable");
    }
    assert!(
        metrics_text(&state)
            .await
            .contains(r#"webhook_unroutable_total{provider="callrail"} 2"#)
    );
    link_account(&store, Provider::CallRail, "COM7", "org_r").await;
    let state_store: Arc<InMemoryStore> = Arc::new(store.clone());
    let ingestion = otto_server::state::webhook_ingestion(&config(&[]), state_store);
    let report = ingestion.replay_unroutable(100).await.expect("replays");
    assert_eq!((report.processed, report.duplicates), (1, 1), "{report:?}");
    assert_eq!(calls_of(&store, "org_r").await, 1);
    assert_eq!(
        store.jobs().len(),
        2,
        "one missed-call recovery and one AI follow-up"
    );
    let again = ingestion.replay_unroutable(100).await.expect("replays");
    assert_eq!(again, Default::default(), "nothing left to replay");
    // Later deliveries route directly.
    assert_eq!(
        status_of(post_callrail(&client, "call-complete", body).await).await,
        "duplicate_ignored"
    );
}

/// A secret rotation: the new secret and the previous one are both accepted, an
/// unknown one is refused, and the metric says which secret matched.
#[tokio::test]
async fn during_a_rotation_old_and_new_secrets_are_accepted_and_counted() {
    const OLD: &str = "callrail-old-signing-key"; // pragma: allowlist secret
    const UNKNOWN: &str = "callrail-unknown-key"; // pragma: allowlist secret
    let store = InMemoryStore::default();
    let mut config = config(&[
        ("CALLRAIL_WEBHOOK_SECRET", CALLRAIL_SECRET),
        ("CALLRAIL_WEBHOOK_SECRET_PREVIOUS", OLD),
    ]);
    config.webhooks.default_tenant = Some(tenant("org_rot"));
    let state = state_with_store(
        config,
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    );
    let client = support::client(&state);
    let post = |key: &'static str, call: &'static str| {
        let body = format!(r#"{{"call_id":"{call}"}}"#);
        client
            .post("/webhook/callrail/pre-call")
            .header("content-type", "application/json")
            .header("Signature", callrail::sign(key, body.as_bytes()))
            .body(body)
            .send()
    };
    post(CALLRAIL_SECRET, "CALROT1").await.assert_status_is_ok();
    post(OLD, "CALROT2").await.assert_status_is_ok();
    post(OLD, "CALROT3").await.assert_status_is_ok();
    let refused = post(UNKNOWN, "CALROT4").await;
    assert_eq!(refused.0.status().as_u16(), 401);
    assert_eq!(
        calls_of(&store, "org_rot").await,
        3,
        "the refused one stored nothing"
    );
    let metrics = metrics_text(&state).await;
    for (secret, count) in [("current", 1), ("previous", 2)] {
        let line = format!(
            r#"webhook_signature_verified_total{{provider="callrail",secret="{secret}"}} {count}"#
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}

/// A duplicate says it is a replay of the first outcome; a key reused with another
/// body is still a 200 duplicate (a retry would conflict again), but is counted.
#[tokio::test]
async fn duplicates_are_marked_replayed_and_a_reused_key_with_another_body_is_counted() {
    let store = InMemoryStore::default();
    let state = unsigned_state(&store);
    let client = support::client(&state);
    let send = |body: &'static str| {
        client
            .post("/webhook/callrail/pre-call")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let first = send(r#"{"call_id":"CALDUP","customer_name":"Ann"}"#).await;
    first.assert_status_is_ok();
    assert_eq!(
        header(&first, "idempotent-replayed"),
        "",
        "a first delivery is no replay"
    );
    let retry = send(r#"{"call_id":"CALDUP","customer_name":"Ann"}"#).await;
    assert_eq!(header(&retry, "idempotent-replayed"), "true");
    let retry = json(retry).await;
    assert_eq!(retry["status"], "duplicate_ignored");
    assert!(retry["first_processed_at"].is_string(), "{retry}");
    let metrics = metrics_text(&state).await;
    assert!(
        !metrics.contains(r#"webhook_key_conflicts_total{provider="callrail"}"#),
        "an identical retry is no conflict"
    );
    let reused = send(r#"{"call_id":"CALDUP","customer_name":"Someone Else"}"#).await;
    assert_eq!(header(&reused, "idempotent-replayed"), "true");
    assert_eq!(json(reused).await["status"], "duplicate_ignored");
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"webhook_key_conflicts_total{provider="callrail"} 1"#),
        "{metrics}"
    );
}

/// CallRail signs each company's deliveries with that company's key: a delivery is
/// accepted with its company's key or the deployment's secret, refused with another
/// company's key, and a keyed company is never accepted unsigned, not even in
/// development.
#[tokio::test]
async fn each_company_can_sign_with_its_own_callrail_key() {
    const KEY_A: &str = "company-a-signing-key"; // pragma: allowlist secret
    const KEY_B: &str = "company-b-signing-key"; // pragma: allowlist secret
    let store = InMemoryStore::default();
    for (company, org, key) in [("COMA", "org_a", KEY_A), ("COMB", "org_b", KEY_B)] {
        let account = AccountRef::new(Provider::CallRail, company);
        store.link(&account, &tenant(org)).await.expect("links");
        store
            .set_signing_key(&account, Some(key))
            .await
            .expect("sets");
    }
    let state = signed_state(&store, &[]);
    let client = support::client(&state);
    let post = |key: &'static str, call: &str, company: &str| {
        let body = format!(r#"{{"resource_id":"{call}","company_resource_id":"{company}"}}"#);
        client
            .post("/webhook/callrail/pre-call")
            .header("content-type", "application/json")
            .header("Signature", callrail::sign(key, body.as_bytes()))
            .body(body)
            .send()
    };
    assert_eq!(
        status_of(post(KEY_A, "CA1", "COMA").await).await,
        "processed"
    );
    assert_eq!(
        status_of(post(KEY_B, "CB1", "COMB").await).await,
        "processed"
    );
    assert_eq!(
        status_of(post(CALLRAIL_SECRET, "CA2", "COMA").await).await,
        "processed",
        "the deployment's secret still verifies"
    );
    let refused = post(KEY_B, "CA3", "COMA").await;
    assert_eq!(refused.0.status().as_u16(), 401, "another company's key");
    assert_eq!(calls_of(&store, "org_a").await, 2);
    assert_eq!(calls_of(&store, "org_b").await, 1);
    let metrics = metrics_text(&state).await;
    for (secret, count) in [("account", 2), ("current", 1)] {
        let line = format!(
            r#"webhook_signature_verified_total{{provider="callrail",secret="{secret}"}} {count}"#
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }

    // Development without a deployment secret: a keyed company still needs its key.
    let dev = unsigned_app(&store);
    let unsigned = |company: &str| {
        let body = format!(r#"{{"resource_id":"CU-{company}","company_resource_id":"{company}"}}"#);
        dev.post("/webhook/callrail/pre-call")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(unsigned("COMA").await.0.status().as_u16(), 401);
    assert_eq!(status_of(unsigned("COMX").await).await, "processed");
}
