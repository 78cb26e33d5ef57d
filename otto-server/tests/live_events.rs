//! Live events over SSE and WebSocket: what a frontend sees when deliveries and API
//! writes happen, who sees what, resuming, tickets, limits, slow readers and
//! shutdown. (Across processes on PostgreSQL: `live_events_postgres.rs`.)

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use otto_core::live::{NewTicket, TicketHolder, ticket_digest};
use otto_core::ports::CallRepository;
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use otto_server::live::hub::{CutReason, LiveHub};
use otto_server::live::stream::{LiveStream, StreamItem};
use otto_testkit::InMemoryStore;
use otto_testkit::contracts::{new_call, scope_of};
use serde_json::Value;
use support::sse::SseReader;
use support::webhooks::{post_pre_call, unsigned_state};
use support::*;
use tokio_tungstenite::tungstenite::Message;

use support::sse::WAIT;

/// A pre-call for call `id`, landing in the development tenant `dev`.
async fn deliver_call(client: &Client, id: &str) {
    post_pre_call(client, id).await.assert_status_is_ok();
}

fn leadership() -> String {
    api_token("user_lead", "dev", "admin")
}

async fn open_sse(client: &Client, query: &str, token: Option<&str>) -> SseReader {
    let mut request = client.get(format!("/api/v1/events{query}"));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    let response = request.send().await;
    response.assert_status_is_ok();
    response.assert_content_type("text/event-stream");
    response.assert_header("cache-control", "no-cache");
    SseReader::of(response)
}

#[tokio::test]
async fn a_delivered_call_is_announced_once_with_ids_only() {
    let store = InMemoryStore::default();
    let state = unsigned_state(&store);
    let client = client(&state);
    let mut stream = open_sse(&client, "", Some(&leadership())).await;

    deliver_call(&client, "LIVE-1").await;
    let first = stream.frame(WAIT).await.expect("a first frame");
    assert_eq!(first.retry, Some(3_000), "a reconnect hint comes first");
    let (id, event_type, data) = stream.next_message().await;
    assert_eq!((id.as_str(), event_type.as_str()), ("1", "call.created"));
    assert_eq!(data["type"], "call.created");
    assert_eq!(data["id"], 1);
    let call_id = data["call_id"].as_str().expect("a call id").to_owned();
    let detail = client
        .get(format!("/api/v1/calls/{call_id}"))
        .header("Authorization", format!("Bearer {}", leadership()))
        .send()
        .await;
    detail.assert_status_is_ok();

    // A duplicate delivery commits nothing, so it announces nothing.
    deliver_call(&client, "LIVE-1").await;
    stream.assert_quiet().await;
    deliver_call(&client, "LIVE-2").await;
    let (id, _, _) = stream.next_message().await;
    assert_eq!(id, "2", "numbers continue without a gap for the duplicate");
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"events_published_total{type="call.created"} 2"#),
        "{metrics}"
    );
}

/// Makes `user` a member of `tenant` as Clerk's membership event would.
async fn add_member(store: &InMemoryStore, tenant: &str, user: &str, role: &str) {
    use otto_core::ports::{Application, IdempotencyKey, Target, WebhookLedger};
    let key = IdempotencyKey {
        tenant: None,
        provider: otto_core::webhooks::Provider::Clerk,
        event: "organizationMembership.created".to_owned(),
        external_id: format!("{tenant}:{user}"),
    };
    let effects = [otto_core::webhooks::Effect::SaveMembership {
        tenant: TenantId::parse(tenant).expect("valid"),
        user: UserId::parse(user).expect("valid"),
        role: otto_core::tenancy::Role::parse(role).expect("valid"),
    }];
    store
        .apply(&Application {
            target: &Target::Platform,
            key: &key,
            body_digest: "d",
            effects: &effects,
            jobs: &[],
            at: chrono::Utc::now(),
            log: None,
        })
        .await
        .expect("applies");
}

#[tokio::test]
async fn a_rep_sees_their_calls_and_no_one_sees_another_tenants_events() {
    let store = InMemoryStore::default();
    let mut config = config(&[("OTTO_ROLE_MAP", "admin=leadership,sales_rep=rep")]);
    config.webhooks.default_tenant = Some(TenantId::parse("dev").expect("valid"));
    let state = state_with_store(config, vec![], vec![], store.clone());
    let client = client(&state);
    let rep = api_token("user_rep", "dev", "sales_rep");
    add_member(&store, "dev", "user_rep", "sales_rep").await;
    let mut boss = open_sse(&client, "", Some(&leadership())).await;
    let mut reps = open_sse(&client, "", Some(&rep)).await;
    let mut other = open_sse(&client, "", Some(&api_token("user_b", "org_b", "admin"))).await;

    deliver_call(&client, "LIVE-REP").await;
    let (_, created, data) = boss.next_message().await;
    assert_eq!(created, "call.created");
    reps.assert_quiet().await;
    let call_id = data["call_id"].as_str().expect("id").to_owned();

    let assigned = client
        .patch(format!("/api/v1/calls/{call_id}"))
        .header("Authorization", format!("Bearer {}", leadership()))
        .header("content-type", "application/json")
        .body(r#"{"assigned_rep": "user_rep"}"#)
        .send()
        .await;
    assigned.assert_status_is_ok();
    for stream in [&mut boss, &mut reps] {
        let (id, event_type, data) = stream.next_message().await;
        assert_eq!((id.as_str(), event_type.as_str()), ("2", "call.updated"));
        assert_eq!(data["changed"], serde_json::json!(["assigned_rep"]));
    }
    other.assert_quiet().await;

    // Tenant B's own event reaches B alone.
    store
        .record(&scope_of("org_b"), new_call("B-1", 1))
        .await
        .expect("records");
    let (id, _, _) = other.next_message().await;
    assert_eq!(id, "1");
    boss.assert_quiet().await;

    // B resuming with A's ids replays none of A's events: A's id 2 is B's id 2,
    // which does not exist yet, so B is told to resync.
    let mut resumed = open_sse(
        &client,
        "?since=2",
        Some(&api_token("user_b", "org_b", "admin")),
    )
    .await;
    let (id, event_type, data) = resumed.next_message().await;
    assert_eq!((id.as_str(), event_type.as_str()), ("1", "resync"));
    assert_eq!(data["reason"], "unknown_or_expired_id");
    resumed.assert_quiet().await;
}

#[tokio::test]
async fn a_resumed_stream_gets_exactly_the_missed_events_in_order() {
    let store = InMemoryStore::default();
    let state = unsigned_state(&store);
    let client = client(&state);
    let mut stream = open_sse(&client, "", Some(&leadership())).await;
    deliver_call(&client, "RESUME-0").await;
    let (last_seen, _, _) = stream.next_message().await;
    drop(stream);

    for n in 1..=5 {
        deliver_call(&client, &format!("RESUME-{n}")).await;
    }
    let response = client
        .get("/api/v1/events?since=0")
        .header("Authorization", format!("Bearer {}", leadership()))
        .header("Last-Event-ID", last_seen.as_str())
        .send()
        .await;
    response.assert_status_is_ok();
    let mut resumed = SseReader::of(response);
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(resumed.next_message().await.0);
    }
    assert_eq!(
        ids,
        ["2", "3", "4", "5", "6"],
        "Last-Event-ID wins over since"
    );
    resumed.assert_quiet().await;
    deliver_call(&client, "RESUME-LIVE").await;
    assert_eq!(resumed.next_message().await.0, "7", "then live");

    // Once the missed events are purged, resuming from before them is a resync.
    state
        .live
        .log()
        .purge_events(chrono::Utc::now() + chrono::Duration::seconds(1), 1_000)
        .await
        .expect("purges");
    let mut stale = open_sse(&client, "?since=3", Some(&leadership())).await;
    let (id, event_type, _) = stale.next_message().await;
    assert_eq!((id.as_str(), event_type.as_str()), ("7", "resync"));

    let bad = client
        .get("/api/v1/events?since=yesterday")
        .header("Authorization", format!("Bearer {}", leadership()))
        .send()
        .await;
    bad.assert_status(poem::http::StatusCode::BAD_REQUEST);
    assert_eq!(json(bad).await["errors"][0]["field"], "since");
}

#[tokio::test]
async fn tickets_open_one_stream_of_their_holder_and_never_reach_the_logs() {
    let (lines, _guard) = capture_logs();
    let store = InMemoryStore::default();
    let state = unsigned_state(&store);
    let client = client(&state);
    let issued = client
        .post("/api/v1/events/tickets")
        .header("Authorization", format!("Bearer {}", leadership()))
        .send()
        .await;
    issued.assert_status(poem::http::StatusCode::CREATED);
    let issued = json(issued).await;
    let ticket = issued["ticket"].as_str().expect("a ticket").to_owned();
    assert!(ticket.starts_with("dev."), "{ticket}");

    let mut stream = open_sse(&client, &format!("?ticket={ticket}"), None).await;
    deliver_call(&client, "TICKET-1").await;
    assert_eq!(stream.next_message().await.1, "call.created");

    let again = client
        .get(format!("/api/v1/events?ticket={ticket}"))
        .send()
        .await;
    again.assert_status(poem::http::StatusCode::UNAUTHORIZED);
    let problem = json(again).await;
    assert_eq!(problem["type"], "/problems/unauthorized");
    // The secret of dev's ticket, presented as another tenant's, is nothing.
    let (_, secret) = ticket.split_once('.').expect("tenant.secret");
    let moved = client
        .get(format!("/api/v1/events?ticket=org_b.{secret}"))
        .send()
        .await;
    moved.assert_status(poem::http::StatusCode::UNAUTHORIZED);

    // An expired ticket is refused (and gone).
    let stale = format!("dev.{}", "s".repeat(40));
    state
        .live
        .log()
        .issue_ticket(
            &TenantScope::for_event_stream(TenantId::parse("dev").expect("valid")),
            &NewTicket {
                digest: ticket_digest(&stale),
                holder: TicketHolder {
                    user_id: UserId::parse("user_lead").expect("valid"),
                    role: "admin".to_owned(),
                },
                expires_at: chrono::Utc::now() - chrono::Duration::seconds(1),
            },
        )
        .await
        .expect("issues");
    let expired = client
        .get(format!("/api/v1/events?ticket={stale}"))
        .send()
        .await;
    expired.assert_status(poem::http::StatusCode::UNAUTHORIZED);

    let logged: String = lines.lines().iter().map(Value::to_string).collect();
    assert!(
        logged.contains("/api/v1/events"),
        "the requests were logged"
    );
    assert!(
        !logged.contains(secret) && !logged.contains("sssssssss"),
        "{logged}"
    );
}

#[tokio::test]
async fn open_streams_are_limited_per_user_with_a_clear_problem() {
    let store = InMemoryStore::default();
    let mut config = config(&[("OTTO_EVENT_STREAMS_PER_USER", "1")]);
    config.webhooks.default_tenant = Some(TenantId::parse("dev").expect("valid"));
    let state = state_with_store(config, vec![], vec![], store);
    let client = client(&state);
    let first = open_sse(&client, "", Some(&leadership())).await;
    let refused = client
        .get("/api/v1/events")
        .header("Authorization", format!("Bearer {}", leadership()))
        .send()
        .await;
    refused.assert_status(poem::http::StatusCode::TOO_MANY_REQUESTS);
    refused.assert_header_exist("retry-after");
    let problem = json(refused).await;
    assert_eq!(problem["limit_type"], "user");
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|d| d.contains("OTTO_EVENT_STREAMS_PER_USER"))
    );
    // Another user of the tenant still gets one; closing the first frees its slot.
    let _other_user = open_sse(&client, "", Some(&api_token("user_csr", "dev", "member"))).await;
    drop(first);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let _again = open_sse(&client, "", Some(&leadership())).await;
}

fn viewer() -> otto_core::live::Viewer {
    otto_core::live::Viewer {
        user_id: UserId::parse("user_lead").expect("valid"),
        role: otto_core::roles::AppRole::Leadership,
    }
}

fn dev() -> TenantScope {
    TenantScope::for_event_stream(TenantId::parse("dev").expect("valid"))
}

#[tokio::test]
async fn a_reader_that_never_reads_is_cut_off_without_delaying_the_others() {
    let store = InMemoryStore::default();
    let state = state_with_store(
        {
            let mut config = config(&[("OTTO_EVENT_BUFFER", "16")]);
            config.webhooks.default_tenant = Some(TenantId::parse("dev").expect("valid"));
            config
        },
        vec![],
        vec![],
        store.clone(),
    );
    let stalled = LiveStream::open(state.live.clone(), dev(), viewer(), None)
        .await
        .expect("opens");
    let mut reader = LiveStream::open(state.live.clone(), dev(), viewer(), None)
        .await
        .expect("opens");
    let reading = tokio::spawn(async move {
        for expected in 1..=40u64 {
            match tokio::time::timeout(WAIT, reader.next_item())
                .await
                .expect("in time")
            {
                Some(StreamItem::Event(event)) => assert_eq!(event.sequence, expected),
                other => panic!("expected event {expected}, got {other:?}"),
            }
        }
    });
    for n in 0..40 {
        store
            .record(&dev(), new_call(&format!("SLOW-{n}"), 1))
            .await
            .expect("records");
        // A writer at a steady pace, which the reader keeps up with.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    reading
        .await
        .expect("the reading stream got every event in time");
    // The stalled reader's buffer held what it could, then it was told why it ends.
    let mut stalled = stalled;
    let mut kept = 0;
    loop {
        match tokio::time::timeout(WAIT, stalled.next_item())
            .await
            .expect("in time")
        {
            Some(StreamItem::Event(_)) => kept += 1,
            Some(StreamItem::Closing(reason)) => {
                assert_eq!(reason, CutReason::SlowConsumer);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kept, 16, "its buffer, no more");
    let metrics = metrics_text(&state).await;
    assert!(
        metrics.contains(r#"event_stream_dropped_total{reason="slow_consumer"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn shutdown_closes_every_stream_with_its_reason_and_loses_nothing() {
    let store = InMemoryStore::default();
    let state = unsigned_state(&store);
    let mut stream = LiveStream::open(state.live.clone(), dev(), viewer(), None)
        .await
        .expect("opens");
    store
        .record(&dev(), new_call("DOWN-1", 1))
        .await
        .expect("records");
    assert!(matches!(
        tokio::time::timeout(WAIT, stream.next_item())
            .await
            .expect("in time"),
        Some(StreamItem::Event(_))
    ));
    state.live.shut_down();
    assert!(matches!(
        tokio::time::timeout(WAIT, stream.next_item())
            .await
            .expect("in time"),
        Some(StreamItem::Closing(CutReason::Shutdown))
    ));
    assert!(stream.next_item().await.is_none());
    assert!(
        LiveStream::open(state.live.clone(), dev(), viewer(), None)
            .await
            .is_err(),
        "no new stream on a stopping process"
    );
    // Committed meanwhile; another process's stream, resumed from the last id, has it.
    store
        .record(&dev(), new_call("DOWN-2", 1))
        .await
        .expect("records");
    let other_process = LiveHub::new(
        Arc::new(store.clone()),
        state.config.live.clone(),
        state.metrics.clone(),
    );
    let mut resumed = LiveStream::open(other_process, dev(), viewer(), Some(1))
        .await
        .expect("opens");
    match tokio::time::timeout(WAIT, resumed.next_item())
        .await
        .expect("in time")
    {
        Some(StreamItem::Event(event)) => assert_eq!(event.sequence, 2),
        other => panic!("expected event 2, got {other:?}"),
    }
}

async fn next_text(
    socket: &mut (impl Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> Message {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message within 5 s")
            .expect("open")
            .expect("valid");
        if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
            return message;
        }
    }
}

#[tokio::test]
async fn the_websocket_carries_the_same_messages_and_closes_with_a_reason() {
    let store = InMemoryStore::default();
    let state = unsigned_state(&store);
    let address = serve_on_loopback(otto_server::http::app(&state)).await;
    let client = client(&state);
    let ticket = json(
        client
            .post("/api/v1/events/tickets")
            .header("Authorization", format!("Bearer {}", leadership()))
            .send()
            .await,
    )
    .await["ticket"]
        .as_str()
        .expect("ticket")
        .to_owned();
    let (mut socket, _) = tokio_tungstenite::connect_async(format!(
        "ws://{address}/api/v1/events/ws?ticket={ticket}"
    ))
    .await
    .expect("upgrades");
    deliver_call(&client, "WS-1").await;
    let Message::Text(text) = next_text(&mut socket).await else {
        panic!("a text message")
    };
    let message: Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(message["type"], "call.created");
    assert_eq!(message["id"], 1);

    // A used ticket, or none, is an HTTP problem before any upgrade.
    let refused = tokio_tungstenite::connect_async(format!(
        "ws://{address}/api/v1/events/ws?ticket={ticket}"
    ))
    .await
    .expect_err("refused");
    match refused {
        tokio_tungstenite::tungstenite::Error::Http(response) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("an HTTP refusal, got {other}"),
    }

    state.live.shut_down();
    match next_text(&mut socket).await {
        Message::Close(Some(frame)) => {
            assert_eq!(u16::from(frame.code), 1001);
            assert_eq!(frame.reason.as_str(), "shutdown");
        }
        other => panic!("a close frame, got {other:?}"),
    }
    let _ = socket.close(None).await;
}
