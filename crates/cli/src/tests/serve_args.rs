//! The serve flags ([`crate::serve_args`]): `--bind`.

use crate::serve_args::parse_bind;

#[test]
fn bind_takes_one_address_or_both_wildcards() {
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    assert_eq!(parse_bind("0.0.0.0"), Ok(ip("0.0.0.0")));
    assert_eq!(parse_bind("::1"), Ok(ip("::1")));
    assert_eq!(parse_bind("0.0.0.0,::"), Ok(ip("::")));
    assert_eq!(parse_bind(":: , 0.0.0.0"), Ok(ip("::")));
    assert_eq!(parse_bind("::,::"), Ok(ip("::")));
    for bad in ["", "x", "127.0.0.1,::1", "0.0.0.0,::,127.0.0.1", "0.0.0.0,"] {
        assert!(parse_bind(bad).is_err(), "{bad:?}");
    }
}
