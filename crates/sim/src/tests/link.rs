//! Unit tests of `link.rs`, with access to its private parts.

use crate::link::*;
use crate::rng::Rng;
use std::time::Duration;

#[test]
fn clean_carries_once_after_the_delay_and_lossy_loses_about_its_share() {
    let mut rng = Rng::new(1);
    assert_eq!(Link::CLEAN.carry(&mut rng), vec![Duration::from_millis(1)]);
    let lost = (0..10_000).filter(|_| Link::LOSSY.carry(&mut rng).is_empty()).count();
    assert!((800..1200).contains(&lost), "{lost}");
    let dup = Link { duplicate: 1.0, jitter: Duration::from_millis(2), ..Link::CLEAN };
    let copies = dup.carry(&mut rng);
    assert_eq!(copies.len(), 2);
    assert!(copies[0] <= copies[1] && copies[1] <= Duration::from_millis(5));
    let late = Link { reorder: 1.0, ..Link::CLEAN };
    assert_eq!(late.carry(&mut rng), vec![Duration::from_millis(2)]);
}
