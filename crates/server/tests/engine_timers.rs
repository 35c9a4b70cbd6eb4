//! Engine timer tests on a fake clock: start rounds, player timeout, session lifetime, repeated
//! timeout errors, host hand-over, and that early or repeated timeouts do nothing.

mod common;
use common::*;
use rhp_server::{Config, Transmit};
use std::time::Duration;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn start_sends_8_rounds_100ms_apart_then_deletes_the_session() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    let first = h.send_bytes(addr(1), b"s:Room:Alice");
    let mut out = first.clone();
    out.extend(h.run_until(ms(2000)));
    let expected: Vec<Duration> = (0..8).map(|i| ms(100 * i)).collect();
    assert_eq!(times(&out, addr(1)), expected);
    assert_eq!(times(&out, addr(2)), expected);
    let bob_msg = format!("s:{}:Alice:10.0.0.1:{}", addr(2).port(), addr(1).port());
    assert!(to(&out, addr(2)).iter().all(|m| *m == bob_msg));
    assert_eq!(h.engine.session_count(), 0);
    // The players' idle checks and the lifetime are stale now; they fire harmlessly and go.
    assert!(h.engine.timer_count() <= 3);
    assert!(h.run_until(secs(901)).is_empty());
    assert_eq!(h.engine.timer_count(), 0);
}

#[test]
fn the_session_lives_until_one_interval_after_the_last_round() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(addr(1), "s:Room:Alice");
    h.run_until(ms(799));
    assert_eq!(h.engine.session_count(), 1);
    assert!(h.send(addr(2), "p:Room:Bob")[0].1.starts_with("s:"));
    h.run_until(ms(800));
    assert_eq!(h.engine.session_count(), 0);
    h.ask(addr(2), "p:Room:Bob", "error:session_non_existent");
    // The name is free again.
    h.ask(addr(5), "h:Room:Eve:2", "i:Eve");
}

#[test]
fn start_rounds_and_spacing_follow_the_config() {
    let mut h = H::with(Config { start_rounds: 3, start_interval: ms(10), ..rhp_server::Config::original() });
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    let mut out = h.send_bytes(addr(1), b"s:Room:Alice");
    out.extend(h.run_until(ms(1000)));
    for p in 1..=3 {
        assert_eq!(times(&out, addr(p)), vec![ms(0), ms(10), ms(20)]);
    }
    assert_eq!(h.engine.session_count(), 0);
}

#[test]
fn confirmation_mid_way_stops_the_rest_of_that_players_rounds() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.send(addr(1), "s:Room:Alice");
    let early = h.run_until(ms(250));
    assert_eq!(to(&early, addr(2)).len(), 2);
    h.silent(addr(2), "y:Room:Bob");
    let late = h.run_until(ms(2000));
    assert!(to(&late, addr(2)).is_empty());
    assert_eq!(to(&late, addr(1)).len(), 5);
}

#[test]
fn player_times_out_exactly_5s_after_joining_with_3_errors_50ms_apart() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    // Alice keeps pinging; Bob never does.
    for t in (500..=4500).step_by(500) {
        h.run_until(ms(t));
        h.ask(addr(1), "p:Room:Alice", "i:Alice:Bob");
    }
    assert!(h.run_until(ms(4999)).is_empty());
    let out = h.run_until(ms(6000));
    assert_eq!(times(&out, addr(2)), vec![ms(5000), ms(5050), ms(5100)]);
    assert!(to(&out, addr(2)).iter().all(|m| m == "error:player_timeout"));
    assert_eq!(to(&out, addr(1)), vec!["i:Alice"]);
    assert_eq!(times(&out, addr(1)), vec![ms(5000)]);
}

#[test]
fn a_ping_moves_the_deadline_without_growing_the_timer_queue() {
    let mut h = H::new();
    h.ask(addr(1), "h:Room:Alice:4", "i:Alice");
    let timers = h.engine.timer_count();
    h.run_until(ms(3000));
    for _ in 0..1000 {
        h.ask(addr(1), "p:Room:Alice", "i:Alice");
    }
    assert_eq!(h.engine.timer_count(), timers);
    assert!(h.run_until(ms(7999)).is_empty());
    assert_eq!(h.engine.timer_count(), timers, "re-armed, not duplicated");
    let out = h.run_until(ms(8000));
    assert_eq!(to(&out, addr(1)), vec!["error:player_timeout"]);
    assert_eq!(h.engine.session_count(), 0);
}

#[test]
fn host_timeout_hands_the_host_role_to_the_next_oldest() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    h.run_until(ms(4000));
    h.ask(addr(2), "p:Room:Bob", "i:Alice:Bob:Carol");
    h.ask(addr(3), "p:Room:Carol", "i:Alice:Bob:Carol");
    let out = h.run_until(ms(5000));
    assert_eq!(to(&out, addr(1)), vec!["error:player_timeout"]);
    assert_eq!(to(&out, addr(2)), vec!["i:Bob:Carol"]);
    h.ask(addr(3), "s:Room:Carol", "error:non_host_player");
    assert_eq!(h.send(addr(2), "s:Room:Bob").len(), 2);
}

#[test]
fn the_last_player_timing_out_deletes_the_session() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    let out = h.run_until(ms(6000));
    assert_eq!(to(&out, addr(1)), vec!["error:player_timeout"; 3]);
    // Alice's timer fires first: Bob is told the new list, then times out himself.
    assert_eq!(
        to(&out, addr(2)),
        ["i:Bob", "error:player_timeout", "error:player_timeout", "error:player_timeout"]
    );
    h.run_until(secs(901));
    assert_eq!((h.engine.session_count(), h.engine.player_count(), h.engine.timer_count()), (0, 0, 0));
}

#[test]
fn session_times_out_15min_after_creation_despite_pings() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    let mut t = 0;
    while t < 15 * 60 * 1000 - 1000 {
        t += 1000;
        assert!(h.run_until(ms(t)).is_empty(), "nothing spontaneous at {t} ms");
        h.send(addr(1), "p:Room:Alice");
        h.send(addr(2), "p:Room:Bob");
    }
    assert!(h.run_until(secs(900) - ms(1)).is_empty());
    let out = h.run_until(secs(901));
    for p in [addr(1), addr(2)] {
        assert_eq!(to(&out, p), vec!["error:session_timeout"; 3]);
        assert_eq!(times(&out, p), vec![secs(900), secs(900) + ms(50), secs(900) + ms(100)]);
    }
    assert_eq!(h.engine.session_count(), 0);
    h.ask(addr(1), "p:Room:Alice", "error:session_non_existent");
}

#[test]
fn a_starting_session_is_not_swept_by_lifetime_or_player_timeout() {
    let mut h = H::with(Config { session_lifetime: ms(5050), ..rhp_server::Config::original() });
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.run_until(ms(4900));
    h.send(addr(1), "s:Room:Alice");
    let out = h.run_until(ms(6000));
    assert!(out.iter().all(|s| s.text.starts_with("s:")), "{out:?}");
    assert_eq!(out.len(), 2 * 7);
    assert_eq!(h.engine.session_count(), 0);
}

#[test]
fn error_repeats_follow_the_config() {
    let mut h = H::with(Config {
        player_timeout: ms(100),
        error_repeats: 5,
        error_interval: ms(7),
        ..rhp_server::Config::original()
    });
    h.ask(addr(1), "h:Room:Alice:4", "i:Alice");
    let out = h.run_until(ms(1000));
    assert_eq!(times(&out, addr(1)), vec![ms(100), ms(107), ms(114), ms(121), ms(128)]);
}

#[test]
fn early_and_repeated_timeouts_do_nothing() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    let deadline = h.engine.poll_timeout().expect("a deadline");
    assert_eq!(deadline, h.t0 + secs(5));
    for _ in 0..3 {
        h.engine.handle_timeout(h.t0 + ms(4999));
        h.engine.handle_timeout(h.t0);
    }
    let mut buf = Transmit::empty();
    assert!(!h.engine.poll_transmit(&mut buf));
    assert_eq!(h.engine.player_count(), 2);
    h.engine.handle_timeout(deadline);
    let mut n = 0;
    while h.engine.poll_transmit(&mut buf) {
        n += 1;
    }
    assert_eq!(n, 2 + 1, "Alice's first error, Bob's new list, Bob's first error");
    h.engine.handle_timeout(deadline);
    assert!(!h.engine.poll_transmit(&mut buf), "a repeated call sends nothing more");
}

#[test]
fn poll_timeout_names_the_next_deadline() {
    let mut h = H::new();
    assert_eq!(h.engine.poll_timeout(), None);
    h.ask(addr(1), "h:Room:Alice:4", "i:Alice");
    assert_eq!(h.engine.poll_timeout(), Some(h.t0 + secs(5)));
    h.run_until(ms(1000));
    h.ask(addr(2), "h:Other:Bob:4", "i:Bob");
    h.ask(addr(1), "x:Room:Alice", "error:player_exited_session");
    // Alice's stale entry may still be there; it fires harmlessly.
    assert!(h.run_until(ms(5500)).is_empty());
    assert_eq!(h.engine.poll_timeout(), Some(h.t0 + secs(6)));
}

#[test]
fn a_stale_lifetime_never_hits_a_newer_session_of_the_same_name() {
    let mut h = H::new();
    h.ask(addr(1), "h:Room:Alice:4", "i:Alice");
    h.run_until(ms(1000));
    h.ask(addr(1), "x:Room:Alice", "error:player_exited_session");
    h.ask(addr(2), "h:Room:Bob:4", "i:Bob");
    let mut t = 1000;
    while t < 900_000 {
        t += 1000;
        assert!(h.run_until(ms(t)).is_empty(), "at {t} ms");
        h.ask(addr(2), "p:Room:Bob", "i:Bob");
    }
    // 15 min after the first Room: the second one lives on; it ends 15 min after its own creation.
    assert!(h.run_until(ms(900_999)).is_empty());
    h.ask(addr(2), "p:Room:Bob", "i:Bob");
    let out = h.run_until(ms(901_000));
    assert_eq!(to(&out, addr(2)), vec!["error:session_timeout"]);
}

#[test]
fn a_stale_idle_check_never_hits_a_rejoined_namesake() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.run_until(ms(4000));
    h.ask(addr(1), "p:Room:Alice", "i:Alice:Bob");
    assert_eq!(h.send(addr(2), "x:Room:Bob").len(), 2);
    assert_eq!(h.send(addr(2), "c:Room:Bob").len(), 2);
    // Bob's first life would have ended at 5 s; his second one ends at 9 s.
    let out = h.run_until(ms(8000));
    h.ask(addr(1), "p:Room:Alice", "i:Alice:Bob");
    let out = [out, h.run_until(ms(8999))].concat();
    assert!(to(&out, addr(2)).iter().all(|m| m.starts_with("i:")), "{out:?}");
    let out = h.run_until(ms(9000));
    assert_eq!(to(&out, addr(2)), vec!["error:player_timeout"]);
}
