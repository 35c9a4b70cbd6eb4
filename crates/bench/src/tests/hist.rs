//! The latency histogram ([`crate::hist`]): bucket bounds, quantiles, encoding.

use crate::hist::*;

#[test]
fn buckets_are_contiguous_and_tight() {
    let mut last = 0;
    for v in 0..100_000u64 {
        let i = index(v);
        assert!(i == last || i == last + 1, "gap at {v}");
        last = i;
        let mid = value(i);
        assert!(mid.abs_diff(v) as f64 <= 0.04 * v as f64 + 1.0, "{v} -> {mid}");
    }
    assert!(index(u64::MAX) < BUCKETS);
}

#[test]
fn quantiles_and_round_trip() {
    let mut h = Hist::default();
    for v in 1..=1000 {
        h.record(v);
    }
    let p50 = h.quantile(0.5);
    assert!((470..=530).contains(&p50), "{p50}");
    assert_eq!(h.quantile(1.0), 1000);
    let back = Hist::decode(&h.encode()).expect("decodes");
    assert_eq!(
        (back.count, back.sum, back.max, back.quantile(0.99)),
        (1000, 500_500, 1000, h.quantile(0.99))
    );
}
