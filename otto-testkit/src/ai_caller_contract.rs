//! The contract of [`AiCaller`].

use chrono::{DateTime, Utc};
use otto_core::ports::{AiCallRequest, AiCaller};
use otto_core::tenancy::TenantId;

/// A started call has a provider id and is then found by its number and reference;
/// another reference or number finds nothing. `now` is the caller's current time.
pub async fn ai_caller_contract(caller: &dyn AiCaller, now: DateTime<Utc>) {
    let request = AiCallRequest {
        phone_number: "+15551230000".into(),
        task: "Ask how we can help.".into(),
        from: None,
        tenant_id: TenantId::parse("org_contract").expect("valid"),
        reference: "ai_follow_up:org_contract:callrail:CAL1".into(),
        webhook_url: Some("https://otto.example/webhook/bland".into()),
    };
    let before = now - chrono::Duration::minutes(5);
    assert_eq!(
        caller
            .find_started(&request, before)
            .await
            .expect("looks up"),
        None,
        "nothing before the start"
    );
    let started = caller.start_call(&request).await.expect("starts");
    assert!(!started.provider_call_id.is_empty());
    assert_eq!(
        caller
            .find_started(&request, before)
            .await
            .expect("looks up"),
        Some(started),
        "the call is found by its number and reference"
    );
    let other = AiCallRequest {
        phone_number: "+15559990000".into(),
        ..request.clone()
    };
    assert_eq!(
        caller.find_started(&other, before).await.expect("looks up"),
        None
    );
}
