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

    async fn json(
        &self,
        event: WebhookEvent,
        request: &Request,
        body: JsonDelivery,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        let receipt = self.receive(event, request, body.0).await?;
        let header = replayed(&receipt);
        Ok(WebhookAccepted::Ok(Json(receipt), header))
    }

    async fn form(
        &self,
        event: WebhookEvent,
        request: &Request,
        body: FormDelivery,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        let receipt = self.receive(event, request, body.0).await?;
        let header = replayed(&receipt);
        Ok(WebhookAccepted::Ok(Json(receipt), header))
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

#[OpenApi(tag = "ApiTags::Webhooks")]
impl WebhooksApi {
    /// CallRail pre-call: a call is ringing. Creates the call.
    #[oai(
        path = "/webhook/callrail/pre-call",
        method = "post",
        operation_id = "callrailPreCall"
    )]
    async fn callrail_pre_call(
        &self,
        request: &Request,
        body: JsonDelivery,
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        #[oai(name = "Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.json(WebhookEvent::CallRailPreCall, request, body)
            .await
    }

    /// CallRail post-call: a call ended. Finalises the call, stores its recording and
    /// enqueues missed-call recovery (unanswered inbound) and transcription.
    #[oai(
        path = "/webhook/callrail/call-complete",
        method = "post",
        operation_id = "callrailCallComplete"
    )]
    async fn callrail_call_complete(
        &self,
        request: &Request,
        body: JsonDelivery,
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        #[oai(name = "Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.json(WebhookEvent::CallRailCallComplete, request, body)
            .await
    }

    /// CallRail call modified: updates the call (each change is its own event).
    #[oai(
        path = "/webhook/callrail/call-modified",
        method = "post",
        operation_id = "callrailCallModified"
    )]
    async fn callrail_call_modified(
        &self,
        request: &Request,
        body: JsonDelivery,
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        #[oai(name = "Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.json(WebhookEvent::CallRailCallModified, request, body)
            .await
    }

    /// CallRail text message sent or received: stores it; STOP opts the number out.
    #[oai(
        path = "/webhook/callrail/sms",
        method = "post",
        operation_id = "callrailSms"
    )]
    async fn callrail_sms(
        &self,
        request: &Request,
        body: JsonDelivery,
        /// Base64 HMAC-SHA1 of the raw body with the company's signing key.
        #[oai(name = "Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.json(WebhookEvent::CallRailSms, request, body).await
    }

    /// Twilio call status callback: updates the call (one event per status).
    #[oai(
        path = "/webhook/twilio/call-status",
        method = "post",
        operation_id = "twilioCallStatus"
    )]
    async fn twilio_call_status(
        &self,
        request: &Request,
        body: FormDelivery,
        /// Base64 HMAC-SHA1 of the called URL and the sorted form fields, keyed with
        /// the auth token.
        #[oai(name = "X-Twilio-Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.form(WebhookEvent::TwilioCallStatus, request, body)
            .await
    }

    /// Twilio inbound text message: stores it; STOP opts the number out. Answers with
    /// empty TwiML so that nothing is texted back.
    #[oai(
        path = "/webhook/twilio/sms",
        method = "post",
        operation_id = "twilioSms"
    )]
    async fn twilio_sms(
        &self,
        request: &Request,
        body: FormDelivery,
        /// Base64 HMAC-SHA1 of the called URL and the sorted form fields, keyed with
        /// the auth token.
        #[oai(name = "X-Twilio-Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<TwimlAccepted, WebhookErrors> {
        let receipt = self
            .receive(WebhookEvent::TwilioSms, request, body.0)
            .await?;
        Ok(TwimlAccepted::Ok(
            PlainText(EMPTY_TWIML.to_owned()),
            receipt.status.as_str().to_owned(),
            replayed(&receipt),
        ))
    }

    /// Twilio recording status callback: stores a completed recording and enqueues
    /// its transcription.
    #[oai(
        path = "/webhook/twilio/recording",
        method = "post",
        operation_id = "twilioRecording"
    )]
    async fn twilio_recording(
        &self,
        request: &Request,
        body: FormDelivery,
        /// Base64 HMAC-SHA1 of the called URL and the sorted form fields, keyed with
        /// the auth token.
        #[oai(name = "X-Twilio-Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.form(WebhookEvent::TwilioRecording, request, body)
            .await
    }

    /// Clerk event (through Svix): keeps tenants, users and memberships in sync.
    #[oai(path = "/webhook/clerk", method = "post", operation_id = "clerkEvent")]
    async fn clerk(
        &self,
        request: &Request,
        body: JsonDelivery,
        /// Svix message id, constant across retries: the event's idempotency key.
        #[oai(name = "svix-id")]
        _id: Header<Option<String>>,
        /// Unix seconds of the signature; refused beyond 5 minutes either way.
        #[oai(name = "svix-timestamp")]
        _timestamp: Header<Option<String>>,
        /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, several space-separated.
        #[oai(name = "svix-signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.json(WebhookEvent::Clerk, request, body).await
    }

    /// Bland AI call ended: stores the AI call's outcome and transcript.
    #[oai(
        path = "/webhook/bland",
        method = "post",
        operation_id = "blandCallEnded"
    )]
    async fn bland(
        &self,
        request: &Request,
        body: JsonDelivery,
        /// Hex HMAC-SHA256 of the raw body with the webhook signing secret.
        #[oai(name = "X-Webhook-Signature")]
        _signature: Header<Option<String>>,
    ) -> Result<WebhookAccepted, WebhookErrors> {
        self.json(WebhookEvent::Bland, request, body).await
    }
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
