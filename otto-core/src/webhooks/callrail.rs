//! CallRail deliveries: calls (pre-call, call-complete, call-modified) and texts.

use serde_json::json;

use super::delivery::{Delivery, OptKeyword};
use super::event::{Provider, WebhookEvent};
use super::payload::{Payload, PayloadError};
use super::plan::{
    AccountRef, CallChange, CallFacts, Effect, JobSpec, MessageFacts, Plan, RecordingFacts, Routing,
};
use crate::calls::Direction;
use crate::jobs::JobKind;

/// Where CallRail puts a call's id: the original service's `call.id`, the current
/// payload's `resource_id`, the legacy numeric `id`, and `call_id`.
const CALL_ID: &[&str] = &["call.id", "resource_id", "id", "call_id"];
/// Where CallRail puts a text message's id.
const MESSAGE_ID: &[&str] = &["resource_id", "id"];

pub(super) fn plan(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    let routing = routing(payload);
    let event = delivery.event;
    if event == WebhookEvent::CallRailSms {
        return plan_message(delivery, payload, routing);
    }
    let call_id = payload.required_text(CALL_ID)?;
    let facts = call_facts(payload, &call_id);
    let inbound_missed =
        facts.direction != Some(Direction::Outbound) && facts.answered == Some(false);
    let recording = payload.text("recording").map(|url| RecordingFacts {
        call_external_id: call_id.clone(),
        external_id: format!("{call_id}:recording"),
        url,
        duration_seconds: payload.seconds("recording_duration"),
    });
    let mut plan = Plan {
        event,
        event_name: event.name().to_owned(),
        external_id: call_id.clone(),
        routing,
        effects: Vec::new(),
        jobs: Vec::new(),
    };
    match event {
        WebhookEvent::CallRailPreCall => plan.effects.push(Effect::RecordCall {
            change: CallChange::Open,
            facts,
        }),
        _ => {
            if event == WebhookEvent::CallRailCallModified {
                // CallRail sends call-modified once per change, all for one call id:
                // the body's digest tells the changes apart, a retry repeats it.
                plan.external_id = format!("{call_id}:{}", &delivery.body_digest()[..16]);
            }
            plan.effects.push(Effect::RecordCall {
                change: CallChange::Update,
                facts,
            });
            if event == WebhookEvent::CallRailCallComplete && inbound_missed {
                // Both are queued for every missed call; each checks the company's
                // settings (and quiet hours) when it runs, so a change applies to
                // calls already waiting.
                for kind in [JobKind::MissedCallRecovery, JobKind::AiFollowUp] {
                    plan.jobs.push(JobSpec {
                        kind,
                        subject: format!("callrail:{call_id}"),
                        payload: json!({"provider": "callrail", "call_external_id": call_id}),
                    });
                }
            }
            if let Some(recording) = recording {
                plan.jobs.push(JobSpec {
                    kind: JobKind::Transcription,
                    subject: format!("callrail:{}", recording.external_id),
                    payload: json!({
                        "provider": "callrail",
                        "call_external_id": call_id,
                        "recording_external_id": recording.external_id,
                        "url": recording.url,
                    }),
                });
                plan.effects.push(Effect::StoreRecording(recording));
            }
        }
    }
    Ok(plan)
}

fn routing(payload: &Payload) -> Routing {
    Routing::Accounts(
        ["company_resource_id", "company_id"]
            .iter()
            .filter_map(|field| payload.text(field))
            .map(|id| AccountRef::new(Provider::CallRail, id))
            .collect(),
    )
}

fn call_facts(payload: &Payload, call_id: &str) -> CallFacts {
    CallFacts {
        direction: payload
            .text("direction")
            .and_then(|direction| Direction::parse(&direction.to_ascii_lowercase())),
        customer_name: payload.text("customer_name"),
        customer_number: payload.first_text(&[
            "customer_phone_number",
            "customer_number",
            "callernum",
        ]),
        answered: payload.flag("answered"),
        duration_seconds: payload.seconds("duration"),
        started_at: payload
            .time("start_time")
            .or_else(|| payload.time("created_at")),
        ..CallFacts::about(call_id)
    }
}

fn plan_message(
    delivery: &Delivery,
    payload: &Payload,
    routing: Routing,
) -> Result<Plan, PayloadError> {
    let message_id = payload.required_text(MESSAGE_ID)?;
    // CallRail marks the texts a company sends with the sending `agent`; an explicit
    // `direction` wins.
    let direction = match payload.text("direction").map(|d| d.to_ascii_lowercase()) {
        Some(direction) if direction.starts_with("out") => Direction::Outbound,
        Some(_) => Direction::Inbound,
        None if payload.value("agent").is_some_and(|agent| !agent.is_null()) => Direction::Outbound,
        None => Direction::Inbound,
    };
    let customer_field = match direction {
        Direction::Inbound => "source_number",
        Direction::Outbound => "destination_number",
    };
    let customer_number = payload.required_text(&[customer_field])?;
    let body = payload.text("content").unwrap_or_default();
    let mut effects = Vec::new();
    if direction == Direction::Inbound {
        match OptKeyword::of(&body) {
            Some(OptKeyword::OptOut) => effects.push(Effect::OptOut {
                customer_number: customer_number.clone(),
            }),
            Some(OptKeyword::OptIn) => effects.push(Effect::OptIn {
                customer_number: customer_number.clone(),
            }),
            None => {}
        }
    }
    effects.insert(
        0,
        Effect::StoreMessage(MessageFacts {
            external_id: message_id.clone(),
            direction,
            customer_number,
            body,
            sent_at: payload.time("timestamp").unwrap_or(delivery.received_at),
        }),
    );
    Ok(Plan {
        event: delivery.event,
        event_name: delivery.event.name().to_owned(),
        external_id: message_id,
        routing,
        effects,
        jobs: Vec::new(),
    })
}
