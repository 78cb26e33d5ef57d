//! Every idempotency-key derivation, routing rule and domain effect of the webhook
//! planner, from bodies shaped like the providers' own.

use chrono::{DateTime, Utc};
use otto_core::calls::Direction;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{
    AccountRef, CallChange, Delivery, Effect, FORM, JSON, JobKind, PayloadError, Plan, Provider,
    Routing, WebhookEvent,
};

const CALLRAIL_FIXTURE: &str = include_str!("fixtures/callrail_post_call.json");

fn received() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .expect("valid")
        .with_timezone(&Utc)
}

fn delivery(event: WebhookEvent, content_type: &str, body: &str) -> Delivery {
    Delivery {
        event,
        content_type: Some(content_type.to_owned()),
        body: body.as_bytes().to_vec(),
        message_id: None,
        received_at: received(),
        trace_context: None,
        trace_id: None,
    }
}

fn plan(event: WebhookEvent, body: &str) -> Plan {
    let content_type = if event.is_form() { FORM } else { JSON };
    delivery(event, content_type, body)
        .plan()
        .expect("the body plans")
}

fn job_kinds(plan: &Plan) -> Vec<JobKind> {
    plan.jobs.iter().map(|job| job.kind).collect()
}

#[test]
fn callrail_call_events_share_the_call_id_but_not_the_event() {
    let body =
        r#"{"resource_id":"CAL123","company_id":155920786,"direction":"inbound","answered":true}"#;
    let pre = plan(WebhookEvent::CallRailPreCall, body);
    let complete = plan(WebhookEvent::CallRailCallComplete, body);
    assert_eq!(pre.external_id, "CAL123");
    assert_eq!(complete.external_id, "CAL123");
    assert_ne!(pre.event_name, complete.event_name);
}

#[test]
fn callrail_call_ids_are_read_where_each_payload_version_puts_them() {
    for (body, expected) in [
        (
            r#"{"call":{"id":"CALnested"},"resource_id":"CALother"}"#,
            "CALnested",
        ),
        (r#"{"resource_id":"CALresource","id":42}"#, "CALresource"),
        (r#"{"id":766970532}"#, "766970532"),
        (r#"{"call_id":"test-123"}"#, "test-123"),
    ] {
        assert_eq!(
            plan(WebhookEvent::CallRailPreCall, body).external_id,
            expected
        );
    }
}

#[test]
fn callrail_call_modified_keys_differ_per_change_and_repeat_per_retry() {
    let first = r#"{"resource_id":"CAL1","changes":["tags"],"tags":["hot"]}"#;
    let second = r#"{"resource_id":"CAL1","changes":["note"],"note":"call back"}"#;
    let a = plan(WebhookEvent::CallRailCallModified, first);
    let b = plan(WebhookEvent::CallRailCallModified, second);
    assert!(a.external_id.starts_with("CAL1:"));
    assert_ne!(a.external_id, b.external_id);
    assert_eq!(
        a.external_id,
        plan(WebhookEvent::CallRailCallModified, first).external_id
    );
}

#[test]
fn callrail_post_call_finalises_the_call_and_starts_follow_ups_and_transcription() {
    let plan = plan(WebhookEvent::CallRailCallComplete, CALLRAIL_FIXTURE);
    assert_eq!(plan.external_id, "766970532");
    assert_eq!(
        plan.routing,
        Routing::Accounts(vec![AccountRef::new(Provider::CallRail, "155920786")])
    );
    let Effect::RecordCall { change, facts } = &plan.effects[0] else {
        panic!("the first effect records the call: {:?}", plan.effects);
    };
    assert_eq!(*change, CallChange::Update);
    assert_eq!(facts.answered, Some(false));
    assert_eq!(facts.duration_seconds, Some(13));
    assert_eq!(facts.direction, Some(Direction::Inbound));
    assert_eq!(facts.customer_number.as_deref(), Some("+12148654559"));
    assert_eq!(facts.customer_name.as_deref(), Some("Kaylah Mills"));
    assert!(matches!(&plan.effects[1], Effect::StoreRecording(recording)
        if recording.duration_seconds == Some(8) && recording.url.contains("/recording/redirect")));
    assert_eq!(
        job_kinds(&plan),
        [
            JobKind::MissedCallRecovery,
            JobKind::AiFollowUp,
            JobKind::Transcription
        ],
        "a missed call queues both follow-ups (each checks the settings when it runs)"
    );
    let tenant = TenantId::parse("org_a").expect("valid");
    assert_eq!(
        plan.jobs[0].unique_key(&tenant),
        "missed_call_recovery:org_a:callrail:766970532"
    );
}

#[test]
fn answered_or_outbound_calls_start_no_recovery() {
    let answered = plan(
        WebhookEvent::CallRailCallComplete,
        r#"{"resource_id":"CAL1","direction":"inbound","answered":true}"#,
    );
    let outbound = plan(
        WebhookEvent::CallRailCallComplete,
        r#"{"resource_id":"CAL2","direction":"outbound","answered":false}"#,
    );
    assert!(answered.jobs.is_empty());
    assert!(outbound.jobs.is_empty());
}

#[test]
fn the_pre_call_only_opens_the_call() {
    let plan = plan(WebhookEvent::CallRailPreCall, r#"{"call_id":"test-123"}"#);
    assert!(matches!(
        &plan.effects[..],
        [Effect::RecordCall {
            change: CallChange::Open,
            ..
        }]
    ));
    assert_eq!(plan.routing, Routing::Accounts(Vec::new()));
    assert!(plan.jobs.is_empty());
}

#[test]
fn callrail_texts_are_stored_and_stop_opts_out() {
    let plan = plan(
        WebhookEvent::CallRailSms,
        r#"{"resource_id":"SMS1","company_resource_id":"COM1","source_number":"+15550001",
            "destination_number":"+15550002","content":"STOP","timestamp":"2026-11-25T09:00:00Z"}"#,
    );
    assert_eq!(plan.external_id, "SMS1");
    assert!(matches!(&plan.effects[0], Effect::StoreMessage(message)
        if message.direction == Direction::Inbound && message.customer_number == "+15550001"));
    assert_eq!(
        plan.effects[1],
        Effect::OptOut {
            customer_number: "+15550001".to_owned()
        }
    );
    let sent = plan_of_sent_text();
    assert!(matches!(&sent.effects[..], [Effect::StoreMessage(message)]
        if message.direction == Direction::Outbound && message.customer_number == "+15550002"));
}

fn plan_of_sent_text() -> Plan {
    plan(
        WebhookEvent::CallRailSms,
        r#"{"id":"SMS2","agent":"Pat","source_number":"+15550003","destination_number":"+15550002","content":"stop"}"#,
    )
}

#[test]
fn twilio_status_callbacks_are_keyed_per_status_and_sequence() {
    let ringing = plan(
        WebhookEvent::TwilioCallStatus,
        "CallSid=CA1&CallStatus=ringing&Direction=inbound&From=%2B1555&To=%2B1666&AccountSid=AC1",
    );
    let completed = plan(
        WebhookEvent::TwilioCallStatus,
        "CallSid=CA1&CallStatus=completed&SequenceNumber=3&Direction=inbound&From=%2B1555&To=%2B1666&CallDuration=42",
    );
    assert_eq!(ringing.external_id, "CA1:ringing");
    assert_eq!(completed.external_id, "CA1:completed:3");
    assert_eq!(
        ringing.routing,
        Routing::Accounts(vec![
            AccountRef::new(Provider::Twilio, "+1666"),
            AccountRef::new(Provider::Twilio, "AC1"),
        ])
    );
    let Effect::RecordCall { facts, .. } = &completed.effects[0] else {
        panic!("records the call");
    };
    assert_eq!(facts.answered, Some(true));
    assert_eq!(facts.duration_seconds, Some(42));
    let Effect::RecordCall { facts, .. } = &ringing.effects[0] else {
        panic!("records the call");
    };
    assert_eq!(facts.answered, None, "ringing says nothing about an answer");
}

#[test]
fn outbound_twilio_calls_route_by_the_calling_number() {
    let plan = plan(
        WebhookEvent::TwilioCallStatus,
        "CallSid=CA2&CallStatus=busy&Direction=outbound-api&From=%2B1666&To=%2B1555",
    );
    assert_eq!(
        plan.routing,
        Routing::Accounts(vec![AccountRef::new(Provider::Twilio, "+1666")])
    );
}

#[test]
fn twilio_texts_use_the_message_sid_and_recordings_the_recording_sid_and_status() {
    let sms = plan(
        WebhookEvent::TwilioSms,
        "MessageSid=SM1&From=%2B1555&To=%2B1666&Body=Unsubscribe",
    );
    assert_eq!(sms.external_id, "SM1");
    assert!(
        matches!(&sms.effects[1], Effect::OptOut { customer_number } if customer_number == "+1555")
    );
    let legacy = plan(WebhookEvent::TwilioSms, "SmsSid=SM2&From=%2B1555&Body=hi");
    assert_eq!(legacy.external_id, "SM2");

    let completed = plan(
        WebhookEvent::TwilioRecording,
        "RecordingSid=RE1&CallSid=CA1&RecordingStatus=completed&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2FRE1&RecordingDuration=30&AccountSid=AC1",
    );
    assert_eq!(completed.external_id, "RE1:completed");
    assert_eq!(job_kinds(&completed), [JobKind::Transcription]);
    let in_progress = plan(
        WebhookEvent::TwilioRecording,
        "RecordingSid=RE1&CallSid=CA1&RecordingStatus=in-progress",
    );
    assert_eq!(in_progress.external_id, "RE1:in-progress");
    assert!(in_progress.effects.is_empty() && in_progress.jobs.is_empty());
}

#[test]
fn clerk_events_are_keyed_by_the_svix_message_id_with_fallbacks() {
    let body =
        r#"{"type":"organization.created","data":{"id":"org_a","name":"Acme","slug":"acme"}}"#;
    let mut signed = delivery(WebhookEvent::Clerk, JSON, body);
    signed.message_id = Some("msg_1".to_owned());
    let plan = signed.plan().expect("plans");
    assert_eq!(plan.external_id, "msg_1");
    assert_eq!(plan.event_name, "organization.created");
    assert_eq!(
        plan.routing,
        Routing::Platform {
            owner: Some(TenantId::parse("org_a").expect("valid"))
        }
    );
    let unsigned = delivery(WebhookEvent::Clerk, JSON, body)
        .plan()
        .expect("plans");
    assert_eq!(unsigned.external_id, "org_a");
    let with_event_id = delivery(
        WebhookEvent::Clerk,
        JSON,
        r#"{"type":"user.deleted","event_id":"evt_9","data":{"id":"user_1"}}"#,
    )
    .plan()
    .expect("plans");
    assert_eq!(with_event_id.external_id, "evt_9");
    assert_eq!(with_event_id.routing, Routing::Platform { owner: None });
}

#[test]
fn clerk_users_and_memberships_become_effects() {
    let user = plan(
        WebhookEvent::Clerk,
        r#"{"type":"user.created","data":{"id":"user_1","first_name":"Ada","last_name":"Lovelace",
            "primary_email_address_id":"idn_2","email_addresses":[
              {"id":"idn_1","email_address":"old@example.com"},
              {"id":"idn_2","email_address":"ada@example.com"}]}}"#,
    );
    assert!(matches!(&user.effects[0], Effect::SaveUser(facts)
        if facts.email.as_deref() == Some("ada@example.com") && facts.name.as_deref() == Some("Ada Lovelace")));
    let membership = plan(
        WebhookEvent::Clerk,
        r#"{"type":"organizationMembership.created","data":{"id":"orgmem_1","role":"org:admin",
            "organization":{"id":"org_a"},"public_user_data":{"user_id":"user_1"}}}"#,
    );
    assert!(
        matches!(&membership.effects[0], Effect::SaveMembership { role, .. } if role.as_str() == "admin")
    );
    let session = plan(
        WebhookEvent::Clerk,
        r#"{"type":"session.created","data":{"id":"sess_1"}}"#,
    );
    assert!(session.effects.is_empty());
}

#[test]
fn bland_calls_route_by_the_tenant_otto_put_in_the_metadata() {
    let plan = plan(
        WebhookEvent::Bland,
        r#"{"call_id":"b-1","to":"+1555","status":"completed","completed":true,"call_length":1.5,
            "summary":"Booked","concatenated_transcript":"user: hi","metadata":{"tenant_id":"org_a"}}"#,
    );
    assert_eq!(plan.external_id, "b-1");
    assert_eq!(
        plan.routing,
        Routing::Tenant(TenantId::parse("org_a").expect("valid"))
    );
    assert!(matches!(&plan.effects[0], Effect::StoreAiCall(call)
        if call.duration_seconds == Some(90) && call.completed));
    let session = self::plan(WebhookEvent::Bland, r#"{"session_id":"s-1"}"#);
    assert_eq!(session.external_id, "s-1");
    assert_eq!(session.routing, Routing::Accounts(Vec::new()));
}

#[test]
fn unreadable_bodies_are_refused_with_the_reason() {
    let missing_id = delivery(WebhookEvent::CallRailPreCall, JSON, r#"{"answered":false}"#).plan();
    assert!(matches!(missing_id, Err(PayloadError::InvalidField(_))));
    let form_as_json = delivery(WebhookEvent::CallRailPreCall, FORM, "call_id=1").plan();
    assert!(matches!(
        form_as_json,
        Err(PayloadError::UnsupportedMediaType { .. })
    ));
    let json_to_twilio = delivery(WebhookEvent::TwilioSms, JSON, "{}").plan();
    assert!(matches!(
        json_to_twilio,
        Err(PayloadError::UnsupportedMediaType { .. })
    ));
    let no_sid = delivery(WebhookEvent::TwilioCallStatus, FORM, "CallStatus=ringing").plan();
    assert!(matches!(no_sid, Err(PayloadError::InvalidField(_))));
    let bad_role = delivery(
        WebhookEvent::Clerk,
        JSON,
        r#"{"type":"organizationMembership.created","data":{"role":"a b","organization":{"id":"org_a"},"public_user_data":{"user_id":"user_1"}}}"#,
    )
    .plan();
    assert!(matches!(bad_role, Err(PayloadError::InvalidField(_))));
}
