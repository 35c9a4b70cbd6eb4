//! A token bucket on the virtual clock: how many store requests datagrams may cause per second
//! (claims and lookups), so a flood of requests for random names costs the store at most
//! [`crate::ClusterConfig::store_rate`] a second per node. The node's own requests (heartbeats,
//! refreshes, releases) are not counted: they are bounded by what the node holds.

use std::time::Instant;

/// The bucket.
#[derive(Debug)]
pub(crate) struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Option<Instant>,
}

impl Bucket {
    /// `rate` tokens a second, at most `burst` saved (full at first).
    pub(crate) fn new(rate: u32, burst: u32) -> Bucket {
        Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: None,
        }
    }

    /// Takes one token at `now`; false if none is left.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        if let Some(last) = self.last {
            let dt = now.saturating_duration_since(last).as_secs_f64();
            self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        }
        self.last = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}
