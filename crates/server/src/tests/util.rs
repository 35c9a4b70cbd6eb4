//! What the unit tests share: a start instant and short durations.

use std::time::{Duration, Instant};

/// The start of a test's fake clock.
pub(super) fn t0() -> Instant {
    Instant::now()
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}
