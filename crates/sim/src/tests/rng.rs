//! Unit tests of `rng.rs`, with access to its private parts.

use crate::rng::*;

#[test]
fn same_seed_same_numbers() {
    let (mut a, mut b) = (Rng::new(7), Rng::new(7));
    for _ in 0..100 {
        assert_eq!(a.next_u64(), b.next_u64());
        assert!(a.below(10) < 10);
        b.below(10);
    }
    assert_eq!(a.below(0), 0);
    assert!(!a.chance(0.0));
    let hits = (0..10_000).filter(|_| b.chance(0.1)).count();
    assert!((800..1200).contains(&hits), "{hits}");
}
