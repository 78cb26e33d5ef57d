//! One client's stream, whatever its transport: where it starts (a replay after the
//! client's last id, a `resync`, or now), the events its viewer may see in order
//! without gaps or repeats, and why it ends.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::Utc;
use futures_util::Stream;
use otto_core::live::{StreamStart, Viewer, stream_start};
use otto_core::ports::StoreError;
use otto_core::tenancy::TenantScope;

use super::hub::{CutReason, FedEvent, LiveHub, Subscription};

/// Events replayed per query.
const REPLAY_PAGE: u32 = 200;

/// What a stream sends.
#[derive(Debug, Clone)]
pub enum StreamItem {
    /// An event the viewer may see.
    Event(Arc<FedEvent>),
    /// The client's id cannot be resumed (or events were lost to it): refetch
    /// through the REST API and continue from `at`.
    Resync {
        /// The id to continue from.
        at: u64,
    },
    /// The server ends the stream; reconnect with the last id.
    Closing(CutReason),
}

enum Phase {
    Replay,
    Live,
    Ended,
}

/// A stream's state between items.
pub struct LiveStream {
    hub: Arc<LiveHub>,
    scope: TenantScope,
    viewer: Viewer,
    subscription: Subscription,
    phase: Phase,
    /// The last number accounted for (sent, or not the viewer's to see).
    delivered: u64,
    pending: VecDeque<StreamItem>,
}

impl std::fmt::Debug for LiveStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveStream")
            .field("tenant", self.scope.tenant_id())
            .field("delivered", &self.delivered)
            .finish_non_exhaustive()
    }
}

impl LiveStream {
    /// Opens `viewer`'s stream of `scope`'s events, resuming after `since` when given.
    pub async fn open(
        hub: Arc<LiveHub>,
        scope: TenantScope,
        viewer: Viewer,
        since: Option<u64>,
    ) -> Result<Self, StoreError> {
        let subscription = hub.subscribe(scope.tenant_id()).await?;
        let last = subscription.position;
        let first_after = match since {
            Some(since) if since <= last => hub
                .log()
                .events_after(&scope, since, 1)
                .await?
                .first()
                .map(|event| (event.sequence, event.occurred_at)),
            _ => None,
        };
        let retention =
            chrono::Duration::from_std(hub.settings().retention).unwrap_or(chrono::Duration::MAX);
        let cutoff = Utc::now() - retention;
        let mut stream = LiveStream {
            hub,
            scope,
            viewer,
            subscription,
            phase: Phase::Live,
            delivered: last,
            pending: VecDeque::new(),
        };
        match stream_start(since, last, first_after, cutoff) {
            StreamStart::Replay { after } => {
                stream.phase = Phase::Replay;
                stream.delivered = after;
            }
            StreamStart::Resync { at } => stream.pending.push_back(StreamItem::Resync { at }),
            StreamStart::Live { .. } => {}
        }
        Ok(stream)
    }

    /// The next item; `None` after [`StreamItem::Closing`].
    pub async fn next_item(&mut self) -> Option<StreamItem> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            match self.phase {
                Phase::Ended => return None,
                Phase::Replay => self.replay_page().await,
                Phase::Live => match self.subscription.receiver.recv().await {
                    Some(event) => self.accept(event),
                    None => {
                        self.phase = Phase::Ended;
                        return Some(StreamItem::Closing(self.subscription.cut()));
                    }
                },
            }
        }
    }

    /// Replays the stored events after the client's id up to where the feed took
    /// over when this stream joined it.
    async fn replay_page(&mut self) {
        let until = self.subscription.position;
        let page = match self
            .hub
            .log()
            .events_after(&self.scope, self.delivered, REPLAY_PAGE)
            .await
        {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(error = %error, "a live-event replay could not be read");
                self.pending.push_back(StreamItem::Resync { at: until });
                self.delivered = until;
                self.phase = Phase::Live;
                return;
            }
        };
        let complete = page.len() < REPLAY_PAGE as usize;
        for event in page {
            if event.sequence > until {
                break;
            }
            self.accept(Arc::new(FedEvent::new(event)));
        }
        if complete || self.delivered >= until {
            self.phase = Phase::Live;
        }
    }

    fn accept(&mut self, event: Arc<FedEvent>) {
        if event.sequence <= self.delivered {
            return;
        }
        if event.sequence > self.delivered + 1 {
            // The feed hands over every number in order, so this cannot happen; if it
            // did, the client is told rather than silently missing events.
            tracing::warn!(
                after = self.delivered,
                got = event.sequence,
                "a live-event stream saw a gap"
            );
            self.pending.push_back(StreamItem::Resync {
                at: event.sequence - 1,
            });
        }
        self.delivered = event.sequence;
        if event.visible_to(&self.viewer) {
            self.pending.push_back(StreamItem::Event(event));
        }
    }

    /// The stream as a `futures` stream.
    pub fn into_stream(self) -> impl Stream<Item = StreamItem> + Send + 'static {
        futures_util::stream::unfold(self, |mut stream| async move {
            stream.next_item().await.map(|item| (item, stream))
        })
    }
}
