//! Live events across processes on PostgreSQL: two application instances (two
//! pools and two hubs, as two `otto-server` processes have) on one database; a
//! delivery to one reaches a stream on the other through `LISTEN/NOTIFY` alone.

mod support;

use std::time::Duration;

use otto_adapters::test_support::TestDatabase;
use otto_server::state::AppState;
use poem::test::TestClient;
use support::sse::SseReader;

async fn instance(database_url: &str) -> (AppState, support::Client) {
    // Polling so slow that only a notification can deliver within the test.
    let mut config = support::config(&[
        ("DATABASE_URL", database_url),
        ("OTTO_EVENT_POLL_SECONDS", "300"),
    ]);
    config.webhooks.default_tenant =
        Some(otto_core::tenancy::TenantId::parse("dev").expect("valid"));
    let (state, _connections) = support::connected_state(config).await;
    tokio::spawn(otto_adapters::live_listener::listen(
        database_url.to_owned(),
        state.live.clone(),
    ));
    let client = TestClient::new(otto_server::http::app(&state));
    (state, client)
}

async fn deliver(client: &support::Client, id: &str) -> String {
    let response = support::webhooks::post_pre_call(client, id).await;
    response.assert_status_is_ok();
    support::json(response).await["status"]
        .as_str()
        .expect("a status")
        .to_owned()
}

#[tokio::test]
async fn a_delivery_to_one_process_reaches_a_stream_on_another_once() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let (_a, process_a) = instance(&database.url).await;
    let (_b, process_b) = instance(&database.url).await;
    let token = support::api_token("user_lead", "dev", "admin");
    let response = process_b
        .get("/api/v1/events")
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await;
    response.assert_status_is_ok();
    let mut stream = SseReader::of(response);
    // Let B's listener and feed settle before the delivery.
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(deliver(&process_a, "CROSS-1").await, "processed");
    let (id, event_type, data) = stream.next_message().await;
    assert_eq!((id.as_str(), event_type.as_str()), ("1", "call.created"));
    assert!(data["call_id"].is_string());

    assert_eq!(deliver(&process_a, "CROSS-1").await, "duplicate_ignored");
    stream.assert_quiet().await;
    assert_eq!(deliver(&process_b, "CROSS-2").await, "processed");
    assert_eq!(stream.next_message().await.0, "2");
    database.drop_database().await;
}
