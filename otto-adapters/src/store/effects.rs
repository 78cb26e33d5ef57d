//! Applies a delivery's domain effects inside its ledger transaction. Every
//! statement is idempotent on its own (insert-if-absent, upsert), so re-applying a
//! delivery (a forced replay) converges on the same rows.

use chrono::{DateTime, Utc};
use otto_core::calls::Direction;
use otto_core::jobs::{Enqueued, NewJob};
use otto_core::live::{self, NewLiveEvent};
use otto_core::ports::StoreError;
use otto_core::tenancy::TenantId;
use otto_core::webhooks::{CallChange, CallFacts, Effect, Provider, RecordingFacts};
use sea_orm::{DatabaseTransaction, Value};

use super::jobs::insert_job;
use super::live_events::{call_identity, call_of};
use super::sql::column;
use super::{SqlStore, search_terms, sql, stored_time};

/// One transaction's effect writer.
pub(super) struct EffectWriter<'a> {
    pub(super) store: &'a SqlStore,
    pub(super) transaction: &'a DatabaseTransaction,
    pub(super) provider: Provider,
    pub(super) at: DateTime<Utc>,
    /// The live events of what was written, appended when the transaction ends.
    pub(super) events: std::sync::Mutex<Vec<NewLiveEvent>>,
}

fn text(value: &Option<String>) -> Value {
    value.clone().into()
}

impl<'a> EffectWriter<'a> {
    /// A writer of `provider`'s delivery received `at`, in `transaction`.
    pub(super) fn new(
        store: &'a SqlStore,
        transaction: &'a DatabaseTransaction,
        provider: Provider,
        at: DateTime<Utc>,
    ) -> Self {
        EffectWriter {
            store,
            transaction,
            provider,
            at,
            events: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// The live events of everything written so far.
    pub(super) fn take_events(&self) -> Vec<NewLiveEvent> {
        std::mem::take(
            &mut *self
                .events
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
        )
    }

    fn publish(&self, event: NewLiveEvent) {
        self.events
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(event);
    }

    async fn run(&self, sql: &str, values: Vec<Value>) -> Result<u64, StoreError> {
        sql::execute(self.transaction, sql, values).await
    }

    fn tenant_of(tenant: Option<&TenantId>) -> Result<&TenantId, StoreError> {
        tenant.ok_or_else(|| {
            StoreError::Internal("a tenant effect was planned for a platform delivery".to_owned())
        })
    }

    /// Applies `effects` in order; `tenant` is the delivery's tenant (`None` only for
    /// platform deliveries, whose effects need none).
    pub(super) async fn apply(
        &self,
        tenant: Option<&TenantId>,
        effects: &[Effect],
    ) -> Result<(), StoreError> {
        let at = stored_time(self.at);
        for effect in effects {
            match effect {
                Effect::RecordCall { change, facts } => {
                    let tenant = Self::tenant_of(tenant)?;
                    let created = self.open_call(tenant, facts).await?;
                    if *change == CallChange::Update {
                        self.update_call(tenant, facts, !created).await?;
                    }
                }
                Effect::StoreMessage(message) => {
                    let tenant = Self::tenant_of(tenant)?;
                    let inserted = sql::query(
                        self.transaction,
                        "INSERT INTO messages (id, tenant_id, call_id, provider, external_id, \
                         direction, customer_number, body, sent_at, created_at) \
                         VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, $8, $9) \
                         ON CONFLICT (tenant_id, provider, external_id) DO NOTHING RETURNING id",
                        vec![
                            self.store.new_id().into(),
                            tenant.as_str().into(),
                            self.provider.as_str().into(),
                            message.external_id.clone().into(),
                            message.direction.as_str().into(),
                            message.customer_number.clone().into(),
                            message.body.clone().into(),
                            stored_time(message.sent_at).into(),
                            at.into(),
                        ],
                    )
                    .await?;
                    if let Some(row) = inserted.first() {
                        self.publish(live::message_stored(
                            column(row, "id")?,
                            message.direction,
                            &message.customer_number,
                        ));
                    }
                }
                Effect::OptOut { customer_number } => {
                    let tenant = Self::tenant_of(tenant)?;
                    self.run(
                        "INSERT INTO opt_outs (tenant_id, customer_number, opted_out_at) \
                         VALUES ($1, $2, $3) ON CONFLICT (tenant_id, customer_number) DO NOTHING",
                        vec![
                            tenant.as_str().into(),
                            customer_number.clone().into(),
                            at.into(),
                        ],
                    )
                    .await?;
                }
                Effect::OptIn { customer_number } => {
                    let tenant = Self::tenant_of(tenant)?;
                    self.run(
                        "DELETE FROM opt_outs WHERE tenant_id = $1 AND customer_number = $2",
                        vec![tenant.as_str().into(), customer_number.clone().into()],
                    )
                    .await?;
                }
                Effect::StoreRecording(recording) => {
                    self.store_recording(Self::tenant_of(tenant)?, recording)
                        .await?;
                }
                Effect::StoreAiCall(call) => {
                    let tenant = Self::tenant_of(tenant)?;
                    self.run(
                        "INSERT INTO ai_calls (id, tenant_id, external_id, to_number, status, \
                         completed, duration_seconds, summary, transcript, recording_url, \
                         created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
                         ON CONFLICT (tenant_id, external_id) DO UPDATE SET \
                         to_number = excluded.to_number, status = excluded.status, \
                         completed = excluded.completed, \
                         duration_seconds = excluded.duration_seconds, \
                         summary = excluded.summary, transcript = excluded.transcript, \
                         recording_url = excluded.recording_url, updated_at = excluded.updated_at",
                        vec![
                            self.store.new_id().into(),
                            tenant.as_str().into(),
                            call.external_id.clone().into(),
                            text(&call.to_number),
                            text(&call.status),
                            call.completed.into(),
                            call.duration_seconds.into(),
                            text(&call.summary),
                            text(&call.transcript),
                            text(&call.recording_url),
                            at.into(),
                        ],
                    )
                    .await?;
                }
                Effect::SaveTenant(facts) => {
                    self.run(
                        "INSERT INTO tenants (id, name, slug, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET \
                         name = COALESCE(excluded.name, tenants.name), \
                         slug = COALESCE(excluded.slug, tenants.slug), \
                         updated_at = excluded.updated_at",
                        vec![
                            facts.id.as_str().into(),
                            text(&facts.name),
                            text(&facts.slug),
                            at.into(),
                        ],
                    )
                    .await?;
                }
                Effect::DeleteTenant(id) => {
                    self.run(
                        "DELETE FROM tenants WHERE id = $1",
                        vec![id.as_str().into()],
                    )
                    .await?;
                }
                Effect::SaveUser(facts) => {
                    self.run(
                        "INSERT INTO users (id, email, name, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET \
                         email = excluded.email, name = excluded.name, \
                         updated_at = excluded.updated_at",
                        vec![
                            facts.id.as_str().into(),
                            text(&facts.email),
                            text(&facts.name),
                            at.into(),
                        ],
                    )
                    .await?;
                }
                Effect::DeleteUser(id) => {
                    self.run(
                        "DELETE FROM memberships WHERE user_id = $1",
                        vec![id.as_str().into()],
                    )
                    .await?;
                    self.run("DELETE FROM users WHERE id = $1", vec![id.as_str().into()])
                        .await?;
                }
                Effect::SaveMembership { tenant, user, role } => {
                    // A membership event may arrive before its user's own event.
                    self.run(
                        "INSERT INTO users (id, created_at, updated_at) VALUES ($1, $2, $2) \
                         ON CONFLICT (id) DO NOTHING",
                        vec![user.as_str().into(), at.into()],
                    )
                    .await?;
                    self.run(
                        "INSERT INTO memberships (id, tenant_id, user_id, role, created_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, user_id) \
                         DO UPDATE SET role = excluded.role",
                        vec![
                            self.store.new_id().into(),
                            tenant.as_str().into(),
                            user.as_str().into(),
                            role.as_str().into(),
                            at.into(),
                        ],
                    )
                    .await?;
                }
                Effect::DeleteMembership { tenant, user } => {
                    self.run(
                        "DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2",
                        vec![tenant.as_str().into(), user.as_str().into()],
                    )
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Stores the call unless it is known; whether it was new.
    async fn open_call(&self, tenant: &TenantId, facts: &CallFacts) -> Result<bool, StoreError> {
        let at = stored_time(self.at);
        let inserted = sql::query(
            self.transaction,
            "INSERT INTO calls (id, tenant_id, provider, external_id, direction, customer_name, \
             customer_number, answered, duration_seconds, started_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             ON CONFLICT (tenant_id, provider, external_id) DO NOTHING RETURNING id",
            vec![
                self.store.new_id().into(),
                tenant.as_str().into(),
                self.provider.as_str().into(),
                facts.external_id.clone().into(),
                facts
                    .direction
                    .unwrap_or(Direction::Inbound)
                    .as_str()
                    .into(),
                text(&facts.customer_name),
                text(&facts.customer_number),
                facts.answered.unwrap_or(false).into(),
                facts.duration_seconds.unwrap_or(0).into(),
                stored_time(facts.started_at.unwrap_or(self.at)).into(),
                at.into(),
            ],
        )
        .await?;
        let Some(row) = inserted.first() else {
            return Ok(false);
        };
        let id = column(row, "id")?;
        search_terms::index_new_call(
            self.transaction,
            tenant.as_str(),
            search_terms::TermedCall {
                id,
                started_at: facts.started_at.unwrap_or(self.at),
                name: facts.customer_name.as_deref(),
                number: facts.customer_number.as_deref(),
            },
        )
        .await?;
        self.publish(live::call_created(id, None));
        Ok(true)
    }

    /// Overwrites the facts present; `publish` says whether the change is news (a
    /// call created by this delivery was announced as created already).
    async fn update_call(
        &self,
        tenant: &TenantId,
        facts: &CallFacts,
        publish: bool,
    ) -> Result<(), StoreError> {
        let updated = sql::query(
            self.transaction,
            "UPDATE calls SET direction = COALESCE($1, direction), \
             customer_name = COALESCE($2, customer_name), \
             customer_number = COALESCE($3, customer_number), \
             answered = COALESCE($4, answered), \
             duration_seconds = COALESCE($5, duration_seconds), updated_at = $6 \
             WHERE tenant_id = $7 AND provider = $8 AND external_id = $9 \
             RETURNING id, started_at, customer_name, customer_number, assigned_rep",
            vec![
                facts.direction.map(|d| d.as_str().to_owned()).into(),
                text(&facts.customer_name),
                text(&facts.customer_number),
                facts.answered.into(),
                facts.duration_seconds.into(),
                stored_time(self.at).into(),
                tenant.as_str().into(),
                self.provider.as_str().into(),
                facts.external_id.clone().into(),
            ],
        )
        .await?;
        // A call this delivery created has its customer's terms already and was
        // announced as created.
        let (Some(row), true) = (updated.first(), publish) else {
            return Ok(());
        };
        if facts.customer_name.is_some() || facts.customer_number.is_some() {
            let (name, number): (Option<String>, Option<String>) = (
                column(row, "customer_name")?,
                column(row, "customer_number")?,
            );
            search_terms::reindex_call(
                self.transaction,
                tenant.as_str(),
                search_terms::TermedCall {
                    id: column(row, "id")?,
                    started_at: column(row, "started_at")?,
                    name: name.as_deref(),
                    number: number.as_deref(),
                },
            )
            .await?;
        }
        let changed = facts.changed();
        if !changed.is_empty() {
            let (call_id, rep) = call_identity(row)?;
            self.publish(live::call_updated(call_id, rep, &changed));
        }
        Ok(())
    }

    async fn publish_call_update(
        &self,
        tenant: &TenantId,
        external_id: &str,
        changed: &[&str],
    ) -> Result<(), StoreError> {
        if let Some((call_id, rep)) = call_of(
            self.transaction,
            tenant,
            self.provider.as_str(),
            external_id,
        )
        .await?
        {
            self.publish(live::call_updated(call_id, rep, changed));
        }
        Ok(())
    }

    async fn store_recording(
        &self,
        tenant: &TenantId,
        recording: &RecordingFacts,
    ) -> Result<(), StoreError> {
        // A recording callback may come before the call's own events.
        self.open_call(tenant, &CallFacts::about(&recording.call_external_id))
            .await?;
        let inserted = self.run(
            "INSERT INTO recordings (id, tenant_id, call_id, external_id, url, duration_seconds, \
             created_at) \
             SELECT $1, $2, c.id, $3, $4, $5, $6 FROM calls c \
             WHERE c.tenant_id = $2 AND c.provider = $7 AND c.external_id = $8 \
             ON CONFLICT (tenant_id, external_id) DO NOTHING",
            vec![
                self.store.new_id().into(),
                tenant.as_str().into(),
                recording.external_id.clone().into(),
                recording.url.clone().into(),
                recording.duration_seconds.into(),
                stored_time(self.at).into(),
                self.provider.as_str().into(),
                recording.call_external_id.clone().into(),
            ],
        )
        .await?;
        if inserted > 0 {
            self.publish_call_update(tenant, &recording.call_external_id, &["recording"])
                .await?;
        }
        Ok(())
    }

    /// Enqueues `jobs` in the delivery's transaction (the outbox), once per unique
    /// key.
    pub(super) async fn enqueue(&self, jobs: &[NewJob]) -> Result<(), StoreError> {
        for job in jobs {
            let enqueued = insert_job(self.transaction, self.store.new_id(), job, self.at).await?;
            if let Enqueued::Created(id) = enqueued
                && let Some(event) = live::job_queued(id, job)
            {
                self.publish(event);
            }
        }
        Ok(())
    }
}
