//! What a client learnt of its NAT (`rhp_client::nat_kind`): tokens on the wire, predicted ports.

use rhp_client::nat_kind::*;

#[test]
fn tokens_round_trip_and_fit_the_grammar() {
    for k in [
        NatKind::Independent,
        NatKind::Random,
        NatKind::Unknown,
        NatKind::Predictable { last: 40001, step: 1 },
        NatKind::Predictable { last: 65535, step: -999 },
        NatKind::Predictable { last: 1, step: i16::MAX },
    ] {
        let t = k.token();
        assert!(
            t.len() <= 14
                && t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'+' || b == b'-'),
            "{t}"
        );
        assert_eq!(NatKind::from_token(&t), Some(k), "{t}");
    }
}

#[test]
fn bad_tokens_are_refused() {
    for t in ["", "x", "s", "s1", "s0+1", "s5+0", "s5+-1", "s70000+1", "s5+1+1", "E", "e "] {
        assert_eq!(NatKind::from_token(t), None, "{t:?}");
    }
}

#[test]
fn prediction_stays_in_port_range() {
    assert_eq!(NatKind::predicted_port(40000, 1, 3), Some(40003));
    assert_eq!(NatKind::predicted_port(40000, -2, 3), Some(39994));
    assert_eq!(NatKind::predicted_port(65535, 1, 1), None);
    assert_eq!(NatKind::predicted_port(1, -1, 1), None);
}
