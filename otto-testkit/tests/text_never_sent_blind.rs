//! A text message whose first attempt may have reached the customer is never sent
//! again without asking the provider first, and never sent blind while the provider
//! cannot answer. The property is about which provider calls happen and which never
//! do, so the provider here is a generated mock (`otto_testkit::mocks`); the store
//! stays the in-memory fake, whose state the test reads.

use std::sync::Arc;

use mockall::Sequence;
use mockall::predicate::{always, eq};
use otto_core::follow_ups::SendMessage;
use otto_core::jobs::{JobHandler, JobKind, JobOutcome};
use otto_core::ports::{Clock, ProviderError, SentSms, SmsRequest};
use otto_core::tenancy::TenantId;
use otto_testkit::mocks::{MockSmsSender, MockUsageMeter};
use otto_testkit::{InMemoryStore, ManualClock, running_job};
use serde_json::json;

const FROM: &str = "+15550009999";
const CUSTOMER: &str = "+15551230000";

fn lost_answer() -> ProviderError {
    ProviderError::Transient {
        provider: "twilio",
        message: "the connection closed before the answer".into(),
        retry_after: None,
    }
}

fn request() -> SmsRequest {
    SmsRequest {
        to: CUSTOMER.into(),
        from: FROM.into(),
        body: "We can come at 9.".into(),
    }
}

#[tokio::test]
async fn a_retry_asks_the_provider_and_never_sends_while_it_cannot_answer() {
    let clock = ManualClock::at("2026-12-06T10:00:00Z");
    let tenant = TenantId::parse("org_acme").expect("a tenant");
    let first_attempt_at = clock.now();
    let mut sms = MockSmsSender::new();
    let mut order = Sequence::new();
    // Attempt 1: the send may have gone out, but its answer was lost.
    sms.expect_send()
        .with(eq(request()))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Err(lost_answer()));
    // Attempt 2: the lookup fails too; sending now could text the customer twice.
    sms.expect_find_sent()
        .with(eq(request()), always())
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| Err(lost_answer()));
    // Attempt 3: the lookup finds the first attempt's message.
    sms.expect_find_sent()
        .withf(move |asked, since| *asked == request() && *since <= first_attempt_at)
        .times(1)
        .in_sequence(&mut order)
        .returning(|_, _| {
            Ok(Some(SentSms {
                provider_message_id: "SM1".into(),
            }))
        });
    let mut meter = MockUsageMeter::new();
    meter
        .expect_sms_sent()
        .withf(|counted| counted.as_str() == "org_acme")
        .times(1)
        .return_const(());
    let store = InMemoryStore::default();
    let handler = SendMessage::new(
        Arc::new(store.clone()),
        Some(Arc::new(sms)),
        Arc::new(meter),
        Arc::new(clock.clone()),
        Some(FROM.into()),
    );
    let job = running_job(
        JobKind::SendMessage,
        &tenant,
        "m1",
        json!({"to": CUSTOMER, "body": "We can come at 9."}),
        clock.now(),
    );

    assert!(matches!(handler.handle(&job).await, JobOutcome::Retry(_)));
    clock.advance(std::time::Duration::from_secs(60));
    assert!(matches!(handler.handle(&job).await, JobOutcome::Retry(_)));
    clock.advance(std::time::Duration::from_secs(60));
    assert_eq!(handler.handle(&job).await, JobOutcome::Succeeded);
    // Once completed, a fourth run calls the provider no more (the mock would panic).
    assert_eq!(handler.handle(&job).await, JobOutcome::Succeeded);
    assert_eq!(
        store.messages(&tenant).len(),
        1,
        "the found message joins the conversation once"
    );
}
