//! Follow-up work on calls, as job handlers: text the customer after a missed call,
//! transcribe recordings, analyse transcripts, call back with an AI agent.

mod ai_follow_up;
mod analysis;
mod automatic;
mod job_input;
mod missed_call;
mod outbound;
mod requests;
mod send_message;
mod template;
mod texting;
mod transcription;

pub use ai_follow_up::{AI_FOLLOW_UP_DELAY_MINUTES, AiFollowUp, DEFAULT_AI_FOLLOW_UP_TASK};
pub use analysis::Analysis;
pub use missed_call::MissedCallRecovery;
pub use requests::{FollowUpKind, FollowUpRequestError, FollowUpRequests};
pub use send_message::SendMessage;
pub use template::{DEFAULT_MISSED_CALL_TEMPLATE, MAX_SMS_LEN, render};
pub use transcription::{Transcription, analysis_job};
