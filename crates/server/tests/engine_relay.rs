//! The relay in the engine, on a fake clock: grants only for players that sent `r:` (a Godot-like
//! player's start messages are byte-identical to before), token authentication (forged tokens and
//! non-members get nothing at all), forwarding 8 bytes shorter to the right member, re-mapped
//! addresses accepted only with the token, every cap (member rate, server rate, per-IP, lifetime,
//! idle, table size), `--no-relay`, bounded memory after churn, and a property: whatever frames
//! arrive, the relay never sends more bytes than it received.

mod common;
use common::*;
use proptest::prelude::*;
use rhp_proto::relay::{FromServer, Grant, Refusal, ToServer};
use rhp_server::{Config, IterSessions, RelayConfig};
use std::net::SocketAddr;
use std::time::Duration;

fn data(token: u64, to: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ToServer::Data { token, to, payload }.write_to(&mut out);
    out
}

fn bind(token: u64) -> Vec<u8> {
    let mut out = Vec::new();
    ToServer::Bind { token }.write_to(&mut out);
    out
}

fn refused(why: Refusal) -> Vec<u8> {
    let mut out = Vec::new();
    FromServer::Refused(why).write_to(&mut out);
    out
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// The datagrams sent to `a`, as bytes.
fn bytes_to(out: &[Sent], a: SocketAddr) -> Vec<Vec<u8>> {
    out.iter().filter(|s| s.to == a).map(|s| s.bytes.clone()).collect()
}

fn config(relay: RelayConfig) -> Config {
    Config { relay, ..Config::original() }
}

/// Session `s` of `names` (host first) at `addrs`, where `asks[i]` says who sends `r:` (checking
/// that it gets no answer); the host starts it. Returns what the start sent.
fn start_at(h: &mut H, s: &str, names: &[&str], addrs: &[SocketAddr], asks: &[bool]) -> Vec<Sent> {
    h.ask(addrs[0], &format!("h:{s}:{}:12", names[0]), &format!("i:{}", names[0]));
    for (i, n) in names.iter().enumerate().skip(1) {
        let out = h.send(addrs[i], &format!("c:{s}:{n}"));
        assert_eq!(out.len(), i + 1, "join of {n}: {out:?}");
    }
    // Our client repeats r: with its pings (which also earns it the budget for its grant).
    for _ in 0..6 {
        for (i, n) in names.iter().enumerate() {
            if asks[i] {
                h.silent(addrs[i], &format!("r:{s}:{n}"));
            }
        }
    }
    let mut out = h.send_bytes(addrs[0], format!("s:{s}:{}", names[0]).as_bytes());
    out.extend(h.advance(secs(1)));
    out
}

/// [`start_at`] for session "Room" with the players at addr(1), addr(2), …
fn start(h: &mut H, names: &[&str], asks: &[bool]) -> Vec<Sent> {
    let addrs: Vec<SocketAddr> = (1..=names.len() as u16).map(addr).collect();
    start_at(h, "Room", names, &addrs, asks)
}

/// The grant `a` got, checking it came right before each of its start messages.
fn grant_of(out: &[Sent], a: SocketAddr) -> Option<Grant> {
    let texts = to(out, a);
    let grants: Vec<Grant> = texts.iter().filter_map(|t| Grant::parse(t.as_bytes()).ok()).collect();
    let starts = texts.iter().filter(|t| t.starts_with("s:")).count();
    if grants.is_empty() {
        return None;
    }
    // Every round when the budget allows; under the budget a later round may carry s: alone.
    assert!(grants.len() <= starts, "no grant without its start message: {texts:?}");
    let first_s = texts.iter().position(|t| t.starts_with("s:")).expect("a start message");
    assert!(
        first_s > 0 && texts[first_s - 1].starts_with("r:"),
        "the first s: comes with the grant: {texts:?}"
    );
    for pair in texts.windows(2) {
        if pair[0].starts_with("r:") {
            assert!(pair[1].starts_with("s:"), "a grant right before s: {texts:?}");
        }
    }
    assert!(grants.iter().all(|g| *g == grants[0]), "the same grant every round");
    Some(grants[0].clone())
}

fn tokens(out: &[Sent], n: u16) -> Vec<u64> {
    (1..=n).map(|i| grant_of(out, addr(i)).expect("granted").token).collect()
}

#[test]
fn grants_go_only_to_players_that_asked_and_godot_sees_no_difference() {
    let names = ["Alice", "Bob", "Godot"];
    let mut base = H::new();
    let before = start(&mut base, &names, &[false, false, false]);
    let mut h = H::new();
    let out = start(&mut h, &names, &[true, true, false]);
    let (a, b) = (grant_of(&out, addr(1)).expect("Alice"), grant_of(&out, addr(2)).expect("Bob"));
    assert_eq!(a.members, ["Alice", "Bob"]);
    assert_eq!(b.members, ["Alice", "Bob"]);
    assert!(a.token != b.token && a.token != 0 && b.token != 0);
    assert_eq!(grant_of(&out, addr(3)), None);
    // Godot's datagrams: the same bytes at the same instants as on a server nobody asked.
    let godot = |o: &[Sent]| -> Vec<(Duration, Vec<u8>)> {
        o.iter().filter(|s| s.to == addr(3)).map(|s| (s.at, s.bytes.clone())).collect()
    };
    assert_eq!(godot(&out), godot(&before));
    // The others' start messages are unchanged too, only preceded by the grant.
    let strip =
        |o: &[Sent], a| -> Vec<String> { to(o, a).into_iter().filter(|t| !t.starts_with("r:")).collect() };
    assert_eq!(strip(&out, addr(1)), strip(&before, addr(1)));
    let stats = h.engine.relay_stats();
    assert_eq!((stats.sessions_created, stats.sessions_live, stats.members_live, stats.grants), (1, 1, 2, 2));
    h.engine.check_invariants().unwrap();
}

#[test]
fn the_grant_goes_between_n_and_s() {
    let mut h = H::new();
    h.lobby("Room", 2, &["Alice", "Bob"]);
    h.silent(addr(1), "r:Room:Alice");
    h.silent(addr(2), "r:Room:Bob");
    assert_eq!(h.send(addr(1), "e:Room:Alice:cone"), vec![(addr(1), "n:Alice:cone".to_owned())]);
    let out = h.send_bytes(addr(1), b"s:Room:Alice");
    let texts = to(&out, addr(1));
    assert_eq!(texts.len(), 3, "{texts:?}");
    assert_eq!(texts[0], "n:Alice:cone");
    assert!(texts[1].starts_with("r:") && texts[1].ends_with(":Alice:Bob"), "{texts:?}");
    assert!(texts[2].starts_with("s:"), "{texts:?}");
    // Bob sent no e:: r: then s:.
    let bob = to(&out, addr(2));
    assert!(bob.len() == 2 && bob[0].starts_with("r:") && bob[1].starts_with("s:"), "{bob:?}");
}

#[test]
fn r_is_checked_like_a_ping_unanswered_in_the_lobby_and_like_a_ping_while_starting() {
    let mut h = H::new();
    h.ask(addr(9), "r:Room:Alice", "error:session_non_existent");
    h.lobby("Room", 3, &["Alice", "Bob"]);
    h.ask(addr(9), "r:Room:Alice", "error:non_existent_player");
    h.ask(addr(2), "r:Room:Alice", "error:non_existent_player");
    let players = || h.engine.store().sessions().flat_map(|s| s.players.iter());
    assert!(!players().any(|p| p.relay_wanted()), "a stranger's r: counts for no one");
    // It refreshes the player like a ping: r: alone keeps Alice and Bob in past the 5 s timeout.
    for t in [3, 6, 9] {
        h.run_until(secs(t));
        h.silent(addr(1), "r:Room:Alice");
        h.silent(addr(2), "r:Room:Bob");
    }
    h.run_until(secs(11));
    assert_eq!(h.engine.player_count(), 2);
    h.send(addr(1), "s:Room:Alice");
    // While starting, a member's r: gets its grant and start message again.
    let again = h.send(addr(2), "r:Room:Bob");
    assert_eq!(again.len(), 2, "{again:?}");
    assert!(again[0].1.starts_with("r:") && again[1].1.starts_with("s:"), "{again:?}");
    h.ask(addr(9), "r:Room:Bob", "error:session_non_existent");
}

#[test]
fn no_grant_when_fewer_than_two_asked() {
    let names = ["Alice", "Bob", "Carol"];
    let mut base = H::new();
    let before = start(&mut base, &names, &[false, false, false]);
    let mut h = H::new();
    let out = start(&mut h, &names, &[false, true, false]);
    let all = |o: &[Sent]| -> Vec<(Duration, SocketAddr, Vec<u8>)> {
        o.iter().map(|s| (s.at, s.to, s.bytes.clone())).collect()
    };
    assert_eq!(all(&out), all(&before));
    assert_eq!(h.engine.relay_stats().sessions_created, 0);
}

/// A player whose `r:` was lost until after the grants were decided still gets the relay: it
/// joins the relay session (made then, if it is the second to ask), its start message carries
/// its grant, and the others' next grants list it (indices never move).
#[test]
fn a_late_r_joins_the_relay_while_the_session_starts() {
    // Alice asked in time, Bob's r: comes after the host's s:.
    let mut h = H::new();
    h.lobby("Room", 3, &["Alice", "Bob", "Carol"]);
    h.silent(addr(1), "r:Room:Alice");
    h.silent(addr(3), "r:Room:Carol");
    let first = h.send_bytes(addr(1), b"s:Room:Alice");
    let alice = grant_of(&first, addr(1)).expect("Alice granted");
    assert_eq!(alice.members, ["Alice", "Carol"]);
    let again = h.send(addr(2), "r:Room:Bob");
    assert_eq!(again.len(), 2, "{again:?}");
    let bob = Grant::parse(again[0].1.as_bytes()).expect("Bob's grant");
    assert_eq!(bob.members, ["Alice", "Carol", "Bob"], "appended: the indices stay");
    assert!(again[1].1.starts_with("s:"));
    let later = h.advance(secs(1));
    let texts = to(&later, addr(1));
    let next = texts.iter().find_map(|t| Grant::parse(t.as_bytes()).ok()).expect("Alice's next grant");
    assert_eq!((next.token, next.members.clone()), (alice.token, bob.members.clone()));
    // Bob's frames reach Alice (index 0) through the relay.
    let out = h.send_bytes(addr(2), &data(bob.token, 0, b"hi"));
    assert_eq!(bytes_to(&out, addr(1)), vec![vec![0xF5, 0x81, 2, b'h', b'i']]);
    assert_eq!(h.engine.relay_stats().members_live, 3);
    h.engine.check_invariants().unwrap();

    // Only one had asked at the start: the second's late r: makes the relay session, and the
    // first, which confirmed its start message already (no more rounds for it), gets its grant
    // at once with its start message.
    let mut h = H::new();
    h.lobby("Room", 2, &["Alice", "Bob"]);
    h.silent(addr(1), "r:Room:Alice");
    let first = h.send_bytes(addr(1), b"s:Room:Alice");
    assert_eq!(grant_of(&first, addr(1)), None, "alone: no relay yet");
    h.silent(addr(1), "y:Room:Alice");
    let again = h.send(addr(2), "r:Room:Bob");
    let bob = Grant::parse(again[0].1.as_bytes()).expect("Bob's grant");
    assert_eq!(bob.members, ["Alice", "Bob"]);
    let to_alice: Vec<&String> = again.iter().filter(|(a, _)| *a == addr(1)).map(|(_, t)| t).collect();
    assert_eq!(to_alice.len(), 2, "{again:?}");
    let alice = Grant::parse(to_alice[0].as_bytes()).expect("Alice's grant, pushed");
    assert_eq!(alice.members, bob.members);
    assert!(to_alice[1].starts_with("s:"));
    // Alice confirmed: the later rounds are not for her.
    let later = h.advance(secs(1));
    assert!(to(&later, addr(1)).is_empty(), "{later:?}");
    assert_eq!(h.engine.relay_stats().sessions_created, 1);
    h.engine.check_invariants().unwrap();
}

fn leave(token: u64) -> Vec<u8> {
    let mut b = Vec::new();
    ToServer::Leave { token }.write_to(&mut b);
    b
}

/// A member that is done leaves at once (nothing answered, its token dead, its per-IP slot
/// free); the relay session goes when fewer than 2 are left, and a session that plays again
/// from the same IPs right after gets grants (the NAT lab plays 20 sessions a minute).
/// A player that joined a moment ago on a lossy link has little credit under the budget: when
/// `n:` + grant + `s:` do not fit, the grant and `s:` go, else `s:` alone (it must not be lost to
/// the session), and never more than the budget allows.
#[test]
fn under_the_budget_the_start_message_goes_even_when_its_notes_do_not_fit() {
    let mut h = H::with(Config { relay: RelayConfig::default(), ..Config::default() });
    let addrs: Vec<SocketAddr> = (1..=4).map(|i| SocketAddr::from(([198, 51, 100, i], 5000))).collect();
    let out = start_at(&mut h, "Game", &["A", "B", "C", "D"], &addrs, &[true; 4]);
    // D sent the least; every round reached him with s:, some without their notes.
    let dave = to(&out, addrs[3]);
    let starts = dave.iter().filter(|t| t.starts_with("s:")).count();
    assert!(starts >= 2, "{dave:?}");
    let grants = dave.iter().filter(|t| t.starts_with("r:")).count();
    assert!(grants >= 1 && grants < starts, "some rounds went without their notes: {dave:?}");
    // Nothing beyond 3x what Dave's IP sent.
    h.engine.check_invariants().unwrap();
    // A lone s: (its notes did not fit) is still a whole, valid start message.
    for t in dave.iter().filter(|t| t.starts_with("s:")) {
        assert!(t.contains("A:198.51.100.1:5000"), "{t}");
    }
}

#[test]
fn a_member_that_leaves_frees_its_slot_at_once() {
    let relay = RelayConfig { max_per_ip: 2, ..RelayConfig::default() };
    let mut h = H::with(config(relay));
    let nat = |port: u16| SocketAddr::from(([10, 9, 9, 9], port));
    let out = start_at(&mut h, "One", &["A", "B", "C"], &[nat(1), nat(2), addr(3)], &[true; 3]);
    let t: Vec<u64> =
        [nat(1), nat(2), addr(3)].iter().map(|a| grant_of(&out, *a).expect("grant").token).collect();
    assert!(h.send_bytes(nat(1), &leave(t[0])).is_empty(), "a leave is never answered");
    assert!(h.send_bytes(nat(1), &data(t[0], 1, b"x")).is_empty(), "its token is dead");
    assert_eq!(h.send_bytes(nat(2), &data(t[1], 2, b"x")).len(), 1, "the others go on");
    assert!(h.send_bytes(addr(9), &leave(0x1234)).is_empty(), "a forged leave: nothing");
    let stats = h.engine.relay_stats();
    assert_eq!((stats.leaves, stats.members_live, stats.sessions_live), (1, 2, 1));
    h.engine.check_invariants().unwrap();
    h.send_bytes(addr(3), &leave(t[2]));
    assert_eq!(h.engine.relay_stats().sessions_live, 0, "one member left: the relay ends");
    h.engine.check_invariants().unwrap();
    // That IP's slots are free: two players behind it get grants right away.
    let out = start_at(&mut h, "Two", &["D", "E"], &[nat(4), nat(5)], &[true, true]);
    assert!(grant_of(&out, nat(4)).is_some() && grant_of(&out, nat(5)).is_some());
    // The stale check of the first relay session fires harmlessly.
    h.advance(secs(120));
    h.engine.check_invariants().unwrap();
}

#[test]
fn forged_tokens_garbage_and_non_members_get_no_reply_at_all() {
    let mut h = H::new();
    let out = start(&mut h, &["Alice", "Bob", "Godot"], &[true, true, false]);
    let t = tokens(&out, 2);
    let forged = [t[0] ^ 1, t[1].wrapping_add(1), 0, u64::MAX, t[0].rotate_left(8)];
    for from in [addr(1), addr(2), addr(3), addr(77)] {
        for token in forged {
            assert!(h.send_bytes(from, &data(token, 1, b"hello")).is_empty());
            assert!(h.send_bytes(from, &data(token, 0, b"")).is_empty());
            assert!(h.send_bytes(from, &bind(token)).is_empty());
        }
        for junk in
            [&[0xF5][..], &[0xF5, 1, 2, 3], &[0xF5, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[0xF5, 0x81, 1, 2]]
        {
            assert!(h.send_bytes(from, junk).is_empty(), "{junk:?} from {from}");
        }
    }
    // A valid token but one byte short of a bind, or a bind with a trailing byte: malformed.
    let mut long = bind(t[0]);
    long.push(0);
    assert!(h.send_bytes(addr(1), &long).is_empty());
    assert!(h.send_bytes(addr(1), &bind(t[0])[..9]).is_empty());
    let stats = h.engine.relay_stats();
    assert_eq!(stats.frames_forwarded + stats.binds, 0);
    assert_eq!(stats.frames_dropped, stats.frames_in);
    assert_eq!(stats.rebinds, 0, "no forged frame moved anyone");
    h.engine.check_invariants().unwrap();
}

#[test]
fn data_is_forwarded_8_bytes_shorter_to_the_right_member_from_the_right_index() {
    let mut h = H::new();
    let out = start(&mut h, &["Alice", "Bob", "Carol"], &[true, true, true]);
    let t = tokens(&out, 3);
    for (from, to) in [(0usize, 2u8), (2, 0), (1, 0), (0, 1), (2, 1)] {
        let payload = format!("state {from}->{to} {}", "x".repeat(from * 100));
        let frame = data(t[from], to, payload.as_bytes());
        let sent = h.send_bytes(addr(from as u16 + 1), &frame);
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].to, addr(u16::from(to) + 1));
        assert_eq!(sent[0].bytes.len(), frame.len() - 8);
        assert_eq!(
            FromServer::parse(&sent[0].bytes),
            Ok(FromServer::Data { from: from as u8, payload: payload.as_bytes() })
        );
    }
    // Empty payloads too, and a bind is answered with the member's index.
    let sent = h.send_bytes(addr(2), &data(t[1], 2, b""));
    assert_eq!(sent[0].bytes, [0xF5, 0x81, 1]);
    let sent = h.send_bytes(addr(3), &bind(t[2]));
    assert_eq!((sent.len(), sent[0].to, sent[0].bytes.clone()), (1, addr(3), vec![0xF5, 0x82, 2]));
    let stats = h.engine.relay_stats();
    assert_eq!((stats.frames_forwarded, stats.binds), (6, 1));
}

#[test]
fn a_destination_of_oneself_or_out_of_range_is_refused_at_most_once_a_second() {
    let mut h = H::new();
    let out = start(&mut h, &["Alice", "Bob"], &[true, true]);
    let t = tokens(&out, 2);
    let sent = h.send_bytes(addr(1), &data(t[0], 0, b"me"));
    assert_eq!(bytes_to(&sent, addr(1)), vec![refused(Refusal::NoSuchMember)]);
    assert_eq!(sent.len(), 1);
    for to in [2u8, 11, 12, 255] {
        assert!(h.send_bytes(addr(1), &data(t[0], to, b"x")).is_empty(), "no second refusal within 1 s");
    }
    h.advance(ms(1000));
    let sent = h.send_bytes(addr(1), &data(t[0], 200, b"x"));
    assert_eq!(bytes_to(&sent, addr(1)), vec![refused(Refusal::NoSuchMember)]);
    // Bob's own refusals are his: not held back by Alice's.
    let sent = h.send_bytes(addr(2), &data(t[1], 1, b"x"));
    assert_eq!(bytes_to(&sent, addr(2)), vec![refused(Refusal::NoSuchMember)]);
    assert_eq!(h.engine.relay_stats().refused_no_such_member, 7);
}

#[test]
fn a_new_address_is_accepted_only_with_the_token() {
    let mut h = H::new();
    let out = start(&mut h, &["Alice", "Bob", "Carol"], &[true, true, true]);
    let t = tokens(&out, 3);
    let moved = addr(50);
    // Wrong tokens from the new address change nothing.
    for token in [t[0] ^ 0x8000, 12345] {
        assert!(h.send_bytes(moved, &bind(token)).is_empty());
        assert!(h.send_bytes(moved, &data(token, 1, b"hi")).is_empty());
    }
    let sent = h.send_bytes(addr(2), &data(t[1], 0, b"to Alice"));
    assert_eq!(sent[0].to, addr(1), "Alice still at her join address");
    assert_eq!(h.engine.relay_stats().rebinds, 0);
    // The right token moves her.
    let sent = h.send_bytes(moved, &bind(t[0]));
    assert_eq!((sent.len(), sent[0].to, sent[0].bytes.clone()), (1, moved, vec![0xF5, 0x82, 0]));
    assert_eq!(h.engine.relay_stats().rebinds, 1);
    let sent = h.send_bytes(addr(2), &data(t[1], 0, b"to Alice"));
    assert_eq!(sent[0].to, moved);
    let sent = h.send_bytes(addr(3), &data(t[2], 0, b"to Alice too"));
    assert_eq!(sent[0].to, moved);
    // Data from the new address works, a bind from the same address again is no move.
    let sent = h.send_bytes(moved, &data(t[0], 1, b"from the new port"));
    assert_eq!(sent[0].to, addr(2));
    h.send_bytes(moved, &bind(t[0]));
    assert_eq!(h.engine.relay_stats().rebinds, 1);
    // A data frame with the token from yet another address moves her again.
    let sent = h.send_bytes(addr(51), &data(t[0], 2, b"again"));
    assert_eq!(sent[0].to, addr(3));
    assert_eq!(h.send_bytes(addr(2), &data(t[1], 0, b"x"))[0].to, addr(51));
    assert_eq!(h.engine.relay_stats().rebinds, 2);
}

#[test]
fn the_member_rate_cap_allows_a_burst_then_refuses_once_a_second() {
    let relay = RelayConfig { player_rate: 10_000, player_burst: 20_000, ..RelayConfig::default() };
    let mut h = H::with(config(relay));
    let out = start(&mut h, &["Alice", "Bob"], &[true, true]);
    let t = tokens(&out, 2);
    let frame = data(t[0], 1, &[7u8; 1000]);
    assert_eq!(frame.len(), 1011);
    let mut forwarded = 0;
    let mut refusals = 0;
    for _ in 0..40 {
        for s in h.send_bytes(addr(1), &frame) {
            if s.to == addr(2) {
                forwarded += 1;
            } else if s.bytes == refused(Refusal::PlayerRate) && s.to == addr(1) {
                refusals += 1;
            } else {
                panic!("unexpected {s:?}");
            }
        }
    }
    assert_eq!((forwarded, refusals), (19, 1), "19 x 1011 B fit the 20,000 B burst");
    // Bob's bucket is his own.
    assert_eq!(h.send_bytes(addr(2), &data(t[1], 0, &[1u8; 1000])).len(), 1);
    h.advance(ms(1000));
    let (mut forwarded, mut refusals) = (0, 0);
    for _ in 0..40 {
        for s in h.send_bytes(addr(1), &frame) {
            if s.to == addr(2) {
                forwarded += 1;
            } else {
                assert_eq!(s.bytes, refused(Refusal::PlayerRate));
                refusals += 1;
            }
        }
    }
    // The bucket had 791 B left after the burst, and 10,000 B more came in the second.
    assert_eq!((forwarded, refusals), (10, 1), "a second later: 10 more, one refusal");
    assert_eq!(h.engine.relay_stats().refused_player_rate, 21 + 30);
}

#[test]
fn a_game_stream_fits_the_default_caps() {
    // 60 packets/s of 1,200 bytes from each of 4 players to each other, for 10 s.
    let mut h = H::with(Config { relay: RelayConfig::default(), ..Config::default() });
    let addrs: Vec<SocketAddr> = (1..=4).map(|i| SocketAddr::from(([198, 51, 100, i], 5000))).collect();
    let out = start_at(&mut h, "Game", &["A", "B", "C", "D"], &addrs, &[true; 4]);
    let t: Vec<u64> = addrs.iter().map(|a| grant_of(&out, *a).expect("granted").token).collect();
    let mut forwarded = 0;
    for tick in 0..600u64 {
        h.run_until(secs(1) + ms(tick * 1000 / 60));
        for (i, a) in addrs.iter().enumerate() {
            let to = ((i + 1 + tick as usize % 3) % 4) as u8;
            let sent = h.send_bytes(*a, &data(t[i], to, &[0u8; 1200]));
            assert_eq!(sent.len(), 1);
            assert!(FromServer::parse(&sent[0].bytes).is_ok_and(|f| matches!(f, FromServer::Data { .. })));
            forwarded += 1;
        }
    }
    assert_eq!(forwarded, 2400);
    assert_eq!(h.engine.relay_stats().refused_player_rate, 0);
}

#[test]
fn the_budget_does_not_starve_a_one_way_stream() {
    // Hardened config: Bob never sends anything, yet gets everything Alice sends him.
    let mut h = H::with(Config::default());
    let addrs = [SocketAddr::from(([198, 51, 100, 1], 5000)), SocketAddr::from(([198, 51, 100, 2], 5000))];
    let out = start_at(&mut h, "Room", &["Alice", "Bob"], &addrs, &[true, true]);
    let token = grant_of(&out, addrs[0]).expect("Alice's grant").token;
    assert!(grant_of(&out, addrs[1]).is_some());
    for i in 0..500u64 {
        h.run_until(secs(2) + ms(i * 20));
        assert_eq!(h.send_bytes(addrs[0], &data(token, 1, &[0u8; 500])).len(), 1);
    }
}

#[test]
fn after_its_lifetime_the_relay_refuses_then_is_gone() {
    let relay = RelayConfig { lifetime: secs(10), ..RelayConfig::default() };
    let mut h = H::with(config(relay));
    let out = start(&mut h, &["Alice", "Bob", "Carol"], &[true, true, true]);
    let t = tokens(&out, 3);
    h.run_until(secs(5));
    assert_eq!(h.send_bytes(addr(1), &bind(t[0])).len(), 1);
    // A frame after the lifetime, before the timer fired, is refused.
    h.now = h.t0 + secs(11);
    let sent = h.send_bytes(addr(2), &data(t[1], 0, b"late"));
    assert_eq!(bytes_to(&sent, addr(2)), vec![refused(Refusal::Lifetime)]);
    assert_eq!(sent.len(), 1);
    // The timer deletes it; the members that used it are told (Alice, Bob), Carol never spoke.
    let fired = h.run_until(secs(12));
    assert_eq!(bytes_to(&fired, addr(1)), vec![refused(Refusal::Lifetime)]);
    assert_eq!(bytes_to(&fired, addr(2)), vec![refused(Refusal::Lifetime)]);
    assert!(bytes_to(&fired, addr(3)).is_empty());
    let stats = h.engine.relay_stats();
    assert_eq!((stats.sessions_live, stats.members_live), (0, 0));
    for (i, token) in t.iter().enumerate() {
        assert!(h.send_bytes(addr(i as u16 + 1), &data(*token, 0, b"x")).is_empty());
        assert!(h.send_bytes(addr(i as u16 + 1), &bind(*token)).is_empty());
    }
    assert_eq!(h.engine.timer_count(), 0);
    h.engine.check_invariants().unwrap();
}

#[test]
fn a_silent_member_is_dropped_and_the_relay_ends_with_fewer_than_two() {
    let mut h = H::new();
    let out = start(&mut h, &["Alice", "Bob", "Carol"], &[true, true, true]);
    let t = tokens(&out, 3);
    for s in [20, 40, 59] {
        h.run_until(secs(s));
        h.send_bytes(addr(1), &bind(t[0]));
        h.send_bytes(addr(2), &bind(t[1]));
    }
    h.run_until(secs(62));
    assert_eq!(h.engine.relay_stats().members_live, 2, "Carol dropped after 60 s of silence");
    assert!(h.send_bytes(addr(3), &bind(t[2])).is_empty(), "her token is dead");
    let sent = h.send_bytes(addr(1), &data(t[0], 2, b"to Carol"));
    assert_eq!(bytes_to(&sent, addr(1)), vec![refused(Refusal::NoSuchMember)]);
    assert_eq!(h.send_bytes(addr(2), &data(t[1], 0, b"to Alice")).len(), 1);
    h.engine.check_invariants().unwrap();
    // Bob stops; Alice alone is no relay.
    for s in [80, 100, 115] {
        h.run_until(secs(s));
        h.send_bytes(addr(1), &bind(t[0]));
    }
    h.run_until(secs(125));
    let stats = h.engine.relay_stats();
    assert_eq!((stats.sessions_live, stats.members_live), (0, 0));
    assert!(h.send_bytes(addr(1), &bind(t[0])).is_empty());
    h.engine.check_invariants().unwrap();
}

#[test]
fn the_per_ip_cap_refuses_grants_beyond_it_until_members_go() {
    let relay = RelayConfig { max_per_ip: 2, ..RelayConfig::default() };
    let mut h = H::with(config(relay));
    let nat = |port: u16| SocketAddr::from(([10, 9, 9, 9], port));
    let addrs = [nat(1), nat(2), nat(3)];
    let out = start_at(&mut h, "One", &["A", "B", "C"], &addrs, &[true; 3]);
    assert!(grant_of(&out, nat(1)).is_some() && grant_of(&out, nat(2)).is_some());
    assert_eq!(grant_of(&out, nat(1)).map(|g| g.members), Some(vec!["A".to_owned(), "B".to_owned()]));
    // C gets a PerIp refusal right before each of its start messages, and no token.
    let c = bytes_to(&out, nat(3));
    assert_eq!(c.len(), 16, "8 rounds of refusal + s:");
    for pair in c.chunks(2) {
        assert_eq!(pair[0], refused(Refusal::PerIp));
        assert!(pair[1].starts_with(b"s:"));
    }
    // Another session behind that IP: 2 more would pass 2, so both are refused; no relay.
    let out = start_at(&mut h, "Two", &["D", "E"], &[nat(4), nat(5)], &[true, true]);
    assert!(to(&out, nat(4)).iter().all(|t| !t.starts_with("r:")));
    assert_eq!(bytes_to(&out, nat(4))[0], refused(Refusal::PerIp));
    assert_eq!(h.engine.relay_stats().sessions_created, 1);
    // Another IP is not affected.
    let out = start_at(&mut h, "Three", &["F", "G"], &[addr(6), addr(7)], &[true, true]);
    assert!(grant_of(&out, addr(6)).is_some());
    // Once A and B's relay ended (silence), that IP may have grants again.
    h.advance(secs(61));
    assert_eq!(h.engine.relay_stats().sessions_live, 0);
    let out = start_at(&mut h, "Four", &["H", "I"], &[nat(8), nat(9)], &[true, true]);
    assert!(grant_of(&out, nat(8)).is_some() && grant_of(&out, nat(9)).is_some());
    assert_eq!(h.engine.relay_stats().refused_per_ip, 3);
    h.engine.check_invariants().unwrap();
}

#[test]
fn the_server_rate_caps_every_member_together() {
    let relay = RelayConfig { server_rate: 5_000, ..RelayConfig::default() };
    let mut h = H::with(config(relay));
    let out = start(&mut h, &["Alice", "Bob"], &[true, true]);
    let t = tokens(&out, 2);
    let frame = data(t[0], 1, &[0u8; 1000]);
    let forwarded =
        (0..10).filter(|_| h.send_bytes(addr(1), &frame).first().is_some_and(|s| s.to == addr(2))).count();
    assert_eq!(forwarded, 4, "4 x 1011 B fit a second of 5,000 B/s");
    // Bob is refused too: the cap is the server's.
    let sent = h.send_bytes(addr(2), &data(t[1], 0, &[0u8; 1000]));
    assert_eq!(bytes_to(&sent, addr(2)), vec![refused(Refusal::ServerRate)]);
    h.advance(ms(1000));
    assert_eq!(h.send_bytes(addr(2), &data(t[1], 0, &[0u8; 1000]))[0].to, addr(1));
    assert!(h.engine.relay_stats().refused_server_rate >= 6);
}

#[test]
fn a_full_table_refuses_grants() {
    let relay = RelayConfig { max_sessions: 1, ..RelayConfig::default() };
    let mut h = H::with(config(relay));
    let out = start_at(&mut h, "One", &["A", "B"], &[addr(1), addr(2)], &[true, true]);
    assert!(grant_of(&out, addr(1)).is_some());
    let out = start_at(&mut h, "Two", &["C", "D"], &[addr(3), addr(4)], &[true, true]);
    assert_eq!(bytes_to(&out, addr(3))[0], refused(Refusal::ServerRate));
    assert!(grant_of(&out, addr(4)).is_none());
    assert_eq!(h.engine.relay_stats().sessions_live, 1);
}

#[test]
fn no_relay_accepts_r_and_ignores_it() {
    let names = ["Alice", "Bob"];
    let mut base = H::new();
    let before = start(&mut base, &names, &[false, false]);
    let all = |o: &[Sent]| -> Vec<(Duration, SocketAddr, Vec<u8>)> {
        o.iter().map(|s| (s.at, s.to, s.bytes.clone())).collect()
    };
    for relay in [
        RelayConfig { enabled: false, ..RelayConfig::default() },
        RelayConfig { player_rate: 0, ..RelayConfig::default() },
    ] {
        let mut h = H::with(config(relay));
        let out = start(&mut h, &names, &[true, true]);
        assert_eq!(all(&out), all(&before));
        assert_eq!(h.engine.relay_stats().sessions_created, 0);
        assert!(h.send_bytes(addr(1), &bind(1)).is_empty());
    }
}

#[test]
fn memory_is_bounded_after_churn() {
    let mut h = H::new();
    let mut created = 0;
    for i in 0..300u32 {
        let s = format!("S{i}");
        let n = 2 + (i % 4) as usize;
        let addrs: Vec<SocketAddr> =
            (0..n).map(|p| SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 20000 + p as u16))).collect();
        let names: Vec<String> = (0..n).map(|p| format!("P{p}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let asks: Vec<bool> = (0..n).map(|p| p != 1 || i % 3 != 0).collect();
        let out = start_at(&mut h, &s, &names, &addrs, &asks);
        if asks.iter().filter(|a| **a).count() >= 2 {
            created += 1;
            let g = grant_of(&out, addrs[0]).expect("host granted");
            h.send_bytes(addrs[0], &data(g.token, 1, b"hi"));
            h.send_bytes(addrs[0], &bind(g.token));
        }
        h.engine.check_invariants().unwrap();
    }
    let stats = h.engine.relay_stats();
    assert_eq!(stats.sessions_created, created);
    assert!(stats.sessions_live > 0);
    h.advance(secs(61));
    let stats = h.engine.relay_stats();
    assert_eq!((stats.sessions_live, stats.members_live), (0, 0));
    h.engine.check_invariants().unwrap();
    h.advance(secs(16 * 60));
    assert_eq!((h.engine.session_count(), h.engine.timer_count(), h.engine.queued_transmits()), (0, 0, 0));
}

#[derive(Debug, Clone)]
enum Op {
    /// A data frame from pool address `src` with token `tok` (0..3 a member's, else random).
    Data {
        src: u8,
        tok: u8,
        random: u64,
        to: u8,
        len: u16,
    },
    Bind {
        src: u8,
        tok: u8,
        random: u64,
    },
    Junk {
        src: u8,
        bytes: Vec<u8>,
    },
    Wait {
        ms: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u8>(), 0u8..5, any::<u64>(), 0u8..6, 0u16..1400)
            .prop_map(|(src, tok, random, to, len)| Op::Data { src, tok, random, to, len }),
        2 => (any::<u8>(), 0u8..5, any::<u64>()).prop_map(|(src, tok, random)| Op::Bind { src, tok, random }),
        1 => (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(src, mut bytes)| { bytes.insert(0, 0xF5); Op::Junk { src, bytes } }),
        1 => (0u32..40_000).prop_map(|ms| Op::Wait { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_relay_never_sends_more_bytes_than_it_received(ops in proptest::collection::vec(op(), 1..200)) {
        let relay = RelayConfig {
            player_rate: 20_000, player_burst: 30_000, server_rate: 50_000, lifetime: secs(120),
            ..RelayConfig::default()
        };
        let mut h = H::with(config(relay));
        let out = start(&mut h, &["A", "B", "C", "Godot"], &[true, true, true, false]);
        let t = tokens(&out, 3);
        let pool = |i: u8| match i % 6 { 0..=3 => addr(u16::from(i % 6) + 1), 4 => addr(40), _ => addr(41) };
        let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
        for op in ops {
            let (src, frame) = match op {
                Op::Data { src, tok, random, to, len } => {
                    let token = t.get(usize::from(tok)).copied().unwrap_or(random);
                    (src, data(token, to, &vec![0xAB; usize::from(len)]))
                }
                Op::Bind { src, tok, random } => (src, bind(t.get(usize::from(tok)).copied().unwrap_or(random))),
                Op::Junk { src, bytes } => (src, bytes),
                Op::Wait { ms: d } => {
                    for s in h.advance(ms(u64::from(d))) {
                        prop_assert_eq!(s.bytes.first(), Some(&0xF5), "only relay frames now: {:?}", s);
                        bytes_out += s.bytes.len() as u64;
                    }
                    prop_assert!(bytes_out <= bytes_in, "sent {} for {} received", bytes_out, bytes_in);
                    continue;
                }
            };
            bytes_in += frame.len() as u64;
            let sent = h.send_bytes(pool(src), &frame);
            prop_assert!(sent.len() <= 1, "one frame in, at most one out: {:?}", sent);
            for s in sent {
                prop_assert!(s.bytes.len() + 7 <= frame.len(), "{} bytes out for {}", s.bytes.len(), frame.len());
                bytes_out += s.bytes.len() as u64;
            }
            prop_assert!(bytes_out <= bytes_in, "sent {} for {} received", bytes_out, bytes_in);
            h.engine.check_invariants().map_err(TestCaseError::fail)?;
        }
        h.advance(secs(200));
        let stats = h.engine.relay_stats();
        prop_assert_eq!((stats.sessions_live, stats.members_live), (0, 0));
    }
}
