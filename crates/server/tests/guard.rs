//! The password guard (issue 20), engine level on a fake clock: guesses at a session's password
//! are checked at most at the designed rate whatever the number of source addresses (1, 100 and
//! 1,000 measured over the session's life), a player with the right password from a clean address
//! gets in mid-attack, a guess beyond the limit is refused unchecked (a right one gets exactly what
//! a wrong one gets), and the guard's state is bounded and goes with the session.
//!
//! Designed rate (defaults, see `rhp_server::guard`): a network's first failure is always checked;
//! then it needs a token from its own bucket (burst 5, 3/min) and from the session's bucket for
//! suspects (burst 10, 6/min). So over `m` minutes one session gets at most
//! `networks + 10 + 6m` checks, and one network alone at most `5 + 3m`.

mod common;
use common::*;
use rhp_server::{Config, GuardConfig};
use std::net::SocketAddr;
use std::time::Duration;

const HOST: u16 = 1;
const PASSWORD: &str = "Zq7";

/// The original server plus the guard (no budget, no caps: only the guard decides).
fn guarded() -> Config {
    Config { guard: GuardConfig::default(), ..Config::original() }
}

/// Attacker number `i`'s address: one IP each.
fn attacker(i: u32) -> SocketAddr {
    SocketAddr::from(([172, 16 + (i >> 16) as u8, (i >> 8) as u8, i as u8], 30000))
}

/// Session Room with password `PASSWORD`, hosted from addr(HOST).
fn room(config: Config) -> H {
    let mut h = H::with(config);
    h.ask(addr(HOST), &format!("h:Room:Alice:12:{PASSWORD}"), "i:Alice");
    h
}

/// A wrong guess, different for each attacker and round.
fn wrong(i: u32, round: u32) -> String {
    format!("c:Room:M{i}:W{}x{round}", i % 1000)
}

/// `n` attackers each guess once per `every` for `minutes` (the host pings meanwhile); returns
/// the guesses checked (failed checks) and the guesses refused unchecked.
fn attack(h: &mut H, n: u32, every: Duration, minutes: u64) -> (u64, u64) {
    let before = h.engine.guard_stats();
    let end = h.elapsed() + Duration::from_secs(60 * minutes);
    let mut round = 0;
    let mut last_ping = h.elapsed();
    while h.elapsed() < end {
        for i in 0..n {
            let out = h.send(attacker(i), &wrong(i, round));
            assert_eq!(out.len(), 1, "{out:?}");
            let answer = &out[0].1;
            assert!(answer == "error:password_mismatch" || answer == "error:too_many_requests", "{answer}");
        }
        round += 1;
        h.advance(every);
        if h.elapsed() >= last_ping + ms(4000) {
            h.send(addr(HOST), "p:Room:Alice");
            last_ping = h.elapsed();
        }
    }
    let after = h.engine.guard_stats();
    (after.failed_checks - before.failed_checks, after.refused_unchecked - before.refused_unchecked)
}

#[test]
fn one_address_gets_its_burst_then_three_checks_a_minute() {
    let mut h = room(guarded());
    let (checked, refused) = attack(&mut h, 1, ms(100), 14);
    println!(
        "1 address, 10 guesses/s for 14 min: {checked} checked ({:.1}/min), {refused} refused",
        checked as f64 / 14.0
    );
    assert!(checked <= 5 + 3 * 14, "{checked} checked");
    assert!(checked >= 3 * 14, "the rate is a rate, not a lock-out: {checked}");
    assert_eq!(checked + refused, 14 * 60 * 10);
}

#[test]
fn a_thousand_addresses_get_one_check_each_then_the_sessions_rate() {
    let mut h = room(guarded());
    let (checked, refused) = attack(&mut h, 1000, ms(2000), 14);
    println!("1000 addresses, 1 guess/2 s each for 14 min: {checked} checked, {refused} refused");
    assert!(checked <= 1000 + 10 + 6 * 14, "{checked} checked");
    // After the first minute, only the session's rate.
    let (later, _) = attack(&mut h, 1000, ms(2000), 0);
    assert_eq!(later, 0);
}

#[test]
fn guesses_checked_per_minute_at_1_100_and_1000_addresses() {
    // The figures of the README (printed with --nocapture): each address guesses every 2 s,
    // over 14 minutes of the session's 15.
    for n in [1u32, 100, 1000] {
        let mut h = room(guarded());
        let (first, _) = attack(&mut h, n, ms(2000), 1);
        let (rest, _) = attack(&mut h, n, ms(2000), 13);
        let total = first + rest;
        println!(
            "{n} addresses: {first} checked in the first minute, then {:.1}/min; {total} in 14 min",
            rest as f64 / 13.0
        );
        let own = if n == 1 { 5 + 3 * 14 } else { u64::from(n) + 10 + 6 * 14 };
        assert!(total <= own, "{n} addresses: {total} checked");
        assert!(rest as f64 / 13.0 <= if n == 1 { 3.0 } else { 6.0 } + 0.5, "{n}: {rest} in 13 min");
    }
}

#[test]
fn the_right_password_from_a_clean_address_gets_in_mid_attack() {
    let mut h = room(guarded());
    attack(&mut h, 300, ms(1000), 1);
    // The session's bucket is empty and every attacker is refused now...
    assert_eq!(
        h.send(attacker(7), &wrong(7, 999)),
        vec![(attacker(7), "error:too_many_requests".to_owned())]
    );
    // ...but Bob, from an address with no failure, gets in with the right password.
    let bob = addr(2);
    let out = h.send(bob, &format!("c:Room:Bob:{PASSWORD}"));
    assert!(out.contains(&(bob, "i:Alice:Bob".to_owned())), "{out:?}");
    // And his retransmit is answered as ever.
    h.ask(bob, &format!("c:Room:Bob:{PASSWORD}"), "i:Alice:Bob");
}

#[test]
fn a_right_guess_beyond_the_limit_gets_what_a_wrong_one_gets() {
    let mut h = room(guarded());
    let mallory = attacker(1);
    // Five wrong guesses (the burst), then both a wrong and the right one are refused alike.
    for i in 0..5 {
        h.ask(mallory, &wrong(1, i), "error:password_mismatch");
    }
    let wrong_answer = h.send(mallory, &wrong(1, 5));
    let right_answer = h.send(mallory, &format!("c:Room:Mallory:{PASSWORD}"));
    assert_eq!(wrong_answer, vec![(mallory, "error:too_many_requests".to_owned())]);
    assert_eq!(right_answer, wrong_answer, "a right guess beyond the limit is not checked");
    assert_eq!(h.engine.player_count(), 1, "and it did not join");
    // A limit, not a ban: 20 s later her next guess is checked (and the right one joins).
    for _ in 0..5 {
        h.advance(ms(4_000));
        h.send(addr(HOST), "p:Room:Alice");
    }
    let out = h.send(mallory, &format!("c:Room:Mallory:{PASSWORD}"));
    assert!(out.contains(&(mallory, "i:Alice:Mallory".to_owned())), "{out:?}");
}

#[test]
fn without_the_guard_every_guess_is_checked() {
    let mut h = room(Config::original());
    let (checked, refused) = attack(&mut h, 1, ms(100), 1);
    assert_eq!((checked, refused), (600, 0));
}

#[test]
fn the_guards_state_is_bounded_and_goes_with_the_session() {
    let config = Config { guard: GuardConfig { max_tracked: 500, ..GuardConfig::default() }, ..guarded() };
    let mut h = room(config);
    // 5,000 fresh addresses, once each: only 500 are tracked; the rest fail closed (they are
    // suspects without a bucket of their own, so the session's bucket bounds them).
    let mut checked = 0;
    for i in 0..5000 {
        if h.send(attacker(i), &wrong(i, 0))[0].1 == "error:password_mismatch" {
            checked += 1;
        }
    }
    let stats = h.engine.guard_stats();
    assert_eq!(stats.networks_tracked, 500);
    assert!(checked <= 500 + 10, "{checked} checked");
    assert_eq!(stats.sessions_watched, 1);
    // The session ends (its host leaves): its record goes.
    h.send(addr(HOST), "x:Room:Alice");
    assert_eq!(h.engine.guard_stats().sessions_watched, 0);
    // Networks are forgotten once clean again (15 min after their last failure).
    h.advance(Duration::from_secs(16 * 60));
    h.ask(addr(HOST), "h:Room2:Alice:4:Pw", "i:Alice");
    h.ask(attacker(9999), "c:Room2:Eve:Px", "error:password_mismatch");
    assert_eq!(h.engine.guard_stats().networks_tracked, 1);
}

#[test]
fn an_ipv6_attacker_counts_as_one_network_per_64() {
    let mut h = room(guarded());
    // 1,000 addresses of one /64: one network, so its burst of 5 and nothing more at once.
    let mut checked = 0;
    for i in 0..1000u16 {
        let from = SocketAddr::new(format!("2001:db8:7:7::{i:x}").parse().expect("ipv6"), 40000);
        if h.send(from, &wrong(u32::from(i), 0))[0].1 == "error:password_mismatch" {
            checked += 1;
        }
    }
    assert_eq!(checked, 5);
    assert_eq!(h.engine.guard_stats().networks_tracked, 1);
}
