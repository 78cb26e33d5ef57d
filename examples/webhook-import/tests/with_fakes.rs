//! The tool's own rules, tested over `otto-testkit`'s fakes (no database): what a
//! service embedding `otto-core` tests before it ever opens one.

use std::sync::Arc;

use otto_core::tenancy::TenantId;
use otto_core::webhooks::signatures::{SignatureError, bland, callrail};
use otto_core::webhooks::{AccountRef, Provider, WebhookEvent};
use otto_testkit::{InMemoryStore, ManualClock, SequentialIds};
use webhook_import::{Imported, Importer, LineError, Secrets, signed_line};

const CALLRAIL_KEY: &str = "fake-callrail-key"; // pragma: allowlist secret
const FIXTURE: &str = include_str!("../../../otto-core/tests/fixtures/callrail_post_call.json");

fn importer(store: Arc<InMemoryStore>) -> Importer {
    Importer::over(
        store,
        Arc::new(ManualClock::at("2026-12-06T10:00:00Z")),
        Arc::new(SequentialIds::default()),
        Secrets {
            callrail: Some(CALLRAIL_KEY.into()),
            bland: None,
        },
    )
}

fn call_complete(body: &str) -> String {
    signed_line(
        WebhookEvent::CallRailCallComplete,
        callrail::sign(CALLRAIL_KEY, body.as_bytes()),
        body.to_owned(),
    )
}

async fn linked() -> (Arc<InMemoryStore>, Importer) {
    let store = Arc::new(InMemoryStore::default());
    let importer = importer(store.clone());
    importer
        .link(
            &AccountRef::new(Provider::CallRail, "155920786"),
            &TenantId::parse("org_acme").expect("a tenant"),
        )
        .await
        .expect("links");
    (store, importer)
}

#[tokio::test]
async fn a_delivery_is_applied_once_and_its_repeat_is_a_duplicate() {
    let (store, importer) = linked().await;
    let first = importer
        .import(&call_complete(FIXTURE))
        .await
        .expect("imports");
    assert!(
        matches!(&first, Imported::Processed { tenant: Some(tenant), .. } if tenant.as_str() == "org_acme"),
        "{first:?}"
    );
    let jobs = store.jobs().len();
    assert!(jobs > 0, "the call's follow-up jobs were queued");
    let again = importer
        .import(&call_complete(FIXTURE))
        .await
        .expect("imports");
    assert!(
        matches!(again, Imported::Duplicate { attempts: 2, .. }),
        "{again:?}"
    );
    assert_eq!(store.jobs().len(), jobs, "nothing queued twice");
}

#[tokio::test]
async fn an_unlinked_account_is_kept_as_unroutable_not_given_to_a_tenant() {
    let store = Arc::new(InMemoryStore::default());
    let imported = importer(store.clone())
        .import(&call_complete(FIXTURE))
        .await
        .expect("imports");
    assert_eq!(imported, Imported::Unroutable);
    assert!(store.jobs().is_empty(), "nothing applied");
}

#[tokio::test]
async fn a_body_changed_after_signing_is_refused() {
    let (store, importer) = linked().await;
    let mut line: serde_json::Value =
        serde_json::from_str(&call_complete(FIXTURE)).expect("a line");
    line["body"] = FIXTURE.replace("Kaylah Mills", "Someone Else").into();
    let refused = importer
        .import(&line.to_string())
        .await
        .expect_err("refused");
    assert!(
        matches!(refused, LineError::Signature(SignatureError::Mismatch)),
        "{refused:?}"
    );
    assert!(store.jobs().is_empty(), "nothing applied");
}

#[tokio::test]
async fn a_provider_without_a_secret_or_with_a_wider_signature_is_refused() {
    let (_, importer) = linked().await;
    let body = r#"{"call_id":"c1","status":"completed"}"#;
    let unsigned_provider = signed_line(
        WebhookEvent::Bland,
        bland::sign("any", body.as_bytes()),
        body.into(),
    );
    assert!(matches!(
        importer.import(&unsigned_provider).await,
        Err(LineError::NoSecret(Provider::Bland))
    ));
    let twilio = signed_line(WebhookEvent::TwilioSms, "sig".into(), "From=%2B1".into());
    assert!(matches!(
        importer.import(&twilio).await,
        Err(LineError::UnsupportedProvider(Provider::Twilio))
    ));
}

#[tokio::test]
async fn a_line_that_is_not_a_delivery_says_why() {
    let (_, importer) = linked().await;
    for (line, expected) in [
        ("not json", "the line is not a delivery"),
        (
            r#"{"event":"callrail/nope","signature":"x","body":"{}"}"#,
            "unknown event \"callrail/nope\": expected one of callrail/pre-call",
        ),
        (
            r#"{"event":"bland","body":"{}","extra":1}"#,
            "unknown field `extra`",
        ),
    ] {
        let error = importer.import(line).await.expect_err("refused");
        assert!(error.to_string().contains(expected), "{line}: {error}");
    }
}
