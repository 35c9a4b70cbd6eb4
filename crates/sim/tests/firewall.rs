//! The stateful IPv6 firewall alone: closed until the inside host sends, open to exactly that
//! remote address and port, closed again after the timeout without traffic.

use rhp_sim::firewall::Firewall;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

fn a(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn only_flows_the_inside_opened_come_in() {
    let mut fw = Firewall::default();
    let now = Instant::now();
    let (me, peer) = (a("[2001:db8:1::2]:50000"), a("[2001:db8:2::2]:50000"));
    assert!(!fw.ingress(now, peer, me), "unsolicited");
    fw.egress(now, me, peer);
    assert!(fw.ingress(now, peer, me), "the answer on the flow we opened");
    assert!(!fw.ingress(now, a("[2001:db8:2::2]:50001"), me), "another port of the same host");
    assert!(!fw.ingress(now, a("[2001:db8:3::2]:50000"), me), "another host");
    let later = now + fw.timeout + Duration::from_secs(1);
    assert!(!fw.ingress(later, peer, me), "forgotten after the timeout");
    assert_eq!(fw.flows(later), 0);
}
