//! `/api/v1/webhooks/deliveries`: the delivery log. Leadership sees its company's
//! deliveries; a platform-admin API token sees every tenant's and the unroutable
//! ones. Both may replay what they see.

use chrono::{DateTime, Utc};
use otto_core::ports::{DeliveryCursor, DeliveryFilter, DeliveryOutcome, LoggedDelivery};
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{DeliveriesError, Provider, ReplayError, WebhookDeliveries};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::Example;
use poem_openapi::{Enum, Object, OpenApi};
use uuid::Uuid;

use super::{
    ApiTags, bad_parameter, page_cursor, page_limit, problem, role_refusal, store_failure,
    time_out_of_range,
};
use crate::http::auth::Caller;
use crate::http::problem::ProblemKind;
use crate::state::AppState;

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied: the first delivery of its idempotency key.
    Processed,
    /// Its key had been processed already; nothing was applied.
    DuplicateIgnored,
    /// Its body could not be read or applying it failed; nothing was applied.
    Failed,
    /// No tenant was linked to its provider account; waiting for a replay.
    Unroutable,
}

impl From<DeliveryOutcome> for Outcome {
    fn from(outcome: DeliveryOutcome) -> Self {
        match outcome {
            DeliveryOutcome::Processed => Outcome::Processed,
            DeliveryOutcome::DuplicateIgnored => Outcome::DuplicateIgnored,
            DeliveryOutcome::Failed => Outcome::Failed,
            DeliveryOutcome::Unroutable => Outcome::Unroutable,
        }
    }
}

impl From<Outcome> for DeliveryOutcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Processed => DeliveryOutcome::Processed,
            Outcome::DuplicateIgnored => DeliveryOutcome::DuplicateIgnored,
            Outcome::Failed => DeliveryOutcome::Failed,
            Outcome::Unroutable => DeliveryOutcome::Unroutable,
        }
    }
}

/// One logged delivery, without its body.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct DeliverySummary {
    /// Otto's id of the delivery (the `delivery_id` of the webhook's answer).
    pub id: Uuid,
    /// `callrail`, `twilio`, `clerk` or `bland`.
    pub provider: String,
    /// The path it was posted to.
    pub route: String,
    /// Its event: Clerk's event type, else the route's name (`call-complete`).
    pub event: String,
    /// The provider's id of what it is about, once its body could be read.
    pub external_id: Option<String>,
    /// The tenant it was routed to; absent while unroutable and for platform events.
    pub tenant_id: Option<String>,
    /// What became of it (the latest replay's outcome, if replayed).
    pub outcome: Outcome,
    /// A duplicate whose body differed from its key's first delivery.
    pub conflict: bool,
    /// Deliveries of its idempotency key so far when it arrived, this one included.
    pub attempts: i32,
    /// Why it failed.
    pub error: Option<String>,
    /// Hex SHA-256 of the body as received.
    pub body_digest: String,
    /// The request id of the request that carried it: the `trace_id` of its logs.
    pub trace_id: Option<String>,
    /// When Otto received it.
    pub received_at: DateTime<Utc>,
    /// How many times it was replayed.
    pub replays: i32,
    /// When it was last replayed.
    pub last_replayed_at: Option<DateTime<Utc>>,
}

impl From<&LoggedDelivery> for DeliverySummary {
    fn from(delivery: &LoggedDelivery) -> Self {
        DeliverySummary {
            id: delivery.id,
            provider: delivery.provider().as_str().to_owned(),
            route: delivery.route.path(),
            event: delivery.event.clone(),
            external_id: delivery.external_id.clone(),
            tenant_id: delivery.tenant.as_ref().map(ToString::to_string),
            outcome: delivery.outcome.into(),
            conflict: delivery.conflict,
            attempts: delivery.attempts,
            error: delivery.error.clone(),
            body_digest: delivery.body_digest.clone(),
            trace_id: delivery.trace_id.clone(),
            received_at: delivery.received_at,
            replays: delivery.replays,
            last_replayed_at: delivery.last_replayed_at,
        }
    }
}

impl Example for DeliverySummary {
    fn example() -> Self {
        DeliverySummary {
            id: Uuid::from_u128(0x0193_6f2a_8c1d_7e4b_9a2f_3c5d_7e9f_1a2b),
            provider: "callrail".into(),
            route: "/webhook/callrail/call-complete".into(),
            event: "call-complete".into(),
            external_id: Some("CAL8154748ae6bd4e278a7cddd38a662f4f".into()),
            tenant_id: Some("org_2abcXYZ".into()),
            outcome: Outcome::Processed,
            conflict: false,
            attempts: 1,
            error: None,
            body_digest: "a1b2".repeat(16),
            trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            received_at: DateTime::parse_from_rfc3339("2026-11-26T09:30:00Z")
                .map(|time| time.to_utc())
                .unwrap_or_default(),
            replays: 0,
            last_replayed_at: None,
        }
    }
}

/// One logged delivery with its body.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct DeliveryDetail {
    /// The delivery.
    #[oai(flatten)]
    pub summary: DeliverySummary,
    /// Its `Content-Type`.
    pub content_type: Option<String>,
    /// The body as text (invalid UTF-8 replaced): as received while it waits to be
    /// processed or when OTTO_STORE_WEBHOOK_BODIES is on, else with personal data
    /// redacted.
    pub body: String,
    /// Whether `body` is the redacted form (a forced replay then is refused).
    pub body_redacted: bool,
    /// The provider accounts it names (`provider:id`, comma separated).
    pub accounts: String,
}

impl From<&LoggedDelivery> for DeliveryDetail {
    fn from(delivery: &LoggedDelivery) -> Self {
        DeliveryDetail {
            summary: delivery.into(),
            content_type: delivery.content_type.clone(),
            body: String::from_utf8_lossy(&delivery.body).into_owned(),
            body_redacted: delivery.body_redacted,
            accounts: delivery.accounts.clone(),
        }
    }
}

impl Example for DeliveryDetail {
    fn example() -> Self {
        DeliveryDetail {
            summary: DeliverySummary::example(),
            content_type: Some("application/json".into()),
            body: r#"{"resource_id":"CAL8154748ae6bd4e278a7cddd38a662f4f","customer_name":"[REDACTED]","customer_phone_number":"[REDACTED_PHONE]","answered":false}"#.into(),
            body_redacted: true,
            accounts: "callrail:COM8154748ae6bd4e278a7cddd38a662f4f".into(),
        }
    }
}

/// A page of logged deliveries.
#[derive(Debug, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct DeliveryPage {
    /// The deliveries, newest first.
    pub items: Vec<DeliverySummary>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl Example for DeliveryPage {
    fn example() -> Self {
        DeliveryPage {
            items: vec![DeliverySummary::example()],
            next_cursor: None,
        }
    }
}

problem_responses!(
    /// Problems of reading the delivery log.
    DeliveryReadErrors, not_found: NotFound, {
    /// A parameter is invalid; `errors` names it.
    400 BadRequest,
    /// The credential is refused, or the caller is neither leadership nor a platform
    /// admin.
    403 Forbidden,
    /// No such delivery that the caller may see.
    404 NotFound,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

problem_responses!(
    /// Problems of replaying a delivery.
    ReplayErrors, not_found: NotFound, {
    /// The id or `force` is invalid.
    400 BadRequest,
    /// The credential is refused, or the caller is neither leadership nor a platform
    /// admin.
    403 Forbidden,
    /// No such delivery that the caller may see.
    404 NotFound,
    /// The delivery was processed already (replay with `force=true` to apply it
    /// again), only its redacted body was kept so it cannot be re-applied, or a
    /// company's replay would now be applied to another company (its account was
    /// linked elsewhere since) or change the platform's directory (Clerk's); a
    /// platform operator can replay those.
    409 Conflict,
    /// The database is unavailable; retry after `Retry-After` seconds.
    503 Unavailable,
});

impl From<DeliveriesError> for DeliveryReadErrors {
    fn from(error: DeliveriesError) -> Self {
        match error {
            DeliveriesError::Forbidden(refusal) => {
                DeliveryReadErrors::Forbidden(role_refusal("The webhook delivery log", &refusal))
            }
            DeliveriesError::NotFound => DeliveryReadErrors::NotFound(problem(
                ProblemKind::NotFound,
                "No delivery with this id.",
            )),
            DeliveriesError::Store(error) => store_failure(error).into(),
            DeliveriesError::Replay(error) => {
                tracing::error!(error = %error, "reading the delivery log failed");
                DeliveryReadErrors::Internal(problem(
                    ProblemKind::Internal,
                    "An internal error occurred; quote the trace_id to support.",
                ))
            }
        }
    }
}

impl From<DeliveriesError> for ReplayErrors {
    fn from(error: DeliveriesError) -> Self {
        match error {
            DeliveriesError::Forbidden(refusal) => {
                ReplayErrors::Forbidden(role_refusal("Replaying a delivery", &refusal))
            }
            DeliveriesError::NotFound => {
                ReplayErrors::NotFound(problem(ProblemKind::NotFound, "No delivery with this id."))
            }
            DeliveriesError::Store(error) => store_failure(error).into(),
            DeliveriesError::Replay(
                error @ (ReplayError::AlreadyApplied(_)
                | ReplayError::BodyRedacted
                | ReplayError::RoutesElsewhere
                | ReplayError::PlatformDelivery),
            ) => ReplayErrors::Conflict(problem(
                ProblemKind::Conflict,
                format!("Not replayed: {error}."),
            )),
            DeliveriesError::Replay(error) => {
                tracing::error!(error = %error, "replaying a delivery failed");
                ReplayErrors::Internal(problem(
                    ProblemKind::Internal,
                    "An internal error occurred; quote the trace_id to support.",
                ))
            }
        }
    }
}

/// The delivery-log operations.
#[derive(Debug, Clone)]
pub struct WebhookDeliveriesApi {
    deliveries: WebhookDeliveries,
}

impl WebhookDeliveriesApi {
    /// Operations over the state's webhook ingestion and role map.
    pub fn new(state: &AppState) -> Self {
        WebhookDeliveriesApi {
            deliveries: WebhookDeliveries::new(
                (*state.webhooks).clone(),
                state.config.roles.clone(),
            ),
        }
    }
}

/// The filter the list's query parameters ask for.
struct ListQuery {
    provider: Option<String>,
    event: Option<String>,
    outcome: Option<Outcome>,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    tenant_id: Option<String>,
}

impl ListQuery {
    fn filter(self) -> Result<DeliveryFilter, DeliveryReadErrors> {
        let bad = |name: &str, message: &str| {
            DeliveryReadErrors::BadRequest(bad_parameter(name, message))
        };
        if let Some(problem) = time_out_of_range(&[("from", self.from), ("to", self.to)]) {
            return Err(DeliveryReadErrors::BadRequest(problem));
        }
        if let (Some(from), Some(to)) = (self.from, self.to)
            && to <= from
        {
            return Err(bad("to", "must be after `from`"));
        }
        let provider = match self.provider.as_deref() {
            None | Some("") => None,
            Some(name) => Some(
                Provider::parse(name)
                    .ok_or_else(|| bad("provider", "must be callrail, twilio, clerk or bland"))?,
            ),
        };
        let tenant = match self.tenant_id.as_deref() {
            None | Some("") => None,
            Some(id) => {
                Some(TenantId::parse(id).map_err(|_| bad("tenant_id", "is not a tenant id"))?)
            }
        };
        if self.event.as_ref().is_some_and(|event| event.len() > 100) {
            return Err(bad("event", "must be at most 100 characters"));
        }
        Ok(DeliveryFilter {
            provider,
            event: self.event.filter(|event| !event.is_empty()),
            outcome: self.outcome.map(Into::into),
            from: self.from,
            to: self.to,
            tenant,
        })
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Webhooks")]
impl WebhookDeliveriesApi {
    /// The webhook deliveries the caller may see, newest first, with cursor
    /// pagination: the company's for leadership, every tenant's and the unroutable
    /// ones for a platform-admin API token. Filters combine.
    #[allow(clippy::too_many_arguments)]
    #[oai(
        path = "/webhooks/deliveries",
        method = "get",
        operation_id = "listWebhookDeliveries"
    )]
    async fn list(
        &self,
        caller: Caller,
        /// Only this provider's: `callrail`, `twilio`, `clerk` or `bland`.
        provider: Query<Option<String>>,
        /// Only this event's (`call-complete`, `user.created`).
        event: Query<Option<String>>,
        /// Only those with this outcome.
        outcome: Query<Option<Outcome>>,
        /// Received at or after this time (RFC 3339).
        from: Query<Option<DateTime<Utc>>>,
        /// Received before this time (RFC 3339).
        to: Query<Option<DateTime<Utc>>>,
        /// Platform admins: only this tenant's (a company's caller always sees its
        /// own).
        tenant_id: Query<Option<String>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<String>>,
        /// Deliveries per page (1-100, default 50).
        limit: Query<Option<u32>>,
    ) -> Result<Json<DeliveryPage>, DeliveryReadErrors> {
        let filter = ListQuery {
            provider: provider.0,
            event: event.0,
            outcome: outcome.0,
            from: from.0,
            to: to.0,
            tenant_id: tenant_id.0,
        }
        .filter()?;
        let limit = page_limit(limit.0).map_err(DeliveryReadErrors::BadRequest)?;
        let cursor = page_cursor(cursor.0, DeliveryCursor::decode)
            .map_err(DeliveryReadErrors::BadRequest)?;
        let page = self
            .deliveries
            .list(&caller.0, &filter, cursor, limit)
            .await?;
        Ok(Json(DeliveryPage {
            items: page.items.iter().map(Into::into).collect(),
            next_cursor: page.next.map(|next| next.encode()),
        }))
    }

    /// One delivery with its body.
    #[oai(
        path = "/webhooks/deliveries/:id",
        method = "get",
        operation_id = "getWebhookDelivery"
    )]
    async fn get(
        &self,
        caller: Caller,
        /// The delivery's id.
        id: Path<Uuid>,
    ) -> Result<Json<DeliveryDetail>, DeliveryReadErrors> {
        let delivery = self.deliveries.get(&caller.0, id.0).await?;
        Ok(Json((&delivery).into()))
    }

    /// Runs a delivery again through the same exactly-once processing and returns it
    /// as logged afterwards. A failed or unroutable one is processed (or stays as it
    /// was, with the new error). A processed or duplicate one is refused with 409
    /// unless `force=true`, which applies its domain changes again (each is an
    /// idempotent upsert) without queuing any job: no text message or call goes out
    /// twice.
    #[oai(
        path = "/webhooks/deliveries/:id/replay",
        method = "post",
        operation_id = "replayWebhookDelivery"
    )]
    async fn replay(
        &self,
        caller: Caller,
        /// The delivery's id.
        id: Path<Uuid>,
        /// Re-apply a delivery that was processed already.
        force: Query<Option<bool>>,
    ) -> Result<Json<DeliveryDetail>, ReplayErrors> {
        let id = id.0;
        let replayed = self
            .deliveries
            .replay(&caller.0, id, force.0.unwrap_or(false))
            .await?;
        let delivery = &replayed.delivery;
        let tenant_of = |tenant: Option<&TenantId>| tenant.map_or("-", TenantId::as_str).to_owned();
        if replayed.moved() {
            tracing::warn!(
                operator = %caller.0.user_id,
                delivery_id = %id,
                logged_for = tenant_of(replayed.logged_for.as_ref()),
                replayed_into = tenant_of(delivery.tenant.as_ref()),
                "a platform replay applied a delivery to another tenant than it was logged for"
            );
        }
        tracing::info!(
            operator = %caller.0.user_id,
            delivery_id = %id,
            outcome = delivery.outcome.as_str(),
            replayed_into = tenant_of(delivery.tenant.as_ref()),
            forced = force.0.unwrap_or(false),
            "webhook delivery replayed"
        );
        Ok(Json(delivery.into()))
    }
}
