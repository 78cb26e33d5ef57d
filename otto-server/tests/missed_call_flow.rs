//! Missed-call recovery end to end, on SQLite and PostgreSQL: a signed CallRail
//! call-complete for an unanswered inbound call becomes exactly one SMS request at a
//! stub of Twilio, also when the worker dies after Twilio's answer and the job runs
//! again, and when Twilio's answer is lost on the way back.

mod support;

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::store::SqlStore;
use otto_adapters::system::{SystemClock, UuidV7Ids};
use otto_adapters::test_support::TestDatabase;
use otto_core::follow_ups::MissedCallRecovery;
use otto_core::jobs::{Finish, JobHandler, JobKind, JobOutcome, JobRunner, JobStatus, RetryPolicy};
use otto_core::ports::JobQueue;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::callrail;
use otto_core::webhooks::{AccountRef, Provider};
use otto_server::config::Config;
use otto_server::startup;
use otto_server::telemetry::metrics::Metrics;
use otto_testkit::ManualClock;
use otto_testkit::stubs::TwilioMessagesStub;
use poem::test::TestClient;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer};

const SECRET: &str = "callrail-flow-test-key"; // pragma: allowlist secret
const SID: &str = "ACflowtest";
const TOKEN: &str = "twilio-flow-token"; // pragma: allowlist secret
const MESSAGES: &str = "/2010-04-01/Accounts/ACflowtest/Messages.json";
const LEASE: Duration = Duration::from_secs(60);

struct Flow {
    config: Config,
    store: Arc<SqlStore>,
    twilio: TwilioMessagesStub,
    _server: MockServer,
}

async fn flow(database_url: &str, twilio_delay: Duration) -> Flow {
    let server = MockServer::start().await;
    let twilio = TwilioMessagesStub::answering_after(twilio_delay);
    Mock::given(path(MESSAGES))
        .respond_with(twilio.clone())
        .mount(&server)
        .await;
    let base = server.uri();
    let mut config = support::config(&[
        ("DATABASE_URL", database_url),
        ("CALLRAIL_WEBHOOK_SECRET", SECRET),
        ("TWILIO_ACCOUNT_SID", SID),
        ("TWILIO_AUTH_TOKEN", TOKEN),
        ("TWILIO_FROM_NUMBER", "+15550009999"),
        ("TWILIO_API_BASE_URL", base.as_str()),
        ("OTTO_PROVIDER_TIMEOUT_SECONDS", "1"),
    ]);
    config.webhooks.default_tenant = None;
    let connections = startup::connect(&config).await.expect("connects");
    let authenticator =
        startup::authenticator(&config, Arc::new(SystemClock)).expect("credentials");
    let store = Arc::new(SqlStore::new(
        connections.database.clone(),
        Arc::new(UuidV7Ids),
    ));
    let state = startup::state(config.clone(), &connections, authenticator).expect("state");
    state
        .provider_accounts
        .link(
            &AccountRef::new(Provider::CallRail, "COMFLOW"),
            &TenantId::parse("org_flow").expect("valid"),
        )
        .await
        .expect("links");
    let client = TestClient::new(otto_server::http::app(&state));
    let body = r#"{"resource_id":"CALFLOW","company_resource_id":"COMFLOW","direction":"inbound","answered":false,"customer_name":"Jane Doe","customer_phone_number":"+15551230000"}"#;
    let response = client
        .post("/webhook/callrail/call-complete")
        .header("content-type", "application/json")
        .header("Signature", callrail::sign(SECRET, body.as_bytes()))
        .body(body)
        .send()
        .await;
    response.assert_status_is_ok();
    Flow {
        config,
        store,
        twilio,
        _server: server,
    }
}

impl Flow {
    fn recovery(&self, clock: &ManualClock) -> MissedCallRecovery {
        MissedCallRecovery::new(
            self.store.clone(),
            startup::sms_sender(&self.config).expect("twilio"),
            Arc::new(Metrics::new()),
            Arc::new(clock.clone()),
            self.config.twilio.from_number.clone(),
        )
    }

    fn runner(&self, clock: &ManualClock) -> JobRunner {
        JobRunner::new(
            self.store.clone(),
            Arc::new(clock.clone()),
            RetryPolicy::default(),
            LEASE,
        )
        .with_handler(JobKind::MissedCallRecovery, Arc::new(self.recovery(clock)))
    }
}

fn clock_now() -> ManualClock {
    ManualClock::at(&(chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339())
}

async fn a_worker_dying_after_twilios_answer_does_not_send_twice(database_url: &str) {
    let flow = flow(database_url, Duration::ZERO).await;
    let clock = clock_now();
    let runner = flow.runner(&clock);

    // The first worker leases the job, Twilio accepts the message, and the worker
    // dies before it records the job's completion.
    let leased = runner.lease(1).await.expect("leases").pop().expect("a job");
    assert_eq!(leased.kind, "missed_call_recovery");
    assert_eq!(
        flow.recovery(&clock).handle(&leased).await,
        JobOutcome::Succeeded
    );
    assert_eq!(flow.twilio.sent().len(), 1);

    // After the lease, another worker runs it again: done, and no second message.
    clock.advance(LEASE + Duration::from_secs(1));
    let executed = runner.run_next().await.expect("runs").expect("taken over");
    assert_eq!(executed.finish, Finish::Succeeded);
    assert_eq!(executed.job.attempts, 2);
    let sent = flow.twilio.sent();
    assert_eq!(sent.len(), 1, "exactly one SMS: {sent:?}");
    assert_eq!(sent[0]["to"], "+15551230000");
    assert_eq!(sent[0]["from"], "+15550009999");
    assert_eq!(
        sent[0]["body"],
        "Hi Jane, sorry we missed your call to us. How can we help? Reply STOP to opt out."
    );
    let job = flow
        .store
        .job(executed.job.id)
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(job.status, JobStatus::Succeeded);
}

async fn a_lost_answer_is_found_instead_of_resent(database_url: &str) {
    // Twilio takes longer than the 1 s timeout to answer, but keeps the message.
    let flow = flow(database_url, Duration::from_secs(3)).await;
    let clock = clock_now();
    let runner = flow.runner(&clock);
    let first = runner.run_next().await.expect("runs").expect("a job");
    assert!(
        matches!(&first.finish, Finish::RetryAt { error, .. } if error.contains("timed out")),
        "{:?}",
        first.finish
    );
    clock.advance(Duration::from_secs(3_600));
    let second = runner.run_next().await.expect("runs").expect("retried");
    assert_eq!(second.finish, Finish::Succeeded);
    assert_eq!(flow.twilio.sent().len(), 1, "found, not resent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_call_recovery_sends_once_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    a_worker_dying_after_twilios_answer_does_not_send_twice(&url).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    a_lost_answer_is_found_instead_of_resent(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_call_recovery_sends_once_on_postgres() {
    for scenario in 0..2 {
        let Some(test_database) = TestDatabase::create().await else {
            return;
        };
        if scenario == 0 {
            a_worker_dying_after_twilios_answer_does_not_send_twice(&test_database.url).await;
        } else {
            a_lost_answer_is_found_instead_of_resent(&test_database.url).await;
        }
        test_database.drop_database().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_twilio_the_job_is_skipped_with_the_reason() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let mut flow = flow(&url, Duration::ZERO).await;
    flow.config.twilio.account_sid = None;
    let runner = otto_server::startup::job_runner(
        &flow.config,
        flow.store.clone(),
        Arc::new(Metrics::new()),
    )
    .expect("runner");
    let executed = runner.run_next().await.expect("runs").expect("a job");
    assert_eq!(
        executed.finish,
        Finish::Skipped {
            reason: "twilio is not configured".into()
        }
    );
}
