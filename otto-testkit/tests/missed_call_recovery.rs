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
