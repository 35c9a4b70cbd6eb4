//! The relay's byte bucket ([`crate::relay::take`]).

use super::util::{ms, t0};
use crate::relay::take;

#[test]
fn the_byte_bucket_allows_a_burst_then_the_rate() {
    let t0 = t0();
    let mut tat = None;
    // 1000 B/s, burst 2000.
    assert!(take(&mut tat, t0, 1500, 1000, 2000));
    assert!(take(&mut tat, t0, 500, 1000, 2000));
    assert!(!take(&mut tat, t0, 1, 1000, 2000));
    assert!(take(&mut tat, t0 + ms(100), 100, 1000, 2000));
    assert!(!take(&mut tat, t0 + ms(100), 10, 1000, 2000));
    assert!(!take(&mut None, t0, 2001, 1000, 2000), "a frame above the burst never passes");
    assert!(take(&mut None, t0, usize::MAX / 2, 0, 0), "rate 0 is no limit");
}
