//! The contract every delivery log honours, with the ledger of the same store: the
//! ledger logs applied deliveries in their own transaction (a reused key flagged as a
//! conflict), a company sees only its own deliveries, the platform sees all,
//! filters and pages compose, replays update a delivery, and purging keeps the
//! deliveries still waiting for a tenant.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use otto_core::ports::{
    Application, Claim, DeliveryFilter, DeliveryLog, DeliveryOutcome, IdempotencyKey, LogScope,
    LoggedDelivery, ReplayRecord, Target, WebhookLedger,
};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{Provider, WebhookEvent};
use uuid::Uuid;

use crate::contracts::scope_of;

fn noon() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00.123456Z")
        .expect("valid")
        .to_utc()
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).expect("valid tenant id")
}

/// A delivery as the ingestion service would log it.
pub fn logged_delivery(
    tenant_id: Option<&str>,
    route: WebhookEvent,
    external_id: &str,
    outcome: DeliveryOutcome,
    received_at: DateTime<Utc>,
) -> LoggedDelivery {
    LoggedDelivery {
        id: Uuid::now_v7(),
        tenant: tenant_id.map(tenant),
        route,
        event: route.name().to_owned(),
        external_id: Some(external_id.to_owned()),
        outcome,
        conflict: false,
        attempts: 1,
        error: (outcome == DeliveryOutcome::Failed).then(|| "invalid body".to_owned()),
        body_digest: format!("digest-{external_id}"),
        body: format!(r#"{{"resource_id":"{external_id}"}}"#).into_bytes(),
        body_redacted: false,
        content_type: Some("application/json".to_owned()),
        message_id: None,
        accounts: "callrail:COM1".to_owned(),
        trace_id: Some(format!("trace-{external_id}")),
        received_at,
        replays: 0,
        last_replayed_at: None,
    }
}

async fn apply_logged(
    ledger: &dyn WebhookLedger,
    delivery: &LoggedDelivery,
    body_digest: &str,
) -> Claim {
    let tenant = delivery.tenant.clone().expect("a tenant delivery");
    let key = IdempotencyKey {
        tenant: Some(tenant.clone()),
        provider: delivery.provider(),
        event: delivery.event.clone(),
        external_id: delivery.external_id.clone().expect("an external id"),
    };
    ledger
        .apply(&Application {
            target: &Target::Tenant(scope_of(tenant.as_str())),
            key: &key,
            body_digest,
            effects: &[],
            jobs: &[],
            at: delivery.received_at,
            log: Some(delivery),
        })
        .await
        .expect("applies")
}

fn ids(deliveries: &[LoggedDelivery]) -> Vec<Uuid> {
    deliveries.iter().map(|delivery| delivery.id).collect()
}

/// See the module documentation. `tenant_a` and `tenant_b` must be fresh tenants of
/// a fresh store.
pub async fn delivery_log_contract(
    ledger: Arc<dyn WebhookLedger>,
    log: &dyn DeliveryLog,
    tenant_a: &str,
    tenant_b: &str,
) {
    let at = noon();
    let a_scope = LogScope::Tenant(scope_of(tenant_a));
    let b_scope = LogScope::Tenant(scope_of(tenant_b));

    // The ledger logs what it applies, and flags a reused key with another body.
    let first = logged_delivery(
        Some(tenant_a),
        WebhookEvent::CallRailPreCall,
        "CAL1",
        DeliveryOutcome::Processed,
        at,
    );
    assert!(matches!(
        apply_logged(&*ledger, &first, "d1").await,
        Claim::Processed { .. }
    ));
    let retry = LoggedDelivery {
        id: Uuid::now_v7(),
        received_at: at + Duration::seconds(1),
        ..first.clone()
    };
    assert!(
        matches!(
            apply_logged(&*ledger, &retry, "d1").await,
            Claim::Duplicate { first_delivery_id: Some(id), .. } if id == first.id
        ),
        "a duplicate names the delivery that claimed the key"
    );
    let reused = LoggedDelivery {
        id: Uuid::now_v7(),
        received_at: at + Duration::seconds(2),
        ..first.clone()
    };
    apply_logged(&*ledger, &reused, "d-other").await;
    let failed = logged_delivery(
        Some(tenant_a),
        WebhookEvent::TwilioSms,
        "SM1",
        DeliveryOutcome::Failed,
        at + Duration::seconds(3),
    );
    log.record(&failed).await.expect("records");
    let other_company = logged_delivery(
        Some(tenant_b),
        WebhookEvent::CallRailPreCall,
        "CAL1",
        DeliveryOutcome::Processed,
        at,
    );
    apply_logged(&*ledger, &other_company, "d1").await;
    let unroutable = logged_delivery(
        None,
        WebhookEvent::CallRailCallComplete,
        "CAL9",
        DeliveryOutcome::Unroutable,
        at - Duration::days(40),
    );
    log.record(&unroutable).await.expect("records");

    let everything = DeliveryFilter::default();
    let page = log
        .list(&a_scope, &everything, None, 50)
        .await
        .expect("lists");
    assert_eq!(
        ids(&page.items),
        vec![failed.id, reused.id, retry.id, first.id],
        "a company sees its own deliveries, newest first"
    );
    assert_eq!(page.next, None);
    let seen = |id: Uuid| {
        page.items
            .iter()
            .find(|delivery| delivery.id == id)
            .cloned()
            .expect("listed")
    };
    assert_eq!(seen(first.id), first, "kept as logged");
    let retry_seen = seen(retry.id);
    assert_eq!(
        (retry_seen.outcome, retry_seen.attempts, retry_seen.conflict),
        (DeliveryOutcome::DuplicateIgnored, 2, false)
    );
    let reused_seen = seen(reused.id);
    assert_eq!(
        (
            reused_seen.outcome,
            reused_seen.attempts,
            reused_seen.conflict
        ),
        (DeliveryOutcome::DuplicateIgnored, 3, true),
        "another body under a taken key is a conflict"
    );
    assert_eq!(seen(failed.id).error.as_deref(), Some("invalid body"));

    // Isolation: B sees only its own; an id of A's is not found from B.
    let b_page = log
        .list(&b_scope, &everything, None, 50)
        .await
        .expect("lists");
    assert_eq!(ids(&b_page.items), vec![other_company.id]);
    assert_eq!(log.get(&b_scope, first.id).await.expect("reads"), None);
    assert_eq!(log.get(&a_scope, unroutable.id).await.expect("reads"), None);
    assert_eq!(
        log.get(&a_scope, first.id).await.expect("reads"),
        Some(first.clone())
    );

    // The platform sees every tenant's and the unroutable ones, and filters by tenant.
    let platform = log
        .list(&LogScope::Platform, &everything, None, 100)
        .await
        .expect("lists");
    for id in [first.id, other_company.id, unroutable.id] {
        assert!(ids(&platform.items).contains(&id));
    }
    let only_b = DeliveryFilter {
        tenant: Some(tenant(tenant_b)),
        ..DeliveryFilter::default()
    };
    assert_eq!(
        ids(&log
            .list(&LogScope::Platform, &only_b, None, 50)
            .await
            .expect("lists")
            .items),
        vec![other_company.id]
    );

    // Filters compose.
    let own = &a_scope;
    let filtered = |filter: DeliveryFilter| async move {
        ids(&log.list(own, &filter, None, 50).await.expect("lists").items)
    };
    assert_eq!(
        filtered(DeliveryFilter {
            provider: Some(Provider::Twilio),
            ..DeliveryFilter::default()
        })
        .await,
        vec![failed.id]
    );
    assert_eq!(
        filtered(DeliveryFilter {
            outcome: Some(DeliveryOutcome::DuplicateIgnored),
            event: Some("pre-call".into()),
            ..DeliveryFilter::default()
        })
        .await,
        vec![reused.id, retry.id]
    );
    assert_eq!(
        filtered(DeliveryFilter {
            from: Some(at + Duration::seconds(1)),
            to: Some(at + Duration::seconds(3)),
            ..DeliveryFilter::default()
        })
        .await,
        vec![reused.id, retry.id],
        "from is inclusive, to exclusive"
    );

    // Pages: no delivery twice, none missed.
    let mut paged = Vec::new();
    let mut cursor = None;
    loop {
        let page = log
            .list(&a_scope, &everything, cursor, 3)
            .await
            .expect("lists");
        paged.extend(ids(&page.items));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(paged, vec![failed.id, reused.id, retry.id, first.id]);

    // Unroutable deliveries wait; a replay moves one to its tenant.
    let pending = log.pending_unroutable(100).await.expect("lists");
    assert_eq!(ids(&pending), vec![unroutable.id]);
    let replayed_at = at + Duration::minutes(5);
    log.record_replay(
        unroutable.id,
        &ReplayRecord {
            outcome: DeliveryOutcome::Processed,
            tenant: Some(tenant(tenant_a)),
            event: "call-complete".into(),
            external_id: Some("CAL9".into()),
            error: None,
            body: Some(b"{}".to_vec()),
            at: replayed_at,
        },
    )
    .await
    .expect("records the replay");
    assert!(log.pending_unroutable(100).await.expect("lists").is_empty());
    let moved = log
        .get(&a_scope, unroutable.id)
        .await
        .expect("reads")
        .expect("now the tenant's");
    assert_eq!(moved.outcome, DeliveryOutcome::Processed);
    assert_eq!(
        (moved.replays, moved.last_replayed_at),
        (1, Some(replayed_at))
    );
    assert_eq!((moved.body, moved.body_redacted), (b"{}".to_vec(), true));
    log.record_replay(
        failed.id,
        &ReplayRecord {
            outcome: DeliveryOutcome::Failed,
            tenant: Some(tenant(tenant_a)),
            event: "sms".into(),
            external_id: Some("SM1".into()),
            error: Some("still invalid".into()),
            body: None,
            at: replayed_at,
        },
    )
    .await
    .expect("records the replay");
    let still = log
        .get(&a_scope, failed.id)
        .await
        .expect("reads")
        .expect("kept");
    assert_eq!(still.error.as_deref(), Some("still invalid"));
    assert_eq!(
        (still.body, still.body_redacted),
        (failed.body.clone(), false)
    );

    // Purge: done deliveries before the cutoff go; unroutable ones stay.
    let waiting = logged_delivery(
        None,
        WebhookEvent::Bland,
        "BL1",
        DeliveryOutcome::Unroutable,
        at - Duration::days(40),
    );
    log.record(&waiting).await.expect("records");
    let cutoff = at - Duration::days(30);
    assert_eq!(
        log.purge(cutoff, 10).await.expect("purges"),
        1,
        "the moved one"
    );
    assert_eq!(log.purge(cutoff, 10).await.expect("purges"), 0);
    assert_eq!(
        ids(&log.pending_unroutable(10).await.expect("lists")),
        vec![waiting.id]
    );
    assert!(log.get(&a_scope, first.id).await.expect("reads").is_some());
}
