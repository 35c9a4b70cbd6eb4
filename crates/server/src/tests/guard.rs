//! The password guard's token bucket ([`crate::guard`]).

use super::util::t0;
use crate::guard::Bucket;
use std::time::Duration;

#[test]
fn a_bucket_gives_its_burst_then_its_rate() {
    let t0 = t0();
    let per = Duration::from_secs(10);
    let mut b = Bucket { tat: t0 };
    for _ in 0..3 {
        assert!(b.available(t0, per, 3));
        b.take(t0, per);
    }
    assert!(!b.available(t0, per, 3));
    assert!(!b.available(t0 + Duration::from_secs(9), per, 3));
    assert!(b.available(t0 + per, per, 3));
}
