//! What theory predicts for each scenario and cell: whether its players connect, by which
//! method, and over which IP family the final path runs, for a client of a given capability
//! ([`ClientModel`]). The matrix asserts these.

use crate::family::{Families, Family};
use crate::nat::{Filtering, Mapping, NatType, PortAlloc};
use crate::scenario::{Access, Cell, Scenario};
use rhp_client::Method;

/// What the client under test does that decides the open cells of the theory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientModel {
    /// It answers a peer at the address the peer's datagram really came from (peer-reflexive),
    /// not only at the server-observed address.
    pub answers_source: bool,
    /// It gets through the router race: after its first packet was re-mapped to a new port by
    /// the router, it recovers, instead of punching on into the stale entries.
    pub survives_router_race: bool,
    /// It classifies its NAT and greets the ports a sequential NAT allocates next.
    pub predicts: bool,
    /// It runs the birthday path when exactly one side's mapping is random.
    pub birthday: bool,
    /// It falls back to the server's relay where no direct path opens.
    pub relay: bool,
    /// Given both families, it talks to the server over both, learns its peers' candidates in
    /// both and greets them in both, keeping the first direct path that answers. (Over IPv6
    /// alone every client of ours works.)
    pub dual_stack: bool,
}

/// A client that only punches plainly (greetings to the server-observed endpoint) and answers
/// where datagrams come from: the baseline the NAT-LAB-NOTES measured.
pub const PLAIN_CLIENT: ClientModel = ClientModel {
    answers_source: true,
    survives_router_race: false,
    predicts: false,
    birthday: false,
    relay: false,
    dual_stack: true,
};

/// The product, as measured: answers the source, predicts sequential NATs, runs the birthday
/// path, falls back to the relay; does not recover from the router race by itself (0 of 10
/// attempts did without the relay). Dual stack (`client: dual-stack`, issue 18): given the
/// server in both families it greets its peers over both and keeps the first direct path.
pub const CURRENT_CLIENT: ClientModel = ClientModel {
    answers_source: true,
    survives_router_race: false,
    predicts: true,
    birthday: true,
    relay: true,
    dual_stack: true,
};

/// How hard an access's mapping is to punch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hardness {
    /// Endpoint-independent mapping: one public port for every destination.
    Easy,
    /// A new port per destination, by a fixed step.
    Predictable,
    /// A new random port per destination.
    Random,
}

/// The hardness of an access.
pub fn hardness(a: Access) -> Hardness {
    match a {
        _ if a.mapping() == Mapping::EndpointIndependent => Hardness::Easy,
        Access::Nat(t) if t.port_alloc() == PortAlloc::Sequential => Hardness::Predictable,
        _ => Hardness::Random,
    }
}

/// A scenario's predicted outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expectation {
    /// Every player connects to every other (in at least 95% of attempts); false: in none.
    pub connects: bool,
    /// The methods an attempt may report (the strongest over its players' `connected` lines).
    pub methods: Vec<Method>,
    /// The families the final paths may run over ([`Family::V4`], [`Family::V6`]; an attempt
    /// whose players' final paths are on both counts as [`Family::Dual`], "mixed").
    pub families: Vec<Family>,
    /// Every attempt, not 95%, must connect by an expected method over an expected family: a
    /// path no NAT stands in (IPv6 through stateful firewalls) leaves no room for an odd one.
    pub every: bool,
}

impl Expectation {
    fn fails() -> Expectation {
        Expectation { connects: false, methods: Vec::new(), families: Vec::new(), every: false }
    }

    fn by(methods: &[Method]) -> Expectation {
        Expectation { connects: true, methods: methods.to_vec(), families: vec![Family::V4], every: false }
    }

    fn over_v6(methods: &[Method], families: &[Family]) -> Expectation {
        Expectation { connects: true, methods: methods.to_vec(), families: families.to_vec(), every: true }
    }
}

/// Does a pair connect directly, and how?
///
/// - Two easy (endpoint-independent) mappings: plain punching; each side's first packet to the
///   other's server-observed endpoint opens its own NAT for exactly that endpoint.
/// - Easy × predictable: the easy side greets the ports the sequential side allocates next; the
///   sequential side's greetings leave from one of them (`predicted`). Without prediction only a
///   full or restricted cone lets them in (as for a random side).
/// - Easy × random: a full or restricted cone lets the random side's packets in from their new
///   port and answers there (`plain`; the hard side's birthday sockets may win the race on a bad
///   link). A port-restricted side needs the birthday path.
/// - Two sequential mappings: both sides greet the ports the other allocates next, in step
///   (`predicted`), which a lost greeting can put out of step.
/// - Two destination-dependent mappings otherwise: no direct method in reasonable time; the
///   relay carries them (if the client falls back to it), else they fail.
pub fn pair(a: Access, b: Access, m: ClientModel) -> Expectation {
    use Hardness::*;
    let filters_by_address_only = |c: Access| c.filtering() != Filtering::AddressAndPortDependent;
    let relayed = |direct: &[Method]| {
        let mut v = direct.to_vec();
        v.push(Method::Relay);
        Expectation::by(&v)
    };
    let (easy, other) = match (hardness(a), hardness(b)) {
        (Easy, Easy) => return Expectation::by(&[Method::Plain]),
        (Easy, h) => (a, h),
        (h, Easy) => (b, h),
        (Predictable, Predictable) if m.predicts && m.relay => return relayed(&[Method::Predicted]),
        _ if m.relay => return relayed(&[]),
        _ => return Expectation::fails(),
    };
    let plain_ok = m.answers_source && filters_by_address_only(easy);
    match other {
        // The ±8 window of plain punching also covers a step-1 allocator's next ports, so either
        // side's greeting may be the one that lands first.
        Predictable if m.predicts => Expectation::by(&[Method::Plain, Method::Predicted]),
        Random if plain_ok && m.birthday => Expectation::by(&[Method::Plain, Method::Birthday]),
        Random if m.birthday => Expectation::by(&[Method::Birthday]),
        _ if plain_ok => Expectation::by(&[Method::Plain]),
        _ => Expectation::fails(),
    }
}

/// A scenario's expected outcome; `None` for a scenario the matrix reports but does not assert.
pub fn expected(s: &Scenario, m: ClientModel) -> Option<Expectation> {
    match s {
        Scenario::Pair(a, b) => Some(pair(*a, *b, m)),
        // With NAT loopback each side's packets to the other's public mapping are turned around
        // by the router; an endpoint-independent mapping makes that the same as two cones.
        Scenario::SameNat(t) if t.mapping() == Mapping::EndpointIndependent => {
            Some(Expectation::by(&[Method::Plain]))
        }
        Scenario::SameNat(_) => Some(Expectation::fails()),
        Scenario::Group(v) => {
            let mut all = Expectation::by(&[]);
            for (i, a) in v.iter().enumerate() {
                for b in &v[i + 1..] {
                    let e = pair(*a, *b, m);
                    if !e.connects {
                        return Some(Expectation::fails());
                    }
                    for x in e.methods {
                        if !all.methods.contains(&x) {
                            all.methods.push(x);
                        }
                    }
                }
            }
            // Two birthday pairs share the hard side's sockets and its peer timeout: with the
            // relay, a group must connect every time, and a pair may end on the relay.
            if m.relay && !all.methods.contains(&Method::Relay) {
                all.methods.push(Method::Relay);
            }
            Some(all)
        }
        // The first punch to arrive (before the receiver's own first packet left) is recorded
        // as a flow to the router itself; the receiver's packet then clashes and leaves from a
        // new port the peer filters out. Only simultaneous first packets cross, which is rare:
        // reported, not asserted.
        Scenario::RouterRace => None,
    }
}

/// A cell's expected outcome: its scenario's, over the families its players share. `None`: not
/// asserted (the router race; a cell with a dual-stack player for a client that is not dual
/// stack; a family cell other than a pair).
///
/// - IPv4 only in common: the scenario's IPv4 outcome ([`expected`]), over IPv4.
/// - IPv6 only in common: plain punching over IPv6. No NAT translates it: each side's
///   server-observed address is its own, and the first greeting each sends opens its own
///   firewall for the other (established/related in), as two cones do for IPv4. Every attempt.
/// - Both in common: IPv6 works as above, and IPv4 as the NAT pair gives. If IPv4 has a direct
///   method, either family may answer first (their share is measured); otherwise the final path
///   is plain over IPv6, never the relay. Every attempt.
/// - No family in common: no path but the relay (not among the family cells: not asserted).
pub fn expected_cell(c: &Cell, m: ClientModel) -> Option<Expectation> {
    let f = c.family;
    if f == Families::V4 {
        return expected(&c.scenario, m);
    }
    if (f.host == Family::Dual || f.others == Family::Dual) && !m.dual_stack {
        return None;
    }
    let Scenario::Pair(a, b) = c.scenario else { return None };
    match f.common() {
        (true, false) => Some(pair(a, b, m)),
        (false, true) => Some(Expectation::over_v6(&[Method::Plain], &[Family::V6])),
        (true, true) => {
            let direct4: Vec<Method> =
                pair(a, b, m).methods.into_iter().filter(|x| *x != Method::Relay).collect();
            if direct4.is_empty() {
                return Some(Expectation::over_v6(&[Method::Plain], &[Family::V6]));
            }
            let mut methods = vec![Method::Plain];
            methods.extend(direct4.into_iter().filter(|x| *x != Method::Plain));
            Some(Expectation::over_v6(&methods, &[Family::V6, Family::V4, Family::Dual]))
        }
        (false, false) => None,
    }
}

/// The NAT types whose mapping is random: the birthday path's hard side.
pub fn is_hard(a: Access) -> bool {
    hardness(a) == Hardness::Random
}

/// The lab's types behind each hardness, for the report's text.
pub fn describe(t: NatType) -> &'static str {
    match t {
        NatType::FullCone => "endpoint-independent mapping and filtering",
        NatType::RestrictedCone => "endpoint-independent mapping, address-dependent filtering",
        NatType::PortRestrictedCone => {
            "endpoint-independent mapping, address+port-dependent filtering (home router)"
        }
        NatType::PortShiftCone => "like port-restricted, public port = inside port XOR 0x4000",
        NatType::Symmetric => "a random public port per destination",
        NatType::SymmetricSequential => "a new public port per destination, +1 each (one counter per router)",
        NatType::SymmetricPreserving => {
            "the first destination keeps the inside port, each further one gets a random port"
        }
    }
}

/// The reasoning behind the expected outcomes, appended to the report.
pub const THEORY: &str = "## Why these outcomes

- Two endpoint-independent mappings (every cone type, port-shift, double NAT) connect by plain punching: each side's first packet to the other's server-observed endpoint opens its own NAT for exactly that endpoint, and the other side sends from it.
- A symmetric NAT sends to each peer from a new public port that the server never saw. A port-restricted, port-shift or double NAT filters by address *and* port, so plain punching fails there.
- **Prediction** (`symmetric-seq`): the client learns from four STUN answers (two sockets × the server's two ports) that each new mapping is the previous one + 1; the easy peer greets the next 32 ports, and the sequential side's greeting leaves from one of them. With step 1 the plain ±8 window covers the next ports too, so the cell reports `plain` or `predicted`, whichever greeting landed first; the sequential side reports `predicted`.
- **Birthday path** (`symmetric`, `symmetric-pp`: random ports): the hard side opens 256 sockets that all greet the easy side's public endpoint; the easy side sends probes to random ports of the hard side's public IP (1,000/s). A probe that hits one of the 256 mappings opens the easy NAT for it and reaches a hard-side socket: 50% after 174 probes, 98% after 1,024.
- Full and restricted cone let packets in from the symmetric side's new port (restricted: because it has already sent to that address), and the client answers where a datagram came from, so they connect by plain punching (on a lossy link the birthday sockets sometimes answer first).
- Both sides destination-dependent (symmetric, symmetric-seq, symmetric-pp against each other): no direct method in reasonable time; the server's relay carries them (`relay`). Two sequential NATs predict each other in step (`predicted`) when no greeting is lost before a NAT; otherwise they stay on the relay.
- Relay first: every pair whose clients asked for it can talk through the server at once; direct attempts go on, and a pair that can connect directly moves to the direct path (the cell's method is each pair's final path: a direct method unless it stayed on the relay).
- A group (4 players across NATs) connects when every player reaches every other; with the relay, every attempt must connect, and a pair with the symmetric side may end on the relay (the hard side's birthday sockets serve two birthday pairs within one peer timeout): the detail table gives its direct share.
- Same NAT: the router's NAT loopback turns each side's packets to the other's public endpoint around; with endpoint-independent mapping that is two cones.
- IPv6 (no NAT; every router forwards it through a stateful firewall that lets in only what answers a flow from inside): a player's server-observed IPv6 address is its own, so two players greeting each other's open their firewalls as two cones do for IPv4: plain punching, whatever the IPv4 NATs are. A dual-stack pair therefore connects directly over IPv6 where its IPv4 NATs need the relay (symmetric × symmetric), and where IPv4 works directly too the pair keeps whichever family answered first. An IPv4-only player against a dual-stack one has only IPv4 in common: the IPv4 outcome of the NAT pair.
- Router race (home routers without the WAN firewall): a punch that arrives before the local client's own first packet is recorded by conntrack as a flow to the router itself; the client's packet then leaves from a new port that the peer filters out. The current client does not recover; the cell is shown but not asserted because the race is occasionally won.

";
