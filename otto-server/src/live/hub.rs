//! The process's fan-out of live events: one feed per tenant that has subscribers,
//! reading the tenant's new events once (when the store or the PostgreSQL listener
//! says some committed, and every few seconds in case a notification was lost) and
//! handing them to every subscriber's bounded buffer.
//!
//! A subscriber whose buffer is full is cut off (`slow_consumer`) rather than
//! waited for: the feed never slows down for one reader, and the reader resumes
//! from its last id on its next connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use chrono::Utc;
use otto_core::live::{EventType, LiveEvent};
use otto_core::ports::{EventNotifier, LiveEventLog, StoreError};
use otto_core::tenancy::{TenantId, TenantScope, UserId};
use tokio::sync::{Notify, mpsc};

use crate::config::LiveConfig;
use crate::telemetry::metrics::{DropLabels, EventTypeLabels, Metrics, TransportLabels};

/// Events read from the store per query.
const PAGE: u32 = 500;

/// Why the server ended a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutReason {
    /// The client read too slowly and its buffer filled.
    SlowConsumer,
    /// The process is shutting down; reconnect (to another process).
    Shutdown,
}

impl CutReason {
    /// The reason's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            CutReason::SlowConsumer => "slow_consumer",
            CutReason::Shutdown => "shutdown",
        }
    }
}

/// An event as the feed hands it to its subscribers: shared, with its wire form
/// made once for all of them (by the first transport that asks), not once per
/// subscriber.
#[derive(Debug)]
pub struct FedEvent {
    event: LiveEvent,
    wire: OnceLock<String>,
}

impl FedEvent {
    /// `event`, its wire form not made yet.
    pub fn new(event: LiveEvent) -> Self {
        FedEvent {
            event,
            wire: OnceLock::new(),
        }
    }

    /// The wire form, made by `render` the first time it is asked for.
    pub fn wire(&self, render: impl FnOnce(&LiveEvent) -> String) -> &str {
        self.wire.get_or_init(|| render(&self.event))
    }
}

impl std::ops::Deref for FedEvent {
    type Target = LiveEvent;

    fn deref(&self) -> &LiveEvent {
        &self.event
    }
}

fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One subscriber's end of the feed.
struct Outlet {
    sender: mpsc::Sender<Arc<FedEvent>>,
    cut: Arc<OnceLock<CutReason>>,
}

#[derive(Default)]
struct FeedState {
    /// The last number handed to the subscribers.
    position: u64,
    subscribers: HashMap<u64, Outlet>,
    closed: bool,
}

/// One tenant's feed.
struct Feed {
    tenant: TenantId,
    wake: Notify,
    state: Mutex<FeedState>,
}

/// A subscriber's view of its tenant's feed: every event numbered above `position`
/// arrives on `receiver`, in order; when the receiver ends, [`Subscription::cut`]
/// says why. Dropping it leaves the feed.
pub struct Subscription {
    /// The feed's last number when this subscriber joined.
    pub position: u64,
    /// The events after `position`.
    pub receiver: mpsc::Receiver<Arc<FedEvent>>,
    cut: Arc<OnceLock<CutReason>>,
    id: u64,
    feed: Arc<Feed>,
    hub: Arc<LiveHub>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("tenant", &self.feed.tenant)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

impl Subscription {
    /// Why the server stopped this subscription, once its receiver has ended.
    pub fn cut(&self) -> CutReason {
        self.cut.get().copied().unwrap_or(CutReason::Shutdown)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut state = locked(&self.feed.state);
        state.subscribers.remove(&self.id);
        if state.subscribers.is_empty() && !state.closed {
            state.closed = true;
            drop(state);
            let mut feeds = locked(&self.hub.feeds);
            if feeds
                .get(&self.feed.tenant)
                .is_some_and(|feed| Arc::ptr_eq(feed, &self.feed))
            {
                feeds.remove(&self.feed.tenant);
            }
            self.feed.wake.notify_one();
        }
    }
}

/// An admitted stream: counted against its user's and tenant's limits (and in the
/// connections gauge) until dropped.
pub struct StreamPermit {
    hub: Arc<LiveHub>,
    tenant: TenantId,
    user: UserId,
    transport: &'static str,
}

impl std::fmt::Debug for StreamPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamPermit")
            .field("tenant", &self.tenant)
            .field("user", &self.user)
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        let mut open = locked(&self.hub.open);
        for key in [
            (self.tenant.clone(), None),
            (self.tenant.clone(), Some(self.user.clone())),
        ] {
            if let Some(count) = open.get_mut(&key) {
                *count -= 1;
                if *count == 0 {
                    open.remove(&key);
                }
            }
        }
        self.hub
            .metrics
            .event_stream_connections
            .get_or_create(&TransportLabels {
                transport: self.transport.to_owned(),
            })
            .dec();
    }
}

/// Which limit refused a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamLimit {
    /// The user's streams in this process.
    User,
    /// The tenant's streams in this process.
    Tenant,
}

/// The process's live-event fan-out.
pub struct LiveHub {
    log: Arc<dyn LiveEventLog>,
    settings: LiveConfig,
    metrics: Arc<Metrics>,
    feeds: Mutex<HashMap<TenantId, Arc<Feed>>>,
    open: Mutex<HashMap<(TenantId, Option<UserId>), usize>>,
    next_id: AtomicU64,
    shut: AtomicBool,
    shutdown: Notify,
}

impl std::fmt::Debug for LiveHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveHub")
            .field("feeds", &locked(&self.feeds).len())
            .finish_non_exhaustive()
    }
}

impl LiveHub {
    /// A hub reading `log`.
    pub fn new(
        log: Arc<dyn LiveEventLog>,
        settings: LiveConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Self> {
        Arc::new(LiveHub {
            log,
            settings,
            metrics,
            feeds: Mutex::default(),
            open: Mutex::default(),
            next_id: AtomicU64::new(1),
            shut: AtomicBool::new(false),
            shutdown: Notify::new(),
        })
    }

    /// The store the streams replay from.
    pub fn log(&self) -> &Arc<dyn LiveEventLog> {
        &self.log
    }

    /// The streams' settings.
    pub fn settings(&self) -> &LiveConfig {
        &self.settings
    }

    /// Whether the process is shutting down (no new streams).
    pub fn is_shut(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    /// Admits a `transport` stream of `user` in `tenant` under the per-user and
    /// per-tenant limits.
    pub fn admit(
        self: &Arc<Self>,
        tenant: &TenantId,
        user: &UserId,
        transport: &'static str,
    ) -> Result<StreamPermit, StreamLimit> {
        let mut open = locked(&self.open);
        let tenant_key = (tenant.clone(), None);
        let user_key = (tenant.clone(), Some(user.clone()));
        if open.get(&tenant_key).copied().unwrap_or(0) >= self.settings.streams_per_tenant {
            return Err(StreamLimit::Tenant);
        }
        if open.get(&user_key).copied().unwrap_or(0) >= self.settings.streams_per_user {
            return Err(StreamLimit::User);
        }
        *open.entry(tenant_key).or_default() += 1;
        *open.entry(user_key).or_default() += 1;
        self.metrics
            .event_stream_connections
            .get_or_create(&TransportLabels {
                transport: transport.to_owned(),
            })
            .inc();
        Ok(StreamPermit {
            hub: self.clone(),
            tenant: tenant.clone(),
            user: user.clone(),
            transport,
        })
    }

    /// Joins `tenant`'s feed, starting one if none runs.
    pub async fn subscribe(
        self: &Arc<Self>,
        tenant: &TenantId,
    ) -> Result<Subscription, StoreError> {
        loop {
            if self.is_shut() {
                return Err(StoreError::Unavailable(
                    "the server is shutting down".to_owned(),
                ));
            }
            let existing = locked(&self.feeds).get(tenant).cloned();
            let feed = match existing {
                Some(feed) => feed,
                None => {
                    let scope = TenantScope::for_event_stream(tenant.clone());
                    let last = self.log.last_sequence(&scope).await?;
                    let mut feeds = locked(&self.feeds);
                    feeds
                        .entry(tenant.clone())
                        .or_insert_with(|| self.start_feed(tenant, last))
                        .clone()
                }
            };
            let mut state = locked(&feed.state);
            if state.closed {
                // Its last subscriber left while this one arrived: start afresh.
                continue;
            }
            let (sender, receiver) = mpsc::channel(self.settings.buffer);
            let cut = Arc::new(OnceLock::new());
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            state.subscribers.insert(
                id,
                Outlet {
                    sender,
                    cut: cut.clone(),
                },
            );
            let position = state.position;
            drop(state);
            return Ok(Subscription {
                position,
                receiver,
                cut,
                id,
                feed,
                hub: self.clone(),
            });
        }
    }

    fn start_feed(self: &Arc<Self>, tenant: &TenantId, last: u64) -> Arc<Feed> {
        let feed = Arc::new(Feed {
            tenant: tenant.clone(),
            wake: Notify::new(),
            state: Mutex::new(FeedState {
                position: last,
                ..FeedState::default()
            }),
        });
        // Events committed between reading `last` and this feed existing had no feed
        // to wake: read at once.
        feed.wake.notify_one();
        tokio::spawn(self.clone().run_feed(feed.clone()));
        feed
    }

    async fn run_feed(self: Arc<Self>, feed: Arc<Feed>) {
        loop {
            tokio::select! {
                () = feed.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll) => {}
                () = self.shutdown.notified() => {}
            }
            if locked(&feed.state).closed || self.is_shut() {
                return;
            }
            self.catch_up(&feed).await;
        }
    }

    /// Reads the feed's new events and hands each to every subscriber.
    async fn catch_up(&self, feed: &Feed) {
        let scope = TenantScope::for_event_stream(feed.tenant.clone());
        loop {
            let position = locked(&feed.state).position;
            let events = match self.log.events_after(&scope, position, PAGE).await {
                Ok(events) => events,
                Err(error) => {
                    // The next wake or poll tries again; nothing is skipped.
                    tracing::warn!(error = %error, tenant_id = %feed.tenant, "live events could not be read");
                    return;
                }
            };
            let more = events.len() == PAGE as usize;
            let mut state = locked(&feed.state);
            for event in events {
                if event.sequence <= state.position {
                    continue;
                }
                state.position = event.sequence;
                let lag = (Utc::now() - event.occurred_at).num_milliseconds().max(0);
                self.metrics.event_delivery_lag_ms.observe(lag as f64);
                let event = Arc::new(FedEvent::new(event));
                state
                    .subscribers
                    .retain(|_, outlet| match outlet.sender.try_send(event.clone()) {
                        Ok(()) => true,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            let _ = outlet.cut.set(CutReason::SlowConsumer);
                            self.count_drop(CutReason::SlowConsumer);
                            false
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => false,
                    });
            }
            if !more {
                return;
            }
        }
    }

    fn count_drop(&self, reason: CutReason) {
        self.metrics
            .event_stream_dropped
            .get_or_create(&DropLabels {
                reason: reason.as_str().to_owned(),
            })
            .inc();
    }

    /// Ends every stream with [`CutReason::Shutdown`] and refuses new ones: each
    /// client is told to reconnect, to another process, from its last id.
    pub fn shut_down(&self) {
        self.shut.store(true, Ordering::Release);
        let feeds: Vec<Arc<Feed>> = locked(&self.feeds).drain().map(|(_, feed)| feed).collect();
        for feed in feeds {
            let mut state = locked(&feed.state);
            state.closed = true;
            for (_, outlet) in state.subscribers.drain() {
                let _ = outlet.cut.set(CutReason::Shutdown);
                self.count_drop(CutReason::Shutdown);
            }
        }
        self.shutdown.notify_waiters();
    }

    /// How long an idle stream waits before a heartbeat.
    pub fn heartbeat(&self) -> Duration {
        self.settings.heartbeat
    }
}

impl EventNotifier for LiveHub {
    fn committed(&self, tenant: &TenantId, published: &[EventType]) {
        for event_type in published {
            self.metrics
                .events_published
                .get_or_create(&EventTypeLabels {
                    r#type: event_type.as_str().to_owned(),
                })
                .inc();
        }
        let feed = locked(&self.feeds).get(tenant).cloned();
        if let Some(feed) = feed {
            feed.wake.notify_one();
        }
    }

    fn missed(&self) {
        for feed in locked(&self.feeds).values() {
            feed.wake.notify_one();
        }
    }
}
