//! A start message lost on the way, with the anti-reflection budget on (engine level, fake clock):
//! the budget allows a player few copies of its start message, so one that lost every copy of
//! the rounds must still get one later, while it keeps pinging, instead of finding the session
//! deleted (`error:session_non_existent`). Found by the simulation's 12 players on a lossy link
//! (`crates/sim/tests/matrix.rs`).

mod common;
use common::*;
use rhp_server::Config;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

/// Bytes received from and sent to each IP, to check the reflection bound on the way.
#[derive(Default)]
struct Bytes {
    received: HashMap<IpAddr, usize>,
    sent: HashMap<IpAddr, usize>,
}

impl Bytes {
    fn send(&mut self, h: &mut H, from: std::net::SocketAddr, text: &str) -> Vec<Sent> {
        *self.received.entry(from.ip()).or_default() += text.len();
        let out = h.send_bytes(from, text.as_bytes());
        self.count(&out);
        out
    }

    fn count(&mut self, out: &[Sent]) {
        for s in out {
            *self.sent.entry(s.to.ip()).or_default() += s.bytes.len();
        }
    }

    fn assert_within(&self, factor: usize) {
        for (ip, &sent) in &self.sent {
            let got = self.received.get(ip).copied().unwrap_or(0);
            assert!(sent <= factor * got, "{ip} was sent {sent} bytes for {got} received");
        }
    }
}

#[test]
fn a_player_that_lost_its_start_messages_gets_one_while_it_pings() {
    let (alice, bob, carol) = (addr(1), addr(2), addr(3));
    let mut h = H::with(Config::default());
    let mut b = Bytes::default();
    b.send(&mut h, alice, "h:Room:Alice:3");
    b.send(&mut h, bob, "c:Room:Bob");
    b.send(&mut h, carol, "c:Room:Carol");
    // The lobby: everyone pings every 0.5 s for 3 s (their credit, and their lists).
    for step in 1..=6u64 {
        let out = h.run_until(ms(500 * step));
        b.count(&out);
        for (who, text) in [(alice, "p:Room:Alice"), (bob, "p:Room:Bob"), (carol, "p:Room:Carol")] {
            b.send(&mut h, who, text);
        }
    }
    let start = h.elapsed();
    b.send(&mut h, alice, "s:Room:Alice");
    // Every start message to Bob during the rounds (and a little after) is lost; Alice and Carol
    // got theirs and stop asking, as the Godot plugin does. Bob pings every 0.5 s (it never got
    // one) until its start message arrives.
    let lost_until = start + ms(1500);
    let (mut lost, mut got, mut refused) = (0, None, Vec::new());
    for step in 1..=40u64 {
        let now = start + ms(100 * step);
        let mut out = h.run_until(now);
        b.count(&out);
        if step % 5 == 0 {
            out.extend(b.send(&mut h, bob, "p:Room:Bob"));
        }
        for s in out.iter().filter(|s| s.to == bob) {
            if s.text.starts_with("s:") {
                if s.at < lost_until {
                    lost += 1;
                } else {
                    got = got.or(Some(s.at));
                }
            } else if s.text.starts_with("error:") {
                refused.push(s.text.clone());
            }
        }
        if got.is_some() {
            break;
        }
    }
    assert!(lost >= 1, "Bob was sent a start message during the rounds");
    assert_eq!(refused, Vec::<String>::new(), "Bob was refused while it waited");
    let got = got.expect("Bob got a start message after it lost those of the rounds");
    assert!(
        got - start < Duration::from_secs(5),
        "Bob's start message came {:?} after the start",
        got - start
    );
    println!("Bob lost {lost} start message(s), got one {:?} after the start", got - start);
    // Then nobody asks any more: the session ends a little after Bob's last ping, well before
    // the start hold, and nobody was sent more than 3x what it sent.
    let end = got + Duration::from_secs(3);
    b.count(&h.run_until(end));
    assert_eq!((h.engine.session_count(), h.engine.player_count()), (0, 0));
    assert!(end - start < Config::default().start_hold);
    b.assert_within(3);
}

#[test]
fn without_the_budget_the_session_still_ends_after_its_rounds() {
    // The original's behaviour: 8 rounds, 0.1 s apart, then deleted, whoever pings.
    let mut h = H::new();
    h.lobby("Room", 3, &["Alice", "Bob"]);
    h.send(addr(1), "s:Room:Alice");
    h.run_until(ms(500));
    h.send(addr(2), "p:Room:Bob");
    h.run_until(ms(900));
    assert_eq!(h.engine.session_count(), 0);
    h.ask(addr(2), "p:Room:Bob", "error:session_non_existent");
}

#[test]
fn a_started_players_late_r_gets_its_grant_alone() {
    // Our client asks `r:` again after a start message that came without its grant (lost, or
    // beyond its budget): it has the start message, so only the grant goes (far fewer bytes).
    let (alice, bob) = (addr(1), addr(2));
    let mut h = H::with(Config::default());
    h.send(alice, "h:Room:Alice:2");
    h.send(bob, "c:Room:Bob");
    for step in 1..=6u64 {
        h.run_until(ms(500 * step));
        for (who, p, r) in [(alice, "p:Room:Alice", "r:Room:Alice"), (bob, "p:Room:Bob", "r:Room:Bob")] {
            h.send(who, p);
            h.send(who, r);
        }
    }
    let first = h.send(alice, "s:Room:Alice");
    let to_bob: Vec<&String> = first.iter().filter(|(a, _)| *a == bob).map(|(_, t)| t).collect();
    assert!(to_bob.iter().any(|t| t.starts_with("s:")), "the first round went: {first:?}");
    h.advance(ms(300));
    let again = h.send(bob, "r:Room:Bob");
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].0 == bob && again[0].1.starts_with("r:"), "{again:?}");
}
