//! Live events for the frontends: the process's fan-out ([`hub`]) and one client's
//! stream ([`stream`]). The transports (SSE, WebSocket) are in [`crate::http`]; what
//! makes an event, and who may see it, is `otto_core::live`.

pub mod hub;
pub mod stream;
