//! # otto-testkit: fakes, builders and contract suites
//!
//! Every port of `otto-core` has an in-memory fake here, and every port has a contract
//! suite (see [`contracts`]) that runs against the fake *and* against each real adapter,
//! so a fake cannot drift from the truth.
//!
//! Where to start: [`InMemoryStore`] (every store port in one value), [`ManualClock`]
//! and [`SequentialIds`], the provider fakes ([`RecordingSms`] and its kin), the
//! [`contracts`] an adapter of your own must pass, and [`mocks`] for a test about
//! which calls are made. `docs/testing.md` in the repository says when to use which
//! and walks through proving a new adapter.
//!
//! ```
//! use otto_core::ports::Clock;
//! use otto_testkit::ManualClock;
//!
//! let clock = ManualClock::at("2026-11-25T02:00:00Z");
//! clock.advance(std::time::Duration::from_secs(90));
//! assert_eq!(clock.now().to_rfc3339(), "2026-11-25T02:01:30+00:00");
//! ```

#![warn(missing_docs)]

mod ai_caller_contract;
mod builders;
mod call_log_contract;
mod call_tracking_contract;
pub mod contracts;
mod delivery_log;
mod delivery_log_contract;
mod fakes;
mod follow_up_contract;
mod follow_up_store;
pub mod fuzz;
mod insight_contract;
mod insight_provider_contract;
mod insight_store;
mod job_queue;
mod job_queue_contract;
mod live_events;
mod live_events_contract;
mod members_contract;
mod message_log;
mod provider_fakes;
mod scripted_handler;
pub mod signers;
mod sms_contract;
mod store;
pub mod stubs;
mod webhook_store;

pub use builders::running_job;
pub use fakes::{ManualClock, SequentialIds, StaticCredentials, SwitchableProbe};
pub use provider_fakes::{
    FakeCallTracking, RecordingAiCaller, RecordingAnalyzer, RecordingMeter, RecordingSms,
    RecordingTranscriber, SmsScript,
};
pub use scripted_handler::ScriptedHandler;

/// Generated [mockall](https://docs.rs/mockall) mocks of the provider ports and of
/// `CallRepository`, for a test that checks which calls were made (and that others
/// never were), or that needs one answer a fake cannot give (a database that is
/// down), rather than the state a fake ends in. `docs/testing.md` says when to use
/// which.
pub mod mocks {
    pub use otto_core::ports::{
        MockAiCaller, MockCallAnalyzer, MockCallRepository, MockSmsSender, MockTranscriber,
        MockUsageMeter,
    };
}

pub use store::InMemoryStore;
