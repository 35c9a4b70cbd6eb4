//! Unit tests of `trace.rs`, with access to its private parts.

use crate::trace::*;
use std::time::Duration;

#[test]
fn order_and_time_matter() {
    let (mut a, mut b) = (Digest::default(), Digest::default());
    a.add(Duration::from_millis(1), "x");
    b.add(Duration::from_millis(2), "x");
    assert_ne!(a.value(), b.value());
    let mut c = Digest::default();
    c.add(Duration::from_millis(1), "x");
    assert_eq!(a.value(), c.value());
}
