//! Property-based fuzzing of every otto-core parser that reads bytes from outside
//! Otto: webhook bodies and their planners, webhook signatures, rates, origin
//! patterns, PII redaction, list cursors, call search, quiet hours, schedules and
//! identifiers.
//!
//! Each suite asserts that hostile input is refused with an error and never panics,
//! plus the property that makes the parser trustworthy where one exists. Case counts
//! are kept small enough for every `cargo nextest` run; `PROPTEST_CASES=100000` turns
//! any suite into a long fuzzing session.

use otto_core::webhooks::{Delivery, FORM, JSON, Payload, PayloadError, Plan, WebhookEvent};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Map, Value};

/// `default` cases, or `PROPTEST_CASES` when set, so a long run needs no code change
/// (`ProptestConfig::with_cases` would ignore the variable). Failing inputs are kept
/// beside this file, as proptest's default cannot locate an integration test.
fn cases(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

/// Text as hostile clients send it: printable Unicode, any scalar value including
/// controls and NUL, and the lossy decoding of arbitrary bytes.
///
/// Boxed, like the larger strategies below: unboxed, nested strategy types make
/// value trees big enough to overflow a debug build's test thread stack.
fn text() -> BoxedStrategy<String> {
    prop_oneof![
        any::<String>(),
        vec(any::<char>(), 0..256).prop_map(String::from_iter),
        vec(any::<u8>(), 0..256).prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned()),
    ]
    .boxed()
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..max)
}

fn received() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339("2026-11-25T10:00:00Z")
        .expect("valid")
        .to_utc()
}

mod webhook_bodies {
    //! `Payload` and the per-provider planners behind `Delivery::plan`.

    use super::*;

    const CALLRAIL_FIXTURE: &str = include_str!("fixtures/callrail_post_call.json");

    /// Real deliveries of every route: the mutation suites start from bodies the
    /// planners accept, so mutations reach deep into each planner.
    const FIXTURES: &[(WebhookEvent, &str)] = &[
        (WebhookEvent::CallRailCallComplete, CALLRAIL_FIXTURE),
        (WebhookEvent::CallRailPreCall, CALLRAIL_FIXTURE),
        (WebhookEvent::CallRailCallModified, CALLRAIL_FIXTURE),
        (
            WebhookEvent::CallRailSms,
            r#"{"resource_id":"SMS1","company_resource_id":"COM1","source_number":"+15550001","destination_number":"+15550002","content":"STOP","timestamp":"2026-11-25T09:00:00Z","agent":null}"#,
        ),
        (
            WebhookEvent::TwilioCallStatus,
            "CallSid=CA1&CallStatus=completed&SequenceNumber=3&Direction=inbound&From=%2B15550001&To=%2B15550002&AccountSid=AC1&CallDuration=42&CallerName=Jane&Timestamp=Wed%2C+25+Nov+2026+10%3A00%3A00+%2B0000",
        ),
        (
            WebhookEvent::TwilioSms,
            "MessageSid=SM1&From=%2B15550001&To=%2B15550002&Body=Unsubscribe&AccountSid=AC1",
        ),
        (
            WebhookEvent::TwilioRecording,
            "RecordingSid=RE1&CallSid=CA1&RecordingStatus=completed&RecordingUrl=https%3A%2F%2Fapi.twilio.com%2FRE1&RecordingDuration=30&AccountSid=AC1",
        ),
        (
            WebhookEvent::Clerk,
            r#"{"type":"user.created","data":{"id":"user_1","first_name":"Ada","last_name":"Lovelace","primary_email_address_id":"idn_2","email_addresses":[{"id":"idn_1","email_address":"old@example.com"},{"id":"idn_2","email_address":"ada@example.com"}]}}"#,
        ),
        (
            WebhookEvent::Clerk,
            r#"{"type":"organization.updated","data":{"id":"org_a","name":"Acme","slug":"acme"}}"#,
        ),
        (
            WebhookEvent::Clerk,
            r#"{"type":"organizationMembership.created","event_id":"evt_1","data":{"id":"orgmem_1","role":"org:admin","organization":{"id":"org_a"},"public_user_data":{"user_id":"user_1"}}}"#,
        ),
        (
            WebhookEvent::Clerk,
            r#"{"type":"organizationMembership.deleted","event_id":"evt_2","data":{"organization":{"id":"org_a"},"public_user_data":{"user_id":"user_1"}}}"#,
        ),
        (
            WebhookEvent::Bland,
            r#"{"call_id":"b-1","to":"+15550001","status":"completed","completed":true,"call_length":1.5,"corrected_duration":"90","summary":"Booked","concatenated_transcript":"user: hi","recording_url":"https://bland.ai/r/1","metadata":{"tenant_id":"org_a"}}"#,
        ),
    ];

    /// Every field name the planners read, so generated bodies hit real paths.
    const JSON_FIELDS: &[&str] = &[
        "id",
        "call",
        "call_id",
        "resource_id",
        "company_id",
        "company_resource_id",
        "direction",
        "answered",
        "duration",
        "customer_name",
        "customer_phone_number",
        "customer_number",
        "callernum",
        "start_time",
        "created_at",
        "recording",
        "recording_duration",
        "source_number",
        "destination_number",
        "content",
        "agent",
        "timestamp",
        "type",
        "event_id",
        "data",
        "organization",
        "public_user_data",
        "user_id",
        "role",
        "name",
        "slug",
        "first_name",
        "last_name",
        "email_addresses",
        "email_address",
        "primary_email_address_id",
        "session_id",
        "metadata",
        "tenant_id",
        "corrected_duration",
        "call_length",
        "to",
        "status",
        "completed",
        "summary",
        "concatenated_transcript",
        "recording_url",
    ];

    const FORM_FIELDS: &[&str] = &[
        "CallSid",
        "CallStatus",
        "Direction",
        "From",
        "To",
        "AccountSid",
        "SequenceNumber",
        "CallerName",
        "CallDuration",
        "Timestamp",
        "MessageSid",
        "SmsSid",
        "Body",
        "RecordingSid",
        "RecordingStatus",
        "RecordingUrl",
        "RecordingDuration",
    ];

    /// Values the planners give meaning to, and the edges of each meaning: numbers
    /// beyond `i32`, non-finite spellings, times at the ends of chrono's range.
    const LOADED_VALUES: &[&str] = &[
        "",
        "   ",
        "0",
        "-1",
        "2147483647",
        "2147483647.5",
        "2147483648",
        "-2147483649",
        "1e308",
        "1e400",
        "-0.0",
        "NaN",
        "inf",
        "-inf",
        "true",
        "FALSE",
        "inbound",
        "OUTBOUND",
        "outbound-api",
        "completed",
        "in-progress",
        "ringing",
        "STOP",
        " start ",
        "org_a",
        "user_1",
        "org:admin",
        "a b",
        "organization.created",
        "organization.updated",
        "organization.deleted",
        "user.created",
        "user.updated",
        "user.deleted",
        "organizationMembership.created",
        "organizationMembership.updated",
        "organizationMembership.deleted",
        "session.created",
        "2026-11-25T10:00:00Z",
        "+262143-12-31T23:59:59Z",
        "-262144-01-01T00:00:00Z",
        "9999-12-31T23:59:60.999999999+14:00",
        "Wed, 25 Nov 2026 10:00:00 +0000",
        "Fri, 31 Dec 9999 23:59:60 -2359",
        "+15550001",
    ];

    fn value_text() -> BoxedStrategy<String> {
        prop_oneof![
            2 => text(),
            2 => select(LOADED_VALUES).prop_map(str::to_owned),
            1 => "-?[0-9]{1,24}(\\.[0-9]{0,8})?(e[+-]?[0-9]{1,4})?",
        ]
        .boxed()
    }

    fn json_key() -> BoxedStrategy<String> {
        prop_oneof![
            4 => select(JSON_FIELDS).prop_map(str::to_owned),
            1 => text(),
        ]
        .boxed()
    }

    fn json_leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("JSON numbers are finite", |number| {
                serde_json::Number::from_f64(number).map(Value::Number)
            }),
            value_text().prop_map(Value::String),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        json_leaf().prop_recursive(4, 48, 8, |inner| {
            prop_oneof![
                vec(inner.clone(), 0..6).prop_map(Value::Array),
                vec((json_key(), inner), 0..8)
                    .prop_map(|fields| Value::Object(fields.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> BoxedStrategy<Map<String, Value>> {
        vec((json_key(), json_value()), 0..16)
            .prop_map(|fields| fields.into_iter().collect())
            .boxed()
    }

    fn form_fields() -> BoxedStrategy<Vec<(String, String)>> {
        let name = prop_oneof![
            4 => select(FORM_FIELDS).prop_map(str::to_owned),
            1 => text(),
        ];
        vec((name, value_text()), 0..16).boxed()
    }

    fn encode_form(fields: &[(String, String)]) -> Vec<u8> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in fields {
            form.append_pair(name, value);
        }
        form.finish().into_bytes()
    }

    /// Mostly the route's own media type, sometimes another, a parameterised one or
    /// garbage: the readers must refuse the wrong ones, never choke on them.
    fn content_type(event: WebhookEvent) -> BoxedStrategy<Option<String>> {
        let own = if event.is_form() { FORM } else { JSON };
        prop_oneof![
            6 => Just(Some(own.to_owned())),
            1 => Just(None),
            1 => select(vec![
                JSON,
                FORM,
                "application/cloudevents+json",
                "Application/JSON ; charset=utf-8",
                "application/x-www-form-urlencoded;charset=ISO-8859-1",
                "text/plain",
                ";",
                "",
            ])
            .prop_map(|media| Some(media.to_owned())),
            1 => text().prop_map(Some),
        ]
        .boxed()
    }

    fn delivery(
        event: WebhookEvent,
        content_type: Option<String>,
        body: Vec<u8>,
        message_id: Option<String>,
    ) -> Delivery {
        Delivery {
            event,
            content_type,
            body,
            message_id,
            received_at: received(),
            trace_context: None,
            trace_id: None,
        }
    }

    fn events_of(provider: otto_core::webhooks::Provider) -> Vec<WebhookEvent> {
        WebhookEvent::ALL
            .into_iter()
            .filter(|event| event.provider() == provider)
            .collect()
    }

    /// What any accepted plan must satisfy, whatever the body: it is the plan of the
    /// route it came through, it has an idempotency key, and the accounts used to
    /// pick signing keys are the ones it routes by.
    fn check_plan(delivery: &Delivery, plan: &Plan) -> Result<(), TestCaseError> {
        prop_assert_eq!(plan.event, delivery.event);
        prop_assert!(!plan.external_id.trim().is_empty(), "{plan:?}");
        if delivery.event != WebhookEvent::Clerk {
            prop_assert_eq!(plan.event_name.as_str(), delivery.event.name());
        }
        for job in &plan.jobs {
            prop_assert!(!job.subject.is_empty(), "{job:?}");
        }
        let routed_accounts = match &plan.routing {
            otto_core::webhooks::Routing::Accounts(accounts) => accounts.clone(),
            _ => Vec::new(),
        };
        prop_assert_eq!(delivery.named_accounts(), routed_accounts);
        if delivery.event.is_form() {
            prop_assert!(
                Payload::form(delivery.content_type.as_deref(), &delivery.body).is_ok(),
                "a Twilio route planned a body it cannot read as a form"
            );
        } else {
            prop_assert!(
                serde_json::from_slice::<Map<String, Value>>(&delivery.body).is_ok(),
                "a JSON route planned a body that is not a JSON object"
            );
        }
        Ok(())
    }

    /// Plans `delivery` (and the unverified account lookup that runs before its
    /// signature is checked), checking any plan it yields.
    fn plan_checked(delivery: &Delivery) -> Result<Result<Plan, PayloadError>, TestCaseError> {
        let planned = delivery.plan();
        let _ = delivery.named_accounts();
        let _ = delivery.body_digest();
        if let Ok(plan) = &planned {
            check_plan(delivery, plan)?;
        }
        Ok(planned)
    }

    fn check_delivery(delivery: &Delivery) -> Result<(), TestCaseError> {
        plan_checked(delivery).map(drop)
    }

    /// One byte-level edit of a body.
    #[derive(Debug, Clone)]
    enum ByteEdit {
        Flip(Index, u8),
        Insert(Index, Vec<u8>),
        Delete(Index, usize),
        Truncate(Index),
    }

    fn byte_edit() -> impl Strategy<Value = ByteEdit> {
        // JSON and form syntax characters break structure far more often than
        // random bytes do.
        let syntax = select(b"{}[]\":,\\-+.0123456789eE%&=tfn \x00\xff".to_vec());
        prop_oneof![
            (any::<Index>(), 1u8..=255).prop_map(|(at, mask)| ByteEdit::Flip(at, mask)),
            (any::<Index>(), vec(any::<u8>(), 1..16))
                .prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
            (any::<Index>(), vec(syntax, 1..8)).prop_map(|(at, bytes)| ByteEdit::Insert(at, bytes)),
            (any::<Index>(), 1usize..32).prop_map(|(at, len)| ByteEdit::Delete(at, len)),
            any::<Index>().prop_map(ByteEdit::Truncate),
        ]
    }

    fn apply_byte_edit(body: &mut Vec<u8>, edit: &ByteEdit) {
        match edit {
            ByteEdit::Flip(at, mask) if !body.is_empty() => {
                let at = at.index(body.len());
                body[at] ^= mask;
            }
            ByteEdit::Insert(at, bytes) => {
                let at = at.index(body.len() + 1);
                body.splice(at..at, bytes.iter().copied());
            }
            ByteEdit::Delete(at, len) if !body.is_empty() => {
                let at = at.index(body.len());
                let end = (at + len).min(body.len());
                body.drain(at..end);
            }
            ByteEdit::Truncate(at) => body.truncate(at.index(body.len() + 1)),
            ByteEdit::Flip(..) | ByteEdit::Delete(..) => {}
        }
    }

    /// One edit of a JSON body's fields, anywhere in the document.
    #[derive(Debug, Clone)]
    enum FieldEdit {
        Replace(Index, Value),
        Remove(Index),
        Add(Index, String, Value),
    }

    fn field_edit() -> impl Strategy<Value = FieldEdit> {
        prop_oneof![
            3 => (any::<Index>(), json_value()).prop_map(|(at, value)| FieldEdit::Replace(at, value)),
            1 => any::<Index>().prop_map(FieldEdit::Remove),
            1 => (any::<Index>(), json_key(), json_value())
                .prop_map(|(at, key, value)| FieldEdit::Add(at, key, value)),
        ]
    }

    /// The path of every field of `object`, nested ones included.
    fn field_paths(object: &Map<String, Value>, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for (key, value) in object {
            let mut path = prefix.to_vec();
            path.push(key.clone());
            if let Value::Object(inner) = value {
                field_paths(inner, &path, out);
            }
            out.push(path);
        }
    }

    fn object_at<'a>(
        root: &'a mut Map<String, Value>,
        path: &[String],
    ) -> Option<&'a mut Map<String, Value>> {
        let mut current = root;
        for key in path {
            current = current.get_mut(key)?.as_object_mut()?;
        }
        Some(current)
    }

    fn apply_field_edit(root: &mut Map<String, Value>, edit: &FieldEdit) {
        let mut paths = Vec::new();
        field_paths(root, &[], &mut paths);
        match edit {
            FieldEdit::Replace(at, value) if !paths.is_empty() => {
                let (last, parent) = at.get(&paths).split_last().expect("paths are never empty");
                if let Some(parent) = object_at(root, parent) {
                    parent.insert(last.clone(), value.clone());
                }
            }
            FieldEdit::Remove(at) if !paths.is_empty() => {
                let (last, parent) = at.get(&paths).split_last().expect("paths are never empty");
                if let Some(parent) = object_at(root, parent) {
                    parent.remove(last);
                }
            }
            FieldEdit::Add(at, key, value) => {
                let mut objects: Vec<Vec<String>> = vec![Vec::new()];
                objects.extend(
                    paths
                        .into_iter()
                        .filter(|path| object_at(root, path).is_some()),
                );
                if let Some(object) = object_at(root, &objects[at.index(objects.len())]) {
                    object.insert(key.clone(), value.clone());
                }
            }
            FieldEdit::Replace(..) | FieldEdit::Remove(..) => {}
        }
    }

    /// One edit of a form body's fields.
    #[derive(Debug, Clone)]
    enum FormEdit {
        Replace(Index, String),
        Remove(Index),
        Repeat(Index, String),
        Add(String, String),
    }

    fn form_edit() -> impl Strategy<Value = FormEdit> {
        let name = prop_oneof![select(FORM_FIELDS).prop_map(str::to_owned), text()];
        prop_oneof![
            3 => (any::<Index>(), value_text()).prop_map(|(at, value)| FormEdit::Replace(at, value)),
            1 => any::<Index>().prop_map(FormEdit::Remove),
            1 => (any::<Index>(), value_text()).prop_map(|(at, value)| FormEdit::Repeat(at, value)),
            1 => (name, value_text()).prop_map(|(name, value)| FormEdit::Add(name, value)),
        ]
    }

    fn apply_form_edit(fields: &mut Vec<(String, String)>, edit: &FormEdit) {
        match edit {
            FormEdit::Replace(at, value) if !fields.is_empty() => {
                let at = at.index(fields.len());
                fields[at].1.clone_from(value);
            }
            FormEdit::Remove(at) if !fields.is_empty() => {
                fields.remove(at.index(fields.len()));
            }
            FormEdit::Repeat(at, value) if !fields.is_empty() => {
                let name = fields[at.index(fields.len())].0.clone();
                fields.push((name, value.clone()));
            }
            FormEdit::Add(name, value) => fields.push((name.clone(), value.clone())),
            FormEdit::Replace(..) | FormEdit::Remove(..) | FormEdit::Repeat(..) => {}
        }
    }

    fn fixture() -> impl Strategy<Value = (WebhookEvent, &'static str)> {
        select(FIXTURES)
    }

    fn own_content_type(event: WebhookEvent) -> Option<String> {
        Some(if event.is_form() { FORM } else { JSON }.to_owned())
    }

    #[test]
    fn every_fixture_plans_before_it_is_mutated() {
        for (event, body) in FIXTURES {
            let delivery = delivery(
                *event,
                own_content_type(*event),
                body.as_bytes().to_vec(),
                None,
            );
            let plan = delivery.plan().unwrap_or_else(|error| {
                panic!("{event:?} fixture does not plan: {error}");
            });
            assert!(!plan.effects.is_empty(), "{event:?}: {plan:?}");
        }
    }

    /// A delivery to one of `events` with any content type, body and message id.
    fn arbitrary_delivery(events: Vec<WebhookEvent>) -> BoxedStrategy<Delivery> {
        select(events)
            .prop_flat_map(|event| {
                (
                    content_type(event),
                    bytes(2048),
                    proptest::option::of(text()),
                )
                    .prop_map(move |(media, body, message_id)| {
                        delivery(event, media, body, message_id)
                    })
            })
            .boxed()
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_bytes_never_panic_the_payload_readers(
            media in proptest::option::of(text()),
            body in bytes(2048),
            path in prop_oneof![select(JSON_FIELDS).prop_map(str::to_owned), text()],
        ) {
            for read in [Payload::json, Payload::form] {
                if let Ok(payload) = read(media.as_deref(), &body) {
                    let _ = payload.text(&path);
                    let _ = payload.flag(&path);
                    let _ = payload.seconds(&path);
                    let _ = payload.time(&path);
                    let _ = payload.required_text(&[path.as_str(), "id"]);
                }
            }
        }

        #[test]
        fn json_payloads_are_exactly_the_json_objects(body in bytes(512), object in json_object()) {
            let is_object = serde_json::from_slice::<Map<String, Value>>(&body).is_ok();
            prop_assert_eq!(Payload::json(Some(JSON), &body).is_ok(), is_object);
            let encoded = serde_json::to_vec(&object).expect("serialisable");
            prop_assert!(Payload::json(Some(JSON), &encoded).is_ok());
        }

        #[test]
        fn form_payloads_decode_to_the_fields_that_were_encoded(fields in form_fields()) {
            let payload = Payload::form(Some(FORM), &encode_form(&fields));
            prop_assert_eq!(payload, Ok(Payload::Form(fields)));
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_callrail_planner(
            delivery in arbitrary_delivery(events_of(otto_core::webhooks::Provider::CallRail)),
        ) {
            check_delivery(&delivery)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_twilio_planner(
            delivery in arbitrary_delivery(events_of(otto_core::webhooks::Provider::Twilio)),
        ) {
            check_delivery(&delivery)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_clerk_planner(
            delivery in arbitrary_delivery(events_of(otto_core::webhooks::Provider::Clerk)),
        ) {
            check_delivery(&delivery)?;
        }

        #[test]
        fn arbitrary_bytes_never_panic_the_bland_planner(
            delivery in arbitrary_delivery(events_of(otto_core::webhooks::Provider::Bland)),
        ) {
            check_delivery(&delivery)?;
        }

        #[test]
        fn arbitrary_json_fields_never_panic_the_json_planners(
            event in select(WebhookEvent::ALL.into_iter().filter(|event| !event.is_form()).collect::<Vec<_>>()),
            object in json_object(),
            message_id in proptest::option::of(text()),
        ) {
            let body = serde_json::to_vec(&object).expect("serialisable");
            check_delivery(&delivery(event, own_content_type(event), body, message_id))?;
        }

        #[test]
        fn arbitrary_form_fields_never_panic_the_twilio_planner(
            event in select(events_of(otto_core::webhooks::Provider::Twilio)),
            fields in form_fields(),
        ) {
            check_delivery(&delivery(event, own_content_type(event), encode_form(&fields), None))?;
        }

        #[test]
        fn byte_mutations_of_real_deliveries_never_panic_the_planners(
            (event, body) in fixture(),
            edits in vec(byte_edit(), 1..8),
        ) {
            let mut body = body.as_bytes().to_vec();
            for edit in &edits {
                apply_byte_edit(&mut body, edit);
            }
            check_delivery(&delivery(event, own_content_type(event), body, None))?;
        }

        #[test]
        fn field_mutations_of_real_deliveries_never_panic_the_planners(
            (event, body) in fixture(),
            json_edits in vec(field_edit(), 1..5),
            form_edits in vec(form_edit(), 1..5),
        ) {
            let body = if event.is_form() {
                let mut fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
                    .map(|(name, value)| (name.into_owned(), value.into_owned()))
                    .collect();
                for edit in &form_edits {
                    apply_form_edit(&mut fields, edit);
                }
                encode_form(&fields)
            } else {
                let mut object: Map<String, Value> =
                    serde_json::from_str(body).expect("fixtures are JSON objects");
                for edit in &json_edits {
                    apply_field_edit(&mut object, edit);
                }
                serde_json::to_vec(&object).expect("serialisable")
            };
            check_delivery(&delivery(event, own_content_type(event), body, None))?;
        }

        #[test]
        fn deeply_nested_json_is_refused_or_planned_without_overflowing_the_stack(
            event in select(WebhookEvent::ALL.into_iter().filter(|event| !event.is_form()).collect::<Vec<_>>()),
            depth in prop_oneof![8 => 0usize..300, 1 => Just(5_000usize), 1 => Just(100_000usize)],
            key in select(vec!["call", "data", "metadata", "organization"]),
            arrays in any::<bool>(),
        ) {
            let (open, close) = if arrays {
                ("[".to_owned(), "]")
            } else {
                (format!("{{\"{key}\":"), "}")
            };
            let inner = format!("{}{{}}{}", open.repeat(depth), close.repeat(depth));
            let body = format!(
                r#"{{"call_id":"c1","resource_id":"r1","type":"user.created","nested":{inner}}}"#
            );
            let delivery = delivery(event, own_content_type(event), body.into_bytes(), None);
            let planned = plan_checked(&delivery)?;
            // Depth limits are serde_json's (128 today); only the far sides are asserted.
            let call_event = event.provider() == otto_core::webhooks::Provider::CallRail
                && event != WebhookEvent::CallRailSms;
            if depth < 100 && call_event {
                prop_assert!(planned.is_ok(), "{:?}", planned);
            }
            if depth >= 200 {
                prop_assert!(
                    matches!(planned, Err(PayloadError::Malformed { .. })),
                    "{:?}",
                    planned
                );
            }
        }
    }

    proptest! {
        // Bodies of a few hundred kilobytes: redaction scans them at debug-build speed
        // (linearly; a quadratic path would show up here as a timeout).
        #![proptest_config(cases(8))]

        #[test]
        fn huge_bodies_are_planned_or_refused_without_panicking(
            event in select(WebhookEvent::ALL.to_vec()),
            chunk in text(),
            repeat in 1usize..4096,
            fields in 1usize..5000,
        ) {
            let long_value: String = chunk.repeat(repeat).chars().take(32 * 1024).collect();
            let mut object = Map::new();
            object.insert("call_id".into(), Value::String(long_value.clone()));
            object.insert("type".into(), Value::String(long_value.clone()));
            object.insert("content".into(), Value::String(long_value.clone()));
            for field in 0..fields {
                object.insert(format!("field_{field}"), Value::from(field));
            }
            let body = if event.is_form() {
                encode_form(&[
                    ("CallSid".to_owned(), long_value.clone()),
                    ("CallStatus".to_owned(), long_value.clone()),
                    ("Body".to_owned(), long_value),
                ])
            } else {
                serde_json::to_vec(&object).expect("serialisable")
            };
            let delivery = delivery(event, own_content_type(event), body, None);
            check_delivery(&delivery)?;
            let redacted = otto_core::webhooks::redact_body(&delivery.body, event.is_form());
            prop_assert!(!redacted.is_empty());
        }
    }
}

mod signatures {
    //! Every signature scheme: sign-then-verify, refusal of other bodies and keys,
    //! and arbitrary header values.

    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use otto_core::webhooks::signatures::{SignatureError, bland, callrail, svix, twilio};

    const NOW: i64 = 1_795_600_000;

    /// HMAC zero-pads short keys, so keys that differ only in trailing NUL bytes are
    /// one key; "another key" must differ beyond that.
    fn distinct_hmac_keys(a: &[u8], b: &[u8]) -> bool {
        let significant = |key: &[u8]| {
            let end = key
                .iter()
                .rposition(|byte| *byte != 0)
                .map_or(0, |at| at + 1);
            key[..end].to_vec()
        };
        significant(a) != significant(b)
    }

    /// The text Twilio signs, as its documentation states it (URL, then each name and
    /// value, sorted, duplicates dropped), to tell which parameter changes really
    /// change what is signed: names and values are concatenated without separators.
    fn twilio_signed_text(url: &str, params: &[(String, String)]) -> String {
        let mut pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
            .iter()
            .fold(url.to_owned(), |text, (name, value)| text + name + value)
    }

    /// `signature` with the character at `at` replaced by a different one of
    /// `alphabet` (the same character case-insensitively when `fold_case`, since hex
    /// signatures are accepted in either case).
    fn with_one_char_changed(
        signature: &str,
        at: Index,
        replacement: Index,
        alphabet: &[char],
        fold_case: bool,
    ) -> String {
        let mut chars: Vec<char> = signature.chars().collect();
        let at = at.index(chars.len());
        let original = chars[at];
        let same = |c: char| {
            if fold_case {
                c.eq_ignore_ascii_case(&original)
            } else {
                c == original
            }
        };
        let choices: Vec<char> = alphabet.iter().copied().filter(|c| !same(*c)).collect();
        chars[at] = choices[replacement.index(choices.len())];
        chars.into_iter().collect()
    }

    fn base64_alphabet() -> Vec<char> {
        ('A'..='Z')
            .chain('a'..='z')
            .chain('0'..='9')
            .chain(['+', '/', '=', '-', '_', ' ', '.'])
            .collect()
    }

    fn hex_alphabet() -> Vec<char> {
        ('0'..='9')
            .chain('a'..='f')
            .chain('A'..='F')
            .chain(['g', 'x', ' '])
            .collect()
    }

    /// Header values as attackers send them: arbitrary text, near-misses of each
    /// format and whitespace-only values.
    fn header_value() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            3 => text(),
            1 => "[A-Za-z0-9+/]{0,40}={0,3}",
            1 => "[0-9a-fA-F]{62,66}",
            1 => "( ?v[0-9],[A-Za-z0-9+/=]{0,48}){0,4}",
            1 => Just(" \t ".to_owned()),
        ])
    }

    fn twilio_params() -> impl Strategy<Value = Vec<(String, String)>> {
        vec((text(), text()), 0..8)
    }

    fn web_url() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => (
                select(vec!["http", "https"]),
                "[a-z0-9.-]{1,20}",
                proptest::option::of(select(vec!["80", "443", "8443"])),
                "(/[a-z0-9._-]{0,10}){0,3}",
                proptest::option::of("[a-z0-9=&]{0,20}"),
            )
                .prop_map(|(scheme, host, port, path, query)| {
                    let port = port.map(|port| format!(":{port}")).unwrap_or_default();
                    let query = query.map(|query| format!("?{query}")).unwrap_or_default();
                    format!("{scheme}://{host}{port}{path}{query}")
                }),
            1 => text(),
        ]
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn callrail_signatures_verify_for_their_own_key_and_body_only(
            key in text(),
            other_key in text(),
            body in bytes(1024),
            other_body in bytes(1024),
        ) {
            let signature = callrail::sign(&key, &body);
            prop_assert_eq!(callrail::verify(&key, &body, Some(&signature)), Ok(()));
            prop_assert_eq!(
                callrail::verify(&key, &body, Some(&format!(" {signature}\t"))),
                Ok(())
            );
            if other_body != body {
                prop_assert_eq!(
                    callrail::verify(&key, &other_body, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
            if distinct_hmac_keys(key.as_bytes(), other_key.as_bytes()) {
                prop_assert_eq!(
                    callrail::verify(&other_key, &body, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
        }

        #[test]
        fn a_callrail_signature_with_one_character_changed_is_refused(
            key in text(),
            body in bytes(256),
            at in any::<Index>(),
            replacement in any::<Index>(),
        ) {
            // The engine refuses non-canonical trailing bits, so every change of a
            // character is a change of the decoded bytes or a malformed signature.
            let signature = callrail::sign(&key, &body);
            let changed = with_one_char_changed(&signature, at, replacement, &base64_alphabet(), false);
            prop_assert!(callrail::verify(&key, &body, Some(&changed)).is_err(), "{changed}");
        }

        #[test]
        fn arbitrary_callrail_signature_headers_never_panic_or_pass(
            key in text(),
            body in bytes(1024),
            header in header_value(),
        ) {
            let verified = callrail::verify(&key, &body, header.as_deref());
            if verified.is_ok() {
                let expected = callrail::sign(&key, &body);
                prop_assert_eq!(header.as_deref().map(str::trim), Some(expected.as_str()));
            }
        }

        #[test]
        fn twilio_signatures_verify_for_their_own_token_url_and_params_only(
            token in text(),
            other_token in text(),
            url in web_url(),
            params in twilio_params(),
            other_params in twilio_params(),
        ) {
            let signature = twilio::sign(&token, &url, &params);
            prop_assert_eq!(twilio::verify(&token, &url, &params, Some(&signature)), Ok(()));
            // Twilio signs with or without the default port; both must verify.
            if let Some(alternate) = twilio::alternate_port_form(&url) {
                let other_form = twilio::sign(&token, &alternate, &params);
                prop_assert_eq!(twilio::verify(&token, &url, &params, Some(&other_form)), Ok(()));
            }
            let signed = twilio_signed_text(&url, &params);
            let differs = |url: &str| twilio_signed_text(url, &other_params) != signed;
            if differs(&url) && twilio::alternate_port_form(&url).is_none_or(|alternate| differs(&alternate)) {
                prop_assert_eq!(
                    twilio::verify(&token, &url, &other_params, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
            if distinct_hmac_keys(token.as_bytes(), other_token.as_bytes()) {
                prop_assert_eq!(
                    twilio::verify(&other_token, &url, &params, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
        }

        #[test]
        fn a_twilio_signature_with_one_character_changed_is_refused(
            token in text(),
            url in web_url(),
            params in twilio_params(),
            at in any::<Index>(),
            replacement in any::<Index>(),
        ) {
            let signature = twilio::sign(&token, &url, &params);
            let changed = with_one_char_changed(&signature, at, replacement, &base64_alphabet(), false);
            prop_assert!(twilio::verify(&token, &url, &params, Some(&changed)).is_err(), "{changed}");
        }

        #[test]
        fn twilio_body_signatures_verify_for_their_own_body_only(
            token in text(),
            url in web_url(),
            body in bytes(1024),
            other_body in bytes(1024),
            uppercase_hash in any::<bool>(),
        ) {
            let hash = twilio::body_hash(&body);
            let hash = if uppercase_hash { hash.to_ascii_uppercase() } else { hash };
            let separator = if url.contains('?') { '&' } else { '?' };
            let signed_url = format!("{url}{separator}bodySHA256={hash}");
            let signature = twilio::sign(&token, &signed_url, &[]);
            prop_assert_eq!(twilio::verify_with_body(&token, &signed_url, &body, Some(&signature)), Ok(()));
            if other_body != body {
                prop_assert_eq!(
                    twilio::verify_with_body(&token, &signed_url, &other_body, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
        }

        #[test]
        fn arbitrary_twilio_requests_never_panic_or_pass(
            token in text(),
            url in prop_oneof![web_url(), text()],
            params in twilio_params(),
            body in bytes(512),
            header in header_value(),
        ) {
            let form = twilio::verify(&token, &url, &params, header.as_deref());
            let with_body = twilio::verify_with_body(&token, &url, &body, header.as_deref());
            let signed_forms = |params: &[(String, String)]| -> Vec<String> {
                std::iter::once(url.clone())
                    .chain(twilio::alternate_port_form(&url))
                    .map(|url| twilio::sign(&token, &url, params))
                    .collect()
            };
            let presented = header.as_deref().map(str::trim).unwrap_or_default().to_owned();
            if form.is_ok() {
                prop_assert!(signed_forms(&params).contains(&presented));
            }
            if with_body.is_ok() {
                prop_assert!(signed_forms(&[]).contains(&presented));
            }
        }

        #[test]
        fn twilio_alternate_port_forms_never_panic_and_undo_each_other(
            url in web_url(),
            garbage in text(),
        ) {
            let _ = twilio::alternate_port_form(&garbage);
            if let Some(alternate) = twilio::alternate_port_form(&url) {
                prop_assert_ne!(&alternate, &url);
                prop_assert_eq!(twilio::alternate_port_form(&alternate), Some(url));
            }
        }

        #[test]
        fn svix_signatures_verify_within_the_tolerance_for_their_own_message_only(
            key in vec(any::<u8>(), 1..64),
            other_key in vec(any::<u8>(), 1..64),
            msg_id in text().prop_map(|id| id.trim().to_owned()),
            skew in -svix::TOLERANCE_SECONDS..=svix::TOLERANCE_SECONDS,
            body in bytes(1024),
            other_body in bytes(1024),
            noise in vec("v[0-9],[A-Za-z0-9+/=]{0,44}", 0..3),
            at in any::<Index>(),
            replacement in any::<Index>(),
        ) {
            let secret = format!("whsec_{}", BASE64.encode(&key));
            let timestamp = NOW + skew;
            let signature = svix::sign(&secret, &msg_id, timestamp, &body).expect("valid secret");
            let header = noise
                .iter()
                .cloned()
                .chain([signature.clone()])
                .collect::<Vec<_>>()
                .join(" ");
            let ts = timestamp.to_string();
            let verify = |secret: &str, body: &[u8]| {
                svix::verify(secret, Some(&msg_id), Some(&ts), Some(&header), body, NOW)
            };
            prop_assert_eq!(verify(&secret, &body), Ok(()));
            if other_body != body {
                prop_assert_eq!(verify(&secret, &other_body), Err(SignatureError::Mismatch));
            }
            if distinct_hmac_keys(&key, &other_key) {
                let other_secret = format!("whsec_{}", BASE64.encode(&other_key));
                prop_assert_eq!(verify(&other_secret, &body), Err(SignatureError::Mismatch));
            }
            let changed = with_one_char_changed(
                signature.trim_start_matches("v1,"),
                at,
                replacement,
                &base64_alphabet(),
                false,
            );
            let changed = format!("v1,{changed}");
            let refused = svix::verify(&secret, Some(&msg_id), Some(&ts), Some(&changed), &body, NOW);
            prop_assert!(refused.is_err(), "{}", changed);
        }

        #[test]
        fn svix_timestamps_outside_the_tolerance_are_stale_whatever_their_size(
            key in vec(any::<u8>(), 1..64),
            now in prop_oneof![0i64..4_102_444_800, any::<i64>(), Just(i64::MIN), Just(i64::MAX)],
            offset in prop_oneof![
                svix::TOLERANCE_SECONDS + 1..1_000_000,
                -1_000_000..-svix::TOLERANCE_SECONDS,
                any::<i64>(),
                Just(i64::MIN),
                Just(i64::MAX),
            ],
            body in bytes(256),
        ) {
            let timestamp = now.wrapping_add(offset);
            prop_assume!(now.abs_diff(timestamp) > svix::TOLERANCE_SECONDS.unsigned_abs());
            let secret = format!("whsec_{}", BASE64.encode(&key));
            let signature = svix::sign(&secret, "msg_1", timestamp, &body).expect("valid secret");
            prop_assert_eq!(
                svix::verify(&secret, Some("msg_1"), Some(&timestamp.to_string()), Some(&signature), &body, now),
                Err(SignatureError::Stale)
            );
        }

        #[test]
        fn arbitrary_svix_headers_never_panic_or_pass(
            secret in prop_oneof![text(), vec(any::<u8>(), 0..64).prop_map(|key| format!("whsec_{}", BASE64.encode(key)))],
            msg_id in proptest::option::of(text()),
            timestamp in proptest::option::of(prop_oneof![
                text(),
                any::<i64>().prop_map(|ts| ts.to_string()),
                select(vec!["-9223372036854775808", "9223372036854775807", "+1795600000", " 1795600000 ", "01795600000", "1795600000.0", "1e9"]).prop_map(str::to_owned),
            ]),
            signatures in header_value(),
            body in bytes(512),
            now in prop_oneof![Just(NOW), any::<i64>()],
        ) {
            let verified = svix::verify(
                &secret,
                msg_id.as_deref(),
                timestamp.as_deref(),
                signatures.as_deref(),
                &body,
                now,
            );
            prop_assert!(verified.is_err(), "no valid signature was presented");
        }

        #[test]
        fn bland_signatures_verify_in_either_case_for_their_own_secret_and_body_only(
            secret in text(),
            other_secret in text(),
            body in bytes(1024),
            other_body in bytes(1024),
            at in any::<Index>(),
            replacement in any::<Index>(),
        ) {
            let signature = bland::sign(&secret, &body);
            prop_assert_eq!(bland::verify(&secret, &body, Some(&signature)), Ok(()));
            prop_assert_eq!(bland::verify(&secret, &body, Some(&signature.to_ascii_uppercase())), Ok(()));
            if other_body != body {
                prop_assert_eq!(
                    bland::verify(&secret, &other_body, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
            if distinct_hmac_keys(secret.as_bytes(), other_secret.as_bytes()) {
                prop_assert_eq!(
                    bland::verify(&other_secret, &body, Some(&signature)),
                    Err(SignatureError::Mismatch)
                );
            }
            let changed = with_one_char_changed(&signature, at, replacement, &hex_alphabet(), true);
            prop_assert!(bland::verify(&secret, &body, Some(&changed)).is_err(), "{changed}");
        }

        #[test]
        fn arbitrary_bland_signature_headers_never_panic_or_pass(
            secret in text(),
            body in bytes(1024),
            header in header_value(),
        ) {
            if bland::verify(&secret, &body, header.as_deref()).is_ok() {
                prop_assert_eq!(
                    header.as_deref().map(|header| header.trim().to_ascii_lowercase()),
                    Some(bland::sign(&secret, &body))
                );
            }
        }
    }

    #[test]
    fn svix_timestamps_at_the_ends_of_i64_are_stale_not_an_overflow() {
        let secret = format!("whsec_{}", BASE64.encode(b"key"));
        // Each pair once made `now - timestamp` or its `abs()` overflow.
        for (timestamp, now) in [
            (i64::MIN + 1, 1),
            (i64::MAX, -1),
            (i64::MIN, NOW),
            (NOW.wrapping_add(i64::MIN), NOW),
            (i64::MIN, i64::MAX),
        ] {
            let signature = svix::sign(&secret, "msg_1", timestamp, b"{}").expect("valid secret");
            assert_eq!(
                svix::verify(
                    &secret,
                    Some("msg_1"),
                    Some(&timestamp.to_string()),
                    Some(&signature),
                    b"{}",
                    now
                ),
                Err(SignatureError::Stale),
                "timestamp {timestamp} at {now}"
            );
        }
    }
}

mod rates {
    use super::*;
    use otto_core::{Rate, RatePeriod};

    fn period() -> impl Strategy<Value = RatePeriod> {
        select(vec![
            RatePeriod::Second,
            RatePeriod::Minute,
            RatePeriod::Hour,
            RatePeriod::Day,
        ])
    }

    /// The spellings a person may write for `period`, all meant to parse.
    fn spelling(period: RatePeriod) -> impl Strategy<Value = String> {
        let names: &[&str] = match period {
            RatePeriod::Second => &["second", "seconds", "s"],
            RatePeriod::Minute => &["minute", "minutes", "m"],
            RatePeriod::Hour => &["hour", "hours", "h"],
            RatePeriod::Day => &["day", "days", "d"],
        };
        (select(names), vec(any::<bool>(), 8)).prop_map(|(name, upper)| {
            name.chars()
                .zip(upper)
                .map(|(c, upper)| if upper { c.to_ascii_uppercase() } else { c })
                .collect()
        })
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_the_rate_parser_and_parsed_rates_round_trip(
            raw in prop_oneof![
                text(),
                "[ -]{0,2}[0-9+-]{0,24} {0,2}/ {0,2}[A-Za-z]{0,9} {0,2}",
            ],
        ) {
            if let Ok(rate) = raw.parse::<Rate>() {
                prop_assert!(rate.count() > 0);
                prop_assert!(rate.emission_interval() <= rate.period().duration());
                prop_assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
            }
        }

        #[test]
        fn every_rate_displays_and_reparses_to_itself(
            count in 1u32..=u32::MAX,
            (period, unit) in period().prop_flat_map(|period| (Just(period), spelling(period))),
            pad in "[ \t]{0,2}",
        ) {
            let written = format!("{pad}{count}{pad}/{pad}{unit}{pad}");
            let rate: Rate = written.parse().map_err(|error| TestCaseError::fail(format!("{written:?}: {error}")))?;
            prop_assert_eq!(rate.count(), count);
            prop_assert_eq!(rate.period(), period);
            prop_assert_eq!(rate.to_string().parse::<Rate>(), Ok(rate));
        }
    }
}

mod origins {
    use super::*;
    use otto_core::origin::OriginPattern;

    const SCHEMES: &[&str] = &["http", "https", "ws", "wss", "exp", "myapp"];

    fn default_port(scheme: &str) -> Option<u16> {
        match scheme {
            "http" | "ws" => Some(80),
            "https" | "wss" => Some(443),
            _ => None,
        }
    }

    fn host() -> impl Strategy<Value = String> {
        prop_oneof![
            2 => select(vec![
                "example.com",
                "app.example.com",
                "evil.example.com",
                "a.b.example.com",
                "example.com.evil.io",
                "evilexample.com",
                "localhost",
                "127.0.0.1",
            ])
            .prop_map(str::to_owned),
            1 => vec("[a-z0-9]([a-z0-9-]{0,4}[a-z0-9])?", 1..4).prop_map(|labels| labels.join(".")),
        ]
    }

    fn port() -> impl Strategy<Value = Option<u16>> {
        proptest::option::of(prop_oneof![
            select(vec![80u16, 443, 3000, 8080]),
            any::<u16>()
        ])
    }

    fn origin_text(scheme: &str, host: &str, port: Option<u16>, upper: bool) -> String {
        let port = port.map(|port| format!(":{port}")).unwrap_or_default();
        let text = format!("{scheme}://{host}{port}");
        if upper {
            text.to_ascii_uppercase()
        } else {
            text
        }
    }

    /// The port an origin really uses, a scheme's default written or not.
    fn effective_port(scheme: &str, port: Option<u16>) -> Option<u16> {
        port.filter(|port| Some(*port) != default_port(scheme))
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_the_origin_parsers(
            raw in prop_oneof![
                text(),
                "[a-zA-Z+.-]{0,6}://[*a-zA-Z0-9.:\\[\\]@/?# -]{0,30}",
                "([a-z]{0,5}://[*a-z0-9.:\\[\\]-]{0,16} ?,? ?){0,5}",
            ],
            origin in prop_oneof![
                text(),
                "[a-zA-Z+.-]{0,6}://[*a-zA-Z0-9.:\\[\\]@/?# -]{0,30}",
            ],
        ) {
            if let Ok(pattern) = OriginPattern::parse(&raw) {
                let _ = pattern.matches(&origin);
                let _ = pattern.is_web();
                prop_assert!(!pattern.matches("null"));
            }
            if let Ok(patterns) = OriginPattern::parse_list(&raw) {
                let _ = otto_core::origin::is_allowed(&patterns, &origin);
            }
        }

        #[test]
        fn well_formed_patterns_display_and_reparse_to_themselves(
            scheme in select(SCHEMES),
            host in host(),
            port in port(),
            kind in 0u8..3,
        ) {
            let port_text = port.map(|port| format!(":{port}")).unwrap_or_default();
            let written = match kind {
                0 => format!("{scheme}://{host}{port_text}"),
                1 => format!("{scheme}://*.{host}{port_text}"),
                _ => format!("{scheme}://*"),
            };
            if let Ok(pattern) = OriginPattern::parse(&written) {
                prop_assert_eq!(OriginPattern::parse(&pattern.to_string()), Ok(pattern.clone()));
                prop_assert_eq!(OriginPattern::parse_list(&format!(" ,{pattern}, ")), Ok(vec![pattern]));
            } else {
                prop_assert!(kind == 2 && default_port(scheme).is_some(), "{written} was refused");
            }
        }

        #[test]
        fn an_exact_pattern_matches_only_its_own_scheme_host_and_port(
            (scheme, host, port) in (select(SCHEMES), host(), port()),
            (other_scheme, other_host, other_port) in (select(SCHEMES), host(), port()),
            upper in any::<bool>(),
            trailing_slash in any::<bool>(),
        ) {
            let pattern = OriginPattern::parse(&origin_text(scheme, &host, port, false)).expect("valid");
            let mut origin = origin_text(other_scheme, &other_host, other_port, upper);
            if trailing_slash {
                origin.push('/');
            }
            let same = scheme == other_scheme
                && host == other_host
                && effective_port(scheme, port) == effective_port(other_scheme, other_port);
            prop_assert_eq!(pattern.matches(&origin), same, "{} vs {}", pattern, origin);
        }

        #[test]
        fn an_exact_pattern_matches_an_edited_origin_only_if_it_names_the_same_origin(
            (scheme, host, port) in (select(SCHEMES), host(), port()),
            at in any::<Index>(),
            insert in any::<char>(),
        ) {
            let written = origin_text(scheme, &host, port, false);
            let pattern = OriginPattern::parse(&written).expect("valid");
            let mut chars: Vec<char> = written.chars().collect();
            chars.insert(at.index(chars.len() + 1), insert);
            let edited: String = chars.into_iter().collect();
            if pattern.matches(&edited) {
                prop_assert_eq!(OriginPattern::parse(&edited), Ok(pattern));
            }
        }

        #[test]
        fn a_subdomain_pattern_never_matches_another_scheme_port_or_a_host_outside_its_domain(
            (scheme, suffix, port) in (select(SCHEMES), host(), port()),
            (other_scheme, other_port) in (select(SCHEMES), port()),
            other_host in prop_oneof![
                host(),
                host().prop_map(|host| format!("{host}.example.com")),
                "[a-z0-9]{1,6}".prop_map(|label| format!("{label}.app.example.com")),
            ],
        ) {
            let pattern = OriginPattern::parse(&origin_text(scheme, &format!("*.{suffix}"), port, false))
                .expect("valid");
            let origin = origin_text(other_scheme, &other_host, other_port, false);
            let inside = other_host
                .strip_suffix(&format!(".{suffix}"))
                .is_some_and(|label| !label.is_empty());
            let expected = scheme == other_scheme
                && effective_port(scheme, port) == effective_port(other_scheme, other_port)
                && inside;
            prop_assert_eq!(pattern.matches(&origin), expected, "{} vs {}", pattern, origin);
        }

        #[test]
        fn a_scheme_wildcard_never_matches_another_scheme(
            scheme in "[a-z][a-z0-9+.-]{0,8}",
            (other_scheme, host, port) in (prop_oneof![select(SCHEMES).prop_map(str::to_owned), "[a-z][a-z0-9+.-]{0,8}"], host(), port()),
        ) {
            let Ok(pattern) = OriginPattern::parse(&format!("{scheme}://*")) else {
                prop_assert!(matches!(scheme.as_str(), "http" | "https" | "ws" | "wss"));
                return Ok(());
            };
            let origin = origin_text(&other_scheme, &host, port, false);
            prop_assert_eq!(pattern.matches(&origin), other_scheme == scheme, "{} vs {}", pattern, origin);
        }
    }
}

mod redaction {
    use super::*;
    use otto_core::redact_pii;
    use otto_core::webhooks::redact_body;

    /// An E.164 number: `+`, then 8 to 15 digits, the first not 0.
    fn phone() -> impl Strategy<Value = String> {
        ("[1-9]", "[0-9]{7,14}").prop_map(|(first, rest)| format!("+{first}{rest}"))
    }

    fn email() -> impl Strategy<Value = String> {
        (
            "[a-zA-Z0-9._+-]{1,16}",
            vec("[a-z0-9-]{1,8}", 1..3),
            "[a-z]{2,6}",
        )
            .prop_map(|(local, labels, tld)| format!("{local}@{}.{tld}", labels.join(".")))
    }

    /// What personal data can be: a phone number, also URL-encoded, or an address.
    fn pii() -> impl Strategy<Value = (String, Vec<String>)> {
        prop_oneof![
            phone().prop_map(|number| {
                let digits = number.trim_start_matches('+').to_owned();
                (number, vec![digits])
            }),
            phone().prop_map(|number| {
                let digits = number.trim_start_matches('+').to_owned();
                (format!("%2B{digits}"), vec![digits])
            }),
            email().prop_map(|address| (address.clone(), vec![address])),
        ]
    }

    fn leaked<'a>(output: &str, secrets: &'a [String]) -> Option<&'a String> {
        let lower = output.to_ascii_lowercase();
        secrets
            .iter()
            .find(|secret| lower.contains(&secret.to_ascii_lowercase()))
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_redaction_and_redaction_is_idempotent(raw in text()) {
            let once = redact_pii(&raw).into_owned();
            prop_assert_eq!(redact_pii(&once).into_owned(), once);
        }

        #[test]
        fn redacted_text_never_contains_the_phone_number_or_email_it_held(
            before in text(),
            (pii, secrets) in pii(),
            after in text(),
        ) {
            let redacted = redact_pii(&format!("{before} {pii} {after}")).into_owned();
            prop_assert!(leaked(&redacted, &secrets).is_none(), "{:?}", redacted);
        }

        #[test]
        fn redacted_json_bodies_never_contain_the_phone_number_or_email_they_held(
            keys in vec(select(vec!["From", "to", "customer_name", "notes", "id", "data", "x"]), 1..4),
            other_fields in vec(("[a-z_]{1,10}", text()), 0..6),
            (before, after) in (text(), text()),
            (pii, secrets) in pii(),
            in_array in any::<bool>(),
        ) {
            let mut value = Value::String(format!("{before} {pii} {after}"));
            if in_array {
                value = Value::Array(vec![Value::Null, value]);
            }
            for key in keys.iter().rev() {
                let mut object: Map<String, Value> = other_fields
                    .iter()
                    .map(|(name, text)| (name.clone(), Value::String(text.clone())))
                    .collect();
                object.insert((*key).to_owned(), value);
                value = Value::Object(object);
            }
            let body = serde_json::to_vec(&value).expect("serialisable");
            let redacted = redact_body(&body, false);
            let output = String::from_utf8(redacted).expect("JSON stays UTF-8");
            prop_assert!(serde_json::from_str::<Value>(&output).is_ok(), "JSON stays JSON: {output}");
            prop_assert!(leaked(&output, &secrets).is_none(), "{}", output);
        }

        #[test]
        fn redacted_form_bodies_never_contain_the_phone_number_or_email_they_held(
            name in select(vec!["From", "To", "Body", "CallerName", "Notes", "AccountSid"]),
            other_fields in vec(("[A-Za-z]{1,10}", text()), 0..6),
            (before, after) in (text(), text()),
            (pii, secrets) in pii(),
        ) {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (other, text) in &other_fields {
                form.append_pair(other, text);
            }
            form.append_pair(name, &format!("{before} {pii} {after}"));
            let redacted = redact_body(form.finish().as_bytes(), true);
            let decoded: String = url::form_urlencoded::parse(&redacted)
                .map(|(name, value)| format!("{name}={value}\n"))
                .collect();
            prop_assert!(leaked(&decoded, &secrets).is_none(), "{}", decoded);
            prop_assert!(leaked(&String::from_utf8_lossy(&redacted), &secrets).is_none());
        }

        #[test]
        fn redacted_unreadable_bodies_never_contain_the_phone_number_or_email_they_held(
            before in bytes(256),
            (pii, secrets) in pii(),
            after in bytes(256).prop_map(|bytes| bytes.into_iter().filter(|b| !b.is_ascii_digit()).collect::<Vec<u8>>()),
        ) {
            let mut body = b"{broken ".to_vec();
            body.extend_from_slice(&before);
            body.push(b' ');
            body.extend_from_slice(pii.as_bytes());
            body.push(b' ');
            body.extend_from_slice(&after);
            let redacted = redact_body(&body, false);
            prop_assert!(leaked(&String::from_utf8_lossy(&redacted), &secrets).is_none());
        }

        #[test]
        fn arbitrary_bytes_never_panic_body_redaction_and_json_stays_json(
            body in bytes(2048),
            is_form in any::<bool>(),
        ) {
            let redacted = redact_body(&body, is_form);
            if !is_form && let Ok(original) = serde_json::from_slice::<Value>(&body) {
                let redacted: Value = serde_json::from_slice(&redacted).expect("JSON stays JSON");
                if let (Value::Object(original), Value::Object(redacted)) = (&original, &redacted) {
                    prop_assert!(original.keys().eq(redacted.keys()), "fields are kept");
                }
            }
        }
    }

    #[test]
    fn a_number_followed_by_another_digit_group_is_still_redacted() {
        // The international pattern takes up to five digit groups and then checks the
        // digit count; a number followed by a separated group (a timestamp, an id)
        // must not push the whole match over the count and leave the number in place.
        for text in [
            "call from +15551234567 1732500000",
            "From=+15551234567 12345678",
            "+442079460958.123456789",
        ] {
            let redacted = redact_pii(text);
            assert!(
                !redacted.contains("5551234567") && !redacted.contains("2079460958"),
                "{text} -> {redacted}"
            );
        }
    }
}

mod cursors {
    use super::*;
    use otto_core::calls::CallCursor;
    use otto_core::messages::{ConversationCursor, MessageCursor};
    use otto_core::ports::DeliveryCursor;
    use uuid::Uuid;

    fn cursor_text() -> impl Strategy<Value = String> {
        prop_oneof![
            text(),
            "[+-]?[0-9]{0,22}\\.[0-9a-fA-F-]{0,40}",
            ("[+-]?[0-9]{1,20}", any::<u128>(), 0u8..4).prop_map(|(micros, id, form)| {
                let id = Uuid::from_u128(id);
                let id = match form {
                    0 => id.simple().to_string(),
                    1 => id.hyphenated().to_string(),
                    2 => id.braced().to_string(),
                    _ => id.urn().to_string(),
                };
                format!("{micros}.{id}")
            }),
        ]
    }

    /// Any instant chrono can represent (a narrower range than `i64` microseconds).
    fn instant() -> impl Strategy<Value = chrono::DateTime<chrono::Utc>> {
        any::<i64>().prop_filter_map("chrono's range", chrono::DateTime::from_timestamp_micros)
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_the_cursor_decoders_and_decoded_cursors_re_encode(
            raw in cursor_text(),
        ) {
            if let Some(cursor) = CallCursor::decode(&raw) {
                prop_assert_eq!(CallCursor::decode(&cursor.encode()), Some(cursor));
            }
            if let Some(cursor) = DeliveryCursor::decode(&raw) {
                prop_assert_eq!(DeliveryCursor::decode(&cursor.encode()), Some(cursor));
            }
            if let Some(cursor) = MessageCursor::decode(&raw) {
                prop_assert_eq!(MessageCursor::decode(&cursor.encode()), Some(cursor));
            }
            if let Some(cursor) = ConversationCursor::decode(&raw) {
                prop_assert!(!cursor.customer_number.is_empty());
                prop_assert_eq!(ConversationCursor::decode(&cursor.encode()), Some(cursor));
            }
        }

        #[test]
        fn every_cursor_of_a_storable_time_round_trips_and_no_other_decodes(
            at in instant(),
            id in any::<u128>().prop_map(Uuid::from_u128),
            number in text().prop_filter("a conversation has a number", |number| !number.is_empty()),
        ) {
            // A cursor names a stored row: years 1-9999, a number without NUL. Any
            // other text is a client's invention and decodes to nothing.
            let storable = otto_core::validation::is_storable_time(&at);
            let expected = |cursor| storable.then_some(cursor);
            let call = CallCursor { started_at: at, id };
            prop_assert_eq!(CallCursor::decode(&call.encode()), expected(call));
            let message = MessageCursor { sent_at: at, id };
            prop_assert_eq!(MessageCursor::decode(&message.encode()), storable.then_some(message));
            let conversation = ConversationCursor { last_message_at: at, customer_number: number.clone() };
            prop_assert_eq!(
                ConversationCursor::decode(&conversation.encode()),
                (storable && !number.contains('\0')).then_some(conversation.clone())
            );
        }
    }
}

mod call_search {
    use super::*;
    use otto_core::calls::{Call, CallOutcome, CallSearch, Direction};
    use otto_core::tenancy::TenantId;

    fn call(name: Option<String>, number: Option<String>) -> Call {
        Call {
            id: uuid::Uuid::nil(),
            tenant_id: TenantId::parse("org_a").expect("valid"),
            provider: "callrail".into(),
            external_id: "CAL1".into(),
            direction: Direction::Inbound,
            customer_name: name,
            customer_number: number,
            answered: true,
            duration_seconds: 0,
            started_at: received(),
            outcome: CallOutcome::default(),
        }
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_the_call_search_parser(
            raw in prop_oneof![text(), "[0-9 +().-]{0,20}"],
            name in proptest::option::of(text()),
            number in proptest::option::of(text()),
        ) {
            let search = CallSearch::parse(&raw);
            prop_assert_eq!(search.is_none(), raw.trim().is_empty());
            if let Some(CallSearch::Number(digits)) = &search {
                prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
            }
            if let Some(search) = search {
                let _ = search.matches(&call(name, number));
            }
        }

        #[test]
        fn a_call_is_found_by_the_text_that_describes_it(
            raw in prop_oneof![text(), "[0-9 +().-]{1,20}"],
        ) {
            let Some(search) = CallSearch::parse(&raw) else {
                return Ok(());
            };
            let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
            let described = call(Some(raw.trim().to_owned()), Some(format!("+{digits}")));
            prop_assert!(search.matches(&described), "{:?} misses {:?}", search, described);
        }
    }
}

mod schedules {
    use super::*;
    use chrono::{DateTime, Duration, NaiveTime, Utc};
    use otto_core::jobs::DailySchedule;
    use otto_core::quiet_hours::QuietHours;

    fn clock_text() -> impl Strategy<Value = String> {
        prop_oneof![
            text(),
            "[0-9]{1,3}:[0-9]{1,3}",
            (0u32..24, 0u32..60).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
        ]
    }

    fn zone_name() -> impl Strategy<Value = String> {
        prop_oneof![
            3 => select(chrono_tz::TZ_VARIANTS.to_vec()).prop_map(|zone| zone.name().to_owned()),
            1 => text(),
        ]
    }

    /// 1970 to 2100: the clock's plausible range.
    fn instant() -> impl Strategy<Value = DateTime<Utc>> {
        (0i64..4_102_444_800).prop_map(|secs| DateTime::from_timestamp(secs, 0).expect("in range"))
    }

    fn hh_mm() -> impl Strategy<Value = NaiveTime> {
        (0u32..24, 0u32..60).prop_map(|(h, m)| NaiveTime::from_hms_opt(h, m, 0).expect("valid"))
    }

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_the_quiet_hours_parser(
            start in clock_text(),
            end in clock_text(),
            zone in zone_name(),
        ) {
            match QuietHours::parse(&start, &end, &zone) {
                Ok(quiet) => {
                    // chrono reads `7:5` as 07:05: the canonical form must read the same.
                    prop_assert_ne!(quiet.start, quiet.end);
                    let again = QuietHours::parse(
                        &QuietHours::format(quiet.start),
                        &QuietHours::format(quiet.end),
                        quiet.zone_name(),
                    );
                    prop_assert_eq!(again, Ok(quiet));
                }
                Err(fields) => {
                    prop_assert!(!fields.is_empty());
                    for field in fields {
                        prop_assert!(field.field.starts_with("quiet_hours."), "{:?}", field);
                    }
                }
            }
        }

        #[test]
        fn quiet_hours_resume_soon_after_any_instant_in_any_zone(
            (start, end) in (hh_mm(), hh_mm()),
            zone in select(chrono_tz::TZ_VARIANTS.to_vec()),
            now in instant(),
        ) {
            let Ok(quiet) = QuietHours::parse(
                &QuietHours::format(start),
                &QuietHours::format(end),
                zone.name(),
            ) else {
                prop_assert_eq!(start, end);
                return Ok(());
            };
            // Loose bounds: a zone that skipped a whole day (Pacific/Apia, 2011) has
            // no local time to resume at and falls back to reading it as UTC.
            if let Some(resume) = quiet.resume_at(now) {
                prop_assert!(resume >= now - Duration::days(1), "{resume} for {now}");
                prop_assert!(resume <= now + Duration::days(3), "{resume} for {now}");
            }
        }

        #[test]
        fn arbitrary_text_never_panics_the_daily_schedule_parser(
            raw in clock_text(),
            now in instant(),
        ) {
            if let Ok(schedule) = DailySchedule::parse(&raw) {
                prop_assert_eq!(DailySchedule::parse(&QuietHours::format(schedule.time())), Ok(schedule));
                let latest = schedule.latest_slot(now);
                let next = schedule.next_slot(now);
                prop_assert!(latest <= now && now < next, "{latest} {now} {next}");
                prop_assert_eq!(next - latest, Duration::days(1));
            }
        }
    }
}

mod identifiers {
    use super::*;
    use otto_core::jobs::JobKind;
    use otto_core::ports::DeliveryOutcome;
    use otto_core::roles::{AppRole, RoleMap};
    use otto_core::tenancy::{Role, TenantId, UserId};
    use otto_core::webhooks::{AccountRef, Provider, signing_key};

    proptest! {
        #![proptest_config(cases(256))]

        #[test]
        fn arbitrary_text_never_panics_the_identifier_parsers(
            raw in prop_oneof![text(), "[A-Za-z0-9_:-]{0,140}", "(org:)?[a-z_]{0,10}"],
            other in text(),
        ) {
            if let Ok(tenant) = TenantId::parse(&raw) {
                prop_assert_eq!(tenant.as_str(), raw.as_str());
            }
            if let Ok(user) = UserId::parse(&raw) {
                prop_assert_eq!(user.as_str(), raw.as_str());
            }
            if let Ok(role) = Role::parse(&raw) {
                prop_assert_eq!(Role::parse(role.as_str()), Ok(role));
            }
            if let Ok(account) = AccountRef::parse(&raw, &other) {
                prop_assert_ne!(account.provider, Provider::Clerk);
                prop_assert_eq!(account.account_id.as_str(), other.trim());
            }
            if let Ok(key) = signing_key(&raw) {
                prop_assert_eq!(key, raw.clone());
            }
            let _ = RoleMap::parse(&raw);
            let _ = (
                AppRole::parse(&raw),
                Provider::parse(&raw),
                WebhookEvent::parse(&raw, &other),
                DeliveryOutcome::parse(&raw),
                JobKind::parse(&raw),
                otto_core::calls::Direction::parse(&raw),
            );
        }

        #[test]
        fn arbitrary_role_maps_never_panic_and_always_answer_a_role(
            raw in prop_oneof![
                text(),
                vec(("[*a-z:_ -]{0,10}", "[a-zA-Z ]{0,12}"), 0..5).prop_map(|pairs| {
                    pairs.iter().map(|(from, to)| format!("{from}={to}")).collect::<Vec<_>>().join(",")
                }),
            ],
            role in "[a-z_]{1,10}",
        ) {
            if let Ok(map) = RoleMap::parse(&raw) {
                let _ = map.role_of(&Role::parse(&role).expect("valid role"));
            }
        }
    }
}
