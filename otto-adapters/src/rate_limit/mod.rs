//! Rate limiters: Redis (shared by every process), in-process (the embedded default
//! and the fallback), and the resilient pair that degrades from one to the other.

mod in_process;
mod redis;
mod resilient;

pub use in_process::InProcessLimiter;
pub use redis::RedisLimiter;
pub use resilient::ResilientLimiter;

/// Microseconds since the Unix epoch of the clock's now.
fn now_micros(clock: &dyn otto_core::ports::Clock) -> i64 {
    clock.now().timestamp_micros()
}
