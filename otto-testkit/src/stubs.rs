//! Stateful stubs of provider APIs for wiremock, for adapter and end-to-end tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::{Request, Respond, ResponseTemplate};

/// Twilio's Messages resource: each POSTed message is kept (and answered after an
/// optional delay, to lose the answer to a client timeout), and GET lists those to
/// the asked `To` and `From`. Clones share the messages.
#[derive(Debug, Clone, Default)]
pub struct TwilioMessagesStub {
    sent: Arc<Mutex<Vec<Value>>>,
    delay: Duration,
}

impl TwilioMessagesStub {
    /// A stub answering each POST after `delay`.
    pub fn answering_after(delay: Duration) -> Self {
        TwilioMessagesStub {
            sent: Arc::default(),
            delay,
        }
    }

    /// Every message accepted: `sid`, `to`, `from`, `body`, `date_created`.
    pub fn sent(&self) -> Vec<Value> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Respond for TwilioMessagesStub {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if request.method == wiremock::http::Method::POST {
            let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
                .into_owned()
                .collect();
            let message = json!({
                "sid": format!("SM{:032}", sent.len() + 1),
                "to": form.get("To"),
                "from": form.get("From"),
                "body": form.get("Body"),
                "date_created": chrono::Utc::now().to_rfc2822(),
            });
            sent.push(message.clone());
            return ResponseTemplate::new(201)
                .set_body_json(message)
                .set_delay(self.delay);
        }
        let query: HashMap<String, String> = request.url.query_pairs().into_owned().collect();
        let matching: Vec<&Value> = sent
            .iter()
            .filter(|message| {
                message["to"].as_str() == query.get("To").map(String::as_str)
                    && message["from"].as_str() == query.get("From").map(String::as_str)
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({ "messages": matching }))
    }
}
