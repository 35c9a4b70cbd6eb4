//! Kicks that hold (issue 20), engine level on a fake clock: a kicked player stays out of that
//! session for its life, by name, by ip:port and by IP; players already in behind its IP stay;
//! the host's `u:` (our clients' extension) lets it back; bans are bounded and go with the
//! session; a host kicking itself is leaving, not banned.

mod common;
use common::*;
use std::net::SocketAddr;

fn at(ip: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, ip], port))
}

/// Alice (host, 10.0.0.1:1) with Bob (10.0.0.2:1) and Carol (10.0.0.2:2, Bob's IP) in Room.
fn room() -> H {
    let mut h = H::new();
    h.ask(at(1, 1), "h:Room:Alice:6", "i:Alice");
    h.send(at(2, 1), "c:Room:Bob");
    h.send(at(2, 2), "c:Room:Carol");
    assert_eq!(h.engine.player_count(), 3);
    let out = h.send(at(1, 1), "k:Room:Bob");
    assert!(out.contains(&(at(2, 1), "error:kicked_by_host".to_owned())), "{out:?}");
    h
}

#[test]
fn a_kicked_player_stays_out_by_name_address_and_ip() {
    let mut h = room();
    h.ask(at(2, 1), "c:Room:Bob", "error:kicked_by_host");
    h.ask(at(9, 9), "c:Room:Bob", "error:kicked_by_host");
    h.ask(at(2, 1), "c:Room:Bobby", "error:kicked_by_host");
    h.ask(at(2, 7), "c:Room:Bobby", "error:kicked_by_host");
    assert_eq!(h.engine.player_count(), 2);
    // Carol, behind Bob's IP and already in, stays: her pings and her join's retransmit count.
    h.ask(at(2, 2), "p:Room:Carol", "i:Alice:Carol");
    h.ask(at(2, 2), "c:Room:Carol", "i:Alice:Carol");
    // Another IP and name joins as ever.
    let out = h.send(at(3, 1), "c:Room:Dave");
    assert_eq!(out.len(), 3, "{out:?}");
    // Still out after 14 minutes (the session's life), with pings keeping the others in.
    for _ in 0..(14 * 60 / 4) {
        h.advance(ms(4000));
        for (a, p) in [(at(1, 1), "Alice"), (at(2, 2), "Carol"), (at(3, 1), "Dave")] {
            h.send(a, &format!("p:Room:{p}"));
        }
    }
    h.ask(at(4, 4), "c:Room:Bob", "error:kicked_by_host");
}

#[test]
fn the_hosts_unban_lets_them_back_and_only_the_host_may() {
    let mut h = room();
    h.ask(at(2, 2), "u:Room:Bob", "error:non_host_player");
    h.ask(at(1, 1), "u:Room:Eve", "error:non_existent_player");
    h.ask(at(1, 1), "u:Nowhere:Bob", "error:session_non_existent");
    h.ask(at(1, 1), "u:Room:Bob", "i:Alice:Carol");
    let out = h.send(at(2, 1), "c:Room:Bob");
    assert_eq!(out.len(), 3, "back in: {out:?}");
    h.ask(at(1, 1), "u:Room:Bob", "error:non_existent_player");
}

#[test]
fn bans_go_with_the_session_and_are_bounded() {
    let mut h = room();
    h.send(at(1, 1), "k:Room:Carol");
    h.send(at(1, 1), "k:Room:Alice");
    assert_eq!(h.engine.session_count(), 0, "a host kicking itself out of an empty session ends it");
    // A new session of the same name starts with no bans.
    h.ask(at(5, 1), "h:Room:Zed:12", "i:Zed");
    h.send(at(2, 1), "c:Room:Bob");
    assert_eq!(h.engine.player_count(), 2);
    // Many kicks: at most 32 bans, the oldest lifted first.
    for i in 0..40u16 {
        let name = format!("K{i}");
        let from = SocketAddr::from(([10, 1, (i / 200) as u8, (i % 200) as u8], 1));
        h.send(from, &format!("c:Room:{name}"));
        h.send(at(5, 1), &format!("k:Room:{name}"));
    }
    let s = rhp_server::SessionStore::get(h.engine.store(), "Room").expect("session");
    assert_eq!(s.bans.len(), rhp_server::bans::MAX_BANS);
    h.engine.check_invariants().expect("invariants");
}

#[test]
fn a_host_kicking_itself_is_not_banned() {
    let mut h = H::new();
    h.ask(at(1, 1), "h:Room:Alice:6", "i:Alice");
    h.send(at(2, 1), "c:Room:Bob");
    h.send(at(1, 1), "k:Room:Alice");
    let out = h.send(at(1, 1), "c:Room:Alice");
    assert_eq!(out.len(), 2, "Alice rejoins the session Bob now hosts: {out:?}");
}

#[test]
fn an_ipv6_ban_covers_the_kicked_players_64() {
    let v6 = |s: &str, port: u16| SocketAddr::new(s.parse().expect("ipv6"), port);
    let mut h = H::new();
    h.ask(at(1, 1), "h:Room:Alice:6", "i:Alice");
    h.send(v6("2001:db8:1:2::10", 5000), "c:Room:Bob");
    h.send(at(1, 1), "k:Room:Bob");
    // A new address in the same /64 (as a host picks at will), under a new name: still out.
    h.ask(v6("2001:db8:1:2:abcd::1", 6000), "c:Room:Robert", "error:kicked_by_host");
    // Another /64 gets in.
    assert_eq!(h.send(v6("2001:db8:1:3::10", 5000), "c:Room:Robert").len(), 2);
}
