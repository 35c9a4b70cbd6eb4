//! The per-IP caps' defaults against their two jobs (fake clock): a carrier-grade NAT address with
//! many players gets through (100 lobbies within 2 s, 1,000 live sessions), and one address
//! flooding for minutes holds no more than its caps, so filling the server takes many addresses
//! (the arithmetic is in the README's Hardening section).

mod common;
use common::{ms, H};
use rhp_server::config::BudgetConfig;
use rhp_server::Config;
use std::net::{IpAddr, SocketAddr};

/// An address in the carrier-grade NAT range (RFC 6598), one port per player.
fn cgnat(ip: u8, port: u16) -> SocketAddr {
    SocketAddr::from(([100, 64, 0, ip], port))
}

#[test]
fn a_carrier_nat_creating_100_lobbies_within_2_s_is_accepted_by_default() {
    // All at once, then spread over 2 s: both pass.
    let mut h = H::with(Config::default());
    for i in 0..100u16 {
        h.ask(cgnat(1, 1000 + i), &format!("h:A{i}:P{i}:4"), &format!("i:P{i}"));
    }
    let mut h2 = H::with(Config::default());
    for i in 0..100u16 {
        h2.advance(ms(20));
        h2.ask(cgnat(1, 1000 + i), &format!("h:B{i}:P{i}:4"), &format!("i:P{i}"));
    }
    // And their players, from the same address, join within the same 2 s.
    for i in 0..100u16 {
        let out = h2.send(cgnat(1, 3000 + i), &format!("c:B{i}:Q{i}"));
        assert!(
            out.iter().any(|(to, t)| *to == cgnat(1, 3000 + i) && t == &format!("i:P{i}:Q{i}")),
            "{out:?}"
        );
    }
    assert_eq!(h2.engine.per_ip_counts(cgnat(1, 1).ip()), (100, 200));
}

#[test]
fn a_carrier_nat_address_holds_1000_live_sessions_by_default() {
    let mut h = H::with(Config::default());
    let mut hosts = Vec::new();
    for i in 0..1000u16 {
        // 50 a second, the sustained rate; every host keeps its session alive.
        h.advance(ms(20));
        h.ask(cgnat(1, 2000 + i), &format!("h:S{i}:P{i}:4"), &format!("i:P{i}"));
        hosts.push(i);
        if i % 200 == 199 {
            for j in &hosts {
                h.send(cgnat(1, 2000 + j), &format!("p:S{j}:P{j}"));
            }
        }
    }
    assert_eq!(h.engine.session_count(), 1000);
    assert_eq!(h.engine.per_ip_counts(cgnat(1, 1).ip()).0, 1000);
}

#[test]
fn one_address_flooding_for_two_minutes_holds_no_more_than_its_caps() {
    let defaults = Config::default();
    // The arithmetic: addresses an attacker needs, each at its caps, to fill the server.
    let ips_for_sessions = defaults.max_sessions.div_ceil(defaults.max_sessions_per_ip);
    let ips_for_players = defaults.max_players.div_ceil(defaults.max_players_per_ip);
    assert_eq!((ips_for_sessions, ips_for_players), (1024, 1024));
    assert!(defaults.max_sessions_per_ip >= 1000 && defaults.create_burst + 2 * defaults.create_rate >= 100);

    // Only hosting: the session cap holds. Hosting and joining: the player cap holds.
    for join in [false, true] {
        let mut h = flood(&defaults, join);
        let (held_sessions, held_players) = h.engine.per_ip_counts(attacker());
        if join {
            assert_eq!(
                held_players as usize, defaults.max_players_per_ip,
                "the player cap is reached and holds"
            );
        } else {
            assert_eq!(
                held_sessions as usize, defaults.max_sessions_per_ip,
                "the session cap is reached and holds"
            );
        }
        assert!(held_sessions as usize <= defaults.max_sessions_per_ip);
        assert!(held_players as usize <= defaults.max_players_per_ip);
        h.engine.check_invariants().expect("invariants");
        // Another address (a carrier NAT's) is not affected by the flood.
        h.ask(cgnat(1, 5000), "h:Honest:Alice:4", "i:Alice");
    }
    // An IPv6 attacker's /64 is one source: a new address in it does not get a new allowance.
    let v6 = |last: u16| SocketAddr::from(([0x2001, 0xdb8, 0, 1, 0, 0, 0, last], 4000));
    let mut small = H::with(Config { max_sessions_per_ip: 2, ..Config::default() });
    small.ask(v6(1), "h:V1:A:4", "i:A");
    small.ask(v6(2), "h:V2:A:4", "i:A");
    small.ask(v6(3), "h:V3:A:4", "error:too_many_sessions");
    small.ask(SocketAddr::from(([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1], 4000)), "h:V4:A:4", "i:A");
}

fn attacker() -> IpAddr {
    [100, 64, 0, 9].into()
}

/// One address sending a creation every 5 ms (4x the rate) for 120 s from ever new ports, keeping
/// everything it got alive: only `h:`, or `c:` into its own sessions while one has room.
fn flood(defaults: &Config, join: bool) -> H {
    // The budget off, so every answer is seen (it is about bytes, not state).
    let config = Config { budget: BudgetConfig { factor: 0, ..BudgetConfig::default() }, ..defaults.clone() };
    let mut h = H::with(config);
    let mut players: Vec<(SocketAddr, String, String)> = Vec::new();
    let mut sessions: Vec<(String, usize)> = Vec::new();
    let mut refusals = std::collections::BTreeMap::new();
    let mut port = 1000u16;
    for step in 0..24_000u32 {
        h.advance(ms(5));
        port = port.wrapping_add(1).max(1000);
        let from = SocketAddr::new(attacker(), port);
        let name = format!("P{step}");
        let open = if join { sessions.iter().position(|(_, n)| *n < 12) } else { None };
        let (text, session) = match open {
            Some(i) => (format!("c:{}:{name}", sessions[i].0), sessions[i].0.clone()),
            None => (format!("h:S{step}:{name}:12"), format!("S{step}")),
        };
        let out = h.send(from, &text);
        let answer = out.iter().find(|(to, _)| *to == from).map(|(_, t)| t.clone()).unwrap_or_default();
        if answer.starts_with("i:") {
            match open {
                Some(i) => sessions[i].1 += 1,
                None => sessions.push((session.clone(), 1)),
            }
            players.push((from, session, name));
        } else {
            assert!(
                answer == "error:too_many_requests" || answer == "error:too_many_sessions",
                "{text}: {answer:?}"
            );
            *refusals.entry(answer).or_insert(0u32) += 1;
        }
        if step % 800 == 0 {
            for (from, s, p) in &players {
                h.send(*from, &format!("p:{s}:{p}"));
            }
        }
    }
    let (held_sessions, held_players) = h.engine.per_ip_counts(attacker());
    assert_eq!(
        (held_sessions as usize, held_players as usize),
        (sessions.len(), players.len()),
        "{refusals:?}"
    );
    h
}
