//! The birthday prober ([`crate::birthday`]): its rate, its cap, its permutation, its odds.

use crate::birthday::*;
use crate::rng::Rng;
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

#[test]
fn probes_follow_the_rate_never_repeat_and_stop_at_the_cap() {
    let t0 = Instant::now();
    let mut rng = Rng::new(42);
    let mut p = Prober::new(&mut rng, 1000, 3000, t0);
    let mut seen = std::collections::HashSet::new();
    let mut now = t0;
    let mut by_1s = 0;
    for step in 0..1000 {
        let ports = p.due(now);
        for port in &ports {
            assert!(*port >= FIRST_PORT);
            assert!(seen.insert(*port), "port {port} probed twice");
            assert!(p.was_probed(*port));
        }
        if now <= t0 + Duration::from_secs(1) {
            by_1s += ports.len();
        }
        assert!(p.due(now).is_empty(), "a second call at the same instant sends nothing");
        now = p.poll_timeout().unwrap_or(now + 10 * MS);
        let _ = step;
    }
    // 1,000/s: about 1,001 by one second (the first one goes at once).
    assert!((990..=1011).contains(&by_1s), "{by_1s}");
    assert_eq!(seen.len(), 3000);
    assert!(p.exhausted());
    assert_eq!(p.poll_timeout(), None);
    assert!(!p.was_probed(80));
}

#[test]
fn a_late_driver_gets_a_bounded_batch() {
    let t0 = Instant::now();
    let mut p = Prober::new(&mut Rng::new(1), 1000, 65535, t0);
    assert_eq!(p.due(t0).len(), 1);
    // 5 s late: at most 100 ms worth at once.
    assert_eq!(p.due(t0 + Duration::from_secs(5)).len(), 100);
}

#[test]
fn the_permutation_covers_the_whole_span() {
    let t0 = Instant::now();
    let mut p = Prober::new(&mut Rng::new(9), 100_000, 65535, t0);
    let mut now = t0 + Duration::from_secs(100);
    let mut all = std::collections::HashSet::new();
    while !p.exhausted() {
        all.extend(p.due(now));
        now += Duration::from_secs(1);
    }
    assert_eq!(all.len() as u32, PORT_SPAN);
}

/// Injected outcome: the hard side's 256 mappings are random; the easy side's probes hit one
/// with the odds the module doc gives (median over seeds within the 50%-at-174 figure).
#[test]
fn hits_match_the_birthday_arithmetic() {
    let mut needed = Vec::new();
    for seed in 0..200u64 {
        let mut rng = Rng::new(seed);
        let mut hard = std::collections::HashSet::new();
        while hard.len() < 256 {
            hard.insert(FIRST_PORT + u16::try_from(rng.below(u64::from(PORT_SPAN))).unwrap());
        }
        let t0 = Instant::now();
        let mut p = Prober::new(&mut rng, 1000, 8192, t0);
        let mut now = t0;
        let hit = loop {
            if let Some(_port) = p.due(now).into_iter().find(|port| hard.contains(port)) {
                break p.sent();
            }
            match p.poll_timeout() {
                Some(t) => now = t,
                None => break u32::MAX,
            }
        };
        needed.push(hit);
    }
    needed.sort_unstable();
    let median = needed[needed.len() / 2];
    let p98 = needed[needed.len() * 98 / 100];
    assert!((100..=260).contains(&median), "median probes {median}");
    assert!(p98 <= 1400, "98th percentile {p98}");
}
