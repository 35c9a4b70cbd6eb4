//! The lab's matrix in simulation: the real server and real clients through every NAT model of
//! the lab, clean and lossy; each pair must end as `rhp_lab::theory` says (connected, and by one
//! of the methods it allows). Groups of 3 and 12 players too, and a seeded run is reproducible.

mod common;

use common::*;
use rhp_lab::nat::NatType;
use rhp_sim::Link;

fn check_pair(a: Access, b: Access, link: Link, seed: u64, label: &str) {
    let run = run_session(seed, &[a, b], link);
    let (_, _, ok, m) = run.pairs[0];
    let (connects, methods) = expected(&Scenario::Pair(a, b));
    println!(
        "| {} × {} | 2 | {label} | {} | {} | {:?} |",
        a.name(),
        b.name(),
        m.unwrap_or("none"),
        ok,
        run.took
    );
    assert_eq!(ok, connects, "{} × {} ({label}, seed {seed}): connected", a.name(), b.name());
    if ok {
        let m = m.expect("a connected pair has a method");
        assert!(
            methods.contains(&m),
            "{} × {} ({label}, seed {seed}): {m} not in {methods:?}",
            a.name(),
            b.name()
        );
    }
}

fn every_pair(link: Link, label: &str, seed: u64) {
    for (i, a) in Access::ALL.iter().enumerate() {
        for b in &Access::ALL[i..] {
            check_pair(*a, *b, link, seed, label);
        }
    }
}

#[test]
fn every_lab_pair_clean() {
    every_pair(Link::CLEAN, "clean", 1);
}

#[test]
fn every_lab_pair_lossy() {
    every_pair(Link::LOSSY, "lossy", 2);
}

/// Not a lab setting: 5% loss, 20 ms ± 15 ms, 5% reordered, 5% duplicated, on every access link.
const ROUGH: Link = Link {
    delay: std::time::Duration::from_millis(20),
    jitter: std::time::Duration::from_millis(15),
    loss: 0.05,
    reorder: 0.05,
    duplicate: 0.05,
};

#[test]
fn every_lab_pair_on_a_rough_link() {
    every_pair(ROUGH, "rough", 9);
}

/// Found by this simulation (seed 8; then 4 of the seeds 1..=32): on the rough link the birthday
/// path's two sides ended pinned to different hard-side sockets. The easy side first heard the
/// hard side from socket A (local port 50007) and the hard side connected on A (`birthday`) and
/// closed its other sockets; but the easy side's pin had moved to the source of a later greeting
/// from another socket (port 50005, late on the jittery link), closed by then. Its confirmations
/// went nowhere: it stayed `Heard`, on the relay, for 22 s, while the hard side reported a direct
/// path. Now a greeting never moves a pin; only an answer (`c:`, `y:`, `s:`, data) does.
#[test]
fn port_restricted_and_symmetric_pp_leave_the_relay_on_a_rough_link_seed_8() {
    check_pair(
        Access::Nat(NatType::PortRestrictedCone),
        Access::Nat(NatType::SymmetricPreserving),
        ROUGH,
        8,
        "rough",
    );
}

/// The same pair, and the other easy side that met the same fault (port-shift), over more seeds
/// of the rough link (before the fix seeds 3 and 8 of these failed, for both).
#[test]
fn birthday_pairs_on_a_rough_link_over_seeds_1_to_16() {
    for easy in [NatType::PortRestrictedCone, NatType::PortShiftCone] {
        for seed in 1..=16 {
            check_pair(Access::Nat(easy), Access::Nat(NatType::SymmetricPreserving), ROUGH, seed, "rough");
        }
    }
}

/// A group: every pair connects, by a method its pair allows, or (as the lab's group cells) on
/// the relay: two birthday pairs share the hard side's sockets and its peer timeout.
fn check_group(accesses: &[Access], link: Link, seed: u64, label: &str, config: rhp_server::Config) -> u64 {
    let run = run_session_with(seed, accesses, link, config);
    // A player that never got its start message fails every pair it is in, and the first pair
    // reported is then the host's (P0 × it): say so, or the failure reads as a punching fault.
    let unstarted: Vec<String> = (0..accesses.len())
        .filter(|k| {
            !run.sim.clients[run.ids[*k]]
                .events
                .iter()
                .any(|(_, e)| matches!(e, rhp_client::Event::Started { .. }))
        })
        .map(|k| format!("P{k}"))
        .collect();
    let mut methods = Vec::new();
    for (i, j, ok, m) in &run.pairs {
        let (a, b) = (accesses[*i], accesses[*j]);
        let mut allowed = allowed(a, b);
        allowed.push("relay");
        assert!(
            ok,
            "{label} group of {} (seed {seed}): P{i} {} × P{j} {} not connected (never started: {unstarted:?})",
            accesses.len(),
            a.name(),
            b.name()
        );
        let m = m.expect("a connected pair has a method");
        assert!(
            allowed.contains(&m),
            "{label}: P{i} {} × P{j} {}: {m} not in {allowed:?}",
            a.name(),
            b.name()
        );
        methods.push(m);
    }
    methods.sort();
    methods.dedup();
    let names: Vec<&str> = accesses.iter().map(|a| a.name()).collect();
    let ms: Vec<&str> = methods.clone();
    println!(
        "| {} | {} | {label} | {} | true | {:?} |",
        names.join(", "),
        accesses.len(),
        ms.join("+"),
        run.took
    );
    run.sim.digest_value()
}

const PR: Access = Access::Nat(NatType::PortRestrictedCone);
const FC: Access = Access::Nat(NatType::FullCone);
const SYM: Access = Access::Nat(NatType::Symmetric);

/// Twelve players: every lab access once, then the four of the lab's group cell again.
fn twelve() -> Vec<Access> {
    let mut v = Access::ALL.to_vec();
    v.extend([PR, FC, SYM, Access::DoubleNat]);
    v
}

/// The hardened server with its anti-reflection budget off (see
/// `twelve_players_on_a_lossy_link_with_the_budget_on`).
fn no_budget() -> rhp_server::Config {
    let mut c = rhp_server::Config::default();
    c.budget.factor = 0;
    c
}

#[test]
fn groups_of_three_and_twelve_clean_and_lossy() {
    let hardened = rhp_server::Config::default;
    for (link, label, seed) in [(Link::CLEAN, "clean", 3), (Link::LOSSY, "lossy", 4)] {
        check_group(&[PR, FC, SYM], link, seed, label, hardened());
        let three = [Access::DoubleNat, SYM, Access::Nat(NatType::SymmetricSequential)];
        check_group(&three, link, seed, label, hardened());
    }
    check_group(&twelve(), Link::CLEAN, 3, "clean", hardened());
    check_group(&twelve(), Link::LOSSY, 4, "lossy, budget off", no_budget());
}

/// Found by this simulation: with the budget on, a 12-player start message (≈250 bytes) is sent
/// to each player about once (its budget, credited by its small pings, allows no more rounds).
/// On a 10%-loss link a player whose copy was lost kept pinging but found the session deleted
/// after the rounds (`error:session_non_existent`), and one whose relay grant was lost started
/// without it: 11 of the seeds 1..=12 failed. Then a starting session stayed while a player that
/// did not confirm kept asking, and a late `r:` got its grant alone — but a player whose copy was
/// lost twice still could not earn a third in time with 7-byte pings at 2 a second (one copy per
/// 10 s window; seeds 2, 5, 6, 9, 12, 14, 17, 26, 30 of 1..=32 failed). Now our client pings every
/// 200 ms once the start is under way (its grant came) and its `s:` has not: every seed of 1..=32
/// passes; the test runs the first 16.
#[test]
fn twelve_players_on_a_lossy_link_with_the_budget_on() {
    for seed in 1..=16 {
        check_group(&twelve(), Link::LOSSY, seed, "lossy", rhp_server::Config::default());
    }
}

#[test]
fn a_seeded_run_is_reproducible_bit_for_bit() {
    let a = check_group(&twelve(), Link::LOSSY, 42, "lossy, run 1", no_budget());
    let b = check_group(&twelve(), Link::LOSSY, 42, "lossy, run 2", no_budget());
    println!("digest {a:#018x} {b:#018x}");
    assert_eq!(a, b, "same seed, same run");
    let c = check_group(&twelve(), Link::LOSSY, 43, "lossy, other seed", no_budget());
    assert_ne!(a, c, "another seed, another run");
}

/// The lab's "same NAT" cell: two players behind one router with NAT loopback (hairpin); with
/// an endpoint-independent mapping they connect as two cones would.
#[test]
fn two_players_behind_the_same_port_restricted_nat_connect_through_its_hairpin() {
    use rhp_sim::session::*;
    for (link, label, seed) in [(Link::CLEAN, "clean", 5), (Link::LOSSY, "lossy", 6)] {
        let mut sim = rhp_sim::Sim::new(seed, rhp_server::Config::default());
        let site = sim.add_site(&[NatType::PortRestrictedCone]);
        let ids = add_players(&mut sim, &[site, site], link, |_| {});
        start_when_full(&mut sim, &ids);
        run_to_done(&mut sim, &ids, std::time::Duration::from_secs(60));
        sim.run_for(std::time::Duration::from_secs(5));
        let (ok, m) = pair_outcome(&sim, (ids[0], "P0"), (ids[1], "P1"));
        let m = m.map(rhp_client::Method::name);
        let (connects, methods) = expected(&Scenario::SameNat(NatType::PortRestrictedCone));
        println!("| same port-restricted NAT (hairpin) | 2 | {label} | {} | {ok} | |", m.unwrap_or("none"));
        assert_eq!(ok, connects, "{label}");
        assert!(methods.contains(&m.unwrap()), "{label}: {m:?} not in {methods:?}");
    }
}
