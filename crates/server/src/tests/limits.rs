//! The per-IP rate limiter and the log limiter ([`crate::limits`]).

use crate::limits::*;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[test]
fn bucket_allows_a_burst_then_the_rate() {
    let t0 = Instant::now();
    let ip: IpAddr = [10, 0, 0, 1].into();
    let mut r = RateLimiter::new(2, 3);
    assert!((0..3).all(|_| r.take(t0, ip)));
    assert!(!r.take(t0, ip));
    assert!(r.take(t0 + Duration::from_millis(500), ip));
    assert!(!r.take(t0 + Duration::from_millis(500), ip));
    assert!(r.take(t0, [10, 0, 0, 2].into()), "another IP has its own bucket");
    r.sweep(t0 + Duration::from_secs(10), true);
    assert_eq!(r.tracked(), 0);
    let mut off = RateLimiter::new(0, 0);
    assert!((0..1000).all(|_| off.take(t0, ip)));
}

#[test]
fn logs_once_per_interval_and_counts_the_rest() {
    let t0 = Instant::now();
    let ip: IpAddr = [10, 0, 0, 1].into();
    let mut l = LogLimiter::new(Duration::from_secs(10));
    assert_eq!(l.should_log(t0, ip, Refusal::RateLimited), Some(0));
    assert_eq!(l.should_log(t0, ip, Refusal::RateLimited), None);
    assert_eq!(l.should_log(t0, ip, Refusal::TooManySessions), Some(0));
    assert_eq!(l.should_log(t0 + Duration::from_secs(11), ip, Refusal::RateLimited), Some(1));
}
