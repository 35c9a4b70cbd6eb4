//! The scenario model: how a player reaches the internet ([`Access`]), what one matrix entry
//! puts in a lab ([`Scenario`]), one cell of the matrix ([`Cell`]: a scenario under a link
//! condition over the players' IP families), the standard cells (IPv4) and the family cells
//! (IPv6 only, dual stack, IPv4 only against dual stack) and the two-node cells (host on one
//! server node, joiner on another, through a real Redis). Theory, runner and report all read
//! this; it reads only the NAT data, the families and the link conditions.

use crate::family::{Families, Family};
use crate::impair::LinkCondition;
use crate::nat::{Filtering, Mapping, NatType};

/// How a client reaches the internet: behind one NAT of a type, or behind two (a home
/// port-restricted cone router behind a carrier-grade port-restricted cone NAT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// One NAT router of this type.
    Nat(NatType),
    /// Home router (port-restricted cone) behind a carrier NAT (port-restricted cone).
    DoubleNat,
}

impl Access {
    /// Every access type, in report order.
    pub const ALL: [Access; 8] = [
        Access::Nat(NatType::FullCone),
        Access::Nat(NatType::RestrictedCone),
        Access::Nat(NatType::PortRestrictedCone),
        Access::Nat(NatType::PortShiftCone),
        Access::DoubleNat,
        Access::Nat(NatType::Symmetric),
        Access::Nat(NatType::SymmetricSequential),
        Access::Nat(NatType::SymmetricPreserving),
    ];

    /// Stable short name.
    pub fn name(self) -> &'static str {
        match self {
            Access::Nat(t) => t.name(),
            Access::DoubleNat => "double-nat",
        }
    }

    /// Mapping behaviour seen from the internet.
    pub fn mapping(self) -> Mapping {
        match self {
            Access::Nat(t) => t.mapping(),
            Access::DoubleNat => Mapping::EndpointIndependent,
        }
    }

    /// Filtering behaviour seen from the internet.
    pub fn filtering(self) -> Filtering {
        match self {
            Access::Nat(t) => t.filtering(),
            Access::DoubleNat => Filtering::AddressAndPortDependent,
        }
    }

    /// Parses [`Access::name`].
    pub fn parse(s: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.name() == s)
    }
}

/// One matrix entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Two players, each behind its own access.
    Pair(Access, Access),
    /// Two players behind the same NAT router (with NAT loopback).
    SameNat(NatType),
    /// One session of several players, each behind its own access.
    Group(Vec<Access>),
    /// Two players behind port-restricted home routers WITHOUT the WAN firewall: an early punch
    /// reaches the router itself, conntrack records it, and the client's own packet then gets a
    /// new port (the "router race" of NAT-LAB-NOTES).
    RouterRace,
}

impl Scenario {
    /// Access of every player, in player order (host first).
    pub fn players(&self) -> usize {
        match self {
            Scenario::Pair(..) | Scenario::SameNat(_) | Scenario::RouterRace => 2,
            Scenario::Group(v) => v.len(),
        }
    }

    /// Human label.
    pub fn label(&self) -> String {
        match self {
            Scenario::Pair(a, b) => format!("{} × {}", a.name(), b.name()),
            Scenario::SameNat(t) => format!("2 players behind the same {} NAT (hairpin)", t.name()),
            Scenario::Group(v) => {
                let names: Vec<&str> = v.iter().map(|a| a.name()).collect();
                format!("{} players: {}", v.len(), names.join(", "))
            }
            Scenario::RouterRace => "port-restricted × port-restricted, no WAN firewall (router race)".into(),
        }
    }
}

/// The standard scenario list: every unordered pair of [`Access::ALL`] (same type included),
/// two players behind one port-restricted NAT, the router race, and a 4-player session across
/// mixed NATs (one of them symmetric: its pairs need plain, predicted-free and birthday paths).
pub fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    for (i, a) in Access::ALL.iter().enumerate() {
        for b in &Access::ALL[i..] {
            v.push(Scenario::Pair(*a, *b));
        }
    }
    v.push(Scenario::SameNat(NatType::PortRestrictedCone));
    v.push(Scenario::RouterRace);
    v.push(Scenario::Group(vec![
        Access::Nat(NatType::PortRestrictedCone),
        Access::Nat(NatType::FullCone),
        Access::Nat(NatType::Symmetric),
        Access::DoubleNat,
    ]));
    v
}

/// One cell of the matrix: a scenario, the condition of every player's link, and the IP
/// families each player's network gives it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    /// What the lab holds.
    pub scenario: Scenario,
    /// Loss and delay on each client's link.
    pub condition: LinkCondition,
    /// IPv4 only (NAT), IPv6 only (firewall), or both: the host's and the other players'.
    pub family: Families,
    /// Server nodes: 1 (one `serve`), or 2 (a cluster of two `serve` processes sharing a Redis
    /// store in the server's namespace, the host on node 1 and every other player on node 2).
    pub nodes: u8,
}

impl Cell {
    /// An IPv4-only cell (the lab as it was before IPv6).
    pub fn v4(scenario: Scenario, condition: LinkCondition) -> Cell {
        Cell { scenario, condition, family: Families::V4, nodes: 1 }
    }

    /// Human label: the scenario's, with the families when they are not IPv4 only and the
    /// nodes when there are several.
    pub fn label(&self) -> String {
        let mut s = self.scenario.label();
        if self.family != Families::V4 {
            s = format!("{s} [{}]", self.family);
        }
        if self.nodes > 1 {
            s = format!("{s} [{} nodes]", self.nodes);
        }
        s
    }
}

/// The standard cells: every scenario under clean and 10% loss + 50 ms, IPv4 only.
pub fn standard_cells(clean_only: bool) -> Vec<Cell> {
    let conds: &[LinkCondition] =
        if clean_only { &[LinkCondition::CLEAN] } else { &[LinkCondition::CLEAN, LinkCondition::LOSSY] };
    conds.iter().flat_map(|c| scenarios().into_iter().map(move |s| Cell::v4(s, *c))).collect()
}

/// The family scenarios (issue 18), each with the families of its players: where IPv6 gives a
/// direct path that IPv4's NATs would not, and that IPv4 stays as it was beside it.
/// - IPv6 only, home routers' firewalls on both sides; home against a home router behind a
///   carrier's (two firewalls); two carriers' (symmetric for IPv4, a firewall for IPv6);
/// - dual stack, symmetric IPv4 NATs on both sides (IPv4 alone: the relay): direct over IPv6;
/// - dual stack, full cone on both sides: both families work (which one the pair ends on is
///   measured);
/// - an IPv4-only host against a dual-stack player: IPv4 as the NAT pair gives (port-restricted
///   against symmetric: the birthday path).
pub fn family_scenarios() -> Vec<(Scenario, Families)> {
    use NatType::*;
    let pair = |a: NatType, b: NatType| Scenario::Pair(Access::Nat(a), Access::Nat(b));
    let dual = Families::all(Family::Dual);
    let v6 = Families::all(Family::V6);
    vec![
        (pair(PortRestrictedCone, PortRestrictedCone), v6),
        (Scenario::Pair(Access::Nat(PortRestrictedCone), Access::DoubleNat), v6),
        (pair(Symmetric, Symmetric), v6),
        (pair(Symmetric, Symmetric), dual),
        (pair(FullCone, FullCone), dual),
        (pair(PortRestrictedCone, Symmetric), Families { host: Family::V4, others: Family::Dual }),
    ]
}

/// The family cells: every family scenario under clean (and, unless `clean_only`, 10% loss +
/// 50 ms).
pub fn family_cells(clean_only: bool) -> Vec<Cell> {
    let conds: &[LinkCondition] =
        if clean_only { &[LinkCondition::CLEAN] } else { &[LinkCondition::CLEAN, LinkCondition::LOSSY] };
    conds
        .iter()
        .flat_map(|c| {
            family_scenarios().into_iter().map(move |(scenario, family)| Cell {
                scenario,
                condition: *c,
                family,
                nodes: 1,
            })
        })
        .collect()
}

/// The two-node scenarios (issue 19): a representative row, each expected to connect as on one
/// node: an easy pair (port-restricted × port-restricted: plain), a birthday pair
/// (port-restricted × symmetric) and a pair with no direct path (symmetric × symmetric: the
/// relay, which runs on the session's owner, node 1, and which the joiner reaches in one hop).
pub fn node_scenarios() -> Vec<Scenario> {
    use NatType::*;
    let pair = |a: NatType, b: NatType| Scenario::Pair(Access::Nat(a), Access::Nat(b));
    vec![
        pair(PortRestrictedCone, PortRestrictedCone),
        pair(PortRestrictedCone, Symmetric),
        pair(Symmetric, Symmetric),
    ]
}

/// The two-node cells: every two-node scenario, IPv4, under clean (and, unless `clean_only`,
/// 10% loss + 50 ms).
pub fn node_cells(clean_only: bool) -> Vec<Cell> {
    let conds: &[LinkCondition] =
        if clean_only { &[LinkCondition::CLEAN] } else { &[LinkCondition::CLEAN, LinkCondition::LOSSY] };
    conds
        .iter()
        .flat_map(|c| node_scenarios().into_iter().map(move |s| Cell { nodes: 2, ..Cell::v4(s, *c) }))
        .collect()
}
