//! The contract of [`CallTracking`].

use std::collections::BTreeSet;

use otto_core::ports::CallTracking;

/// Paging through every call yields each once, newest first, pages no larger than
/// asked; a listed call can be fetched by id, an unknown id is `None`. The account
/// must hold `expected` calls (more than two).
pub async fn call_tracking_contract(tracking: &dyn CallTracking, expected: usize) {
    let mut seen = BTreeSet::new();
    let mut previous_start = None;
    let mut page = Some(1);
    while let Some(number) = page {
        let listed = tracking.list_calls(None, number, 2).await.expect("lists");
        assert!(
            listed.calls.len() <= 2,
            "a page holds at most what was asked"
        );
        for call in &listed.calls {
            assert!(seen.insert(call.id.clone()), "{} listed twice", call.id);
            if let Some(previous) = previous_start {
                assert!(call.started_at <= previous, "newest first");
            }
            previous_start = Some(call.started_at);
        }
        page = listed.next_page;
        assert!(number < 1_000, "paging ends");
    }
    assert_eq!(seen.len(), expected, "every call is listed");
    let first = seen.iter().next().expect("calls").clone();
    let fetched = tracking.get_call(&first).await.expect("gets");
    assert_eq!(fetched.map(|call| call.id), Some(first));
    assert_eq!(
        tracking.get_call("CAL-NOT-THERE").await.expect("gets"),
        None
    );
}
