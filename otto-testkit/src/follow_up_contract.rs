//! The contract of [`FollowUpStore`].

use chrono::{DateTime, Utc};
use otto_core::ports::{
    CallRepository, Company, CompanyDirectory, FollowUpSettings, FollowUpStore, IdempotencyKey,
    OutboundAction, OutboundClaim, OutboundKind, Target, WebhookLedger,
};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::{Effect, Provider};

use crate::contracts::{new_call, scope_of};

fn started() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00.654321Z")
        .expect("valid")
        .to_utc()
}

fn outbound(kind: OutboundKind, key: &str, text: &str) -> OutboundAction {
    OutboundAction {
        kind,
        key: key.to_owned(),
        call_id: None,
        to: "+15551230000".to_owned(),
        from: Some("+15550009999".to_owned()),
        text: text.to_owned(),
        started_at: started(),
        provider_ref: None,
    }
}

/// The stores a follow-up store is checked with.
pub struct FollowUpStores<'a> {
    /// The store under test.
    pub follow_ups: &'a dyn FollowUpStore,
    /// Where calls are recorded.
    pub calls: &'a dyn CallRepository,
    /// Where company names are kept.
    pub companies: &'a dyn CompanyDirectory,
    /// Where opt-outs arrive (inbound STOP messages).
    pub ledger: &'a dyn WebhookLedger,
}

impl std::fmt::Debug for FollowUpStores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FollowUpStores").finish_non_exhaustive()
    }
}

/// Settings default and persist per tenant; calls are found by provider id within
/// the tenant only; opt-outs are per tenant; an outbound message is recorded once per
/// key and tenant, keeps its first text, and completes with the provider's id.
/// `tenant_a` and `tenant_b` must be fresh tenants.
pub async fn follow_up_store_contract(stores: FollowUpStores<'_>, tenant_a: &str, tenant_b: &str) {
    let (a, b) = (scope_of(tenant_a), scope_of(tenant_b));
    settings_default_and_persist_per_tenant(&stores, &a, &b).await;
    calls_are_found_within_the_tenant(&stores, &a, &b).await;
    opt_outs_are_per_tenant(&stores, &a, &b).await;
    outbound_actions_are_recorded_once(&stores, &a, &b).await;
}

async fn settings_default_and_persist_per_tenant(
    stores: &FollowUpStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
) {
    let (settings, name) = stores
        .follow_ups
        .follow_up_settings(a)
        .await
        .expect("reads");
    assert_eq!(
        settings,
        FollowUpSettings::default(),
        "defaults before any save"
    );
    assert_eq!(name, None, "no company name yet");
    stores
        .companies
        .save_company(
            a,
            &Company {
                name: Some("Acme Plumbing".into()),
                slug: None,
            },
        )
        .await
        .expect("company");
    let custom = FollowUpSettings {
        missed_call_sms_enabled: false,
        missed_call_sms_template: Some("Call {company_name} back".into()),
        sms_from_number: Some("+15550001111".into()),
        ai_follow_up_enabled: true,
        quiet_hours: Some(
            otto_core::quiet_hours::QuietHours::parse("21:30", "07:45", "America/Chicago")
                .expect("valid"),
        ),
    };
    stores
        .follow_ups
        .save_follow_up_settings(a, &custom)
        .await
        .expect("saves");
    assert_eq!(
        stores
            .follow_ups
            .follow_up_settings(a)
            .await
            .expect("reads"),
        (custom.clone(), Some("Acme Plumbing".into()))
    );
    let replaced = FollowUpSettings {
        missed_call_sms_template: None,
        quiet_hours: None,
        ..custom
    };
    stores
        .follow_ups
        .save_follow_up_settings(a, &replaced)
        .await
        .expect("saves again");
    assert_eq!(
        stores
            .follow_ups
            .follow_up_settings(a)
            .await
            .expect("reads")
            .0,
        replaced,
        "a save replaces every field"
    );
    assert_eq!(
        stores
            .follow_ups
            .follow_up_settings(b)
            .await
            .expect("reads")
            .0,
        FollowUpSettings::default(),
        "another tenant keeps its own"
    );
}

async fn calls_are_found_within_the_tenant(
    stores: &FollowUpStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
) {
    let call = stores
        .calls
        .record(a, new_call("CALFU", 3))
        .await
        .expect("records");
    let found = stores
        .follow_ups
        .call_by_external_id(a, "callrail", "CALFU")
        .await
        .expect("reads");
    assert_eq!(found, Some(call));
    for (scope, provider) in [(a, "twilio"), (b, "callrail")] {
        assert_eq!(
            stores
                .follow_ups
                .call_by_external_id(scope, provider, "CALFU")
                .await
                .expect("reads"),
            None
        );
    }
}

async fn opt_outs_are_per_tenant(stores: &FollowUpStores<'_>, a: &TenantScope, b: &TenantScope) {
    let number = "+15557770000";
    assert!(
        !stores
            .follow_ups
            .is_opted_out(a, number)
            .await
            .expect("reads")
    );
    let tenant: TenantId = a.tenant_id().clone();
    stores
        .ledger
        .apply(&otto_core::ports::Application {
            target: &Target::Tenant(a.clone()),
            key: &IdempotencyKey {
                tenant: Some(tenant),
                provider: Provider::Twilio,
                event: "sms".into(),
                external_id: "SMSTOP".into(),
            },
            body_digest: "digest",
            effects: &[Effect::OptOut {
                customer_number: number.into(),
            }],
            jobs: &[],
            at: started(),
            log: None,
        })
        .await
        .expect("opt-out applied");
    assert!(
        stores
            .follow_ups
            .is_opted_out(a, number)
            .await
            .expect("reads")
    );
    assert!(
        !stores
            .follow_ups
            .is_opted_out(b, number)
            .await
            .expect("reads")
    );
}

async fn outbound_actions_are_recorded_once(
    stores: &FollowUpStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
) {
    let follow_ups = stores.follow_ups;
    let first = outbound(
        OutboundKind::Sms,
        "missed_call_recovery:a:CAL1",
        "first text",
    );
    let claimed = follow_ups.begin_outbound(a, &first).await.expect("records");
    assert_eq!(claimed, OutboundClaim::Fresh(first.clone()));
    let retry = OutboundAction {
        text: "a different text".into(),
        started_at: started() + chrono::Duration::minutes(1),
        ..first.clone()
    };
    assert_eq!(
        follow_ups.begin_outbound(a, &retry).await.expect("records"),
        OutboundClaim::Earlier(first.clone()),
        "the first record stands"
    );
    assert!(
        matches!(
            follow_ups.begin_outbound(b, &first).await.expect("records"),
            OutboundClaim::Fresh(_)
        ),
        "keys are per tenant"
    );
    let call = OutboundAction {
        from: None,
        ..outbound(OutboundKind::AiCall, &first.key, "ask how we can help")
    };
    assert!(
        matches!(
            follow_ups.begin_outbound(a, &call).await.expect("records"),
            OutboundClaim::Fresh(_)
        ),
        "keys are per kind"
    );
    follow_ups
        .complete_outbound(
            a,
            OutboundKind::Sms,
            &first.key,
            "SM123",
            started() + chrono::Duration::seconds(2),
        )
        .await
        .expect("completes");
    assert_eq!(
        follow_ups.begin_outbound(a, &retry).await.expect("records"),
        OutboundClaim::Earlier(OutboundAction {
            provider_ref: Some("SM123".into()),
            ..first.clone()
        })
    );
    follow_ups
        .complete_outbound(
            a,
            OutboundKind::AiCall,
            &call.key,
            "bland-call-1",
            started(),
        )
        .await
        .expect("completes");
    assert_eq!(
        follow_ups.begin_outbound(a, &call).await.expect("records"),
        OutboundClaim::Earlier(OutboundAction {
            provider_ref: Some("bland-call-1".into()),
            ..call
        })
    );
    assert!(
        follow_ups
            .complete_outbound(a, OutboundKind::Sms, "no-such-key", "SM9", started())
            .await
            .is_err(),
        "completing an unrecorded action is an error"
    );
}
