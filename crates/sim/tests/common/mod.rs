//! Shared by the simulation's tests: a lab access as a site, and a session run to its end.
#![allow(dead_code)]

use rhp_lab::nat::NatType;
use rhp_sim::session::*;
use rhp_sim::{Link, Sim};
use std::time::Duration;

// The lab's scenario model, in one place: the helper "lab" is moving `Access` and `Scenario` to
// `rhp_lab::scenario` (and the theory's `Method` to the client's own): after that merge, this
// line is the one to change. Methods are compared by name, which both spell the same.
pub use rhp_lab::scenario::{Access, Scenario};

/// The names of the methods the lab's theory allows for a pair.
pub fn allowed(a: Access, b: Access) -> Vec<&'static str> {
    let e = rhp_lab::theory::pair(a, b, rhp_lab::theory::CURRENT_CLIENT);
    e.methods.iter().map(|m| m.name()).collect()
}

/// What the lab's theory expects of a scenario: connects, and the names of the methods allowed.
pub fn expected(s: &Scenario) -> (bool, Vec<&'static str>) {
    let e = rhp_lab::theory::expected(s, rhp_lab::theory::CURRENT_CLIENT).expect("an asserted scenario");
    (e.connects, e.methods.iter().map(|m| m.name()).collect())
}

/// The routers of a lab access, innermost first (double NAT: a port-restricted home router
/// behind a port-restricted carrier NAT).
pub fn routers(a: Access) -> Vec<NatType> {
    match a {
        Access::Nat(t) => vec![t],
        Access::DoubleNat => vec![NatType::PortRestrictedCone, NatType::PortRestrictedCone],
    }
}

/// What one session ended on, per pair.
pub struct Run {
    pub sim: Sim,
    pub ids: Vec<usize>,
    /// (i, j, connected, method) for every pair i < j.
    pub pairs: Vec<(usize, usize, bool, Option<&'static str>)>,
    /// Virtual time from the start until every player was done.
    pub took: Duration,
}

/// The real server and one player per access (the first hosts), each on `link`; lobby, start,
/// peer phase, then 5 s more (a relayed pair may move to a direct path), as the lab runs a cell.
pub fn run_session(seed: u64, accesses: &[Access], link: Link) -> Run {
    run_session_with(seed, accesses, link, rhp_server::Config::default())
}

/// [`run_session`] with a server configuration.
pub fn run_session_with(seed: u64, accesses: &[Access], link: Link, config: rhp_server::Config) -> Run {
    let mut sim = Sim::new(seed, config);
    let sites: Vec<usize> = accesses.iter().map(|a| sim.add_site(&routers(*a))).collect();
    let ids = add_players(&mut sim, &sites, link, |_| {});
    start_when_full(&mut sim, &ids);
    let start = sim.now;
    run_to_done(&mut sim, &ids, Duration::from_secs(60));
    let took = sim.now - start;
    sim.run_for(Duration::from_secs(5));
    let mut pairs = Vec::new();
    for i in 0..ids.len() {
        for j in i + 1..ids.len() {
            let (ok, m) = pair_outcome(&sim, (ids[i], &name(i)), (ids[j], &name(j)));
            pairs.push((i, j, ok, m.map(rhp_client::Method::name)));
        }
    }
    Run { sim, ids, pairs, took }
}

/// `n` players with public addresses (no NAT; the first hosts) on `link`, configured by `tweak`;
/// returns once the host has started.
pub fn public_session(
    sim: &mut Sim,
    n: usize,
    link: Link,
    tweak: impl Fn(&mut rhp_client::Config),
) -> Vec<usize> {
    let sites: Vec<usize> = (0..n).map(|_| sim.add_site(&[])).collect();
    let ids = add_players(sim, &sites, link, tweak);
    start_when_full(sim, &ids);
    ids
}

/// Whether every client's run ended well.
pub fn all_finished_ok(sim: &Sim) -> bool {
    sim.clients.iter().all(|c| matches!(c.outcome, Some(Ok(()))))
}

/// A filter that cuts client `k` off from its peers, both ways (the server still hears it).
pub fn cut_off(sim: &Sim, k: usize) -> impl FnMut(&rhp_sim::Packet) -> rhp_sim::Verdict + 'static {
    let ip = sim.public_ip(k);
    move |p| {
        let from_k = p.sender == rhp_sim::Node::Client(k) && p.to.ip() != rhp_sim::SERVER.ip();
        let to_k = p.sender != rhp_sim::Node::Server && p.to.ip() == ip;
        if from_k || to_k {
            rhp_sim::Verdict::Drop
        } else {
            rhp_sim::Verdict::Pass
        }
    }
}

/// When client `i` first reported something matching `pred`.
pub fn event_time(
    sim: &Sim,
    i: usize,
    pred: impl Fn(&rhp_client::Event) -> bool,
) -> Option<std::time::Instant> {
    sim.clients[i].events.iter().find(|(_, e)| pred(e)).map(|(t, _)| *t)
}
