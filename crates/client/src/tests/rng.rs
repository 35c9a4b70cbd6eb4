//! The engine's seeded random numbers ([`crate::rng`]).

use crate::rng::*;

#[test]
fn same_seed_same_numbers_and_below_stays_below() {
    let (mut a, mut b) = (Rng::new(7), Rng::new(7));
    for _ in 0..100 {
        assert_eq!(a.next_u64(), b.next_u64());
        assert!(a.below(10) < 10);
        b.below(10);
    }
    assert_eq!(a.below(0), 0);
    let mut id = [0u8; 12];
    a.fill(&mut id);
    assert_ne!(id, [0u8; 12]);
}
