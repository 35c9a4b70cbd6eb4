//! A peer's silence judged by an engine the application stopped driving for a while (injected
//! clock). Peers that leave or fall silent in whole sessions, and the host hand-over, run in
//! `rhp-sim` with the real server: `crates/sim/tests/client_leave.rs`.

mod common;

use common::SERVER;
use rhp_client::{Config, Engine, Event, Input, LeaveReason, Output, SocketId};
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

/// Feeds one datagram (or a timeout, `data` None) and returns the events.
fn input(e: &mut Engine, now: Instant, from: std::net::SocketAddr, data: Option<&str>) -> Vec<Event> {
    match data {
        Some(d) => e.handle_input(Input::Datagram { now, via: SocketId::MAIN, from, data: d.as_bytes() }),
        None => e.handle_input(Input::Timeout(now)),
    }
    let mut events = Vec::new();
    loop {
        match e.poll_output() {
            Output::Event(ev) => events.push(ev),
            Output::Timeout(_) => return events,
            _ => {}
        }
    }
}

#[test]
fn an_application_that_stopped_driving_the_engine_does_not_call_its_peers_silent() {
    let t0 = Instant::now();
    let alice: std::net::SocketAddr = "10.0.0.9:5555".parse().unwrap();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    input(&mut e, t0, SERVER, Some("i:Alice:Bob"));
    input(&mut e, t0, SERVER, Some("n:Alice:e:Bob:e"));
    input(&mut e, t0, SERVER, Some("s:40000:Alice:10.0.0.9:5555"));
    let evs = input(&mut e, t0 + 5 * MS, alice, Some("c:Alice:5555"));
    assert!(evs.iter().any(|ev| matches!(ev, Event::Connected { .. })), "{evs:?}");
    input(&mut e, t0 + Duration::from_secs(1), alice, Some("a:Alice"));
    // Not driven for 30 s (Alice's keepalives wait unread in the socket): the first timeout
    // after the stall must not judge her by the last datagram read.
    let resumed = t0 + Duration::from_secs(31);
    let evs = input(&mut e, resumed, SERVER, None);
    assert!(!evs.iter().any(|ev| matches!(ev, Event::PeerLeft { .. })), "{evs:?}");
    // Really silent from then on: gone one silence (counted from a keepalive before) later.
    let silence = Config::join(SERVER, "S1", "Bob").timers.peer_silence;
    let keepalive = Config::join(SERVER, "S1", "Bob").timers.keepalive;
    let mut t = resumed;
    let mut left = None;
    for _ in 0..100 {
        t += 200 * MS;
        let evs = input(&mut e, t, SERVER, None);
        if evs.iter().any(|ev| matches!(ev, Event::PeerLeft { reason: LeaveReason::Silent, .. })) {
            left = Some(t);
            break;
        }
    }
    let left = left.expect("reported silent");
    assert!(left - resumed >= silence - keepalive && left - resumed <= silence, "{:?}", left - resumed);
}
