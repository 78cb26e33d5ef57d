//! Follow-up work on calls: the job handlers that text a customer after a missed
//! call (and, next, transcribe, analyse and call back).

mod missed_call;
mod template;

pub use missed_call::{MissedCallRecovery, provider_outcome};
pub use template::{DEFAULT_MISSED_CALL_TEMPLATE, MAX_SMS_LEN, render};
