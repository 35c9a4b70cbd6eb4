//! Unit tests of `nat.rs`, with access to its private parts.

use crate::nat::*;
use crate::rng::Rng;
use rhp_lab::nat::NatType;
use std::net::SocketAddr;
use std::time::Instant;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn nat(kind: NatType) -> (Nat, Instant) {
    (Nat::new(kind, "203.0.113.1".parse().unwrap(), Rng::new(3)), Instant::now())
}

const IN: &str = "10.0.0.2:5000";

#[test]
fn cones_keep_one_port_and_filter_as_named() {
    let (s, p) = (a("198.51.100.1:1"), a("198.51.100.2:2"));
    for kind in [NatType::FullCone, NatType::RestrictedCone, NatType::PortRestrictedCone] {
        let (mut n, t) = nat(kind);
        let out = n.egress(t, a(IN), s);
        assert_eq!(out, a("203.0.113.1:5000"), "{kind}: preserves");
        assert_eq!(n.egress(t, a(IN), p), out, "{kind}: one port for every destination");
        let stranger = n.ingress(t, a("192.0.2.9:9"), 5000, false);
        let same_ip_other_port = n.ingress(t, a("198.51.100.1:7"), 5000, false);
        assert_eq!(n.ingress(t, s, 5000, false), Ok(a(IN)));
        match kind {
            NatType::FullCone => assert_eq!(stranger, Ok(a(IN))),
            NatType::RestrictedCone => {
                assert_eq!(stranger, Err(DropReason::Filtered));
                assert_eq!(same_ip_other_port, Ok(a(IN)));
            }
            _ => assert_eq!(same_ip_other_port, Err(DropReason::Filtered)),
        }
        assert_eq!(n.ingress(t, s, 5001, false), Err(DropReason::NoMapping));
    }
}

#[test]
fn port_allocation_follows_the_type() {
    let (s, p, q) = (a("198.51.100.1:1"), a("198.51.100.2:2"), a("198.51.100.3:3"));
    let (mut n, t) = nat(NatType::PortShiftCone);
    assert_eq!(n.egress(t, a(IN), s).port(), 5000 ^ 0x4000);
    let (mut n, t) = nat(NatType::SymmetricSequential);
    let ports: Vec<u16> = [s, p, q].iter().map(|d| n.egress(t, a(IN), *d).port()).collect();
    assert_eq!(ports, [30000, 30001, 30002]);
    assert_eq!(n.egress(t, a(IN), p).port(), 30001, "an existing flow keeps its port");
    let (mut n, t) = nat(NatType::SymmetricPreserving);
    assert_eq!(n.egress(t, a(IN), s).port(), 5000);
    assert_ne!(n.egress(t, a(IN), p).port(), 5000);
    let (mut n, t) = nat(NatType::Symmetric);
    let (x, y) = (n.egress(t, a(IN), s).port(), n.egress(t, a(IN), p).port());
    assert_ne!(x, y);
    assert_eq!(n.ingress(t, p, x, false), Err(DropReason::Filtered), "x is s's mapping only");
    assert_eq!(n.ingress(t, p, y, false), Ok(a(IN)));
}

#[test]
fn a_flow_idle_for_the_timeout_lets_nothing_in_while_the_mapping_lives_on_another() {
    let (mut n, t) = nat(NatType::PortRestrictedCone);
    let (s, p) = (a("198.51.100.1:1"), a("198.51.100.2:2"));
    n.egress(t, a(IN), s);
    n.egress(t, a(IN), p);
    n.egress(t + MAPPING_TIMEOUT / 2, a(IN), p);
    let later = t + MAPPING_TIMEOUT * 6 / 5;
    assert_eq!(n.ingress(later, p, 5000, false), Ok(a(IN)), "p's flow is fresh");
    assert_eq!(n.ingress(later, s, 5000, false), Err(DropReason::Filtered), "s's flow is forgotten");
}

#[test]
fn mappings_time_out_without_traffic_and_hairpin_skips_the_filter() {
    let (mut n, t) = nat(NatType::PortRestrictedCone);
    let s = a("198.51.100.1:1");
    n.egress(t, a(IN), s);
    assert_eq!(n.ingress(t + MAPPING_TIMEOUT / 2, s, 5000, false), Ok(a(IN)), "inbound refreshes");
    assert_eq!(n.mappings(t + MAPPING_TIMEOUT), 1);
    assert_eq!(n.ingress(t + MAPPING_TIMEOUT * 2, s, 5000, false), Err(DropReason::NoMapping));
    n.egress(t, a(IN), s);
    assert_eq!(n.ingress(t, a("203.0.113.1:7000"), 5000, true), Ok(a(IN)));
}
