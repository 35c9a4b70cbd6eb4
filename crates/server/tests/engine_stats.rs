//! The engine's counters for the metrics ([`Engine::snapshot`]), on a fake clock: after a scripted
//! session every counter has exactly the expected value; a start held back by the budget is
//! measured from the host's `s:` to the round that reached every player; sessions by phase follow
//! the session through its start to its deletion.

mod common;
use common::*;
use rhp_proto::stun::write_binding_request;
use rhp_server::stats::{CAPS, ERROR_CODES, REQUEST_KINDS};
use rhp_server::{Config, Snapshot, Transmit, ALT};
use std::time::Duration;

fn kind(s: &Snapshot, name: &str) -> u64 {
    s.requests[REQUEST_KINDS.iter().position(|k| *k == name).expect("a kind")]
}

fn error(s: &Snapshot, code: &str) -> u64 {
    s.errors[ERROR_CODES.iter().position(|c| c.as_str() == code).expect("a code")]
}

fn cap(s: &Snapshot, name: &str) -> u64 {
    s.refusals[CAPS.iter().position(|c| *c == name).expect("a cap")]
}

#[test]
fn a_scripted_session_gives_exactly_the_expected_counts() {
    let mut h = H::with(Config { max_sessions: 1, ..Config::original() });
    let mut stun = Vec::new();
    write_binding_request([7; 12], &mut stun);
    // Bytes of every datagram fed: the STUN request's and, as they are sent, the texts'.
    let mut bytes_in = stun.len() as u64;
    let mut count = |t: &str| bytes_in += t.len() as u64;
    h.lobby("Room", 2, &["Alice", "Bob"]);
    count("h:Room:Alice:2");
    count("c:Room:Bob");
    h.ask(addr(9), "h:Other:Eve:2", "error:too_many_sessions");
    count("h:Other:Eve:2");
    h.ask(addr(9), "h:", "error:invalid_request");
    count("h:");
    h.silent(addr(9), "z:Room:Eve");
    count("z:Room:Eve");
    h.engine.handle_datagram(h.now, ALT, addr(9), &stun);
    let mut tx = Transmit::empty();
    assert!(h.engine.poll_transmit(&mut tx) && tx.via == ALT, "STUN answered on the alternate port");

    let s = h.engine.snapshot();
    assert_eq!((s.sessions_open, s.sessions_starting, s.players), (1, 0, 2));
    let out = h.send(addr(1), "s:Room:Alice");
    count("s:Room:Alice");
    assert_eq!(out.len(), 2, "round 1 to both players");
    let s = h.engine.snapshot();
    assert_eq!((s.sessions_open, s.sessions_starting, s.players), (0, 1, 2));
    assert_eq!(s.start.count, 1);
    assert_eq!(s.start.buckets[0], 1, "the first round went out with the s: (0 s)");

    // The 8 rounds, then the deletion.
    let rounds = h.advance(Duration::from_secs(2));
    let s = h.engine.snapshot();
    assert_eq!((s.sessions_open, s.sessions_starting, s.players), (0, 0, 0));
    for (name, n) in [("host", 2), ("connect", 1), ("start", 1), ("invalid", 1), ("unknown", 1)] {
        assert_eq!(kind(&s, name), n, "{name}");
    }
    for name in ["ping", "confirm", "kick", "exit", "nat", "relay"] {
        assert_eq!(kind(&s, name), 0, "{name}");
    }
    assert_eq!((error(&s, "too_many_sessions"), error(&s, "invalid_request")), (1, 1));
    assert_eq!(s.errors.iter().sum::<u64>(), 2);
    assert_eq!((cap(&s, "sessions"), s.refusals.iter().sum::<u64>()), (1, 1));
    assert_eq!(s.stun, [0, 1]);
    assert_eq!(s.datagrams_in, 7, "h c h h: q: stun s, nothing else");
    assert_eq!(s.bytes_in, bytes_in);
    // i:Alice, i:Alice:Bob x2, two errors, the STUN answer, 2 x 8 start rounds.
    assert_eq!(s.datagrams_out, 3 + 2 + 1 + 16);
    assert_eq!(rounds.len() + out.len(), 16);
    assert_eq!(s.start.count, 1, "one start, measured once");
    assert_eq!(s.relay.frames_in, 0);
}

#[test]
fn a_start_held_back_by_the_budget_is_measured_to_the_round_that_reached_everyone() {
    // Budget on (10.x addresses are not loopback). Bob has sent 10 bytes (credit 30) and got
    // `i:Alice:Bob` (11): his 28-byte start message does not fit until his next ping credits 10.
    let mut h = H::with(Config::default());
    h.ask(addr(1), "h:Slow:Alice:2", "i:Alice");
    assert_eq!(h.send(addr(2), "c:Slow:Bob").len(), 2);
    assert!(h.send(addr(1), "s:Slow:Alice").is_empty(), "round 1 held back for Bob's budget");
    let s = h.engine.snapshot();
    assert_eq!((s.sessions_starting, s.start.count), (1, 0));
    h.advance(Duration::from_millis(500));
    let out = h.send(addr(2), "p:Slow:Bob");
    assert_eq!(out.len(), 2, "Bob's ping lets round 1 go to both: {out:?}");
    let s = h.engine.snapshot();
    assert_eq!(s.start.count, 1);
    assert!((s.start.sum_seconds - 0.5).abs() < 1e-9, "measured from the s: ({})", s.start.sum_seconds);
    assert_eq!(s.start.buckets.iter().sum::<u64>(), 1);
}

#[test]
fn every_error_code_has_its_own_counter() {
    let all: Vec<_> = rhp_proto::ErrorCode::ALL.into_iter().chain(rhp_proto::ErrorCode::LIMITS).collect();
    assert_eq!(ERROR_CODES.len(), all.len());
    for code in all {
        assert!(ERROR_CODES.contains(&code), "{code:?} has no counter");
    }
}
