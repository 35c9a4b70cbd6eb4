//! Unit tests of the lobby's view of the server: the watch socket's requests, an ICMP "port
//! unreachable" reported by the driver, silence reported as it lasts, and no NAT conclusion
//! from a server that never answered (injected clock, no sockets).

mod common;

use common::{addr, classify, feed, join, tick, LOCAL_PORT, MS, SERVER};
use rhp_client::{ClientError, Config, Engine, Event, Input, Output, SocketId, Transmit};
use std::time::{Duration, Instant};

/// Every output until the engine waits, watch requests included: (transmits, events, deadline).
fn drain_all(e: &mut Engine) -> (Vec<Transmit>, Vec<Event>, Instant) {
    let (mut ts, mut evs) = (Vec::new(), Vec::new());
    loop {
        match e.poll_output() {
            Output::Transmit(t) => ts.push(t),
            Output::Event(ev) => evs.push(ev),
            Output::Open(_) | Output::Close(_) => {}
            Output::Timeout(t) => return (ts, evs, t),
        }
    }
}

fn watch_sends(ts: &[Transmit]) -> usize {
    ts.iter()
        .filter(|t| t.via == rhp_client::WATCH && t.to == SERVER && rhp_proto::stun::is_stun(&t.data))
        .count()
}

fn unreachable(e: &mut Engine, now: Instant) -> Option<Result<(), ClientError>> {
    e.handle_input(Input::Unreachable { now, to: SERVER });
    drain_all(e);
    e.take_outcome()
}

#[test]
fn the_watch_asks_at_once_and_every_second_until_the_server_answers() {
    let t0 = Instant::now();
    let mut e = Engine::new(join().without_nat_classification(), t0).unwrap();
    let (ts, _, _) = drain_all(&mut e);
    assert_eq!(watch_sends(&ts), 1, "a watch request goes with the first c:");
    let mut sent = 0;
    for i in 1..=40 {
        e.handle_input(Input::Timeout(t0 + 100 * MS * i));
        sent += watch_sends(&drain_all(&mut e).0);
    }
    assert_eq!(sent, 4, "one a second while nothing comes (1, 2, 3, 4 s)");
    // Once it answers (and goes on answering), the watch is quiet...
    let t1 = t0 + Duration::from_secs(4) + 50 * MS;
    e.handle_input(Input::Datagram { now: t1, via: SocketId::MAIN, from: SERVER, data: b"i:Alice:Bob" });
    let mut sent = watch_sends(&drain_all(&mut e).0);
    for i in 1..=8 {
        let now = t1 + 100 * MS * i;
        e.handle_input(Input::Datagram { now, via: SocketId::MAIN, from: SERVER, data: b"i:Alice:Bob" });
        sent += watch_sends(&drain_all(&mut e).0);
    }
    assert_eq!(sent, 0, "heard within the last second");
    // ...until it has been silent for a second.
    let heard = t1 + 800 * MS;
    e.handle_input(Input::Timeout(heard + 1000 * MS));
    assert_eq!(watch_sends(&drain_all(&mut e).0), 1);
}

#[test]
fn port_unreachable_before_any_answer_is_nothing_listening() {
    let t0 = Instant::now();
    let mut e = Engine::new(join(), t0).unwrap();
    drain_all(&mut e);
    // An ICMP error about another address is not about the server.
    e.handle_input(Input::Unreachable { now: t0 + MS, to: addr("10.0.0.1:57776") });
    drain_all(&mut e);
    assert!(e.take_outcome().is_none());
    let outcome = unreachable(&mut e, t0 + 2 * MS);
    assert!(matches!(outcome, Some(Err(ClientError::ServerUnreachable(a))) if a == SERVER), "{outcome:?}");
    let (ts, events, _) = drain_all(&mut e);
    assert!(ts.is_empty(), "a failed run sends nothing more");
    assert!(!events.iter().any(|ev| matches!(ev, Event::Nat(_))), "no NAT conclusion: {events:?}");
}

#[test]
fn port_unreachable_after_an_answer_is_a_server_that_is_gone() {
    let t0 = Instant::now();
    let mut e = Engine::new(join().without_nat_classification(), t0).unwrap();
    drain_all(&mut e);
    e.handle_input(Input::Datagram { now: t0 + MS, via: SocketId::MAIN, from: SERVER, data: b"i:Alice:Bob" });
    drain_all(&mut e);
    let outcome = unreachable(&mut e, t0 + 3000 * MS);
    assert!(matches!(outcome, Some(Err(ClientError::ServerGone(a))) if a == SERVER), "{outcome:?}");
}

#[test]
fn silence_is_reported_as_it_lasts() {
    let t0 = Instant::now();
    let mut e = Engine::new(join().without_nat_classification(), t0).unwrap();
    drain_all(&mut e);
    let mut reports = Vec::new();
    let mut now = t0;
    for _ in 0..200 {
        let (_, events, next) = drain_all(&mut e);
        reports.extend(events.into_iter().filter_map(|ev| match ev {
            Event::ServerSilent { silent_for, answered_before } => Some((silent_for, answered_before)),
            _ => None,
        }));
        if e.take_outcome().is_some() {
            break;
        }
        now = next;
        e.handle_input(Input::Timeout(now));
    }
    let secs: Vec<u64> = reports.iter().map(|(d, _)| d.as_secs()).collect();
    assert_eq!(secs, vec![3, 6, 9, 12], "every 3 s until the 15 s timeout");
    assert!(reports.iter().all(|(_, before)| !before));
    assert_eq!(now, t0 + Duration::from_secs(15));

    // A server that answered is allowed the 5 s a budgeted server may take between answers.
    let mut e = Engine::new(join().without_nat_classification(), t0).unwrap();
    e.handle_input(Input::Datagram { now: t0, via: SocketId::MAIN, from: SERVER, data: b"i:Alice:Bob" });
    drain_all(&mut e);
    e.handle_input(Input::Timeout(t0 + 6 * 1000 * MS));
    assert!(!drain_all(&mut e).1.iter().any(|ev| matches!(ev, Event::ServerSilent { .. })));
    e.handle_input(Input::Timeout(t0 + 7 * 1000 * MS));
    let events = drain_all(&mut e).1;
    assert!(
        events.iter().any(|ev| matches!(ev, Event::ServerSilent { answered_before: true, .. })),
        "{events:?}"
    );
}

#[test]
fn no_nat_conclusion_while_the_server_never_answered() {
    // No STUN answer at all, and no i: either: the classifier gives up, nothing is concluded.
    let (mut e, now, out) = classify(join(), [None, None, None, None]);
    assert!(!out.events.iter().any(|ev| matches!(ev, Event::Nat(_))), "{:?}", out.events);
    // The server answers later (a server without STUN): now "unknown" is a true statement.
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    assert!(o.events.iter().any(|ev| matches!(ev, Event::Nat(r) if r.kind == rhp_client::NatKind::Unknown)));
}

#[test]
fn a_silent_alternate_port_is_named_in_the_verdict() {
    let (e, _, _) = classify(join(), [Some(LOCAL_PORT), None, None, None]);
    let report = e.nat_report().expect("classified");
    let verdict = report.verdict();
    assert!(
        verdict.starts_with("partial: the server's second STUN port 10.0.0.1:57776 did not answer"),
        "{verdict}"
    );
    assert!(verdict.contains("open UDP port 57776"), "{verdict}");
    let (e, _, _) = classify(join(), [None, None, None, None]);
    assert!(e
        .nat_report()
        .expect("classified")
        .verdict()
        .starts_with("unknown: the server answered no STUN"));
}

#[test]
fn a_config_without_classification_still_watches() {
    let t0 = Instant::now();
    let mut e = Engine::new(Config::host(SERVER, "S1", "Al", 2).without_nat_classification(), t0).unwrap();
    assert_eq!(watch_sends(&drain_all(&mut e).0), 1);
    let _ = tick;
}
