//! The members part of the [`CompanyDirectory`] contract.

use otto_core::ports::{CompanyDirectory, IdempotencyKey, Member, Target, WebhookLedger};
use otto_core::tenancy::{Role, TenantId, UserId};
use otto_core::webhooks::{Effect, Provider, UserFacts};

use crate::contracts::scope_of;

fn user(id: &str) -> UserId {
    UserId::parse(id).expect("valid")
}

fn role(name: &str) -> Role {
    Role::parse(name).expect("valid")
}

async fn sync(ledger: &dyn WebhookLedger, event_id: &str, effects: Vec<Effect>) {
    let key = IdempotencyKey {
        tenant: None,
        provider: Provider::Clerk,
        event: "members.contract".into(),
        external_id: event_id.into(),
    };
    ledger
        .apply(&otto_core::ports::Application {
            target: &Target::Platform,
            key: &key,
            body_digest: "digest",
            effects: &effects,
            jobs: &[],
            at: chrono::Utc::now(),
            log: None,
        })
        .await
        .expect("Clerk sync applied");
}

/// A company's members are those Clerk synced into it, with their user details and
/// organization role, ordered by user id; another company's are never listed; a
/// removed membership disappears. `tenant_a` and `tenant_b` must be fresh tenants.
pub async fn company_members_contract(
    directory: &dyn CompanyDirectory,
    ledger: &dyn WebhookLedger,
    tenant_a: &str,
    tenant_b: &str,
) {
    let (a, b) = (
        TenantId::parse(tenant_a).expect("valid"),
        TenantId::parse(tenant_b).expect("valid"),
    );
    sync(
        ledger,
        "msg_members_1",
        vec![
            Effect::SaveUser(UserFacts {
                id: user("user_m1"),
                email: Some("ada@example.com".into()),
                name: Some("Ada Lovelace".into()),
            }),
            Effect::SaveMembership {
                tenant: a.clone(),
                user: user("user_m1"),
                role: role("admin"),
            },
            Effect::SaveMembership {
                tenant: a.clone(),
                user: user("user_m2"),
                role: role("member"),
            },
            Effect::SaveMembership {
                tenant: b.clone(),
                user: user("user_m3"),
                role: role("member"),
            },
        ],
    )
    .await;
    let members = directory.members(&scope_of(tenant_a)).await.expect("lists");
    assert_eq!(
        members,
        [
            Member {
                user_id: user("user_m1"),
                email: Some("ada@example.com".into()),
                name: Some("Ada Lovelace".into()),
                role: role("admin"),
            },
            Member {
                user_id: user("user_m2"),
                email: None,
                name: None,
                role: role("member"),
            },
        ]
    );
    let theirs = directory.members(&scope_of(tenant_b)).await.expect("lists");
    assert_eq!(
        theirs
            .iter()
            .map(|member| member.user_id.as_str())
            .collect::<Vec<_>>(),
        ["user_m3"]
    );
    sync(
        ledger,
        "msg_members_2",
        vec![Effect::DeleteMembership {
            tenant: a,
            user: user("user_m2"),
        }],
    )
    .await;
    let remaining = directory.members(&scope_of(tenant_a)).await.expect("lists");
    assert_eq!(remaining.len(), 1, "a removed membership disappears");
}
