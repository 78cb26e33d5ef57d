//! Backfilling calls from the call-tracking provider: every page is recorded, a
//! second run adds nothing, and a page limit reports that more remain.

use otto_core::backfill::{BACKFILL_PAGE_SIZE, backfill_calls};
use otto_core::calls::Direction;
use otto_core::ports::{CallRepository, TrackedCall};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_testkit::{FakeCallTracking, InMemoryStore, ManualClock};

fn account(count: u32) -> FakeCallTracking {
    let now = ManualClock::at("2026-11-26T10:00:00Z").now_plus(std::time::Duration::ZERO);
    FakeCallTracking::with_calls(
        (0..count)
            .map(|n| TrackedCall {
                id: format!("CAL{n}"),
                direction: Direction::Inbound,
                answered: n % 3 != 0,
                customer_name: Some("Kaylah Mills".into()),
                customer_number: Some("+12148654559".into()),
                duration_seconds: 13,
                started_at: now - chrono::Duration::minutes(i64::from(n)),
            })
            .collect(),
    )
}

async fn stored(store: &InMemoryStore, scope: &TenantScope) -> usize {
    let mut count = 0;
    let mut cursor = None;
    loop {
        let page = store
            .list(scope, &otto_core::calls::CallFilter::default(), cursor, 100)
            .await
            .expect("lists");
        count += page.items.len();
        match page.next {
            Some(next) => cursor = Some(next),
            None => return count,
        }
    }
}

#[tokio::test]
async fn every_call_is_backfilled_once_however_often_it_runs() {
    let tracking = account(BACKFILL_PAGE_SIZE * 2 + 7);
    let store = InMemoryStore::default();
    let scope = TenantScope::for_job(TenantId::parse("org_acme").expect("valid"));
    for _ in 0..2 {
        let report = backfill_calls(&tracking, &store, &scope, "callrail", Some("COM1"), 10)
            .await
            .expect("backfills");
        assert_eq!((report.pages, report.calls, report.more), (3, 207, false));
    }
    assert_eq!(stored(&store, &scope).await, 207, "no call twice");
    let other = TenantScope::for_job(TenantId::parse("org_other").expect("valid"));
    assert_eq!(
        stored(&store, &other).await,
        0,
        "only into the asked tenant"
    );
}

#[tokio::test]
async fn a_page_limit_stops_early_and_says_more_remain() {
    let tracking = account(BACKFILL_PAGE_SIZE * 2 + 7);
    let store = InMemoryStore::default();
    let scope = TenantScope::for_job(TenantId::parse("org_acme").expect("valid"));
    let report = backfill_calls(&tracking, &store, &scope, "callrail", None, 1)
        .await
        .expect("backfills");
    assert_eq!((report.pages, report.calls, report.more), (1, 100, true));
}
