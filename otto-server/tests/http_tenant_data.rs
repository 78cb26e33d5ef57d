//! Tenant data over HTTP: every route returns only the caller's tenant's rows.

mod support;

use otto_core::ports::{CallRepository, Company, CompanyDirectory, StoreError};
use otto_testkit::InMemoryStore;
use otto_testkit::contracts::{new_call, scope_of};
use serde_json::Value;
use support::*;

struct Tenants {
    state: otto_server::state::AppState,
    a_call_ids: Vec<String>,
    b_call_ids: Vec<String>,
}

/// Tenant A (a company record, 3 calls) and tenant B (no record, 2 calls).
async fn two_tenants() -> Tenants {
    let store = InMemoryStore::default();
    let (a_call_ids, b_call_ids) = seed(&store).await;
    Tenants {
        state: state_with_store(config(&[]), vec![], vec![], store),
        a_call_ids,
        b_call_ids,
    }
}

async fn seed<S: CallRepository + CompanyDirectory>(store: &S) -> (Vec<String>, Vec<String>) {
    let a = scope_of("org_a");
    let b = scope_of("org_b");
    store
        .save_company(
            &a,
            &Company {
                name: Some("Acme Plumbing".into()),
                slug: Some("acme".into()),
            },
        )
        .await
        .expect("saved");
    let mut a_call_ids = Vec::new();
    for (id, minutes) in [("A1", 30), ("A2", 20), ("A3", 10)] {
        a_call_ids.push(
            store
                .record(&a, new_call(id, minutes))
                .await
                .expect("recorded")
                .id
                .to_string(),
        );
    }
    let mut b_call_ids = Vec::new();
    for (id, minutes) in [("B1", 25), ("B2", 5)] {
        b_call_ids.push(
            store
                .record(&b, new_call(id, minutes))
                .await
                .expect("recorded")
                .id
                .to_string(),
        );
    }
    (a_call_ids, b_call_ids)
}

fn bearer(org: &str, role: &str) -> String {
    format!(
        "Bearer {}",
        session_token(&session_claims("user_1", org, role))
    )
}

async fn get(tenants: &Tenants, path: &str, org: &str) -> poem::test::TestResponse {
    client(&tenants.state)
        .get(path)
        .header("Authorization", bearer(org, "admin"))
        .send()
        .await
}

#[tokio::test]
async fn company_returns_the_callers_company_and_role() {
    let tenants = two_tenants().await;
    for path in ["/api/v1/company", "/user/company"] {
        let body = json(get(&tenants, path, "org_a").await).await;
        assert_eq!(body["company_id"], "org_a", "{path}");
        assert_eq!(body["company_name"], "Acme Plumbing");
        assert_eq!(body["user_role"], "admin");
    }
    let response = client(&tenants.state)
        .get("/api/v1/company")
        .header("Authorization", bearer("org_b", "member"))
        .send()
        .await;
    let body = json(response).await;
    assert_eq!(body["company_id"], "org_b");
    assert!(
        body.get("company_name").is_none_or(Value::is_null),
        "B has no record yet: {body}"
    );
    assert_eq!(body["user_role"], "member");
}

#[tokio::test]
async fn calls_lists_only_the_callers_calls_newest_first() {
    let tenants = two_tenants().await;
    let body = json(get(&tenants, "/api/v1/calls", "org_a").await).await;
    let ids: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|call| call["id"].as_str().expect("id"))
        .collect();
    let mut expected: Vec<&str> = tenants.a_call_ids.iter().map(String::as_str).collect();
    expected.reverse();
    assert_eq!(ids, expected);
    assert!(body.get("next_cursor").is_none_or(Value::is_null));
    let body = json(get(&tenants, "/api/v1/calls", "org_b").await).await;
    assert_eq!(
        body["items"].as_array().expect("items").len(),
        tenants.b_call_ids.len()
    );
    assert!(
        body["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|call| call["external_id"].as_str().expect("id").starts_with('B'))
    );
}

#[tokio::test]
async fn calls_pages_with_the_returned_cursor() {
    let tenants = two_tenants().await;
    let first = json(get(&tenants, "/api/v1/calls?limit=2", "org_a").await).await;
    assert_eq!(first["items"].as_array().expect("items").len(), 2);
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = json(
        get(
            &tenants,
            &format!("/api/v1/calls?limit=2&cursor={cursor}"),
            "org_a",
        )
        .await,
    )
    .await;
    let items = second["items"].as_array().expect("items");
    assert_eq!(items.len(), 1);
    assert_eq!(
        items[0]["id"],
        tenants.a_call_ids[0].as_str(),
        "the oldest call comes last"
    );
    assert!(second.get("next_cursor").is_none_or(Value::is_null));
}

#[tokio::test]
async fn a_cursor_never_crosses_tenants() {
    let tenants = two_tenants().await;
    let a_page = json(get(&tenants, "/api/v1/calls?limit=1", "org_a").await).await;
    let cursor = a_page["next_cursor"].as_str().expect("cursor");
    let b_page =
        json(get(&tenants, &format!("/api/v1/calls?cursor={cursor}"), "org_b").await).await;
    assert!(
        b_page["items"]
            .as_array()
            .expect("items")
            .iter()
            .all(|call| call["external_id"].as_str().expect("id").starts_with('B'))
    );
}

#[tokio::test]
async fn bad_paging_parameters_are_400_problems_naming_the_parameter() {
    let tenants = two_tenants().await;
    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("cursor=garbage", "cursor"),
    ] {
        let path = format!("/api/v1/calls?{query}");
        let response = get(&tenants, &path, "org_a").await;
        let body = assert_problem(response, 400, "/api/v1/calls").await;
        assert_eq!(body["errors"][0]["field"], parameter, "{query}: {body}");
    }
}

#[tokio::test]
async fn a_call_of_another_tenant_is_not_found() {
    let tenants = two_tenants().await;
    let a_call = &tenants.a_call_ids[0];
    let response = get(&tenants, &format!("/api/v1/calls/{a_call}"), "org_a").await;
    response.assert_status_is_ok();
    assert_eq!(json(response).await["id"], a_call.as_str());
    let path = format!("/api/v1/calls/{a_call}");
    let response = get(&tenants, &path, "org_b").await;
    let body = assert_problem(response, 404, &path).await;
    assert_eq!(body["type"], "/problems/not_found");
    let unknown = "/api/v1/calls/0195f2a4-8c1e-7b3d-9a2f-1c2d3e4f5a6b";
    assert_problem(get(&tenants, unknown, "org_a").await, 404, unknown).await;
}

#[tokio::test]
async fn a_malformed_call_id_is_a_400_problem() {
    let tenants = two_tenants().await;
    let response = get(&tenants, "/api/v1/calls/not-a-uuid", "org_a").await;
    let body = assert_problem(response, 400, "/api/v1/calls/not-a-uuid").await;
    assert_eq!(body["errors"][0]["field"], "id");
}

#[tokio::test]
async fn tenant_routes_require_a_credential() {
    let tenants = two_tenants().await;
    for path in [
        "/api/v1/company",
        "/user/company",
        "/api/v1/calls",
        &format!("/api/v1/calls/{}", tenants.a_call_ids[0]),
    ] {
        let response = client(&tenants.state).get(path).send().await;
        let body = assert_problem(response, 403, path).await;
        assert_eq!(body["type"], "/problems/missing_token");
    }
}

#[tokio::test]
async fn an_unreachable_database_is_a_503_problem() {
    // The one answer the test needs, a database that is down, from a mock: the
    // in-memory fake is never down.
    let mut calls = otto_testkit::mocks::MockCallRepository::new();
    calls
        .expect_list()
        .times(1)
        .returning(|_, _, _, _| Err(StoreError::Unavailable("connection refused".into())));
    let full = state_with_store(config(&[]), vec![], vec![], InMemoryStore::default());
    let mixed = otto_server::state::AppState {
        calls: std::sync::Arc::new(calls),
        ..full
    };
    let response = client(&mixed)
        .get("/api/v1/calls")
        .header("Authorization", bearer("org_a", "admin"))
        .send()
        .await;
    assert_eq!(header(&response, "retry-after"), "2");
    let body = assert_problem(response, 503, "/api/v1/calls").await;
    assert_eq!(body["type"], "/problems/service_unavailable");
}

#[tokio::test]
async fn metrics_label_parameterised_routes_with_their_documented_template() {
    let tenants = two_tenants().await;
    for id in &tenants.a_call_ids {
        get(&tenants, &format!("/api/v1/calls/{id}"), "org_a")
            .await
            .assert_status_is_ok();
    }
    let metrics = metrics_text(&tenants.state).await;
    assert!(
        metrics.contains(
            r#"http_requests_total{route="/api/v1/calls/{id}",method="GET",status="200"} 3"#
        ),
        "{metrics}"
    );
    assert!(
        !metrics.contains(&tenants.a_call_ids[0]),
        "ids never become labels"
    );
}

#[tokio::test]
async fn routes_over_the_sqlite_store_return_only_the_callers_rows() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/otto.db", dir.path().display());
    let connection = otto_adapters::database::connect(&url, &Default::default())
        .await
        .expect("opens");
    otto_adapters::database::migrate_up(&connection)
        .await
        .expect("migrates");
    let store = Arc::new(otto_adapters::store::SqlStore::new(
        connection,
        Arc::new(otto_adapters::system::UuidV7Ids),
    ));
    let (a_call_ids, b_call_ids) = seed(store.as_ref()).await;
    let base = state(config(&[]), vec![], vec![]);
    let tenants = Tenants {
        state: otto_server::state::AppState {
            calls: store.clone(),
            companies: store,
            ..base
        },
        a_call_ids,
        b_call_ids,
    };
    let body = json(get(&tenants, "/api/v1/calls", "org_a").await).await;
    let ids: Vec<&str> = body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|call| call["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(
        ids.iter()
            .all(|id| tenants.a_call_ids.iter().any(|a| a == id)),
        "only A's calls"
    );
    let b_call = &tenants.b_call_ids[0];
    let path = format!("/api/v1/calls/{b_call}");
    assert_problem(get(&tenants, &path, "org_a").await, 404, &path).await;
    assert_eq!(
        json(get(&tenants, "/api/v1/company", "org_a").await).await["company_name"],
        "Acme Plumbing"
    );
}
