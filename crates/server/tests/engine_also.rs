//! `v:` on a fake clock: a player of ours proves an address in the other family (step 1 from its
//! session address gets a token, step 2 from the other address with that token is taken), and
//! other players of ours find that address in their start message, right after the player's own
//! entry. Anything unchecked gets no answer and lists nothing; an entry never outlives its player
//! or its session; the table stays within one entry per player whatever is sent.

mod common;
use common::*;
use rhp_proto::Reply;
use rhp_server::stats::REQUEST_KINDS;
use rhp_server::{Config, Engine};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// An IPv6 address per number: [2001:db8::n]:(50000+n).
fn v6(n: u16) -> SocketAddr {
    SocketAddr::new(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, n).into(), 50000 + n)
}

/// Session `s`: host `A` at addr(1) and `B` at addr(2), both ours (`e:`), and Godot peer `G` at
/// addr(3).
fn lobby(h: &mut H, s: &str) {
    h.send(addr(1), &format!("h:{s}:A:4"));
    h.send(addr(2), &format!("c:{s}:B"));
    h.send(addr(3), &format!("c:{s}:G"));
    h.send(addr(1), &format!("e:{s}:A:cone"));
    h.send(addr(2), &format!("e:{s}:B:cone"));
}

/// Step 1 from `from`: the token, if answered (asserting it goes to `from` and nowhere else).
fn token(h: &mut H, from: SocketAddr, s: &str, p: &str) -> Option<String> {
    let out = h.send(from, &format!("v:{s}:{p}"));
    match out.as_slice() {
        [] => None,
        [(to, text)] => {
            assert_eq!(*to, from, "the token goes to the session address");
            match Reply::parse(text.as_bytes()) {
                Ok(Reply::AlsoToken(t)) => Some(t),
                other => panic!("not a token: {text:?} {other:?}"),
            }
        }
        more => panic!("one answer expected: {more:?}"),
    }
}

fn check(h: &H) {
    h.engine.check_invariants().unwrap();
}

/// Starts session `s` (host at addr(1)) and returns every start message, by receiver.
fn start(h: &mut H, s: &str) -> Vec<Sent> {
    let mut out = h.send_bytes(addr(1), format!("s:{s}:A").as_bytes());
    out.extend(h.advance(Duration::from_secs(2)));
    out.retain(|s| s.text.starts_with("s:"));
    out
}

fn requests(e: &Engine, kind: &str) -> u64 {
    e.snapshot().requests[REQUEST_KINDS.iter().position(|k| *k == kind).unwrap()]
}

#[test]
fn a_proven_other_address_is_listed_to_ours_only_right_after_the_players_own_entry() {
    let mut h = H::new();
    lobby(&mut h, "Room");
    let t = token(&mut h, addr(2), "Room", "B").expect("B is ours and asks from its address");
    assert_eq!(t.len(), 12);
    assert!(t.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "{t}");
    h.ask(v6(2), &format!("v:Room:B:{t}"), "v:ok");
    check(&h);
    assert_eq!(h.engine.snapshot().also_held, 1);
    assert_eq!(requests(&h.engine, "also"), 2);
    assert_eq!(h.engine.snapshot().also_dropped, 0);

    let out = start(&mut h, "Room");
    let a = to(&out, addr(1));
    assert!(!a.is_empty());
    for s in &a {
        assert_eq!(s, "s:40001:B:10.0.0.2:40002;B:[2001:db8::2]:50002;G:10.0.0.3:40003");
        let Ok(Reply::Start { peers, .. }) = Reply::parse(s.as_bytes()) else { panic!("{s}") };
        assert_eq!(peers.len(), 3);
    }
    // B lists nothing of its own; the Godot peer gets B once, by its IPv4 address, and no IPv6.
    assert!(to(&out, addr(2)).iter().all(|s| s == "s:40002:A:10.0.0.1:40001;G:10.0.0.3:40003"));
    let g = to(&out, addr(3));
    assert!(!g.is_empty());
    assert!(g.iter().all(|s| s == "s:40003:A:10.0.0.1:40001;B:10.0.0.2:40002"), "{g:?}");
    check(&h);
}

#[test]
fn an_ipv6_player_may_prove_an_ipv4_address_and_a_mapped_source_counts_as_ipv4() {
    let mut h = H::new();
    h.send(v6(1), "h:Room:A:4");
    h.send(addr(2), "c:Room:B");
    h.send(v6(1), "e:Room:A:cone");
    h.send(addr(2), "e:Room:B:cone");
    let t = token(&mut h, v6(1), "Room", "A").unwrap();
    // From a dual-stack socket an IPv4 source arrives mapped: it is IPv4, and listed as such.
    let mapped = SocketAddr::new(std::net::IpAddr::V6(Ipv4Addr::new(10, 0, 0, 9).to_ipv6_mapped()), 4009);
    h.ask(mapped, &format!("v:Room:A:{t}"), "v:ok");
    let out = start(&mut h, "Room");
    assert!(to(&out, addr(2)).iter().all(|s| s == "s:40002:A:[2001:db8::1]:50001;A:10.0.0.9:4009"));
}

#[test]
fn step_one_is_answered_only_to_an_ours_players_own_address() {
    let mut h = H::new();
    lobby(&mut h, "Room");
    assert_eq!(token(&mut h, addr(3), "Room", "G"), None, "a Godot peer is not ours");
    assert_eq!(token(&mut h, addr(9), "Room", "B"), None, "not B's address");
    assert_eq!(token(&mut h, v6(2), "Room", "B"), None, "not B's address either");
    assert_eq!(token(&mut h, addr(2), "Room", "A"), None, "B's address, A's name");
    assert_eq!(token(&mut h, addr(2), "Nope", "B"), None, "no such session");
    assert_eq!(token(&mut h, addr(2), "Room", "Z"), None, "no such player");
    assert_eq!(h.engine.snapshot().also_dropped, 6);
    assert_eq!(requests(&h.engine, "also"), 6);
    assert_eq!(requests(&h.engine, "unknown"), 0);
    // A player of ours via `r:` alone counts too, on a relaying server.
    let mut h = H::with(Config {
        relay: rhp_server::RelayConfig { enabled: true, ..Default::default() },
        ..Config::original()
    });
    h.send(addr(1), "h:Room:A:4");
    assert_eq!(token(&mut h, addr(1), "Room", "A"), None);
    h.send(addr(1), "r:Room:A");
    assert!(token(&mut h, addr(1), "Room", "A").is_some());
    check(&h);
}

#[test]
fn step_two_is_taken_only_with_the_right_token_from_the_other_family() {
    let mut h = H::new();
    lobby(&mut h, "Room");
    lobby(&mut h, "Other");
    let tb = token(&mut h, addr(2), "Room", "B").unwrap();
    let ta = token(&mut h, addr(1), "Room", "A").unwrap();
    let other = token(&mut h, addr(2), "Other", "B").unwrap();
    assert_ne!(tb, ta);
    assert_ne!(tb, other, "a token is bound to its session");
    let first = if tb.as_bytes()[0] == b'0' { '1' } else { '0' };
    let wrong = format!("{first}{}", &tb[1..]);
    h.silent(v6(2), &format!("v:Room:B:{wrong}"));
    h.silent(v6(2), &format!("v:Room:B:{other}"));
    h.silent(v6(2), &format!("v:Room:B:{ta}"));
    h.silent(v6(2), &format!("v:Room:G:{tb}"));
    h.silent(v6(2), &format!("v:Nope:B:{tb}"));
    // The same family as B's session address: nothing to add.
    h.silent(addr(7), &format!("v:Room:B:{tb}"));
    h.silent(addr(2), &format!("v:Room:B:{tb}"));
    assert_eq!(h.engine.snapshot().also_held, 0);
    assert_eq!(h.engine.snapshot().also_dropped, 7);
    let out = start(&mut h, "Room");
    assert!(out.iter().all(|s| !s.text.contains('[')), "nothing listed: {out:?}");
    // A started session takes no proof.
    h.silent(v6(2), &format!("v:Room:B:{tb}"));
    check(&h);
}

#[test]
fn a_second_proof_replaces_the_first_and_the_table_holds_one_entry_per_player() {
    let mut h = H::new();
    lobby(&mut h, "Room");
    let t = token(&mut h, addr(2), "Room", "B").unwrap();
    for n in 10..200 {
        h.ask(v6(n), &format!("v:Room:B:{t}"), "v:ok");
    }
    assert_eq!(h.engine.snapshot().also_held, 1);
    check(&h);
    let out = start(&mut h, "Room");
    assert!(to(&out, addr(1))
        .iter()
        .all(|s| s == "s:40001:B:10.0.0.2:40002;B:[2001:db8::c7]:50199;G:10.0.0.3:40003"));
}

#[test]
fn an_entry_goes_with_its_player_and_its_session_and_old_tokens_die() {
    let mut h = H::new();
    lobby(&mut h, "Room");
    let t = token(&mut h, addr(2), "Room", "B").unwrap();
    h.ask(v6(2), &format!("v:Room:B:{t}"), "v:ok");
    // B leaves and comes back from the same address: its old address is not listed.
    h.send(addr(2), "x:Room:B");
    check(&h);
    assert_eq!(h.engine.snapshot().also_held, 0);
    h.send(addr(2), "c:Room:B");
    h.send(addr(2), "e:Room:B:cone");
    // Kicked: gone too.
    let t = token(&mut h, addr(3), "Room", "G");
    assert_eq!(t, None);
    h.send(addr(3), "e:Room:G:cone");
    let tg = token(&mut h, addr(3), "Room", "G").unwrap();
    h.ask(v6(3), &format!("v:Room:G:{tg}"), "v:ok");
    assert_eq!(h.engine.snapshot().also_held, 1);
    h.send(addr(1), "k:Room:G");
    assert_eq!(h.engine.snapshot().also_held, 0);
    check(&h);
    let out = start(&mut h, "Room");
    assert!(out.iter().all(|s| !s.text.contains('[')), "{out:?}");

    // A session that is gone takes its entries, and a new one of that name is a new instance.
    let mut h = H::new();
    lobby(&mut h, "Room");
    let t = token(&mut h, addr(2), "Room", "B").unwrap();
    h.ask(v6(2), &format!("v:Room:B:{t}"), "v:ok");
    for p in [(addr(1), "A"), (addr(2), "B"), (addr(3), "G")] {
        h.send(p.0, &format!("x:Room:{}", p.1));
    }
    assert_eq!(h.engine.session_count(), 0);
    assert_eq!(h.engine.snapshot().also_held, 0);
    check(&h);
    lobby(&mut h, "Room");
    h.silent(v6(2), &format!("v:Room:B:{t}"));
    let out = start(&mut h, "Room");
    assert!(out.iter().all(|s| !s.text.contains('[')), "{out:?}");
    check(&h);
}

#[test]
fn entries_of_timed_out_players_and_sessions_go() {
    let mut h = H::new();
    lobby(&mut h, "Room");
    let t = token(&mut h, addr(2), "Room", "B").unwrap();
    h.ask(v6(2), &format!("v:Room:B:{t}"), "v:ok");
    // Nobody pings: every player times out, and the session with them.
    h.advance(Duration::from_secs(600));
    assert_eq!(h.engine.session_count(), 0);
    assert_eq!(h.engine.snapshot().also_held, 0);
    check(&h);
}

#[test]
fn with_the_budget_on_the_proof_from_a_non_member_is_answered() {
    let mut h = H::with(Config::default());
    lobby(&mut h, "Room");
    let t = token(&mut h, addr(2), "Room", "B").unwrap();
    h.ask(v6(2), &format!("v:Room:B:{t}"), "v:ok");
    check(&h);
}

#[test]
fn a_private_players_other_address_is_never_listed() {
    let mut h = H::with(Config {
        relay: rhp_server::RelayConfig { enabled: true, ..Default::default() },
        ..Config::original()
    });
    lobby(&mut h, "Room");
    h.send(addr(2), "q:Room:B");
    let t = token(&mut h, addr(2), "Room", "B").unwrap();
    h.ask(v6(2), &format!("v:Room:B:{t}"), "v:ok");
    let out = start(&mut h, "Room");
    assert!(!to(&out, addr(1)).is_empty());
    assert!(out.iter().all(|s| !s.text.contains("2001:db8")), "{out:?}");
    check(&h);
}

mod random {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    const SESSIONS: [&str; 2] = ["Room", "Hall"];
    const NAMES: [&str; 3] = ["A", "B", "C"];

    /// Four IPv4 and four IPv6 addresses.
    fn at(i: usize) -> SocketAddr {
        if i < 4 {
            addr(i as u16 + 1)
        } else {
            v6(i as u16 - 3)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        /// From player `p`'s IPv4 address, or its IPv6 one if `v6` (or, rarely, another's).
        Req {
            v6: bool,
            other: bool,
            kind: u8,
            s: usize,
            p: usize,
            token: usize,
        },
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            // Joins, descriptors and whole proofs often enough that starts list some.
            8 => (any::<bool>(), prop::bool::weighted(0.1), prop::sample::select(vec![0u8, 0, 1, 1, 1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 7, 8, 9, 9, 9]), prop::sample::select(vec![0usize, 0, 0, 1]), 0..3usize, 0..4usize)
                .prop_map(|(v6, other, kind, s, p, token)| Op::Req { v6, other, kind, s, p, token }),
            1 => prop_oneof![Just(100u64), Just(1_500), Just(6_000)].prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]
        /// Random requests (`v:` steps with tokens the engine handed out, to anyone, or made up)
        /// from a pool of IPv4 and IPv6 addresses: the invariants (the side table's bound
        /// included) hold after every step, and every other address a start message lists was
        /// taken with `v:ok` for that name from that address.
        #[test]
        fn random_v_steps_keep_the_table_bounded_and_list_only_proven_addresses(
            ops in proptest::collection::vec(op(), 1..200),
            budget in any::<bool>(),
        ) {
            let config = if budget {
                Config { create_rate: 0, ..Config::default() }
            } else {
                Config::original()
            };
            let mut h = H::with(config);
            let mut tokens: Vec<String> = vec!["0123456789ab".into()];
            let mut proven: HashSet<(String, SocketAddr)> = HashSet::new();
            for op in ops {
                let out = match op {
                    Op::Advance(ms) => h.advance(Duration::from_millis(ms)),
                    Op::Req { v6, other, kind, s, p, token } => {
                        let from = (p + usize::from(other)) % 4 + if v6 { 4 } else { 0 };
                        let (s, p) = (SESSIONS[s], NAMES[p]);
                        let text = match kind {
                            0 => format!("h:{s}:{p}:3"),
                            1 => format!("c:{s}:{p}"),
                            2 => format!("e:{s}:{p}:cone"),
                            3 | 4 => format!("v:{s}:{p}"),
                            // Mostly the latest token handed out.
                            5 | 6 => format!("v:{s}:{p}:{}", tokens[tokens.len() - 1 - token % tokens.len()]),
                            7 => format!("x:{s}:{p}"),
                            8 => format!("k:{s}:{p}"),
                            _ => format!("s:{s}:{p}"),
                        };
                        let mut out = h.send_bytes(at(from), text.as_bytes());
                        // Kind 4 goes on with step 2 from the other family, as our client does.
                        let token = out.iter().find_map(|s| match Reply::parse(&s.bytes) {
                            Ok(Reply::AlsoToken(t)) => Some(t),
                            _ => None,
                        });
                        let mut steps = vec![(from, out.clone())];
                        if let (4, Some(t)) = (kind, token) {
                            let other = (from + 4) % 8;
                            let more = h.send_bytes(at(other), format!("v:{s}:{p}:{t}").as_bytes());
                            steps.push((other, more.clone()));
                            out.extend(more);
                        }
                        for (from, sent) in steps {
                            for sent in sent.iter().filter(|x| x.text == "v:ok") {
                                prop_assert_eq!(sent.to, at(from));
                                proven.insert((p.to_owned(), at(from)));
                            }
                        }
                        out
                    }
                };
                for sent in &out {
                    if let Ok(Reply::AlsoToken(t)) = Reply::parse(&sent.bytes) {
                        tokens.push(t);
                    }
                    if let Ok(Reply::Start { peers, .. }) = Reply::parse(&sent.bytes) {
                        for pair in peers.windows(2) {
                            if pair[0].name == pair[1].name {
                                let key = (pair[1].name.clone(), pair[1].addr);
                                prop_assert!(proven.contains(&key), "{:?} listed unproven", key);
                            }
                        }
                    } else {
                        prop_assert!(!sent.text.starts_with("s:"), "unparsable {:?}", sent.text);
                    }
                }
                h.engine.check_invariants().map_err(TestCaseError::fail)?;
                let snap = h.engine.snapshot();
                prop_assert!(snap.also_held <= h.engine.player_count());
            }
        }
    }
}
