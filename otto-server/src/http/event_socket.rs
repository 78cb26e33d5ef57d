//! `GET /api/v1/events/ws`: the live-event stream over WebSocket, for clients
//! without `EventSource` (React Native). The same messages as the SSE route, one
//! JSON text message each; `?since=` resumes; pings every heartbeat; the server's
//! reasons for ending (`shutdown`, `slow_consumer`) are the close frame's reason.
//! Authentication, limits and errors are the SSE route's, answered as HTTP problems
//! before the upgrade.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use poem::web::websocket::{CloseCode, Message, WebSocket, WebSocketStream};
use poem::{IntoResponse, Request, Response, handler};

use super::problem::{ApiError, ProblemBody, ProblemKind};
use super::routes::event_views::wire;
use super::routes::events::{open_stream, resume_point};
use super::stream_caller::{query_parameter, stream_caller};
use crate::live::hub::{CutReason, LiveHub, StreamPermit};
use crate::live::stream::{LiveStream, StreamItem};

/// The route's path.
pub const PATH: &str = "/api/v1/events/ws";

/// A close code of the private range: the client fell behind and was cut off.
const SLOW_CONSUMER: u16 = 4008;

async fn opened(request: &Request) -> Result<(LiveStream, StreamPermit, Arc<LiveHub>), ApiError> {
    let hub = request
        .data::<Arc<LiveHub>>()
        .cloned()
        .ok_or_else(|| ApiError::new(ProblemKind::Internal, "live events are not wired"))?;
    let since = resume_point(query_parameter(request, "since").as_deref(), None)?;
    let caller = stream_caller(request).await?;
    let (stream, permit) = open_stream(&hub, caller, since, "websocket").await?;
    Ok((stream, permit, hub))
}

/// Authenticates and opens the stream, then upgrades.
#[handler]
pub async fn event_socket(request: &Request, socket: WebSocket) -> Response {
    match opened(request).await {
        Ok((stream, permit, hub)) => socket
            .on_upgrade(move |socket| pump(socket, stream, permit, hub))
            .into_response(),
        Err(error) => ProblemBody(error).into_response(),
    }
}

fn close_frame(reason: CutReason) -> Message {
    let code = match reason {
        CutReason::Shutdown => CloseCode::Away,
        CutReason::SlowConsumer => CloseCode::from(SLOW_CONSUMER),
    };
    Message::Close(Some((code, reason.as_str().to_owned())))
}

/// Sends the stream's items until it ends or the client leaves.
async fn pump(
    socket: WebSocketStream,
    stream: LiveStream,
    permit: StreamPermit,
    hub: Arc<LiveHub>,
) {
    let _permit = permit;
    let (mut sink, mut incoming) = socket.split();
    let mut items = Box::pin(stream.into_stream());
    let mut heartbeat = tokio::time::interval(hub.heartbeat());
    heartbeat.tick().await;
    loop {
        tokio::select! {
            item = items.next() => {
                let message = match item {
                    Some(StreamItem::Closing(reason)) => close_frame(reason),
                    Some(item) => Message::Text(wire(&item).2),
                    None => break,
                };
                let closing = matches!(message, Message::Close(_));
                if sink.send(message).await.is_err() || closing {
                    break;
                }
            }
            _ = heartbeat.tick() => {
                if sink.send(Message::Ping(Vec::new())).await.is_err() {
                    break;
                }
            }
            received = incoming.next() => match received {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                // Pongs, and anything a client says: the stream only speaks.
                Some(Ok(_)) => {}
            },
        }
    }
    let _ = sink.close().await;
}
