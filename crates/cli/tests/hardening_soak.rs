//! Black-box soak, short version for CI (the long one: `scripts/soak.sh`): ~1000 players churn
//! against the real binary for 30 s (join, ping, start, exit, kick, time out) with the budget on
//! loopback; the server must end with zero sessions and players and a flat RSS.

use std::time::Duration;

#[test]
fn thirty_seconds_of_churn_leave_nothing_and_rss_flat() {
    let config = rhp_soak::SoakConfig {
        server_bin: env!("CARGO_BIN_EXE_rabid-hole-punch").into(),
        load_for: Duration::from_secs(30),
        players: 1000,
        report_every: Duration::from_secs(3),
        drain_for: Duration::from_secs(25),
        serve_flags: Vec::new(),
    };
    let report = rhp_soak::run(&config).expect("soak runs");
    println!("{}", report.summary());
    assert!(report.passed(), "{}", report.summary());
    assert!(report.groups_done > 100, "too little churn: {}", report.summary());
    assert!(report.starts.1 * 10 >= report.starts.0 * 7, "starts mostly complete: {}", report.summary());
    assert_eq!(report.join_failures, 0, "{}", report.summary());
}
