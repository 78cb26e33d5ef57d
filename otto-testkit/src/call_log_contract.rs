//! The contract of the product API's reads and outcome writes: call filters and
//! outcomes ([`CallRepository`]), recordings ([`InsightStore::recording_of`]),
//! conversations ([`MessageLog`]) and the dashboard's counts ([`DashboardQueries`]).

use chrono::{DateTime, Duration, DurationRound, Utc};
use otto_core::calls::{CallFilter, CallSearch, Direction, NewCall, OutcomeChange, Page};
use otto_core::dashboard::DashboardSummary;
use otto_core::ports::{
    CallRepository, DashboardQueries, FollowUpStore, IdempotencyKey, InsightStore, MessageLog,
    OutboundAction, OutboundKind, Target, WebhookLedger,
};
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use otto_core::webhooks::{CallChange, CallFacts, Effect, MessageFacts, Provider, RecordingFacts};
use uuid::Uuid;

use crate::contracts::scope_of;

/// The stores the contract reads and writes through (one store, several ports).
pub struct CallLogStores<'a> {
    /// Calls, filtered and updated.
    pub calls: &'a dyn CallRepository,
    /// Recordings.
    pub insights: &'a dyn InsightStore,
    /// Conversations.
    pub messages: &'a dyn MessageLog,
    /// Counts.
    pub dashboard: &'a dyn DashboardQueries,
    /// Where recordings and inbound messages arrive.
    pub ledger: &'a dyn WebhookLedger,
    /// Where outbound messages are recorded.
    pub follow_ups: &'a dyn FollowUpStore,
}

impl std::fmt::Debug for CallLogStores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLogStores").finish_non_exhaustive()
    }
}

fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T12:00:00.250000Z")
        .expect("valid")
        .to_utc()
}

fn call(
    id: &str,
    hours_ago: i64,
    direction: Direction,
    answered: bool,
    name: &str,
    number: &str,
) -> NewCall {
    NewCall {
        provider: "callrail".into(),
        external_id: id.into(),
        direction,
        customer_name: Some(name.into()),
        customer_number: Some(number.into()),
        answered,
        duration_seconds: 10,
        started_at: noon() - Duration::hours(hours_ago),
    }
}

async fn apply(
    stores: &CallLogStores<'_>,
    scope: &TenantScope,
    provider: Provider,
    id: &str,
    effect: Effect,
) {
    stores
        .ledger
        .apply(&otto_core::ports::Application {
            target: &Target::Tenant(scope.clone()),
            key: &IdempotencyKey {
                tenant: Some(scope.tenant_id().clone()),
                provider,
                event: "contract".into(),
                external_id: id.into(),
            },
            body_digest: "digest",
            effects: &[effect],
            jobs: &[],
            at: noon(),
            log: None,
        })
        .await
        .expect("effect applied");
}

async fn ids(calls: &dyn CallRepository, scope: &TenantScope, filter: CallFilter) -> Vec<String> {
    calls
        .list(scope, &filter, None, 100)
        .await
        .expect("lists")
        .items
        .into_iter()
        .map(|call| call.external_id)
        .collect()
}

/// Filters combine and narrow by time, direction, answer, recording, customer and
/// rep; outcomes are written, cleared and read back per tenant; the latest recording
/// is found; conversations group messages by customer newest first and page without
/// gaps; the dashboard counts the range, and late writes to its recent hours, to the
/// last hour that ended, to the settled day it starts inside and to its settled
/// months at once.
/// `tenant_a` and `tenant_b` must be fresh.
pub async fn call_log_contract(stores: CallLogStores<'_>, tenant_a: &str, tenant_b: &str) {
    let (a, b) = (scope_of(tenant_a), scope_of(tenant_b));
    let rep = UserId::parse("user_rep1").expect("valid");
    filters_narrow_the_list(&stores, &a, &b).await;
    outcomes_are_written_per_tenant(&stores, &a, &b, &rep).await;
    conversations_group_messages(&stores, &a, &b).await;
    the_dashboard_counts_the_range(&stores, &a, &b).await;
    // The last two days: hours that ended hours ago.
    the_dashboard_counts_late_writes(
        &stores,
        &scope_of(&format!("{tenant_a}_recent")),
        LateWrites {
            name: "recent",
            range: (-Duration::days(2), Duration::hours(1)),
            first: Duration::hours(5),
            other: Duration::hours(30),
            late: Duration::hours(5),
            text: Duration::hours(4),
            number: "+15557780001",
        },
    )
    .await;
    // The last hour that ended, which a store keeps from a quarter of an hour after its
    // end: calls that began in it and are reported after it (its :20 and :40). Run in
    // the first quarter of an hour, the hour is not kept yet and its calls are counted
    // as they are; the SQL store's own test sets its plan's clock to keep it always.
    let now = Utc::now();
    let into_the_hour = now - now.duration_trunc(Duration::hours(1)).expect("an hour");
    the_dashboard_counts_late_writes(
        &stores,
        &scope_of(&format!("{tenant_a}_last_hour")),
        LateWrites {
            name: "last_hour",
            range: (-Duration::days(2), Duration::hours(1)),
            first: into_the_hour + Duration::minutes(40),
            other: Duration::hours(30),
            late: into_the_hour + Duration::minutes(20),
            text: into_the_hour + Duration::minutes(30),
            number: "+15557800001",
        },
    )
    .await;
    // From half past midnight 30 days ago: the hours of that settled day after the
    // range's start, which a store keeps from the first summary (the calls and the text
    // are in its 05:00, 06:00, 07:00 and 10:00 hours).
    let into_the_day = now - now.duration_trunc(Duration::days(1)).expect("a day");
    let first_day = Duration::days(30) + into_the_day;
    the_dashboard_counts_late_writes(
        &stores,
        &scope_of(&format!("{tenant_a}_first_day")),
        LateWrites {
            name: "first_day",
            range: (Duration::minutes(30) - first_day, Duration::hours(1)),
            first: first_day - Duration::hours(5),
            other: first_day - Duration::hours(10),
            late: first_day - Duration::hours(7),
            text: first_day - Duration::hours(6),
            number: "+15557810001",
        },
    )
    .await;
    // The last 100 days, which hold at least two whole months: two months ago.
    the_dashboard_counts_late_writes(
        &stores,
        &scope_of(&format!("{tenant_a}_months")),
        LateWrites {
            name: "months",
            range: (-Duration::days(100), Duration::hours(1)),
            first: Duration::days(60),
            other: Duration::days(75),
            late: Duration::days(61),
            text: Duration::days(60),
            number: "+15557790001",
        },
    )
    .await;
    searches_page_newest_first(&stores, &scope_of(&format!("{tenant_a}_search"))).await;
}

async fn filters_narrow_the_list(stores: &CallLogStores<'_>, a: &TenantScope, b: &TenantScope) {
    let calls = stores.calls;
    for new in [
        call(
            "F1",
            1,
            Direction::Inbound,
            false,
            "Ana Lima",
            "+15551110001",
        ),
        call("F2", 2, Direction::Inbound, true, "Bo Chen", "+15552220002"),
        call(
            "F3",
            30,
            Direction::Outbound,
            true,
            "ANA 100%_off",
            "+15553330003",
        ),
    ] {
        calls.record(a, new).await.expect("recorded");
    }
    calls
        .record(
            b,
            call(
                "F1",
                1,
                Direction::Inbound,
                false,
                "Ana Lima",
                "+15551110001",
            ),
        )
        .await
        .expect("recorded for B");
    apply(
        stores,
        a,
        Provider::CallRail,
        "REC-F2",
        Effect::StoreRecording(RecordingFacts {
            call_external_id: "F2".into(),
            external_id: "RECF2".into(),
            url: "https://recordings.example/f2.mp3".into(),
            duration_seconds: Some(10),
        }),
    )
    .await;
    let all = CallFilter::default();
    assert_eq!(ids(calls, a, all.clone()).await, ["F1", "F2", "F3"]);
    let missed = CallFilter {
        answered: Some(false),
        ..all.clone()
    };
    assert_eq!(ids(calls, a, missed).await, ["F1"]);
    let outbound = CallFilter {
        direction: Some(Direction::Outbound),
        ..all.clone()
    };
    assert_eq!(ids(calls, a, outbound).await, ["F3"]);
    let recorded = CallFilter {
        has_recording: Some(true),
        ..all.clone()
    };
    assert_eq!(ids(calls, a, recorded).await, ["F2"]);
    let unrecorded = CallFilter {
        has_recording: Some(false),
        ..all.clone()
    };
    assert_eq!(ids(calls, a, unrecorded).await, ["F1", "F3"]);
    let last_day = CallFilter {
        started_from: Some(noon() - Duration::hours(2)),
        started_before: Some(noon() - Duration::hours(1)),
        ..all.clone()
    };
    assert_eq!(
        ids(calls, a, last_day).await,
        ["F2"],
        "from inclusive (F2 starts on it), before exclusive (F1 starts on it)"
    );
    let by_name = CallFilter {
        search: CallSearch::parse("ana"),
        ..all.clone()
    };
    assert_eq!(
        ids(calls, a, by_name).await,
        ["F1", "F3"],
        "names match case-insensitively"
    );
    for number in ["0002", "222-0002", "(555) 222-0002", "+1 555 222 0002"] {
        let by_number = CallFilter {
            search: CallSearch::parse(number),
            ..all.clone()
        };
        assert_eq!(
            ids(calls, a, by_number).await,
            ["F2"],
            "{number}: digits match the end of the number, in any format"
        );
    }
    let inside = CallFilter {
        search: CallSearch::parse("555 222"),
        ..all.clone()
    };
    assert!(
        ids(calls, a, inside).await.is_empty(),
        "digits inside the number are not its end"
    );
    let by_words = CallFilter {
        search: CallSearch::parse("lim an"),
        ..all.clone()
    };
    assert_eq!(
        ids(calls, a, by_words).await,
        ["F1"],
        "every word searched starts a word of the name, in any order"
    );
    let mid_word = CallFilter {
        search: CallSearch::parse("ima"),
        ..all.clone()
    };
    assert!(
        ids(calls, a, mid_word).await.is_empty(),
        "a word matches from its start"
    );
    let wildcard = CallFilter {
        search: CallSearch::parse("100%_"),
        ..all.clone()
    };
    assert_eq!(ids(calls, a, wildcard).await, ["F3"], "% and _ are literal");
    let literal = CallFilter {
        search: CallSearch::parse("a%a"),
        ..all.clone()
    };
    assert!(
        ids(calls, a, literal).await.is_empty(),
        "% is not a wildcard"
    );
    let combined = CallFilter {
        search: CallSearch::parse("ana"),
        answered: Some(true),
        ..all.clone()
    };
    assert_eq!(ids(calls, a, combined).await, ["F3"]);
    assert_eq!(ids(calls, b, all).await, ["F1"], "B sees only its own");
    let recording = |scope: &TenantScope, id: Uuid| {
        let scope = scope.clone();
        async move {
            stores
                .insights
                .recording_of(&scope, id)
                .await
                .expect("reads")
        }
    };
    let f2 = calls
        .list(a, &CallFilter::default(), None, 100)
        .await
        .expect("lists")
        .items[1]
        .clone();
    assert_eq!(f2.external_id, "F2");
    let found = recording(a, f2.id).await.expect("F2 has a recording");
    assert_eq!(found.url, "https://recordings.example/f2.mp3");
    assert_eq!(found.duration_seconds, Some(10));
    assert_eq!(recording(b, f2.id).await, None, "not another tenant's");
    searches_follow_the_customer_a_delivery_states(stores, a).await;
}

/// Where a contract's late writes land, relative to now.
struct LateWrites {
    /// Names the calls, the text and its key.
    name: &'static str,
    /// The range summed, as (start, end) offsets from now.
    range: (Duration, Duration),
    /// How long ago the first call, another call, the late call and the text were.
    first: Duration,
    other: Duration,
    late: Duration,
    text: Duration,
    /// The customer's number.
    number: &'static str,
}

/// Summaries of `writes.range`, each after a late write (which a store may have kept
/// the period of, since the summary before): a call, a booking, a completed text of a
/// missed call. Every write counts at once.
async fn the_dashboard_counts_late_writes(
    stores: &CallLogStores<'_>,
    scope: &TenantScope,
    writes: LateWrites,
) {
    let now = Utc::now();
    let (from, to) = (now + writes.range.0, now + writes.range.1);
    let name = writes.name;
    let summary = || async {
        stores
            .dashboard
            .summary(scope, from, to)
            .await
            .expect("counts")
    };
    let late_call = |n: u8, ago: Duration| NewCall {
        started_at: now - ago,
        ..call(
            &format!("{name}{n}"),
            0,
            Direction::Inbound,
            false,
            "Ro",
            writes.number,
        )
    };
    let first = stores
        .calls
        .record(scope, late_call(1, writes.first))
        .await
        .expect("recorded");
    stores
        .calls
        .record(scope, late_call(2, writes.other))
        .await
        .expect("recorded");
    let before = summary().await;
    assert_eq!((before.calls, before.missed), (2, 2), "{name}");

    let late = stores
        .calls
        .record(scope, late_call(3, writes.late))
        .await
        .expect("recorded");
    assert_eq!(summary().await.calls, 3, "{name}: a late call counts");

    stores
        .calls
        .update_outcome(
            scope,
            late.id,
            &OutcomeChange {
                booked: Some(Some(true)),
                ..OutcomeChange::default()
            },
        )
        .await
        .expect("updates");
    assert_eq!(summary().await.booked, 1, "{name}: a late booking counts");

    let sent = now - writes.text;
    let text = OutboundAction {
        kind: OutboundKind::Sms,
        key: format!("contract:{name}:{}", scope.tenant_id()),
        call_id: Some(first.id),
        to: writes.number.into(),
        from: Some("+15550009999".into()),
        text: "Sorry we missed you".into(),
        started_at: sent,
        provider_ref: None,
    };
    stores
        .follow_ups
        .begin_outbound(scope, &text)
        .await
        .expect("begins");
    stores
        .follow_ups
        .complete_outbound(
            scope,
            OutboundKind::Sms,
            &text.key,
            &format!("SM{name}"),
            sent,
        )
        .await
        .expect("completes");
    let after = summary().await;
    assert_eq!(
        after.recovered_by_sms, 1,
        "{name}: a late text of a missed call counts"
    );
    assert_eq!(
        after.messages, 1,
        "{name}: the text, sent in the range, counts"
    );
}

/// A search's pages: newest first (ties by id), each call once even when several of
/// its words match, cursors that go on where the page ended, and a time range that
/// narrows the search. `a` must be fresh.
async fn searches_page_newest_first(stores: &CallLogStores<'_>, a: &TenantScope) {
    let named = |id: &str, hours_ago: i64, name: &str| {
        call(
            id,
            hours_ago,
            Direction::Inbound,
            false,
            name,
            "+15550001111",
        )
    };
    for new in [
        named("Z1", 30, "Zed Zedson"),
        named("Z2", 31, "Zelda Smith"),
        named("Z3", 32, "Zed Smith"),
        named("Z4", 32, "Zeb Long"),
        named("Z5", 33, "Ola Nordmann"),
        named("Z6", 34, "Zedd Zedd"),
    ] {
        stores.calls.record(a, new).await.expect("records");
    }
    let search = |text: &str| CallFilter {
        search: CallSearch::parse(text),
        ..CallFilter::default()
    };
    // Z3 and Z4 start together: the higher id comes first, as in the unfiltered list.
    let everything = ids(stores.calls, a, CallFilter::default()).await;
    let expected: Vec<String> = everything.into_iter().filter(|id| id != "Z5").collect();
    let (mut paged, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = stores
            .calls
            .list(a, &search("ze"), cursor, 2)
            .await
            .expect("lists");
        pages += 1;
        assert!(page.items.len() <= 2);
        paged.extend(page.items.iter().map(|call| call.external_id.clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, expected, "every match once, newest first");
    assert_eq!(pages, 3, "five matches in pages of two");
    assert_eq!(
        ids(stores.calls, a, search("zed")).await,
        ["Z1", "Z3", "Z6"]
    );
    assert_eq!(ids(stores.calls, a, search("smith zed")).await, ["Z3"]);
    let within = CallFilter {
        started_from: Some(noon() - Duration::hours(32)),
        started_before: Some(noon() - Duration::hours(30)),
        ..search("z")
    };
    let within = ids(stores.calls, a, within).await;
    assert_eq!(
        within.len(),
        3,
        "{within:?}: 32 hours ago inclusive, 30 exclusive"
    );
    assert!(
        within
            .iter()
            .all(|id| ["Z2", "Z3", "Z4"].contains(&id.as_str()))
    );
}

/// A call a delivery creates is found by its customer at once, and a delivery that
/// renames the customer moves the call from the old name's searches to the new one's.
async fn searches_follow_the_customer_a_delivery_states(
    stores: &CallLogStores<'_>,
    a: &TenantScope,
) {
    let found = |text: &str| {
        let filter = CallFilter {
            search: CallSearch::parse(text),
            ..CallFilter::default()
        };
        async move { ids(stores.calls, a, filter).await }
    };
    let facts = |name: &str, number: &str| CallFacts {
        external_id: "F4".into(),
        direction: Some(Direction::Inbound),
        customer_name: Some(name.into()),
        customer_number: Some(number.into()),
        answered: Some(true),
        duration_seconds: Some(5),
        started_at: Some(noon()),
    };
    apply(
        stores,
        a,
        Provider::CallRail,
        "F4-open",
        Effect::RecordCall {
            change: CallChange::Open,
            facts: facts("Dee Park", "+15554440004"),
        },
    )
    .await;
    assert_eq!(found("park").await, ["F4"]);
    assert_eq!(found("4440004").await, ["F4"]);
    apply(
        stores,
        a,
        Provider::CallRail,
        "F4-update",
        Effect::RecordCall {
            change: CallChange::Update,
            facts: facts("Dana Quinn", "+15559990009"),
        },
    )
    .await;
    assert_eq!(found("quinn dana").await, ["F4"]);
    assert_eq!(found("9990009").await, ["F4"]);
    assert!(found("park").await.is_empty(), "the old name is gone");
    assert!(found("4440004").await.is_empty(), "the old number is gone");
}

async fn outcomes_are_written_per_tenant(
    stores: &CallLogStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
    rep: &UserId,
) {
    let calls = stores.calls;
    let target = calls
        .record(
            a,
            call("O1", 3, Direction::Inbound, true, "Cy", "+15554440004"),
        )
        .await
        .expect("recorded");
    assert_eq!(
        target.outcome,
        Default::default(),
        "a new call has no outcome"
    );
    let appointment = noon() + Duration::days(2);
    let change = OutcomeChange {
        booked: Some(Some(true)),
        appointment_at: Some(Some(appointment)),
        notes: Some(Some("Bring the ladder".into())),
        assigned_rep: Some(Some(rep.clone())),
    };
    assert_eq!(
        calls
            .update_outcome(b, target.id, &change)
            .await
            .expect("updates"),
        None,
        "another tenant's call is not found"
    );
    let updated = calls
        .update_outcome(a, target.id, &change)
        .await
        .expect("updates")
        .expect("found");
    assert_eq!(updated.outcome.booked, Some(true));
    assert_eq!(updated.outcome.appointment_at, Some(appointment));
    assert_eq!(updated.outcome.notes.as_deref(), Some("Bring the ladder"));
    assert_eq!(updated.outcome.assigned_rep.as_ref(), Some(rep));
    assert_eq!(
        calls.get(a, target.id).await.expect("reads"),
        Some(updated.clone())
    );
    let mine = CallFilter {
        assigned_to: Some(rep.clone()),
        ..CallFilter::default()
    };
    assert_eq!(ids(calls, a, mine.clone()).await, ["O1"]);
    let partial = OutcomeChange {
        notes: Some(None),
        ..OutcomeChange::default()
    };
    let cleared = calls
        .update_outcome(a, target.id, &partial)
        .await
        .expect("updates")
        .expect("found");
    assert_eq!(cleared.outcome.notes, None, "null clears");
    assert_eq!(cleared.outcome.booked, Some(true), "absent fields stay");
    let unassigned = OutcomeChange {
        assigned_rep: Some(None),
        ..OutcomeChange::default()
    };
    calls
        .update_outcome(a, target.id, &unassigned)
        .await
        .expect("updates");
    assert!(ids(calls, a, mine).await.is_empty());
    assert_eq!(
        calls
            .update_outcome(a, Uuid::from_u128(7), &partial)
            .await
            .expect("updates"),
        None,
        "an unknown id is not found"
    );
}

fn message(id: &str, direction: Direction, number: &str, body: &str, minutes: i64) -> MessageFacts {
    MessageFacts {
        external_id: id.into(),
        direction,
        customer_number: number.into(),
        body: body.into(),
        sent_at: noon() + Duration::minutes(minutes),
    }
}

async fn conversations_group_messages(
    stores: &CallLogStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
) {
    let (first, second, third) = ("+15556660001", "+15556660002", "+15556660003");
    for (id, number, body, minutes) in [
        ("SM1", first, "hi", 1),
        ("SM2", second, "hello", 2),
        ("SM3", first, "are you there?", 3),
        ("SM4", third, "quote please", 4),
    ] {
        apply(
            stores,
            a,
            Provider::Twilio,
            id,
            Effect::StoreMessage(message(id, Direction::Inbound, number, body, minutes)),
        )
        .await;
    }
    apply(
        stores,
        b,
        Provider::Twilio,
        "SMB",
        Effect::StoreMessage(message("SMB", Direction::Inbound, first, "other tenant", 9)),
    )
    .await;
    // A reply to the second customer, sent by Otto, is the latest of all.
    let reply = OutboundAction {
        kind: OutboundKind::Sms,
        key: "contract:reply".into(),
        call_id: None,
        to: second.into(),
        from: Some("+15550009999".into()),
        text: "We can come tomorrow".into(),
        started_at: noon() + Duration::minutes(5),
        provider_ref: None,
    };
    stores
        .follow_ups
        .begin_outbound(a, &reply)
        .await
        .expect("begins");
    stores
        .follow_ups
        .complete_outbound(
            a,
            OutboundKind::Sms,
            "contract:reply",
            "SMREPLY",
            noon() + Duration::minutes(5),
        )
        .await
        .expect("completes");

    let mut seen = Vec::new();
    let mut cursor = None;
    for _ in 0..5 {
        let page = stores
            .messages
            .conversations(a, cursor, 2)
            .await
            .expect("lists");
        seen.extend(page.items);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let numbers: Vec<&str> = seen.iter().map(|c| c.customer_number.as_str()).collect();
    assert_eq!(
        numbers,
        [second, third, first],
        "latest message first, no gaps or repeats"
    );
    assert_eq!(seen[0].last_body, "We can come tomorrow");
    assert_eq!(seen[0].last_direction, Direction::Outbound);
    assert_eq!(seen[0].message_count, 2);
    assert_eq!(seen[2].message_count, 2);
    assert_eq!(seen[2].last_body, "are you there?");
    assert_eq!(seen[2].last_message_at, noon() + Duration::minutes(3));

    let page: Page<_, _> = stores
        .messages
        .messages_with(a, first, None, 1)
        .await
        .expect("lists");
    assert_eq!(page.items[0].body, "are you there?");
    assert_eq!(page.items[0].direction, Direction::Inbound);
    let rest = stores
        .messages
        .messages_with(a, first, page.next, 10)
        .await
        .expect("lists");
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].body, "hi");
    assert_eq!(rest.next, None);
    let theirs = stores
        .messages
        .messages_with(b, first, None, 10)
        .await
        .expect("lists");
    assert_eq!(theirs.items.len(), 1, "B sees only its own messages");
    assert_eq!(theirs.items[0].body, "other tenant");
}

async fn the_dashboard_counts_the_range(
    stores: &CallLogStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
) {
    let tenant: &TenantId = a.tenant_id();
    let from = noon() - Duration::days(10);
    let to = noon() + Duration::days(1);
    let before = stores.dashboard.summary(a, from, to).await.expect("counts");
    // A missed call in range that got a follow-up text, and one that did not.
    let recovered = stores
        .calls
        .record(
            a,
            call("D1", 5, Direction::Inbound, false, "Di", "+15557770001"),
        )
        .await
        .expect("recorded");
    stores
        .calls
        .record(
            a,
            call("D2", 6, Direction::Inbound, false, "Ed", "+15557770002"),
        )
        .await
        .expect("recorded");
    // Out of range: not counted.
    stores
        .calls
        .record(
            a,
            call(
                "D3",
                24 * 30,
                Direction::Inbound,
                false,
                "Fa",
                "+15557770003",
            ),
        )
        .await
        .expect("recorded");
    let text = OutboundAction {
        kind: OutboundKind::Sms,
        key: format!("contract:recovery:{tenant}"),
        call_id: Some(recovered.id),
        to: "+15557770001".into(),
        from: Some("+15550009999".into()),
        text: "Sorry we missed you".into(),
        started_at: noon(),
        provider_ref: None,
    };
    stores
        .follow_ups
        .begin_outbound(a, &text)
        .await
        .expect("begins");
    stores
        .follow_ups
        .complete_outbound(a, OutboundKind::Sms, &text.key, "SMREC", noon())
        .await
        .expect("completes");
    stores
        .calls
        .update_outcome(
            a,
            recovered.id,
            &OutcomeChange {
                booked: Some(Some(true)),
                ..OutcomeChange::default()
            },
        )
        .await
        .expect("updates");
    let after = stores.dashboard.summary(a, from, to).await.expect("counts");
    assert_eq!(
        after,
        DashboardSummary {
            calls: before.calls + 2,
            missed: before.missed + 2,
            recovered_by_sms: before.recovered_by_sms + 1,
            booked: before.booked + 1,
            messages: before.messages + 1,
        }
    );
    let empty = stores
        .dashboard
        .summary(
            a,
            noon() + Duration::days(100),
            noon() + Duration::days(101),
        )
        .await
        .expect("counts");
    assert_eq!(empty, DashboardSummary::default());
    let theirs = stores.dashboard.summary(b, from, to).await.expect("counts");
    assert_eq!(theirs.calls, 1, "B counts only its own calls");
}
