//! Which provider sent a delivery, and to which of Otto's webhook routes.

use std::fmt;

/// A webhook provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    /// CallRail: call tracking (calls, text messages).
    CallRail,
    /// Twilio: telephony (call status, SMS, recordings).
    Twilio,
    /// Clerk: organizations, users and memberships.
    Clerk,
    /// Bland AI: AI follow-up calls.
    Bland,
}

impl Provider {
    /// Every provider.
    pub const ALL: [Provider; 4] = [
        Provider::CallRail,
        Provider::Twilio,
        Provider::Clerk,
        Provider::Bland,
    ];

    /// The stored and labelled name.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::CallRail => "callrail",
            Provider::Twilio => "twilio",
            Provider::Clerk => "clerk",
            Provider::Bland => "bland",
        }
    }

    /// Parses [`Provider::as_str`]'s form.
    pub fn parse(text: &str) -> Option<Self> {
        Provider::ALL
            .into_iter()
            .find(|provider| provider.as_str() == text)
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of Otto's webhook routes: what the provider says happened, by where it sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    /// `/webhook/callrail/pre-call`: a call is ringing.
    CallRailPreCall,
    /// `/webhook/callrail/call-complete`: a call ended (CallRail's post-call).
    CallRailCallComplete,
    /// `/webhook/callrail/call-modified`: a call changed (tags, notes, late recording).
    CallRailCallModified,
    /// `/webhook/callrail/sms`: a text message was sent or received.
    CallRailSms,
    /// `/webhook/twilio/call-status`: a call status callback.
    TwilioCallStatus,
    /// `/webhook/twilio/sms`: an inbound text message.
    TwilioSms,
    /// `/webhook/twilio/recording`: a recording status callback.
    TwilioRecording,
    /// `/webhook/clerk`: an organization, user or membership event.
    Clerk,
    /// `/webhook/bland`: an AI call ended.
    Bland,
}

impl WebhookEvent {
    /// Every route.
    pub const ALL: [WebhookEvent; 9] = [
        WebhookEvent::CallRailPreCall,
        WebhookEvent::CallRailCallComplete,
        WebhookEvent::CallRailCallModified,
        WebhookEvent::CallRailSms,
        WebhookEvent::TwilioCallStatus,
        WebhookEvent::TwilioSms,
        WebhookEvent::TwilioRecording,
        WebhookEvent::Clerk,
        WebhookEvent::Bland,
    ];

    /// The provider that posts to this route.
    pub fn provider(self) -> Provider {
        match self {
            WebhookEvent::CallRailPreCall
            | WebhookEvent::CallRailCallComplete
            | WebhookEvent::CallRailCallModified
            | WebhookEvent::CallRailSms => Provider::CallRail,
            WebhookEvent::TwilioCallStatus
            | WebhookEvent::TwilioSms
            | WebhookEvent::TwilioRecording => Provider::Twilio,
            WebhookEvent::Clerk => Provider::Clerk,
            WebhookEvent::Bland => Provider::Bland,
        }
    }

    /// The route's last path segment, also the event name in idempotency keys
    /// (Clerk's keys use the event's own `type` instead).
    pub fn name(self) -> &'static str {
        match self {
            WebhookEvent::CallRailPreCall => "pre-call",
            WebhookEvent::CallRailCallComplete => "call-complete",
            WebhookEvent::CallRailCallModified => "call-modified",
            WebhookEvent::CallRailSms | WebhookEvent::TwilioSms => "sms",
            WebhookEvent::TwilioCallStatus => "call-status",
            WebhookEvent::TwilioRecording => "recording",
            WebhookEvent::Clerk => "clerk",
            WebhookEvent::Bland => "bland",
        }
    }

    /// The route's path.
    pub fn path(self) -> String {
        match self {
            WebhookEvent::Clerk | WebhookEvent::Bland => format!("/webhook/{}", self.name()),
            _ => format!("/webhook/{}/{}", self.provider(), self.name()),
        }
    }

    /// Parses a (provider, event name) pair as stored with unroutable deliveries.
    pub fn parse(provider: &str, name: &str) -> Option<Self> {
        WebhookEvent::ALL
            .into_iter()
            .find(|event| event.provider().as_str() == provider && event.name() == name)
    }

    /// Whether the provider posts a form (`application/x-www-form-urlencoded`) rather
    /// than JSON.
    pub fn is_form(self) -> bool {
        self.provider() == Provider::Twilio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_parses_back_from_its_stored_names() {
        for event in WebhookEvent::ALL {
            assert_eq!(
                WebhookEvent::parse(event.provider().as_str(), event.name()),
                Some(event)
            );
        }
        assert_eq!(WebhookEvent::parse("twilio", "pre-call"), None);
    }

    #[test]
    fn paths_follow_the_original_service() {
        assert_eq!(
            WebhookEvent::CallRailPreCall.path(),
            "/webhook/callrail/pre-call"
        );
        assert_eq!(
            WebhookEvent::TwilioCallStatus.path(),
            "/webhook/twilio/call-status"
        );
        assert_eq!(WebhookEvent::Clerk.path(), "/webhook/clerk");
        assert_eq!(WebhookEvent::Bland.path(), "/webhook/bland");
    }
}
