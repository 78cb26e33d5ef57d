//! `/api/v1/company/users`: leadership lists its company's users with their
//! organization and Otto roles; other roles get a 403 naming the role; another
//! company's users never appear.

mod support;

use std::sync::Arc;

use otto_core::ports::{IdempotencyKey, Target, WebhookLedger};
use otto_core::tenancy::{Role, TenantId, UserId};
use otto_core::webhooks::{Effect, Provider, UserFacts};
use otto_testkit::{InMemoryStore, SwitchableProbe};
use serde_json::{Value, json};
use support::{api_token, assert_problem, config, json as body_of, state_with_store};

const PATH: &str = "/api/v1/company/users";

async fn member(store: &InMemoryStore, tenant: &str, user: &str, role: &str, email: Option<&str>) {
    let mut effects = vec![Effect::SaveMembership {
        tenant: TenantId::parse(tenant).expect("valid"),
        user: UserId::parse(user).expect("valid"),
        role: Role::parse(role).expect("valid"),
    }];
    if let Some(email) = email {
        effects.insert(
            0,
            Effect::SaveUser(UserFacts {
                id: UserId::parse(user).expect("valid"),
                email: Some(email.into()),
                name: None,
            }),
        );
    }
    store
        .apply(&otto_core::ports::Application {
            target: &Target::Platform,
            key: &IdempotencyKey {
                tenant: None,
                provider: Provider::Clerk,
                event: "organizationMembership.created".into(),
                external_id: format!("msg_{tenant}_{user}"),
            },
            body_digest: "digest",
            effects: &effects,
            jobs: &[],
            at: chrono::Utc::now(),
            log: None,
        })
        .await
        .expect("synced");
}

#[tokio::test]
async fn leadership_lists_its_users_with_their_roles_and_no_one_elses() {
    let store = InMemoryStore::default();
    member(
        &store,
        "org_a",
        "user_lead",
        "admin",
        Some("lead@acme.test"),
    )
    .await;
    member(&store, "org_a", "user_rep", "sales_rep", None).await;
    member(&store, "org_b", "user_other", "admin", None).await;
    let state = state_with_store(
        config(&[("OTTO_ROLE_MAP", "sales_rep=rep")]),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store,
    );
    let client = support::client(&state);
    let lead = api_token("user_lead", "org_a", "org:admin");
    let listed: Value = body_of(
        client
            .get(PATH)
            .header("authorization", format!("Bearer {lead}"))
            .send()
            .await,
    )
    .await;
    assert_eq!(
        listed,
        json!({"users": [
            {"user_id": "user_lead", "email": "lead@acme.test", "organization_role": "admin", "role": "leadership"},
            {"user_id": "user_rep", "organization_role": "sales_rep", "role": "rep"},
        ]})
    );
    let rep = api_token("user_rep", "org_a", "org:sales_rep");
    let refused = client
        .get(PATH)
        .header("authorization", format!("Bearer {rep}"))
        .send()
        .await;
    let problem = assert_problem(refused, 403, PATH).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("needs the leadership role"),
        "{problem}"
    );
}
