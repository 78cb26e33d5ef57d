//! The contract of [`SmsSender`].

use chrono::{DateTime, Utc};
use otto_core::ports::{SmsRequest, SmsSender};

/// A sent message gets a provider id and is then found by the same request since a
/// moment before it was sent; a different text, number or a later `since` finds
/// nothing. `now` is the sender's current time.
pub async fn sms_sender_contract(sender: &dyn SmsSender, now: DateTime<Utc>) {
    let request = SmsRequest {
        to: "+15551230000".into(),
        from: "+15550009999".into(),
        body: "Sorry we missed your call".into(),
    };
    let before = now - chrono::Duration::minutes(5);
    assert_eq!(
        sender.find_sent(&request, before).await.expect("looks up"),
        None,
        "nothing before the send"
    );
    let sent = sender.send(&request).await.expect("sends");
    assert!(!sent.provider_message_id.is_empty(), "a provider id");
    assert_eq!(
        sender.find_sent(&request, before).await.expect("looks up"),
        Some(sent.clone()),
        "the message is found by what was sent"
    );
    for other in [
        SmsRequest {
            body: "another text".into(),
            ..request.clone()
        },
        SmsRequest {
            to: "+15551239999".into(),
            ..request.clone()
        },
    ] {
        assert_eq!(
            sender.find_sent(&other, before).await.expect("looks up"),
            None,
            "{other:?}"
        );
    }
    let second = sender.send(&request).await.expect("sends again");
    assert_ne!(
        second.provider_message_id, sent.provider_message_id,
        "each send is a new message"
    );
}
