//! Dual-stack players in the simulation (the real server and client engines, a stateful IPv6
//! firewall at every dual-stack site): behind symmetric IPv4 NATs on both sides a dual-stack pair
//! connects directly over IPv6 (plain greetings open both firewalls), never through the relay,
//! clean and at 10% loss + 50 ms; an IPv6-only pair connects directly; an IPv4-only player
//! against a dual-stack one gets what IPv4 gives (as today); and where both families work, how
//! often the pair ends on each is counted.

use rhp_client::{Config, Event, Method};
use rhp_lab::nat::NatType;
use rhp_sim::session::*;
use rhp_sim::{Link, Sim, SERVER, SERVER6};
use std::net::SocketAddr;
use std::time::Duration;

/// How a player talks to the server.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    V4,
    V6,
    Dual,
}

fn configure(c: &mut Config, f: Family) {
    match f {
        Family::V4 => {}
        Family::V6 => c.server = SERVER6,
        Family::Dual => c.server_other = Some(SERVER6),
    }
}

/// The final direct address each side has for the other, and the method, for one pair.
struct Pair {
    /// Each side's last reported path (address, method).
    paths: [(SocketAddr, Method); 2],
}

fn last_path(sim: &Sim, i: usize, peer: &str) -> Option<(SocketAddr, Method)> {
    sim.clients[i].events.iter().rev().find_map(|(_, e)| match e {
        Event::Connected { peer: p, addr, method, .. } | Event::Upgraded { peer: p, addr, method, .. }
            if p == peer =>
        {
            Some((*addr, *method))
        }
        _ => None,
    })
}

/// A session of two: the host at a site behind `a` with family `fa`, the joiner behind `b`
/// with `fb` (dual-stack sites: every site has IPv6 behind a firewall; the family decides what
/// the player uses).
fn pair(seed: u64, a: (NatType, Family), b: (NatType, Family), link: Link) -> Pair {
    let mut sim = Sim::new(seed, rhp_server::Config::default());
    let sites = [sim.add_dual_site(&[a.0]), sim.add_dual_site(&[b.0])];
    let fams = [a.1, b.1];
    let n = 2;
    let mut ids = Vec::new();
    for k in 0..n {
        let mut c = if k == 0 {
            Config::host(SERVER, SESSION, &name(0), 2)
        } else {
            Config::join(SERVER, SESSION, &name(1))
        };
        configure(&mut c, fams[k]);
        ids.push(sim.add_client(sites[k], c, link));
        if k == 0 {
            sim.run_until(Duration::from_secs(30), |s| {
                s.clients[0].events.iter().any(|(_, e)| matches!(e, Event::Joined { .. }))
            });
        }
    }
    start_when_full(&mut sim, &ids);
    run_to_done(&mut sim, &ids, Duration::from_secs(60));
    sim.run_for(Duration::from_secs(5));
    let p0 = last_path(&sim, ids[0], &name(1)).unwrap_or_else(|| panic!("seed {seed}: host has no path"));
    let p1 = last_path(&sim, ids[1], &name(0)).unwrap_or_else(|| panic!("seed {seed}: joiner has no path"));
    assert!(reaches(&sim, ids[0], &name(1)) && reaches(&sim, ids[1], &name(0)), "seed {seed}: not connected");
    Pair { paths: [p0, p1] }
}

fn direct_over_ipv6(p: &Pair) -> bool {
    p.paths.iter().all(|(addr, m)| addr.is_ipv6() && *m == Method::Plain)
}

#[test]
fn symmetric_ipv4_nats_on_both_sides_are_crossed_over_ipv6() {
    let d = (NatType::Symmetric, Family::Dual);
    for seed in 1..=10 {
        let p = pair(seed, d, d, Link::CLEAN);
        assert!(direct_over_ipv6(&p), "seed {seed}: {:?}", p.paths);
    }
    for seed in 1..=10 {
        let p = pair(seed, d, d, Link::LOSSY);
        assert!(direct_over_ipv6(&p), "lossy seed {seed}: {:?}", p.paths);
    }
}

#[test]
fn an_ipv6_only_pair_connects_directly() {
    for (nat, link) in [(NatType::PortRestrictedCone, Link::CLEAN), (NatType::Symmetric, Link::LOSSY)] {
        for seed in 1..=5 {
            let p = pair(seed, (nat, Family::V6), (nat, Family::V6), link);
            assert!(direct_over_ipv6(&p), "{nat:?} seed {seed}: {:?}", p.paths);
        }
    }
}

#[test]
fn an_ipv4_only_player_gets_ipv4_from_a_dual_stack_one() {
    for seed in 1..=5 {
        // Both behind port-restricted cones: plain punching over IPv4, as between two IPv4 players.
        let p = pair(
            seed,
            (NatType::PortRestrictedCone, Family::V4),
            (NatType::PortRestrictedCone, Family::Dual),
            Link::CLEAN,
        );
        assert!(
            p.paths.iter().all(|(a, m)| a.is_ipv4() && *m == Method::Plain),
            "seed {seed}: {:?}",
            p.paths
        );
        // Symmetric against symmetric: IPv4 needs the relay, as today.
        let p = pair(seed, (NatType::Symmetric, Family::V4), (NatType::Symmetric, Family::Dual), Link::CLEAN);
        assert!(p.paths.iter().all(|(a, _)| a.is_ipv4()), "seed {seed}: {:?}", p.paths);
    }
}

#[test]
fn where_both_families_work_the_pair_ends_on_one_direct_path() {
    // Full-cone IPv4 on both sides: both families open at once. Counted, and every run direct.
    let d = (NatType::FullCone, Family::Dual);
    let runs = 10u64;
    for link in [Link::CLEAN, Link::LOSSY] {
        let mut v6 = 0;
        for seed in 1..=runs {
            let p = pair(seed, d, d, link);
            assert!(p.paths.iter().all(|(_, m)| *m == Method::Plain), "seed {seed}: {:?}", p.paths);
            v6 += p.paths.iter().filter(|(a, _)| a.is_ipv6()).count() as u64;
            // Both sides on one family: a side that connected over IPv4 moves to IPv6 once the
            // peer answers there (and when both connected over IPv4, both stay).
            assert_eq!(p.paths[0].0.is_ipv6(), p.paths[1].0.is_ipv6(), "{link:?} seed {seed}: {:?}", p.paths);
        }
        eprintln!("dual-stack full-cone pairs ({link:?}): {v6} of {} kept paths on IPv6", 2 * runs);
        assert!(v6 >= runs, "IPv6 is greeted first: most pairs end there ({link:?})");
    }
}
