//! Webhook deliveries for tests: an application with every provider's secret, and
//! deliveries signed the way each provider signs them (with any key, to forge them).

use std::sync::Arc;

use otto_core::webhooks::signatures::{bland, callrail, svix, twilio};
use otto_server::state::AppState;
use otto_testkit::{InMemoryStore, SwitchableProbe};
use poem::test::TestResponse;

use super::{Client, client, config, json, state_with_store};

// Secrets of the tests only. pragma: allowlist secret
pub const CALLRAIL_SECRET: &str = "callrail-test-signing-key"; // pragma: allowlist secret
pub const TWILIO_TOKEN: &str = "twilio-test-auth-token"; // pragma: allowlist secret
pub const CLERK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // pragma: allowlist secret
pub const BLAND_SECRET: &str = "bland-test-signing-secret"; // pragma: allowlist secret
/// The URL providers call (Twilio signs it, not the one Otto sees behind a proxy).
pub const PUBLIC_URL: &str = "https://hooks.otto.test";

/// An application verifying every provider's signature, with no fallback tenant, over
/// `store`, with the `extra` variables.
pub fn signed_state(store: &InMemoryStore, extra: &[(&str, &str)]) -> AppState {
    let mut pairs = vec![
        ("CALLRAIL_WEBHOOK_SECRET", CALLRAIL_SECRET),
        ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN),
        ("CLERK_WEBHOOK_SECRET", CLERK_SECRET),
        ("BLAND_WEBHOOK_SECRET", BLAND_SECRET),
        ("OTTO_PUBLIC_URL", PUBLIC_URL),
    ];
    pairs.extend_from_slice(extra);
    let mut config = config(&pairs);
    config.webhooks.default_tenant = None;
    state_with_store(
        config,
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    )
}

/// [`signed_state`]'s client.
pub fn signed_app(store: &InMemoryStore) -> Client {
    client(&signed_state(store, &[]))
}

/// The development default: no secrets, fallback tenant `dev`.
pub fn unsigned_state(store: &InMemoryStore) -> AppState {
    state_with_store(
        config(&[]),
        vec![Arc::new(SwitchableProbe::up("database"))],
        vec!["redis"],
        store.clone(),
    )
}

/// [`unsigned_state`]'s client.
pub fn unsigned_app(store: &InMemoryStore) -> Client {
    client(&unsigned_state(store))
}

/// A CallRail `event` delivery of `body` signed with `key`.
pub async fn post_callrail_with(
    client: &Client,
    event: &str,
    key: &str,
    body: &str,
) -> TestResponse {
    client
        .post(format!("/webhook/callrail/{event}"))
        .header("content-type", "application/json")
        .header("Signature", callrail::sign(key, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
}

/// An unsigned CallRail pre-call for call `id`: what the development default takes
/// (it lands in the fallback tenant `dev`).
pub async fn post_pre_call(client: &Client, id: &str) -> TestResponse {
    client
        .post("/webhook/callrail/pre-call")
        .header("content-type", "application/json")
        .body(format!(r#"{{"call_id": "{id}"}}"#))
        .send()
        .await
}

/// `fields` as a form body.
pub fn form<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(
            fields
                .iter()
                .map(|(name, value)| (name.as_ref(), value.as_ref())),
        )
        .finish()
}

/// `fields` as owned pairs (what Twilio's signature is computed over).
pub fn owned(fields: &[(&str, &str)]) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect()
}

/// A Twilio `event` delivery of `fields`, signed with `key` over `signed`.
pub async fn post_twilio_with(
    client: &Client,
    event: &str,
    key: &str,
    signed: &[(String, String)],
    fields: &[(String, String)],
) -> TestResponse {
    let path = format!("/webhook/twilio/{event}");
    let signature = twilio::sign(key, &format!("{PUBLIC_URL}{path}"), signed);
    client
        .post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
        .body(form(fields))
        .send()
        .await
}

/// A Clerk (Svix) delivery of `body` carrying `signature`.
pub async fn post_clerk_with(
    client: &Client,
    message_id: &str,
    timestamp: i64,
    signature: &str,
    body: &str,
) -> TestResponse {
    client
        .post("/webhook/clerk")
        .header("content-type", "application/json")
        .header("svix-id", message_id)
        .header("svix-timestamp", timestamp.to_string())
        .header("svix-signature", signature)
        .body(body.to_owned())
        .send()
        .await
}

/// Clerk's signature of a delivery, with [`CLERK_SECRET`].
pub fn clerk_signature(message_id: &str, timestamp: i64, body: &str) -> String {
    svix::sign(CLERK_SECRET, message_id, timestamp, body.as_bytes()).expect("signs")
}

/// A Bland delivery of `body` signed with `key`.
pub async fn post_bland_with(client: &Client, key: &str, body: &str) -> TestResponse {
    client
        .post("/webhook/bland")
        .header("content-type", "application/json")
        .header("X-Webhook-Signature", bland::sign(key, body.as_bytes()))
        .body(body.to_owned())
        .send()
        .await
}

/// The `status` of an accepted delivery's answer.
pub async fn status_of(response: TestResponse) -> String {
    assert_eq!(response.0.status().as_u16(), 200, "accepted");
    json(response).await["status"]
        .as_str()
        .expect("status")
        .to_owned()
}

/// The Unix time now.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
