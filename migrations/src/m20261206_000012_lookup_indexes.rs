//! Indexes the tables' growth asked for (measured at a million rows):
//!
//! - `call_id` of messages, recordings, transcripts and analyses: they reference
//!   `calls` with `ON DELETE CASCADE`, and without an index every deleted call scans
//!   each child table (deleting 130,000 calls against 200,000 messages ran for over
//!   ten minutes; a tenant's deletion meets this).
//! - `messages (tenant_id, sent_at)`: the dashboard counts a tenant's messages in a
//!   time range.
//! - `webhook_deliveries (tenant_id, provider, received_at, id)`: the delivery log
//!   filtered by provider, newest first, seeks instead of filtering the tenant's rows.
//!
//! Plain `CREATE INDEX` (sea-orm-migration runs a migration in a transaction, where
//! `CONCURRENTLY` is not allowed): writes to each table wait while its index builds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// (index, table, columns)
const INDEXES: &[(&str, &str, &[&str])] = &[
    ("messages_call_id", "messages", &["call_id"]),
    ("recordings_call_id", "recordings", &["call_id"]),
    ("transcripts_call_id", "transcripts", &["call_id"]),
    ("analyses_call_id", "analyses", &["call_id"]),
    (
        "messages_tenant_sent_at",
        "messages",
        &["tenant_id", "sent_at"],
    ),
    (
        "webhook_deliveries_tenant_provider_newest",
        "webhook_deliveries",
        &["tenant_id", "provider", "received_at", "id"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in INDEXES {
            let mut index = Index::create();
            index.if_not_exists().name(*name).table(Alias::new(*table));
            for column in *columns {
                index.col(Alias::new(*column));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager
                .drop_index(
                    Index::drop()
                        .if_exists()
                        .name(*name)
                        .table(Alias::new(*table))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
