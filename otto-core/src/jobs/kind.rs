//! The kinds of background job Otto runs.

use std::fmt;

/// What a job does. Stored by [`JobKind::as_str`]; a worker leases only the kinds it
/// has a handler for, so a kind added by a newer release waits for a worker that
/// knows it instead of failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Text the customer of an unanswered inbound call (Twilio).
    MissedCallRecovery,
    /// Transcribe a recording (Deepgram).
    Transcription,
    /// Analyse a transcript (OpenAI).
    Analysis,
    /// Start an AI follow-up call (Bland AI).
    AiFollowUp,
    /// Send a text message a user wrote (Twilio).
    SendMessage,
    /// Copy a company's calls from CallRail into Otto.
    CallRailSync,
    /// Delete expired webhook idempotency keys (scheduled daily).
    WebhookPurge,
}

impl JobKind {
    /// Every kind.
    pub const ALL: [JobKind; 7] = [
        JobKind::MissedCallRecovery,
        JobKind::Transcription,
        JobKind::Analysis,
        JobKind::AiFollowUp,
        JobKind::SendMessage,
        JobKind::CallRailSync,
        JobKind::WebhookPurge,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::MissedCallRecovery => "missed_call_recovery",
            JobKind::Transcription => "transcription",
            JobKind::Analysis => "analysis",
            JobKind::AiFollowUp => "ai_follow_up",
            JobKind::SendMessage => "send_message",
            JobKind::CallRailSync => "callrail_sync",
            JobKind::WebhookPurge => "webhook_purge",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

impl fmt::Display for JobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_stored_name() {
        for kind in JobKind::ALL {
            assert_eq!(JobKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobKind::parse("unknown"), None);
    }
}
