//! Clerk deliveries (through Svix): organizations, users and memberships.

use serde_json::Value;

use super::delivery::Delivery;
use super::payload::{Payload, PayloadError};
use super::plan::{Effect, Plan, Routing, TenantFacts, UserFacts};
use crate::tenancy::{Role, TenantId, UserId};

fn tenant_at(payload: &Payload, path: &str) -> Result<TenantId, PayloadError> {
    payload
        .text(path)
        .and_then(|id| TenantId::parse(&id).ok())
        .ok_or_else(|| PayloadError::InvalidField(path.to_owned()))
}

fn user_at(payload: &Payload, path: &str) -> Result<UserId, PayloadError> {
    payload
        .text(path)
        .and_then(|id| UserId::parse(&id).ok())
        .ok_or_else(|| PayloadError::InvalidField(path.to_owned()))
}

/// The user's primary email address, from Clerk's list of addresses.
fn primary_email(payload: &Payload) -> Option<String> {
    let primary = payload.text("data.primary_email_address_id");
    let addresses = payload.value("data.email_addresses")?.as_array()?;
    let address_of = |entry: &Value| {
        entry
            .get("email_address")
            .and_then(Value::as_str)
            .map(|address| crate::validation::without_nul(address.trim().to_owned()))
            .filter(|address| !address.is_empty())
    };
    addresses
        .iter()
        .find(|entry| {
            primary.is_some() && entry.get("id").and_then(Value::as_str) == primary.as_deref()
        })
        .or_else(|| addresses.first())
        .and_then(address_of)
}

fn full_name(payload: &Payload) -> Option<String> {
    let parts: Vec<String> = ["data.first_name", "data.last_name"]
        .iter()
        .filter_map(|path| payload.text(path))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

pub(super) fn plan(delivery: &Delivery, payload: &Payload) -> Result<Plan, PayloadError> {
    let event_type = payload.required_text(&["type"])?;
    // Svix's message id is the event id, constant across retries; the body has none,
    // so `event_id` and the object's id are fallbacks for deliveries without Svix.
    let external_id = match &delivery.message_id {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => payload.required_text(&["event_id", "data.id"])?,
    };
    let (owner, effects) = match event_type.as_str() {
        "organization.created" | "organization.updated" => {
            let id = tenant_at(payload, "data.id")?;
            let facts = TenantFacts {
                id: id.clone(),
                name: payload.text("data.name"),
                slug: payload.text("data.slug"),
            };
            (Some(id), vec![Effect::SaveTenant(facts)])
        }
        "organization.deleted" => {
            let id = tenant_at(payload, "data.id")?;
            (Some(id.clone()), vec![Effect::DeleteTenant(id)])
        }
        "user.created" | "user.updated" => {
            let facts = UserFacts {
                id: user_at(payload, "data.id")?,
                email: primary_email(payload),
                name: full_name(payload),
            };
            (None, vec![Effect::SaveUser(facts)])
        }
        "user.deleted" => (None, vec![Effect::DeleteUser(user_at(payload, "data.id")?)]),
        "organizationMembership.created" | "organizationMembership.updated" => {
            let tenant = tenant_at(payload, "data.organization.id")?;
            let user = user_at(payload, "data.public_user_data.user_id")?;
            let role = payload
                .text("data.role")
                .and_then(|role| Role::parse(&role).ok())
                .ok_or_else(|| PayloadError::InvalidField("data.role".to_owned()))?;
            (
                Some(tenant.clone()),
                vec![Effect::SaveMembership { tenant, user, role }],
            )
        }
        "organizationMembership.deleted" => {
            let tenant = tenant_at(payload, "data.organization.id")?;
            let user = user_at(payload, "data.public_user_data.user_id")?;
            (
                Some(tenant.clone()),
                vec![Effect::DeleteMembership { tenant, user }],
            )
        }
        // Sessions, invitations, billing: recorded once, no change to Otto's data.
        _ => (None, Vec::new()),
    };
    Ok(Plan {
        event: delivery.event,
        event_name: event_type,
        external_id,
        routing: Routing::Platform { owner },
        effects,
        jobs: Vec::new(),
    })
}
