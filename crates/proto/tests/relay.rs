//! The relay frames and the `r:` grant (`rhp_proto::relay`): round trips, sizes, refusals.

use rhp_proto::relay::*;

#[test]
fn frames_round_trip_and_never_grow_through_the_relay() {
    let payload = b"state 42";
    let mut to = Vec::new();
    ToServer::Data { token: 0x0123_4567_89ab_cdef, to: 3, payload }.write_to(&mut to);
    assert_eq!(to.len(), TO_HEADER + payload.len());
    assert_eq!(ToServer::parse(&to), Ok(ToServer::Data { token: 0x0123_4567_89ab_cdef, to: 3, payload }));
    let mut from = Vec::new();
    FromServer::Data { from: 1, payload }.write_to(&mut from);
    assert_eq!(from.len() + 8, to.len(), "the forwarded frame is 8 bytes shorter");
    assert_eq!(FromServer::parse(&from), Ok(FromServer::Data { from: 1, payload }));
    let mut bind = Vec::new();
    ToServer::Bind { token: 7 }.write_to(&mut bind);
    assert_eq!(ToServer::parse(&bind), Ok(ToServer::Bind { token: 7 }));
    let mut leave = Vec::new();
    ToServer::Leave { token: 9 }.write_to(&mut leave);
    assert_eq!(leave.len(), 10);
    assert_eq!(ToServer::parse(&leave), Ok(ToServer::Leave { token: 9 }));
    for f in [FromServer::BindOk { me: 2 }, FromServer::Refused(Refusal::Lifetime)] {
        let mut b = Vec::new();
        f.write_to(&mut b);
        assert_eq!(FromServer::parse(&b), Ok(f));
    }
}

#[test]
fn frames_are_told_apart_from_text_and_stun() {
    assert!(!is_frame(b"p:S:P"));
    assert!(!is_frame(&[0x00, 0x01, 0x00, 0x00]));
    assert!(is_frame(&[MAGIC]));
    for bad in [
        &[MAGIC][..],
        &[MAGIC, TO_DATA, 1, 2],
        &[MAGIC, TO_BIND, 1],
        &[MAGIC, 9, 0, 0],
        &[MAGIC, FROM_REFUSED, 99],
    ] {
        assert!(ToServer::parse(bad).is_err() || FromServer::parse(bad).is_err());
    }
    assert!(ToServer::parse(&[MAGIC, TO_BIND, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
}

#[test]
fn grants_round_trip_and_bad_ones_are_refused() {
    let mut out = Vec::new();
    Grant::write(0xdead_beef, ["Alice", "Bob"], &mut out);
    assert_eq!(out, b"r:00000000deadbeef:Alice:Bob");
    assert_eq!(
        Grant::parse(&out),
        Ok(Grant { token: 0xdead_beef, members: vec!["Alice".into(), "Bob".into()], relay_at: None })
    );
    // In a cluster: where relay frames go (the session's owner), after `;`.
    let mut at = out.clone();
    Grant::append_relay_at(&mut at, "[2001:db8::3]:57775".parse().unwrap());
    assert_eq!(at, b"r:00000000deadbeef:Alice:Bob;[2001:db8::3]:57775");
    assert_eq!(Grant::parse(&at).map(|g| g.relay_at), Ok(Some("[2001:db8::3]:57775".parse().unwrap())));
    for bad in [
        &b"r:xyz:Alice"[..],
        b"r:00000000deadbeef",
        b"r:00000000deadbeef:Al ice",
        b"r:00000000deadbee:A",
        b"r:00000000deadbeef:A;",
        b"r:00000000deadbeef:A;2001:db8::3:1",
    ] {
        assert!(Grant::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
    }
}

proptest::proptest! {
    #[test]
    fn parsing_never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
        let _ = ToServer::parse(&data);
        let _ = FromServer::parse(&data);
        let _ = Grant::parse(&data);
    }
}
