//! Every tenant-scoped route of the OpenAPI document, by role and by tenant: the
//! table below must name each one (a new route fails this test until it is added),
//! each role gets what the route promises (a 403 naming the roles needed, or a 404
//! for a rep's unassigned call), and another company's ids are 404s.

mod support;

use std::sync::Arc;

use chrono::Utc;
use otto_core::calls::{Direction, NewCall};
use otto_core::ports::CallRepository;
use otto_core::tenancy::{TenantId, TenantScope};
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::Response;
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use serde_json::{Value, json};
use support::{api_token, config, json as body_of, state_with_store};

type Client = TestClient<BoxEndpoint<'static, Response>>;

/// What a role gets from a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Served (any status but 403 and 404).
    Served,
    /// 403, naming the roles that may.
    Refused,
    /// 404: the resource is not the caller's to see.
    Hidden,
}

use Answer::{Hidden, Refused, Served};

/// A route, how to call it, and what leadership, csr and rep get.
struct Route {
    method: &'static str,
    template: &'static str,
    body: Option<Value>,
    answers: [Answer; 3],
    /// Whether it names an id of the caller's company (another company gets 404).
    names_an_id: bool,
}

fn route(method: &'static str, template: &'static str, answers: [Answer; 3]) -> Route {
    Route {
        method,
        template,
        body: None,
        answers,
        names_an_id: template.contains("{id}"),
    }
}

fn with_body(mut route: Route, body: Value) -> Route {
    route.body = Some(body);
    route
}

fn routes() -> Vec<Route> {
    let all = [Served; 3];
    let not_reps = [Served, Served, Refused];
    let leadership = [Served, Refused, Refused];
    let assigned = [Served, Served, Hidden];
    vec![
        route("get", "/api/v1/me", all),
        route("get", "/api/v1/company", all),
        route("get", "/user/company", all),
        route("get", "/api/v1/company/users", leadership),
        route("get", "/api/v1/company/settings", leadership),
        with_body(
            route("put", "/api/v1/company/settings", leadership),
            json!({"missed_call_sms_enabled": true}),
        ),
        route("get", "/api/v1/calls", all),
        route("get", "/api/v1/calls/{id}", assigned),
        with_body(
            route("patch", "/api/v1/calls/{id}", assigned),
            json!({"notes": "hi"}),
        ),
        route("post", "/api/v1/calls/{id}/follow-up-sms", assigned),
        route("post", "/api/v1/calls/{id}/ai-follow-up", assigned),
        route("get", "/api/v1/jobs/{id}", all),
        route("get", "/api/v1/messages", all),
        route("get", "/api/v1/messages/{customer_number}", all),
        with_body(
            route("post", "/api/v1/messages", all),
            json!({"to": "+15551230000", "body": "hi"}),
        ),
        route("get", "/api/v1/dashboard/summary", not_reps),
        route("get", "/api/v1/callrail/calls", not_reps),
        with_body(route("post", "/api/v1/callrail/sync", not_reps), json!({})),
        route("get", "/api/v1/webhooks/deliveries", leadership),
        route("get", "/api/v1/webhooks/deliveries/{id}", leadership),
        route(
            "post",
            "/api/v1/webhooks/deliveries/{id}/replay",
            leadership,
        ),
        // Every role streams; what each sees is filtered per event (live_events.rs).
        route("post", "/api/v1/events/tickets", all),
        route("get", "/api/v1/events", all),
    ]
}

/// Platform-admin routes: every company role is refused (`http_admin` covers
/// platform admins).
const ADMIN_ROUTES: [(&str, &str); 4] = [
    ("get", "/api/v1/admin/provider-accounts"),
    (
        "put",
        "/api/v1/admin/provider-accounts/{provider}/{account_id}",
    ),
    (
        "delete",
        "/api/v1/admin/provider-accounts/{provider}/{account_id}",
    ),
    ("post", "/api/v1/admin/webhooks/unroutable/replay"),
];

struct World {
    client: Client,
    call_id: String,
    job_id: String,
    delivery_id: String,
}

async fn world() -> World {
    let store = InMemoryStore::default();
    let call = store
        .record(
            &TenantScope::for_job(TenantId::parse("org_a").expect("valid")),
            NewCall {
                provider: "callrail".into(),
                external_id: "CALM".into(),
                direction: Direction::Inbound,
                customer_name: Some("Matrix".into()),
                customer_number: Some("+15551230000".into()),
                answered: false,
                duration_seconds: 0,
                started_at: Utc::now(),
            },
        )
        .await
        .expect("recorded");
    let delivery = otto_testkit::contracts::logged_delivery(
        Some("org_a"),
        otto_core::webhooks::WebhookEvent::CallRailCallComplete,
        "CALM",
        otto_core::ports::DeliveryOutcome::Failed,
        Utc::now(),
    );
    otto_core::ports::DeliveryLog::record(&store, &delivery)
        .await
        .expect("logged");
    let state = state_with_store(
        config(&[
            ("OTTO_ROLE_MAP", "admin=leadership,sales_rep=rep"),
            ("RATE_LIMIT_USER", "10000/minute"),
            ("RATE_LIMIT_TENANT", "10000/minute"),
            // A replay routes by today's links; the logged delivery names no linked
            // account, so it goes to the development tenant, which is org_a here.
            ("OTTO_DEFAULT_TENANT", "org_a"),
        ]),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store,
    );
    let client = support::client(&state);
    let job = client
        .post(format!("/api/v1/calls/{}/follow-up-sms", call.id))
        .header("authorization", format!("Bearer {}", token("org_a", 0)))
        .send()
        .await;
    let job_id = body_of(job).await["job_id"]
        .as_str()
        .expect("job id")
        .to_owned();
    World {
        client,
        call_id: call.id.to_string(),
        job_id,
        delivery_id: delivery.id.to_string(),
    }
}

/// A token of `tenant` for leadership (0), csr (1) or rep (2).
fn token(tenant: &str, role: usize) -> String {
    let (user, organization_role) = [
        ("user_lead", "org:admin"),
        ("user_csr", "org:member"),
        ("user_rep", "org:sales_rep"),
    ][role];
    api_token(user, tenant, organization_role)
}

impl World {
    fn path(&self, template: &str) -> String {
        let path = template
            .replace(
                "{id}",
                if template.starts_with("/api/v1/jobs") {
                    &self.job_id
                } else if template.starts_with("/api/v1/webhooks") {
                    &self.delivery_id
                } else {
                    &self.call_id
                },
            )
            .replace("{customer_number}", "%2B15551230000")
            .replace("{provider}/{account_id}", "callrail/COM1");
        if path == "/api/v1/dashboard/summary" {
            format!("{path}?from=2026-01-01T00:00:00Z&to=2026-12-01T00:00:00Z")
        } else {
            path
        }
    }

    async fn status(&self, route: &Route, token: &str) -> (u16, Value) {
        let path = self.path(route.template);
        let request = match route.method {
            "get" => self.client.get(&path),
            "post" => self.client.post(&path),
            "put" => self.client.put(&path),
            "patch" => self.client.patch(&path),
            "delete" => self.client.delete(&path),
            other => panic!("method {other}"),
        }
        .header("authorization", format!("Bearer {token}"));
        let response = match &route.body {
            Some(body) => {
                request
                    .content_type("application/json")
                    .body(body.to_string())
                    .send()
                    .await
            }
            None => request.send().await,
        };
        let status = response.0.status().as_u16();
        if response.0.content_type() == Some("text/event-stream") {
            // A stream does not end: its status is the answer.
            return (status, Value::Null);
        }
        let text = response.0.into_body().into_string().await.expect("text");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn the_table_names_every_tenant_scoped_route_of_the_document() {
    let world = world().await;
    let document = body_of(world.client.get("/openapi.json").send().await).await;
    let tabled: Vec<(String, String)> = routes()
        .iter()
        .map(|route| (route.method.to_owned(), route.template.to_owned()))
        .chain(
            ADMIN_ROUTES
                .iter()
                .map(|(method, path)| ((*method).to_owned(), (*path).to_owned())),
        )
        .collect();
    for (path, operations) in document["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/") && path != "/user/company" {
            continue;
        }
        for method in operations.as_object().expect("operations").keys() {
            assert!(
                tabled.contains(&(method.clone(), path.clone())),
                "{method} {path} is missing from the route table"
            );
        }
    }
}

#[tokio::test]
async fn each_role_gets_what_each_route_promises() {
    let world = world().await;
    for route in routes() {
        for (role, expected) in route.answers.iter().enumerate() {
            let (status, body) = world.status(&route, &token("org_a", role)).await;
            let got = match status {
                403 => Refused,
                404 => Hidden,
                _ => Served,
            };
            assert_eq!(
                got, *expected,
                "{} {} as role {role}: {status} {body}",
                route.method, route.template
            );
            if got == Refused {
                let detail = body["detail"].as_str().unwrap_or_default();
                assert!(
                    detail.contains("needs the"),
                    "the refusal names the role: {body}"
                );
            }
            assert!(
                status < 500,
                "{} {}: {status} {body}",
                route.method,
                route.template
            );
        }
    }
    for (method, template) in ADMIN_ROUTES {
        let route = with_body(
            route(method, template, [Refused; 3]),
            json!({"tenant_id": "org_a"}),
        );
        for role in 0..3 {
            let (status, body) = world.status(&route, &token("org_a", role)).await;
            assert_eq!(status, 403, "{method} {template}: {body}");
        }
    }
}

#[tokio::test]
async fn another_companys_ids_are_not_found_on_every_route_that_names_one() {
    let world = world().await;
    let routes: Vec<Route> = routes()
        .into_iter()
        .filter(|route| route.names_an_id)
        .collect();
    assert_eq!(
        routes.len(),
        7,
        "calls (get, patch, two follow-ups), jobs, deliveries (get, replay)"
    );
    for route in &routes {
        let (status, body) = world.status(route, &token("org_b", 0)).await;
        assert_eq!(status, 404, "{} {}: {body}", route.method, route.template);
        let (status, body) = world.status(route, &token("org_a", 0)).await;
        assert!(
            (200..300).contains(&status),
            "the owner is served: {} {}: {body}",
            route.method,
            route.template
        );
    }
    // A customer number is not an id: another company sees its own (empty) thread.
    let thread = routes_named("/api/v1/messages/{customer_number}");
    let (status, body) = world.status(&thread, &token("org_b", 0)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"], json!([]));
}

fn routes_named(template: &str) -> Route {
    routes()
        .into_iter()
        .find(|route| route.template == template && route.method == "get")
        .expect("tabled")
}
