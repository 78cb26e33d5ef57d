//! [`MessageLog`] over SQL: conversations are grouped by customer number in the
//! database (one aggregate query per page), never assembled in memory.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use otto_core::calls::{Direction, MAX_PAGE_SIZE, Page};
use otto_core::messages::{Conversation, ConversationCursor, Message, MessageCursor};
use otto_core::ports::{MessageLog, StoreError};
use otto_core::tenancy::TenantScope;
use sea_orm::{QueryResult, Value};

use super::sql::column;
use super::{SqlStore, stored_time};

fn direction(row: &QueryResult, name: &str) -> Result<Direction, StoreError> {
    let stored: String = column(row, name)?;
    Direction::parse(&stored)
        .ok_or_else(|| StoreError::Internal(format!("unknown message direction `{stored}`")))
}

fn count(row: &QueryResult, name: &str) -> Result<u64, StoreError> {
    Ok(u64::try_from(column::<i64>(row, name)?).unwrap_or(0))
}

/// Splits `rows` (one more than `limit` asked for) into a page.
fn page_of<T, C>(mut items: Vec<T>, limit: usize, cursor_after: impl Fn(&T) -> C) -> Page<T, C> {
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next = if has_more {
        items.last().map(cursor_after)
    } else {
        None
    };
    Page { items, next }
}

fn page_size(limit: u32) -> usize {
    limit.clamp(1, MAX_PAGE_SIZE) as usize
}

/// The statement of one page of `tenant`'s conversations after `cursor` (one row more
/// than `limit`, to know whether another page follows).
pub(super) fn conversations_query(
    tenant: &str,
    cursor: Option<ConversationCursor>,
    limit: usize,
) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = vec![tenant.into()];
    let after = match cursor {
        Some(cursor) => {
            values.push(stored_time(cursor.last_message_at).into());
            values.push(cursor.customer_number.into());
            "HAVING MAX(m.sent_at) < $2 OR (MAX(m.sent_at) = $2 AND m.customer_number < $3)"
        }
        None => "",
    };
    values.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    let limit_parameter = values.len();
    // The latest message of each conversation comes from a correlated subquery on
    // the (tenant, customer, sent_at) index; ties on the time go to the higher id.
    let statement = format!(
        "SELECT m.customer_number, MAX(m.sent_at) AS last_message_at, \
             COUNT(*) AS message_count, \
             (SELECT l.body FROM messages l WHERE l.tenant_id = m.tenant_id \
              AND l.customer_number = m.customer_number ORDER BY l.sent_at DESC, l.id DESC \
              LIMIT 1) AS last_body, \
             (SELECT l.direction FROM messages l WHERE l.tenant_id = m.tenant_id \
              AND l.customer_number = m.customer_number ORDER BY l.sent_at DESC, l.id DESC \
              LIMIT 1) AS last_direction \
             FROM messages m WHERE m.tenant_id = $1 \
             GROUP BY m.tenant_id, m.customer_number {after} \
             ORDER BY last_message_at DESC, m.customer_number DESC LIMIT ${limit_parameter}"
    );
    (statement, values)
}

/// The statement of one page of `tenant`'s messages with `customer_number` after
/// `cursor`, newest first (one row more than `limit`).
pub(super) fn thread_query(
    tenant: &str,
    customer_number: &str,
    cursor: Option<MessageCursor>,
    limit: usize,
) -> (String, Vec<Value>) {
    let mut values: Vec<Value> = vec![tenant.into(), customer_number.to_owned().into()];
    let after = match cursor {
        Some(cursor) => {
            values.push(stored_time(cursor.sent_at).into());
            values.push(cursor.id.into());
            // A row comparison, which seeks the thread's index (see calls.rs).
            "AND (sent_at, id) < ($3, $4)"
        }
        None => "",
    };
    values.push(i64::try_from(limit + 1).unwrap_or(i64::MAX).into());
    let limit_parameter = values.len();
    let statement = format!(
        "SELECT id, call_id, provider, direction, customer_number, body, sent_at \
             FROM messages WHERE tenant_id = $1 AND customer_number = $2 {after} \
             ORDER BY sent_at DESC, id DESC LIMIT ${limit_parameter}"
    );
    (statement, values)
}

#[async_trait]
impl MessageLog for SqlStore {
    async fn conversations(
        &self,
        scope: &TenantScope,
        cursor: Option<ConversationCursor>,
        limit: u32,
    ) -> Result<Page<Conversation, ConversationCursor>, StoreError> {
        let limit = page_size(limit);
        let (statement, values) = conversations_query(scope.tenant_id().as_str(), cursor, limit);
        let rows = self.scoped_query(scope, &statement, values).await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(Conversation {
                    customer_number: column(row, "customer_number")?,
                    last_message_at: column::<DateTime<Utc>>(row, "last_message_at")?,
                    last_body: column(row, "last_body")?,
                    last_direction: direction(row, "last_direction")?,
                    message_count: count(row, "message_count")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(page_of(items, limit, ConversationCursor::after))
    }

    async fn messages_with(
        &self,
        scope: &TenantScope,
        customer_number: &str,
        cursor: Option<MessageCursor>,
        limit: u32,
    ) -> Result<Page<Message, MessageCursor>, StoreError> {
        let limit = page_size(limit);
        let (statement, values) =
            thread_query(scope.tenant_id().as_str(), customer_number, cursor, limit);
        let rows = self.scoped_query(scope, &statement, values).await?;
        let items = rows
            .iter()
            .map(|row| {
                Ok(Message {
                    id: column(row, "id")?,
                    call_id: column(row, "call_id")?,
                    provider: column(row, "provider")?,
                    direction: direction(row, "direction")?,
                    customer_number: column(row, "customer_number")?,
                    body: column(row, "body")?,
                    sent_at: column(row, "sent_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(page_of(items, limit, MessageCursor::after))
    }
}
