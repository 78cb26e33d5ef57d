//! Contract suites: the behaviour every implementation of a port must show.
//!
//! Each function takes an implementation and panics with a message naming the broken
//! promise. They are called from the fake's tests here and from each real adapter's
//! tests in `otto-adapters`.

use otto_core::calls::CallFilter;
use otto_core::ports::{Clock, IdGenerator, ReadinessProbe};

pub use crate::ai_caller_contract::ai_caller_contract;
pub use crate::call_log_contract::{CallLogStores, call_log_contract};
pub use crate::call_tracking_contract::call_tracking_contract;
pub use crate::delivery_log_contract::{delivery_log_contract, logged_delivery};
pub use crate::follow_up_contract::{FollowUpStores, follow_up_store_contract};
pub use crate::insight_contract::{insight_store_contract, sample_analysis, sample_transcript};
pub use crate::insight_provider_contract::{call_analyzer_contract, transcriber_contract};
pub use crate::job_queue_contract::job_queue_contract;
pub use crate::live_events_contract::{LiveEventStores, live_event_log_contract};
pub use crate::members_contract::company_members_contract;
pub use crate::sms_contract::sms_sender_contract;

/// A probe of a reachable dependency succeeds, and names its component.
pub async fn readiness_probe_of_reachable_dependency(probe: &dyn ReadinessProbe) {
    assert!(!probe.component().is_empty(), "a probe names its component");
    assert!(
        probe
            .component()
            .chars()
            .all(|c| c.is_ascii_lowercase() || c == '_'),
        "component names are snake_case report keys, got `{}`",
        probe.component()
    );
    if let Err(error) = probe.check().await {
        panic!("probe of reachable {} failed: {error}", probe.component());
    }
    // A second check succeeds too: probes hold no one-shot state.
    if let Err(error) = probe.check().await {
        panic!(
            "second probe of reachable {} failed: {error}",
            probe.component()
        );
    }
}

/// A probe of an unreachable dependency fails with an error that says why.
pub async fn readiness_probe_of_unreachable_dependency(probe: &dyn ReadinessProbe) {
    match probe.check().await {
        Ok(()) => panic!("probe of unreachable {} reported ready", probe.component()),
        Err(error) => assert!(
            !error.to_string().is_empty(),
            "the failure carries a reason"
        ),
    }
}

/// Ids are unique across many calls.
pub fn id_generator_yields_unique_ids(ids: &dyn IdGenerator) {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..10_000 {
        assert!(seen.insert(ids.new_id()), "id generator repeated an id");
    }
}

/// A clock never runs backwards between two reads.
pub fn clock_is_monotonic_between_reads(clock: &dyn Clock) {
    let first = clock.now();
    let second = clock.now();
    assert!(second >= first, "clock went back from {first} to {second}");
}

/// Makes credentials of one kind for the credential contract.
pub trait CredentialMinter {
    /// A valid credential for `principal`.
    fn valid(&self, principal: &otto_core::tenancy::Principal) -> String;
    /// A credential for `principal` that has expired.
    fn expired(&self, principal: &otto_core::tenancy::Principal) -> String;
    /// A credential for `principal` signed by someone else.
    fn forged(&self, principal: &otto_core::tenancy::Principal) -> String;
}

/// Every credential verifier: a valid credential yields exactly its principal; expired
/// and forged ones are refused for what they are; garbage never authenticates.
pub async fn credential_verifier_contract(
    verifier: &dyn otto_core::ports::CredentialVerifier,
    minter: &dyn CredentialMinter,
    principal: &otto_core::tenancy::Principal,
) {
    use otto_core::ports::CredentialError;
    use otto_core::tenancy::Operation;
    let verified = verifier
        .verify(&minter.valid(principal), Operation::Read)
        .await;
    let verified =
        verified.unwrap_or_else(|error| panic!("a valid credential was refused: {error}"));
    assert_eq!(verified.tenant_id, principal.tenant_id, "tenant");
    assert_eq!(verified.user_id, principal.user_id, "user");
    assert_eq!(verified.role, principal.role, "role");
    assert_eq!(verified.credential, principal.credential, "credential kind");
    assert_eq!(
        verifier
            .verify(&minter.expired(principal), Operation::Read)
            .await,
        Err(CredentialError::Expired),
        "an expired credential is refused as expired"
    );
    assert_eq!(
        verifier
            .verify(&minter.forged(principal), Operation::Read)
            .await,
        Err(CredentialError::InvalidSignature),
        "a forged credential is refused as invalid"
    );
    for garbage in ["", "garbage", "a.b.c", "\u{0}"] {
        assert!(
            verifier.verify(garbage, Operation::Read).await.is_err(),
            "`{garbage:?}` must not authenticate"
        );
    }
}

/// A tenant scope for contract tests.
pub fn scope_of(tenant: &str) -> otto_core::tenancy::TenantScope {
    otto_core::tenancy::TenantScope::for_verified_delivery(
        otto_core::tenancy::TenantId::parse(tenant).expect("valid tenant id"),
    )
}

/// A call of `tenant`'s customer, `minutes_ago` before 2026-11-25T12:00:00Z.
pub fn new_call(external_id: &str, minutes_ago: i64) -> otto_core::calls::NewCall {
    let noon = chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00.123456Z")
        .expect("valid")
        .to_utc();
    otto_core::calls::NewCall {
        provider: "callrail".to_owned(),
        external_id: external_id.to_owned(),
        direction: otto_core::calls::Direction::Inbound,
        customer_name: Some(format!("Customer {external_id}")),
        customer_number: Some("+15551230000".to_owned()),
        answered: minutes_ago % 2 == 0,
        duration_seconds: 42,
        started_at: noon - chrono::Duration::minutes(minutes_ago),
    }
}

/// Every call repository: calls are recorded once per provider id, read back as
/// written, paged newest first without gaps or repeats, and never visible to another
/// tenant. `tenant_a` and `tenant_b` must be fresh tenants.
pub async fn call_repository_contract(
    calls: &dyn otto_core::ports::CallRepository,
    tenant_a: &str,
    tenant_b: &str,
) {
    let a = scope_of(tenant_a);
    let b = scope_of(tenant_b);
    let first = calls
        .record(&a, new_call("CAL1", 30))
        .await
        .expect("recorded");
    assert_eq!(first.tenant_id.as_str(), tenant_a);
    assert_eq!(
        first.started_at,
        new_call("CAL1", 30).started_at,
        "times read back as written (microseconds)"
    );
    assert_eq!(first.customer_name.as_deref(), Some("Customer CAL1"));
    let again = calls
        .record(&a, new_call("CAL1", 30))
        .await
        .expect("recorded again");
    assert_eq!(again.id, first.id, "the same provider call is one row");
    assert_eq!(
        calls.get(&a, first.id).await.expect("get"),
        Some(first.clone())
    );

    // Another tenant sees nothing of A's, and may record the same provider id.
    assert_eq!(
        calls.get(&b, first.id).await.expect("get"),
        None,
        "another tenant's id is not found"
    );
    assert!(
        calls
            .list(&b, &CallFilter::default(), None, 10)
            .await
            .expect("list")
            .items
            .is_empty()
    );
    let b_call = calls
        .record(&b, new_call("CAL1", 5))
        .await
        .expect("recorded for B");
    assert_ne!(b_call.id, first.id);

    // Paging: A has calls at 30, 20, 10 (twice, a tie), 0 minutes ago.
    for (id, minutes_ago) in [("CAL2", 20), ("CAL3", 10), ("CAL4", 10), ("CAL5", 0)] {
        calls
            .record(&a, new_call(id, minutes_ago))
            .await
            .expect("recorded");
    }
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = calls
            .list(&a, &CallFilter::default(), cursor, 2)
            .await
            .expect("list");
        pages += 1;
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().cloned());
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 10, "paging terminates");
    }
    assert_eq!(pages, 3, "5 calls in pages of 2");
    assert_eq!(seen.len(), 5, "no gaps, no repeats");
    assert!(
        seen.iter().all(|call| call.tenant_id.as_str() == tenant_a),
        "only A's calls"
    );
    let order: Vec<(chrono::DateTime<chrono::Utc>, uuid::Uuid)> =
        seen.iter().map(|call| (call.started_at, call.id)).collect();
    let mut sorted = order.clone();
    sorted.sort_by_key(|key| std::cmp::Reverse(*key));
    assert_eq!(order, sorted, "newest first, ties by id");
    assert_eq!(seen[0].external_id, "CAL5");

    // A listed call reads as the call itself, every field (outcome included).
    let appointment = new_call("CAL5", -60).started_at;
    calls
        .update_outcome(
            &a,
            seen[0].id,
            &otto_core::calls::OutcomeChange {
                booked: Some(Some(true)),
                appointment_at: Some(Some(appointment)),
                notes: Some(Some("Booked a water heater install.".to_owned())),
                assigned_rep: Some(Some(
                    otto_core::tenancy::UserId::parse("user_rep").expect("user id"),
                )),
            },
        )
        .await
        .expect("outcome recorded");
    let listed = calls
        .list(&a, &CallFilter::default(), None, 10)
        .await
        .expect("list")
        .items;
    for call in &listed {
        assert_eq!(
            Some(call),
            calls.get(&a, call.id).await.expect("get").as_ref(),
            "listed as stored"
        );
    }
    assert_eq!(
        listed[0].outcome.notes.as_deref(),
        Some("Booked a water heater install.")
    );
    assert_eq!(listed[0].outcome.appointment_at, Some(appointment));
}

/// Every company directory: a company is saved and read per tenant, updated in place,
/// and invisible to other tenants.
pub async fn company_directory_contract(
    companies: &dyn otto_core::ports::CompanyDirectory,
    tenant_a: &str,
    tenant_b: &str,
) {
    use otto_core::ports::Company;
    let a = scope_of(tenant_a);
    let b = scope_of(tenant_b);
    assert_eq!(companies.company(&a).await.expect("read"), None);
    let acme = Company {
        name: Some("Acme Plumbing".into()),
        slug: Some("acme".into()),
    };
    companies.save_company(&a, &acme).await.expect("saved");
    assert_eq!(companies.company(&a).await.expect("read"), Some(acme));
    assert_eq!(
        companies.company(&b).await.expect("read"),
        None,
        "another tenant sees nothing"
    );
    let renamed = Company {
        name: Some("Acme Plumbing & Heating".into()),
        slug: Some("acme".into()),
    };
    companies.save_company(&a, &renamed).await.expect("updated");
    assert_eq!(companies.company(&a).await.expect("read"), Some(renamed));
}

/// Bucket keys of `user` in `tenant`.
pub fn bucket_keys(tenant: &str, user: &str) -> otto_core::rate_limit::BucketKeys {
    otto_core::rate_limit::BucketKeys {
        user: format!("tenant:{{{tenant}}}:user:{user}"),
        tenant: format!("tenant:{{{tenant}}}"),
    }
}

fn quotas(user: &str, tenant: &str) -> otto_core::rate_limit::Quotas {
    otto_core::rate_limit::Quotas {
        user: user.parse().expect("rate"),
        tenant: tenant.parse().expect("rate"),
    }
}

/// Every rate limiter, driven by the `clock` it reads: a full burst from idle, exact
/// refill and Retry-After, denials that consume nothing, the tenant bucket shared by
/// its users, and idle buckets that are as new. `tenant` must be fresh.
pub async fn rate_limiter_contract(
    limiter: &dyn otto_core::rate_limit::RateLimiter,
    clock: &crate::ManualClock,
    tenant: &str,
) {
    use otto_core::rate_limit::LimitType;
    use std::time::Duration;
    let check = |keys: otto_core::rate_limit::BucketKeys, quotas: otto_core::rate_limit::Quotas| async move {
        limiter
            .check(&keys, &quotas)
            .await
            .expect("the limiter decides")
    };
    let alice = bucket_keys(tenant, "alice");
    let bob = bucket_keys(tenant, "bob");

    // Burst: 5/minute allows 5 at once, then refuses with the exact wait.
    let five = quotas("5/minute", "10/minute");
    for remaining in (0..5).rev() {
        let decision = check(alice.clone(), five).await;
        assert!(decision.allowed, "burst request {}", 5 - remaining);
        assert_eq!(
            decision.user.remaining,
            remaining,
            "remaining after request {}",
            5 - remaining
        );
    }
    let denied = check(alice.clone(), five).await;
    assert!(!denied.allowed, "the sixth request is refused");
    assert_eq!(denied.denied_by, Some(LimitType::User));
    assert_eq!(
        denied.user.retry_after,
        Duration::from_secs(12),
        "one emission interval"
    );
    assert_eq!(denied.retry_after_seconds(), 12);

    // A denial consumes nothing: exactly the announced wait later, one request fits.
    for _ in 0..3 {
        assert!(!check(alice.clone(), five).await.allowed);
    }
    clock.advance(Duration::from_secs(11));
    let early = check(alice.clone(), five).await;
    assert!(!early.allowed, "not before the wait");
    assert_eq!(early.user.retry_after, Duration::from_secs(1));
    clock.advance(Duration::from_secs(1));
    assert!(
        check(alice.clone(), five).await.allowed,
        "refilled by one after the interval"
    );
    assert!(!check(alice.clone(), five).await.allowed, "and only by one");

    // The tenant bucket is shared. At 12 s the tenant bucket (10/minute, one token per
    // 6 s) has refilled two of Alice's six: Bob, with room of his own, gets six more.
    let roomy = quotas("10/minute", "10/minute");
    for n in 0..6 {
        assert!(check(bob.clone(), roomy).await.allowed, "bob request {n}");
    }
    let tenant_full = check(bob.clone(), roomy).await;
    assert!(!tenant_full.allowed, "the tenant total is spent");
    assert_eq!(
        tenant_full.denied_by,
        Some(LimitType::Tenant),
        "bob is stopped by the tenant bucket"
    );
    assert_eq!(tenant_full.tighter().0, LimitType::Tenant);
    assert_eq!(tenant_full.tenant.retry_after, Duration::from_secs(6));

    // Idle buckets are as new: a full period later everything has refilled.
    clock.advance(Duration::from_secs(120));
    for n in 0..5 {
        assert!(check(alice.clone(), five).await.allowed, "alice again {n}");
    }
    clock.advance(Duration::from_secs(120));
    let tight_tenant = check(bob.clone(), quotas("5/minute", "3/minute")).await;
    assert!(tight_tenant.allowed);
    assert_eq!(
        (tight_tenant.user.remaining, tight_tenant.tenant.remaining),
        (4, 2)
    );
    assert_eq!(
        tight_tenant.tighter().0,
        LimitType::Tenant,
        "headers report the tighter bucket"
    );
    clock.advance(Duration::from_secs(3600));
}

fn tenant(id: &str) -> otto_core::tenancy::TenantId {
    otto_core::tenancy::TenantId::parse(id).expect("valid tenant id")
}

fn ledger_key(
    tenant_id: Option<&str>,
    event: &str,
    external_id: &str,
) -> otto_core::ports::IdempotencyKey {
    otto_core::ports::IdempotencyKey {
        tenant: tenant_id.map(tenant),
        provider: otto_core::webhooks::Provider::CallRail,
        event: event.to_owned(),
        external_id: external_id.to_owned(),
    }
}

fn open_call(external_id: &str) -> otto_core::webhooks::Effect {
    otto_core::webhooks::Effect::RecordCall {
        change: otto_core::webhooks::CallChange::Open,
        facts: otto_core::webhooks::CallFacts::about(external_id),
    }
}

fn target_of(tenant_id: &str) -> otto_core::ports::Target {
    otto_core::ports::Target::Tenant(scope_of(tenant_id))
}

/// Applies `effects` under `key` for `tenant_id` through the ledger alone (no job, no
/// log entry).
async fn apply_unlogged(
    ledger: &dyn otto_core::ports::WebhookLedger,
    tenant_id: &str,
    key: &otto_core::ports::IdempotencyKey,
    body_digest: &str,
    effects: &[otto_core::webhooks::Effect],
    at: chrono::DateTime<chrono::Utc>,
) -> otto_core::ports::Claim {
    ledger
        .apply(&otto_core::ports::Application {
            target: &target_of(tenant_id),
            key,
            body_digest,
            effects,
            jobs: &[],
            at,
            log: None,
        })
        .await
        .expect("applies")
}

/// Every webhook ledger: a key is processed once and its effects applied once;
/// later deliveries of it are duplicates that report the first processing and count
/// attempts; keys are per tenant and per event; N concurrent deliveries of one key
/// give exactly one `Processed`; a forced re-application converges on the same rows
/// and claims a free key; purging removes only keys last seen before the cutoff, in
/// batches.
/// `tenant_a` and `tenant_b` must be fresh tenants.
pub async fn webhook_ledger_contract(
    ledger: std::sync::Arc<dyn otto_core::ports::WebhookLedger>,
    calls: &dyn otto_core::ports::CallRepository,
    tenant_a: &str,
    tenant_b: &str,
) {
    use otto_core::ports::{Claim, Target};

    let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:00.123456Z")
        .expect("valid")
        .to_utc();
    let later = at + chrono::Duration::minutes(5);
    let key = ledger_key(Some(tenant_a), "pre-call", "CAL1");
    let effects = [open_call("CAL1")];

    let first = apply_unlogged(&*ledger, tenant_a, &key, "d1", &effects, at).await;
    assert_eq!(first, Claim::Processed { at });
    let again = apply_unlogged(&*ledger, tenant_a, &key, "d2", &effects, later).await;
    assert_eq!(
        again,
        Claim::Duplicate {
            first_processed_at: at,
            attempts: 2,
            first_body_digest: "d1".into(),
            first_delivery_id: None,
        },
        "a duplicate reports the first delivery's digest, whatever this one's"
    );
    let page = calls
        .list(&scope_of(tenant_a), &CallFilter::default(), None, 50)
        .await
        .expect("lists");
    assert_eq!(page.items.len(), 1, "the effect was applied once");
    assert_eq!(page.items[0].external_id, "CAL1");

    // The same external id under another event or tenant is another key.
    let complete = ledger_key(Some(tenant_a), "call-complete", "CAL1");
    assert!(matches!(
        apply_unlogged(&*ledger, tenant_a, &complete, "d2", &[], at).await,
        Claim::Processed { .. }
    ));
    let other_tenant = ledger_key(Some(tenant_b), "pre-call", "CAL1");
    assert!(matches!(
        apply_unlogged(&*ledger, tenant_b, &other_tenant, "d1", &effects, at).await,
        Claim::Processed { .. }
    ));
    assert_eq!(
        calls
            .list(&scope_of(tenant_b), &CallFilter::default(), None, 50)
            .await
            .expect("lists")
            .items
            .len(),
        1
    );

    // Platform keys (no tenant) are deduplicated too.
    let platform = ledger_key(None, "user.created", &format!("msg_{tenant_a}"));
    for expected_processed in [true, false] {
        let claim = ledger
            .apply(&otto_core::ports::Application {
                target: &Target::Platform,
                key: &platform,
                body_digest: "d3",
                effects: &[],
                jobs: &[],
                at,
                log: None,
            })
            .await
            .expect("applies");
        assert_eq!(matches!(claim, Claim::Processed { .. }), expected_processed);
    }

    // Concurrent deliveries of one key: exactly one is processed.
    let concurrent = ledger_key(Some(tenant_a), "call-complete", "CAL-RACE");
    let mut racers = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let ledger = ledger.clone();
        let key = concurrent.clone();
        let target = target_of(tenant_a);
        racers.spawn(async move {
            ledger
                .apply(&otto_core::ports::Application {
                    target: &target,
                    key: &key,
                    body_digest: "d4",
                    effects: &[open_call("CAL-RACE")],
                    jobs: &[],
                    at,
                    log: None,
                })
                .await
        });
    }
    let mut processed = 0;
    let mut duplicates = 0;
    while let Some(joined) = racers.join_next().await {
        match joined
            .expect("joins")
            .expect("no storage error under contention")
        {
            Claim::Processed { .. } => processed += 1,
            Claim::Duplicate { .. } => duplicates += 1,
        }
    }
    assert_eq!((processed, duplicates), (1, 19));

    // A forced replay re-applies effects without a second row and claims a free key.
    ledger
        .reapply(&target_of(tenant_a), &key, "d1", &effects, later)
        .await
        .expect("re-applies");
    let fresh = ledger_key(Some(tenant_a), "pre-call", "CAL-FORCED");
    ledger
        .reapply(
            &target_of(tenant_a),
            &fresh,
            "d6",
            &[open_call("CAL-FORCED")],
            later,
        )
        .await
        .expect("re-applies");
    let external_ids: Vec<String> = calls
        .list(&scope_of(tenant_a), &CallFilter::default(), None, 50)
        .await
        .expect("lists")
        .items
        .into_iter()
        .map(|call| call.external_id)
        .filter(|id| id == "CAL1" || id == "CAL-FORCED")
        .collect();
    assert_eq!(external_ids.len(), 2, "one row each: {external_ids:?}");
    assert!(matches!(
        apply_unlogged(&*ledger, tenant_a, &fresh, "d6", &[], later).await,
        Claim::Duplicate { .. }
    ));

    // Purge: keys last seen before the cutoff go, in batches; then they are new.
    let old_tenant = tenant_b;
    for index in 0..5 {
        let key = ledger_key(Some(old_tenant), "sms", &format!("OLD{index}"));
        apply_unlogged(
            &*ledger,
            old_tenant,
            &key,
            "d5",
            &[],
            at - chrono::Duration::days(40),
        )
        .await;
    }
    let cutoff = at - chrono::Duration::days(30);
    assert_eq!(ledger.purge_keys(cutoff, 2).await.expect("purges"), 2);
    assert_eq!(ledger.purge_keys(cutoff, 2).await.expect("purges"), 2);
    assert_eq!(ledger.purge_keys(cutoff, 2).await.expect("purges"), 1);
    assert_eq!(ledger.purge_keys(cutoff, 2).await.expect("purges"), 0);
    let reused = ledger_key(Some(old_tenant), "sms", "OLD0");
    assert!(matches!(
        apply_unlogged(&*ledger, old_tenant, &reused, "d5", &[], at).await,
        Claim::Processed { .. }
    ));
    assert!(
        matches!(
            apply_unlogged(&*ledger, tenant_a, &key, "d1", &effects, later).await,
            Claim::Duplicate { attempts: 3, .. }
        ),
        "recent keys survive the purge"
    );
}

/// Every provider-account map: the first linked account of a delivery wins,
/// re-linking moves an account (keeping its signing key), signing keys are set only
/// on linked accounts and removed with them, unlinking reports whether it was linked.
pub async fn provider_accounts_contract(
    accounts: &dyn otto_core::ports::ProviderAccounts,
    tenant_a: &str,
    tenant_b: &str,
) {
    use otto_core::webhooks::{AccountRef, Provider};
    let company = AccountRef::new(Provider::CallRail, format!("COM-{tenant_a}"));
    let number = AccountRef::new(Provider::Twilio, format!("+1555{}", tenant_a.len()));
    let unknown = AccountRef::new(Provider::Twilio, "AC-unknown");
    assert_eq!(
        accounts
            .tenant_of(std::slice::from_ref(&company))
            .await
            .expect("looks up"),
        None
    );
    accounts
        .link(&company, &tenant(tenant_a))
        .await
        .expect("links");
    accounts
        .link(&number, &tenant(tenant_b))
        .await
        .expect("links");
    assert_eq!(
        accounts
            .tenant_of(&[unknown.clone(), number.clone(), company.clone()])
            .await
            .expect("looks up"),
        Some(tenant(tenant_b)),
        "the first linked account wins"
    );
    assert!(
        accounts
            .set_signing_key(&company, Some("company-key"))
            .await
            .expect("sets")
    );
    assert!(
        !accounts
            .set_signing_key(&unknown, Some("stray-key"))
            .await
            .expect("sets"),
        "only a linked account takes a key"
    );
    accounts
        .link(&company, &tenant(tenant_b))
        .await
        .expect("re-links");
    assert_eq!(
        accounts
            .tenant_of(std::slice::from_ref(&company))
            .await
            .expect("looks up"),
        Some(tenant(tenant_b))
    );
    assert_eq!(
        accounts
            .signing_keys(&[unknown.clone(), number.clone(), company.clone()])
            .await
            .expect("reads"),
        vec!["company-key".to_owned()],
        "the key moved with the account; accounts without one add nothing"
    );
    let links = accounts.links().await.expect("lists");
    let link_of = |account: &AccountRef| {
        links
            .iter()
            .find(|link| link.account == *account)
            .cloned()
            .expect("listed")
    };
    assert_eq!(link_of(&company).tenant_id, tenant(tenant_b));
    assert!(link_of(&company).has_signing_key);
    assert_eq!(link_of(&number).tenant_id, tenant(tenant_b));
    assert!(!link_of(&number).has_signing_key);
    accounts
        .set_signing_key(&number, Some("number-key"))
        .await
        .expect("sets");
    accounts
        .set_signing_key(&number, None)
        .await
        .expect("removes");
    assert!(
        accounts
            .signing_keys(std::slice::from_ref(&number))
            .await
            .expect("reads")
            .is_empty()
    );
    assert!(accounts.unlink(&company).await.expect("unlinks"));
    accounts
        .link(&company, &tenant(tenant_a))
        .await
        .expect("links again");
    assert!(
        accounts
            .signing_keys(std::slice::from_ref(&company))
            .await
            .expect("reads")
            .is_empty(),
        "unlinking removed the key"
    );
    assert!(accounts.unlink(&company).await.expect("unlinks"));
    assert!(!accounts.unlink(&company).await.expect("unlinks"));
    assert_eq!(
        accounts.tenant_of(&[company]).await.expect("looks up"),
        None
    );
    assert!(accounts.unlink(&number).await.expect("unlinks"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, SequentialIds, StaticCredentials, SwitchableProbe};

    #[tokio::test]
    async fn switchable_probe_honours_the_readiness_contract() {
        let probe = SwitchableProbe::up("database");
        readiness_probe_of_reachable_dependency(&probe).await;
        probe.set_up(false);
        readiness_probe_of_unreachable_dependency(&probe).await;
        readiness_probe_of_unreachable_dependency(&SwitchableProbe::down("redis")).await;
    }

    #[tokio::test]
    async fn slow_probe_answers_after_its_delay() {
        let probe = SwitchableProbe::slow("database", std::time::Duration::from_millis(50));
        let started = std::time::Instant::now();
        readiness_probe_of_reachable_dependency(&probe).await;
        assert!(
            started.elapsed() >= std::time::Duration::from_millis(100),
            "two checks, 50 ms each"
        );
    }

    struct StaticMinter(StaticCredentials);

    impl CredentialMinter for StaticMinter {
        fn valid(&self, principal: &otto_core::tenancy::Principal) -> String {
            let token = format!("valid-{}", principal.user_id);
            self.0.allow(&token, principal.clone());
            token
        }
        fn expired(&self, principal: &otto_core::tenancy::Principal) -> String {
            let token = format!("expired-{}", principal.user_id);
            self.0.expire(&token, principal.clone());
            token
        }
        fn forged(&self, principal: &otto_core::tenancy::Principal) -> String {
            format!("forged-{}", principal.user_id)
        }
    }

    #[tokio::test]
    async fn static_credentials_honour_the_credential_contract() {
        use otto_core::tenancy::{CredentialKind, Principal, Role, TenantId, UserId};
        let credentials = StaticCredentials::default();
        let principal = Principal {
            tenant_id: TenantId::parse("org_a").expect("valid"),
            user_id: UserId::parse("user_1").expect("valid"),
            role: Role::member(),
            credential: CredentialKind::ApiToken,
            platform_admin: false,
        };
        credential_verifier_contract(&credentials, &StaticMinter(credentials.clone()), &principal)
            .await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_repository_contracts() {
        let store = crate::InMemoryStore::default();
        call_repository_contract(&store, "org_a", "org_b").await;
        company_directory_contract(&store, "org_a", "org_b").await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_members_contract() {
        let store = crate::InMemoryStore::default();
        company_members_contract(&store, &store, "org_a", "org_b").await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_webhook_contracts() {
        let store = crate::InMemoryStore::default();
        webhook_ledger_contract(std::sync::Arc::new(store.clone()), &store, "org_a", "org_b").await;
        provider_accounts_contract(&store, "org_a", "org_b").await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_delivery_log_contract() {
        let store = crate::InMemoryStore::default();
        delivery_log_contract(std::sync::Arc::new(store.clone()), &store, "org_a", "org_b").await;
    }

    #[tokio::test]
    async fn the_recording_sms_fake_honours_the_sms_contract() {
        let clock = ManualClock::at("2026-11-26T10:00:00Z");
        let now = clock.now();
        sms_sender_contract(&crate::RecordingSms::new(std::sync::Arc::new(clock)), now).await;
    }

    #[tokio::test]
    async fn the_fake_call_tracking_honours_its_contract() {
        let calls = (0..5)
            .map(|n| otto_core::ports::TrackedCall {
                id: format!("CAL{n}"),
                direction: otto_core::calls::Direction::Inbound,
                answered: n % 2 == 0,
                customer_name: None,
                customer_number: Some("+15551230000".into()),
                duration_seconds: 30,
                started_at: ManualClock::at("2026-11-26T10:00:00Z").now()
                    - chrono::Duration::minutes(n),
            })
            .collect();
        call_tracking_contract(&crate::FakeCallTracking::with_calls(calls), 5).await;
    }

    #[tokio::test]
    async fn the_recording_ai_caller_honours_the_ai_caller_contract() {
        let clock = ManualClock::at("2026-11-26T10:00:00Z");
        let now = clock.now();
        ai_caller_contract(
            &crate::RecordingAiCaller::new(std::sync::Arc::new(clock)),
            now,
        )
        .await;
    }

    #[tokio::test]
    async fn the_recording_provider_fakes_honour_their_contracts() {
        transcriber_contract(
            &crate::RecordingTranscriber::answering(sample_transcript()),
            "https://recordings.example/1.mp3",
        )
        .await;
        call_analyzer_contract(
            &crate::RecordingAnalyzer::answering(sample_analysis()),
            "hello",
        )
        .await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_call_log_contract() {
        let store = crate::InMemoryStore::default();
        call_log_contract(
            CallLogStores {
                calls: &store,
                insights: &store,
                messages: &store,
                dashboard: &store,
                ledger: &store,
                follow_ups: &store,
            },
            "org_a",
            "org_b",
        )
        .await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_insight_contract() {
        let store = crate::InMemoryStore::default();
        insight_store_contract(&store, &store, &store, "org_a", "org_b").await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_follow_up_contract() {
        let store = crate::InMemoryStore::default();
        follow_up_store_contract(
            FollowUpStores {
                follow_ups: &store,
                calls: &store,
                companies: &store,
                ledger: &store,
            },
            "org_a",
            "org_b",
        )
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_in_memory_store_honours_the_job_queue_contract() {
        job_queue_contract(std::sync::Arc::new(crate::InMemoryStore::default())).await;
    }

    #[tokio::test]
    async fn the_in_memory_store_honours_the_live_event_contract() {
        let store = crate::InMemoryStore::default();
        let stores = LiveEventStores {
            events: &store,
            ledger: &store,
            calls: &store,
            jobs: &store,
        };
        live_event_log_contract(stores, "org_live_a", "org_live_b").await;
    }

    #[test]
    fn fakes_honour_the_clock_and_id_contracts() {
        id_generator_yields_unique_ids(&SequentialIds::default());
        clock_is_monotonic_between_reads(&ManualClock::at("2026-11-25T00:00:00Z"));
    }

    #[test]
    fn sequential_ids_count_from_one() {
        let ids = SequentialIds::default();
        assert_eq!(
            ids.new_id().to_string(),
            "00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(
            ids.new_id().to_string(),
            "00000000-0000-0000-0000-000000000002"
        );
    }
}
