//! The impairment check: a measured link must show the condition it was given.

use rhp_lab::impair::LinkCondition;
use rhp_lab::probe::PingStats;

fn stats(sent: u32, received: u32, rtt_ms: f64) -> PingStats {
    PingStats { sent, received, rtts_us: vec![(rtt_ms * 1000.0) as u64; received as usize] }
}

#[test]
fn check_rejects_an_impairment_that_does_nothing() {
    let c = LinkCondition::LOSSY;
    assert!(c.check(&stats(300, 300, 0.5)).is_err(), "no delay, no loss");
    assert!(c.check(&stats(300, 243, 0.5)).is_err(), "loss but no delay");
    assert!(c.check(&stats(300, 300, 101.0)).is_err(), "delay but no loss");
    assert!(c.check(&stats(300, 243, 101.0)).is_ok());
    assert!(LinkCondition::CLEAN.check(&stats(300, 300, 0.3)).is_ok());
    assert!(LinkCondition::CLEAN.check(&stats(300, 300, 100.3)).is_err(), "unexpected delay");
}
