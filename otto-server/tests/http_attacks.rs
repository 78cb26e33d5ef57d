//! The attack catalogue: hostile credentials, cross-tenant ids, webhook deliveries
//! forged, replayed or built to exhaust the parser, and secrets that must never
//! leave the process. Each answer is a 4xx problem (never a 5xx, a panic or a
//! hang), nothing is recorded for a refused delivery, and no token or secret shows
//! up in logs, problems, metrics or spans.

mod support;

use base64::Engine as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use otto_core::ports::{CallRepository, CompanyDirectory, ProviderAccounts};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::signatures::{bland, callrail, svix};
use otto_core::webhooks::{AccountRef, Provider};
use otto_server::config::{Config, Environment};
use otto_server::state::AppState;
use otto_server::telemetry::json_log::CapturedLines;
use otto_server::telemetry::{JsonLogLayer, Service};
use otto_testkit::contracts::{new_call, scope_of};
use otto_testkit::signers::{self, TestSigningKey};
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::Body;
use poem::test::TestResponse;
use serde_json::{Value, json};
use support::webhooks::*;
use support::*;
use tracing_subscriber::layer::SubscriberExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A bound that only a hang or a pathological algorithm exceeds, even on a
/// loaded two-core machine running a debug build.
const PATIENCE: Duration = Duration::from_secs(30);

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).expect("valid")
}

/// The attacker's own RSA key: a valid signature, just not by Clerk.
fn attacker() -> &'static TestSigningKey {
    static KEY: OnceLock<TestSigningKey> = OnceLock::new();
    KEY.get_or_init(|| TestSigningKey::generate("attacker-key"))
}

fn log_text(lines: &CapturedLines) -> String {
    lines
        .lines()
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts that neither `token` nor its signature part (a JWT's third part) is in
/// `text`, naming `case` and `place` when it is.
fn assert_absent(text: &str, token: &str, case: &str, place: &str) {
    assert!(!text.contains(token), "{case}: the token is in the {place}");
    if let Some(signature) = token.rsplit('.').next().filter(|part| part.len() >= 16)
        && token.contains('.')
    {
        assert!(
            !text.contains(signature),
            "{case}: the token's signature is in the {place}"
        );
    }
}

async fn me_with(client: &Client, authorization: &str) -> TestResponse {
    client
        .get("/api/v1/me")
        .header("Authorization", authorization)
        .send()
        .await
}

/// Asserts a 403 problem of `kind` with the challenge a refused token carries.
async fn assert_refused(response: TestResponse, kind: &str, case: &str) {
    let challenge = header(&response, "www-authenticate");
    let expected_challenge = if kind == "missing_token" {
        r#"Bearer realm="otto""#.to_owned()
    } else {
        r#"Bearer realm="otto", error="invalid_token""#.to_owned()
    };
    assert_eq!(challenge, expected_challenge, "{case}");
    let body = assert_problem(response, 403, "/api/v1/me").await;
    assert_eq!(body["type"], format!("/problems/{kind}"), "{case}: {body}");
}

/// A configuration whose session-token keys come only from `jwks_url`.
fn jwks_config(jwks_url: &str) -> Config {
    Config::load(&Environment::from_pairs([
        ("OTTO_ENV", "test"),
        ("ALLOWED_ORIGINS", ALLOWED_ORIGINS),
        ("CLERK_JWKS_URL", jwks_url),
        (
            "OTTO_BISCUIT_PRIVATE_KEY",
            keys().api_token_private_key.as_str(),
        ),
    ]))
    .expect("valid configuration")
}

async fn recorded(server: &MockServer) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .expect("the stub records requests")
}

/// Tokens whose signature was removed or taken from another token, or whose header
/// tries to choose the verification key (an unknown or path-like `kid`, a `jku` or
/// `x5u` URL, an embedded `jwk`): each an `invalid_token` problem, with the key PEM
/// or a JWKS configured, without one request to the attacker's URLs, and never
/// logged.
#[tokio::test]
async fn forged_signatures_and_header_chosen_keys_are_invalid_token_problems() {
    let (lines, _guard) = capture_logs();
    let evil = MockServer::start().await;
    for (route, body) in [
        ("/jwks.json", signers::jwks(&[attacker()])),
        ("/cert.pem", json!(attacker().public_pem)),
    ] {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&evil)
            .await;
    }
    let clerk = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/.well-known/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(signers::jwks(&[&keys().clerk])))
        .mount(&clerk)
        .await;

    let claims = session_claims("user_1", "org_a", "admin");
    let genuine = session_token(&claims);
    let victim = session_token(&session_claims("user_9", "org_victim", "admin"));
    let (header_part, rest) = genuine.split_once('.').expect("a JWT");
    let (payload_part, _signature) = rest.split_once('.').expect("a JWT");
    let genuine_signature = genuine.rsplit('.').next().expect("a JWT");
    let (victim_header, victim_rest) = victim.split_once('.').expect("a JWT");
    let victim_payload = victim_rest.split_once('.').expect("a JWT").0;
    let evil_jwks = format!("{}/jwks.json", evil.uri());
    let evil_cert = format!("{}/cert.pem", evil.uri());
    let signed_by_attacker = |fields: Value| attacker().sign_with_header(&fields, &claims);
    let cases: Vec<(&str, String)> = vec![
        (
            "stripped signature",
            format!("{header_part}.{payload_part}."),
        ),
        (
            "another token's signature spliced in",
            format!("{victim_header}.{victim_payload}.{genuine_signature}"),
        ),
        (
            "unknown kid",
            signed_by_attacker(json!({"kid": "unknown-key"})),
        ),
        (
            "kid traversing to a file",
            signed_by_attacker(json!({"kid": "../../etc/passwd"})),
        ),
        (
            "kid naming a URL",
            signed_by_attacker(json!({"kid": evil_jwks.clone()})),
        ),
        (
            "kid as SQL",
            signed_by_attacker(json!({"kid": "x' UNION SELECT 'key"})),
        ),
        (
            "HS256 keyed with the empty /dev/null a traversing kid reads",
            signers::hs256_token(&claims, b"", "../../../../../../dev/null"),
        ),
        (
            "jku at the attacker's JWKS",
            signed_by_attacker(json!({"jku": evil_jwks.clone()})),
        ),
        (
            "jku with the genuine kid",
            signed_by_attacker(json!({"jku": evil_jwks.clone(), "kid": "test-key"})),
        ),
        (
            "x5u at the attacker's certificate",
            signed_by_attacker(json!({"x5u": evil_cert.clone()})),
        ),
        (
            "embedded jwk of the attacker",
            signed_by_attacker(json!({"jwk": attacker().jwk()})),
        ),
        (
            "embedded jwk with the genuine kid",
            signed_by_attacker(json!({"jwk": attacker().jwk(), "kid": "test-key"})),
        ),
    ];
    let pem_state = state(config(&[]), vec![], vec![]);
    let jwks_state = state(
        jwks_config(&format!("{}/.well-known/jwks.json", clerk.uri())),
        vec![],
        vec![],
    );
    for (keys_from, state) in [("PEM", &pem_state), ("JWKS", &jwks_state)] {
        let client = client(state);
        me_with(&client, &format!("Bearer {genuine}"))
            .await
            .assert_status_is_ok();
        for (case, token) in &cases {
            let case = format!("{keys_from}: {case}");
            let response = me_with(&client, &format!("Bearer {token}")).await;
            assert_refused(response, "invalid_token", &case).await;
        }
    }
    assert!(
        recorded(&evil).await.is_empty(),
        "a token's header made Otto fetch from the attacker"
    );
    let fetches = recorded(&clerk).await;
    assert_eq!(
        fetches.len(),
        1,
        "one fetch, then unknown kids wait for the refetch interval"
    );
    assert_eq!(fetches[0].url.path(), "/.well-known/jwks.json");
    let logs = log_text(&lines);
    assert!(logs.contains("credential refused"), "refusals are logged");
    for (case, token) in &cases {
        assert_absent(&logs, token, case, "log");
    }
}

/// Huge tokens, unreadable bytes, an empty `Bearer`, another scheme, and two
/// `Authorization` headers: 403 problems within [`PATIENCE`], none logged.
#[tokio::test]
async fn oversized_garbage_empty_and_duplicate_credentials_are_403_problems() {
    let (lines, _guard) = capture_logs();
    let state = default_state();
    let client = client(&state);
    let jwt_header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(r#"{"alg":"RS256","kid":"test-key"}"#);
    let huge = |size: usize, shape: &str| match shape {
        "biscuit" => "A".repeat(size),
        _ => format!(
            "{jwt_header}.{}.{}",
            "e".repeat(size - 400),
            // As long as a 2048-bit RSA signature, in the base64url alphabet.
            "0f".repeat(171)
        ),
    };
    let cases: Vec<(&str, String)> = vec![
        ("64 KiB API token", huge(64 * 1024, "biscuit")),
        ("64 KiB session token", huge(64 * 1024, "jwt")),
        ("1 MiB API token", huge(1024 * 1024, "biscuit")),
        ("1 MiB session token", huge(1024 * 1024, "jwt")),
        ("ASCII punctuation", "!!$$%%^^&&**(())".to_owned()),
        ("five parts", "a.b.c.d.e".to_owned()),
        ("dots only", "..".to_owned()),
    ];
    for (case, token) in &cases {
        let started = Instant::now();
        let response = tokio::time::timeout(PATIENCE, me_with(&client, &format!("Bearer {token}")))
            .await
            .unwrap_or_else(|_| panic!("{case}: no answer within {PATIENCE:?}"));
        assert_refused(response, "invalid_token", case).await;
        eprintln!("{case}: refused in {:?}", started.elapsed());
    }

    // A header that is not visible ASCII cannot be read as text: no token is
    // presented, so the answer is the plain challenge.
    let unreadable: Vec<(&str, Vec<u8>)> = vec![
        ("Latin-1 bytes", b"Bearer \xff\xfe\x80\x81token".to_vec()),
        ("UTF-8", "Bearer tökén-ßigned".as_bytes().to_vec()),
        ("a lone high byte", b"\xc3".to_vec()),
    ];
    for (case, value) in unreadable {
        let response = client
            .get("/api/v1/me")
            .header("Authorization", value)
            .send()
            .await;
        assert_refused(response, "missing_token", case).await;
    }
    for (case, value) in [
        ("Bearer alone", "Bearer"),
        ("Bearer and spaces", "Bearer    "),
        ("Bearer and a tab", "Bearer\t"),
        ("another scheme", "Basic dXNlcjpwYXNzd29yZA=="),
        ("a bare token", "tokenwithoutscheme"),
    ] {
        assert_refused(me_with(&client, value).await, "missing_token", case).await;
    }

    // Two credentials are ambiguous: a proxy may have checked one and Otto read the
    // other. Neither is used.
    let a = format!(
        "Bearer {}",
        session_token(&session_claims("user_1", "org_a", "admin"))
    );
    let b = format!("Bearer {}", api_token("user_2", "org_b", "admin"));
    for (case, first, second) in [
        ("two valid tokens of two tenants", a.as_str(), b.as_str()),
        ("a valid token after garbage", "Bearer garbage", a.as_str()),
        ("garbage after a valid token", a.as_str(), "Bearer garbage"),
        ("the same token twice", a.as_str(), a.as_str()),
    ] {
        let response = client
            .get("/api/v1/me")
            .header("Authorization", first)
            .header("Authorization", second)
            .send()
            .await;
        assert_refused(response, "invalid_token", case).await;
    }
    me_with(&client, &a).await.assert_status_is_ok();

    let logs = log_text(&lines);
    for (case, token) in &cases {
        assert_absent(&logs, token, case, "log");
    }
    for (case, token) in [("tenant A", &a), ("tenant B", &b)] {
        let token = token.trim_start_matches("Bearer ");
        assert_absent(&logs, token, case, "log");
    }
}

struct TwoTenants {
    state: AppState,
    store: InMemoryStore,
    b_call: String,
}

async fn two_tenants() -> TwoTenants {
    let store = InMemoryStore::default();
    store
        .record(&scope_of("org_a"), new_call("A1", 10))
        .await
        .expect("recorded");
    let b_call = store
        .record(&scope_of("org_b"), new_call("B1", 20))
        .await
        .expect("recorded")
        .id
        .to_string();
    TwoTenants {
        state: state_with_store(config(&[]), vec![], vec![], store.clone()),
        store,
        b_call,
    }
}

async fn send(
    client: &Client,
    verb: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> TestResponse {
    let request = match verb {
        "PATCH" => client.patch(path),
        _ => client.get(path),
    }
    .header("Authorization", format!("Bearer {token}"));
    match body {
        Some(body) => request.body_json(&body).send().await,
        None => request.send().await,
    }
}

/// The parts of a problem that do not name the request.
fn problem_sans_request(mut problem: Value) -> Value {
    let object = problem.as_object_mut().expect("a problem object");
    object.remove("instance");
    object.remove("trace_id");
    problem
}

/// An API token of tenant A on tenant B's call gets exactly the answer a call that
/// does not exist gets, reading or writing, and B's call is left as it was.
#[tokio::test]
async fn another_tenants_call_is_indistinguishable_from_no_call() {
    let world = two_tenants().await;
    let client = client(&world.state);
    let token_a = api_token("user_a", "org_a", "admin");
    let unknown = "0195f2a4-8c1e-7b3d-9a2f-1c2d3e4f5a6b";
    for (verb, body) in [("GET", None), ("PATCH", Some(json!({"booked": true})))] {
        let theirs = format!("/api/v1/calls/{}", world.b_call);
        let nobodys = format!("/api/v1/calls/{unknown}");
        let hidden = assert_problem(
            send(&client, verb, &theirs, &token_a, body.clone()).await,
            404,
            &theirs,
        )
        .await;
        let absent = assert_problem(
            send(&client, verb, &nobodys, &token_a, body).await,
            404,
            &nobodys,
        )
        .await;
        assert_eq!(
            problem_sans_request(hidden),
            problem_sans_request(absent),
            "{verb}: the answer reveals that the call exists"
        );
    }
    let listed = json(send(&client, "GET", "/api/v1/calls", &token_a, None).await).await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|call| call["id"].as_str())
        .collect();
    assert_eq!(ids.len(), 1, "{listed}");
    assert!(!ids.contains(&world.b_call.as_str()));
    let untouched = json(
        send(
            &client,
            "GET",
            &format!("/api/v1/calls/{}", world.b_call),
            &api_token("user_b", "org_b", "admin"),
            None,
        )
        .await,
    )
    .await;
    assert!(
        untouched["outcome"]["booked"].is_null() || untouched["outcome"]["booked"] == false,
        "{untouched}"
    );
    assert_eq!(calls_of(&world.store, "org_b").await, 1);
}

/// A holder appends a block claiming tenant B, another user, an admin role and the
/// platform: the token still speaks for its authority block only.
#[tokio::test]
async fn appended_biscuit_blocks_cannot_move_a_token_to_another_tenant() {
    let world = two_tenants().await;
    let client = client(&world.state);
    let token = api_token("user_a", "org_a", "member");
    let escalated = biscuit_auth::UnverifiedBiscuit::from_base64(&token)
        .expect("parses")
        .append(biscuit_auth::macros::block!(
            r#"tenant("org_b"); user("user_b"); role("admin"); platform_admin(true);"#
        ))
        .and_then(|token| token.to_base64())
        .expect("appended offline");
    let me = send(&client, "GET", "/api/v1/me", &escalated, None).await;
    me.assert_status_is_ok();
    assert_eq!(
        json(me).await,
        json!({"tenant_id": "org_a", "user_id": "user_a", "role": "member", "credential": "api_token"})
    );
    let theirs = format!("/api/v1/calls/{}", world.b_call);
    assert_problem(
        send(&client, "GET", &theirs, &escalated, None).await,
        404,
        &theirs,
    )
    .await;
    let admin = "/api/v1/admin/provider-accounts";
    let refused = assert_problem(
        send(&client, "GET", admin, &escalated, None).await,
        403,
        admin,
    )
    .await;
    assert_eq!(refused["type"], "/problems/forbidden");
    let listed = json(send(&client, "GET", "/api/v1/calls", &escalated, None).await).await;
    assert_eq!(
        listed["items"].as_array().expect("items").len(),
        1,
        "{listed}"
    );
}

// Webhooks.

fn organization_created(org: &str) -> String {
    format!(r#"{{"type":"organization.created","data":{{"id":"{org}","name":"Replayed"}}}}"#)
}

async fn company_exists(store: &InMemoryStore, org: &str) -> bool {
    store
        .company(&TenantScope::for_verified_delivery(tenant(org)))
        .await
        .expect("reads")
        .is_some()
}

/// Svix deliveries outside the five minutes either way, or a captured one whose
/// timestamp was refreshed without its signature, are 401 problems that create
/// nothing; inside the window a delivery is processed.
#[tokio::test]
async fn clerk_deliveries_replayed_outside_the_tolerance_are_refused() {
    let store = InMemoryStore::default();
    let state = signed_state(&store, &[]);
    let client = support::client(&state);
    let tolerance = svix::TOLERANCE_SECONDS;
    for (case, org, offset) in [
        ("a second too old", "org_old", -tolerance - 1),
        ("a second too far ahead", "org_future", tolerance + 1),
        ("a day old", "org_day_old", -86_400),
    ] {
        let body = organization_created(org);
        let at = now() + offset;
        let response =
            post_clerk_with(&client, org, at, &clerk_signature(org, at, &body), &body).await;
        let problem = assert_problem(response, 401, "/webhook/clerk").await;
        assert_eq!(problem["type"], "/problems/unauthorized", "{case}");
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("tolerance")),
            "{case}: {problem}"
        );
        assert!(!company_exists(&store, org).await, "{case}: recorded");
    }

    // Captured in flight, then sent again with a fresh timestamp: the old signature
    // does not cover it.
    let body = organization_created("org_captured");
    let captured_at = now() - tolerance - 60;
    let signature = clerk_signature("msg_captured", captured_at, &body);
    let refreshed = post_clerk_with(&client, "msg_captured", now(), &signature, &body).await;
    assert_problem(refreshed, 401, "/webhook/clerk").await;
    assert!(!company_exists(&store, "org_captured").await);

    let body = organization_created("org_recent");
    let at = now() - tolerance + 30;
    let recent = post_clerk_with(
        &client,
        "msg_recent",
        at,
        &clerk_signature("msg_recent", at, &body),
        &body,
    )
    .await;
    assert_eq!(status_of(recent).await, "processed", "within the tolerance");
    assert!(company_exists(&store, "org_recent").await);
    let metrics = metrics_text(&state).await;
    for (reason, count) in [("stale_timestamp", 3), ("bad_signature", 1)] {
        let line = format!(
            r#"webhook_failures_total{{provider="clerk",tenant_id="unknown",reason="{reason}"}} {count}"#
        );
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
}

/// A genuine signature moved onto another body is refused on every provider, and
/// nothing of the body is recorded.
#[tokio::test]
async fn a_valid_signature_of_another_body_is_refused_on_every_provider() {
    let store = InMemoryStore::default();
    link_account(&store, Provider::Twilio, "+15550100", "org_t").await;
    let client = signed_app(&store);

    let signed = organization_created("org_signed");
    let swapped = organization_created("org_swapped");
    let at = now();
    let response = post_clerk_with(
        &client,
        "msg_swap",
        at,
        &clerk_signature("msg_swap", at, &signed),
        &swapped,
    )
    .await;
    assert_problem(response, 401, "/webhook/clerk").await;
    assert!(!company_exists(&store, "org_swapped").await);

    let signed = r#"{"call_id":"b-1","status":"completed","metadata":{"tenant_id":"org_t"}}"#;
    let swapped = r#"{"call_id":"b-2","status":"completed","metadata":{"tenant_id":"org_t"}}"#;
    let response = client
        .post("/webhook/bland")
        .header("content-type", "application/json")
        .header(
            "X-Webhook-Signature",
            bland::sign(BLAND_SECRET, signed.as_bytes()),
        )
        .body(swapped)
        .send()
        .await;
    assert_problem(response, 401, "/webhook/bland").await;
    assert!(store.ai_call(&tenant("org_t"), "b-2").is_none());

    let ringing = owned(&[
        ("CallSid", "CA1"),
        ("CallStatus", "ringing"),
        ("From", "+15550001"),
        ("To", "+15550100"),
    ]);
    let mut extra_field = ringing.clone();
    extra_field.push(("CallerName".to_owned(), "Injected".to_owned()));
    let mut other_call = ringing.clone();
    other_call[0].1 = "CA2".to_owned();
    for (case, sent) in [
        ("a field added", &extra_field),
        ("a value changed", &other_call),
    ] {
        let response = post_twilio_with(&client, "call-status", TWILIO_TOKEN, &ringing, sent).await;
        let problem = assert_problem(response, 401, "/webhook/twilio/call-status").await;
        assert_eq!(problem["type"], "/problems/unauthorized", "{case}");
    }
    assert_eq!(calls_of(&store, "org_t").await, 0, "nothing recorded");
    assert_eq!(
        status_of(post_twilio_with(&client, "call-status", TWILIO_TOKEN, &ringing, &ringing).await)
            .await,
        "processed",
        "the genuine delivery still goes through"
    );
}

/// An `AsyncRead` of `total` bytes of `fill`, produced on demand, that counts how
/// many were read: the proof that a body was refused before it was buffered.
struct CountingBody {
    served: Arc<AtomicUsize>,
    total: usize,
    fill: u8,
}

impl tokio::io::AsyncRead for CountingBody {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let served = self.served.load(Ordering::SeqCst);
        let n = buf.remaining().min(self.total - served);
        buf.put_slice(&vec![self.fill; n]);
        self.served.fetch_add(n, Ordering::SeqCst);
        Poll::Ready(Ok(()))
    }
}

/// A body over OTTO_MAX_BODY_BYTES is a 413 problem whether its length is declared
/// (nothing is read) or it is streamed (reading stops at the limit), on a webhook
/// route and an API route alike.
#[tokio::test]
async fn an_oversized_body_is_refused_before_it_is_buffered() {
    const LIMIT: usize = 64 * 1024;
    const SENT: usize = 64 * 1024 * 1024;
    let store = InMemoryStore::default();
    let state = signed_state(&store, &[("OTTO_MAX_BODY_BYTES", "65536")]);
    let client = client(&state);
    let token = api_token("user_a", "org_a", "admin");
    for route in [
        "/webhook/callrail/pre-call",
        "/api/v1/calls/0195f2a4-8c1e-7b3d-9a2f-1c2d3e4f5a6b",
    ] {
        for declared in [true, false] {
            let served = Arc::new(AtomicUsize::new(0));
            let body = Body::from_async_read(CountingBody {
                served: served.clone(),
                total: SENT,
                fill: b' ',
            });
            let mut request = if route.starts_with("/api") {
                client.patch(route)
            } else {
                client.post(route)
            }
            .header("content-type", "application/json")
            .header("Authorization", format!("Bearer {token}"))
            .header("Signature", callrail::sign(CALLRAIL_SECRET, b"{}"));
            if declared {
                request = request.header("content-length", SENT.to_string());
            }
            let started = Instant::now();
            let response = tokio::time::timeout(PATIENCE, request.body(body).send())
                .await
                .unwrap_or_else(|_| panic!("{route}: no answer within {PATIENCE:?}"));
            let problem = assert_problem(response, 413, route).await;
            assert_eq!(problem["type"], "/problems/payload_too_large");
            let read = served.load(Ordering::SeqCst);
            if declared {
                assert_eq!(
                    read, 0,
                    "{route}: a declared length over the limit is not read"
                );
            } else {
                assert!(
                    read <= LIMIT + 64 * 1024,
                    "{route}: read {read} bytes of a streamed body over a limit of {LIMIT}"
                );
            }
            eprintln!(
                "{route} (declared: {declared}): 413 after reading {read} bytes in {:?}",
                started.elapsed()
            );
        }
    }
    assert_eq!(calls_of(&store, "org_a").await, 0);
}

/// Nesting built to exhaust a recursive parser, and bytes that are not UTF-8, are
/// 400 problems that record nothing, signed or not.
#[tokio::test]
async fn deep_nesting_and_invalid_utf8_bodies_are_400_problems() {
    let store = InMemoryStore::default();
    let unsigned = unsigned_app(&store);
    let signed = signed_app(&store);
    let deep_arrays = "[".repeat(100_000);
    let deep_objects = r#"{"a":"#.repeat(100_000);
    let deep_inside = format!(
        r#"{{"call_id":"C1","x":{}{}}}"#,
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    let json_cases: Vec<(&str, Vec<u8>)> = vec![
        ("100k [", deep_arrays.into_bytes()),
        ("100k objects", deep_objects.into_bytes()),
        ("a deep field in a valid object", deep_inside.into_bytes()),
        ("Latin-1 in a string", b"{\"call_id\":\"caf\xe9\"}".to_vec()),
        ("bytes only", b"\xff\xfe\x00\x01".to_vec()),
        (
            "a lone surrogate escape",
            br#"{"call_id":"\ud800"}"#.to_vec(),
        ),
    ];
    for (case, body) in &json_cases {
        for (app, signature) in [
            (&unsigned, None),
            (&signed, Some(callrail::sign(CALLRAIL_SECRET, body))),
        ] {
            let mut request = app
                .post("/webhook/callrail/pre-call")
                .header("content-type", "application/json");
            if let Some(signature) = signature {
                request = request.header("Signature", signature);
            }
            let response = tokio::time::timeout(PATIENCE, request.body(body.clone()).send())
                .await
                .unwrap_or_else(|_| panic!("{case}: no answer"));
            let problem = assert_problem(response, 400, "/webhook/callrail/pre-call").await;
            assert_eq!(
                problem["type"], "/problems/bad_request",
                "{case}: {problem}"
            );
        }
    }
    let form_cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "Latin-1 in a value",
            b"CallSid=CA1&CallStatus=ringing&CallerName=Jos\xe9".to_vec(),
        ),
        ("bytes only", b"\xff\xfe\x00\x01".to_vec()),
    ];
    for (case, body) in form_cases {
        let response = unsigned
            .post("/webhook/twilio/call-status")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await;
        let problem = assert_problem(response, 400, "/webhook/twilio/call-status").await;
        assert!(
            problem["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("UTF-8")),
            "{case}: {problem}"
        );
    }
    // Percent-encoded invalid UTF-8 is well-formed form data: decoded lossily, never
    // a fault.
    let response = unsigned
        .post("/webhook/twilio/call-status")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("CallSid=CA%FF%FE&CallStatus=ringing&To=%C3")
        .send()
        .await;
    assert_eq!(status_of(response).await, "processed");
    assert_eq!(
        calls_of(&store, "dev").await,
        1,
        "only the well-formed delivery"
    );
    assert!(store.jobs().is_empty());
}

/// A Twilio delivery with 20,000 fields (no limit on the number of fields is
/// documented, and they fit the body limit) is signed over all of them and
/// processed like any other, within [`PATIENCE`].
#[tokio::test]
async fn a_twilio_form_with_twenty_thousand_fields_is_processed_without_a_fault() {
    let store = InMemoryStore::default();
    link_account(&store, Provider::Twilio, "+15550100", "org_t").await;
    let client = signed_app(&store);
    let mut fields = owned(&[
        ("CallSid", "CA20K"),
        ("CallStatus", "completed"),
        ("From", "+15550001"),
        ("To", "+15550100"),
        ("CallDuration", "42"),
    ]);
    fields.extend((0..20_000).map(|n| (format!("F{n}"), format!("v{n}"))));
    let started = Instant::now();
    let response = tokio::time::timeout(
        PATIENCE,
        post_twilio_with(&client, "call-status", TWILIO_TOKEN, &fields, &fields),
    )
    .await
    .expect("answered");
    let elapsed = started.elapsed();
    assert_eq!(status_of(response).await, "processed");
    eprintln!("20,000 fields processed in {elapsed:?}");
    let calls = store
        .list(
            &TenantScope::for_verified_delivery(tenant("org_t")),
            &otto_core::calls::CallFilter::default(),
            None,
            10,
        )
        .await
        .expect("lists");
    assert_eq!(calls.items.len(), 1);
    assert_eq!(calls.items[0].duration_seconds, 42);

    // The same fields with one changed after signing: refused, not processed.
    let mut tampered = fields.clone();
    tampered[19_999].1 = "changed".to_owned();
    let response = tokio::time::timeout(
        PATIENCE,
        post_twilio_with(&client, "call-status", TWILIO_TOKEN, &fields, &tampered),
    )
    .await
    .expect("answered");
    assert_problem(response, 401, "/webhook/twilio/call-status").await;
}

/// Companies A and B, each with its own CallRail and Twilio signing key.
async fn keyed_companies(store: &InMemoryStore) {
    for (provider, account, org, key) in [
        (
            Provider::CallRail,
            "COMA",
            "org_a",
            "company-a-callrail-key",
        ),
        (
            Provider::CallRail,
            "COMB",
            "org_b",
            "company-b-callrail-key",
        ),
        (Provider::Twilio, "ACa", "org_a", "account-a-twilio-token"),
        (Provider::Twilio, "ACb", "org_b", "account-b-twilio-token"),
    ] {
        let account = AccountRef::new(provider, account);
        store.link(&account, &tenant(org)).await.expect("links");
        store
            .set_signing_key(&account, Some(key))
            .await
            .expect("sets");
    }
    for (number, org) in [("+15550100", "org_a"), ("+15550200", "org_b")] {
        link_account(store, Provider::Twilio, number, org).await;
    }
}

/// A Twilio `ringing` call status of `call_sid`, naming account `account_sid` and
/// number `to`, signed with account A's auth token.
async fn ringing_signed_by_account_a(
    client: &Client,
    call_sid: &str,
    account_sid: &str,
    to: &str,
) -> TestResponse {
    let fields = owned(&[
        ("CallSid", call_sid),
        ("CallStatus", "ringing"),
        ("AccountSid", account_sid),
        ("To", to),
    ]);
    post_twilio_with(
        client,
        "call-status",
        "account-a-twilio-token",
        &fields,
        &fields,
    )
    .await
}

/// Company A's key on a delivery that names only company B: refused.
#[tokio::test]
async fn an_account_key_cannot_sign_for_an_account_it_does_not_belong_to() {
    let store = InMemoryStore::default();
    keyed_companies(&store).await;
    let client = signed_app(&store);
    let body = r#"{"resource_id":"CX1","company_resource_id":"COMB"}"#;
    let response = post_callrail_with(&client, "pre-call", "company-a-callrail-key", body).await;
    assert_problem(response, 401, "/webhook/callrail/pre-call").await;
    let response = ringing_signed_by_account_a(&client, "CX2", "ACb", "+15550200").await;
    assert_problem(response, 401, "/webhook/twilio/call-status").await;
    assert_eq!(calls_of(&store, "org_b").await, 0);
    assert_eq!(calls_of(&store, "org_a").await, 0);
}

/// Company A's key on a delivery that names company B first and company A second
/// (CallRail's `company_resource_id` then `company_id`; Twilio's number then
/// `AccountSid`): routing picks B, so only B's key may sign it. Any named account's
/// key used to be accepted, which let A write into B's tenant.
#[tokio::test]
async fn an_account_key_cannot_sign_a_delivery_routed_to_another_tenant() {
    let store = InMemoryStore::default();
    keyed_companies(&store).await;
    let client = signed_app(&store);
    let body = r#"{"resource_id":"CX3","company_resource_id":"COMB","company_id":"COMA","direction":"inbound","answered":false}"#;
    let callrail = post_callrail_with(&client, "pre-call", "company-a-callrail-key", body).await;
    let callrail_status = callrail.0.status().as_u16();
    let twilio = ringing_signed_by_account_a(&client, "CX4", "ACa", "+15550200").await;
    let twilio_status = twilio.0.status().as_u16();
    assert_eq!(
        calls_of(&store, "org_b").await,
        0,
        "company A's key created calls in company B's tenant (CallRail {callrail_status}, \
         Twilio {twilio_status})"
    );
    // Only the routed account's key may sign: B's key did not, so both are refused.
    assert_eq!((callrail_status, twilio_status), (401, 401));
    assert_eq!(calls_of(&store, "org_a").await, 0);
}

// Secrets.

/// Spans as the exporter receives them.
#[derive(Debug, Clone, Default)]
struct CollectedSpans(Arc<Mutex<Vec<opentelemetry_sdk::trace::SpanData>>>);

impl opentelemetry_sdk::trace::SpanExporter for CollectedSpans {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(batch);
        Ok(())
    }
}

const DATABASE_URL_WITH_PASSWORD: &str = "postgres://otto:Db-pa55w0rd-9f2c@db:5432/otto"; // pragma: allowlist secret
const CLERK_PREVIOUS_SECRET: &str = "whsec_UHJldmlvdXNDbGVya1NlY3JldDk4NzY1NDMy"; // pragma: allowlist secret
const CALLRAIL_PREVIOUS_SECRET: &str = "callrail-previous-key-0c3d"; // pragma: allowlist secret

/// Every configured secret and every presented token, after requests that succeed,
/// are refused and fail: in no log line, response (problem or not), metric or
/// exported span.
#[tokio::test]
async fn no_secret_or_presented_token_leaves_the_process() {
    use opentelemetry::trace::TracerProvider as _;
    let spans = CollectedSpans::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(spans.clone())
        .build();
    let lines = CapturedLines::default();
    let subscriber = tracing_subscriber::registry()
        .with(JsonLogLayer::new(Service::Api, true, lines.clone()))
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let secrets: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", DATABASE_URL_WITH_PASSWORD),
        ("REDIS_URL", "redis://:Redis-pa55w0rd-41ab@redis:6379/0"), // pragma: allowlist secret
        ("CLERK_SECRET_KEY", "sk_test_ClerkSecretKey7d91e0b2c4"),   // pragma: allowlist secret
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("TWILIO_AUTH_TOKEN_PREVIOUS", "twilio-previous-token-5e7f"), // pragma: allowlist secret
        ("CALLRAIL_WEBHOOK_SECRET", CALLRAIL_SECRET),
        ("CALLRAIL_WEBHOOK_SECRET_PREVIOUS", CALLRAIL_PREVIOUS_SECRET),
        ("CLERK_WEBHOOK_SECRET", CLERK_SECRET),
        ("CLERK_WEBHOOK_SECRET_PREVIOUS", CLERK_PREVIOUS_SECRET),
        ("BLAND_WEBHOOK_SECRET", BLAND_SECRET),
        (
            "BLAND_WEBHOOK_SECRET_PREVIOUS",
            "bland-previous-secret-8a6b",
        ), // pragma: allowlist secret
        ("CALLRAIL_API_KEY", "callrail-api-key-3f5e7a9c"), // pragma: allowlist secret
        ("DEEPGRAM_API_KEY", "deepgram-api-key-b2d4f6a8"), // pragma: allowlist secret
        ("OPENAI_API_KEY", "sk-openai-api-key-1c3e5a7b9d"), // pragma: allowlist secret
        ("BLAND_API_KEY", "bland-api-key-6e8a0c2d"),       // pragma: allowlist secret
    ];
    let store = InMemoryStore::default();
    link_account(&store, Provider::CallRail, "COMS", "org_a").await;
    store
        .set_signing_key(
            &AccountRef::new(Provider::CallRail, "COMS"),
            Some("company-signing-key-77aa"), // pragma: allowlist secret
        )
        .await
        .expect("sets");
    let b_call = store
        .record(&scope_of("org_b"), new_call("B1", 20))
        .await
        .expect("recorded")
        .id
        .to_string();
    let mut pairs: Vec<(&str, &str)> = secrets.clone();
    pairs.push(("OTTO_PUBLIC_URL", PUBLIC_URL));
    let state = state_with_store(
        config(&pairs),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec![],
        store.clone(),
    );
    let client = client_with_probe_api(&state);

    let session = session_token(&session_claims("user_1", "org_a", "admin"));
    let api = api_token("user_2", "org_a", "admin");
    let tampered = signers::tampered(&session, &session_claims("user_1", "org_victim", "admin"));
    let forged = attacker().sign(&session_claims("user_1", "org_a", "admin"));
    let expired = session_token(&{
        let mut claims = session_claims("user_1", "org_a", "admin");
        claims["exp"] = json!(now() - 3600);
        claims
    });
    let huge = "B".repeat(64 * 1024);
    let tokens = [&session, &api, &tampered, &forged, &expired, &huge];

    let mut answers: Vec<String> = Vec::new();
    let keep = |response: TestResponse| async move {
        let mut text = format!("{} {:?}\n", response.0.status(), response.0.headers());
        text.push_str(
            &response
                .0
                .into_body()
                .into_string()
                .await
                .unwrap_or_else(|error| format!("<unreadable body: {error}>")),
        );
        text
    };
    for token in tokens {
        for route in [
            "/api/v1/me",
            "/api/v1/calls",
            &format!("/api/v1/calls/{b_call}"),
        ] {
            let response = client
                .get(route)
                .header("Authorization", format!("Bearer {token}"))
                .send()
                .await;
            answers.push(keep(response).await);
        }
        let response = client
            .get("/api/v1/me")
            .header("Cookie", format!("__session={token}"))
            .send()
            .await;
        answers.push(keep(response).await);
    }
    let response = client
        .get("/api/v1/me")
        .header("Authorization", format!("Bearer {session}"))
        .header("Authorization", format!("Bearer {api}"))
        .send()
        .await;
    answers.push(keep(response).await);

    let body = r#"{"resource_id":"CS1","company_resource_id":"COMS"}"#;
    for key in [CALLRAIL_SECRET, "company-signing-key-77aa", "a-wrong-key"] {
        answers.push(keep(post_callrail_with(&client, "pre-call", key, body).await).await);
    }
    let fields = owned(&[
        ("CallSid", "CS2"),
        ("CallStatus", "ringing"),
        ("To", "+1555"),
    ]);
    for key in [TWILIO_TOKEN, "a-wrong-token"] {
        answers.push(
            keep(post_twilio_with(&client, "call-status", key, &fields, &fields).await).await,
        );
    }
    let clerk_body = organization_created("org_s");
    for at in [now(), now() - 3600] {
        let signature = clerk_signature("msg_s", at, &clerk_body);
        answers
            .push(keep(post_clerk_with(&client, "msg_s", at, &signature, &clerk_body).await).await);
    }
    let response = client
        .post("/webhook/bland")
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", "00ff")
        .body(r#"{"call_id":"b"}"#)
        .send()
        .await;
    answers.push(keep(response).await);
    for route in [
        "/probe/crash",
        "/probe/unavailable",
        "/ready",
        "/health",
        "/openapi.json",
    ] {
        answers.push(keep(client.get(route).send().await).await);
    }
    let metrics = metrics_text(&state).await;
    let _ = provider.force_flush();
    let exported: String = spans
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .map(|span| format!("{span:?}\n"))
        .collect();
    let logs = log_text(&lines);
    let answers = answers.join("\n");
    assert!(logs.contains("credential refused") && logs.contains("webhook signature refused"));
    assert!(
        exported.contains("http.request") && exported.contains("credential refused"),
        "spans and their events were exported"
    );
    assert!(
        answers.contains("/problems/invalid_token") && answers.contains("/problems/unauthorized")
    );

    let mut values: Vec<(String, String)> = secrets
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    for (name, url) in [("DATABASE_URL", secrets[0].1), ("REDIS_URL", secrets[1].1)] {
        let password = url::Url::parse(url)
            .expect("a URL")
            .password()
            .expect("a password")
            .to_owned();
        values.push((format!("{name} password"), password));
    }
    let biscuit_key = keys().api_token_private_key.clone();
    let biscuit_hex = biscuit_key.rsplit('/').next().expect("hex").to_owned();
    values.push(("OTTO_BISCUIT_PRIVATE_KEY".to_owned(), biscuit_key));
    values.push(("OTTO_BISCUIT_PRIVATE_KEY hex".to_owned(), biscuit_hex));
    values.push((
        "a company's signing key".to_owned(),
        "company-signing-key-77aa".to_owned(),
    ));
    for (place, text) in [
        ("log", &logs),
        ("responses", &answers),
        ("metrics", &metrics),
        ("spans", &exported),
    ] {
        for (name, value) in &values {
            assert!(!text.contains(value.as_str()), "{name} is in the {place}");
        }
        for token in tokens {
            assert_absent(text, token, "a presented token", place);
        }
    }
    let printed = format!("{:?}", state.config);
    for (name, value) in &values {
        assert!(
            !printed.contains(value.as_str()),
            "{name} is in the printed configuration"
        );
    }
}
