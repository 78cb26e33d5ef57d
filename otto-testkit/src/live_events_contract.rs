//! The contract of the live-event log: every store appends the same events for the
//! same changes, numbers them per tenant without gaps, keeps tenants apart, and
//! redeems a ticket once.

use chrono::{DateTime, Duration, Utc};
use otto_core::calls::{CallFilter, Direction, OutcomeChange};
use otto_core::jobs::{Finish, JobKind, NewJob};
use otto_core::live::{Audience, EventType, LiveEvent, NewTicket, TicketHolder, ticket_digest};
use otto_core::ports::{
    Application, CallRepository, IdempotencyKey, JobQueue, LiveEventLog, Target, WebhookLedger,
};
use otto_core::tenancy::{TenantId, UserId};
use otto_core::webhooks::{CallChange, CallFacts, Effect, MessageFacts, Provider};
use serde_json::json;

use crate::contracts::scope_of;

/// The ports the contract drives: the changes that make events, and the log.
#[derive(Clone, Copy)]
pub struct LiveEventStores<'a> {
    /// The log under test.
    pub events: &'a dyn LiveEventLog,
    /// Webhook deliveries (calls, messages).
    pub ledger: &'a dyn WebhookLedger,
    /// API writes to calls.
    pub calls: &'a dyn CallRepository,
    /// Jobs (follow-ups).
    pub jobs: &'a dyn JobQueue,
}

impl std::fmt::Debug for LiveEventStores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveEventStores")
    }
}

fn at() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-12-06T09:00:00.250000Z")
        .expect("valid")
        .to_utc()
}

async fn deliver(stores: LiveEventStores<'_>, tenant: &str, external_id: &str, effects: &[Effect]) {
    let key = IdempotencyKey {
        tenant: Some(TenantId::parse(tenant).expect("valid")),
        provider: Provider::CallRail,
        event: "call-complete".to_owned(),
        external_id: external_id.to_owned(),
    };
    stores
        .ledger
        .apply(&Application {
            target: &Target::Tenant(scope_of(tenant)),
            key: &key,
            body_digest: "digest",
            effects,
            jobs: &[],
            at: at(),
            log: None,
        })
        .await
        .expect("applies");
}

fn call(external_id: &str, change: CallChange, answered: Option<bool>) -> Effect {
    let mut facts = CallFacts::about(external_id);
    facts.answered = answered;
    Effect::RecordCall { change, facts }
}

async fn all_events(stores: LiveEventStores<'_>, tenant: &str) -> Vec<LiveEvent> {
    stores
        .events
        .events_after(&scope_of(tenant), 0, 1_000)
        .await
        .expect("reads")
}

fn types(events: &[LiveEvent]) -> Vec<EventType> {
    events.iter().map(|event| event.event_type).collect()
}

/// Runs every promise of the live-event log; `tenant_a` and `tenant_b` must be fresh.
pub async fn live_event_log_contract(stores: LiveEventStores<'_>, tenant_a: &str, tenant_b: &str) {
    let scope_a = scope_of(tenant_a);
    assert_eq!(
        stores.events.last_sequence(&scope_a).await.expect("reads"),
        0
    );
    assert!(all_events(stores, tenant_a).await.is_empty());

    // A new call, its duplicate, then news about it.
    let open = [call("LIVE1", CallChange::Open, None)];
    let before = Utc::now() - Duration::seconds(1);
    deliver(stores, tenant_a, "LIVE1", &open).await;
    deliver(stores, tenant_a, "LIVE1", &open).await;
    let events = all_events(stores, tenant_a).await;
    assert_eq!(
        types(&events),
        [EventType::CallCreated],
        "a duplicate makes no event"
    );
    assert_eq!(events[0].sequence, 1);
    // Stamped when the change commits, not with the delivery's own time.
    assert!(
        events[0].occurred_at >= before && events[0].occurred_at <= Utc::now(),
        "{}",
        events[0].occurred_at
    );
    let listed = stores
        .calls
        .list(&scope_a, &CallFilter::default(), None, 10)
        .await
        .expect("lists");
    let call_id = listed.items[0].id;
    assert_eq!(events[0].payload["call_id"], json!(call_id));
    assert_eq!(events[0].audience, Audience::Call { assigned_rep: None });

    deliver(
        stores,
        tenant_a,
        "LIVE1-done",
        &[call("LIVE1", CallChange::Update, Some(true))],
    )
    .await;
    // A call first heard of in an update is announced as created, once.
    deliver(
        stores,
        tenant_a,
        "LIVE2",
        &[call("LIVE2", CallChange::Update, Some(false))],
    )
    .await;
    let events = all_events(stores, tenant_a).await;
    assert_eq!(
        types(&events[1..]),
        [EventType::CallUpdated, EventType::CallCreated]
    );
    assert_eq!(events[1].payload["changed"], json!(["status"]));

    // An inbound text: its last four digits, never the number or the body.
    let message = Effect::StoreMessage(MessageFacts {
        external_id: "SMLIVE1".to_owned(),
        direction: Direction::Inbound,
        customer_number: "+15557654321".to_owned(),
        body: "call me back".to_owned(),
        sent_at: at(),
    });
    deliver(stores, tenant_a, "SMLIVE1", &[message]).await;
    let received = all_events(stores, tenant_a).await.pop().expect("an event");
    assert_eq!(received.event_type, EventType::MessageReceived);
    assert_eq!(received.audience, Audience::Everyone);
    let text = serde_json::Value::Object(received.payload.clone()).to_string();
    assert!(text.contains("\"4321\"") && !text.contains("555765") && !text.contains("call me"));

    // An API write: the assignment travels with the event, for visibility.
    let rep = UserId::parse("user_live_rep").expect("valid");
    stores
        .calls
        .update_outcome(
            &scope_a,
            call_id,
            &OutcomeChange {
                assigned_rep: Some(Some(rep.clone())),
                ..OutcomeChange::default()
            },
        )
        .await
        .expect("updates");
    let assigned = all_events(stores, tenant_a).await.pop().expect("an event");
    assert_eq!(assigned.event_type, EventType::CallUpdated);
    assert_eq!(assigned.payload["changed"], json!(["assigned_rep"]));
    assert_eq!(
        assigned.audience,
        Audience::Call {
            assigned_rep: Some(rep)
        }
    );

    follow_ups_announce_their_schedule_and_their_failure(stores, tenant_a).await;

    // Numbers are per tenant, gapless and in order; paging reads on from a number.
    let events = all_events(stores, tenant_a).await;
    let numbers: Vec<u64> = events.iter().map(|event| event.sequence).collect();
    assert_eq!(numbers, (1..=events.len() as u64).collect::<Vec<_>>());
    let last = stores.events.last_sequence(&scope_a).await.expect("reads");
    assert_eq!(last, events.len() as u64);
    let page = stores
        .events
        .events_after(&scope_a, 2, 2)
        .await
        .expect("reads");
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), [3, 4]);
    assert!(
        all_events(stores, tenant_b).await.is_empty(),
        "tenants are apart"
    );
    deliver(stores, tenant_b, "LIVE1", &open).await;
    assert_eq!(all_events(stores, tenant_b).await[0].sequence, 1);

    tickets_open_one_stream(stores, tenant_a, tenant_b).await;
    concurrent_writers_leave_no_gap_a_reader_can_see(stores, tenant_b).await;

    // The purge drops old events; numbering goes on where it was.
    let purged = stores
        .events
        .purge_events(Utc::now() + Duration::seconds(1), 1_000)
        .await
        .expect("purges");
    assert!(purged >= events.len() as u64);
    assert!(all_events(stores, tenant_a).await.is_empty());
    assert_eq!(
        stores.events.last_sequence(&scope_a).await.expect("reads"),
        last
    );

    // An event purged before any stream read it still takes its number: a stream
    // resuming from before it finds the tenant moved on with nothing left to replay
    // (and is told to resync), never a silent skip.
    let unread = [call("LIVE-UNREAD", CallChange::Open, None)];
    deliver(stores, tenant_a, "LIVE-UNREAD", &unread).await;
    stores
        .events
        .purge_events(Utc::now() + Duration::seconds(1), 1_000)
        .await
        .expect("purges");
    assert_eq!(
        stores.events.last_sequence(&scope_a).await.expect("reads"),
        last + 1
    );
    assert!(all_events(stores, tenant_a).await.is_empty());
}

/// Writers of one tenant committing side by side: a reader reading all the while
/// never meets a gap (seeing N, it has every number below N), and in the end every
/// event is there once, numbered on from where the tenant was.
async fn concurrent_writers_leave_no_gap_a_reader_can_see(
    stores: LiveEventStores<'_>,
    tenant: &str,
) {
    const WRITERS: usize = 4;
    const EACH: usize = 10;
    let scope = scope_of(tenant);
    let start = stores.events.last_sequence(&scope).await.expect("reads");
    let writer = |number: usize| async move {
        for delivery in 0..EACH {
            let id = format!("RACE{number}-{delivery}");
            deliver(stores, tenant, &id, &[call(&id, CallChange::Open, None)]).await;
        }
    };
    let reader = async {
        let (mut position, mut seen) = (start, Vec::new());
        while seen.len() < WRITERS * EACH {
            let events = stores
                .events
                .events_after(&scope, position, 7)
                .await
                .expect("reads");
            for event in events {
                assert_eq!(event.sequence, position + 1, "a reader met a gap");
                position = event.sequence;
                seen.push(event.payload["call_id"].clone());
            }
            tokio::task::yield_now().await;
        }
        seen
    };
    let everything = async {
        let ((), (), (), (), seen) =
            tokio::join!(writer(0), writer(1), writer(2), writer(3), reader);
        seen
    };
    let seen = tokio::time::timeout(std::time::Duration::from_secs(60), everything)
        .await
        .expect("every committed event is read in time");
    let mut distinct = seen.clone();
    distinct.sort_by_key(ToString::to_string);
    distinct.dedup();
    assert_eq!(distinct.len(), WRITERS * EACH, "each event once");
    assert_eq!(
        stores.events.last_sequence(&scope).await.expect("reads"),
        start + (WRITERS * EACH) as u64
    );
}

async fn follow_ups_announce_their_schedule_and_their_failure(
    stores: LiveEventStores<'_>,
    tenant: &str,
) {
    let job = NewJob {
        kind: JobKind::MissedCallRecovery,
        tenant_id: Some(TenantId::parse(tenant).expect("valid")),
        unique_key: format!("missed_call_recovery:{tenant}:live"),
        payload: json!({}),
        run_at: at(),
        trace_context: None,
    };
    stores.jobs.enqueue(job, at()).await.expect("enqueues");
    let scheduled = all_events(stores, tenant).await.pop().expect("an event");
    assert_eq!(scheduled.event_type, EventType::FollowUpScheduled);
    assert_eq!(scheduled.audience, Audience::Staff);
    let leased = stores
        .jobs
        .lease(
            &[JobKind::MissedCallRecovery],
            at(),
            std::time::Duration::from_secs(60),
            1,
        )
        .await
        .expect("leases")
        .pop()
        .expect("the job is due");
    let retry = Finish::RetryAt {
        at: at(),
        error: "busy".to_owned(),
    };
    stores
        .jobs
        .finish(&leased, retry, at())
        .await
        .expect("finishes");
    let before = stores
        .events
        .last_sequence(&scope_of(tenant))
        .await
        .expect("reads");
    assert_eq!(before, scheduled.sequence, "a retry is not news");
    let leased = stores
        .jobs
        .lease(
            &[JobKind::MissedCallRecovery],
            at() + Duration::seconds(1),
            std::time::Duration::from_secs(60),
            1,
        )
        .await
        .expect("leases")
        .pop()
        .expect("the job is due again");
    let dead = Finish::Dead {
        error: "refused".to_owned(),
    };
    stores
        .jobs
        .finish(&leased, dead, at())
        .await
        .expect("finishes");
    let failed = all_events(stores, tenant).await.pop().expect("an event");
    assert_eq!(failed.event_type, EventType::FollowUpFailed);
    assert_eq!(failed.payload["job_id"], json!(leased.id));
}

async fn tickets_open_one_stream(stores: LiveEventStores<'_>, tenant: &str, other: &str) {
    let holder = TicketHolder {
        user_id: UserId::parse("user_live").expect("valid"),
        role: "org:admin".to_owned(),
    };
    let issue = |digest: &str, expires_at| NewTicket {
        digest: digest.to_owned(),
        holder: holder.clone(),
        expires_at,
    };
    let scope = scope_of(tenant);
    let good = ticket_digest("good");
    stores
        .events
        .issue_ticket(&scope, &issue(&good, at() + Duration::seconds(30)))
        .await
        .expect("issues");
    assert_eq!(
        stores
            .events
            .redeem_ticket(&scope_of(other), &good, at())
            .await
            .expect("reads"),
        None,
        "another tenant cannot redeem it"
    );
    assert_eq!(
        stores
            .events
            .redeem_ticket(&scope, &good, at())
            .await
            .expect("redeems"),
        Some(holder.clone())
    );
    assert_eq!(
        stores
            .events
            .redeem_ticket(&scope, &good, at())
            .await
            .expect("reads"),
        None,
        "a ticket opens one stream"
    );
    let stale = ticket_digest("stale");
    stores
        .events
        .issue_ticket(&scope, &issue(&stale, at()))
        .await
        .expect("issues");
    assert_eq!(
        stores
            .events
            .redeem_ticket(&scope, &stale, at())
            .await
            .expect("reads"),
        None,
        "an expired ticket is refused"
    );
}
