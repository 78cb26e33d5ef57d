//! Hostile bytes and out-of-range times against the real server on each real
//! database (SQLite, and PostgreSQL, which refuses a NUL in any text column and years
//! before 4713 BC): every API route that takes text or time answers a 4xx problem,
//! never a 500; a signed webhook carrying them is stored safely (NULs removed from its
//! fields, the time left out) and never answered with a 5xx the provider would retry.
//! The property-based part sends generated text (NUL, controls, lone surrogate
//! escapes) and times from chrono's whole range to the same routes.

mod support;

use otto_adapters::test_support::TestDatabase;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::callrail;
use otto_core::webhooks::{AccountRef, Provider};
use otto_testkit::fuzz::{cases, hostile_text};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem::test::{TestClient, TestResponse};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::Value;

type Client = TestClient<BoxEndpoint<'static, Response>>;

const SECRET: &str = "callrail-hostile-test-key"; // pragma: allowlist secret
const TENANT: &str = "org_hostile";
const COMPANY: &str = "COMHOSTILE";

/// An application over the database at `url`, its CallRail account linked to
/// [`TENANT`], limits out of the way.
async fn app(url: &str) -> Client {
    let mut config = support::config(&[
        ("DATABASE_URL", url),
        ("CALLRAIL_WEBHOOK_SECRET", SECRET),
        ("RATE_LIMIT_USER", "1000000/minute"),
        ("RATE_LIMIT_TENANT", "1000000/minute"),
        (
            "RATE_LIMIT_ROUTES",
            "POST /api/v1/messages=user:1000000/minute,tenant:1000000/minute",
        ),
    ]);
    config.webhooks.default_tenant = None;
    let (state, _connections) = support::connected_state(config).await;
    state
        .provider_accounts
        .link(
            &AccountRef::new(Provider::CallRail, COMPANY),
            &TenantId::parse(TENANT).expect("valid"),
        )
        .await
        .expect("links");
    TestClient::new(otto_server::http::app(&state))
}

fn lead() -> String {
    support::api_token("user_lead", TENANT, "org:admin")
}

async fn send(client: &Client, method: Method, path: &str, body: Option<String>) -> TestResponse {
    let mut request = client
        .request(method, path)
        .header("authorization", format!("Bearer {}", lead()));
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    request.send().await
}

/// A CallRail call-complete delivery of `body`, signed.
async fn deliver(client: &Client, body: &str) -> TestResponse {
    support::webhooks::post_callrail_with(client, "call-complete", SECRET, body).await
}

/// A call-complete body with these JSON-encoded values spliced in (so that escapes
/// such as `\u0000` and `\ud800` reach the server as written).
fn call_body(resource_id: &str, customer_name: &str, start_time: &str) -> String {
    format!(
        r#"{{"resource_id":{resource_id},"company_resource_id":"{COMPANY}","direction":"inbound","answered":true,"customer_name":{customer_name},"customer_phone_number":"+15551230042","start_time":{start_time}}}"#
    )
}

/// Fails unless `response` is a 4xx problem; returns its status.
async fn assert_client_problem(response: TestResponse, case: &str) -> u16 {
    let status = response.0.status().as_u16();
    let content_type = support::header(&response, "content-type");
    let body = response
        .0
        .into_body()
        .into_string()
        .await
        .unwrap_or_default();
    assert!(
        (400..500).contains(&status),
        "{case}: a client's mistake is a 4xx, got {status}: {body}"
    );
    assert_eq!(
        content_type, "application/problem+json",
        "{case}: {status} {body}"
    );
    status
}

/// The id and customer name of each of the tenant's calls, newest first.
async fn calls(client: &Client) -> Vec<(String, Option<String>)> {
    let response = send(client, Method::GET, "/api/v1/calls?limit=100", None).await;
    assert_eq!(response.0.status().as_u16(), 200);
    let page: Value = support::json(response).await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|call| {
            (
                call["id"].as_str().expect("id").to_owned(),
                call["customer_name"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

const YEAR_MINUS_9999: &str = "-9999-01-01T00:00:00Z";
const YEAR_10000: &str = "%2B10000-01-01T00:00:00Z";
/// Microseconds of 8000 BC, a cursor's time.
const CURSOR_8000_BC: &str = "-314583206400000000.0190a4b29e3d7c1a8f2b3c4d5e6f7a8b";

async fn every_route_refuses_nul_and_extreme_times(client: &Client) {
    let seeded = deliver(
        client,
        &call_body("\"CALSEED\"", "\"Jane Roe\"", "\"2026-11-20T10:00:00Z\""),
    )
    .await;
    assert_eq!(seeded.0.status().as_u16(), 200, "seed call");
    let (call_id, _) = calls(client).await.into_iter().next().expect("a call");

    let gets = [
        "/api/v1/calls?q=smith%00".to_owned(),
        "/api/v1/calls?q=%00".to_owned(),
        "/api/v1/calls?assigned_to=user%00".to_owned(),
        "/api/v1/calls?cursor=%00".to_owned(),
        format!("/api/v1/calls?cursor={CURSOR_8000_BC}"),
        format!("/api/v1/calls?from={YEAR_MINUS_9999}"),
        format!("/api/v1/calls?to={YEAR_10000}"),
        "/api/v1/calls/%00".to_owned(),
        format!("/api/v1/calls/{call_id}%00"),
        "/api/v1/messages?cursor=1700000000000000.%2B1555%00".to_owned(),
        format!("/api/v1/messages?cursor={CURSOR_8000_BC}"),
        "/api/v1/messages/%2B15551230042%00".to_owned(),
        format!("/api/v1/messages/%2B15551230042?cursor={CURSOR_8000_BC}"),
        format!("/api/v1/dashboard/summary?from={YEAR_MINUS_9999}&to=2026-01-01T00:00:00Z"),
        format!("/api/v1/dashboard/summary?from=2026-01-01T00:00:00Z&to={YEAR_10000}"),
        "/api/v1/webhooks/deliveries?event=call%00".to_owned(),
        format!("/api/v1/webhooks/deliveries?from={YEAR_MINUS_9999}"),
        format!("/api/v1/webhooks/deliveries?cursor={CURSOR_8000_BC}"),
        "/api/v1/callrail/calls?company=COM%00".to_owned(),
        "/api/v1/me?x=%00".to_owned(),
    ];
    for path in &gets {
        assert_client_problem(send(client, Method::GET, path, None).await, path).await;
    }

    let call_path = format!("/api/v1/calls/{call_id}");
    let writes = [
        (
            Method::PATCH,
            call_path.as_str(),
            r#"{"notes":"called back\u0000"}"#,
        ),
        (
            Method::PATCH,
            call_path.as_str(),
            r#"{"notes":"\ud800 lone"}"#,
        ),
        (
            Method::PATCH,
            call_path.as_str(),
            r#"{"appointment_at":"-9999-01-01T00:00:00Z"}"#,
        ),
        (
            Method::PATCH,
            call_path.as_str(),
            r#"{"appointment_at":"+10000-01-01T00:00:00Z"}"#,
        ),
        (
            Method::POST,
            "/api/v1/messages",
            r#"{"to":"+15551230042","body":"hi\u0000there"}"#,
        ),
        (
            Method::POST,
            "/api/v1/messages",
            r#"{"to":"+15551230042\u0000","body":"hi"}"#,
        ),
        (
            Method::POST,
            "/api/v1/messages",
            r#"{"to":"+15551230042","body":"\udc00"}"#,
        ),
        (
            Method::PUT,
            "/api/v1/company/settings",
            r#"{"missed_call_sms_enabled":true,"missed_call_sms_template":"Hi {customer_name}\u0000"}"#,
        ),
        (
            Method::PUT,
            "/api/v1/company/settings",
            r#"{"missed_call_sms_enabled":true,"quiet_hours":{"start":"21:00","end":"08:00","time_zone":"America/New_York\u0000"}}"#,
        ),
        (
            Method::POST,
            "/api/v1/callrail/sync",
            r#"{"company":"COM\u0000"}"#,
        ),
        (Method::POST, "/api/v1/calls?x=%00", r#"{}"#),
    ];
    for (method, path, body) in writes {
        let case = format!("{method} {path} {body}");
        assert_client_problem(
            send(client, method, path, Some(body.to_owned())).await,
            &case,
        )
        .await;
    }
    let (_, name) = calls(client)
        .await
        .into_iter()
        .find(|(id, _)| *id == call_id)
        .expect("still there");
    assert_eq!(name.as_deref(), Some("Jane Roe"), "nothing was written");
}

async fn signed_webhooks_with_nul_and_extreme_times_are_stored_safely(client: &Client) {
    let cases = [
        (
            call_body(
                "\"CALNUL\"",
                "\"Jane\\u0000 Roe\"",
                "\"2026-11-21T10:00:00Z\"",
            ),
            Some("Jane Roe"),
        ),
        (
            call_body("\"CAL\\u0000ID\"", "\"Id Nul\"", "\"2026-11-21T11:00:00Z\""),
            Some("Id Nul"),
        ),
        (
            call_body("\"CALOLD\"", "\"Old Time\"", "\"-9999-01-01T00:00:00Z\""),
            Some("Old Time"),
        ),
        (
            call_body(
                "\"CALFAR\"",
                "\"Far Time\"",
                "\"Fri, 31 Dec 262142 23:50:00 +0000\"",
            ),
            Some("Far Time"),
        ),
    ];
    for (body, stored_name) in cases {
        let response = deliver(client, &body).await;
        let status = response.0.status().as_u16();
        let text = response
            .0
            .into_body()
            .into_string()
            .await
            .unwrap_or_default();
        assert!(
            status == 200 || (400..500).contains(&status) && status != 429,
            "a signed delivery is stored or refused for good, never retried: {status} {text} ({body})"
        );
        if status == 200 {
            let names: Vec<Option<String>> = calls(client)
                .await
                .into_iter()
                .map(|(_, name)| name)
                .collect();
            assert!(
                names.iter().any(|name| name.as_deref() == stored_name),
                "{body}: stored without its NUL: {names:?}"
            );
        }
    }
    // Unsigned: the pre-signature lookup of the account it names must not fail.
    let forged = call_body("\"CALX\"", "\"X\"", "\"2026-11-21T10:00:00Z\"")
        .replace(COMPANY, "COM\\u0000EVIL");
    let response = client
        .post("/webhook/callrail/call-complete")
        .header("content-type", "application/json")
        .header(
            "Signature",
            callrail::sign("not-the-secret", forged.as_bytes()),
        )
        .body(forged)
        .send()
        .await;
    assert_client_problem(response, "a forged delivery naming a NUL account").await;
}

#[tokio::test]
async fn hostile_bytes_and_times_are_4xx_problems_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = app(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    every_route_refuses_nul_and_extreme_times(&client).await;
    signed_webhooks_with_nul_and_extreme_times_are_stored_safely(&client).await;
}

#[tokio::test]
async fn hostile_bytes_and_times_are_4xx_problems_on_postgres() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let client = app(&database.url).await;
    every_route_refuses_nul_and_extreme_times(&client).await;
    signed_webhooks_with_nul_and_extreme_times_are_stored_safely(&client).await;
    drop(client);
    database.drop_database().await;
}

/// Text as a JSON string literal, sometimes with a lone surrogate escape appended
/// (which no JSON encoder writes but any client can send).
fn json_text() -> BoxedStrategy<String> {
    (
        prop_oneof![
            hostile_text(),
            hostile_text().prop_map(|text| format!("{text}\0{text}")),
        ],
        prop_oneof![
            3 => Just(String::new()),
            1 => (0xd800u32..0xe000).prop_map(|unit| format!("\\u{unit:04x}")),
        ],
    )
        .prop_map(|(text, surrogate)| {
            let quoted = Value::String(text).to_string();
            format!("{}{surrogate}\"", &quoted[..quoted.len() - 1])
        })
        .boxed()
}

/// A time anywhere in chrono's range (most of it beyond any database's), RFC 3339.
fn any_time() -> BoxedStrategy<String> {
    use chrono::{DateTime, Utc};
    let (min, max) = (
        DateTime::<Utc>::MIN_UTC.timestamp(),
        DateTime::<Utc>::MAX_UTC.timestamp(),
    );
    prop_oneof![
        (min..=max).prop_map(|seconds| {
            DateTime::from_timestamp(seconds, 0)
                .expect("in range")
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        }),
        Just("2026-11-20T10:00:00Z".to_owned()),
    ]
    .boxed()
}

fn query(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// One case: the hostile text and times at every route that takes them.
async fn hostile_case(
    client: &Client,
    call_id: &str,
    text: &str,
    json_text: &str,
    time: &str,
    other_time: &str,
    cursor_micros: i64,
) -> Result<(), TestCaseError> {
    let requests: Vec<(Method, String, Option<String>)> = vec![
        (
            Method::GET,
            format!("/api/v1/calls?q={}&from={}", query(text), query(time)),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/calls?cursor={cursor_micros}.0190a4b29e3d7c1a8f2b3c4d5e6f7a8b"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/calls/{call_id}"),
            Some(format!(
                r#"{{"notes":{json_text},"appointment_at":"{time}"}}"#
            )),
        ),
        (
            Method::POST,
            "/api/v1/messages".to_owned(),
            Some(format!(r#"{{"to":"+15551230042","body":{json_text}}}"#)),
        ),
        (
            Method::GET,
            format!("/api/v1/messages?cursor={cursor_micros}.{}", query(text)),
            None,
        ),
        (
            Method::PUT,
            "/api/v1/company/settings".to_owned(),
            Some(format!(
                r#"{{"missed_call_sms_enabled":true,"missed_call_sms_template":{json_text}}}"#
            )),
        ),
        (
            Method::GET,
            format!(
                "/api/v1/dashboard/summary?from={}&to={}",
                query(time),
                query(other_time)
            ),
            None,
        ),
        (
            Method::GET,
            format!(
                "/api/v1/webhooks/deliveries?event={}&from={}&to={}",
                query(text),
                query(time),
                query(other_time)
            ),
            None,
        ),
    ];
    for (method, path, body) in requests {
        let response = send(client, method.clone(), &path, body.clone()).await;
        let status = response.0.status().as_u16();
        prop_assert!(
            status < 500,
            "{method} {path} {body:?} answered {status}: {}",
            response
                .0
                .into_body()
                .into_string()
                .await
                .unwrap_or_default()
        );
    }
    let delivery = call_body(
        &format!("\"CAL{cursor_micros}\""),
        json_text,
        &Value::String(time.to_owned()).to_string(),
    );
    let response = deliver(client, &delivery).await;
    let status = response.0.status().as_u16();
    prop_assert!(
        status == 200 || (400..500).contains(&status),
        "signed delivery {delivery} answered {status}: {}",
        response
            .0
            .into_body()
            .into_string()
            .await
            .unwrap_or_default()
    );
    Ok(())
}

/// Runs the property over `client`'s application (a multi-threaded runtime, so the
/// synchronous runner can block on each case).
async fn hostile_inputs_never_fail_the_server(client: &Client) {
    deliver(
        client,
        &call_body("\"CALSEED\"", "\"Seed\"", "\"2026-11-20T10:00:00Z\""),
    )
    .await;
    let (call_id, _) = calls(client).await.into_iter().next().expect("a call");
    let strategy = (
        hostile_text(),
        json_text(),
        any_time(),
        any_time(),
        any::<i64>(),
    );
    let handle = tokio::runtime::Handle::current();
    tokio::task::block_in_place(|| {
        TestRunner::new(cases(64))
            .run(
                &strategy,
                |(text, json_text, time, other_time, cursor_micros)| {
                    handle.block_on(hostile_case(
                        client,
                        &call_id,
                        &text,
                        &json_text,
                        &time,
                        &other_time,
                        cursor_micros,
                    ))
                },
            )
            .unwrap_or_else(|failure| panic!("{failure}"));
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_hostile_inputs_never_answer_5xx_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let client = app(&format!("sqlite://{}/otto.db", dir.path().display())).await;
    hostile_inputs_never_fail_the_server(&client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_hostile_inputs_never_answer_5xx_on_postgres() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let client = app(&database.url).await;
    hostile_inputs_never_fail_the_server(&client).await;
    drop(client);
    database.drop_database().await;
}
