//! `--server` lists: the session's address is IPv4 when there is one, the other family's first
//! address rides along, and a list of one family has no other.

use crate::resolve::{pick, Servers};
use std::net::SocketAddr;

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn ipv4_plays_the_session_and_ipv6_rides_along() {
    let both = [a("[2001:db8::5]:4000"), a("203.0.113.5:4000"), a("[2001:db8::6]:4000")];
    assert_eq!(
        pick(&both),
        Some(Servers {
            main: a("203.0.113.5:4000"),
            other: Some(a("[2001:db8::5]:4000")),
            fallbacks: vec![]
        })
    );
}

#[test]
fn one_family_has_no_other() {
    assert_eq!(
        pick(&[a("[::1]:4000")]),
        Some(Servers { main: a("[::1]:4000"), other: None, fallbacks: vec![] })
    );
    assert_eq!(pick(&[]), None);
}

#[test]
fn more_addresses_of_the_sessions_family_are_other_nodes_in_order() {
    let nodes = [a("203.0.113.5:4000"), a("203.0.113.6:4000"), a("203.0.113.5:4000"), a("203.0.113.7:4000")];
    assert_eq!(
        pick(&nodes),
        Some(Servers {
            main: a("203.0.113.5:4000"),
            other: None,
            fallbacks: vec![a("203.0.113.6:4000"), a("203.0.113.7:4000")]
        })
    );
}
