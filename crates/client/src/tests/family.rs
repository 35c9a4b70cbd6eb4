//! The address family the server decides ([`crate::family`]).

use crate::family::*;
use std::net::SocketAddr;

#[test]
fn the_server_family_decides() {
    let v4: SocketAddr = "10.0.0.1:57775".parse().unwrap();
    let v6: SocketAddr = "[2001:db8::1]:57775".parse().unwrap();
    assert_eq!(local(None, v4).unwrap(), "0.0.0.0:0".parse().unwrap());
    assert_eq!(local(None, v6).unwrap(), "[::]:0".parse().unwrap());
    assert!(local(Some("127.0.0.1:0".parse().unwrap()), v6).is_err());
    assert_eq!(local(Some("[::]:5".parse().unwrap()), v4).unwrap(), "[::]:5".parse().unwrap());
}

mod settle {
    use crate::config::Config;
    use crate::family::settle;
    use std::net::SocketAddr;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    fn dual() -> Config {
        Config::join(a("203.0.113.5:4000"), "S", "Bob").with_other_server(Some(a("[2001:db8::5]:4000")))
    }

    #[test]
    fn both_families_with_a_route_stay_dual() {
        let c = settle(dual(), None, |_| true);
        assert_eq!((c.server, c.server_other), (a("203.0.113.5:4000"), Some(a("[2001:db8::5]:4000"))));
        let c = settle(dual(), Some(a("[::]:7000")), |_| true);
        assert!(c.server_other.is_some());
    }

    #[test]
    fn a_family_without_a_route_is_dropped() {
        let c = settle(dual(), None, |to| to.is_ipv4());
        assert_eq!((c.server, c.server_other), (a("203.0.113.5:4000"), None));
        // An IPv6-only machine plays the session over IPv6.
        let c = settle(dual(), None, |to| to.is_ipv6());
        assert_eq!((c.server, c.server_other), (a("[2001:db8::5]:4000"), None));
    }

    #[test]
    fn a_specific_bind_pins_its_family() {
        let c = settle(dual(), Some(a("192.0.2.7:0")), |_| true);
        assert_eq!((c.server, c.server_other), (a("203.0.113.5:4000"), None));
        let c = settle(dual(), Some(a("[2001:db8::7]:0")), |_| true);
        assert_eq!((c.server, c.server_other), (a("[2001:db8::5]:4000"), None));
    }
}
