//! AI follow-up against fakes: one call per job key with the tenant in its
//! metadata and Otto's webhook, not repeated after a lost answer, never to an
//! opted-out number, skipped when Bland is not configured.

use std::sync::Arc;
use std::time::Duration;

use otto_core::calls::{Direction, NewCall};
use otto_core::follow_ups::AiFollowUp;
use otto_core::jobs::{Job, JobHandler, JobKind, JobOutcome};
use otto_core::ports::{
    AiCaller, CallRepository, Company, CompanyDirectory, FollowUpSettings, FollowUpStore,
};
use otto_core::quiet_hours::QuietHours;
use otto_core::tenancy::{TenantId, TenantScope};
use otto_testkit::{InMemoryStore, ManualClock, RecordingAiCaller, running_job};
use serde_json::json;

const WEBHOOK: &str = "https://otto.example/webhook/bland";

struct World {
    store: InMemoryStore,
    caller: RecordingAiCaller,
    clock: ManualClock,
    tenant: TenantId,
}

impl World {
    async fn new() -> Self {
        let clock = ManualClock::at("2026-11-26T12:00:00Z");
        let world = World {
            store: InMemoryStore::default(),
            caller: RecordingAiCaller::new(Arc::new(clock.clone())),
            clock,
            tenant: TenantId::parse("org_acme").expect("valid"),
        };
        let scope = TenantScope::for_job(world.tenant.clone());
        world
            .store
            .save_company(
                &scope,
                &Company {
                    name: Some("Acme Plumbing".into()),
                    slug: None,
                },
            )
            .await
            .expect("company");
        world
            .store
            .record(
                &scope,
                NewCall {
                    provider: "callrail".into(),
                    external_id: "CAL1".into(),
                    direction: Direction::Inbound,
                    customer_name: None,
                    customer_number: Some("+15551230000".into()),
                    answered: false,
                    duration_seconds: 0,
                    started_at: world.clock.now_plus(Duration::ZERO),
                },
            )
            .await
            .expect("call");
        world
    }

    fn handler(&self, configured: bool) -> AiFollowUp {
        AiFollowUp::new(
            Arc::new(self.store.clone()),
            configured.then(|| Arc::new(self.caller.clone()) as Arc<dyn AiCaller>),
            Arc::new(self.clock.clone()),
            Some(WEBHOOK.into()),
        )
    }

    /// A call-back a user asked for.
    fn job(&self) -> Job {
        running_job(
            JobKind::AiFollowUp,
            &self.tenant,
            "callrail:CAL1:requested",
            json!({"provider": "callrail", "call_external_id": "CAL1", "requested_by": "user_csr"}),
            self.clock.now_plus(Duration::ZERO),
        )
    }

    /// The call-back queued automatically after the missed call.
    fn automatic_job(&self) -> Job {
        running_job(
            JobKind::AiFollowUp,
            &self.tenant,
            "callrail:CAL1",
            json!({"provider": "callrail", "call_external_id": "CAL1"}),
            self.clock.now_plus(Duration::ZERO),
        )
    }

    async fn settings(&self, ai_follow_up_enabled: bool, quiet: Option<(&str, &str)>) {
        self.store
            .save_follow_up_settings(
                &TenantScope::for_job(self.tenant.clone()),
                &FollowUpSettings {
                    ai_follow_up_enabled,
                    quiet_hours: quiet
                        .map(|(start, end)| QuietHours::parse(start, end, "UTC").expect("valid")),
                    ..FollowUpSettings::default()
                },
            )
            .await
            .expect("saved");
    }
}

#[tokio::test]
async fn automatic_call_backs_wait_for_the_setting_the_delay_and_quiet_hours() {
    let world = World::new().await;
    let handler = world.handler(true);
    assert_eq!(
        handler.handle(&world.automatic_job()).await,
        JobOutcome::Skipped("AI follow-up calls are off for this company".into()),
        "off by default"
    );
    world.settings(true, None).await;
    let call_started = world.clock.now_plus(Duration::ZERO);
    let after_delay =
        call_started + chrono::Duration::minutes(otto_core::follow_ups::AI_FOLLOW_UP_DELAY_MINUTES);
    assert!(matches!(
        handler.handle(&world.automatic_job()).await,
        JobOutcome::Defer { until, .. } if until == after_delay
    ));
    // 12:15 UTC is inside 12:00-13:00 quiet hours: wait until 13:00.
    world.settings(true, Some(("12:00", "13:00"))).await;
    world.clock.advance(Duration::from_secs(15 * 60));
    assert!(matches!(
        handler.handle(&world.automatic_job()).await,
        JobOutcome::Defer { until, reason }
            if until == call_started + chrono::Duration::hours(1) && reason.contains("quiet")
    ));
    assert!(world.caller.started().is_empty(), "nothing went out early");
    world.clock.advance(Duration::from_secs(45 * 60));
    assert_eq!(
        handler.handle(&world.automatic_job()).await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.caller.started().len(), 1);
}

#[tokio::test]
async fn a_call_back_a_user_asked_for_ignores_the_automatic_rules() {
    let world = World::new().await;
    world.settings(false, Some(("00:00", "23:59"))).await;
    assert_eq!(
        world.handler(true).handle(&world.job()).await,
        JobOutcome::Succeeded
    );
    assert_eq!(world.caller.started().len(), 1);
}

#[tokio::test]
async fn the_customer_is_called_once_with_the_tenant_and_webhook() {
    let world = World::new().await;
    let handler = world.handler(true);
    assert_eq!(handler.handle(&world.job()).await, JobOutcome::Succeeded);
    assert_eq!(handler.handle(&world.job()).await, JobOutcome::Succeeded);
    let started = world.caller.started();
    assert_eq!(started.len(), 1, "one call per job key");
    assert_eq!(started[0].phone_number, "+15551230000");
    assert_eq!(started[0].tenant_id, world.tenant);
    assert_eq!(started[0].webhook_url.as_deref(), Some(WEBHOOK));
    assert!(
        started[0].task.contains("Acme Plumbing"),
        "{}",
        started[0].task
    );
    let action = &world.store.outbound_actions(&world.tenant)[0];
    assert_eq!(action.provider_ref.as_deref(), Some("bland-call-1"));
    assert!(
        world.store.ai_call(&world.tenant, "bland-call-1").is_some(),
        "the started call is kept for its result webhook"
    );
}

#[tokio::test]
async fn a_lost_answer_does_not_start_a_second_call() {
    let world = World::new().await;
    world.caller.lose_next_answer();
    let handler = world.handler(true);
    assert!(matches!(
        handler.handle(&world.job()).await,
        JobOutcome::Retry(_)
    ));
    world.clock.advance(Duration::from_secs(120));
    assert_eq!(handler.handle(&world.job()).await, JobOutcome::Succeeded);
    assert_eq!(world.caller.started().len(), 1);
}

#[tokio::test]
async fn nobody_is_called_without_bland_or_after_an_opt_out() {
    let world = World::new().await;
    assert_eq!(
        world.handler(false).handle(&world.job()).await,
        JobOutcome::Skipped("bland is not configured".into())
    );
    world.store.record_opt_out(&world.tenant, "+15551230000");
    assert!(matches!(
        world.handler(true).handle(&world.job()).await,
        JobOutcome::Skipped(reason) if reason.contains("opted out")
    ));
    assert!(world.caller.started().is_empty());
}
