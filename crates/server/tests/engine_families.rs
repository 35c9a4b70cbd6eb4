//! Address families in start messages, on a fake clock: over random sessions mixing IPv4 and IPv6
//! players, Godot peers (no `e:`, no `r:`) and ours (`e:`, or only `r:` to the relaying server),
//! no IPv6 text ever reaches a player that sent neither, every `s:` parses back, each player lists
//! exactly the peers it shares a family with (or, both ours, every peer), symmetrically; and a
//! player that cannot be bridged to its peers gets the closest error instead of a malformed `s:`
//! (`session_non_existent` for a Godot peer, `no_common_family` for ours). With dual-stack players
//! of ours that proved an address in the other family (`v:`): that address follows the player's
//! entry in the start messages of ours only, and no other address is ever listed.

mod common;
use common::*;
use proptest::prelude::*;
use rhp_proto::{ErrorCode, Reply};
use rhp_server::{Config, RelayConfig};
use std::net::{Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Player `i`'s address: 10.0.0.(10+i) or 2001:db8::(10+i), at port 41000+37i.
fn at(i: usize, v6: bool) -> SocketAddr {
    let port = 41_000 + 37 * i as u16;
    if v6 {
        SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 10 + i as u16).into(), port)
    } else {
        SocketAddr::from(([10, 0, 0, 10 + i as u8], port))
    }
}

/// Runs a session of players `(v6, ours)` (host first) through its start rounds, on a relaying
/// server; ours send `e:`, or `r:` alone where `relay_only(i)`. Returns everything the engine sent.
fn run_with(players: &[(bool, bool)], relay_only: impl Fn(usize) -> bool) -> Vec<Sent> {
    let mut h = H::with(Config {
        relay: RelayConfig { enabled: true, ..RelayConfig::default() },
        ..Config::original()
    });
    let addr = |i: usize| at(i, players[i].0);
    let mut out = h.send_bytes(addr(0), b"h:Room:P0:12");
    for i in 1..players.len() {
        out.extend(h.send_bytes(addr(i), format!("c:Room:P{i}").as_bytes()));
    }
    for i in (0..players.len()).filter(|&i| players[i].1) {
        let ask = if relay_only(i) { format!("r:Room:P{i}") } else { format!("e:Room:P{i}:cone") };
        out.extend(h.send_bytes(addr(i), ask.as_bytes()));
    }
    for i in 0..players.len() {
        out.extend(h.send_bytes(addr(i), format!("p:Room:P{i}").as_bytes()));
    }
    out.extend(h.send_bytes(addr(0), b"s:Room:P0"));
    out.extend(h.advance(Duration::from_secs(2)));
    out
}

fn run(players: &[(bool, bool)]) -> Vec<Sent> {
    run_with(players, |_| false)
}

/// Whether `a` sees `b`, by the rule the server documents (crates/server/src/visibility.rs).
fn sees(a: (bool, bool), b: (bool, bool)) -> bool {
    (a.1 && b.1) || (!a.0 && !b.0)
}

/// What player `i` must get for its start: `Ok(names it lists)` or `Err(the error)`.
fn expected(players: &[(bool, bool)], i: usize) -> Result<Vec<String>, ErrorCode> {
    let listed: Vec<usize> = (0..players.len()).filter(|&j| j != i && sees(players[i], players[j])).collect();
    if listed.is_empty() || (i != 0 && !listed.contains(&0)) {
        return Err(if players[i].1 { ErrorCode::NoCommonFamily } else { ErrorCode::SessionNonExistent });
    }
    Ok(listed.into_iter().map(|j| format!("P{j}")).collect())
}

fn check(players: &[(bool, bool)], out: &[Sent]) {
    for (i, &(v6, ours)) in players.iter().enumerate() {
        let mine: Vec<&Sent> = out.iter().filter(|s| s.to == at(i, v6)).collect();
        if !ours {
            for s in &mine {
                assert!(!s.text.contains('['), "IPv6 text to Godot peer P{i}: {:?}", s.text);
                for (j, &(v6, _)) in players.iter().enumerate() {
                    if v6 {
                        let ip = at(j, true).ip().to_string();
                        assert!(
                            !s.text.contains(&ip),
                            "P{j}'s IPv6 address to Godot peer P{i}: {:?}",
                            s.text
                        );
                    }
                }
            }
        }
        let starts: Vec<&&Sent> = mine.iter().filter(|s| s.text.starts_with("s:")).collect();
        match expected(players, i) {
            Ok(names) => {
                assert!(!starts.is_empty(), "P{i} got no start message: {mine:?}");
                for s in starts {
                    let Ok(Reply::Start { own_port, peers }) = Reply::parse(&s.bytes) else {
                        panic!("P{i}'s start message does not parse: {:?}", s.text);
                    };
                    assert_eq!(own_port, at(i, v6).port());
                    let got: Vec<String> = peers.iter().map(|p| p.name.clone()).collect();
                    assert_eq!(got, names, "P{i} of {players:?}");
                    for p in peers {
                        let j: usize = p.name[1..].parse().unwrap();
                        assert_eq!(p.addr, at(j, players[j].0), "P{i} lists P{j} at its address");
                    }
                }
            }
            Err(code) => {
                assert!(starts.is_empty(), "P{i} of {players:?} got {starts:?}");
                assert!(
                    mine.iter().any(|s| s.text == code.wire()),
                    "P{i} of {players:?} lacks {code:?}: {mine:?}"
                );
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn no_ipv6_text_to_godot_peers_and_every_start_parses(
        players in proptest::collection::vec((any::<bool>(), any::<bool>()), 2..7),
        relay_only in any::<u8>(),
    ) {
        let out = run_with(&players, |i| relay_only & (1 << i) != 0);
        check(&players, &out);
    }
}

/// Player `i`'s proven address in the other family: at(i, !v6), one port up.
fn other_at(i: usize, v6: bool) -> SocketAddr {
    let a = at(i, !v6);
    SocketAddr::new(a.ip(), a.port() + 1)
}

/// [`run_with`] for players `(v6, ours, dual)`: before the start, each dual one (of ours) proves
/// [`other_at`] with `v:` (step 1 from its session address, step 2 from the other one), and each
/// other one of ours tries step 2 with a made-up token.
fn run_dual(players: &[(bool, bool, bool)]) -> Vec<Sent> {
    let mut h = H::with(Config {
        relay: RelayConfig { enabled: true, ..RelayConfig::default() },
        ..Config::original()
    });
    let addr = |i: usize| at(i, players[i].0);
    let mut out = h.send_bytes(addr(0), b"h:Room:P0:12");
    for i in 1..players.len() {
        out.extend(h.send_bytes(addr(i), format!("c:Room:P{i}").as_bytes()));
    }
    for (i, &(v6, ours, dual)) in players.iter().enumerate() {
        if ours {
            out.extend(h.send_bytes(addr(i), format!("e:Room:P{i}:cone").as_bytes()));
        }
        let sent = h.send_bytes(addr(i), format!("v:Room:P{i}").as_bytes());
        let token = match sent.as_slice() {
            [s] if ours => match Reply::parse(&s.bytes) {
                Ok(Reply::AlsoToken(t)) => t,
                other => panic!("P{i}: {other:?}"),
            },
            [] if !ours => "0123456789ab".to_owned(),
            other => panic!("P{i} (ours: {ours}) got {other:?}"),
        };
        let token = if dual { token } else { "0123456789ab".to_owned() };
        let answer = h.send_bytes(other_at(i, v6), format!("v:Room:P{i}:{token}").as_bytes());
        let texts: Vec<&str> = answer.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(texts, if ours && dual { vec!["v:ok"] } else { vec![] }, "P{i}'s proof");
        h.engine.check_invariants().unwrap();
    }
    for i in 0..players.len() {
        out.extend(h.send_bytes(addr(i), format!("p:Room:P{i}").as_bytes()));
    }
    out.extend(h.send_bytes(addr(0), b"s:Room:P0"));
    out.extend(h.advance(Duration::from_secs(2)));
    h.engine.check_invariants().unwrap();
    out
}

fn check_dual(players: &[(bool, bool, bool)], out: &[Sent]) {
    let families: Vec<(bool, bool)> = players.iter().map(|&(v6, ours, _)| (v6, ours)).collect();
    for (i, &(v6, ours, _)) in players.iter().enumerate() {
        let mine: Vec<&Sent> = out.iter().filter(|s| s.to == at(i, v6)).collect();
        for s in mine.iter().filter(|_| !ours) {
            assert!(!s.text.contains('['), "IPv6 text to Godot peer P{i}: {:?}", s.text);
        }
        let starts: Vec<&&Sent> = mine.iter().filter(|s| s.text.starts_with("s:")).collect();
        let Ok(names) = expected(&families, i) else {
            assert!(starts.is_empty(), "P{i} of {players:?} got {starts:?}");
            continue;
        };
        assert!(!starts.is_empty(), "P{i} got no start message: {mine:?}");
        let mut want = Vec::new();
        for name in names {
            let j: usize = name[1..].parse().unwrap();
            want.push((name.clone(), at(j, players[j].0)));
            // Only dual players of ours proved an address; only ours are told it.
            if ours && players[j].1 && players[j].2 {
                want.push((name, other_at(j, players[j].0)));
            }
        }
        for s in starts {
            let Ok(Reply::Start { peers, .. }) = Reply::parse(&s.bytes) else {
                panic!("P{i}'s start message does not parse: {:?}", s.text);
            };
            let got: Vec<(String, SocketAddr)> = peers.into_iter().map(|p| (p.name, p.addr)).collect();
            assert_eq!(got, want, "P{i} of {players:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn other_family_addresses_go_to_ours_only_and_only_once_proven(
        players in proptest::collection::vec((any::<bool>(), any::<bool>(), any::<bool>()), 2..7),
    ) {
        let out = run_dual(&players);
        check_dual(&players, &out);
    }
}

#[test]
fn ipv4_sessions_are_unchanged() {
    for players in [[(false, false); 3], [(false, true); 3]] {
        let out = run(&players);
        check(&players, &out);
        assert!(to(&out, at(1, false)).contains(&"s:41037:P0:10.0.0.10:41000;P2:10.0.0.12:41074".to_owned()));
    }
}

#[test]
fn two_of_ours_on_ipv6_get_bracketed_addresses() {
    let players = [(true, true), (true, true)];
    let out = run(&players);
    check(&players, &out);
    assert!(to(&out, at(1, true)).contains(&"s:41037:P0:[2001:db8::a]:41000".to_owned()));
    assert!(to(&out, at(0, true)).contains(&"s:41000:P1:[2001:db8::b]:41037".to_owned()));
}

#[test]
fn a_godot_peer_on_ipv4_never_sees_a_peer_it_could_only_reach_over_ipv6() {
    // Host ours on IPv4, a Godot peer on IPv4, ours on IPv6: the Godot peer gets the host alone;
    // the IPv6 player lists the host (bridged by the relay) but not the Godot peer.
    let players = [(false, true), (false, false), (true, true)];
    let out = run(&players);
    check(&players, &out);
    assert!(to(&out, at(1, false)).contains(&"s:41037:P0:10.0.0.10:41000".to_owned()));
    assert!(to(&out, at(2, true)).contains(&"s:41074:P0:10.0.0.10:41000".to_owned()));
    assert!(to(&out, at(0, false)).contains(&"s:41000:P1:10.0.0.11:41037;P2:[2001:db8::c]:41074".to_owned()));
}

#[test]
fn an_ipv4_godot_host_and_an_ipv6_player_cannot_be_bridged() {
    let players = [(false, false), (true, true)];
    let out = run(&players);
    check(&players, &out);
    assert!(to(&out, at(0, false)).contains(&"error:session_non_existent".to_owned()));
    assert!(to(&out, at(1, true)).contains(&"error:no_common_family".to_owned()));
}
