//! `/api/v1/events`: the tenant's live events over Server-Sent Events, the tickets
//! browsers open streams with, and (outside the OpenAPI document, which cannot
//! describe it) the same stream over WebSocket at `/api/v1/events/ws`
//! ([`crate::http::event_socket`]).

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use otto_core::live::{NewTicket, TICKET_LIFETIME_SECONDS, TicketHolder, ticket_digest};
use otto_core::tenancy::TenantScope;
use poem::web::sse::{Event, SSE};
use poem::{IntoResponse, Response};
use poem_openapi::param::{Header, Query};
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::event_views::{StreamMessage, sse_event};
use super::{ApiTags, bad_parameter};
use crate::http::auth::Caller;
use crate::http::problem::{ApiError, ProblemBody, ProblemKind};
use crate::http::stream_caller::StreamCaller;
use crate::live::hub::{LiveHub, StreamLimit, StreamPermit};
use crate::live::stream::LiveStream;

/// How long a browser waits before reconnecting a dropped stream (the SSE `retry:`
/// hint), in milliseconds.
const RECONNECT_AFTER_MS: u64 = 3_000;

/// A stream ticket.
#[derive(Debug, Object)]
#[oai(example)]
pub struct EventStreamTicket {
    /// Pass it as `?ticket=` to `GET /api/v1/events` or `/api/v1/events/ws`, once.
    pub ticket: String,
    /// When it stops being accepted.
    pub expires_at: DateTime<Utc>,
}

impl poem_openapi::types::Example for EventStreamTicket {
    fn example() -> Self {
        EventStreamTicket {
            ticket: "org_2abcXYZ.ExampleOfASingleUseStreamTicketSecret0000".to_owned(),
            expires_at: DateTime::parse_from_rfc3339("2026-12-06T12:00:30Z")
                .map(|time| time.to_utc())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, ApiResponse)]
enum TicketIssued {
    /// A ticket for one stream of the caller's company, as the caller.
    #[oai(status = 201)]
    Created(Json<EventStreamTicket>),
}

problem_responses! {
    /// Problems of `POST /api/v1/events/tickets`.
    TicketErrors, not_found: Internal, {
        /// The credential is missing or refused, or the origin is not allowed.
        403 Forbidden,
        /// The database is unavailable; retry after `Retry-After` seconds.
        503 Unavailable,
    }
}

problem_responses! {
    /// Problems of opening a stream. A 429 here is the open-stream limit
    /// (`limit_type` `user` or `tenant`), not a request rate.
    StreamErrors, not_found: Internal, {
        /// `since` or `Last-Event-ID` is not an event id.
        400 BadRequest,
        /// The ticket is unknown, used or expired.
        401 Unauthorized,
        /// The credential is missing or refused, or the origin is not allowed.
        403 Forbidden,
        /// The database is unavailable or the process is shutting down; retry
        /// (another process) after `Retry-After` seconds.
        503 Unavailable,
    }
}

impl From<ApiError> for StreamErrors {
    fn from(error: ApiError) -> Self {
        let body = ProblemBody(error);
        match body.0.kind.status().as_u16() {
            400 => StreamErrors::BadRequest(body),
            401 => StreamErrors::Unauthorized(body),
            403 => StreamErrors::Forbidden(body),
            429 => StreamErrors::TooManyRequests(body),
            503 => StreamErrors::Unavailable(body),
            _ => StreamErrors::Internal(body),
        }
    }
}

/// A live-event stream as `text/event-stream`: a `retry:` hint, then one event per
/// [`StreamMessage`] (`id:` its number, `event:` its type), a comment every heartbeat.
pub struct EventStreamBody {
    events: BoxStream<'static, Event>,
    heartbeat: Duration,
}

impl std::fmt::Debug for EventStreamBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStreamBody")
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl Payload for EventStreamBody {
    const CONTENT_TYPE: &'static str = "text/event-stream";

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            items: Some(Box::new(StreamMessage::schema_ref())),
            ..MetaSchema::new_with_format("array", "event-stream")
        }))
    }

    fn register(registry: &mut Registry) {
        StreamMessage::register(registry);
    }
}

impl IntoResponse for EventStreamBody {
    fn into_response(self) -> Response {
        let mut response = SSE::new(self.events)
            .keep_alive(self.heartbeat)
            .into_response();
        let headers = response.headers_mut();
        headers.insert(
            poem::http::header::CACHE_CONTROL,
            poem::http::HeaderValue::from_static("no-cache"),
        );
        // Proxies (nginx) must pass each event on at once.
        headers.insert(
            "x-accel-buffering",
            poem::http::HeaderValue::from_static("no"),
        );
        response
    }
}

#[derive(ApiResponse)]
enum Streaming {
    /// The stream: events the caller may see, in order, until the server closes it
    /// (`close`) or the client goes away.
    #[oai(status = 200)]
    Events(EventStreamBody),
}

/// The id a client resumes after: `Last-Event-ID` (what a reconnecting
/// `EventSource` sends) over `since` (what the page was opened with).
pub fn resume_point(
    since: Option<&str>,
    last_event_id: Option<&str>,
) -> Result<Option<u64>, ApiError> {
    let (name, value) = match (last_event_id, since) {
        (Some(value), _) => ("Last-Event-ID", value),
        (None, Some(value)) => ("since", value),
        (None, None) => return Ok(None),
    };
    value
        .trim()
        .parse::<u64>()
        .map(Some)
        .map_err(|_| bad_parameter(name, "an event id: a whole number from an earlier event").0)
}

/// Admits and opens `caller`'s stream over `transport`, resuming after `since`.
pub async fn open_stream(
    hub: &Arc<LiveHub>,
    caller: StreamCaller,
    since: Option<u64>,
    transport: &'static str,
) -> Result<(LiveStream, StreamPermit), ApiError> {
    let permit = hub
        .admit(caller.scope.tenant_id(), &caller.viewer.user_id, transport)
        .map_err(|limit| {
            let (limit_type, limit_name) = match limit {
                StreamLimit::User => ("user", "OTTO_EVENT_STREAMS_PER_USER"),
                StreamLimit::Tenant => ("tenant", "OTTO_EVENT_STREAMS_PER_TENANT"),
            };
            ApiError {
                retry_after: Some(5),
                limit_type: Some(limit_type),
                ..ApiError::new(
                    ProblemKind::TooManyRequests,
                    format!(
                        "Too many open event streams for this {limit_type} ({limit_name}); close one or retry later."
                    ),
                )
            }
        })?;
    let stream = LiveStream::open(hub.clone(), caller.scope, caller.viewer, since)
        .await
        .map_err(|error| {
            tracing::warn!(error = %error, "a live-event stream could not open");
            ApiError {
                retry_after: Some(2),
                ..ApiError::new(
                    ProblemKind::ServiceUnavailable,
                    "Live events are unavailable right now; retry shortly.",
                )
            }
        })?;
    Ok((stream, permit))
}

/// The live-event operations.
#[derive(Debug, Clone)]
pub struct EventsApi {
    hub: Arc<LiveHub>,
}

impl EventsApi {
    /// The operations over `hub`.
    pub fn new(hub: Arc<LiveHub>) -> Self {
        EventsApi { hub }
    }
}

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Events")]
impl EventsApi {
    /// A single-use ticket (about 30 seconds) that opens one stream as the caller,
    /// for browsers: `EventSource` and `WebSocket` cannot send `Authorization`.
    #[oai(
        path = "/events/tickets",
        method = "post",
        operation_id = "createEventTicket"
    )]
    async fn create_ticket(&self, caller: Caller) -> Result<TicketIssued, TicketErrors> {
        let principal = caller.0;
        // 256 random bits, letters and digits only.
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let ticket = format!("{}.{secret}", principal.tenant_id.as_str());
        let expires_at = Utc::now() + chrono::Duration::seconds(TICKET_LIFETIME_SECONDS);
        self.hub
            .log()
            .issue_ticket(
                &TenantScope::of(&principal),
                &NewTicket {
                    digest: ticket_digest(&ticket),
                    holder: TicketHolder {
                        user_id: principal.user_id.clone(),
                        role: principal.role.as_str().to_owned(),
                    },
                    expires_at,
                },
            )
            .await
            .map_err(|error| TicketErrors::from(super::store_failure(error)))?;
        Ok(TicketIssued::Created(Json(EventStreamTicket {
            ticket,
            expires_at,
        })))
    }

    /// The company's live events as Server-Sent Events, as the caller may see them
    /// (a rep: the calls assigned to them, messages; leadership: everything).
    /// Resumes after `Last-Event-ID` (sent by a reconnecting `EventSource`) or
    /// `since`, replaying every event after it in order, then continues live; an id
    /// older than the retention (OTTO_EVENT_RETENTION_HOURS) or not this company's
    /// yields `resync` first. Without either, the stream starts now. Heartbeat
    /// comments keep idle connections open; `close` tells why the server ended the
    /// stream (reconnect with the last id). Not rate limited per request: open
    /// streams are limited per user and per company instead.
    #[oai(path = "/events", method = "get", operation_id = "streamEvents")]
    async fn stream(
        &self,
        caller: StreamCaller,
        /// Resume after this event id.
        since: Query<Option<String>>,
        /// Resume after this event id (wins over `since`).
        #[oai(name = "Last-Event-ID")]
        last_event_id: Header<Option<String>>,
    ) -> Result<Streaming, StreamErrors> {
        let since = resume_point(since.0.as_deref(), last_event_id.0.as_deref())?;
        let (stream, permit) = open_stream(&self.hub, caller, since, "sse").await?;
        let events = futures_util::stream::once(async { Event::retry(RECONNECT_AFTER_MS) })
            .chain(stream.into_stream().map(move |item| {
                // The permit lives as long as the response body.
                let _held = &permit;
                sse_event(&item)
            }))
            .boxed();
        Ok(Streaming::Events(EventStreamBody {
            events,
            heartbeat: self.hub.heartbeat(),
        }))
    }
}
