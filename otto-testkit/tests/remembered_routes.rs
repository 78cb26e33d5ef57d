//! `RememberedRoutes` answers like the account map it wraps, remembers found tenants
//! for its lifetime and no longer, and forgets them when links change through it.

use std::sync::Arc;
use std::time::Duration;

use otto_core::ports::ProviderAccounts;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{AccountRef, Provider, RememberedRoutes};
use otto_testkit::contracts::provider_accounts_contract;
use otto_testkit::{InMemoryStore, ManualClock};

const TTL: Duration = Duration::from_secs(5);

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).expect("tenant id")
}

fn company(id: &str) -> AccountRef {
    AccountRef::new(Provider::CallRail, id)
}

/// Where `routes` sends a delivery naming CallRail company `id`.
async fn route(routes: &RememberedRoutes, id: &str) -> Option<TenantId> {
    routes.tenant_of(&[company(id)]).await.expect("routes")
}

fn remembered(store: &InMemoryStore) -> (RememberedRoutes, ManualClock) {
    let clock = ManualClock::at("2026-11-26T12:00:00Z");
    let routes = RememberedRoutes::new(Arc::new(store.clone()), Arc::new(clock.clone()), TTL);
    (routes, clock)
}

#[tokio::test]
async fn remembered_routes_honour_the_provider_accounts_contract() {
    let store = InMemoryStore::default();
    let (routes, _) = remembered(&store);
    provider_accounts_contract(&routes, "org_a", "org_b").await;
}

#[tokio::test]
async fn a_move_made_elsewhere_is_seen_once_the_route_expires() {
    let store = InMemoryStore::default();
    let (routes, clock) = remembered(&store);
    store
        .link(&company("COM1"), &tenant("org_a"))
        .await
        .expect("links");
    assert_eq!(route(&routes, "COM1").await, Some(tenant("org_a")));

    // Another process moves the company: this one keeps its route for the TTL.
    store
        .link(&company("COM1"), &tenant("org_b"))
        .await
        .expect("moves");
    clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(
        route(&routes, "COM1").await,
        Some(tenant("org_a")),
        "remembered within its lifetime"
    );
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        route(&routes, "COM1").await,
        Some(tenant("org_b")),
        "asked again once expired"
    );
}

#[tokio::test]
async fn an_account_not_linked_is_never_remembered_as_such() {
    let store = InMemoryStore::default();
    let (routes, _) = remembered(&store);
    assert_eq!(route(&routes, "NEW").await, None);
    store
        .link(&company("NEW"), &tenant("org_a"))
        .await
        .expect("links elsewhere");
    assert_eq!(
        route(&routes, "NEW").await,
        Some(tenant("org_a")),
        "a new link is seen at once"
    );
}

#[tokio::test]
async fn links_changed_through_it_take_effect_at_once() {
    let store = InMemoryStore::default();
    let (routes, _) = remembered(&store);
    routes
        .link(&company("COM1"), &tenant("org_a"))
        .await
        .expect("links");
    assert_eq!(route(&routes, "COM1").await, Some(tenant("org_a")));
    routes
        .link(&company("COM1"), &tenant("org_b"))
        .await
        .expect("moves");
    assert_eq!(route(&routes, "COM1").await, Some(tenant("org_b")));
    assert!(routes.unlink(&company("COM1")).await.expect("unlinks"));
    assert_eq!(route(&routes, "COM1").await, None);
}
