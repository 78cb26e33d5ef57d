//! One JSON object per log line: `ts`, `level`, `service`, `message`, `trace_id`, and
//! the fields of the event and of every span it happens in (`route`, `method`,
//! `status`, `latency_ms`, `tenant_id`, ...). Every string is PII-redacted when
//! OBS_REDACT_PII is on.

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Which process kind writes the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// The HTTP server.
    Api,
    /// The background worker.
    Worker,
}

impl Service {
    /// The `service` field's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::Api => "api",
            Service::Worker => "worker",
        }
    }
}

/// The layer; see the module docs.
#[derive(Debug)]
pub struct JsonLogLayer<W> {
    service: Service,
    redact_pii: bool,
    writer: W,
}

impl<W> JsonLogLayer<W> {
    /// A layer writing lines to `writer`.
    pub fn new(service: Service, redact_pii: bool, writer: W) -> Self {
        JsonLogLayer {
            service,
            redact_pii,
            writer,
        }
    }
}

/// Fields recorded on a span, kept in its extensions.
#[derive(Debug, Default)]
struct SpanFields(Map<String, Value>);

struct FieldCollector<'a>(&'a mut Map<String, Value>);

impl FieldCollector<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        // Dotted names are OpenTelemetry's: `otel.*` steers the exporter, and the
        // semantic conventions' attributes (`http.route`, `url.path`, ...) are for
        // tracing backends; a log line says the same with its own fields.
        if !field.name().contains('.') {
            self.0.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for FieldCollector<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(
            field,
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::from(format!("{value:?}")));
    }
}

fn redact_strings(value: &mut Value) {
    match value {
        Value::String(text) => {
            if let std::borrow::Cow::Owned(redacted) = otto_core::redact_pii(text) {
                *text = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_strings),
        Value::Object(map) => map.values_mut().for_each(redact_strings),
        _ => {}
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    W: for<'writer> MakeWriter<'writer> + 'static,
{
    fn on_new_span(&self, attributes: &Attributes<'_>, id: &Id, context: Context<'_, S>) {
        let Some(span) = context.span(id) else { return };
        let mut fields = SpanFields::default();
        attributes.record(&mut FieldCollector(&mut fields.0));
        span.extensions_mut().insert(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, context: Context<'_, S>) {
        let Some(span) = context.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut FieldCollector(&mut fields.0));
        }
    }

    fn on_event(&self, event: &Event<'_>, context: Context<'_, S>) {
        let mut line = Map::new();
        line.insert(
            "ts".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert("service".into(), Value::from(self.service.as_str()));
        line.insert("message".into(), Value::from(""));
        if let Some(scope) = context.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<SpanFields>() {
                    line.extend(
                        fields
                            .0
                            .iter()
                            .map(|(key, value)| (key.clone(), value.clone())),
                    );
                }
            }
        }
        event.record(&mut FieldCollector(&mut line));
        line.insert("target".into(), Value::from(event.metadata().target()));
        let mut line = Value::Object(line);
        if self.redact_pii {
            redact_strings(&mut line);
        }
        let mut text = line.to_string();
        text.push('\n');
        // A log line that cannot be written has nowhere else to go.
        let _ = self.writer.make_writer().write_all(text.as_bytes());
    }
}

/// A log destination in memory: what tests (and embedders checking their logging)
/// read the JSON lines back from.
#[derive(Debug, Clone, Default)]
pub struct CapturedLines(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl CapturedLines {
    /// Every line written so far, parsed.
    ///
    /// # Panics
    /// When a line is not one JSON object: that is the bug this type exists to catch.
    pub fn lines(&self) -> Vec<Value> {
        let bytes = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|error| panic!("not one JSON object ({error}): {line}"))
            })
            .collect()
    }
}

impl Write for CapturedLines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl MakeWriter<'_> for CapturedLines {
    type Writer = CapturedLines;

    fn make_writer(&self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn capture(redact: bool, emit: impl FnOnce()) -> Vec<Value> {
        let buffer = CapturedLines::default();
        let subscriber = tracing_subscriber::registry().with(JsonLogLayer::new(
            Service::Worker,
            redact,
            buffer.clone(),
        ));
        tracing::subscriber::with_default(subscriber, emit);
        buffer.lines()
    }

    #[test]
    fn lines_carry_the_standard_fields_and_span_context() {
        let lines = capture(true, || {
            let span = tracing::info_span!(
                "job",
                trace_id = "abc-123",
                tenant_id = "org_1",
                otel.kind = "consumer"
            );
            let _entered = span.enter();
            tracing::warn!(provider = "twilio", attempt = 2u64, "sending failed");
        });
        let [line] = lines.as_slice() else {
            panic!("one line expected: {lines:?}")
        };
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["service"], "worker");
        assert_eq!(line["message"], "sending failed");
        assert_eq!(line["trace_id"], "abc-123");
        assert_eq!(line["tenant_id"], "org_1");
        assert_eq!(line["provider"], "twilio");
        assert_eq!(line["attempt"], 2);
        assert!(
            line.get("otel.kind").is_none(),
            "exporter hints are not logged"
        );
        let ts = line["ts"].as_str().expect("ts");
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with('Z'),
            "{ts}"
        );
    }

    #[test]
    fn pii_is_redacted_from_the_message_and_every_string_field() {
        let lines = capture(true, || {
            let span = tracing::info_span!("request", customer = "jane@example.com");
            let _entered = span.enter();
            tracing::info!(
                from = "+15551234567",
                call_id = 766970532u64,
                "sms from +15551234567 at 2026-11-25T10:00:00Z"
            );
        });
        let text = lines[0].to_string();
        assert!(!text.contains("5551234567"), "{text}");
        assert!(!text.contains("jane@example.com"), "{text}");
        assert_eq!(lines[0]["call_id"], 766970532);
        assert_eq!(
            lines[0]["message"],
            "sms from [REDACTED_PHONE] at 2026-11-25T10:00:00Z"
        );
    }

    #[test]
    fn redaction_can_be_switched_off() {
        let lines = capture(false, || tracing::info!(from = "+15551234567", "raw"));
        assert_eq!(lines[0]["from"], "+15551234567");
    }
}
