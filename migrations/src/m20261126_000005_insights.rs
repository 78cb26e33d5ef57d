//! What transcription and analysis keep: per recording, the transcript's words,
//! duration and model, and the analysis's structured result and token counts. One
//! of each per recording (unique indexes), so a retried job cannot store a second.

use sea_orm_migration::sea_orm::ConnectionTrait;
use sea_orm_migration::{prelude::*, schema::*};

use crate::add_column;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Transcripts {
    Table,
    RecordingExternalId,
    Provider,
    Words,
    DurationSeconds,
    Model,
}

#[derive(DeriveIden)]
enum Analyses {
    Table,
    RecordingExternalId,
    Provider,
    Result,
    PromptTokens,
    CompletionTokens,
}

/// `(table, column)` pairs this migration adds, for `down`.
const ADDED: [(&str, &str); 10] = [
    ("transcripts", "recording_external_id"),
    ("transcripts", "provider"),
    ("transcripts", "words"),
    ("transcripts", "duration_seconds"),
    ("transcripts", "model"),
    ("analyses", "recording_external_id"),
    ("analyses", "provider"),
    ("analyses", "result"),
    ("analyses", "prompt_tokens"),
    ("analyses", "completion_tokens"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            Transcripts::Table,
            string_null(Transcripts::RecordingExternalId),
        )
        .await?;
        add_column(
            manager,
            Transcripts::Table,
            string_null(Transcripts::Provider),
        )
        .await?;
        add_column(manager, Transcripts::Table, text_null(Transcripts::Words)).await?;
        add_column(
            manager,
            Transcripts::Table,
            double_null(Transcripts::DurationSeconds),
        )
        .await?;
        add_column(manager, Transcripts::Table, string_null(Transcripts::Model)).await?;
        add_column(
            manager,
            Analyses::Table,
            string_null(Analyses::RecordingExternalId),
        )
        .await?;
        add_column(manager, Analyses::Table, string_null(Analyses::Provider)).await?;
        add_column(manager, Analyses::Table, text_null(Analyses::Result)).await?;
        add_column(
            manager,
            Analyses::Table,
            integer_null(Analyses::PromptTokens),
        )
        .await?;
        add_column(
            manager,
            Analyses::Table,
            integer_null(Analyses::CompletionTokens),
        )
        .await?;
        for table in ["transcripts", "analyses"] {
            manager
                .create_index(
                    Index::create()
                        .name(format!("{table}_tenant_recording"))
                        .table(Alias::new(table))
                        .col(Alias::new("tenant_id"))
                        .col(Alias::new("provider"))
                        .col(Alias::new("recording_external_id"))
                        .unique()
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let connection = manager.get_connection();
        for table in ["transcripts", "analyses"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(format!("{table}_tenant_recording"))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
        }
        for (table, column) in ADDED {
            connection
                .execute_unprepared(&format!("ALTER TABLE {table} DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}
