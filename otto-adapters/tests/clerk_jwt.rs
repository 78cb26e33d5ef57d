//! Clerk session tokens against a JWKS served by a local stub, with keys generated
//! at test time.

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::clerk::{ClerkJwtVerifier, ClerkSettings, KeySource};
use otto_core::origin::OriginPattern;
use otto_core::ports::{Clock, CredentialError, CredentialVerifier};
use otto_core::tenancy::{CredentialKind, Operation};
use otto_testkit::ManualClock;
use otto_testkit::signers::{self, TestSigningKey};
use serde_json::Value;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ISSUER: &str = "https://clerk.otto.test";
const PARTY: &str = "https://app.otto.test";
const INTERVAL: Duration = Duration::from_secs(30);

fn settings(keys: KeySource, issuer: Option<&str>, parties: &[&str]) -> ClerkSettings {
    ClerkSettings {
        keys,
        issuer: issuer.map(str::to_owned),
        authorized_parties: parties
            .iter()
            .map(|party| OriginPattern::parse(party).expect("pattern"))
            .collect(),
        refetch_interval: INTERVAL,
        keys_ttl: Duration::from_secs(3600),
    }
}

struct Fixture {
    server: MockServer,
    clock: ManualClock,
    verifier: ClerkJwtVerifier,
    key: TestSigningKey,
}

/// User `user_1`, admin of `org_a`, issued by ISSUER for PARTY at `now`.
fn claims_at(now: i64) -> Value {
    signers::session_claims_v2(ISSUER, PARTY, "user_1", "org_a", "admin", now)
}

impl Fixture {
    async fn new(parties: &[&str]) -> Self {
        let key = TestSigningKey::generate("key-1");
        let server = MockServer::start().await;
        serve_jwks(&server, &[&key]).await;
        let clock = ManualClock::at("2026-11-25T12:00:00Z");
        let keys = KeySource::Jwks {
            url: format!("{}/jwks", server.uri()),
            bearer: Some("sk_test_backend".into()),
        };
        let settings = settings(keys, Some(ISSUER), parties);
        let verifier = ClerkJwtVerifier::new(settings, Arc::new(clock.clone())).expect("verifier");
        Fixture {
            server,
            clock,
            verifier,
            key,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now().timestamp()
    }

    fn claims(&self) -> Value {
        claims_at(self.now())
    }

    async fn verify(&self, token: &str) -> Result<otto_core::tenancy::Principal, CredentialError> {
        self.verifier.verify(token, Operation::Read).await
    }

    async fn jwks_fetches(&self) -> usize {
        self.server
            .received_requests()
            .await
            .map_or(0, |requests| requests.len())
    }
}

async fn serve_jwks(server: &MockServer, keys: &[&TestSigningKey]) {
    server.reset().await;
    Mock::given(method("GET"))
        .and(path("/jwks"))
        .and(header("authorization", "Bearer sk_test_backend"))
        .respond_with(ResponseTemplate::new(200).set_body_json(signers::jwks(keys)))
        .mount(server)
        .await;
}

fn with(mut claims: Value, field: &str, value: Value) -> Value {
    claims[field] = value;
    claims
}

fn without(mut claims: Value, field: &str) -> Value {
    claims.as_object_mut().expect("object").remove(field);
    claims
}

#[tokio::test]
async fn a_v2_token_yields_its_principal() {
    let fixture = Fixture::new(&[PARTY]).await;
    let principal = fixture
        .verify(&fixture.key.sign(&fixture.claims()))
        .await
        .expect("valid");
    assert_eq!(principal.tenant_id.as_str(), "org_a");
    assert_eq!(principal.user_id.as_str(), "user_1");
    assert_eq!(principal.role.as_str(), "admin");
    assert_eq!(principal.credential, CredentialKind::ClerkSession);
}

#[tokio::test]
async fn a_v1_token_yields_its_principal_with_the_role_normalised() {
    let fixture = Fixture::new(&[PARTY]).await;
    let claims =
        signers::session_claims_v1(ISSUER, PARTY, "user_2", "org_b", "member", fixture.now());
    let principal = fixture
        .verify(&fixture.key.sign(&claims))
        .await
        .expect("valid");
    assert_eq!(principal.tenant_id.as_str(), "org_b");
    assert_eq!(principal.role.as_str(), "member");
}

#[tokio::test]
async fn unsigned_and_hmac_tokens_are_refused() {
    let fixture = Fixture::new(&[PARTY]).await;
    let claims = fixture.claims();
    assert!(
        fixture
            .verify(&signers::unsigned_token(&claims))
            .await
            .is_err(),
        "alg none"
    );
    let hmac = signers::hs256_token(&claims, fixture.key.public_pem.as_bytes(), "key-1");
    assert_eq!(
        fixture.verify(&hmac).await,
        Err(CredentialError::InvalidSignature),
        "HS256 keyed with the public key"
    );
}

#[tokio::test]
async fn a_tampered_payload_is_refused() {
    let fixture = Fixture::new(&[PARTY]).await;
    let token = fixture.key.sign(&fixture.claims());
    let forged = signers::tampered(
        &token,
        &with(
            fixture.claims(),
            "o",
            serde_json::json!({"id": "org_victim"}),
        ),
    );
    assert_eq!(
        fixture.verify(&forged).await,
        Err(CredentialError::InvalidSignature)
    );
}

#[tokio::test]
async fn a_token_of_another_key_is_refused() {
    let fixture = Fixture::new(&[PARTY]).await;
    let stranger = TestSigningKey::generate("key-1");
    assert_eq!(
        fixture.verify(&stranger.sign(&fixture.claims())).await,
        Err(CredentialError::InvalidSignature)
    );
    let unknown = TestSigningKey::generate("key-unknown");
    assert_eq!(
        fixture.verify(&unknown.sign(&fixture.claims())).await,
        Err(CredentialError::UnknownKey)
    );
}

#[tokio::test]
async fn expiry_and_not_before_are_checked_with_five_seconds_of_skew() {
    let fixture = Fixture::new(&[PARTY]).await;
    let now = fixture.now();
    let expired = with(fixture.claims(), "exp", (now - 6).into());
    assert_eq!(
        fixture.verify(&fixture.key.sign(&expired)).await,
        Err(CredentialError::Expired)
    );
    let just_expired = with(fixture.claims(), "exp", (now - 4).into());
    assert!(
        fixture
            .verify(&fixture.key.sign(&just_expired))
            .await
            .is_ok(),
        "within skew"
    );
    let future = with(fixture.claims(), "nbf", (now + 6).into());
    assert_eq!(
        fixture.verify(&fixture.key.sign(&future)).await,
        Err(CredentialError::NotYetValid)
    );
    let no_expiry = without(fixture.claims(), "exp");
    assert!(matches!(
        fixture.verify(&fixture.key.sign(&no_expiry)).await,
        Err(CredentialError::Malformed(_))
    ));
}

#[tokio::test]
async fn issuer_and_authorized_party_are_checked() {
    let fixture = Fixture::new(&[PARTY]).await;
    let foreign = with(fixture.claims(), "iss", "https://clerk.other.test".into());
    assert_eq!(
        fixture.verify(&fixture.key.sign(&foreign)).await,
        Err(CredentialError::WrongIssuer)
    );
    let other_app = with(fixture.claims(), "azp", "https://evil.test".into());
    assert_eq!(
        fixture.verify(&fixture.key.sign(&other_app)).await,
        Err(CredentialError::WrongAuthorizedParty)
    );
    let no_party = without(fixture.claims(), "azp");
    assert_eq!(
        fixture.verify(&fixture.key.sign(&no_party)).await,
        Err(CredentialError::WrongAuthorizedParty)
    );
}

#[tokio::test]
async fn without_configured_parties_a_token_without_azp_is_accepted() {
    let fixture = Fixture::new(&[]).await;
    let no_party = without(fixture.claims(), "azp");
    assert!(fixture.verify(&fixture.key.sign(&no_party)).await.is_ok());
}

#[tokio::test]
async fn a_valid_token_without_an_organization_has_no_tenant() {
    let fixture = Fixture::new(&[PARTY]).await;
    let personal = without(fixture.claims(), "o");
    assert_eq!(
        fixture.verify(&fixture.key.sign(&personal)).await,
        Err(CredentialError::NoTenant)
    );
}

#[tokio::test]
async fn a_rotated_key_is_picked_up_without_restart_once_the_interval_allows() {
    let fixture = Fixture::new(&[PARTY]).await;
    assert!(
        fixture
            .verify(&fixture.key.sign(&fixture.claims()))
            .await
            .is_ok()
    );
    let rotated = TestSigningKey::generate("key-2");
    // Clerk publishes the new key only after this token was minted.
    assert_eq!(
        fixture.verify(&rotated.sign(&fixture.claims())).await,
        Err(CredentialError::UnknownKey)
    );
    serve_jwks(&fixture.server, &[&fixture.key, &rotated]).await;
    fixture.clock.advance(INTERVAL + Duration::from_secs(1));
    let principal = fixture
        .verify(&rotated.sign(&fixture.claims()))
        .await
        .expect("new key accepted");
    assert_eq!(principal.tenant_id.as_str(), "org_a");
    assert!(
        fixture
            .verify(&fixture.key.sign(&fixture.claims()))
            .await
            .is_ok(),
        "old key still published"
    );
}

#[tokio::test]
async fn a_flood_of_unknown_kids_causes_at_most_one_fetch_per_interval() {
    let fixture = Fixture::new(&[PARTY]).await;
    assert!(
        fixture
            .verify(&fixture.key.sign(&fixture.claims()))
            .await
            .is_ok()
    );
    let stranger = TestSigningKey::generate("x");
    let tokens: Vec<String> = (0..50)
        .map(|n| {
            let mut key = stranger.clone();
            key.kid = format!("random-{n}");
            key.sign(&fixture.claims())
        })
        .collect();
    let verifications = tokens.iter().map(|token| fixture.verify(token));
    let results = futures_util::future::join_all(verifications).await;
    assert!(
        results
            .iter()
            .all(|result| *result == Err(CredentialError::UnknownKey))
    );
    fixture.server.reset().await;
    serve_jwks(&fixture.server, &[&fixture.key]).await;
    let results =
        futures_util::future::join_all(tokens.iter().map(|token| fixture.verify(token))).await;
    assert!(
        results
            .iter()
            .all(|result| *result == Err(CredentialError::UnknownKey))
    );
    assert_eq!(
        fixture.jwks_fetches().await,
        0,
        "no fetch within the interval after the first refetch"
    );
    fixture.clock.advance(INTERVAL + Duration::from_secs(1));
    let _ = futures_util::future::join_all(tokens.iter().map(|token| fixture.verify(token))).await;
    assert_eq!(
        fixture.jwks_fetches().await,
        1,
        "one fetch for the whole flood once the interval passed"
    );
}

#[tokio::test]
async fn a_failed_fetch_keeps_the_last_good_keys() {
    let fixture = Fixture::new(&[PARTY]).await;
    assert!(
        fixture
            .verify(&fixture.key.sign(&fixture.claims()))
            .await
            .is_ok()
    );
    fixture.server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&fixture.server)
        .await;
    fixture.clock.advance(Duration::from_secs(7200));
    let token = fixture.key.sign(&fixture.claims());
    assert!(
        fixture.verify(&token).await.is_ok(),
        "stale but good keys keep working"
    );
    assert_eq!(fixture.jwks_fetches().await, 1, "the refresh was attempted");
}

#[tokio::test]
async fn without_any_keys_verification_is_unavailable_not_invalid() {
    let clock = ManualClock::at("2026-11-25T12:00:00Z");
    let unreachable = KeySource::Jwks {
        url: "http://127.0.0.1:1/jwks".into(),
        bearer: None,
    };
    let settings = settings(unreachable, None, &[]);
    let verifier = ClerkJwtVerifier::new(settings, Arc::new(clock.clone())).expect("verifier");
    let key = TestSigningKey::generate("key-1");
    let claims = claims_at(clock.now().timestamp());
    let result = verifier.verify(&key.sign(&claims), Operation::Read).await;
    assert!(
        matches!(result, Err(CredentialError::KeysUnavailable(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_pem_key_verifies_fully_offline() {
    let key = TestSigningKey::generate("any");
    let clock = ManualClock::at("2026-11-25T12:00:00Z");
    let settings = settings(KeySource::Pem(key.public_pem.clone()), None, &[PARTY]);
    let verifier = ClerkJwtVerifier::new(settings, Arc::new(clock.clone())).expect("verifier");
    let claims = signers::session_claims_v2(
        ISSUER,
        PARTY,
        "user_9",
        "org_z",
        "member",
        clock.now().timestamp(),
    );
    let principal = verifier
        .verify(&key.sign(&claims), Operation::Write)
        .await
        .expect("valid");
    assert_eq!(principal.user_id.as_str(), "user_9");
}

/// Session tokens are verified by ring (`otto_adapters::jwt_crypto`), which refuses
/// RSA keys under 2048 bits: a weak key signs nothing Otto accepts, whether it is
/// published in the JWKS or configured as PEM.
#[tokio::test]
async fn a_token_signed_with_a_weak_rsa_key_is_refused() {
    let weak = TestSigningKey::generate_with_bits("key-weak", 1024);
    let server = MockServer::start().await;
    serve_jwks(&server, &[&weak]).await;
    let clock = ManualClock::at("2026-11-25T12:00:00Z");
    let claims = claims_at(clock.now().timestamp());
    let jwks = KeySource::Jwks {
        url: format!("{}/jwks", server.uri()),
        bearer: Some("sk_test_backend".into()),
    };
    for keys in [jwks, KeySource::Pem(weak.public_pem.clone())] {
        let verifier =
            ClerkJwtVerifier::new(settings(keys, None, &[PARTY]), Arc::new(clock.clone()))
                .expect("verifier");
        assert_eq!(
            verifier.verify(&weak.sign(&claims), Operation::Read).await,
            Err(CredentialError::InvalidSignature)
        );
    }
}
