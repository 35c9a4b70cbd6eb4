//! What the server sends a client (`rhp_proto::reply`): rendered and parsed back.

use rhp_proto::reply::*;
use rhp_proto::{ErrorCode, ParseError};
use std::net::SocketAddr;

#[test]
fn renders_the_seed_readme_examples() {
    let mut out = Vec::new();
    write_info(&mut out, ["Alice", "Bob"]);
    assert_eq!(out, b"i:Alice:Bob");
    out.clear();
    let bob: SocketAddr = "10.0.0.2:5555".parse().unwrap();
    let carol: SocketAddr = "[::ffff:10.0.0.3]:6666".parse().unwrap();
    write_start(&mut out, 1234, [("Bob", bob), ("Carol", carol)]);
    assert_eq!(out, b"s:1234:Bob:10.0.0.2:5555;Carol:10.0.0.3:6666");
    out.clear();
    let dan: SocketAddr = "[2001:db8::7]:7777".parse().unwrap();
    write_start(&mut out, 1, [("Bob", bob), ("Dan", dan)]);
    assert_eq!(out, b"s:1:Bob:10.0.0.2:5555;Dan:[2001:db8::7]:7777");
    out.clear();
    write_nat([("Alice", "cone"), ("Bob", "sym+2")], &mut out);
    assert_eq!(out, b"n:Alice:cone:Bob:sym+2");
    out.clear();
    write_nat([], &mut out);
    assert_eq!(out, b"n:");
}

#[test]
fn parses_what_it_renders() {
    for reply in [
        Reply::Info(vec!["Alice".into()]),
        Reply::Info(vec!["Alice".into(), "Bob".into()]),
        Reply::Start {
            own_port: 1,
            peers: vec![PeerAddr { name: "Bob".into(), addr: "1.2.3.4:65535".parse().unwrap() }],
        },
        Reply::Start {
            own_port: 9,
            peers: vec![
                PeerAddr { name: "Bob".into(), addr: "[2001:db8::1]:5555".parse().unwrap() },
                PeerAddr { name: "Carol".into(), addr: "10.0.0.3:6666".parse().unwrap() },
                PeerAddr { name: "Dan".into(), addr: "[::1]:1".parse().unwrap() },
            ],
        },
        Reply::Nat(vec![]),
        Reply::Nat(vec![NatEntry { player: "Alice".into(), desc: "cone".into() }]),
        Reply::Nat(vec![
            NatEntry { player: "Alice".into(), desc: "cone+p4".into() },
            NatEntry { player: "Bob".into(), desc: "sym-2".into() },
        ]),
        Reply::Error(ErrorCode::SessionFull),
        Reply::OtherError("rate_limited".into()),
    ] {
        assert_eq!(Reply::parse(&reply.to_bytes()), Ok(reply));
    }
}

#[test]
fn rejects_broken_replies() {
    for bad in [
        "",
        "i",
        "i:",
        "i:A::B",
        "s:1",
        "s:x:A:1.2.3.4:5",
        "s:1:A:1.2.3.4",
        "s:1:A:nope:5",
        "s:70000:A:1.2.3.4:5",
        "s:1:A:::1:5",
        "s:1:A:2001:db8::1:5",
        "s:1:A:[2001:db8::1]",
        "s:1:A:[2001:db8::1]:",
        "s:1:A:[1.2.3.4]:5",
        "s:1:A:[2001:db8::1:5",
        "s:1:A:[2001:db8::1]:5:6",
        "s:1:",
        "n",
        "n:A",
        "n:A:",
        "n:A:cone:B",
        "n::cone",
        "n:A:Cone",
        "n:A:abcdefghijklmno",
        "n:abcdefghijklm:cone",
    ] {
        assert!(Reply::parse(bad.as_bytes()).is_err(), "{bad:?}");
    }
    assert_eq!(Reply::parse(b"g:a:1:2"), Err(ParseError::UnknownType));
}
