//! The credential contract, run against both real verifiers (the fake runs it in
//! otto-testkit).

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::api_tokens::{self, ApiTokens};
use otto_adapters::clerk::{ClerkJwtVerifier, ClerkSettings, KeySource};
use otto_core::origin::OriginPattern;
use otto_core::ports::Clock;
use otto_core::tenancy::{CredentialKind, Principal, Role, TenantId, UserId};
use otto_testkit::ManualClock;
use otto_testkit::contracts::{CredentialMinter, credential_verifier_contract};
use otto_testkit::signers::{self, TestSigningKey};

fn principal(credential: CredentialKind) -> Principal {
    Principal {
        tenant_id: TenantId::parse("org_contract").expect("valid"),
        user_id: UserId::parse("user_contract").expect("valid"),
        role: Role::parse("admin").expect("valid"),
        credential,
        platform_admin: false,
    }
}

struct ClerkMinter {
    key: TestSigningKey,
    stranger: TestSigningKey,
    clock: ManualClock,
}

impl ClerkMinter {
    fn claims(&self, principal: &Principal, now: i64) -> serde_json::Value {
        signers::session_claims_v2(
            "https://clerk.otto.test",
            "https://app.otto.test",
            principal.user_id.as_str(),
            principal.tenant_id.as_str(),
            principal.role.as_str(),
            now,
        )
    }
}

impl CredentialMinter for ClerkMinter {
    fn valid(&self, principal: &Principal) -> String {
        self.key
            .sign(&self.claims(principal, self.clock.now().timestamp()))
    }
    fn expired(&self, principal: &Principal) -> String {
        self.key
            .sign(&self.claims(principal, self.clock.now().timestamp() - 3_600))
    }
    fn forged(&self, principal: &Principal) -> String {
        self.stranger
            .sign(&self.claims(principal, self.clock.now().timestamp()))
    }
}

#[tokio::test]
async fn clerk_session_tokens_honour_the_credential_contract() {
    let clock = ManualClock::at("2026-11-25T12:00:00Z");
    let key = TestSigningKey::generate("k1");
    let settings = ClerkSettings {
        keys: KeySource::Pem(key.public_pem.clone()),
        issuer: Some("https://clerk.otto.test".into()),
        authorized_parties: vec![OriginPattern::parse("https://app.otto.test").expect("pattern")],
        refetch_interval: Duration::from_secs(30),
        keys_ttl: Duration::from_secs(3600),
    };
    let verifier = ClerkJwtVerifier::new(settings, Arc::new(clock.clone())).expect("verifier");
    let minter = ClerkMinter {
        key,
        stranger: TestSigningKey::generate("k1"),
        clock,
    };
    credential_verifier_contract(&verifier, &minter, &principal(CredentialKind::ClerkSession))
        .await;
}

struct BiscuitMinter {
    current: ApiTokens,
    past: ApiTokens,
    stranger: ApiTokens,
}

impl CredentialMinter for BiscuitMinter {
    fn valid(&self, principal: &Principal) -> String {
        self.current
            .issue(principal, Duration::from_secs(600))
            .expect("issued")
    }
    fn expired(&self, principal: &Principal) -> String {
        self.past
            .issue(principal, Duration::from_secs(600))
            .expect("issued")
    }
    fn forged(&self, principal: &Principal) -> String {
        self.stranger
            .issue(principal, Duration::from_secs(600))
            .expect("issued")
    }
}

#[tokio::test]
async fn api_tokens_honour_the_credential_contract() {
    let clock = ManualClock::at("2026-11-25T12:00:00Z");
    let keys = api_tokens::generate_keys();
    let current =
        ApiTokens::from_private_key(&keys.private_key, Arc::new(clock.clone())).expect("key");
    let past_clock = ManualClock::at("2026-11-24T12:00:00Z");
    let past = ApiTokens::from_private_key(&keys.private_key, Arc::new(past_clock)).expect("key");
    let stranger = ApiTokens::from_private_key(
        &api_tokens::generate_keys().private_key,
        Arc::new(clock.clone()),
    )
    .expect("key");
    let verifier =
        ApiTokens::from_public_key(&current.public_key(), Arc::new(clock)).expect("public");
    let minter = BiscuitMinter {
        current,
        past,
        stranger,
    };
    credential_verifier_contract(&verifier, &minter, &principal(CredentialKind::ApiToken)).await;
}
