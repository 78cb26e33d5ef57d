//! Provider webhooks: signature verification (pure functions, checked against each
//! provider's published test vectors).

pub mod signatures;
