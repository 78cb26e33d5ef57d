//! Outbound HTTP as OpenTelemetry CLIENT spans: every request to a provider (Twilio,
//! Deepgram, OpenAI, Bland AI, CallRail, Clerk's JWKS) runs in a span named by its
//! method with the HTTP client semantic conventions (`http.request.method`,
//! `server.address`, `server.port`, `url.full` without credentials or query values,
//! `http.response.status_code`, `error.type`), and carries that span's W3C
//! `traceparent`, so a trace runs from the webhook through the job into the provider.

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, Request, Response};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

struct HeaderInjector<'a>(&'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// `url` as `url.full` may show it: no user or password, and query values replaced
/// (an API key passed as a parameter must not reach a tracing backend).
pub fn display_url(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if url.query().is_some() {
        let names: Vec<String> = url
            .query_pairs()
            .map(|(name, _)| name.into_owned())
            .collect();
        let mut query = shown.query_pairs_mut();
        query.clear();
        for name in &names {
            query.append_pair(name, "REDACTED");
        }
    }
    shown.to_string()
}

/// Sends `request` with `client` in a CLIENT span of `provider`.
pub async fn execute(
    client: &Client,
    provider: &'static str,
    mut request: Request,
) -> reqwest::Result<Response> {
    let url = request.url();
    let span = tracing::info_span!(
        "http.client",
        otel.name = %request.method(),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        "http.request.method" = %request.method(),
        "server.address" = url.host_str().unwrap_or_default(),
        "server.port" = i64::from(url.port_or_known_default().unwrap_or_default()),
        "url.full" = %display_url(url),
        "http.response.status_code" = tracing::field::Empty,
        "error.type" = tracing::field::Empty,
        provider,
    );
    TraceContextPropagator::new()
        .inject_context(&span.context(), &mut HeaderInjector(request.headers_mut()));
    let result = client.execute(request).instrument(span.clone()).await;
    match &result {
        Ok(response) => {
            let status = response.status();
            span.record("http.response.status_code", i64::from(status.as_u16()));
            if status.is_client_error() || status.is_server_error() {
                span.record("error.type", status.as_u16().to_string());
                span.record("otel.status_code", "ERROR");
            }
        }
        Err(error) => {
            let kind = if error.is_timeout() {
                "timeout"
            } else if error.is_connect() {
                "connect"
            } else {
                "request"
            };
            span.record("error.type", kind);
            span.record("otel.status_code", "ERROR");
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_credentials_and_query_values() {
        let url = reqwest::Url::parse("https://user:pw@api.example.com/v1/x?key=secret&model=nova")
            .expect("valid");
        assert_eq!(
            display_url(&url),
            "https://api.example.com/v1/x?key=REDACTED&model=REDACTED"
        );
        let plain =
            reqwest::Url::parse("https://api.twilio.com/2010-04-01/Messages.json").expect("valid");
        assert_eq!(
            display_url(&plain),
            "https://api.twilio.com/2010-04-01/Messages.json"
        );
    }
}
