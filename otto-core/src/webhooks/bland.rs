//! Bland AI deliveries: the call object Bland posts when an AI call ends.

use super::delivery::Delivery;
use super::payload::{Payload, PayloadError};
use super::plan::{AiCallFacts, Effect, Plan, Routing};
use crate::tenancy::TenantId;

pub(super) fn plan(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    let call_id = payload.required_text(&["call_id", "session_id"])?;
    // Otto starts every Bland call with its tenant in the metadata; a call without a
    // valid one (started elsewhere) is kept as unroutable.
    let routing = match payload
        .text("metadata.tenant_id")
        .and_then(|tenant| TenantId::parse(&tenant).ok())
    {
        Some(tenant) => Routing::Tenant(tenant),
        None => Routing::Accounts(Vec::new()),
    };
    let duration_seconds = payload.seconds("corrected_duration").or_else(|| {
        let minutes: f64 = payload.text("call_length")?.parse().ok()?;
        (0.0..1e6)
            .contains(&minutes)
            .then(|| (minutes * 60.0).round() as i32)
    });
    let facts = AiCallFacts {
        external_id: call_id.clone(),
        to_number: payload.text("to"),
        status: payload.text("status"),
        completed: payload.flag("completed").unwrap_or(false),
        duration_seconds,
        summary: payload.text("summary"),
        transcript: payload.text("concatenated_transcript"),
        recording_url: payload.text("recording_url"),
    };
    Ok(Plan {
        event: delivery.event,
        event_name: delivery.event.name().to_owned(),
        external_id: call_id,
        routing,
        effects: vec![Effect::StoreAiCall(facts)],
        jobs: Vec::new(),
    })
}
