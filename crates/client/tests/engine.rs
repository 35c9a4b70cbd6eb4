//! Unit tests of the engine on an injected clock: single engines fed by hand for the timing
//! rules of the lobby and the peer phase. (Whole sessions run in `rhp-sim`, with the real server:
//! `crates/sim/tests/client_sessions.rs`.)

mod common;

use common::SERVER;
use rhp_client::{
    ClientError, Config, Engine, Event, FailReason, Input, Method, Output, PeerStatus, SocketId, Transmit,
};
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const MS: Duration = Duration::from_millis(1);

/// Everything the engine wants done, but the lobby's watch requests (see `watch.rs`).
fn drain(e: &mut Engine) -> (Vec<Transmit>, Vec<Event>, Instant) {
    let (mut ts, mut evs) = (Vec::new(), Vec::new());
    loop {
        match e.poll_output() {
            Output::Transmit(t) if t.via == rhp_client::WATCH => {}
            Output::Transmit(t) => ts.push(t),
            Output::Open(_) | Output::Close(_) => {}
            Output::Event(ev) => evs.push(ev),
            Output::Timeout(t) => return (ts, evs, t),
        }
    }
}

fn texts(ts: &[Transmit]) -> Vec<String> {
    ts.iter().map(|t| String::from_utf8_lossy(&t.data).into_owned()).collect()
}

fn feed(e: &mut Engine, now: Instant, from: SocketAddr, data: &str) -> (Vec<Transmit>, Vec<Event>, Instant) {
    e.handle_input(Input::Datagram { now, via: SocketId::MAIN, from, data: data.as_bytes() });
    drain(e)
}

fn tick(e: &mut Engine, now: Instant) -> (Vec<Transmit>, Vec<Event>, Instant) {
    e.handle_input(Input::Timeout(now));
    drain(e)
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// An engine that joined session S1 as `me` and got `s:` at `t0` listing `peers`.
fn started(me: &str, host: bool, peers: &[(&str, &str)]) -> (Engine, Instant) {
    let t0 = Instant::now();
    let config = if host { Config::host(SERVER, "S1", me, 12) } else { Config::join(SERVER, "S1", me) };
    let config = config.without_nat_classification();
    let mut e = Engine::new(config, t0).unwrap();
    drain(&mut e);
    let mut names: Vec<&str> = peers.iter().map(|p| p.0).collect();
    if host {
        names.insert(0, me);
    } else {
        names.push(me);
    }
    feed(&mut e, t0, SERVER, &format!("i:{}", names.join(":")));
    let list: Vec<String> = peers.iter().map(|(n, a)| format!("{n}:{a}")).collect();
    feed(&mut e, t0, SERVER, &format!("s:40000:{}", list.join(";")));
    (e, t0)
}

// ---------------------------------------------------------------- server phase

#[test]
fn join_request_is_resent_every_half_second_until_info() {
    let t0 = Instant::now();
    let mut e = Engine::new(
        Config::join(SERVER, "S1", "Bob").with_password(Some("pw")).without_nat_classification(),
        t0,
    )
    .unwrap();
    let (ts, _, next) = drain(&mut e);
    assert_eq!(texts(&ts), ["c:S1:Bob:pw"]);
    assert_eq!(ts[0].to, SERVER);
    assert_eq!(next, t0 + 500 * MS);
    assert!(tick(&mut e, t0 + 499 * MS).0.is_empty(), "an early timeout does nothing");
    let (ts, _, next) = tick(&mut e, t0 + 500 * MS);
    assert_eq!(texts(&ts), ["c:S1:Bob:pw"]);
    assert_eq!(next, t0 + 1000 * MS);
    let (ts, evs, next) = feed(&mut e, t0 + 600 * MS, SERVER, "i:Alice:Bob");
    assert!(ts.is_empty());
    assert_eq!(evs, [Event::Joined { players: vec!["Alice".into(), "Bob".into()], is_host: false }]);
    assert_eq!(next, t0 + 1100 * MS, "pings start 0.5 s after the i:");
}

#[test]
fn pings_every_half_second_in_the_session() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::host(SERVER, "S1", "Alice", 2).without_nat_classification(), t0).unwrap();
    assert_eq!(texts(&drain(&mut e).0), ["h:S1:Alice:2"]);
    feed(&mut e, t0 + 10 * MS, SERVER, "i:Alice");
    let mut pings = Vec::new();
    for _ in 0..8 {
        let (_, _, now) = drain(&mut e);
        let (ts, _, _) = tick(&mut e, now);
        assert_eq!(texts(&ts), ["p:S1:Alice"]);
        pings.push(now);
    }
    for w in pings.windows(2) {
        assert_eq!(w[1] - w[0], 500 * MS);
    }
    assert_eq!(pings[0], t0 + 510 * MS);
    assert!(e.is_host());
}

#[test]
fn server_silence_for_15_s_is_a_server_timeout() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    let mut sent = texts(&drain(&mut e).0).len();
    let mut now = t0;
    for _ in 0..100 {
        let (_, _, next) = drain(&mut e);
        now = next;
        let (ts, _, _) = tick(&mut e, now);
        sent += ts.len();
        if let Some(outcome) = e.take_outcome() {
            assert!(
                matches!(outcome, Err(ClientError::ServerTimeout { waited, .. }) if waited == Duration::from_secs(15))
            );
            break;
        }
    }
    assert_eq!(now, t0 + Duration::from_secs(15));
    assert_eq!(sent, 30, "c: at 0, 0.5, ..., 14.5 s");
}

#[test]
fn any_server_datagram_restarts_the_silence_timer() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    feed(&mut e, t0 + 14 * 1000 * MS, SERVER, "i:Alice:Bob");
    tick(&mut e, t0 + 15 * 1000 * MS);
    assert!(e.take_outcome().is_none());
    tick(&mut e, t0 + 29 * 1000 * MS);
    // It had answered: it stopped (not "is the address right?").
    assert!(matches!(e.take_outcome(), Some(Err(ClientError::ServerStopped { .. }))));
}

/// The server's `n:` (read by the engine, not the lobby) counts as hearing from it too.
#[test]
fn a_nat_note_from_the_server_restarts_the_silence_timer() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    feed(&mut e, t0 + 100 * MS, SERVER, "i:Alice:Bob");
    feed(&mut e, t0 + 14 * 1000 * MS, SERVER, "n:Alice:e");
    tick(&mut e, t0 + 15500 * MS);
    assert!(e.take_outcome().is_none(), "heard 1.5 s ago");
    tick(&mut e, t0 + 29 * 1000 * MS);
    assert!(matches!(e.take_outcome(), Some(Err(ClientError::ServerStopped { .. }))));
}

#[test]
fn server_errors_end_the_run_with_their_code() {
    for (wire, code) in [
        ("error:password_mismatch", ErrorCode::PasswordMismatch),
        ("error:session_full", ErrorCode::SessionFull),
        ("error:session_non_existent", ErrorCode::SessionNonExistent),
    ] {
        let t0 = Instant::now();
        let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
        feed(&mut e, t0, SERVER, wire);
        match e.take_outcome() {
            Some(Err(ClientError::Server(c))) => assert_eq!(c, code),
            other => panic!("{wire}: {other:?}"),
        }
        assert!(tick(&mut e, t0 + 1000 * MS).0.is_empty(), "a failed engine sends nothing");
    }
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    feed(&mut e, t0, SERVER, "error:rate_limited");
    assert!(matches!(e.take_outcome(), Some(Err(ClientError::UnknownServerError(t))) if t == "rate_limited"));
}

#[test]
fn start_is_resent_until_the_start_message_then_y_once_per_round() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::host(SERVER, "S1", "Alice", 3).without_nat_classification(), t0).unwrap();
    feed(&mut e, t0, SERVER, "i:Alice:Bob");
    e.start(t0 + 100 * MS);
    let (ts, _, next) = drain(&mut e);
    assert_eq!(texts(&ts), ["s:S1:Alice"]);
    assert_eq!(next, t0 + 600 * MS);
    assert_eq!(texts(&tick(&mut e, t0 + 600 * MS).0), ["s:S1:Alice"]);
    let (ts, evs, _) = feed(&mut e, t0 + 700 * MS, SERVER, "s:40000:Bob:10.0.0.9:5555");
    let t = texts(&ts);
    assert_eq!(t[0], "y:S1:Alice");
    assert_eq!(ts[0].to, SERVER);
    assert!(t[1..].iter().all(|m| m.starts_with("g:Alice:40000:")), "{t:?}");
    assert!(evs.iter().any(|e| matches!(e, Event::Started { own_port: 40000, host, .. } if host == "Alice")));
    // A later s: round (our y: was lost): one more y:, nothing else to the server.
    let (ts, _, _) = feed(&mut e, t0 + 800 * MS, SERVER, "s:40000:Bob:10.0.0.9:5555");
    assert_eq!(texts(&ts), ["y:S1:Alice"]);
    // No more pings or s: to the server.
    let mut now = t0 + 800 * MS;
    for _ in 0..40 {
        now += 50 * MS;
        let (ts, _, _) = tick(&mut e, now);
        assert!(ts.iter().all(|t| t.to != SERVER));
    }
}

#[test]
fn refused_start_goes_back_to_pinging() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::host(SERVER, "S1", "Alice", 3).without_nat_classification(), t0).unwrap();
    feed(&mut e, t0, SERVER, "i:Alice");
    e.start(t0);
    drain(&mut e);
    let (_, evs, _) = feed(&mut e, t0 + 10 * MS, SERVER, "error:only_one_player_in_session");
    assert_eq!(evs, [Event::Refused(ErrorCode::OnlyOnePlayerInSession)]);
    assert_eq!(texts(&tick(&mut e, t0 + 500 * MS).0), ["p:S1:Alice"]);
    assert!(e.take_outcome().is_none());
}

#[test]
fn player_list_updates_and_host_hand_over_are_events() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    feed(&mut e, t0, SERVER, "i:Alice:Bob");
    let (_, evs, _) = feed(&mut e, t0, SERVER, "i:Alice:Bob");
    assert!(evs.is_empty(), "an unchanged list is no event");
    let (_, evs, _) = feed(&mut e, t0, SERVER, "i:Bob:Carol");
    assert_eq!(evs, [Event::Players(vec!["Bob".into(), "Carol".into()]), Event::BecameHost]);
    assert!(e.is_host());
    e.start(t0);
    assert_eq!(texts(&drain(&mut e).0), ["s:S1:Bob"]);
}

#[test]
fn exit_kick_and_unban_are_sent() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::host(SERVER, "S1", "Alice", 3).without_nat_classification(), t0).unwrap();
    feed(&mut e, t0, SERVER, "i:Alice:Bob");
    e.kick(t0, "Bob").unwrap();
    assert_eq!(texts(&drain(&mut e).0), ["k:S1:Bob"]);
    let (_, evs, _) = feed(&mut e, t0, SERVER, "error:non_existent_player");
    assert_eq!(evs, [Event::Refused(ErrorCode::NonExistentPlayer)]);
    assert!(e.kick(t0, "no one").is_err());
    e.unban(t0, "Bob").unwrap();
    assert_eq!(texts(&drain(&mut e).0), ["u:S1:Bob"]);
    let (_, evs, _) = feed(&mut e, t0, SERVER, "error:non_existent_player");
    assert_eq!(evs, [Event::Refused(ErrorCode::NonExistentPlayer)]);
    assert!(e.unban(t0, "no one").is_err());
    e.exit(t0);
    assert_eq!(texts(&drain(&mut e).0), ["x:S1:Alice"]);
    assert_eq!(texts(&tick(&mut e, t0 + 500 * MS).0), ["x:S1:Alice"]);
    feed(&mut e, t0, SERVER, "error:player_exited_session");
    assert!(matches!(e.take_outcome(), Some(Err(ClientError::Server(ErrorCode::PlayerExitedSession)))));
}

// ---------------------------------------------------------------- peer phase, single engine

#[test]
fn start_burst_covers_the_window_in_order_with_exact_field_3() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::join(SERVER, "S1", "Bob").without_nat_classification(), t0).unwrap();
    feed(&mut e, t0, SERVER, "i:Alice:Bob");
    let (ts, _, next) = feed(&mut e, t0, SERVER, "s:40000:Alice:10.0.0.9:5555");
    let greets: Vec<&Transmit> = ts.iter().filter(|t| t.to != SERVER).collect();
    let ports: Vec<u16> = greets.iter().map(|t| t.to.port()).collect();
    assert_eq!(ports, rhp_client::candidate_ports(5555));
    for t in &greets {
        assert_eq!(String::from_utf8_lossy(&t.data), format!("g:Bob:40000:{}", t.to.port()));
        assert_eq!(t.to.ip(), addr("10.0.0.9:1").ip());
    }
    assert_eq!(next, t0 + 50 * MS, "the first tick is 50 ms later");
}

#[test]
fn ticks_cycle_the_window_at_most_20_per_second_per_peer() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    let mut sent: Vec<(Instant, Transmit)> = Vec::new();
    let mut now = t0;
    for _ in 0..200 {
        let (_, _, next) = drain(&mut e);
        assert!(next > now);
        now = next;
        if now > t0 + Duration::from_secs(3) {
            break;
        }
        for t in tick(&mut e, now).0 {
            sent.push((now, t));
        }
    }
    for ip in ["10.0.0.9", "10.0.0.8"] {
        let to_peer: Vec<&(Instant, Transmit)> =
            sent.iter().filter(|(_, t)| t.to.ip().to_string() == ip).collect();
        // One per 50 ms tick, so 20 in any second.
        for w in to_peer.windows(2) {
            assert!(w[1].0 - w[0].0 >= 50 * MS);
        }
        let in_first_second = to_peer.iter().filter(|(t, _)| *t <= t0 + Duration::from_secs(1)).count();
        assert!(in_first_second <= 20, "{in_first_second}");
        // The cycle after the burst starts again at the reported port and follows the window.
        let base = if ip == "10.0.0.9" { 5555 } else { 6666 };
        let ports: Vec<u16> = to_peer.iter().take(17).map(|(_, t)| t.to.port()).collect();
        assert_eq!(ports, rhp_client::candidate_ports(base));
        for (_, t) in &to_peer {
            assert_eq!(String::from_utf8_lossy(&t.data), format!("g:Bob:40000:{}", t.to.port()));
        }
    }
}

#[test]
fn pins_to_the_source_address_and_confirms_at_once() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    // Alice's greeting comes from a shifted port (her NAT moved it).
    let (ts, evs, _) = feed(&mut e, t0 + 10 * MS, addr("10.0.0.9:5559"), "g:Alice:5555:40000");
    assert_eq!(texts(&ts), ["c:Bob:40000"]);
    assert_eq!(ts[0].to, addr("10.0.0.9:5559"));
    assert_eq!(evs, [Event::Heard { peer: "Alice".into(), from: addr("10.0.0.9:5559") }]);
    assert_eq!(e.peers()[0].status, PeerStatus::Heard);
    // From now on only the pinned address, alternating g: (field 3 = pinned port) and c:.
    let mut got = Vec::new();
    for k in 1..=4 {
        let (ts, _, _) = tick(&mut e, t0 + 10 * MS + k * 50 * MS);
        for t in ts {
            assert_eq!(t.to, addr("10.0.0.9:5559"));
            got.push(String::from_utf8_lossy(&t.data).into_owned());
        }
    }
    assert_eq!(got, ["g:Bob:40000:5559", "c:Bob:40000", "g:Bob:40000:5559", "c:Bob:40000"]);
}

#[test]
fn greetings_from_strangers_are_ignored() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    for (from, msg) in [
        ("10.0.0.9:5555", "g:Mallory:1:40000"),
        ("10.6.6.6:5555", "g:Alice:5555:40000"),
        ("10.0.0.9:5555", "hello"),
        ("10.0.0.9:5555", "d:data before any pin"),
    ] {
        let (ts, evs, _) = feed(&mut e, t0, addr(from), msg);
        assert!(ts.is_empty() && evs.is_empty(), "{from} {msg}");
    }
    assert_eq!(e.peers()[0].status, PeerStatus::Trying);
}

#[test]
fn connected_needs_heard_and_a_confirmation() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    feed(&mut e, t0, addr("10.0.0.9:5555"), "g:Alice:5555:40000");
    assert_eq!(e.peers()[0].status, PeerStatus::Heard);
    let (ts, evs, _) = feed(&mut e, t0 + 5 * MS, addr("10.0.0.9:5555"), "c:Alice:5555");
    assert_eq!(texts(&ts), ["c:Bob:40000"], "the first c: from a peer is answered at once");
    assert_eq!(
        evs,
        [Event::Connected {
            peer: "Alice".into(),
            addr: addr("10.0.0.9:5555"),
            after_start: 5 * MS,
            method: Method::Plain,
            probes: None
        }]
    );
    assert!(e.take_outcome().is_none(), "Carol is still missing");
    let (_, evs, _) = feed(&mut e, t0 + 9 * MS, addr("10.0.0.8:6666"), "c:Carol:6666");
    assert!(evs.contains(&Event::Done { connected: 2, total: 2, after_start: 9 * MS }), "{evs:?}");
    assert!(matches!(e.take_outcome(), Some(Ok(()))));
}

#[test]
fn reactive_confirmations_never_exceed_what_comes_in() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    let alice = addr("10.0.0.9:5555");
    feed(&mut e, t0, alice, "c:Alice:5555");
    assert!(matches!(e.take_outcome(), Some(Ok(()))));
    // After the phase: every g: gets one c:, c: gets one c: per two.
    let mut out = 0;
    for k in 0..10 {
        out += feed(&mut e, t0 + k * 50 * MS, alice, "g:Alice:5555:40000").0.len();
    }
    assert_eq!(out, 10);
    let mut out = 0;
    for k in 0..10 {
        out += feed(&mut e, t0 + k * 50 * MS, alice, "c:Alice:5555").0.len();
    }
    assert_eq!(out, 5);
    // And no timer traffic once connected (non-host).
    assert!(tick(&mut e, t0 + Duration::from_secs(5)).0.is_empty());
}

#[test]
fn a_greeting_burst_does_not_raise_the_rate_above_one_per_tick() {
    // Bob hears a Godot peer's 5-greetings-per-port burst while its own ticks run.
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    let alice = addr("10.0.0.9:5555");
    let mut to_alice = 0;
    let mut now = t0;
    for k in 0..40u32 {
        let at = t0 + k * 25 * MS;
        while now < at {
            let (_, _, next) = drain(&mut e);
            if next > at {
                break;
            }
            now = next;
            to_alice += tick(&mut e, now).0.iter().filter(|t| t.to.ip() == alice.ip()).count();
        }
        now = at;
        to_alice += feed(&mut e, at, alice, "g:Alice:5555:40000").0.len();
    }
    // 1 s: 20 ticks plus the one c: on first hearing (the start burst is not counted here).
    assert!(to_alice <= 21, "{to_alice} datagrams to Alice in 1 s");
}

#[test]
fn host_sends_start_in_until_y_or_one_and_a_half_seconds() {
    let (mut e, t0) = started("Alice", true, &[("Bob", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    let (bob, carol) = (addr("10.0.0.9:5555"), addr("10.0.0.8:6666"));
    let (ts, _, _) = feed(&mut e, t0 + 10 * MS, bob, "c:Bob:5555");
    assert_eq!(texts(&ts), ["c:Alice:40000", "s:1"], "c: then s:<n> at once");
    feed(&mut e, t0 + 10 * MS, carol, "c:Carol:6666");
    assert!(matches!(e.take_outcome(), Some(Ok(()))));
    let mut to_bob = 0;
    let mut to_carol = Vec::new();
    let mut acked = false;
    for _ in 0..100 {
        let (_, _, next) = drain(&mut e);
        if next > t0 + Duration::from_secs(10) {
            break;
        }
        let now = next;
        if now >= t0 + 200 * MS && !acked {
            let (ts, _, _) = feed(&mut e, now, bob, "y:Bob:5555");
            assert_eq!(texts(&ts), ["c:Alice:40000"], "a y: is answered with one c:");
            acked = true;
        }
        for t in tick(&mut e, now).0 {
            assert_eq!(String::from_utf8_lossy(&t.data), "s:1");
            if t.to == bob {
                to_bob += 1;
            } else {
                to_carol.push(now);
            }
        }
    }
    assert_eq!(to_bob, 3, "s:1 to Bob on the ticks at 60, 110, 160 ms, then his y: stops them");
    assert_eq!(to_carol.len(), 29, "s:1 to Carol every 50 ms for 1.5 s");
    assert!(*to_carol.last().unwrap() < t0 + 10 * MS + 1500 * MS);
    assert!(e.is_settled());
}

#[test]
fn a_custom_start_delay_is_sent() {
    let t0 = Instant::now();
    let mut config = Config::host(SERVER, "S1", "Alice", 2).without_nat_classification();
    config.start_in_secs = 3;
    let mut e = Engine::new(config, t0).unwrap();
    feed(&mut e, t0, SERVER, "i:Alice:Bob");
    feed(&mut e, t0, SERVER, "s:40000:Bob:10.0.0.9:5555");
    let (ts, _, _) = feed(&mut e, t0, addr("10.0.0.9:5555"), "c:Bob:5555");
    assert_eq!(texts(&ts), ["c:Alice:40000", "s:3"]);
}

#[test]
fn non_host_answers_every_start_in_from_the_host_with_y() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    let alice = addr("10.0.0.9:5555");
    feed(&mut e, t0, alice, "c:Alice:5555");
    for _ in 0..3 {
        let (ts, _, _) = feed(&mut e, t0, alice, "s:3");
        assert_eq!(texts(&ts), ["y:Bob:40000"]);
    }
    // s:<n> from a non-host is not the host's, nor from another port of the host's IP.
    let (ts, _, _) = feed(&mut e, t0, addr("10.0.0.8:6666"), "s:3");
    assert!(ts.is_empty());
    let (ts, _, _) = feed(&mut e, t0, addr("10.0.0.9:5556"), "s:3");
    assert!(ts.is_empty());
}

#[test]
fn my_port_is_learned_from_greetings_field_3() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    feed(&mut e, t0, addr("10.0.0.9:5555"), "g:Alice:5555:40003");
    let (ts, _, _) = feed(&mut e, t0, addr("10.0.0.8:6666"), "g:Carol:6666:40003");
    assert_eq!(texts(&ts), ["c:Bob:40003"]);
    assert_eq!(e.my_port(), Some(40003));
}

#[test]
fn at_the_deadline_missing_peers_fail_and_the_rest_finish() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    feed(&mut e, t0, addr("10.0.0.9:5555"), "c:Alice:5555");
    tick(&mut e, t0 + Duration::from_secs(19));
    assert!(e.take_outcome().is_none());
    let (_, evs, _) = tick(&mut e, t0 + Duration::from_secs(20));
    assert!(evs.contains(&Event::Failed { peer: "Carol".into(), reason: FailReason::NeverHeard }));
    assert!(evs.contains(&Event::Done { connected: 1, total: 2, after_start: Duration::from_secs(20) }));
    assert!(matches!(e.take_outcome(), Some(Ok(()))));
    assert_eq!(e.peers()[1].status, PeerStatus::Failed(FailReason::NeverHeard));
    // No more greetings to Carol after the deadline.
    assert!(tick(&mut e, t0 + Duration::from_secs(21)).0.is_empty());
}

#[test]
fn nobody_heard_is_unreachable_self() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    tick(&mut e, t0 + Duration::from_secs(20));
    assert!(matches!(e.take_outcome(), Some(Err(ClientError::UnreachableSelf))));
}

#[test]
fn a_host_that_never_confirms_is_host_not_confirmed() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555"), ("Carol", "10.0.0.8:6666")]);
    feed(&mut e, t0, addr("10.0.0.9:5555"), "g:Alice:5555:40000");
    feed(&mut e, t0, addr("10.0.0.8:6666"), "c:Carol:6666");
    let (_, evs, _) = tick(&mut e, t0 + Duration::from_secs(20));
    assert!(evs.contains(&Event::Failed { peer: "Alice".into(), reason: FailReason::NeverConfirmed }));
    assert!(matches!(e.take_outcome(), Some(Err(ClientError::HostNotConfirmed(h))) if h == "Alice"));
}

#[test]
fn application_data_comes_only_from_pinned_peers() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    feed(&mut e, t0, addr("10.0.0.9:5555"), "c:Alice:5555");
    let (_, evs, _) = feed(&mut e, t0, addr("10.0.0.9:5555"), "d:hi there");
    assert_eq!(evs, [Event::Data { peer: "Alice".into(), data: b"hi there".to_vec() }]);
    let (_, evs, _) = feed(&mut e, t0, addr("10.0.0.9:5556"), "d:spoofed");
    assert!(evs.is_empty());
    let t = e.data_to("Alice", b"\x00bin").unwrap();
    assert_eq!(t.to, addr("10.0.0.9:5555"));
    assert_eq!(t.data, b"d:\x00bin");
    assert!(e.data_to("Nobody", b"x").is_err());
}

#[test]
fn garbage_never_panics() {
    let (mut e, t0) = started("Bob", false, &[("Alice", "10.0.0.9:5555")]);
    let mut x: u32 = 12345;
    for len in 0..200usize {
        let data: Vec<u8> = (0..len % 40)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b"gcsyd:0123456789AliceBob\xff"[(x % 25) as usize]
            })
            .collect();
        e.handle_input(Input::Datagram {
            now: t0,
            via: SocketId::MAIN,
            from: addr("10.0.0.9:5555"),
            data: &data,
        });
        e.handle_input(Input::Datagram { now: t0, via: SocketId::MAIN, from: SERVER, data: &data });
        drain(&mut e);
    }
}
