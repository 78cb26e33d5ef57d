//! The in-memory [`MessageLog`] and [`DashboardQueries`], and how the fake keeps
//! messages and recordings (shared by the webhook ledger and the follow-up store).

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::calls::{Direction, MAX_PAGE_SIZE, Page};
use otto_core::dashboard::DashboardSummary;
use otto_core::messages::{Conversation, ConversationCursor, Message, MessageCursor};
use otto_core::ports::{DashboardQueries, MessageLog, Recording, StoreError};
use otto_core::tenancy::{TenantId, TenantScope};
use otto_core::webhooks::{MessageFacts, Provider};
use uuid::Uuid;

use crate::InMemoryStore;

/// A message as the fake keeps it.
#[derive(Debug, Clone)]
pub(crate) struct StoredMessage {
    pub(crate) id: Uuid,
    pub(crate) tenant: TenantId,
    pub(crate) provider: Provider,
    pub(crate) call_id: Option<Uuid>,
    pub(crate) facts: MessageFacts,
}

impl StoredMessage {
    fn message(&self) -> Message {
        Message {
            id: self.id,
            call_id: self.call_id,
            provider: self.provider.as_str().to_owned(),
            direction: self.facts.direction,
            customer_number: self.facts.customer_number.clone(),
            body: self.facts.body.clone(),
            sent_at: self.facts.sent_at,
        }
    }
}

/// A recording as the fake keeps it; `order` is its insertion position (latest wins).
#[derive(Debug, Clone)]
pub(crate) struct StoredRecording {
    pub(crate) call_id: Uuid,
    pub(crate) recording: Recording,
    pub(crate) order: usize,
}

/// Keeps `facts` unless the tenant has the provider's message already (as the SQL
/// unique index does).
pub(crate) fn keep_message(
    messages: &mut Vec<StoredMessage>,
    id: Uuid,
    tenant: &TenantId,
    provider: Provider,
    facts: MessageFacts,
    call_id: Option<Uuid>,
) -> bool {
    let known = messages.iter().any(|stored| {
        stored.tenant == *tenant
            && stored.provider == provider
            && stored.facts.external_id == facts.external_id
    });
    if !known {
        messages.push(StoredMessage {
            id,
            tenant: tenant.clone(),
            provider,
            call_id,
            facts,
        });
    }
    !known
}

fn page_of<T, C>(mut items: Vec<T>, limit: u32, after: impl Fn(&T) -> C) -> Page<T, C> {
    let limit = limit.clamp(1, MAX_PAGE_SIZE) as usize;
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next = if has_more {
        items.last().map(after)
    } else {
        None
    };
    Page { items, next }
}

fn in_range(time: DateTime<Utc>, from: DateTime<Utc>, to: DateTime<Utc>) -> bool {
    from <= time && time < to
}

#[async_trait]
impl MessageLog for InMemoryStore {
    async fn conversations(
        &self,
        scope: &TenantScope,
        cursor: Option<ConversationCursor>,
        limit: u32,
    ) -> Result<Page<Conversation, ConversationCursor>, StoreError> {
        let tables = self.tables();
        let mut latest: BTreeMap<&str, (Message, u64)> = BTreeMap::new();
        for stored in tables
            .webhooks
            .messages
            .iter()
            .filter(|stored| stored.tenant == *scope.tenant_id())
        {
            let message = stored.message();
            let entry = latest
                .entry(stored.facts.customer_number.as_str())
                .or_insert_with(|| (message.clone(), 0));
            entry.1 += 1;
            if (message.sent_at, message.id) > (entry.0.sent_at, entry.0.id) {
                entry.0 = message;
            }
        }
        let mut conversations: Vec<Conversation> = latest
            .into_iter()
            .map(|(number, (last, count))| Conversation {
                customer_number: number.to_owned(),
                last_message_at: last.sent_at,
                last_body: last.body,
                last_direction: last.direction,
                message_count: count,
            })
            .filter(|conversation| {
                cursor.as_ref().is_none_or(|cursor| {
                    (
                        conversation.last_message_at,
                        conversation.customer_number.as_str(),
                    ) < (cursor.last_message_at, cursor.customer_number.as_str())
                })
            })
            .collect();
        conversations.sort_by(|a, b| {
            (b.last_message_at, &b.customer_number).cmp(&(a.last_message_at, &a.customer_number))
        });
        Ok(page_of(conversations, limit, ConversationCursor::after))
    }

    async fn messages_with(
        &self,
        scope: &TenantScope,
        customer_number: &str,
        cursor: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Page<Message, MessageCursor>, StoreError> {
        let mut messages: Vec<Message> = self
            .tables()
            .webhooks
            .messages
            .iter()
            .filter(|stored| {
                stored.tenant == *scope.tenant_id()
                    && stored.facts.customer_number == customer_number
            })
            .map(StoredMessage::message)
            .filter(|message| {
                cursor.is_none_or(|cursor| {
                    (message.sent_at, message.id) < (cursor.sent_at, cursor.id)
                })
            })
            .collect();
        messages.sort_by_key(|message| std::cmp::Reverse((message.sent_at, message.id)));
        Ok(page_of(messages, limit, MessageCursor::after))
    }
}

#[async_trait]
impl DashboardQueries for InMemoryStore {
    async fn summary(
        &self,
        scope: &TenantScope,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<DashboardSummary, StoreError> {
        let tables = self.tables();
        let tenant = scope.tenant_id();
        let calls: Vec<_> = tables
            .calls
            .iter()
            .filter(|call| call.tenant_id == *tenant && in_range(call.started_at, from, to))
            .collect();
        let missed: Vec<_> = calls
            .iter()
            .filter(|call| call.direction == Direction::Inbound && !call.answered)
            .collect();
        Ok(DashboardSummary {
            calls: calls.len() as u64,
            missed: missed.len() as u64,
            recovered_by_sms: missed
                .iter()
                .filter(|call| tables.follow_ups.texted(tenant, call.id))
                .count() as u64,
            booked: calls
                .iter()
                .filter(|call| call.outcome.booked == Some(true))
                .count() as u64,
            messages: tables
                .webhooks
                .messages
                .iter()
                .filter(|stored| {
                    stored.tenant == *tenant && in_range(stored.facts.sent_at, from, to)
                })
                .count() as u64,
        })
    }
}
