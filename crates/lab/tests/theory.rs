//! The theory, the scenario model and a cell's verdict, without a lab: what each pair should do
//! for a client, which scenarios the matrix holds, and when a cell's attempts match the theory.

use rhp_client::Method;
use rhp_lab::cell::{Attempt, CellResult};
use rhp_lab::family::{Families, Family};
use rhp_lab::impair::LinkCondition;
use rhp_lab::nat::NatType::*;
use rhp_lab::scenario::{
    family_cells, family_scenarios, node_cells, scenarios, standard_cells, Access, Cell, Scenario,
};
use rhp_lab::theory::{
    expected, expected_cell, hardness, is_hard, pair, ClientModel, Hardness, CURRENT_CLIENT, PLAIN_CLIENT,
};
use std::time::Duration;

const SYM: Access = Access::Nat(Symmetric);
const SEQ: Access = Access::Nat(SymmetricSequential);
const PP: Access = Access::Nat(SymmetricPreserving);

#[test]
fn the_product_connects_every_pair_directly_with_at_most_one_hard_side_and_the_rest_by_relay() {
    let m = CURRENT_CLIENT;
    let direct_only = ClientModel { relay: false, ..CURRENT_CLIENT };
    for a in Access::ALL {
        for b in Access::ALL {
            let e = pair(a, b, m);
            let easy_sides = [a, b].iter().filter(|x| hardness(**x) == Hardness::Easy).count();
            assert!(e.connects, "{a:?} {b:?}: every pair connects");
            assert_eq!(e.methods.contains(&Method::Relay), easy_sides == 0, "{a:?} {b:?}");
            assert_eq!(pair(a, b, direct_only).connects, easy_sides >= 1, "{a:?} {b:?}");
            assert_eq!(e, pair(b, a, m), "symmetric in its arguments");
        }
    }
    let pr = Access::Nat(PortRestrictedCone);
    assert_eq!(pair(pr, SYM, m).methods, [Method::Birthday]);
    assert_eq!(pair(Access::DoubleNat, PP, m).methods, [Method::Birthday]);
    assert_eq!(pair(pr, SEQ, m).methods, [Method::Plain, Method::Predicted]);
    assert_eq!(pair(Access::Nat(FullCone), SEQ, m).methods, [Method::Plain, Method::Predicted]);
    assert_eq!(pair(Access::Nat(FullCone), SYM, m).methods, [Method::Plain, Method::Birthday]);
    assert_eq!(pair(pr, pr, m).methods, [Method::Plain]);
    assert_eq!(pair(SEQ, SEQ, m).methods, [Method::Predicted, Method::Relay]);
    assert_eq!(pair(SYM, PP, m).methods, [Method::Relay]);
}

#[test]
fn plain_punching_alone_fails_wherever_a_symmetric_side_meets_port_filtering() {
    let m = PLAIN_CLIENT;
    for h in [SYM, SEQ, PP] {
        assert!(pair(Access::Nat(FullCone), h, m).connects);
        assert!(pair(h, Access::Nat(RestrictedCone), m).connects);
        for c in [Access::Nat(PortRestrictedCone), Access::Nat(PortShiftCone), Access::DoubleNat, SYM] {
            assert!(!pair(c, h, m).connects, "{c:?} {h:?}");
        }
    }
    let no_source = ClientModel { answers_source: false, ..PLAIN_CLIENT };
    assert!(!pair(Access::Nat(FullCone), SYM, no_source).connects);
}

#[test]
fn hardness_follows_the_port_allocation() {
    assert_eq!(hardness(SYM), Hardness::Random);
    assert_eq!(hardness(PP), Hardness::Random);
    assert_eq!(hardness(SEQ), Hardness::Predictable);
    assert_eq!(hardness(Access::DoubleNat), Hardness::Easy);
    assert!(is_hard(SYM) && !is_hard(SEQ));
}

#[test]
fn a_group_needs_every_pair_and_collects_their_methods() {
    let g = Scenario::Group(vec![Access::Nat(PortRestrictedCone), SYM, Access::Nat(FullCone)]);
    let e = expected(&g, CURRENT_CLIENT).expect("asserted");
    assert!(e.connects);
    assert!(e.methods.contains(&Method::Birthday) && e.methods.contains(&Method::Plain));
    let direct_only = ClientModel { relay: false, ..CURRENT_CLIENT };
    assert!(!expected(&Scenario::Group(vec![SYM, PP]), direct_only).expect("asserted").connects);
    assert!(expected(&Scenario::Group(vec![SYM, PP]), CURRENT_CLIENT).expect("asserted").connects);
    assert_eq!(expected(&Scenario::RouterRace, CURRENT_CLIENT), None);
}

fn cell(scenario: Scenario, results: &[(bool, Method)]) -> CellResult {
    let attempts = results
        .iter()
        .map(|(ok, m)| Attempt {
            ok: *ok,
            connect_ms: ok.then_some(10),
            method: ok.then_some(*m),
            probes: None,
            direct_ms: None,
            path_family: ok.then_some(Family::V4),
            paths_v6_v4: (0, if *ok { 2 } else { 0 }),
            detail: String::new(),
            log: Vec::new(),
        })
        .collect();
    CellResult {
        scenario,
        condition: LinkCondition::CLEAN,
        family: Families::V4,
        nodes: 1,
        attempts,
        measured: Vec::new(),
        elapsed: Duration::ZERO,
        rerun: Vec::new(),
    }
}

#[test]
fn a_cell_matches_with_19_of_20_by_an_expected_method() {
    let m = CURRENT_CLIENT;
    let hard = Scenario::Pair(Access::Nat(PortRestrictedCone), Access::Nat(Symmetric));
    let direct_only = ClientModel { relay: false, ..m };
    let mut v = vec![(true, Method::Birthday); 19];
    v.push((false, Method::Birthday));
    assert_eq!(cell(hard.clone(), &v).matches(direct_only), Some(true));
    assert_eq!(cell(hard.clone(), &v).matches(m), Some(false), "with the relay, all 20");
    v[0].0 = false;
    assert_eq!(cell(hard.clone(), &v).matches(direct_only), Some(false), "18/20 is not enough");
    let mut plain = vec![(true, Method::Birthday); 20];
    plain[3].1 = Method::Plain;
    assert_eq!(cell(hard.clone(), &plain).matches(m), Some(true), "one odd attempt of 20");
    plain[4].1 = Method::Plain;
    assert_eq!(cell(hard, &plain).matches(m), Some(false), "plain cannot pass port-restricted × symmetric");
    let both = Scenario::Pair(Access::Nat(Symmetric), Access::Nat(SymmetricPreserving));
    let direct_only = ClientModel { relay: false, ..m };
    assert_eq!(cell(both.clone(), &[(false, Method::Plain); 3]).matches(direct_only), Some(true));
    assert_eq!(
        cell(both.clone(), &[(true, Method::Plain), (false, Method::Plain)]).matches(direct_only),
        Some(false)
    );
    // With the relay: every attempt connects, by the relay.
    assert_eq!(cell(both.clone(), &[(true, Method::Relay); 20]).matches(m), Some(true));
    let mut one_lost = vec![(true, Method::Relay); 20];
    one_lost[7].0 = false;
    assert_eq!(cell(both, &one_lost).matches(m), Some(false), "20 of 20 with the relay");
    // A direct-capable pair may end on the relay in one attempt of 20, not in two.
    let hard = Scenario::Pair(Access::Nat(PortRestrictedCone), Access::Nat(Symmetric));
    let mut v = vec![(true, Method::Birthday); 20];
    v[2].1 = Method::Relay;
    assert_eq!(cell(hard.clone(), &v).matches(m), Some(true));
    v[3].1 = Method::Relay;
    assert_eq!(cell(hard, &v).matches(m), Some(false), "pairs that can connect directly do not stay relayed");
    assert_eq!(cell(Scenario::RouterRace, &[(false, Method::Plain)]).matches(m), None);
}

#[test]
fn percentiles_use_nearest_rank() {
    let mut c = cell(Scenario::SameNat(PortRestrictedCone), &[(true, Method::Plain); 20]);
    for (i, a) in c.attempts.iter_mut().enumerate() {
        a.connect_ms = Some(i as u64 + 1);
    }
    assert_eq!(c.percentile_ms(50), Some(10));
    assert_eq!(c.percentile_ms(95), Some(19));
    assert_eq!(c.percentile_ms(100), Some(20));
}

#[test]
fn scenario_list_covers_every_unordered_pair() {
    let s = scenarios();
    assert_eq!(s.iter().filter(|x| matches!(x, Scenario::Pair(..))).count(), 36);
    assert!(s.contains(&Scenario::SameNat(PortRestrictedCone)));
    assert!(s.iter().any(|x| matches!(x, Scenario::Group(v) if v.len() == 4)));
    assert!(s.contains(&Scenario::RouterRace));
}

#[test]
fn standard_cells_are_ipv4_only_and_a_family_shows_in_the_label() {
    let cells = standard_cells(false);
    assert_eq!(cells.len(), 2 * scenarios().len());
    assert!(cells.iter().all(|c| c.family == Families::V4 && c.label() == c.scenario.label()));
    let dual = Cell { family: Families::all(Family::Dual), ..cells[0].clone() };
    assert_eq!(dual.label(), format!("{} [dual-stack]", cells[0].scenario.label()));
    for f in Family::ALL {
        assert_eq!(Family::parse(f.name()), Some(f));
        assert_eq!((f.has_v4(), f.has_v6()), (f != Family::V6, f != Family::V4));
    }
}

const DUAL_CLIENT: ClientModel = ClientModel { dual_stack: true, ..CURRENT_CLIENT };

fn family_cell(a: Access, b: Access, family: Families) -> Cell {
    Cell { scenario: Scenario::Pair(a, b), condition: LinkCondition::CLEAN, family, nodes: 1 }
}

#[test]
fn ipv6_pairs_punch_plainly_through_firewalls_whatever_the_ipv4_nats() {
    let (v6, dual) = (Families::all(Family::V6), Families::all(Family::Dual));
    for m in [CURRENT_CLIENT, DUAL_CLIENT] {
        let e = expected_cell(&family_cell(SYM, SYM, v6), m).expect("asserted: every client speaks IPv6");
        assert_eq!(
            (e.connects, e.methods, e.families, e.every),
            (true, vec![Method::Plain], vec![Family::V6], true)
        );
    }
    // Dual stack, symmetric IPv4 on both sides: IPv4 alone needs the relay; IPv6 is direct.
    let e = expected_cell(&family_cell(SYM, SYM, dual), DUAL_CLIENT).expect("asserted");
    assert_eq!((e.methods, e.families), (vec![Method::Plain], vec![Family::V6]));
    assert!(e.every, "never the relay");
    // Both families direct: either may end up carrying the pair.
    let cone = Access::Nat(FullCone);
    let e = expected_cell(&family_cell(cone, cone, dual), DUAL_CLIENT).expect("asserted");
    assert_eq!(e.methods, vec![Method::Plain]);
    assert!(e.families.contains(&Family::V4) && e.families.contains(&Family::V6));
    // IPv4 only against dual stack: the IPv4 pair, over IPv4.
    let mixed = Families { host: Family::V4, others: Family::Dual };
    let pr = Access::Nat(PortRestrictedCone);
    let e = expected_cell(&family_cell(pr, SYM, mixed), DUAL_CLIENT).expect("asserted");
    assert_eq!(
        (e.methods.clone(), e.families.clone()),
        (pair(pr, SYM, DUAL_CLIENT).methods, vec![Family::V4])
    );
    assert!(!e.every);
    // IPv4 cells are the scenario's theory, over IPv4.
    let v4 = family_cell(pr, SYM, Families::V4);
    assert_eq!(expected_cell(&v4, CURRENT_CLIENT), expected(&v4.scenario, CURRENT_CLIENT));
    assert_eq!(pair(pr, SYM, CURRENT_CLIENT).families, vec![Family::V4]);
}

#[test]
fn dual_stack_cells_wait_for_a_dual_stack_client() {
    for (scenario, family) in family_scenarios() {
        let c = Cell { scenario, condition: LinkCondition::CLEAN, family, nodes: 1 };
        let has_dual = family.host == Family::Dual || family.others == Family::Dual;
        assert_eq!(
            expected_cell(&c, ClientModel { dual_stack: false, ..CURRENT_CLIENT }).is_none(),
            has_dual,
            "{}",
            c.label()
        );
        assert!(expected_cell(&c, DUAL_CLIENT).is_some_and(|e| e.connects), "{}", c.label());
    }
}

#[test]
fn family_cells_cover_the_issues_rows_under_both_conditions() {
    let cells = family_cells(false);
    assert_eq!(cells.len(), 2 * family_scenarios().len());
    let has = |a: Access, b: Access, f: Families| {
        cells.iter().any(|c| c.scenario == Scenario::Pair(a, b) && c.family == f)
    };
    let (v6, dual) = (Families::all(Family::V6), Families::all(Family::Dual));
    assert!(has(SYM, SYM, dual), "dual stack with symmetric IPv4 NATs on both sides");
    assert!(has(Access::Nat(FullCone), Access::Nat(FullCone), dual), "dual stack where both families work");
    assert!(has(Access::Nat(PortRestrictedCone), Access::Nat(PortRestrictedCone), v6), "IPv6 home × home");
    assert!(has(Access::Nat(PortRestrictedCone), Access::DoubleNat, v6), "IPv6 home × carrier");
    assert!(cells.iter().any(|c| c.family == Families { host: Family::V4, others: Family::Dual }));
    assert!(cells.iter().all(|c| c.label().ends_with(&format!("[{}]", c.family))));
    assert_eq!(Families { host: Family::V4, others: Family::Dual }.name(), "ipv4 × dual-stack");
}

#[test]
fn node_cells_are_an_easy_a_birthday_and_a_relayed_pair_expected_as_on_one_node() {
    let cells = node_cells(false);
    assert_eq!(cells.len(), 6, "three pairs, clean and lossy");
    let methods: Vec<Vec<Method>> = cells
        .iter()
        .filter(|c| c.condition == LinkCondition::CLEAN)
        .map(|c| {
            assert_eq!((c.nodes, c.family), (2, Families::V4));
            assert!(c.label().ends_with("[2 nodes]"), "{}", c.label());
            let one = Cell { nodes: 1, ..c.clone() };
            let (two, one) = (expected_cell(c, CURRENT_CLIENT), expected_cell(&one, CURRENT_CLIENT));
            assert_eq!(two, one, "{}: as on one node", c.label());
            let e = two.expect("asserted");
            assert!(e.connects, "{}", c.label());
            e.methods
        })
        .collect();
    assert!(methods.iter().any(|m| m == &[Method::Plain]), "an easy pair: {methods:?}");
    assert!(methods.iter().any(|m| m.contains(&Method::Birthday)), "a birthday pair: {methods:?}");
    assert!(methods.iter().any(|m| m == &[Method::Relay]), "a pair only the relay joins: {methods:?}");
}

#[test]
fn a_family_cell_matches_only_over_the_expected_family_and_every_attempt() {
    let mut c = cell(Scenario::Pair(SYM, SYM), &[(true, Method::Plain); 20]);
    c.family = Families::all(Family::V6);
    for a in &mut c.attempts {
        a.path_family = Some(Family::V6);
    }
    assert_eq!(c.matches(CURRENT_CLIENT), Some(true));
    assert_eq!(c.family_summary(), "ipv6 20");
    c.attempts[0].path_family = Some(Family::Dual);
    c.attempts[1].path_family = Some(Family::V4);
    assert_eq!(c.family_summary(), "ipv6 18, ipv4 1, mixed 1");
    c.attempts[0].paths_v6_v4 = (1, 1);
    assert_eq!(c.paths_v6_v4(), (1, 39), "each side's path to its peer");
    c.attempts[0].path_family = Some(Family::V6);
    c.attempts[1].path_family = Some(Family::V6);
    c.attempts[4].path_family = Some(Family::V4);
    assert_eq!(c.matches(CURRENT_CLIENT), Some(false), "a path over the wrong family");
    c.attempts[4].path_family = Some(Family::V6);
    c.attempts[5].method = Some(Method::Relay);
    assert_eq!(c.matches(CURRENT_CLIENT), Some(false), "IPv6: no odd attempt on the relay");
    // Dual stack: not asserted for a client that is not.
    c.family = Families::all(Family::Dual);
    assert_eq!(c.matches(ClientModel { dual_stack: false, ..CURRENT_CLIENT }), None);
    assert_eq!(c.matches(CURRENT_CLIENT), Some(false), "the odd relayed attempt, asserted now");
}
