//! Turns to write on the embedded database: SQLite lets one transaction write at a
//! time, and a writer that finds the lock taken sleeps and polls (its busy handler
//! waits up to 100 ms between tries), so 32 concurrent webhooks answered at p99 about
//! one second, and some gave up with "database is locked". Here the process's writers
//! queue for their turn instead, first come first served (a fair semaphore), and a
//! writer's transaction begins only once it is its turn, so it never meets the lock.
//! The queue is bounded: past `max_waiting` writers a unit of work is refused at once
//! as unavailable (503 with `Retry-After`), never left to stall.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use otto_core::ports::StoreError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The default bound of the write queue (OTTO_SQLITE_WRITE_QUEUE).
pub const DEFAULT_MAX_WAITING_WRITERS: usize = 256;

/// One process's queue of writers.
#[derive(Debug)]
pub(super) struct WriteTurns {
    turn: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_waiting: usize,
}

/// Counts a writer as waiting for as long as it waits (also when its request is
/// cancelled while waiting).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WriteTurns {
    pub(super) fn new(max_waiting: usize) -> Self {
        WriteTurns {
            turn: Arc::new(Semaphore::new(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
        }
    }

    /// Waits for this writer's turn, which lasts until the permit is dropped.
    pub(super) async fn take(&self) -> Result<OwnedSemaphorePermit, StoreError> {
        if let Ok(turn) = Arc::clone(&self.turn).try_acquire_owned() {
            return Ok(turn);
        }
        let ahead = self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.max_waiting {
            return Err(StoreError::Unavailable(format!(
                "the embedded database's write queue is full ({ahead} writers waiting, \
                 OTTO_SQLITE_WRITE_QUEUE={})",
                self.max_waiting
            )));
        }
        Arc::clone(&self.turn)
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("the store is shutting down".to_owned()))
    }

    /// Waits for a turn outside the bound and without counting as a writer waiting
    /// (the write groups' watchdog, which must never be refused).
    pub(super) async fn take_unbounded(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.turn).acquire_owned().await.ok()
    }

    /// Writers waiting for their turn now.
    pub(super) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writers_take_turns_in_arrival_order_and_a_full_queue_refuses_at_once() {
        let turns = Arc::new(WriteTurns::new(2));
        let first = turns.take().await.expect("the first writer goes at once");
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut waiting = Vec::new();
        for writer in 0..2 {
            let (queue, order) = (Arc::clone(&turns), Arc::clone(&order));
            waiting.push(tokio::spawn(async move {
                let _turn = queue.take().await.expect("queued");
                order.lock().expect("order").push(writer);
            }));
            while turns.waiting() <= writer {
                tokio::task::yield_now().await;
            }
        }
        let refused = turns.take().await;
        assert!(
            matches!(&refused, Err(StoreError::Unavailable(cause)) if cause.contains("full")),
            "a third waiting writer is refused: {refused:?}"
        );
        drop(first);
        for writer in waiting {
            writer.await.expect("the writer ran");
        }
        assert_eq!(*order.lock().expect("order"), [0, 1]);
        assert_eq!(turns.waiting(), 0);
        let _again = turns.take().await.expect("the queue is free again");
    }
}
