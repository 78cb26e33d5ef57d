//! Biscuit API tokens: issue, verify, expire, attenuate, forgery.

use std::sync::Arc;
use std::time::Duration;

use otto_adapters::api_tokens::{self, ApiTokens, Restriction};
use otto_core::ports::{CredentialError, CredentialVerifier};
use otto_core::tenancy::{CredentialKind, Operation, Principal, Role, TenantId, UserId};
use otto_testkit::ManualClock;

fn principal(role: &str) -> Principal {
    Principal {
        tenant_id: TenantId::parse("org_a").expect("valid"),
        user_id: UserId::parse("user_1").expect("valid"),
        role: Role::parse(role).expect("valid"),
        credential: CredentialKind::ApiToken,
        platform_admin: false,
    }
}

fn authority() -> (ApiTokens, ManualClock) {
    let clock = ManualClock::at("2026-11-25T12:00:00Z");
    let keys = api_tokens::generate_keys();
    (
        ApiTokens::from_private_key(&keys.private_key, Arc::new(clock.clone())).expect("key"),
        clock,
    )
}

#[tokio::test]
async fn an_issued_token_verifies_to_the_same_principal() {
    let (tokens, _) = authority();
    let token = tokens
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    for operation in [Operation::Read, Operation::Write] {
        assert_eq!(
            tokens.verify(&token, operation).await,
            Ok(principal("admin"))
        );
    }
}

#[tokio::test]
async fn a_public_key_alone_verifies_but_cannot_issue() {
    let (tokens, clock) = authority();
    let token = tokens
        .issue(&principal("member"), Duration::from_secs(60))
        .expect("issued");
    let verifier = ApiTokens::from_public_key(&tokens.public_key(), Arc::new(clock))
        .expect("public key parses");
    assert_eq!(
        verifier.verify(&token, Operation::Read).await,
        Ok(principal("member"))
    );
    assert!(
        verifier
            .issue(&principal("member"), Duration::from_secs(60))
            .is_err()
    );
}

#[tokio::test]
async fn a_token_expires() {
    let (tokens, clock) = authority();
    let token = tokens
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    assert!(tokens.verify(&token, Operation::Read).await.is_ok());
    clock.advance(Duration::from_secs(3601));
    assert_eq!(
        tokens.verify(&token, Operation::Read).await,
        Err(CredentialError::Expired),
        "a token verified before stops working when it expires"
    );
}

#[tokio::test]
async fn a_token_signed_by_another_root_is_refused() {
    let (tokens, _) = authority();
    let (forger, _) = authority();
    let forged = forger
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    assert_eq!(
        tokens.verify(&forged, Operation::Read).await,
        Err(CredentialError::InvalidSignature)
    );
}

#[tokio::test]
async fn garbage_is_malformed() {
    let (tokens, _) = authority();
    for garbage in ["not-a-token", "AAAA", "En0KEwoEb3JnXzEY"] {
        let refused = tokens.verify(garbage, Operation::Read).await;
        assert!(
            matches!(
                refused,
                Err(CredentialError::Malformed(_) | CredentialError::InvalidSignature)
            ),
            "{refused:?}"
        );
    }
}

#[tokio::test]
async fn a_read_only_attenuation_allows_reads_and_refuses_writes() {
    let (tokens, _) = authority();
    let token = tokens
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    let read_only =
        api_tokens::attenuate(&token, Restriction::ReadOnly).expect("attenuated offline");
    assert_eq!(
        tokens.verify(&read_only, Operation::Read).await,
        Ok(principal("admin"))
    );
    assert_eq!(
        tokens.verify(&read_only, Operation::Write).await,
        Err(CredentialError::NotPermitted)
    );
    assert!(
        tokens.verify(&token, Operation::Write).await.is_ok(),
        "the original keeps its rights"
    );
}

#[tokio::test]
async fn a_shorter_expiry_attenuation_is_honoured() {
    let (tokens, clock) = authority();
    let token = tokens
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    let brief = api_tokens::attenuate(
        &token,
        Restriction::ExpiresAt(clock.now_plus(Duration::from_secs(60))),
    )
    .expect("attenuated offline");
    assert!(tokens.verify(&brief, Operation::Read).await.is_ok());
    clock.advance(Duration::from_secs(61));
    assert_eq!(
        tokens.verify(&brief, Operation::Read).await,
        Err(CredentialError::Expired)
    );
    assert!(
        tokens.verify(&token, Operation::Read).await.is_ok(),
        "the original lives on"
    );
}

#[tokio::test]
async fn attenuation_cannot_change_who_the_caller_is() {
    let (tokens, _) = authority();
    let token = tokens
        .issue(&principal("member"), Duration::from_secs(3600))
        .expect("issued");
    let parsed = biscuit_auth::UnverifiedBiscuit::from_base64(&token).expect("parses");
    let escalated = parsed
        .append(biscuit_auth::macros::block!(
            r#"tenant("org_victim"); role("admin");"#
        ))
        .and_then(|token| token.to_base64())
        .expect("appended");
    let verified = tokens.verify(&escalated, Operation::Write).await;
    match verified {
        Ok(principal) => {
            assert_eq!(
                principal.tenant_id.as_str(),
                "org_a",
                "appended facts are not trusted"
            );
            assert_eq!(principal.role.as_str(), "member");
        }
        Err(error) => assert!(matches!(error, CredentialError::Malformed(_)), "{error:?}"),
    }
}

fn platform_admin() -> Principal {
    Principal {
        platform_admin: true,
        ..principal("admin")
    }
}

#[tokio::test]
async fn a_platform_admin_token_says_so_and_an_ordinary_one_does_not() {
    let (tokens, _) = authority();
    let admin = tokens
        .issue(&platform_admin(), Duration::from_secs(3600))
        .expect("issued");
    let ordinary = tokens
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    assert_eq!(
        tokens.verify(&admin, Operation::Write).await,
        Ok(platform_admin())
    );
    let verified = tokens
        .verify(&ordinary, Operation::Write)
        .await
        .expect("valid");
    assert!(
        !verified.platform_admin,
        "a tenant admin is not a platform admin"
    );
}

#[tokio::test]
async fn attenuation_cannot_make_a_token_platform_admin() {
    let (tokens, _) = authority();
    let token = tokens
        .issue(&principal("admin"), Duration::from_secs(3600))
        .expect("issued");
    let parsed = biscuit_auth::UnverifiedBiscuit::from_base64(&token).expect("parses");
    let escalated = parsed
        .append(biscuit_auth::macros::block!(r#"platform_admin(true);"#))
        .and_then(|token| token.to_base64())
        .expect("appended");
    let verified = tokens
        .verify(&escalated, Operation::Write)
        .await
        .expect("still a valid token");
    assert!(!verified.platform_admin, "appended facts are not trusted");
}

#[tokio::test]
async fn a_read_only_platform_admin_token_keeps_admin_for_reads_only() {
    let (tokens, _) = authority();
    let token = tokens
        .issue(&platform_admin(), Duration::from_secs(3600))
        .expect("issued");
    let read_only = api_tokens::attenuate(&token, Restriction::ReadOnly).expect("attenuated");
    assert_eq!(
        tokens.verify(&read_only, Operation::Read).await,
        Ok(platform_admin())
    );
    assert_eq!(
        tokens.verify(&read_only, Operation::Write).await,
        Err(CredentialError::NotPermitted)
    );
}

#[tokio::test]
async fn an_oversized_token_is_refused_before_it_is_parsed() {
    let (tokens, _) = authority();
    let huge = "A".repeat(64 * 1024);
    assert!(matches!(
        tokens.verify(&huge, Operation::Read).await,
        Err(CredentialError::Malformed(reason)) if reason.contains("longer")
    ));
}
