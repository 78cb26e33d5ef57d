//! The contract of [`FollowUpStore`].

use chrono::{DateTime, Utc};
use otto_core::ports::{
    CallRepository, Company, CompanyDirectory, FollowUpSettings, FollowUpStore, IdempotencyKey,
    OutboundSms, SmsClaim, Target, WebhookLedger,
};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::{Effect, Provider};

use crate::contracts::{new_call, scope_of};

fn started() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-26T10:00:00.654321Z")
        .expect("valid")
        .to_utc()
}

fn outbound(key: &str, body: &str) -> OutboundSms {
    OutboundSms {
        key: key.to_owned(),
        call_id: None,
        to: "+15551230000".to_owned(),
        from: "+15550009999".to_owned(),
        body: body.to_owned(),
        started_at: started(),
        provider_message_id: None,
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
    outbound_messages_are_recorded_once(&stores, &a, &b).await;
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
        .apply(
            &Target::Tenant(a.clone()),
            &IdempotencyKey {
                tenant: Some(tenant),
                provider: Provider::Twilio,
                event: "sms".into(),
                external_id: "SMSTOP".into(),
            },
            "digest",
            &[Effect::OptOut {
                customer_number: number.into(),
            }],
            &[],
            started(),
        )
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

async fn outbound_messages_are_recorded_once(
    stores: &FollowUpStores<'_>,
    a: &TenantScope,
    b: &TenantScope,
) {
    let first = outbound("missed_call_recovery:a:CAL1", "first text");
    let claimed = stores
        .follow_ups
        .begin_sms(a, &first)
        .await
        .expect("records");
    assert_eq!(claimed, SmsClaim::Fresh(first.clone()));
    let retry = OutboundSms {
        body: "a different text".into(),
        started_at: started() + chrono::Duration::minutes(1),
        ..first.clone()
    };
    assert_eq!(
        stores
            .follow_ups
            .begin_sms(a, &retry)
            .await
            .expect("records"),
        SmsClaim::Earlier(first.clone()),
        "the first record stands"
    );
    assert!(
        matches!(
            stores
                .follow_ups
                .begin_sms(b, &first)
                .await
                .expect("records"),
            SmsClaim::Fresh(_)
        ),
        "keys are per tenant"
    );
    stores
        .follow_ups
        .complete_sms(
            a,
            &first.key,
            "SM123",
            started() + chrono::Duration::seconds(2),
        )
        .await
        .expect("completes");
    assert_eq!(
        stores
            .follow_ups
            .begin_sms(a, &retry)
            .await
            .expect("records"),
        SmsClaim::Earlier(OutboundSms {
            provider_message_id: Some("SM123".into()),
            ..first.clone()
        })
    );
    assert!(
        stores
            .follow_ups
            .complete_sms(a, "no-such-key", "SM9", started())
            .await
            .is_err(),
        "completing an unrecorded message is an error"
    );
}
