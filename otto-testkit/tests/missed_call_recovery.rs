//! Missed-call recovery against fakes: one message per missed call, from the right
//! number with the tenant's words, never twice (also when Twilio's answer is lost),
//! never to an opted-out number, and a clear reason whenever nothing is sent.

use std::sync::Arc;
use std::time::Duration;

use otto_core::calls::{Direction, NewCall};
use otto_core::follow_ups::MissedCallRecovery;
use otto_core::jobs::{Job, JobHandler, JobKind, JobOutcome};
use otto_core::ports::{
    CallRepository, Company, CompanyDirectory, FollowUpSettings, FollowUpStore, ProviderError,
    SmsRequest,
};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_testkit::{
    InMemoryStore, ManualClock, RecordingMeter, RecordingSms, SmsScript, running_job,
};
use serde_json::json;

const PLATFORM_NUMBER: &str = "+15550009999";
const CUSTOMER: &str = "+15551230000";

struct World {
    store: InMemoryStore,
    sms: RecordingSms,
    meter: RecordingMeter,
    clock: ManualClock,
    tenant: TenantId,
}

impl World {
    async fn new() -> Self {
        let world = World {
            store: InMemoryStore::default(),
            sms: RecordingSms::new(Arc::new(ManualClock::at("2026-11-26T10:00:00Z"))),
            meter: RecordingMeter::default(),
            clock: ManualClock::at("2026-11-26T10:00:00Z"),
            tenant: TenantId::parse("org_acme").expect("valid"),
        };
        world
            .store
            .save_company(
                &world.scope(),
                &Company {
                    name: Some("Acme Plumbing".into()),
                    slug: None,
                },
            )
            .await
            .expect("company");
        world
    }

    fn scope(&self) -> TenantScope {
        TenantScope::for_job(self.tenant.clone())
    }

    async fn call(&self, external_id: &str, direction: Direction, answered: bool) {
        self.store
            .record(
                &self.scope(),
                NewCall {
                    provider: "callrail".into(),
                    external_id: external_id.into(),
                    direction,
                    customer_name: Some("Jane Doe".into()),
                    customer_number: Some(CUSTOMER.into()),
                    answered,
                    duration_seconds: 0,
                    started_at: self.clock.now_plus(Duration::ZERO),
                },
            )
            .await
            .expect("records");
    }

    fn recovery(&self, configured: bool) -> MissedCallRecovery {
        MissedCallRecovery::new(
            Arc::new(self.store.clone()),
            configured.then(|| Arc::new(self.sms.clone()) as Arc<dyn otto_core::ports::SmsSender>),
            Arc::new(self.meter.clone()),
            Arc::new(self.clock.clone()),
            Some(PLATFORM_NUMBER.into()),
        )
    }

    fn job(&self, external_id: &str) -> Job {
        running_job(
            JobKind::MissedCallRecovery,
            &self.tenant,
            &format!("callrail:{external_id}"),
            json!({"provider": "callrail", "call_external_id": external_id}),
            self.clock.now_plus(Duration::ZERO),
        )
    }
}

#[tokio::test]
async fn a_missed_call_gets_one_message_in_the_companys_words() {
    let world = World::new().await;
    world.call("CAL1", Direction::Inbound, false).await;
    let recovery = world.recovery(true);
    assert_eq!(
        recovery.handle(&world.job("CAL1")).await,
        JobOutcome::Succeeded
    );
    assert_eq!(
        world.sms.sent(),
        [SmsRequest {
            to: CUSTOMER.into(),
            from: PLATFORM_NUMBER.into(),
            body: "Hi Jane, sorry we missed your call to Acme Plumbing. How can we help? \
                   Reply STOP to opt out."
                .into(),
        }]
    );
    assert_eq!(world.meter.sms_sent_for(&world.tenant), 1);
    let messages = world.store.messages(&world.tenant);
    assert_eq!(messages.len(), 1, "the message joins the conversation");
    assert_eq!(messages[0].direction, Direction::Outbound);
    assert_eq!(
        world.store.outbound_actions(&world.tenant)[0]
            .provider_ref
            .as_deref(),
        Some(messages[0].external_id.as_str())
    );

    // The same job again (an operator's retry, a duplicate run): nothing more.
    assert_eq!(
        recovery.handle(&world.job("CAL1")).await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.sms.sent().len(), 1, "never twice");
    assert_eq!(world.meter.sms_sent_for(&world.tenant), 1);
}

#[tokio::test]
async fn a_lost_answer_from_twilio_does_not_send_a_second_message() {
    let world = World::new().await;
    world.call("CAL2", Direction::Inbound, false).await;
    world.sms.script([SmsScript::SendThenLoseAnswer]);
    let recovery = world.recovery(true);
    let first = recovery.handle(&world.job("CAL2")).await;
    assert!(matches!(first, JobOutcome::Retry(_)), "{first:?}");
    assert_eq!(world.sms.sent().len(), 1, "Twilio did accept it");
    assert_eq!(
        world.meter.sms_sent_for(&world.tenant),
        0,
        "not yet known as sent"
    );

    world.clock.advance(Duration::from_secs(60));
    assert_eq!(
        recovery.handle(&world.job("CAL2")).await,
        JobOutcome::Succeeded
    );
    assert_eq!(
        world.sms.sent().len(),
        1,
        "the retry found it instead of resending"
    );
    assert_eq!(world.meter.sms_sent_for(&world.tenant), 1);
    assert_eq!(world.store.messages(&world.tenant).len(), 1);
}

#[tokio::test]
async fn a_refused_send_is_retried_and_then_sent_once() {
    let world = World::new().await;
    world.call("CAL3", Direction::Inbound, false).await;
    world
        .sms
        .script([SmsScript::Refuse(ProviderError::Transient {
            provider: "twilio",
            message: "503".into(),
            retry_after: None,
        })]);
    let recovery = world.recovery(true);
    assert!(matches!(
        recovery.handle(&world.job("CAL3")).await,
        JobOutcome::Retry(_)
    ));
    assert!(world.sms.sent().is_empty());
    assert_eq!(
        recovery.handle(&world.job("CAL3")).await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.sms.sent().len(), 1);
}

#[tokio::test]
async fn a_rejected_number_fails_for_good() {
    let world = World::new().await;
    world.call("CAL4", Direction::Inbound, false).await;
    world
        .sms
        .script([SmsScript::Refuse(ProviderError::Permanent {
            provider: "twilio",
            message: "21211 invalid 'To' number".into(),
        })]);
    let outcome = world.recovery(true).handle(&world.job("CAL4")).await;
    assert!(
        matches!(&outcome, JobOutcome::Fail(reason) if reason.contains("21211")),
        "{outcome:?}"
    );
}

async fn skipped(world: &World, external_id: &str, configured: bool) -> String {
    match world
        .recovery(configured)
        .handle(&world.job(external_id))
        .await
    {
        JobOutcome::Skipped(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[tokio::test]
async fn nothing_is_sent_without_a_reason_to_send() {
    let world = World::new().await;
    world.call("ANSWERED", Direction::Inbound, true).await;
    world.call("OUTBOUND", Direction::Outbound, false).await;
    world.call("MISSED", Direction::Inbound, false).await;
    assert!(skipped(&world, "ANSWERED", true).await.contains("answered"));
    assert!(skipped(&world, "OUTBOUND", true).await.contains("inbound"));
    assert!(
        skipped(&world, "MISSED", false)
            .await
            .contains("twilio is not configured")
    );

    world
        .store
        .save_follow_up_settings(
            &world.scope(),
            &FollowUpSettings {
                missed_call_sms_enabled: false,
                ..FollowUpSettings::default()
            },
        )
        .await
        .expect("saves");
    assert!(skipped(&world, "MISSED", true).await.contains("off"));

    world
        .store
        .save_follow_up_settings(&world.scope(), &FollowUpSettings::default())
        .await
        .expect("saves");
    world.store.record_opt_out(&world.tenant, CUSTOMER);
    assert!(skipped(&world, "MISSED", true).await.contains("opted out"));
    assert!(world.sms.sent().is_empty());
    assert_eq!(world.meter.sms_sent_for(&world.tenant), 0);
}

#[tokio::test]
async fn the_tenants_template_and_number_are_used() {
    let world = World::new().await;
    world.call("CAL5", Direction::Inbound, false).await;
    world
        .store
        .save_follow_up_settings(
            &world.scope(),
            &FollowUpSettings {
                missed_call_sms_enabled: true,
                missed_call_sms_template: Some(
                    "{company_name} here - call us back, {customer_name}!".into(),
                ),
                sms_from_number: Some("+15550001111".into()),
                ..FollowUpSettings::default()
            },
        )
        .await
        .expect("saves");
    world.recovery(true).handle(&world.job("CAL5")).await;
    let sent = world.sms.sent();
    assert_eq!(sent[0].from, "+15550001111");
    assert_eq!(sent[0].body, "Acme Plumbing here - call us back, Jane!");
}

#[tokio::test]
async fn a_job_for_an_unknown_call_fails_with_the_reason() {
    let world = World::new().await;
    let outcome = world.recovery(true).handle(&world.job("NOPE")).await;
    assert!(
        matches!(&outcome, JobOutcome::Fail(reason) if reason.contains("NOPE")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_follow_up_a_user_asked_for_is_sent_even_after_an_answered_call() {
    let world = World::new().await;
    world.call("CALR", Direction::Inbound, true).await;
    let mut job = world.job("CALR");
    job.payload["requested_by"] = json!("user_csr");
    assert_eq!(
        world.recovery(true).handle(&job).await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.sms.sent().len(), 1);
    world.store.record_opt_out(&world.tenant, CUSTOMER);
    let mut again = world.job("CALR");
    again.unique_key.push_str(":second");
    again.payload["requested_by"] = json!("user_csr");
    assert!(
        matches!(world.recovery(true).handle(&again).await, JobOutcome::Skipped(reason) if reason.contains("opted out")),
        "an opt-out still wins"
    );
    assert_eq!(world.sms.sent().len(), 1);
}

#[tokio::test]
async fn quiet_hours_hold_the_automatic_message_until_they_end() {
    let world = World::new().await;
    world.call("CALQ", Direction::Inbound, false).await;
    world
        .store
        .save_follow_up_settings(
            &world.scope(),
            &FollowUpSettings {
                // 10:00 UTC is 05:00 in New York: inside 21:00-08:00.
                quiet_hours: Some(
                    otto_core::quiet_hours::QuietHours::parse("21:00", "08:00", "America/New_York")
                        .expect("valid"),
                ),
                ..FollowUpSettings::default()
            },
        )
        .await
        .expect("saves");
    let outcome = world.recovery(true).handle(&world.job("CALQ")).await;
    let eight_in_new_york = chrono::DateTime::parse_from_rfc3339("2026-11-26T13:00:00Z")
        .expect("valid")
        .to_utc();
    assert!(
        matches!(&outcome, JobOutcome::Defer { until, .. } if *until == eight_in_new_york),
        "{outcome:?}"
    );
    assert!(
        world.sms.sent().is_empty(),
        "nothing is sent in quiet hours"
    );
    world.clock.advance(Duration::from_secs(3 * 3600));
    assert_eq!(
        world.recovery(true).handle(&world.job("CALQ")).await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.sms.sent().len(), 1);
}

#[tokio::test]
async fn a_message_a_user_wrote_is_sent_once_and_never_after_an_opt_out() {
    let world = World::new().await;
    let handler = otto_core::follow_ups::SendMessage::new(
        Arc::new(world.store.clone()),
        Some(Arc::new(world.sms.clone())),
        Arc::new(world.meter.clone()),
        Arc::new(world.clock.clone()),
        Some(PLATFORM_NUMBER.into()),
    );
    let job = |key: &str, to: &str| {
        running_job(
            JobKind::SendMessage,
            &world.tenant,
            key,
            json!({"to": to, "body": "We can come at 9.", "requested_by": "user_rep"}),
            world.clock.now_plus(Duration::ZERO),
        )
    };
    assert_eq!(
        handler.handle(&job("m1", CUSTOMER)).await,
        JobOutcome::Succeeded
    );
    assert_eq!(
        handler.handle(&job("m1", CUSTOMER)).await,
        JobOutcome::Succeeded
    );
    assert_eq!(
        world.sms.sent(),
        [SmsRequest {
            to: CUSTOMER.into(),
            from: PLATFORM_NUMBER.into(),
            body: "We can come at 9.".into(),
        }],
        "one message per job, however often it runs"
    );
    assert_eq!(world.meter.sms_sent_for(&world.tenant), 1);
    assert_eq!(
        world.store.messages(&world.tenant).len(),
        1,
        "the message joins the customer's conversation"
    );
    world.store.record_opt_out(&world.tenant, "+15557654321");
    assert!(matches!(
        handler.handle(&job("m2", "+15557654321")).await,
        JobOutcome::Skipped(reason) if reason.contains("opted out")
    ));
    let broken = running_job(
        JobKind::SendMessage,
        &world.tenant,
        "m3",
        json!({"to": CUSTOMER}),
        world.clock.now_plus(Duration::ZERO),
    );
    assert!(matches!(handler.handle(&broken).await, JobOutcome::Fail(_)));
    assert_eq!(world.sms.sent().len(), 1);
}

#[tokio::test]
async fn a_callrail_sync_job_records_the_companys_calls_once() {
    use otto_core::callrail::CallRailSync;
    use otto_core::ports::TrackedCall;
    let world = World::new().await;
    let listed: Vec<TrackedCall> = (0..3)
        .map(|n| TrackedCall {
            id: format!("CALS{n}"),
            direction: Direction::Inbound,
            answered: n != 1,
            customer_name: None,
            customer_number: Some(CUSTOMER.into()),
            duration_seconds: 20,
            started_at: world.clock.now_plus(Duration::from_secs(n * 60)),
        })
        .collect();
    let handler = CallRailSync::new(
        Some(Arc::new(otto_testkit::FakeCallTracking::with_calls(listed))),
        Arc::new(world.store.clone()),
    );
    let job = running_job(
        JobKind::CallRailSync,
        &world.tenant,
        "sync",
        json!({"company": "COM1", "pages": 2}),
        world.clock.now_plus(Duration::ZERO),
    );
    assert_eq!(handler.handle(&job).await, JobOutcome::Succeeded);
    assert_eq!(handler.handle(&job).await, JobOutcome::Succeeded);
    let stored = world
        .store
        .list(&world.scope(), &Default::default(), None, 100)
        .await
        .expect("lists");
    assert_eq!(
        stored.items.len(),
        3,
        "each call once, however often it runs"
    );
    let unconfigured = CallRailSync::new(None, Arc::new(world.store.clone()));
    assert!(matches!(
        unconfigured.handle(&job).await,
        JobOutcome::Skipped(_)
    ));
}
