//! Twilio deliveries (form-encoded): call status callbacks, inbound texts and
//! recording status callbacks.

use serde_json::json;

use super::delivery::{Delivery, OptKeyword};
use super::event::{Provider, WebhookEvent};
use super::payload::{Payload, PayloadError};
use super::plan::{
    AccountRef, CallChange, CallFacts, Effect, JobSpec, MessageFacts, Plan, RecordingFacts, Routing,
};
use crate::calls::Direction;
use crate::jobs::JobKind;

pub(super) fn plan(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    match delivery.event {
        WebhookEvent::TwilioSms => plan_message(delivery, payload),
        WebhookEvent::TwilioRecording => plan_recording(delivery, payload),
        _ => plan_call_status(delivery, payload),
    }
}

/// The company's side first (its number, then its account): the number is the finer
/// mapping when one Twilio account serves several tenants.
fn routing(payload: &Payload, company_number: Option<String>) -> Routing {
    Routing::Accounts(
        company_number
            .into_iter()
            .chain(payload.text("AccountSid"))
            .map(|id| AccountRef::new(Provider::Twilio, id))
            .collect(),
    )
}

fn base_plan(delivery: &Delivery, external_id: String, routing: Routing) -> Plan {
    Plan {
        event: delivery.event,
        event_name: delivery.event.name().to_owned(),
        external_id,
        routing,
        effects: Vec::new(),
        jobs: Vec::new(),
    }
}

fn plan_call_status(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    let call_sid = payload.required_text(&["CallSid"])?;
    let status = payload.required_text(&["CallStatus"])?.to_ascii_lowercase();
    let inbound = payload
        .text("Direction")
        .is_none_or(|direction| direction.eq_ignore_ascii_case("inbound"));
    let (customer, company) = if inbound {
        (payload.text("From"), payload.text("To"))
    } else {
        (payload.text("To"), payload.text("From"))
    };
    // Twilio calls back once per status of a call: the status (and the sequence
    // number, when sent) is part of the key, a retry repeats both.
    let mut external_id = format!("{call_sid}:{status}");
    if let Some(sequence) = payload.text("SequenceNumber") {
        external_id = format!("{external_id}:{sequence}");
    }
    let facts = CallFacts {
        direction: Some(if inbound {
            Direction::Inbound
        } else {
            Direction::Outbound
        }),
        customer_name: payload.text("CallerName"),
        customer_number: customer,
        // Only a connected call proves an answer; earlier statuses leave it as is.
        answered: matches!(status.as_str(), "in-progress" | "completed").then_some(true),
        duration_seconds: payload.seconds("CallDuration"),
        started_at: payload.time("Timestamp"),
        ..CallFacts::about(&call_sid)
    };
    let mut plan = base_plan(delivery, external_id, routing(payload, company));
    plan.effects.push(Effect::RecordCall {
        change: CallChange::Update,
        facts,
    });
    Ok(plan)
}

fn plan_message(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    let message_sid = payload.required_text(&["MessageSid", "SmsSid"])?;
    let customer_number = payload.required_text(&["From"])?;
    let body = payload.text("Body").unwrap_or_default();
    let mut plan = base_plan(
        delivery,
        message_sid.clone(),
        routing(payload, payload.text("To")),
    );
    plan.effects.push(Effect::StoreMessage(MessageFacts {
        external_id: message_sid,
        direction: Direction::Inbound,
        customer_number: customer_number.clone(),
        body: body.clone(),
        sent_at: delivery.received_at,
    }));
    match OptKeyword::of(&body) {
        Some(OptKeyword::OptOut) => plan.effects.push(Effect::OptOut { customer_number }),
        Some(OptKeyword::OptIn) => plan.effects.push(Effect::OptIn { customer_number }),
        None => {}
    }
    Ok(plan)
}

fn plan_recording(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    let recording_sid = payload.required_text(&["RecordingSid"])?;
    let call_sid = payload.required_text(&["CallSid"])?;
    let status = payload
        .text("RecordingStatus")
        .unwrap_or_else(|| "completed".to_owned())
        .to_ascii_lowercase();
    let mut plan = base_plan(
        delivery,
        format!("{recording_sid}:{status}"),
        routing(payload, None),
    );
    // Only a completed recording has audio; in-progress and absent are kept in the
    // ledger and change nothing.
    if status == "completed" {
        let url = payload.required_text(&["RecordingUrl"])?;
        plan.jobs.push(JobSpec {
            kind: JobKind::Transcription,
            subject: format!("twilio:{recording_sid}"),
            payload: json!({
                "provider": "twilio",
                "call_external_id": call_sid,
                "recording_external_id": recording_sid,
                "url": url,
            }),
        });
        plan.effects.push(Effect::StoreRecording(RecordingFacts {
            call_external_id: call_sid,
            external_id: recording_sid,
            url,
            duration_seconds: payload.seconds("RecordingDuration"),
        }));
    }
    Ok(plan)
}
