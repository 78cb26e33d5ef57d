//! Wakes this process's streams when another process commits live events: one
//! PostgreSQL connection per process `LISTEN`s on
//! [`crate::store::live_events::CHANNEL`], whose notifications
//! (`<tenant id>`, sent by the writing process once the events' transaction has
//! committed: see `store::wakeups`) are passed to the [`EventNotifier`]. A lost connection is
//! re-established, and the notifier is told that notifications may have been missed,
//! so that streams re-read instead of waiting for the next event.

use std::sync::Arc;
use std::time::Duration;

use otto_core::ports::EventNotifier;
use otto_core::tenancy::TenantId;
use sea_orm::sqlx::postgres::PgListener;

use crate::store::live_events::CHANNEL;

/// How long to wait before connecting again after a failure.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// The tenant a notification's payload names. Processes of the previous release
/// (during a rolling deploy) add ` <last number>`, which is not needed.
fn parse(payload: &str) -> Option<TenantId> {
    let tenant = payload
        .split_once(' ')
        .map_or(payload, |(tenant, _)| tenant);
    TenantId::parse(tenant).ok()
}

/// Listens until the task is dropped (aborted at shutdown). Returns only if the
/// first connection cannot be made, so that a start-up with a wrong URL is loud.
pub async fn listen(url: String, notifier: Arc<dyn EventNotifier>) -> Result<(), String> {
    let mut listener = PgListener::connect(&url)
        .await
        .map_err(|error| format!("the live-event listener cannot connect: {error}"))?;
    listener
        .listen(CHANNEL)
        .await
        .map_err(|error| format!("the live-event listener cannot LISTEN: {error}"))?;
    tracing::info!(
        channel = CHANNEL,
        "listening for live events of other processes"
    );
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match parse(notification.payload()) {
                Some(tenant) => notifier.committed(&tenant, &[]),
                None => tracing::warn!("a live-event notification could not be read"),
            },
            Ok(None) => {
                tracing::warn!("the live-event listener lost its connection; reconnecting");
                notifier.missed();
            }
            Err(error) => {
                tracing::warn!(%error, "the live-event listener failed; retrying");
                notifier.missed();
                tokio::time::sleep(RETRY_AFTER).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_name_a_tenant() {
        assert_eq!(parse("org_2abc").expect("parses").as_str(), "org_2abc");
        let previous_release = parse("org_2abc 42").expect("parses");
        assert_eq!(previous_release.as_str(), "org_2abc");
        assert!(parse("").is_none());
        assert!(parse("org.1 2").is_none());
    }
}
