//! The in-memory store's webhook ledger and provider-account map: the same
//! observable behaviour as the SQL adapter (the contract suite checks both), with
//! accessors tests use to see what a delivery changed.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use otto_core::calls::{Call, CallOutcome, Direction};
use otto_core::jobs::Enqueued;
use otto_core::live::{self, NewLiveEvent};
use otto_core::ports::{
    AccountLink, Application, Claim, Company, IdempotencyKey, ProviderAccounts, Recording,
    StoreError, Target, WebhookLedger,
};
use otto_core::tenancy::{Role, TenantId, UserId};
use otto_core::webhooks::{
    AccountRef, AiCallFacts, CallChange, CallFacts, Effect, MessageFacts, Provider,
};

use crate::InMemoryStore;
use crate::message_log::{StoredMessage, StoredRecording, keep_message};

type KeyTuple = (Option<TenantId>, Provider, String, String);

#[derive(Debug, Clone)]
struct KeyRecord {
    first_processed_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    attempts: i32,
    body_digest: String,
    first_delivery_id: Option<uuid::Uuid>,
}

impl KeyRecord {
    /// A key claimed at `at` by a body with `body_digest`.
    fn first(body_digest: &str, first_delivery_id: Option<uuid::Uuid>, at: DateTime<Utc>) -> Self {
        KeyRecord {
            first_processed_at: at,
            last_seen_at: at,
            attempts: 1,
            body_digest: body_digest.to_owned(),
            first_delivery_id,
        }
    }
}

fn key_tuple(key: &IdempotencyKey) -> KeyTuple {
    (
        key.tenant.clone(),
        key.provider,
        key.event.clone(),
        key.external_id.clone(),
    )
}

/// The fake's webhook tables.
#[derive(Debug, Default)]
pub(crate) struct WebhookTables {
    keys: BTreeMap<KeyTuple, KeyRecord>,
    pub(crate) deliveries: Vec<otto_core::ports::LoggedDelivery>,
    accounts: BTreeMap<AccountRef, TenantId>,
    signing_keys: BTreeMap<AccountRef, String>,
    pub(crate) messages: Vec<StoredMessage>,
    pub(crate) opt_outs: BTreeSet<(TenantId, String)>,
    pub(crate) recordings: BTreeMap<(TenantId, String), StoredRecording>,
    pub(crate) ai_calls: BTreeMap<(TenantId, String), AiCallFacts>,
    pub(crate) users: BTreeMap<UserId, (Option<String>, Option<String>)>,
    pub(crate) memberships: BTreeMap<(TenantId, UserId), Role>,
}

impl InMemoryStore {
    /// Text messages stored so far for `tenant`.
    pub fn messages(&self, tenant: &TenantId) -> Vec<MessageFacts> {
        let tables = self.tables();
        tables
            .webhooks
            .messages
            .iter()
            .filter(|stored| stored.tenant == *tenant)
            .map(|stored| stored.facts.clone())
            .collect()
    }

    /// Records that `number` opted out of `tenant`'s texts (as an inbound STOP would).
    pub fn record_opt_out(&self, tenant: &TenantId, number: &str) {
        self.tables()
            .webhooks
            .opt_outs
            .insert((tenant.clone(), number.to_owned()));
    }

    /// Whether `number` opted out of `tenant`'s texts.
    pub fn opted_out(&self, tenant: &TenantId, number: &str) -> bool {
        self.tables()
            .webhooks
            .opt_outs
            .contains(&(tenant.clone(), number.to_owned()))
    }

    /// The role of `user` in `tenant`, if a member.
    pub fn membership(&self, tenant: &TenantId, user: &UserId) -> Option<Role> {
        self.tables()
            .webhooks
            .memberships
            .get(&(tenant.clone(), user.clone()))
            .cloned()
    }

    /// The AI call `external_id` of `tenant`.
    pub fn ai_call(&self, tenant: &TenantId, external_id: &str) -> Option<AiCallFacts> {
        self.tables()
            .webhooks
            .ai_calls
            .get(&(tenant.clone(), external_id.to_owned()))
            .cloned()
    }

    fn record_call(
        &self,
        calls: &mut Vec<Call>,
        tenant: &TenantId,
        provider: Provider,
        change: CallChange,
        facts: &CallFacts,
        at: DateTime<Utc>,
    ) -> Option<NewLiveEvent> {
        let position = calls.iter().position(|call| {
            call.tenant_id == *tenant
                && call.provider == provider.as_str()
                && call.external_id == facts.external_id
        });
        let index = match position {
            Some(index) => index,
            None => {
                calls.push(Call {
                    id: self.ids.new_id(),
                    tenant_id: tenant.clone(),
                    provider: provider.as_str().to_owned(),
                    external_id: facts.external_id.clone(),
                    direction: facts.direction.unwrap_or(Direction::Inbound),
                    customer_name: facts.customer_name.clone(),
                    customer_number: facts.customer_number.clone(),
                    answered: facts.answered.unwrap_or(false),
                    duration_seconds: facts.duration_seconds.unwrap_or(0),
                    started_at: facts.started_at.unwrap_or(at).trunc_subsecs(6),
                    outcome: CallOutcome::default(),
                });
                calls.len() - 1
            }
        };
        // Updated facts of a call this delivery created are not news of their own.
        let created = position
            .is_none()
            .then(|| live::call_created(calls[index].id, None));
        if change == CallChange::Update {
            let call = &mut calls[index];
            call.direction = facts.direction.unwrap_or(call.direction);
            if facts.customer_name.is_some() {
                call.customer_name.clone_from(&facts.customer_name);
            }
            if facts.customer_number.is_some() {
                call.customer_number.clone_from(&facts.customer_number);
            }
            call.answered = facts.answered.unwrap_or(call.answered);
            call.duration_seconds = facts.duration_seconds.unwrap_or(call.duration_seconds);
            let changed = facts.changed();
            if created.is_none() && !changed.is_empty() {
                return Some(live::call_updated(
                    call.id,
                    call.outcome.assigned_rep.clone(),
                    &changed,
                ));
            }
        }
        created
    }
}

fn tenant_of(tenant: Option<&TenantId>) -> Result<&TenantId, StoreError> {
    tenant.ok_or_else(|| StoreError::Internal("a tenant effect on a platform delivery".to_owned()))
}

impl InMemoryStore {
    /// Applies `effects` for `tenant`, validating first so that a refusal changes
    /// nothing (the fake's transaction). `needs_tenant`: jobs are to be enqueued too.
    fn apply_effects(
        &self,
        tables: &mut crate::store::Tables,
        tenant: Option<&TenantId>,
        provider: Provider,
        effects: &[Effect],
        needs_tenant: bool,
        at: DateTime<Utc>,
    ) -> Result<Vec<NewLiveEvent>, StoreError> {
        let mut events = Vec::new();
        // Validate before changing anything: the fake's "transaction".
        let needs_tenant = needs_tenant
            || effects.iter().any(|effect| {
                matches!(
                    effect,
                    Effect::RecordCall { .. }
                        | Effect::StoreMessage(_)
                        | Effect::OptOut { .. }
                        | Effect::OptIn { .. }
                        | Effect::StoreRecording(_)
                        | Effect::StoreAiCall(_)
                )
            });
        if needs_tenant {
            tenant_of(tenant)?;
        }
        for effect in effects {
            match effect {
                Effect::RecordCall { change, facts } => {
                    events.extend(self.record_call(
                        &mut tables.calls,
                        tenant_of(tenant)?,
                        provider,
                        *change,
                        facts,
                        at,
                    ));
                }
                Effect::StoreMessage(message) => {
                    let id = self.ids.new_id();
                    if keep_message(
                        &mut tables.webhooks.messages,
                        id,
                        tenant_of(tenant)?,
                        provider,
                        message.clone(),
                        None,
                    ) {
                        events.push(live::message_stored(
                            id,
                            message.direction,
                            &message.customer_number,
                        ));
                    }
                }
                Effect::OptOut { customer_number } => {
                    tables
                        .webhooks
                        .opt_outs
                        .insert((tenant_of(tenant)?.clone(), customer_number.clone()));
                }
                Effect::OptIn { customer_number } => {
                    tables
                        .webhooks
                        .opt_outs
                        .remove(&(tenant_of(tenant)?.clone(), customer_number.clone()));
                }
                Effect::StoreRecording(recording) => {
                    let tenant = tenant_of(tenant)?;
                    events.extend(self.record_call(
                        &mut tables.calls,
                        tenant,
                        provider,
                        CallChange::Open,
                        &CallFacts::about(&recording.call_external_id),
                        at,
                    ));
                    let call = tables
                        .calls
                        .iter()
                        .find(|call| {
                            call.tenant_id == *tenant
                                && call.provider == provider.as_str()
                                && call.external_id == recording.call_external_id
                        })
                        .ok_or_else(|| StoreError::Internal("the recorded call is gone".into()))?;
                    let call_id = call.id;
                    let key = (tenant.clone(), recording.external_id.clone());
                    if !tables.webhooks.recordings.contains_key(&key) {
                        events.push(live::call_updated(
                            call_id,
                            call.outcome.assigned_rep.clone(),
                            &["recording"],
                        ));
                    }
                    let order = tables.webhooks.recordings.len();
                    tables
                        .webhooks
                        .recordings
                        .entry(key)
                        .or_insert_with(|| StoredRecording {
                            call_id,
                            recording: Recording {
                                external_id: recording.external_id.clone(),
                                url: recording.url.clone(),
                                duration_seconds: recording.duration_seconds,
                            },
                            order,
                        });
                }
                Effect::StoreAiCall(call) => {
                    tables.webhooks.ai_calls.insert(
                        (tenant_of(tenant)?.clone(), call.external_id.clone()),
                        call.clone(),
                    );
                }
                Effect::SaveTenant(facts) => {
                    let company = tables.companies.entry(facts.id.clone()).or_insert(Company {
                        name: None,
                        slug: None,
                    });
                    if facts.name.is_some() {
                        company.name.clone_from(&facts.name);
                    }
                    if facts.slug.is_some() {
                        company.slug.clone_from(&facts.slug);
                    }
                }
                Effect::DeleteTenant(id) => {
                    tables.companies.remove(id);
                }
                Effect::SaveUser(facts) => {
                    tables
                        .webhooks
                        .users
                        .insert(facts.id.clone(), (facts.email.clone(), facts.name.clone()));
                }
                Effect::DeleteUser(id) => {
                    tables.webhooks.users.remove(id);
                    tables
                        .webhooks
                        .memberships
                        .retain(|(_, user), _| user != id);
                }
                Effect::SaveMembership { tenant, user, role } => {
                    tables.webhooks.users.entry(user.clone()).or_default();
                    tables
                        .webhooks
                        .memberships
                        .insert((tenant.clone(), user.clone()), role.clone());
                }
                Effect::DeleteMembership { tenant, user } => {
                    tables
                        .webhooks
                        .memberships
                        .remove(&(tenant.clone(), user.clone()));
                }
            }
        }
        Ok(events)
    }
}

#[async_trait]
impl WebhookLedger for InMemoryStore {
    async fn apply(&self, application: &Application<'_>) -> Result<Claim, StoreError> {
        let at = application.at.trunc_subsecs(6);
        let key = application.key;
        let mut guard = self.tables();
        let tables = &mut *guard;
        let tuple = key_tuple(key);
        let mut events = Vec::new();
        let claim = if let Some(record) = tables.webhooks.keys.get_mut(&tuple) {
            record.last_seen_at = at;
            record.attempts += 1;
            Claim::Duplicate {
                first_processed_at: record.first_processed_at,
                attempts: record.attempts,
                first_body_digest: record.body_digest.clone(),
                first_delivery_id: record.first_delivery_id,
            }
        } else {
            events = self.apply_effects(
                tables,
                key.tenant.as_ref(),
                key.provider,
                application.effects,
                !application.jobs.is_empty(),
                at,
            )?;
            for job in application.jobs {
                let id = self.ids.new_id();
                if let Enqueued::Created(id) = tables.jobs.enqueue(job.clone(), id, at) {
                    events.extend(live::job_queued(id, job));
                }
            }
            tables.webhooks.keys.insert(
                tuple,
                KeyRecord::first(
                    application.body_digest,
                    application.log.map(|delivery| delivery.id),
                    at,
                ),
            );
            Claim::Processed { at }
        };
        if let Some(delivery) = application.log {
            let logged = delivery.with_claim(&claim, application.body_digest);
            tables
                .webhooks
                .deliveries
                .push(crate::delivery_log::stored(logged));
        }
        if let Some(tenant) = &key.tenant {
            self.publish_in(tables, tenant, events);
        }
        Ok(claim)
    }

    async fn reapply(
        &self,
        _target: &Target,
        key: &IdempotencyKey,
        body_digest: &str,
        effects: &[Effect],
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let at = at.trunc_subsecs(6);
        let mut guard = self.tables();
        let tables = &mut *guard;
        let events = self.apply_effects(
            tables,
            key.tenant.as_ref(),
            key.provider,
            effects,
            false,
            at,
        )?;
        tables
            .webhooks
            .keys
            .entry(key_tuple(key))
            .or_insert_with(|| KeyRecord::first(body_digest, None, at));
        if let Some(tenant) = &key.tenant {
            self.publish_in(tables, tenant, events);
        }
        Ok(())
    }

    async fn purge_keys(&self, cutoff: DateTime<Utc>, batch: u32) -> Result<u64, StoreError> {
        let mut tables = self.tables();
        let expired: Vec<KeyTuple> = tables
            .webhooks
            .keys
            .iter()
            .filter(|(_, record)| record.last_seen_at < cutoff)
            .take(batch as usize)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            tables.webhooks.keys.remove(key);
        }
        Ok(expired.len() as u64)
    }
}

#[async_trait]
impl ProviderAccounts for InMemoryStore {
    async fn tenant_of(&self, accounts: &[AccountRef]) -> Result<Option<TenantId>, StoreError> {
        let tables = self.tables();
        Ok(accounts
            .iter()
            .find_map(|account| tables.webhooks.accounts.get(account).cloned()))
    }

    async fn link(&self, account: &AccountRef, tenant: &TenantId) -> Result<(), StoreError> {
        self.tables()
            .webhooks
            .accounts
            .insert(account.clone(), tenant.clone());
        Ok(())
    }

    async fn set_signing_key(
        &self,
        account: &AccountRef,
        key: Option<&str>,
    ) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        if !tables.webhooks.accounts.contains_key(account) {
            return Ok(false);
        }
        match key {
            Some(key) => {
                tables
                    .webhooks
                    .signing_keys
                    .insert(account.clone(), key.to_owned());
            }
            None => {
                tables.webhooks.signing_keys.remove(account);
            }
        }
        Ok(true)
    }

    async fn signing_keys(&self, accounts: &[AccountRef]) -> Result<Vec<String>, StoreError> {
        let tables = self.tables();
        Ok(accounts
            .iter()
            .filter_map(|account| tables.webhooks.signing_keys.get(account).cloned())
            .collect())
    }

    async fn unlink(&self, account: &AccountRef) -> Result<bool, StoreError> {
        let mut tables = self.tables();
        tables.webhooks.signing_keys.remove(account);
        Ok(tables.webhooks.accounts.remove(account).is_some())
    }

    async fn links(&self) -> Result<Vec<AccountLink>, StoreError> {
        let tables = self.tables();
        Ok(tables
            .webhooks
            .accounts
            .iter()
            .map(|(account, tenant)| AccountLink {
                account: account.clone(),
                tenant_id: tenant.clone(),
                has_signing_key: tables.webhooks.signing_keys.contains_key(account),
            })
            .collect())
    }
}
