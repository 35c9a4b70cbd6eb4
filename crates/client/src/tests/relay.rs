//! Unit tests of the relay path on an injected clock: the `r:` ask, the grant, binds and
//! hellos, a relayed peer reported connected at once, data both ways through the relay, the
//! move to a direct path, and background direct attempts with candidates after the deadline.

use super::util::{addr, classify, drain, feed, join, text, tick, Out, ALICE, LOCAL_PORT, MS, SERVER};
use crate::punch::RETRY_EVERY;
use crate::relay::{ACK, ALIVE, CANDIDATE, DATA, LEAVE};
use crate::{Engine, Event, LeaveReason, Method, Path, SocketId};
use rhp_proto::relay::{FromServer, ToServer};
use std::time::{Duration, Instant};

const TOKEN: u64 = 0xab;

fn relay_in(from: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    FromServer::Data { from, payload }.write_to(&mut b);
    b
}

/// Relay frames in `out` to the server, as (to, payload).
fn frames(out: &Out) -> Vec<(u8, Vec<u8>)> {
    out.ts
        .iter()
        .filter(|t| t.to == SERVER)
        .filter_map(|t| match ToServer::parse(&t.data) {
            Ok(ToServer::Data { token: TOKEN, to, payload }) => Some((to, payload.to_vec())),
            _ => None,
        })
        .collect()
}

/// Bob (easy) joins Alice's session; both asked for the relay; the session starts.
fn relayed_start() -> (Engine, Instant, Out) {
    let (mut e, now, _) = classify(join(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    assert!(o.ts.iter().any(|t| t.to == SERVER && text(t) == "r:S1:Bob"), "asks for the relay once joined");
    feed(&mut e, now, SocketId::MAIN, SERVER, b"n:Alice:r:Bob:e");
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"r:00000000000000ab:Alice:Bob");
    let bind = o.ts.iter().find(|t| t.to == SERVER).expect("bind");
    assert_eq!(ToServer::parse(&bind.data), Ok(ToServer::Bind { token: TOKEN }));
    assert!(frames(&o).is_empty(), "no hello before the start");
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
    (e, now, o)
}

#[test]
fn a_peer_the_relay_reaches_is_connected_at_once_and_data_flows_through_it() {
    let (mut e, now, o) = relayed_start();
    assert_eq!(
        frames(&o),
        vec![(0, b"\x01Bob".to_vec())],
        "hello (with our name) to Alice (index 0) with the first burst"
    );
    assert!(o.ts.iter().any(|t| text(t).starts_with("g:Bob:")), "direct punching starts too");
    // Alice hellos us: answered; her ack brings the relay up.
    let o = feed(&mut e, now + 5 * MS, SocketId::MAIN, SERVER, &relay_in(0, b"\x01Alice"));
    assert_eq!(frames(&o), vec![(0, vec![ACK])]);
    let o = feed(&mut e, now + 6 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[ACK]));
    let connected = o.events.iter().find_map(|ev| match ev {
        Event::Connected { peer, addr, method, .. } => Some((peer.clone(), *addr, *method)),
        _ => None,
    });
    assert_eq!(connected, Some(("Alice".into(), SERVER, Method::Relay)));
    assert!(o.events.iter().any(|ev| matches!(ev, Event::Done { connected: 1, total: 1, .. })));
    assert!(matches!(e.take_outcome(), Some(Ok(()))), "the mesh is ready on the relay");
    assert_eq!(e.peers()[0].path(), Some(Path::Relay));
    // Application data goes through the relay, and comes from it.
    let t = e.data_to("Alice", b"x").unwrap();
    assert_eq!(t.to, SERVER);
    assert_eq!(ToServer::parse(&t.data), Ok(ToServer::Data { token: TOKEN, to: 0, payload: &[DATA, b'x'] }));
    let o = feed(&mut e, now + 7 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[DATA, b'h', b'i']));
    assert!(o
        .events
        .iter()
        .any(|ev| matches!(ev, Event::Data { peer, data } if peer == "Alice" && data == b"hi")));
    // A direct path opens: the peer moves to it (an Upgraded event, not a second Connected).
    feed(&mut e, now + 300 * MS, SocketId::MAIN, addr(ALICE), b"g:Alice:7000:5000");
    let o = feed(&mut e, now + 301 * MS, SocketId::MAIN, addr(ALICE), b"c:Alice:7000");
    assert!(o.events.iter().any(
        |ev| matches!(ev, Event::Upgraded { peer, addr: a, .. } if peer == "Alice" && *a == addr(ALICE))
    ));
    assert!(!o.events.iter().any(|ev| matches!(ev, Event::Connected { .. })));
    assert_eq!(e.data_to("Alice", b"x").unwrap().to, addr(ALICE));
    assert_eq!(e.peers()[0].path(), Some(Path::Direct(SocketId::MAIN, addr(ALICE))));
    // Relayed data still in flight is still delivered.
    let o = feed(&mut e, now + 302 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[DATA, b'z']));
    assert!(o.events.iter().any(|ev| matches!(ev, Event::Data { data, .. } if data == b"z")));
    // Done: the slot goes back to the server, once.
    let t = e.leave_relay().unwrap();
    assert_eq!((t.to, ToServer::parse(&t.data)), (SERVER, Ok(ToServer::Leave { token: TOKEN })));
    assert!(e.leave_relay().is_none());
    let o = tick(&mut e, now + Duration::from_secs(30));
    assert!(o.ts.iter().all(|x| !rhp_proto::relay::is_frame(&x.data)), "no binds after leaving");
}

#[test]
fn a_relayed_peer_is_not_failed_at_the_deadline_and_direct_is_retried_with_its_candidate() {
    let (mut e, now, _) = relayed_start();
    feed(&mut e, now + 5 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[ACK]));
    let deadline = now + Duration::from_secs(20);
    let mut t = now;
    let mut at_deadline = Out::default();
    let mut n = 0u32;
    while t < deadline + 10 * MS {
        t += 50 * MS;
        n += 1;
        if n.is_multiple_of(40) {
            // Alice's keepalive through the relay, every 2 s.
            feed(&mut e, t, SocketId::MAIN, SERVER, &relay_in(0, &[ALIVE]));
        }
        let o = tick(&mut e, t);
        at_deadline.events.extend(o.events);
        at_deadline.ts.extend(o.ts);
    }
    assert!(!at_deadline.events.iter().any(|ev| matches!(ev, Event::Failed { .. })), "relayed, not failed");
    assert!(!at_deadline.events.iter().any(|ev| matches!(ev, Event::PeerLeft { .. })), "kept alive");
    let alives = frames(&at_deadline).iter().filter(|f| *f == &(0, vec![ALIVE])).count();
    assert!((9..=11).contains(&alives), "our keepalive to Alice through the relay every 2 s: {alives}");
    // Alice's NAT changed: she tells us her new address through the relay.
    feed(&mut e, t, SocketId::MAIN, SERVER, &relay_in(0, b"\x04203.0.113.5:9999"));
    feed(&mut e, t, SocketId::MAIN, SERVER, &relay_in(0, b"\x04192.0.2.66:1234"));
    let o = tick(&mut e, t + RETRY_EVERY);
    let greets: Vec<_> = o.ts.iter().filter(|x| text(x).starts_with("g:Bob:")).map(|x| x.to).collect();
    assert_eq!(greets.first(), Some(&addr("203.0.113.5:9999")), "the candidate first");
    assert_eq!(greets.len(), 18, "then the reported window");
    assert!(greets.iter().all(|a| a.ip() == addr(ALICE).ip()), "never an address on another IP");
    // We ask for our own public address (STUN) and tell Alice ours.
    assert!(o.ts.iter().any(|x| x.to == SERVER && rhp_proto::stun::is_stun(&x.data)));
    // Bounded: one burst per interval.
    let o = tick(&mut e, t + RETRY_EVERY + 100 * MS);
    assert!(o.ts.iter().all(|x| !text(x).starts_with("g:")));
    let _ = CANDIDATE;
}

#[test]
fn without_a_grant_nothing_of_the_relay_goes_out() {
    // The server granted nothing (an original server, or a Godot session): plain run.
    let (mut e, now, _) = classify(join(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
    assert!(frames(&o).is_empty());
    assert!(o.ts.iter().any(|x| x.to == SERVER && text(x) == "r:S1:Bob"), "asks again at once");
    assert!(!o.ts.iter().any(|x| text(x).starts_with("y:")), "y: waits for the grant");
    let mut t = now;
    let mut asks = 1;
    let mut confirms = Vec::new();
    for _ in 0..100 {
        t += 50 * MS;
        let o = tick(&mut e, t);
        assert!(o.ts.iter().all(|x| !rhp_proto::relay::is_frame(&x.data)));
        asks += o.ts.iter().filter(|x| text(x) == "r:S1:Bob").count();
        if o.ts.iter().any(|x| x.to == SERVER && text(x) == "y:S1:Bob") {
            confirms.push(t - now);
        }
    }
    // No grant came: y: goes once the start rounds are over.
    assert_eq!(confirms, vec![Duration::from_millis(800)]);
    // Started without a grant: r: a few more times while the start rounds last, then never.
    assert!((1..=5).contains(&asks), "{asks}");
    // With the relay off, no r: either.
    let mut config = join();
    config.nat.relay = false;
    let (mut e, now, _) = classify(config, [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    assert!(!o.ts.iter().any(|x| text(x).starts_with("r:")));
    let _ = drain(&mut e);
}

/// The grant sent with our start message was lost: we ask again at once and hold our `y:`, so the
/// server's next start round (which carries the grant) still comes; the grant brings the relay up
/// and the `y:` goes then.
#[test]
fn a_start_without_the_grant_asks_again_and_holds_the_confirm_until_it_comes() {
    let (mut e, now, _) = classify(join(), [Some(LOCAL_PORT), Some(LOCAL_PORT), None, None]);
    feed(&mut e, now, SocketId::MAIN, SERVER, b"i:Alice:Bob");
    let o = feed(&mut e, now, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
    assert!(o.ts.iter().any(|x| x.to == SERVER && text(x) == "r:S1:Bob"));
    assert!(!o.ts.iter().any(|x| text(x).starts_with("y:")));
    // The next round: its grant, then the start message again.
    let o = feed(&mut e, now + 100 * MS, SocketId::MAIN, SERVER, b"r:00000000000000ab:Alice:Bob");
    assert!(o.ts.iter().any(|x| x.to == SERVER && text(x) == "y:S1:Bob"), "y: once the grant is here");
    assert!(o.ts.iter().any(|x| ToServer::parse(&x.data) == Ok(ToServer::Bind { token: TOKEN })));
    assert_eq!(frames(&o), vec![(0, b"\x01Bob".to_vec())], "hello to Alice at once");
    let o = feed(&mut e, now + 101 * MS, SocketId::MAIN, SERVER, b"s:40000:Alice:203.0.113.5:7000");
    assert_eq!(o.ts.iter().filter(|x| x.to == SERVER && text(x) == "y:S1:Bob").count(), 1);
    // No more asks: we have the grant.
    let mut t = now + 101 * MS;
    for _ in 0..20 {
        t += 50 * MS;
        assert!(!tick(&mut e, t).ts.iter().any(|x| text(x).starts_with("r:") || text(x).starts_with("y:")));
    }
}

#[test]
fn a_relayed_peer_is_told_we_leave_and_its_leave_through_the_relay_is_reported() {
    let (mut e, now, _) = relayed_start();
    feed(&mut e, now + 5 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[ACK]));
    // Our farewell to a relayed-only peer goes through the relay (and only there).
    let bye = e.farewell();
    assert_eq!(bye.len(), 1, "{bye:?}");
    assert_eq!(
        (bye[0].to, ToServer::parse(&bye[0].data)),
        (SERVER, Ok(ToServer::Data { token: TOKEN, to: 0, payload: &[LEAVE] }))
    );
    // Alice leaves through the relay: reported once, and nothing more goes to her.
    let o = feed(&mut e, now + 10 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[LEAVE]));
    let left: Vec<_> = o.events.iter().filter(|ev| matches!(ev, Event::PeerLeft { .. })).collect();
    assert_eq!(left, [&Event::PeerLeft { peer: "Alice".into(), reason: LeaveReason::Left }]);
    let o = feed(&mut e, now + 11 * MS, SocketId::MAIN, SERVER, &relay_in(0, &[LEAVE]));
    assert!(o.events.is_empty(), "{:?}", o.events);
    assert!(e.data_to("Alice", b"x").is_err());
    assert!(e.farewell().is_empty());
    // Alice was the host: we are the only one left, so we are the host now.
    assert_eq!(e.host(), Some("Bob"));
    assert!(e.is_host());
}
