//! STUN Binding requests and responses (`rhp_proto::stun`): the RFC 5769 vectors, classic
//! requests, a cross-check with `stun-types`, and parsing that never panics.

use proptest::prelude::*;
use rhp_proto::stun::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The magic cookie as it stands on the wire.
const COOKIE: [u8; 4] = MAGIC_COOKIE.to_be_bytes();

/// RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME,
/// MESSAGE-INTEGRITY, FINGERPRINT).
const RFC5769_REQUEST: [u8; 108] = [
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa,
    0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20,
    0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff, 0x80, 0x29, 0x00,
    0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a,
    0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c, 0xbf,
    0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49, 0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28,
    0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
];

/// RFC 5769 §2.2: sample IPv4 response.
const RFC5769_RESPONSE_V4: [u8; 80] = [
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa,
    0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f,
    0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43, 0x00, 0x08, 0x00,
    0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53,
    0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
];

/// RFC 5769 §2.3: sample IPv6 response.
const RFC5769_RESPONSE_V6: [u8; 92] = [
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa,
    0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f,
    0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa, 0xa5, 0xd3, 0xf1,
    0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e,
    0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41, 0x80,
    0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
];

const TXID: [u8; 12] = [0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae];

fn v4() -> SocketAddr {
    "192.0.2.1:32853".parse().unwrap()
}

fn v6() -> SocketAddr {
    "[2001:db8:1234:5678:11:2233:4455:6677]:32853".parse().unwrap()
}

fn request_with_cookie() -> BindingRequest {
    let mut txid = [0; 16];
    txid[..4].copy_from_slice(&COOKIE);
    txid[4..].copy_from_slice(&TXID);
    BindingRequest { txid, classic: false }
}

#[test]
fn rfc5769_sample_request_is_a_binding_request() {
    assert!(is_stun(&RFC5769_REQUEST));
    assert_eq!(parse_binding_request(&RFC5769_REQUEST), Ok(request_with_cookie()));
}

#[test]
fn rfc5769_sample_responses_parse_to_their_addresses() {
    assert_eq!(parse_binding_response(&RFC5769_RESPONSE_V4), Ok((TXID, v4())));
    assert_eq!(parse_binding_response(&RFC5769_RESPONSE_V6), Ok((TXID, v6())));
}

#[test]
fn rendered_xor_mapped_address_equals_the_vectors() {
    let mut out = Vec::new();
    write_binding_response(&request_with_cookie(), v4(), &mut out);
    assert_eq!(out.len(), 32);
    assert_eq!(&out[..2], &[0x01, 0x01]);
    assert_eq!(&out[4..20], &RFC5769_RESPONSE_V4[4..20]);
    assert_eq!(&out[20..], &RFC5769_RESPONSE_V4[36..48]);
    assert_eq!(parse_binding_response(&out), Ok((TXID, v4())));

    out.clear();
    write_binding_response(&request_with_cookie(), v6(), &mut out);
    assert_eq!(out.len(), 44);
    assert_eq!(&out[20..], &RFC5769_RESPONSE_V6[36..60]);
    assert_eq!(parse_binding_response(&out), Ok((TXID, v6())));
}

#[test]
fn ipv4_mapped_ipv6_is_answered_as_ipv4() {
    let mut out = Vec::new();
    write_binding_response(&request_with_cookie(), "[::ffff:192.0.2.1]:32853".parse().unwrap(), &mut out);
    assert_eq!(parse_binding_response(&out), Ok((TXID, v4())));
}

#[test]
fn our_request_round_trips() {
    let mut out = Vec::new();
    write_binding_request(TXID, &mut out);
    assert_eq!(out.len(), 20);
    assert_eq!(parse_binding_request(&out), Ok(request_with_cookie()));
}

#[test]
fn classic_requests_are_answered_with_mapped_address() {
    // An RFC 3489 request as Debian's stun client sends it: CHANGE-REQUEST with no flags.
    let mut req = vec![0x00, 0x01, 0x00, 0x08];
    req.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    req.extend_from_slice(&[0x00, 0x03, 0x00, 0x04, 0, 0, 0, 0]);
    let parsed = parse_binding_request(&req).unwrap();
    assert!(parsed.classic);
    assert_eq!(parsed.txid[0], 1);
    let mut out = Vec::new();
    write_binding_response(&parsed, v4(), &mut out);
    assert_eq!(out.len(), 32);
    assert!(out.len() <= 3 * req.len());
    assert_eq!(&out[4..20], &req[4..20]);
    // MAPPED-ADDRESS, not XOR'd.
    assert_eq!(&out[20..32], &[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x80, 0x55, 192, 0, 2, 1]);
    // A client that insists on the cookie refuses it; the attribute walk still finds it.
    assert_eq!(parse_binding_response(&out), Err(StunError::NoCookie));

    // Asking for another IP or port is not answered (we cannot honour it).
    let last = req.len() - 1;
    req[last] = 0x04;
    assert_eq!(parse_binding_request(&req), Err(StunError::ChangeRequest));
    req[last] = 0x02;
    assert_eq!(parse_binding_request(&req), Err(StunError::ChangeRequest));
}

#[test]
fn mapped_address_is_the_fallback() {
    let mut resp = vec![0x01, 0x01, 0x00, 0x0c];
    resp.extend_from_slice(&COOKIE);
    resp.extend_from_slice(&TXID);
    resp.extend_from_slice(&[0x00, 0x01, 0x00, 0x08, 0x00, 0x01, 0x80, 0x55, 192, 0, 2, 1]);
    assert_eq!(parse_binding_response(&resp), Ok((TXID, v4())));
}

#[test]
fn garbage_is_refused() {
    assert!(!is_stun(b"p:NiceRoom:Alice"));
    assert!(!is_stun(b"h:abcdefghij:abcdefghijkl:12:abcdefghijkl"));
    assert!(!is_stun(&[]));
    assert!(!is_stun(&RFC5769_REQUEST[..19]));
    assert_eq!(parse_binding_request(&RFC5769_REQUEST[..107]), Err(StunError::NotStun));
    assert_eq!(parse_binding_request(&RFC5769_RESPONSE_V4), Err(StunError::WrongType));
    assert_eq!(parse_binding_response(&RFC5769_REQUEST), Err(StunError::WrongType));

    // Length not a multiple of 4.
    let mut odd = RFC5769_REQUEST[..20].to_vec();
    odd[3] = 2;
    odd.extend_from_slice(&[0, 0]);
    assert!(!is_stun(&odd));

    // An attribute that claims more than there is.
    let mut trunc = RFC5769_REQUEST[..24].to_vec();
    trunc[3] = 4;
    trunc[20..24].copy_from_slice(&[0x80, 0x22, 0x00, 0x10]);
    assert_eq!(parse_binding_request(&trunc), Err(StunError::Truncated));
    // A XOR-MAPPED-ADDRESS whose padding is missing.
    let mut resp = RFC5769_RESPONSE_V4[..48].to_vec();
    resp[3] = 28;
    resp[39] = 12;
    assert_eq!(parse_binding_response(&resp), Err(StunError::Truncated));
    // A bad family.
    let mut resp = RFC5769_RESPONSE_V4[..48].to_vec();
    resp[3] = 28;
    resp[41] = 3;
    assert_eq!(parse_binding_response(&resp), Err(StunError::BadAddress));
    // No address at all.
    let mut resp = RFC5769_RESPONSE_V4[..36].to_vec();
    resp[3] = 16;
    assert_eq!(parse_binding_response(&resp), Err(StunError::NoAddress));
}

/// Cross-check with an independent implementation (the `stun-types` crate): its request parses
/// here, our response parses there to the same address, and its response parses here.
#[test]
fn stun_types_agrees() {
    use stun_types::attribute::XorMappedAddress;
    use stun_types::message::{Message, MessageClass, MessageWriteVec, BINDING};
    use stun_types::prelude::*;

    let theirs = Message::builder_request(BINDING, MessageWriteVec::new()).finish();
    let parsed = parse_binding_request(&theirs).unwrap();
    assert!(!parsed.classic);
    let their_request = Message::from_bytes(&theirs).unwrap();
    for addr in [v4(), v6()] {
        let mut ours = Vec::new();
        write_binding_response(&parsed, addr, &mut ours);
        let msg = Message::from_bytes(&ours).unwrap();
        assert!(msg.has_class(MessageClass::Success) && msg.has_method(BINDING));
        assert_eq!(msg.transaction_id(), their_request.transaction_id());
        let xor = msg.attribute::<XorMappedAddress>().unwrap();
        assert_eq!(xor.addr(msg.transaction_id()), addr);

        let mut response = Message::builder_success(&their_request, MessageWriteVec::new());
        response.add_attribute(&XorMappedAddress::new(addr, their_request.transaction_id())).unwrap();
        let response = response.finish();
        let (txid, got) = parse_binding_response(&response).unwrap();
        assert_eq!(got, addr);
        assert_eq!(txid[..], theirs[8..20]);
    }
}

proptest! {
    #[test]
    fn parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = parse_binding_request(&data);
        let _ = parse_binding_response(&data);
    }

    #[test]
    fn parsing_stun_shaped_bytes_never_panics(
        kind in prop_oneof![Just(0x0001u16), Just(0x0101u16), any::<u16>()],
        cookie in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..32),
    ) {
        let mut data = (kind & 0x3fff).to_be_bytes().to_vec();
        let len = body.len() & !3;
        data.extend_from_slice(&(len as u16).to_be_bytes());
        data.extend_from_slice(if cookie { &COOKIE } else { &[9, 9, 9, 9] });
        data.extend_from_slice(&TXID);
        data.extend_from_slice(&body[..len]);
        let _ = parse_binding_request(&data);
        let _ = parse_binding_response(&data);
    }

    #[test]
    fn responses_round_trip(ip in any::<[u8; 16]>(), v6 in any::<bool>(), port in any::<u16>(), txid in any::<[u8; 12]>()) {
        let addr = if v6 {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)).to_canonical(), port)
        } else {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::new(ip[0], ip[1], ip[2], ip[3])), port)
        };
        let mut req = Vec::new();
        write_binding_request(txid, &mut req);
        let parsed = parse_binding_request(&req).unwrap();
        let mut out = Vec::new();
        write_binding_response(&parsed, addr, &mut out);
        prop_assert_eq!(parse_binding_response(&out), Ok((txid, addr)));
    }
}
