//! Request payloads that keep the body's exact bytes: webhook signatures are over
//! the bytes the provider sent, never over a re-serialisation.
//!
//! They accept any media type so that the ingestion service can answer a wrong one
//! with a precise 415 problem; the OpenAPI document shows the media type each
//! provider sends.

use poem::{Request, RequestBody, Result};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use std::collections::BTreeMap;

/// A body with its `Content-Type`.
#[derive(Debug, Clone)]
pub struct RawBody {
    /// The request's `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The body as received.
    pub bytes: Vec<u8>,
}

async fn read(request: &Request, body: &mut RequestBody) -> Result<RawBody> {
    Ok(RawBody {
        content_type: request.header("content-type").map(str::to_owned),
        bytes: body.take()?.into_vec().await?,
    })
}

macro_rules! raw_payload {
    ($(#[$doc:meta])* $name:ident, $content_type:literal, $schema:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub RawBody);

        impl Payload for $name {
            const CONTENT_TYPE: &'static str = $content_type;

            fn check_content_type(_content_type: &str) -> bool {
                true
            }

            fn schema_ref() -> MetaSchemaRef {
                <$schema>::schema_ref()
            }

            fn register(registry: &mut Registry) {
                <$schema>::register(registry);
            }
        }

        impl ParsePayload for $name {
            const IS_REQUIRED: bool = true;

            async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
                read(request, body).await.map($name)
            }
        }
    };
}

raw_payload!(
    /// A JSON delivery (CallRail, Clerk, Bland AI), as the provider sent it.
    JsonDelivery,
    "application/json",
    serde_json::Value
);

raw_payload!(
    /// A form delivery (Twilio), as the provider sent it.
    FormDelivery,
    "application/x-www-form-urlencoded",
    BTreeMap<String, String>
);

poem_openapi::impl_apirequest_for_payload!(JsonDelivery,);
poem_openapi::impl_apirequest_for_payload!(FormDelivery,);
