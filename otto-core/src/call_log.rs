//! The call log: calls as each role may see them, a call's details, and the outcome
//! a team records on it. Leadership and CSRs see all of the company's calls; a rep
//! sees only the calls assigned to them, and another call is "not found" to them.

use std::sync::Arc;

use uuid::Uuid;

use crate::calls::{Call, CallCursor, CallFilter, OutcomeChange, Page};
use crate::messages::Message;
use crate::ports::{
    CallAnalysis, CallRepository, CompanyDirectory, InsightStore, MessageLog, Recording,
    RecordingRef, StoreError, Transcript,
};
use crate::roles::{AppRole, RoleMap, RoleRequired, require};
use crate::tenancy::{Principal, TenantScope};
use crate::validation::InvalidField;

/// Longest notes a call may carry, in characters.
pub const MAX_NOTES_LEN: usize = 4000;

/// Messages with the customer that a call's details include (the latest ones).
pub const DETAIL_MESSAGES: u32 = 20;

/// Who may assign calls to reps.
const ASSIGNERS: [AppRole; 2] = [AppRole::Leadership, AppRole::Csr];

/// A call with everything known about it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallDetail {
    /// The call.
    pub call: Call,
    /// Its latest recording.
    pub recording: Option<Recording>,
    /// The recording's transcript.
    pub transcript: Option<Transcript>,
    /// The transcript's analysis.
    pub analysis: Option<CallAnalysis>,
    /// The latest messages with the call's customer, newest first.
    pub messages: Vec<Message>,
}

/// Why the call log refused.
#[derive(Debug, thiserror::Error)]
pub enum CallLogError {
    /// The caller's role may not.
    #[error(transparent)]
    Forbidden(#[from] RoleRequired),
    /// No such call that the caller may see.
    #[error("not found")]
    NotFound,
    /// The change breaks a rule.
    #[error("invalid change")]
    Invalid(Vec<InvalidField>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a caller of `role` may see `call`.
pub fn may_see(role: AppRole, principal: &Principal, call: &Call) -> bool {
    role != AppRole::Rep || call.outcome.assigned_rep.as_ref() == Some(&principal.user_id)
}

/// The call log service.
#[derive(Clone)]
pub struct CallLog {
    calls: Arc<dyn CallRepository>,
    insights: Arc<dyn InsightStore>,
    messages: Arc<dyn MessageLog>,
    directory: Arc<dyn CompanyDirectory>,
    roles: RoleMap,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog")
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

impl CallLog {
    /// The log over these stores, guarded by `roles`.
    pub fn new(
        calls: Arc<dyn CallRepository>,
        insights: Arc<dyn InsightStore>,
        messages: Arc<dyn MessageLog>,
        directory: Arc<dyn CompanyDirectory>,
        roles: RoleMap,
    ) -> Self {
        CallLog {
            calls,
            insights,
            messages,
            directory,
            roles,
        }
    }

    /// The calls the caller may see that pass `filter`, newest first. A rep's
    /// listing is always narrowed to their own calls, whatever `filter` asks.
    pub async fn list(
        &self,
        principal: &Principal,
        mut filter: CallFilter,
        cursor: Option<CallCursor>,
        limit: u32,
    ) -> Result<Page<Call, CallCursor>, CallLogError> {
        if self.roles.role_of(&principal.role) == AppRole::Rep {
            filter.assigned_to = Some(principal.user_id.clone());
        }
        Ok(self
            .calls
            .list(&TenantScope::of(principal), &filter, cursor, limit)
            .await?)
    }

    /// The call `id` if the caller may see it, with their role.
    async fn visible(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<(AppRole, Call), CallLogError> {
        let role = self.roles.role_of(&principal.role);
        match self.calls.get(&TenantScope::of(principal), id).await? {
            Some(call) if may_see(role, principal, &call) => Ok((role, call)),
            _ => Err(CallLogError::NotFound),
        }
    }

    /// The call `id` alone.
    pub async fn call(&self, principal: &Principal, id: Uuid) -> Result<Call, CallLogError> {
        Ok(self.visible(principal, id).await?.1)
    }

    /// The call `id` with its recording, transcript, analysis and latest messages.
    pub async fn detail(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<CallDetail, CallLogError> {
        let (_, call) = self.visible(principal, id).await?;
        let scope = TenantScope::of(principal);
        let recording = self.insights.recording_of(&scope, call.id).await?;
        let (transcript, analysis) = match &recording {
            Some(recording) => {
                let reference = RecordingRef {
                    provider: call.provider.clone(),
                    call_external_id: call.external_id.clone(),
                    recording_external_id: recording.external_id.clone(),
                };
                (
                    self.insights.transcript(&scope, &reference).await?,
                    self.insights.analysis(&scope, &reference).await?,
                )
            }
            None => (None, None),
        };
        let messages = match &call.customer_number {
            Some(number) => {
                self.messages
                    .messages_with(&scope, number, None, DETAIL_MESSAGES)
                    .await?
                    .items
            }
            None => Vec::new(),
        };
        Ok(CallDetail {
            call,
            recording,
            transcript,
            analysis,
            messages,
        })
    }

    /// Records `change` on the call `id`'s outcome. Anyone who sees a call may record
    /// its outcome; only leadership and CSRs may (re)assign it.
    pub async fn update(
        &self,
        principal: &Principal,
        id: Uuid,
        change: OutcomeChange,
    ) -> Result<Call, CallLogError> {
        self.visible(principal, id).await?;
        if change.assigned_rep.is_some() {
            require(&self.roles, principal, &ASSIGNERS)?;
        }
        let scope = TenantScope::of(principal);
        let mut invalid = Vec::new();
        if let Some(Some(notes)) = &change.notes
            && notes.chars().count() > MAX_NOTES_LEN
        {
            invalid.push(InvalidField::new(
                "notes",
                format!("must be at most {MAX_NOTES_LEN} characters"),
            ));
        }
        if let Some(Some(notes)) = &change.notes
            && crate::validation::has_nul(notes)
        {
            invalid.push(InvalidField::new(
                "notes",
                "must not contain a NUL character",
            ));
        }
        if let Some(Some(appointment_at)) = &change.appointment_at
            && !crate::validation::is_storable_time(appointment_at)
        {
            invalid.push(InvalidField::new(
                "appointment_at",
                crate::validation::STORABLE_TIME_EXPECTED,
            ));
        }
        if let Some(Some(rep)) = &change.assigned_rep {
            let members = self.directory.members(&scope).await?;
            if !members.iter().any(|member| member.user_id == *rep) {
                invalid.push(InvalidField::new(
                    "assigned_rep",
                    "is not a member of this company",
                ));
            }
        }
        if !invalid.is_empty() {
            return Err(CallLogError::Invalid(invalid));
        }
        self.calls
            .update_outcome(&scope, id, &change)
            .await?
            .ok_or(CallLogError::NotFound)
    }
}
