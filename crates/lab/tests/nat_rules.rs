//! The NAT types as data and the nftables ruleset each one gets (text only, no lab).

use rhp_lab::nat::{Filtering, Mapping, NatType, RouterRules};
use std::net::Ipv4Addr;

fn rules(nat: NatType) -> String {
    RouterRules {
        nat,
        wan_addr: Ipv4Addr::new(203, 0, 113, 6),
        lan_cidr: "10.1.0.0/24".into(),
        wan_firewall: true,
        hairpin: false,
    }
    .ruleset()
}

#[test]
fn each_type_gets_its_own_translation_and_filter() {
    assert!(rules(NatType::Symmetric).contains("fully-random"));
    assert!(rules(NatType::SymmetricSequential).contains("numgen inc mod 1024 map { 0 : 30000, 1 : 30001,"));
    let pp = rules(NatType::SymmetricPreserving);
    assert!(pp.contains("@mapped snat ip to 203.0.113.6 fully-random"), "{pp}");
    assert!(pp.contains("add @mapped { ip saddr . udp sport } snat ip to 203.0.113.6\n"), "{pp}");
    assert!(rules(NatType::PortShiftCone).contains("udp sport ^ 0x4000"));
    assert!(rules(NatType::FullCone).contains("daddr 203.0.113.6 dnat ip to udp dport map @fc"));
    assert!(rules(NatType::RestrictedCone).contains("@seen dnat"));
    assert!(!rules(NatType::PortRestrictedCone).contains("dnat ip to"));
    assert!(rules(NatType::PortRestrictedCone).contains("ct state new drop"));
    let fw = rules(NatType::Symmetric);
    let v6_in = fw.find("meta nfproto ipv6 ct state established,related accept").expect("v6 replies in");
    let v6_drop = fw.find("meta nfproto ipv6 drop").expect("every other inbound v6 dropped");
    assert!(v6_in < v6_drop, "{fw}");
}

#[test]
fn data_matches_names() {
    let symmetric = [NatType::Symmetric, NatType::SymmetricSequential, NatType::SymmetricPreserving];
    for t in symmetric {
        assert_eq!(t.mapping(), Mapping::AddressAndPortDependent, "{t}");
        assert_eq!(t.filtering(), Filtering::AddressAndPortDependent, "{t}");
    }
    for t in NatType::ALL.into_iter().filter(|t| !symmetric.contains(t)) {
        assert_eq!(t.mapping(), Mapping::EndpointIndependent, "{t}");
    }
    assert_eq!(NatType::FullCone.filtering(), Filtering::EndpointIndependent);
    assert_eq!(NatType::RestrictedCone.filtering(), Filtering::AddressDependent);
}
