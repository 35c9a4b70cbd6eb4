//! The `v:` extension (a player's address in the other family): both request steps and both
//! answers parse, render back byte for byte, and refuse what would be ambiguous; the padded first
//! step is long enough that the longest answer stays within the budget's 3×.

use proptest::prelude::*;
use rhp_proto::reply::{write_also_token, ALSO_OK};
use rhp_proto::request::{ALSO_PADDED_LEN, ALSO_PAD_MAX, ALSO_TOKEN_LEN};
use rhp_proto::{ParseError, Reply, Request};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

fn req(s: &str) -> Result<Request<'_>, ParseError> {
    Request::parse(s.as_bytes())
}

#[test]
fn both_steps_parse() {
    assert_eq!(req("v:S:Bob"), Ok(Request::Also { session: "S", player: "Bob", proof: None, pad: 0 }));
    assert_eq!(req("v:S:Bob:----"), Ok(Request::Also { session: "S", player: "Bob", proof: None, pad: 4 }));
    let v6: SocketAddr = "[2001:db8::7]:4000".parse().unwrap();
    assert_eq!(
        req("v:S:Bob:0123456789ab:[2001:db8::7]:4000"),
        Ok(Request::Also { session: "S", player: "Bob", proof: Some(("0123456789ab", v6)), pad: 0 })
    );
    let v4: SocketAddr = "203.0.113.7:9".parse().unwrap();
    assert_eq!(
        req("v:S:Bob:0123456789ab:203.0.113.7:9"),
        Ok(Request::Also { session: "S", player: "Bob", proof: Some(("0123456789ab", v4)), pad: 0 })
    );
}

#[test]
fn ambiguous_or_malformed_steps_are_refused() {
    for bad in [
        "v:S",
        "v:S:Bob:",
        "v:S:Bob:-x-",
        "v:S:Bob:0123456789AB:[2001:db8::7]:4000", // upper-case hex
        "v:S:Bob:0123456789a:[2001:db8::7]:4000",  // 11 digits
        "v:S:Bob:0123456789ab:2001:db8::7:4000",   // IPv6 without brackets
        "v:S:Bob:0123456789ab:[::ffff:1.2.3.4]:40", // mapped IPv4: only the dotted form
        "v:S:Bob:0123456789ab:[2001:db8::7]:04000", // leading zero
        "v:S:Bob:0123456789ab:[2001:db8::7]:65536",
        "v:S:Bob:0123456789ab",
        "v:S:B-b",
    ] {
        assert_eq!(req(bad), Err(ParseError::Invalid), "{bad:?}");
    }
    let too_much_pad = format!("v:S:Bob:{}", "-".repeat(ALSO_PAD_MAX + 1));
    assert_eq!(req(&too_much_pad), Err(ParseError::Invalid));
}

#[test]
fn answers_parse() {
    let mut out = Vec::new();
    write_also_token(&mut out, "00ff00ff00ff", "[2001:db8::7]:4000".parse().unwrap());
    assert_eq!(out, b"v:00ff00ff00ff:[2001:db8::7]:4000");
    assert_eq!(
        Reply::parse(&out),
        Ok(Reply::AlsoToken { token: "00ff00ff00ff".into(), addr: "[2001:db8::7]:4000".parse().unwrap() })
    );
    assert_eq!(Reply::parse(ALSO_OK), Ok(Reply::AlsoOk));
    assert_eq!(Reply::parse(b"v:00ff00ff00f:[::1]:4"), Err(ParseError::Invalid));
    assert_eq!(Reply::parse(b"v:nope"), Err(ParseError::Invalid));
}

#[test]
fn the_padded_first_step_pays_for_the_longest_answer() {
    let longest_answer = {
        let mut out = Vec::new();
        let addr = SocketAddr::new(Ipv6Addr::from(u128::MAX).into(), u16::MAX);
        write_also_token(&mut out, &"f".repeat(ALSO_TOKEN_LEN), addr);
        out.len()
    };
    assert!(longest_answer <= 3 * ALSO_PADDED_LEN, "{longest_answer} > 3 × {ALSO_PADDED_LEN}");
    // The shortest session and player names padded to the length fit the pad limit.
    assert!(ALSO_PADDED_LEN - "v:S:P:".len() <= ALSO_PAD_MAX);
}

fn addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<u32>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(Ipv4Addr::from(ip).into(), port)),
        (any::<u128>(), any::<u16>())
            .prop_filter("not mapped", |(ip, _)| Ipv6Addr::from(*ip).to_ipv4_mapped().is_none())
            .prop_map(|(ip, port)| SocketAddr::new(Ipv6Addr::from(ip).into(), port)),
    ]
}

proptest! {
    #[test]
    fn every_step_and_answer_round_trips(
        session in "[A-Za-z0-9]{1,10}",
        player in "[A-Za-z0-9]{1,12}",
        token in "[0-9a-f]{12}",
        addr in addr(),
        pad in 0u8..=40,
    ) {
        let step1 = Request::Also { session: &session, player: &player, proof: None, pad };
        let bytes = step1.to_bytes();
        prop_assert_eq!(Request::parse(&bytes), Ok(step1));
        let step2 = Request::Also { session: &session, player: &player, proof: Some((&token, addr)), pad: 0 };
        let bytes = step2.to_bytes();
        prop_assert_eq!(Request::parse(&bytes), Ok(step2));
        let mut answer = Vec::new();
        write_also_token(&mut answer, &token, addr);
        prop_assert_eq!(Reply::parse(&answer), Ok(Reply::AlsoToken { token: token.clone(), addr }));
    }
}
