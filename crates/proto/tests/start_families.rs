//! Start messages over both address families: every list of IPv4 and IPv6 peers renders to a
//! message that parses back to the same peers (IPv4-mapped addresses come back as plain IPv4), and
//! a list with no IPv6 peer renders without a single bracket or IPv6 colon (what the Godot plugin
//! splits today).

use proptest::prelude::*;
use rhp_proto::reply::write_start;
use rhp_proto::{PeerAddr, Reply};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
        (any::<u128>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(Ipv6Addr::from(ip).into(), port)),
        // IPv4-mapped, as a dual-stack socket reports an IPv4 sender.
        (any::<u32>(), any::<u16>())
            .prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).to_ipv6_mapped().into(), port)),
    ]
}

proptest! {
    #[test]
    fn every_start_message_parses_back(
        own_port in any::<u16>(),
        peers in proptest::collection::vec(("[A-Za-z0-9]{1,12}", addr()), 1..12),
    ) {
        let mut out = Vec::new();
        write_start(&mut out, own_port, peers.iter().map(|(n, a)| (n.as_str(), *a)));
        let expected: Vec<PeerAddr> = peers
            .iter()
            .map(|(n, a)| PeerAddr { name: n.clone(), addr: SocketAddr::new(a.ip().to_canonical(), a.port()) })
            .collect();
        prop_assert_eq!(Reply::parse(&out), Ok(Reply::Start { own_port, peers: expected }));
        let text = String::from_utf8(out).unwrap();
        if peers.iter().all(|(_, a)| matches!(a.ip().to_canonical(), IpAddr::V4(_))) {
            // What the Godot plugin does: split at most twice, the list on `;`, each entry on `:`.
            prop_assert!(!text.contains('['));
            let list = text.splitn(3, ':').nth(2).unwrap();
            for entry in list.split(';') {
                prop_assert_eq!(entry.split(':').count(), 3, "{}", entry);
            }
        }
    }
}
