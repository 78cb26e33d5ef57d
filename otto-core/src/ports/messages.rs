//! Where text messages are read from.

use async_trait::async_trait;

use super::StoreError;
use crate::calls::Page;
use crate::messages::{Conversation, ConversationCursor, Message, MessageCursor};
use crate::tenancy::TenantScope;

/// A tenant's text messages, grouped by customer number.
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
