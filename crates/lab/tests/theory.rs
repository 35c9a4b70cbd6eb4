//! The theory, the scenario model and a cell's verdict, without a lab: what each pair should do
//! for a client, which scenarios the matrix holds, and when a cell's attempts match the theory.

use rhp_client::Method;
use rhp_lab::cell::{Attempt, CellResult};
use rhp_lab::family::Family;
use rhp_lab::impair::LinkCondition;
use rhp_lab::nat::NatType::*;
use rhp_lab::scenario::{scenarios, standard_cells, Access, Cell, Scenario};
use rhp_lab::theory::{
    expected, hardness, is_hard, pair, ClientModel, Hardness, CURRENT_CLIENT, PLAIN_CLIENT,
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
            detail: String::new(),
            log: Vec::new(),
        })
        .collect();
    CellResult {
        scenario,
        condition: LinkCondition::CLEAN,
        family: Family::V4,
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
    assert!(cells.iter().all(|c| c.family == Family::V4 && c.label() == c.scenario.label()));
    let dual = Cell { family: Family::Dual, ..cells[0].clone() };
    assert_eq!(dual.label(), format!("{} [dual-stack]", cells[0].scenario.label()));
    for f in Family::ALL {
        assert_eq!(Family::parse(f.name()), Some(f));
        assert_eq!((f.has_v4(), f.has_v6()), (f != Family::V6, f != Family::V4));
    }
}
