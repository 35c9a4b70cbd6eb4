//! One key per IPv4 address and per IPv6 /64 (`rhp_server::netkey`).

use rhp_server::netkey::NetKey;
use std::net::IpAddr;

#[test]
fn one_key_per_ipv4_address_and_per_ipv6_64() {
    let k = |s: &str| NetKey::of(s.parse::<IpAddr>().expect("ip"));
    assert_eq!(k("192.0.2.1"), k("::ffff:192.0.2.1"));
    assert_ne!(k("192.0.2.1"), k("192.0.2.2"));
    assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
    assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
    let a = |s: &str| k(s).addr().to_string();
    assert_eq!(a("::ffff:192.0.2.1"), "192.0.2.1");
    assert_eq!(a("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::");
    assert_eq!(NetKey::of(k("2001:db8:1:2::9").addr()), k("2001:db8:1:2::1"));
}
