//! Contract suites: the behaviour every implementation of a port must show.
//!
//! Each function takes an implementation and panics with a message naming the broken
//! promise. They are called from the fake's tests here and from each real adapter's
//! tests in `otto-adapters`.

use otto_core::ports::{Clock, IdGenerator, ReadinessProbe};

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
        };
        credential_verifier_contract(&credentials, &StaticMinter(credentials.clone()), &principal)
            .await;
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
