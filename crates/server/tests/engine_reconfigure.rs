//! `Engine::reconfigure` (what SIGHUP does), with a fake clock: new caps act on the next request,
//! sessions and players are kept, the protocol timers are not changed, and a stats interval set to
//! zero stops the stats timer instead of firing it forever.

mod common;
use common::{addr, ms, H};
use rhp_server::Config;
use std::time::Duration;

#[test]
fn new_caps_apply_at_once_and_every_session_is_kept() {
    let mut h = H::with(Config { max_sessions: 1, ..Config::default() });
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(addr(5), "h:Other:Carol:4", "error:too_many_sessions");

    let ignored = h.engine.reconfigure(Config { max_sessions: 2, ..Config::default() });
    assert!(ignored.is_empty(), "{ignored:?}");
    h.ask(addr(5), "h:Other:Carol:4", "i:Carol");
    assert_eq!((h.engine.session_count(), h.engine.player_count()), (2, 3));
    let out = h.send(addr(6), "c:Room:Dave");
    assert_eq!(out.len(), 3, "Room still takes players: {out:?}");

    // Lower than what exists: nothing is removed, nothing new is created.
    h.engine.reconfigure(Config { max_sessions: 1, max_players: 3, ..Config::default() });
    assert_eq!((h.engine.session_count(), h.engine.player_count()), (2, 4));
    h.ask(addr(7), "h:Third:Erin:4", "error:too_many_sessions");
    h.ask(addr(7), "c:Other:Erin", "error:server_full");
    h.engine.check_invariants().expect("invariants");
}

#[test]
fn protocol_timers_are_not_reloaded() {
    let mut h = H::with(Config::default());
    h.lobby("Room", 4, &["Alice"]);
    let changed = Config { player_timeout: Duration::from_secs(60), start_rounds: 2, ..Config::default() };
    let ignored = h.engine.reconfigure(changed);
    assert_eq!(ignored, vec!["player-timeout-ms", "start-rounds"]);
    assert_eq!(h.engine.config().player_timeout, Duration::from_secs(5));
    // Alice still times out after the original 5 s.
    h.advance(ms(5100));
    assert_eq!(h.engine.session_count(), 0);
}

#[test]
fn a_stats_interval_set_to_zero_stops_the_stats_timer() {
    let mut h = H::with(Config { stats_interval: Duration::from_secs(1), ..Config::default() });
    h.lobby("Room", 4, &["Alice"]);
    h.advance(ms(1500));
    h.engine.reconfigure(Config { stats_interval: Duration::ZERO, ..Config::default() });
    // Would spin forever (a timer re-armed at `now + 0`) without the fix; run_until panics then.
    h.advance(ms(3000));
    h.engine.reconfigure(Config { stats_interval: Duration::from_secs(1), ..Config::default() });
    h.ask(addr(9), "h:Next:Bob:4", "i:Bob");
    h.advance(ms(3000));
}
