//! The platform admin API: only platform-admin API tokens may link provider accounts
//! and replay unroutable deliveries; bad input is a clear problem.

mod support;

use std::sync::Arc;

use otto_core::ports::ProviderAccounts;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{AccountRef, Provider};
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::{TestClient, TestResponse};
use serde_json::{Value, json as json_value};
use support::{
    api_token, assert_problem, calls_of, config, json, platform_admin_token, session_claims,
    session_token, state_with_store,
};

type Client = TestClient<BoxEndpoint<'static, Response>>;

const LINK_PATH: &str = "/api/v1/admin/provider-accounts/callrail/COM9";

/// The development default without a fallback tenant, so that deliveries of unlinked
/// accounts are stored as unroutable.
fn app(store: &InMemoryStore) -> Client {
    let mut config = config(&[]);
    config.webhooks.default_tenant = None;
    let state = state_with_store(
        config,
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    );
    support::client(&state)
}

fn admin() -> String {
    platform_admin_token("user_operator", "org_platform")
}

async fn put_link(client: &Client, token: &str, path: &str, body: &str) -> TestResponse {
    client
        .put(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
}

async fn send(client: &Client, method: &str, path: &str, token: &str) -> TestResponse {
    let request = match method {
        "GET" => client.get(path),
        "DELETE" => client.delete(path),
        "POST" => client.post(path),
        other => panic!("unexpected method {other}"),
    };
    request
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
}

#[tokio::test]
async fn tenant_credentials_cannot_administer_the_platform() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let tenant_admin = api_token("user_1", "org_a", "admin");
    let clerk_admin = session_token(&session_claims("user_1", "org_a", "org:admin"));
    for token in [&tenant_admin, &clerk_admin] {
        let refused = put_link(&client, token, LINK_PATH, r#"{"tenant_id":"org_a"}"#).await;
        let problem = assert_problem(refused, 403, LINK_PATH).await;
        assert_eq!(problem["type"], "/problems/forbidden");
        assert!(
            problem["detail"]
                .as_str()
                .expect("detail")
                .contains("platform-admin"),
            "the problem names what is needed: {problem}"
        );
        for (method, path) in [
            ("GET", "/api/v1/admin/provider-accounts"),
            ("DELETE", LINK_PATH),
            ("POST", "/api/v1/admin/webhooks/unroutable/replay"),
        ] {
            assert_problem(send(&client, method, path, token).await, 403, path).await;
        }
    }
    assert!(
        store.links().await.expect("lists").is_empty(),
        "nothing was linked"
    );
    let anonymous = client.get("/api/v1/admin/provider-accounts").send().await;
    let problem = assert_problem(anonymous, 403, "/api/v1/admin/provider-accounts").await;
    assert_eq!(problem["type"], "/problems/missing_token");
}

#[tokio::test]
async fn an_operator_links_lists_moves_and_unlinks_accounts() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let linked =
        json(put_link(&client, &admin(), LINK_PATH, r#"{"tenant_id":"org_a"}"#).await).await;
    assert_eq!(
        linked,
        json_value!({"provider":"callrail","account_id":"COM9","tenant_id":"org_a","has_signing_key":false})
    );
    // A Twilio number: the `+` travels percent-encoded.
    let twilio = "/api/v1/admin/provider-accounts/twilio/%2B15551230000";
    let linked = json(put_link(&client, &admin(), twilio, r#"{"tenant_id":"org_b"}"#).await).await;
    assert_eq!(linked["account_id"], "+15551230000");
    assert_eq!(
        store
            .tenant_of(&[AccountRef::new(Provider::Twilio, "+15551230000")])
            .await
            .expect("reads"),
        Some(TenantId::parse("org_b").expect("valid"))
    );

    let all: Value =
        json(send(&client, "GET", "/api/v1/admin/provider-accounts", &admin()).await).await;
    assert_eq!(all["links"].as_array().expect("links").len(), 2);
    let of_b: Value = json(
        send(
            &client,
            "GET",
            "/api/v1/admin/provider-accounts?tenant_id=org_b",
            &admin(),
        )
        .await,
    )
    .await;
    assert_eq!(
        of_b["links"],
        json_value!([{"provider":"twilio","account_id":"+15551230000","tenant_id":"org_b","has_signing_key":false}])
    );

    // Re-linking moves the account.
    put_link(&client, &admin(), LINK_PATH, r#"{"tenant_id":"org_b"}"#).await;
    assert_eq!(
        store
            .tenant_of(&[AccountRef::new(Provider::CallRail, "COM9")])
            .await
            .expect("reads"),
        Some(TenantId::parse("org_b").expect("valid"))
    );

    let unlinked = send(&client, "DELETE", LINK_PATH, &admin()).await;
    assert_eq!(unlinked.0.status().as_u16(), 204);
    assert_eq!(store.links().await.expect("lists").len(), 1);
    let again = send(&client, "DELETE", LINK_PATH, &admin()).await;
    let problem = assert_problem(again, 404, LINK_PATH).await;
    assert!(
        problem["detail"]
            .as_str()
            .expect("detail")
            .contains("callrail:COM9")
    );
}

#[tokio::test]
async fn a_company_signing_key_is_write_only_and_survives_a_move() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let company = [AccountRef::new(Provider::CallRail, "COM9")];
    let key = "company-nine-signing-key"; // pragma: allowlist secret
    let response = put_link(
        &client,
        &admin(),
        LINK_PATH,
        &json_value!({"tenant_id": "org_a", "signing_key": key}).to_string(),
    )
    .await;
    let text = response.0.into_body().into_string().await.expect("text");
    assert!(!text.contains(key), "the key is never returned: {text}");
    let linked: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(linked["has_signing_key"], true);
    assert_eq!(
        store.signing_keys(&company).await.expect("reads"),
        vec![key]
    );

    // Moving the account keeps its key; `null` removes it.
    let moved =
        json(put_link(&client, &admin(), LINK_PATH, r#"{"tenant_id":"org_b"}"#).await).await;
    assert_eq!(moved["has_signing_key"], true);
    let listed = send(&client, "GET", "/api/v1/admin/provider-accounts", &admin()).await;
    let text = listed.0.into_body().into_string().await.expect("text");
    assert!(!text.contains(key), "{text}");
    let cleared = json(
        put_link(
            &client,
            &admin(),
            LINK_PATH,
            r#"{"tenant_id":"org_b","signing_key":null}"#,
        )
        .await,
    )
    .await;
    assert_eq!(cleared["has_signing_key"], false);
    assert!(
        store
            .signing_keys(&company)
            .await
            .expect("reads")
            .is_empty()
    );

    let refused = put_link(
        &client,
        &admin(),
        LINK_PATH,
        r#"{"tenant_id":"org_b","signing_key":"has spaces"}"#,
    )
    .await;
    let problem = assert_problem(refused, 422, LINK_PATH).await;
    assert_eq!(problem["errors"][0]["field"], "signing_key");
}

#[tokio::test]
async fn bad_admin_input_is_a_clear_problem_and_changes_nothing() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let cases: [(&str, &str, u16, &str); 6] = [
        (
            "/api/v1/admin/provider-accounts/clerk/org_1",
            r#"{"tenant_id":"org_a"}"#,
            400,
            "provider",
        ),
        (
            "/api/v1/admin/provider-accounts/stripe/acct_1",
            r#"{"tenant_id":"org_a"}"#,
            400,
            "provider",
        ),
        (
            "/api/v1/admin/provider-accounts/bland/two%20words",
            r#"{"tenant_id":"org_a"}"#,
            400,
            "account_id",
        ),
        (
            LINK_PATH,
            r#"{"tenant_id":"org a; drop"}"#,
            422,
            "tenant_id",
        ),
        (LINK_PATH, r#"{}"#, 422, "tenant_id"),
        (
            LINK_PATH,
            r#"{"tenant_id":"org_a","extra":1}"#,
            422,
            "extra",
        ),
    ];
    for (path, body, status, field) in cases {
        let problem =
            assert_problem(put_link(&client, &admin(), path, body).await, status, path).await;
        assert_eq!(
            problem["errors"][0]["field"], field,
            "{path} {body}: {problem}"
        );
    }
    let not_json = client
        .put(LINK_PATH)
        .header("authorization", format!("Bearer {}", admin()))
        .header("content-type", "text/plain")
        .body("org_a")
        .send()
        .await;
    assert_problem(not_json, 415, LINK_PATH).await;
    let bad_json = put_link(&client, &admin(), LINK_PATH, r#"{"tenant_id":"#).await;
    assert_problem(bad_json, 400, LINK_PATH).await;
    let filter = "/api/v1/admin/provider-accounts?tenant_id=org%20a";
    let problem = assert_problem(
        send(&client, "GET", filter, &admin()).await,
        400,
        "/api/v1/admin/provider-accounts",
    )
    .await;
    assert_eq!(problem["errors"][0]["field"], "tenant_id");
    for limit in ["0", "1001"] {
        let path = format!("/api/v1/admin/webhooks/unroutable/replay?limit={limit}");
        let problem = assert_problem(
            send(&client, "POST", &path, &admin()).await,
            400,
            "/api/v1/admin/webhooks/unroutable/replay",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "limit");
    }
    assert!(store.links().await.expect("lists").is_empty());
}

#[tokio::test]
async fn linking_then_replaying_delivers_what_waited_as_unroutable() {
    let store = InMemoryStore::default();
    let client = app(&store);
    let body = r#"{"resource_id":"CAL9","company_resource_id":"COM9","direction":"inbound","answered":false}"#;
    let waiting: Value = json(
        client
            .post("/webhook/callrail/call-complete")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await,
    )
    .await;
    assert_eq!(waiting["status"], "unroutable");

    let replay = "/api/v1/admin/webhooks/unroutable/replay";
    let before_link: Value = json(send(&client, "POST", replay, &admin()).await).await;
    assert_eq!(
        before_link,
        json_value!({"processed":0,"duplicates":0,"still_unroutable":1,"failed":0})
    );
    put_link(&client, &admin(), LINK_PATH, r#"{"tenant_id":"org_r"}"#).await;
    let after_link: Value = json(send(&client, "POST", replay, &admin()).await).await;
    assert_eq!(
        after_link,
        json_value!({"processed":1,"duplicates":0,"still_unroutable":0,"failed":0})
    );
    assert_eq!(calls_of(&store, "org_r").await, 1);
    assert_eq!(
        store.jobs().len(),
        2,
        "one missed-call recovery and one AI follow-up"
    );
    let nothing_left: Value = json(send(&client, "POST", replay, &admin()).await).await;
    assert_eq!(nothing_left["processed"], 0);
}
