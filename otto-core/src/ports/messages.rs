//! Where text messages are read from.

use async_trait::async_trait;

use super::StoreError;
use crate::calls::Page;
use crate::messages::{Conversation, ConversationCursor, Message, MessageCursor};
use crate::tenancy::TenantScope;

/// A tenant's text messages, grouped by customer number.
///
/// Adapter: `otto_adapters::store::SqlStore`. Fake: `otto_testkit::InMemoryStore`.
///
/// ```
/// use otto_core::ports::MessageLog;
/// use otto_core::tenancy::{TenantId, TenantScope};
/// use otto_testkit::InMemoryStore;
///
/// # use otto_core::ports::{Application, IdempotencyKey, Target, WebhookLedger};
/// # use otto_core::webhooks::{Effect, MessageFacts, Provider};
/// # // An inbound text as a Twilio delivery stores it, through the webhook ledger.
/// # async fn receive_text(
/// #     store: &InMemoryStore,
/// #     scope: &TenantScope,
/// #     (sid, number, time, body): (&str, &str, &str, &str),
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// #     let sent_at = format!("2026-12-06T{time}:00Z").parse()?;
/// #     let facts = MessageFacts {
/// #         external_id: sid.into(),
/// #         direction: otto_core::calls::Direction::Inbound,
/// #         customer_number: number.into(),
/// #         body: body.into(),
/// #         sent_at,
/// #     };
/// #     let key = IdempotencyKey {
/// #         tenant: Some(scope.tenant_id().clone()),
/// #         provider: Provider::Twilio,
/// #         event: "sms".into(),
/// #         external_id: sid.into(),
/// #     };
/// #     let target = Target::Tenant(scope.clone());
/// #     let effects = [Effect::StoreMessage(facts)];
/// #     let delivery = Application {
/// #         target: &target,
/// #         key: &key,
/// #         body_digest: sid,
/// #         effects: &effects,
/// #         jobs: &[],
/// #         at: sent_at,
/// #         log: None,
/// #     };
/// #     store.apply(&delivery).await?;
/// #     Ok(())
/// # }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = InMemoryStore::default();
/// let acme = TenantScope::for_job(TenantId::parse("org_acme")?);
/// // Texts arrive as Twilio deliveries, applied through the webhook ledger.
/// for text in [
///     ("SM1", "+15551230000", "10:00", "Is anyone there?"),
///     ("SM2", "+15559870000", "10:05", "Do you fix boilers?"),
///     ("SM3", "+15551230000", "10:09", "Please call me back"),
/// ] {
///     receive_text(&store, &acme, text).await?;
/// }
/// // One conversation per customer number, the latest message first.
/// let page = store.conversations(&acme, None, 10).await?;
/// let latest: Vec<_> = page.items.iter().map(|c| c.last_body.as_str()).collect();
/// assert_eq!(latest, ["Please call me back", "Do you fix boilers?"]);
/// assert_eq!(page.items[0].message_count, 2);
/// // A conversation's messages, newest first.
/// let thread = store.messages_with(&acme, "+15551230000", None, 10).await?;
/// let bodies: Vec<_> = thread.items.iter().map(|m| m.body.as_str()).collect();
/// assert_eq!(bodies, ["Please call me back", "Is anyone there?"]);
/// # Ok(())
/// # }
/// ```
#[async_trait]
pub trait MessageLog: Send + Sync {
    /// The scope's conversations, latest message first, `limit` per page, after
    /// `cursor`.
    async fn conversations(
        &self,
        scope: &TenantScope,
        cursor: Option<ConversationCursor>,
        limit: u32,
    ) -> Result<Page<Conversation, ConversationCursor>, StoreError>;

    /// The messages with `customer_number`, newest first, `limit` per page, after
    /// `cursor`.
    async fn messages_with(
        &self,
        scope: &TenantScope,
        customer_number: &str,
        cursor: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Page<Message, MessageCursor>, StoreError>;
}
