//! `/webhook/...`: provider deliveries, authenticated by their signatures (no JWT)
//! and applied exactly once (see `docs/webhooks.md`).

use chrono::{DateTime, Utc};
use otto_core::ports::StoreError;
use otto_core::webhooks::{Delivery, IngestError, PayloadError, Provider, Receipt, WebhookEvent};
use poem::Request;
use poem_openapi::param::Header;
use poem_openapi::payload::{Json, PlainText};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};

use super::{ApiTags, problem};
use crate::http::problem::{ApiError, FieldError, ProblemBody, ProblemKind};
use crate::http::raw_body::{FormDelivery, JsonDelivery, RawBody};
use crate::state::AppState;
use crate::telemetry::metrics::{ProviderLabels, WebhookFailureLabels, WebhookLabels};

/// The empty TwiML document: Twilio sends nothing back to the texter.
pub const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response/>";

/// What became of a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ReceiptStatus {
    /// First delivery of its idempotency key: applied.
    Processed,
    /// Its key was already processed; nothing was applied again.
    DuplicateIgnored,
    /// No tenant is linked to its provider account; stored for replay.
    Unroutable,
}

impl ReceiptStatus {
    fn as_str(self) -> &'static str {
        match self {
            ReceiptStatus::Processed => "processed",
            ReceiptStatus::DuplicateIgnored => "duplicate_ignored",
            ReceiptStatus::Unroutable => "unroutable",
        }
    }
}

/// The answer to an accepted delivery.
#[derive(Debug, Clone, Object)]
#[oai(skip_serializing_if_is_none)]
#[oai(example)]
pub struct WebhookReceipt {
    /// `processed`, `duplicate_ignored` or `unroutable`.
    pub status: ReceiptStatus,
    /// `callrail`, `twilio`, `clerk` or `bland`.
    pub provider: String,
    /// This delivery's id in the delivery log (`GET /api/v1/webhooks/deliveries/{id}`).
    pub delivery_id: uuid::Uuid,
    /// For duplicates: when the first delivery was processed.
    #[oai(skip_serializing_if_is_none)]
    pub first_processed_at: Option<DateTime<Utc>>,
    /// For duplicates: the delivery-log id of the delivery that was processed.
    #[oai(skip_serializing_if_is_none)]
    pub first_delivery_id: Option<uuid::Uuid>,
}

/// An accepted delivery.
#[derive(Debug, ApiResponse)]
pub enum WebhookAccepted {
    /// Processed, ignored as a duplicate, or stored as unroutable.
    #[oai(status = 200)]
    Ok(
        Json<WebhookReceipt>,
        /// `true` on a duplicate: the answer replays the first delivery's outcome.
        #[oai(header = "Idempotent-Replayed")]
        Option<String>,
    ),
}

/// The `Idempotent-Replayed` header of a receipt.
fn replayed(receipt: &WebhookReceipt) -> Option<String> {
    (receipt.status == ReceiptStatus::DuplicateIgnored).then(|| "true".to_owned())
}

/// An accepted Twilio text message: empty TwiML, since Twilio would text a plain-text
/// body back to the customer.
#[derive(Debug, ApiResponse)]
pub enum TwimlAccepted {
    /// Empty TwiML; the outcome is in `X-Idempotency-Status`.
    #[oai(status = 200, content_type = "text/xml")]
    Ok(
        PlainText<String>,
        /// `processed`, `duplicate_ignored` or `unroutable`.
        #[oai(header = "X-Idempotency-Status")]
        String,
        /// `true` on a duplicate.
        #[oai(header = "Idempotent-Replayed")]
        Option<String>,
    ),
}

/// Why a delivery was refused. 4xx: the provider's retry would fail alike, nothing
/// was recorded. 5xx: nothing was recorded, the retry will be processed.
#[derive(Debug, ApiResponse)]
pub enum WebhookErrors {
    /// The body is not valid JSON or form data.
    #[oai(status = 400)]
    BadRequest(ProblemBody),
    /// The signature is missing, malformed, wrong, or (Svix) outside the 5-minute
    /// tolerance.
    #[oai(status = 401)]
    Unauthorized(ProblemBody),
    /// The request carries a browser `Origin` that is not allowed (providers send
    /// none).
    #[oai(status = 403)]
    Forbidden(ProblemBody),
    /// The body is larger than OTTO_MAX_BODY_BYTES.
    #[oai(status = 413)]
    PayloadTooLarge(ProblemBody),
    /// The body's media type is not the one this provider sends.
    #[oai(status = 415)]
    UnsupportedMediaType(ProblemBody),
    /// A field the event needs is missing or invalid.
    #[oai(status = 422)]
    Unprocessable(ProblemBody),
    /// An unexpected fault; nothing was recorded, so the provider's retry processes it.
    #[oai(status = 500)]
    Internal(ProblemBody),
    /// The database is unavailable; nothing was recorded, retry.
    #[oai(status = 503)]
    Unavailable(ProblemBody),
}

/// The webhook operations.
#[derive(Debug, Clone)]
pub struct WebhooksApi {
    state: AppState,
}

impl WebhooksApi {
    /// The operations over `state`.
    pub fn new(state: AppState) -> Self {
        WebhooksApi { state }
    }

    fn fail(&self, provider: Provider, tenant_id: &str, reason: &str) {
        self.state
            .metrics
            .webhook_failures
            .get_or_create(&WebhookFailureLabels {
                provider: provider.as_str().to_owned(),
                tenant_id: tenant_id.to_owned(),
                reason: reason.to_owned(),
            })
            .inc();
    }

    async fn receive(
        &self,
        event: WebhookEvent,
        request: &Request,
        body: RawBody,
    ) -> Result<WebhookReceipt, WebhookErrors> {
        let provider = event.provider();
        let now = Utc::now();
        let delivery = Delivery {
            event,
            content_type: body.content_type,
            body: body.bytes,
            message_id: request
                .header("svix-id")
                .or_else(|| request.header("webhook-id"))
                .map(str::to_owned),
            received_at: now,
            trace_context: crate::telemetry::trace_context::current_traceparent(),
            trace_id: crate::http::request_context::current()
                .map(|context| context.request_id.to_string()),
        };
        let verified = self
            .state
            .webhook_verifier
            .verify_with_accounts(
                request,
                &delivery,
                now.timestamp(),
                self.state.provider_accounts.as_ref(),
            )
            .await
            .map_err(|error| {
                self.fail(provider, "unknown", "storage");
                storage_problem(provider, event, error)
            })?;
        match verified {
            Ok(secret) => self
                .state
                .metrics
                .webhook_signature_verified
                .get_or_create(&crate::telemetry::metrics::SignatureLabels {
                    provider: provider.as_str().to_owned(),
                    secret: secret.as_str().to_owned(),
                })
                .inc(),
            Err(error) => {
                self.fail(provider, "unknown", error.reason());
                tracing::warn!(
                    provider = provider.as_str(),
                    event = event.name(),
                    reason = error.reason(),
                    "webhook signature refused"
                );
                return Err(WebhookErrors::Unauthorized(problem(
                    ProblemKind::Unauthorized,
                    format!("The delivery was refused: {error}."),
                )));
            }
        };
        match self.state.webhooks.receive(&delivery).await {
            Ok(receipt) => Ok(self.acknowledge(event, receipt)),
            Err(IngestError::Payload(error)) => {
                let reason = match error {
                    PayloadError::UnsupportedMediaType { .. } => "unsupported_media_type",
                    _ => "invalid_payload",
                };
                self.fail(provider, "unknown", reason);
                tracing::warn!(provider = provider.as_str(), event = event.name(), error = %error, "webhook body refused");
                Err(payload_problem(error))
            }
            Err(IngestError::Store(error)) => {
                self.fail(provider, "unknown", "storage");
                Err(storage_problem(provider, event, error))
            }
        }
    }

    fn acknowledge(&self, event: WebhookEvent, receipt: Receipt) -> WebhookReceipt {
        let provider = event.provider();
        let labels = |tenant: &Option<otto_core::tenancy::TenantId>| WebhookLabels {
            provider: provider.as_str().to_owned(),
            tenant_id: tenant
                .as_ref()
                .map_or_else(|| "platform".to_owned(), ToString::to_string),
        };
        let routed_to = match &receipt {
            Receipt::Processed { key, .. } | Receipt::Duplicate { key, .. } => key.tenant.as_ref(),
            _ => None,
        };
        if let Some(tenant) = routed_to {
            // The request span names the tenant a delivery was routed to, as it names
            // an API caller's.
            tracing::Span::current().record("tenant_id", tenant.as_str());
        }
        let (status, delivery_id, first) = match &receipt {
            Receipt::Processed { id, key } => {
                self.state
                    .metrics
                    .webhook_processed
                    .get_or_create(&labels(&key.tenant))
                    .inc();
                tracing::info!(
                    provider = provider.as_str(),
                    event = key.event.as_str(),
                    external_id = key.external_id.as_str(),
                    tenant_id = labels(&key.tenant).tenant_id,
                    "webhook processed"
                );
                (ReceiptStatus::Processed, *id, None)
            }
            Receipt::Duplicate {
                id,
                key,
                first_processed_at,
                attempts,
                first_body_digest,
                body_digest,
                first_delivery_id,
            } => {
                self.state
                    .metrics
                    .webhook_duplicates
                    .get_or_create(&labels(&key.tenant))
                    .inc();
                if first_body_digest != body_digest {
                    // Still 200 (a retry would conflict again), but never silent.
                    self.state
                        .metrics
                        .webhook_key_conflicts
                        .get_or_create(&ProviderLabels {
                            provider: provider.as_str().to_owned(),
                        })
                        .inc();
                    tracing::warn!(
                        provider = provider.as_str(),
                        event = key.event.as_str(),
                        external_id = key.external_id.as_str(),
                        first_body_digest = first_body_digest.as_str(),
                        body_digest = body_digest.as_str(),
                        "webhook key reused with a different body: ignored as a duplicate"
                    );
                }
                tracing::info!(
                    provider = provider.as_str(),
                    event = key.event.as_str(),
                    external_id = key.external_id.as_str(),
                    tenant_id = labels(&key.tenant).tenant_id,
                    attempts,
                    "webhook duplicate ignored"
                );
                (
                    ReceiptStatus::DuplicateIgnored,
                    *id,
                    Some((*first_processed_at, *first_delivery_id)),
                )
            }
            Receipt::Unroutable { id } => {
                self.state
                    .metrics
                    .webhook_unroutable
                    .get_or_create(&ProviderLabels {
                        provider: provider.as_str().to_owned(),
                    })
                    .inc();
                tracing::warn!(
                    provider = provider.as_str(),
                    event = event.name(),
                    delivery_id = %id,
                    "webhook unroutable: no tenant is linked to its account; stored for replay"
                );
                (ReceiptStatus::Unroutable, *id, None)
            }
        };
        WebhookReceipt {
            status,
            provider: provider.as_str().to_owned(),
            delivery_id,
            first_processed_at: first.map(|(at, _)| at),
            first_delivery_id: first.and_then(|(_, id)| id),
        }
    }

    /// The one path every webhook operation takes: verify, apply, acknowledge in the
    /// provider's form.
    async fn deliver<A: Acknowledgement>(
        &self,
        event: WebhookEvent,
        request: &Request,
        body: RawBody,
    ) -> Result<A, WebhookErrors> {
        Ok(A::of(self.receive(event, request, body).await?))
    }
}

/// How a provider is answered once its delivery is accepted.
trait Acknowledgement {
    fn of(receipt: WebhookReceipt) -> Self;
}

impl Acknowledgement for WebhookAccepted {
    fn of(receipt: WebhookReceipt) -> Self {
        let header = replayed(&receipt);
        WebhookAccepted::Ok(Json(receipt), header)
    }
}

impl Acknowledgement for TwimlAccepted {
    fn of(receipt: WebhookReceipt) -> Self {
        TwimlAccepted::Ok(
            PlainText(EMPTY_TWIML.to_owned()),
            receipt.status.as_str().to_owned(),
            replayed(&receipt),
        )
    }
}

fn payload_problem(error: PayloadError) -> WebhookErrors {
    match &error {
        PayloadError::UnsupportedMediaType { .. } => WebhookErrors::UnsupportedMediaType(problem(
            ProblemKind::UnsupportedMediaType,
            format!("{error}."),
        )),
        PayloadError::Malformed { .. } => {
            WebhookErrors::BadRequest(problem(ProblemKind::BadRequest, format!("{error}.")))
        }
        PayloadError::InvalidField(field) => {
            WebhookErrors::Unprocessable(ProblemBody(ApiError::validation(vec![FieldError {
                field: field.clone(),
                message: "missing or invalid".to_owned(),
            }])))
        }
    }
}

fn storage_problem(provider: Provider, event: WebhookEvent, error: StoreError) -> WebhookErrors {
    match error {
        StoreError::Unavailable(cause) => {
            tracing::warn!(provider = provider.as_str(), event = event.name(), error = %cause, "webhook not stored: database unavailable");
            WebhookErrors::Unavailable(ProblemBody(ApiError {
                retry_after: Some(2),
                ..ApiError::new(
                    ProblemKind::ServiceUnavailable,
                    "The database is unavailable; nothing was recorded, retry shortly.",
                )
            }))
        }
        StoreError::Conflict(cause) | StoreError::Internal(cause) => {
            tracing::error!(provider = provider.as_str(), event = event.name(), error = %cause, "webhook failed and was rolled back");
            WebhookErrors::Internal(problem(
                ProblemKind::Internal,
                "The delivery failed and nothing was recorded; retry. Quote the trace_id to support.",
            ))
        }
    }
}

/// Declares the webhook operations from a table: per route, its description, event,
/// path, operation id, body, answer and the signature headers it documents (read
/// from the request itself by the verifier). Every row takes the same path,
/// [`WebhooksApi::deliver`]; a new provider or event adds only its rows.
macro_rules! webhook_operations {
    ($(
        $(#[doc = $doc:tt])+
        route $name:ident: $event:ident at $path:tt as $operation_id:tt,
        body $body:ident, answer $answer:ident,
        headers { $( $(#[doc = $header_doc:tt])+ header $header:tt => $header_param:ident ),+ $(,)? }
    );+ $(;)?) => {
        #[OpenApi(tag = "ApiTags::Webhooks")]
        impl WebhooksApi {
            $(
                $(#[doc = $doc])+
                #[oai(path = $path, method = "post", operation_id = $operation_id)]
                async fn $name(
                    &self,
                    request: &Request,
                    body: $body,
                    $(
                        $(#[doc = $header_doc])+
                        #[oai(name = $header)]
                        $header_param: Header<Option<String>>,
                    )+
                ) -> Result<$answer, WebhookErrors> {
                    self.deliver(WebhookEvent::$event, request, body.0).await
                }
            )+
        }
    };
}

webhook_operations! {
    /// CallRail pre-call: a call is ringing. Creates the call.
    route callrail_pre_call: CallRailPreCall at "/webhook/callrail/pre-call" as "callrailPreCall",
    body JsonDelivery, answer WebhookAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        header "Signature" => _signature,
    };

    /// CallRail post-call: a call ended. Finalises the call, stores its recording and
    /// enqueues missed-call recovery (unanswered inbound) and transcription.
    route callrail_call_complete: CallRailCallComplete at "/webhook/callrail/call-complete" as "callrailCallComplete",
    body JsonDelivery, answer WebhookAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        header "Signature" => _signature,
    };

    /// CallRail call modified: updates the call (each change is its own event).
    route callrail_call_modified: CallRailCallModified at "/webhook/callrail/call-modified" as "callrailCallModified",
    body JsonDelivery, answer WebhookAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        header "Signature" => _signature,
    };

    /// CallRail text message sent or received: stores it; STOP opts the number out.
    route callrail_sms: CallRailSms at "/webhook/callrail/sms" as "callrailSms",
    body JsonDelivery, answer WebhookAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        header "Signature" => _signature,
    };

    /// Twilio call status callback: updates the call (one event per status).
    route twilio_call_status: TwilioCallStatus at "/webhook/twilio/call-status" as "twilioCallStatus",
    body FormDelivery, answer WebhookAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the called URL and the sorted form fields, keyed with
        /// the auth token.
        header "X-Twilio-Signature" => _signature,
    };

    /// Twilio inbound text message: stores it; STOP opts the number out. Answers with
    /// empty TwiML so that nothing is texted back.
    route twilio_sms: TwilioSms at "/webhook/twilio/sms" as "twilioSms",
    body FormDelivery, answer TwimlAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the called URL and the sorted form fields, keyed with
        /// the auth token.
        header "X-Twilio-Signature" => _signature,
    };

    /// Twilio recording status callback: stores a completed recording and enqueues
    /// its transcription.
    route twilio_recording: TwilioRecording at "/webhook/twilio/recording" as "twilioRecording",
    body FormDelivery, answer WebhookAccepted,
    headers {
        /// Base64 HMAC-SHA1 of the called URL and the sorted form fields, keyed with
        /// the auth token.
        header "X-Twilio-Signature" => _signature,
    };

    /// Clerk event (through Svix): keeps tenants, users and memberships in sync.
    route clerk: Clerk at "/webhook/clerk" as "clerkEvent",
    body JsonDelivery, answer WebhookAccepted,
    headers {
        /// Svix message id, constant across retries: the event's idempotency key.
        header "svix-id" => _id,
        /// Unix seconds of the signature; refused beyond 5 minutes either way.
        header "svix-timestamp" => _timestamp,
        /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, several space-separated.
        header "svix-signature" => _signature,
    };

    /// Bland AI call ended: stores the AI call's outcome and transcript.
    route bland: Bland at "/webhook/bland" as "blandCallEnded",
    body JsonDelivery, answer WebhookAccepted,
    headers {
        /// Hex HMAC-SHA256 of the raw body with the webhook signing secret.
        header "X-Webhook-Signature" => _signature,
    };
}

impl poem_openapi::types::Example for WebhookReceipt {
    fn example() -> Self {
        WebhookReceipt {
            status: ReceiptStatus::Processed,
            provider: "callrail".into(),
            delivery_id: uuid::Uuid::from_u128(0x0193_6f2a_8c1d_7e4b_9a2f_3c5d_7e9f_1a2b),
            first_processed_at: None,
            first_delivery_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::OpenApi;

    use super::*;

    #[test]
    fn the_table_documents_each_event_once_at_its_own_path() {
        let documented: Vec<String> = WebhooksApi::meta()
            .into_iter()
            .flat_map(|api| api.paths)
            .map(|path| path.path)
            .collect();
        let mut expected: Vec<String> = WebhookEvent::ALL.iter().map(|e| e.path()).collect();
        let mut sorted = documented.clone();
        sorted.sort();
        expected.sort();
        assert_eq!(
            sorted, expected,
            "one operation per event, at the event's path"
        );
    }
}
