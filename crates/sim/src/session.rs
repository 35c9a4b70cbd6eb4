//! A session's run in the simulation, as a test writes it: players added (the host first),
//! the lobby, the start once everyone is in, the peer phase, and what each pair ended on.

use crate::link::Link;
use crate::net::{Sim, SERVER};
use rhp_client::{Config, Event, Method};
use std::time::Duration;

/// The session name every helper here uses.
pub const SESSION: &str = "S1";

/// Player `k`'s name.
pub fn name(k: usize) -> String {
    format!("P{k}")
}

/// Adds one player per site in `sites` (the first hosts, for `sites.len()` players), each on
/// `link`, with `tweak` applied to its configuration; the joiners are added once the host is
/// in. Returns their client numbers.
pub fn add_players(sim: &mut Sim, sites: &[usize], link: Link, tweak: impl Fn(&mut Config)) -> Vec<usize> {
    let n = u8::try_from(sites.len()).unwrap_or(u8::MAX);
    let mut ids = Vec::new();
    for (k, site) in sites.iter().enumerate() {
        let mut c = if k == 0 {
            Config::host(SERVER, SESSION, &name(0), n)
        } else {
            Config::join(SERVER, SESSION, &name(k))
        };
        tweak(&mut c);
        ids.push(sim.add_client(*site, c, link));
        if k == 0 {
            let host = ids[0];
            sim.run_until(Duration::from_secs(30), |s| {
                s.clients[host].events.iter().any(|(_, e)| matches!(e, Event::Joined { .. }))
            });
        }
    }
    ids
}

/// Runs the lobby until the host lists every player, then starts.
pub fn start_when_full(sim: &mut Sim, ids: &[usize]) {
    let (host, n) = (ids[0], ids.len());
    sim.run_until(Duration::from_secs(60), |s| s.clients[host].endpoint.engine().players().len() == n);
    sim.command(host, |e, now| e.engine_mut().start(now));
}

/// Runs until every player's peer phase is over (`Done`) or its run ended.
pub fn run_to_done(sim: &mut Sim, ids: &[usize], limit: Duration) {
    sim.run_until(limit, |s| ids.iter().all(|i| done(s, *i) || s.clients[*i].outcome.is_some()));
}

/// Whether client `i` reported the end of its peer phase.
pub fn done(sim: &Sim, i: usize) -> bool {
    sim.clients[i].events.iter().any(|(_, e)| matches!(e, Event::Done { .. }))
}

/// The path client `i` last reported for `peer` (connected, or upgraded from the relay).
pub fn last_method(sim: &Sim, i: usize, peer: &str) -> Option<Method> {
    sim.clients[i].events.iter().rev().find_map(|(_, e)| match e {
        Event::Connected { peer: p, method, .. } | Event::Upgraded { peer: p, method, .. } if p == peer => {
            Some(*method)
        }
        _ => None,
    })
}

/// Whether client `i` still has a path to `peer` (direct or relayed) and has not seen it leave.
pub fn reaches(sim: &Sim, i: usize, peer: &str) -> bool {
    sim.clients[i].endpoint.engine().peers().iter().any(|p| p.name == peer && p.reachable())
}

/// What a pair ended on: both sides reach each other, and the strongest of their last paths
/// (plain < predicted < birthday < relay, as the lab reports a cell).
pub fn pair_outcome(sim: &Sim, a: (usize, &str), b: (usize, &str)) -> (bool, Option<Method>) {
    let connected = reaches(sim, a.0, b.1) && reaches(sim, b.0, a.1);
    let m = last_method(sim, a.0, b.1).max(last_method(sim, b.0, a.1));
    (connected, m)
}
