//! STUN and the `e:`/`n:` extension, engine level (fake clock, no sockets): Binding requests are
//! answered on the main and the alternate port with the sender's address, from the port they came
//! to, within the anti-reflection budget; other STUN messages and Rabid requests on the alternate
//! port are dropped; `e:` stores a NAT descriptor and is answered `n:`, which only `e:` senders
//! ever get, right before each of their start messages.

mod common;
use common::{addr, ms, to, H};
use rhp_proto::stun::{parse_binding_response, write_binding_request};
use rhp_server::{Config, Engine, SessionStore, SocketId, Transmit, ALT};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn binding_request(txid: u8) -> Vec<u8> {
    let mut out = Vec::new();
    write_binding_request([txid; 12], &mut out);
    out
}

/// Datagrams queued for one socket: (destination, bytes).
type Queue = Vec<(SocketAddr, Vec<u8>)>;

/// Everything queued, split by the socket it leaves from: the main one and the alternate one.
fn drain(engine: &mut Engine) -> (Queue, Queue) {
    let (mut main, mut alt, mut tx) = (Vec::new(), Vec::new(), Transmit::empty());
    while engine.poll_transmit(&mut tx) {
        let queue = if tx.via == SocketId::MAIN { &mut main } else { &mut alt };
        assert!(tx.via == SocketId::MAIN || tx.via == ALT, "sent from {}", tx.via);
        queue.push((tx.to, tx.data.clone()));
    }
    (main, alt)
}

#[test]
fn binding_request_on_the_main_port_is_answered_with_the_senders_address() {
    let mut engine = Engine::new(Config::default());
    let now = Instant::now();
    for from in [addr(1), "[2001:db8::7]:4444".parse().unwrap(), "[::ffff:10.0.0.9]:5555".parse().unwrap()] {
        engine.handle_datagram(now, SocketId::MAIN, from, &binding_request(7));
        let (main, alt) = drain(&mut engine);
        assert!(alt.is_empty());
        assert_eq!(main.len(), 1, "{from}");
        assert_eq!(main[0].0, from);
        let (txid, mapped) = parse_binding_response(&main[0].1).expect("a binding response");
        assert_eq!(txid, [7; 12]);
        assert_eq!(mapped, SocketAddr::new(from.ip().to_canonical(), from.port()));
    }
}

#[test]
fn classic_request_is_answered_with_mapped_address() {
    let mut engine = Engine::new(Config::default());
    // RFC 3489, as Debian's stun client sends it: no cookie, CHANGE-REQUEST without flags.
    let mut req = vec![0x00, 0x01, 0x00, 0x08];
    req.extend_from_slice(&[1; 16]);
    req.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]);
    engine.handle_datagram(Instant::now(), SocketId::MAIN, addr(3), &req);
    let (main, _) = drain(&mut engine);
    assert_eq!(main.len(), 1);
    let resp = &main[0].1;
    assert_eq!(&resp[..2], &[0x01, 0x01]);
    assert_eq!(&resp[4..20], &[1; 16]);
    assert_eq!(&resp[20..32], &[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x9c, 0x43, 10, 0, 0, 3]);
    // Asking for another IP or port is not something this server can honour: no answer.
    let last = req.len() - 1;
    req[last] = 0x06;
    engine.handle_datagram(Instant::now(), SocketId::MAIN, addr(3), &req);
    assert_eq!(drain(&mut engine), (vec![], vec![]));
}

#[test]
fn binding_request_on_the_alt_port_is_answered_from_the_alt_port() {
    let mut engine = Engine::new(Config::default());
    engine.handle_datagram(Instant::now(), ALT, addr(2), &binding_request(9));
    let (main, alt) = drain(&mut engine);
    assert!(main.is_empty(), "nothing leaves from the main socket");
    assert_eq!(alt.len(), 1);
    assert_eq!(alt[0].0, addr(2));
    assert_eq!(parse_binding_response(&alt[0].1), Ok(([9; 12], addr(2))));
    // The same request on the main socket is answered from the main socket.
    engine.handle_datagram(Instant::now(), SocketId::MAIN, addr(2), &binding_request(9));
    let (main, alt) = drain(&mut engine);
    assert_eq!((main.len(), alt.len()), (1, 0));
}

#[test]
fn rabid_requests_on_the_alt_port_are_ignored() {
    let mut engine = Engine::new(Config::original());
    let now = Instant::now();
    for text in ["h:Room:Alice:4", "c:Room:Bob", "p:Room:Alice", "garbage", "e:Room:Alice:cone"] {
        engine.handle_datagram(now, ALT, addr(1), text.as_bytes());
    }
    assert_eq!(drain(&mut engine), (vec![], vec![]));
    assert_eq!(engine.session_count(), 0);
}

#[test]
fn other_stun_messages_are_dropped_silently() {
    let mut engine = Engine::new(Config::original());
    let now = Instant::now();
    let mut request = binding_request(1);
    // Binding success response, Binding indication, an Allocate request (TURN), a broken attribute.
    let mut inputs = Vec::new();
    for kind in [[0x01, 0x01], [0x00, 0x11], [0x00, 0x03]] {
        let mut m = request.clone();
        m[..2].copy_from_slice(&kind);
        inputs.push(m);
    }
    request[3] = 4;
    request.extend_from_slice(&[0x80, 0x22, 0x00, 0x10]);
    inputs.push(request);
    for data in &inputs {
        engine.handle_datagram(now, SocketId::MAIN, addr(1), data);
        engine.handle_datagram(now, ALT, addr(1), data);
    }
    assert_eq!(drain(&mut engine), (vec![], vec![]));
}

#[test]
fn a_spoofed_stun_flood_gets_at_most_the_budget_factor() {
    let config = Config::default();
    let factor = u64::from(config.budget.factor);
    let mut engine = Engine::new(config);
    let t0 = Instant::now();
    let victim = addr(5);
    let (mut received, mut sent) = (0u64, 0u64);
    for i in 0..2_000u32 {
        let now = t0 + Duration::from_micros(u64::from(i) * 500);
        let via = if i % 2 == 0 { SocketId::MAIN } else { ALT };
        let req = binding_request(i as u8);
        received += req.len() as u64;
        engine.handle_datagram(now, via, victim, &req);
        let (main, alt) = drain(&mut engine);
        assert!(main.len() + alt.len() <= 1, "one answer per request at most");
        sent += main.iter().chain(&alt).map(|(_, d)| d.len() as u64).sum::<u64>();
    }
    assert!(sent > 0, "honest STUN gets answers");
    assert!(sent <= factor * received, "victim got {sent} bytes for {received} forged");
    // A member whose account is spent gets no STUN answers beyond it either: the same budget.
    assert!(engine.budget_tracked() <= 1);
}

#[test]
fn one_datagram_credit_pays_for_one_answer_only() {
    let mut engine = Engine::new(Config::default());
    let now = Instant::now();
    engine.handle_datagram(now, SocketId::MAIN, addr(6), &binding_request(1));
    let (main, _) = drain(&mut engine);
    assert_eq!(main.len(), 1);
    // The one-datagram account is gone: nothing is owed to addr(6) now, not even a queued copy.
    assert_eq!(engine.queued_transmits(), 0);
    assert_eq!(engine.budget_tracked(), 0, "STUN never opens a budget account");
}

#[test]
fn e_stores_the_descriptor_and_is_answered_n() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    // Only Alice sent one: she alone is told.
    h.ask(addr(1), "e:Room:Alice:cone", "n:Alice:cone");
    let st = h.engine.store().get("Room").expect("session");
    assert_eq!(st.players[0].nat.as_deref().map(|d| d.as_str()), Some("cone"));
    // Bob's is new: he gets the list, and so does Alice (the other e: sender); Carol does not.
    let out = h.send(addr(2), "e:Room:Bob:sym+4");
    assert_eq!(
        out,
        vec![(addr(2), "n:Alice:cone:Bob:sym+4".to_owned()), (addr(1), "n:Alice:cone:Bob:sym+4".to_owned())]
    );
    // The same descriptor again: only the sender is answered.
    h.ask(addr(2), "e:Room:Bob:sym+4", "n:Alice:cone:Bob:sym+4");
    // A changed one goes to the others again.
    let out = h.send(addr(1), "e:Room:Alice:open");
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|(_, t)| t == "n:Alice:open:Bob:sym+4"));
    // Pings are unchanged.
    h.ask(addr(3), "p:Room:Carol", "i:Alice:Bob:Carol");
}

#[test]
fn e_is_checked_like_a_ping() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    h.ask(addr(9), "e:Room:Alice:cone", "error:non_existent_player");
    h.ask(addr(2), "e:Room:Alice:cone", "error:non_existent_player");
    h.ask(addr(1), "e:Nope:Alice:cone", "error:session_non_existent");
    h.ask(addr(1), "e:Room:Alice:Cone", "error:invalid_request");
    h.ask(addr(1), "e:Room:Alice", "error:invalid_request");
    assert!(h.engine.store().get("Room").expect("session").players.iter().all(|p| p.nat.is_none()));
}

#[test]
fn e_keeps_a_player_alive_like_a_ping() {
    let mut h = H::new();
    h.lobby("Room", 4, &["Alice", "Bob"]);
    for _ in 0..10 {
        h.advance(ms(2000));
        h.send(addr(1), "p:Room:Alice");
        h.send(addr(2), "e:Room:Bob:cone");
    }
    assert_eq!(h.engine.player_count(), 2, "Bob sent only e: and is still there");
    let out = h.advance(ms(7000));
    assert!(to(&out, addr(2)).contains(&"error:player_timeout".to_owned()));
}

#[test]
fn n_comes_right_before_s_only_for_e_senders() {
    for config in [Config::original(), Config::default()] {
        let mut h = H::with(config.clone());
        h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
        // The plugin's pings before the start (with the budget on, the first round waits for
        // every player to have had a list).
        for n in 1..=3 {
            h.send(addr(n), &format!("p:Room:{}", ["Alice", "Bob", "Carol"][n as usize - 1]));
        }
        h.send(addr(1), "e:Room:Alice:cone");
        h.send(addr(3), "e:Room:Carol:sym");
        let mut out = h.send_bytes(addr(1), b"s:Room:Alice");
        // The plugin's cadence: a ping every 0.5 s (with the budget on, a ping in a starting
        // session asks for the start message again).
        for _ in 0..6 {
            out.extend(h.advance(ms(500)));
            for n in 1..=3 {
                let name = ["Alice", "Bob", "Carol"][n as usize - 1];
                out.extend(h.send_bytes(addr(n), format!("p:Room:{name}").as_bytes()));
            }
        }
        let nat = "n:Alice:cone:Carol:sym";
        for (n, e_sender) in [(1, true), (2, false), (3, true)] {
            // (After the rounds the session is gone: pings then get errors.)
            let texts: Vec<String> =
                to(&out, addr(n)).into_iter().filter(|t| !t.starts_with("error:")).collect();
            assert!(!texts.is_empty(), "{config:?}: player {n} got nothing");
            let starts = texts.iter().filter(|t| t.starts_with("s:")).count();
            assert!(starts >= 1);
            if e_sender {
                // The first s: right after an n:, and every n: right before an s: (under the
                // budget a later s: may go alone when both do not fit).
                assert_eq!(texts[0], nat, "{texts:?}");
                assert!(texts[1].starts_with("s:"), "{texts:?}");
                for pair in texts.windows(2) {
                    if pair[0] == nat {
                        assert!(pair[1].starts_with("s:"), "{texts:?}");
                    }
                }
                assert!(texts.iter().all(|t| *t == nat || t.starts_with("s:")), "{texts:?}");
            } else {
                assert!(texts.iter().all(|t| t.starts_with("s:")), "{texts:?}");
            }
        }
    }
}

#[test]
fn godot_style_players_never_get_n() {
    // A session where one player (ours) sends e:, the others (Godot) never do; through the lobby,
    // pings, the start and its rounds, the Godot players get no n:.
    let mut h = H::with(Config::default());
    h.lobby("Room", 4, &["Alice", "Bob", "Carol"]);
    let mut out = Vec::new();
    for round in 0..6 {
        out.extend(h.send_bytes(addr(1), b"p:Room:Alice"));
        out.extend(h.send_bytes(addr(2), b"p:Room:Bob"));
        out.extend(h.send_bytes(addr(3), b"e:Room:Carol:cone"));
        if round == 3 {
            out.extend(h.send_bytes(addr(1), b"s:Room:Alice"));
        }
        out.extend(h.advance(ms(500)));
    }
    out.extend(h.advance(ms(3000)));
    for n in [1, 2] {
        let texts = to(&out, addr(n));
        assert!(texts.iter().any(|t| t.starts_with("s:")), "{texts:?}");
        assert!(!texts.iter().any(|t| t.starts_with("n:")), "player {n} got n: {texts:?}");
    }
    assert!(to(&out, addr(3)).iter().any(|t| t == "n:Carol:cone"));
}
