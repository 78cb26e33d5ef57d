//! Provider APIs behind Otto's ports, over one shared HTTP client policy.

pub mod bland;
pub mod callrail;
pub mod deepgram;
pub mod http;
pub mod openai;
pub mod twilio;
