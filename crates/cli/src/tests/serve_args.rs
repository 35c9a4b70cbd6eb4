//! The serve flags ([`crate::serve_args`]): `--bind`.

use crate::serve_args::{parse_bind, Binds};

#[test]
fn bind_takes_one_address_or_both_wildcards() {
    let one = |s: &str| Ok(Binds(vec![(s.parse::<std::net::IpAddr>().unwrap(), None)]));
    assert_eq!(parse_bind("0.0.0.0"), one("0.0.0.0"));
    assert_eq!(parse_bind("::1"), one("::1"));
    assert_eq!(parse_bind("0.0.0.0,::"), one("::"));
    assert_eq!(parse_bind(":: , 0.0.0.0"), one("::"));
    assert_eq!(parse_bind("::,::"), one("::"));
    for bad in ["", "x", "0.0.0.0,::,127.0.0.1", "0.0.0.0,", "::,::1", "127.0.0.1,127.0.0.1", "[::1]"] {
        assert!(parse_bind(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn bind_takes_a_list_of_specific_addresses_each_maybe_with_its_port() {
    let b = parse_bind("127.0.0.1,::1").unwrap();
    assert_eq!(b.single(), None);
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(b.0, vec![(ip("127.0.0.1"), None), (ip("::1"), None)]);
    let b = parse_bind("10.0.0.1:4000, [2001:db8::1]:4001,10.0.0.2").unwrap();
    assert_eq!(
        b.0,
        vec![(ip("10.0.0.1"), Some(4000)), (ip("2001:db8::1"), Some(4001)), (ip("10.0.0.2"), None)]
    );
    // One address with its port is a list of one.
    assert_eq!(parse_bind("127.0.0.1:5000").unwrap().single(), None);
    // The same address on two ports is two sockets; twice on one port is refused.
    assert!(parse_bind("127.0.0.1:5000,127.0.0.1:5001").is_ok());
    let e = parse_bind("127.0.0.1:5000,127.0.0.1:5000").unwrap_err();
    assert!(e.contains("listed twice"), "{e}");
    let e = parse_bind("0.0.0.0,10.0.0.1").unwrap_err();
    assert!(e.contains("every address"), "{e}");
    let nine: Vec<String> = (1..=9).map(|i| format!("10.0.0.{i}")).collect();
    let e = parse_bind(&nine.join(",")).unwrap_err();
    assert!(e.contains("at most 8"), "{e}");
    assert!(parse_bind(&nine[..8].join(",")).is_ok());
}
