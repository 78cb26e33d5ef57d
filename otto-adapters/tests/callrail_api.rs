//! The CallRail adapter against a local stub of API v3: the `Token token=` header,
//! page parameters and company filter, lenient fields (numeric ids and string
//! durations), a missing call, rate limits; and the call-tracking contract.

use std::time::Duration;

use otto_adapters::providers::callrail::CallRailClient;
use otto_adapters::providers::http::ProviderHttp;
use otto_core::calls::Direction;
use otto_core::ports::{CallTracking, ProviderError};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "callrail-stub-key"; // pragma: allowlist secret
const CALLS: &str = "/v3/a/ACC123/calls.json";

fn client(server: &MockServer) -> CallRailClient {
    let http = ProviderHttp::new("callrail", Duration::from_secs(5), 2)
        .expect("client")
        .with_backoff(Duration::from_millis(10));
    CallRailClient::new(http, &server.uri(), "ACC123", KEY).expect("client")
}

fn call(id: u64, minute: u32) -> serde_json::Value {
    json!({
        "id": id,
        "answered": id.is_multiple_of(2),
        "direction": "inbound",
        "customer_name": "Kaylah Mills",
        "customer_phone_number": "+12148654559",
        "duration": "13",
        "start_time": format!("2026-11-26T10:{minute:02}:00.236-05:00"),
    })
}

#[tokio::test]
async fn a_page_of_calls_is_read_with_the_token_and_filters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .and(header(
            "authorization",
            format!("Token token=\"{KEY}\"").as_str(),
        ))
        .and(query_param("page", "2"))
        .and(query_param("per_page", "50"))
        .and(query_param("company_id", "COM9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "page": 2, "per_page": 50, "total_pages": 3, "total_records": 120,
            "calls": [call(766970532, 41)],
        })))
        .expect(1)
        .mount(&server)
        .await;
    let page = client(&server)
        .list_calls(Some("COM9"), 2, 50)
        .await
        .expect("listed");
    assert_eq!(page.next_page, Some(3));
    let listed = &page.calls[0];
    assert_eq!(listed.id, "766970532");
    assert_eq!(listed.duration_seconds, 13);
    assert_eq!(listed.direction, Direction::Inbound);
    assert_eq!(listed.customer_number.as_deref(), Some("+12148654559"));
    assert_eq!(
        listed.started_at.to_rfc3339(),
        "2026-11-26T15:41:00.236+00:00"
    );
}

#[tokio::test]
async fn a_missing_call_is_none_and_a_bad_key_is_a_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/a/ACC123/calls/CAL404.json"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "Not found"})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(CALLS))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": "HTTP Token: Access denied."})),
        )
        .mount(&server)
        .await;
    let callrail = client(&server);
    assert_eq!(callrail.get_call("CAL404").await.expect("answered"), None);
    let error = callrail.list_calls(None, 1, 10).await.expect_err("refused");
    assert!(
        matches!(&error, ProviderError::Permanent { message, .. } if message.contains("Access denied")),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(KEY));
}

#[tokio::test]
async fn the_hourly_rate_limit_is_waited_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "page": 1, "per_page": 10, "total_pages": 1, "total_records": 0, "calls": []
        })))
        .mount(&server)
        .await;
    let page = client(&server)
        .list_calls(None, 1, 10)
        .await
        .expect("listed");
    assert_eq!(page.next_page, None);
}

/// Five calls, paged by the request's `page` and `per_page`, and fetchable by id.
struct AccountStub;

impl wiremock::Respond for AccountStub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let calls: Vec<serde_json::Value> = (0..5).map(|n| call(100 + n, 50 - n as u32)).collect();
        let url_path = request.url.path();
        if let Some(id) = url_path
            .strip_prefix("/v3/a/ACC123/calls/")
            .and_then(|rest| rest.strip_suffix(".json"))
        {
            return match calls
                .iter()
                .find(|call| call["id"].as_u64().map(|n| n.to_string()).as_deref() == Some(id))
            {
                Some(call) => ResponseTemplate::new(200).set_body_json(call),
                None => ResponseTemplate::new(404),
            };
        }
        let number = |name: &str| {
            request
                .url
                .query_pairs()
                .find(|(key, _)| key == name)
                .and_then(|(_, value)| value.parse::<usize>().ok())
                .unwrap_or(1)
        };
        let (page, per_page) = (number("page"), number("per_page"));
        let slice: Vec<&serde_json::Value> = calls
            .iter()
            .skip((page - 1) * per_page)
            .take(per_page)
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({
            "page": page, "per_page": per_page,
            "total_pages": calls.len().div_ceil(per_page), "total_records": calls.len(),
            "calls": slice,
        }))
    }
}

#[tokio::test]
async fn the_callrail_adapter_honours_the_call_tracking_contract() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(AccountStub)
        .mount(&server)
        .await;
    otto_testkit::contracts::call_tracking_contract(&client(&server), 5).await;
}
