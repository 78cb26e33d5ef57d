//! `otto-server webhooks ...`: the delivery log from the command line, with the
//! platform's view (every tenant's deliveries and the unroutable ones).

use std::sync::Arc;

use otto_core::calls::MAX_PAGE_SIZE;
use otto_core::ports::{DeliveryFilter, DeliveryOutcome, LogScope, LoggedDelivery};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{Provider, ReplayError};
use uuid::Uuid;

use super::store;
use crate::cli::WebhooksAction;
use crate::config::Config;
use crate::http::routes::webhook_deliveries::DeliveryDetail;

fn delivery_line(delivery: &LoggedDelivery) -> String {
    format!(
        "{}  {}  {:<8} {:<22} {:<17} {:<14} {}{}",
        delivery.id,
        delivery.received_at.format("%Y-%m-%dT%H:%M:%SZ"),
        delivery.provider().as_str(),
        delivery.event,
        delivery.outcome.as_str(),
        delivery.tenant.as_ref().map_or("-", TenantId::as_str),
        delivery.external_id.as_deref().unwrap_or("-"),
        if delivery.conflict { "  conflict" } else { "" },
    )
}

fn filter(
    tenant: Option<String>,
    provider: Option<String>,
    event: Option<String>,
    outcome: Option<String>,
) -> Result<DeliveryFilter, String> {
    Ok(DeliveryFilter {
        tenant: tenant
            .map(|tenant| TenantId::parse(&tenant).map_err(|error| error.to_string()))
            .transpose()?,
        provider: provider
            .map(|name| {
                Provider::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
                    format!("unknown provider `{name}`: expected callrail, twilio, clerk or bland")
                })
            })
            .transpose()?,
        event,
        outcome: outcome
            .map(|name| {
                DeliveryOutcome::parse(&name.to_ascii_lowercase()).ok_or_else(|| {
                    format!(
                        "unknown outcome `{name}`: expected processed, duplicate_ignored, \
                         failed or unroutable"
                    )
                })
            })
            .transpose()?,
        from: None,
        to: None,
    })
}

fn parse_id(text: &str) -> Result<Uuid, String> {
    Uuid::parse_str(text).map_err(|_| format!("`{text}` is not a delivery id"))
}

fn as_json(delivery: &LoggedDelivery) -> Result<String, String> {
    let detail = DeliveryDetail::from(delivery);
    serde_json::to_string_pretty(&poem_openapi::types::ToJSON::to_json(&detail))
        .map_err(|error| error.to_string())
}

/// `otto-server webhooks ...`
pub async fn webhooks(config: &Config, action: WebhooksAction) -> Result<String, String> {
    let store = Arc::new(store(config).await?);
    let ingestion = crate::state::webhook_ingestion(config, store.clone());
    match action {
        WebhooksAction::List {
            tenant,
            provider,
            event,
            outcome,
            limit,
        } => {
            let filter = filter(tenant, provider, event, outcome)?;
            let page = ingestion
                .log()
                .list(
                    &LogScope::Platform,
                    &filter,
                    None,
                    limit.clamp(1, MAX_PAGE_SIZE),
                )
                .await
                .map_err(|error| error.to_string())?;
            Ok(page
                .items
                .iter()
                .map(delivery_line)
                .collect::<Vec<_>>()
                .join("\n"))
        }
        WebhooksAction::Show { id } => {
            let delivery = ingestion
                .log()
                .get(&LogScope::Platform, parse_id(&id)?)
                .await
                .map_err(|error| error.to_string())?
                .ok_or_else(|| format!("no delivery {id}"))?;
            as_json(&delivery)
        }
        WebhooksAction::Replay {
            id: Some(id),
            force,
            ..
        } => {
            let id = parse_id(&id)?;
            let replayed = ingestion
                .replay(&LogScope::Platform, id, force)
                .await
                .map_err(|error| match error {
                    ReplayError::NotFound => format!("no delivery {id}"),
                    other => other.to_string(),
                })?;
            let delivery = &replayed.delivery;
            let tenant_of =
                |tenant: Option<&TenantId>| tenant.map_or("-", TenantId::as_str).to_owned();
            tracing::info!(
                delivery_id = %id,
                outcome = delivery.outcome.as_str(),
                logged_for = tenant_of(replayed.logged_for.as_ref()),
                replayed_into = tenant_of(delivery.tenant.as_ref()),
                forced = force,
                "webhook delivery replayed by an operator"
            );
            let moved = if replayed.moved() {
                format!(
                    "\nnote: applied to tenant {}, not {} that it was logged for: its account was linked elsewhere since",
                    tenant_of(delivery.tenant.as_ref()),
                    tenant_of(replayed.logged_for.as_ref()),
                )
            } else {
                String::new()
            };
            Ok(format!("{}{moved}", delivery_line(delivery)))
        }
        WebhooksAction::Replay {
            id: None, limit, ..
        } => {
            let report = ingestion
                .replay_unroutable(limit)
                .await
                .map_err(|error| error.to_string())?;
            tracing::info!(
                processed = report.processed,
                duplicates = report.duplicates,
                still_unroutable = report.still_unroutable,
                failed = report.failed,
                "unroutable deliveries replayed"
            );
            Ok(format!(
                "processed {}, duplicates {}, still unroutable {}, failed {}",
                report.processed, report.duplicates, report.still_unroutable, report.failed
            ))
        }
    }
}
