//! Provider APIs behind Otto's ports, over one shared HTTP client policy.

pub mod http;
pub mod twilio;
