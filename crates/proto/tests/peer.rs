//! What peers send each other (`rhp_proto::peer`): parsed, rendered, round-tripped.

use proptest::prelude::*;
use rhp_proto::peer::*;
use rhp_proto::ParseError;

#[test]
fn parses_the_godot_plugin_messages() {
    assert_eq!(
        PeerMessage::parse(b"g:Alice:1234:5555"),
        Ok(PeerMessage::Greeting { sender: "Alice", sender_port: 1234, dest_port: 5555 })
    );
    assert_eq!(PeerMessage::parse(b"c:Bob:5560"), Ok(PeerMessage::Confirm { sender: "Bob", port: 5560 }));
    assert_eq!(PeerMessage::parse(b"s:3"), Ok(PeerMessage::StartIn { secs: 3 }));
    assert_eq!(PeerMessage::parse(b"s:3.0"), Ok(PeerMessage::StartIn { secs: 3 }));
    assert_eq!(PeerMessage::parse(b"y:Bob:5560"), Ok(PeerMessage::StartAck { sender: "Bob", port: 5560 }));
    assert_eq!(PeerMessage::parse(b"d:\xff\x00"), Ok(PeerMessage::Data(b"\xff\x00")));
    assert_eq!(PeerMessage::parse(b"d:"), Ok(PeerMessage::Data(b"")));
}

#[test]
fn parses_our_clients_leave_and_keepalive() {
    assert_eq!(PeerMessage::parse(b"l:Bob"), Ok(PeerMessage::Leave { sender: "Bob" }));
    assert_eq!(PeerMessage::parse(b"a:Bob"), Ok(PeerMessage::Alive { sender: "Bob" }));
    assert_eq!(PeerMessage::Leave { sender: "Bob" }.to_bytes(), b"l:Bob");
    assert_eq!(PeerMessage::Alive { sender: "Bob" }.to_bytes(), b"a:Bob");
    for bad in ["l:", "l:Bob:1", "a:B b", "a:"] {
        assert_eq!(PeerMessage::parse(bad.as_bytes()), Err(ParseError::Invalid), "{bad:?}");
    }
}

#[test]
fn rejects_broken_peer_messages() {
    for bad in ["g:A:1", "g:A:1:2:3", "c:A", "c:A:99999", "s:", "s:x", "y:A:-1", "g:A B:1:2", "hello"] {
        assert_eq!(PeerMessage::parse(bad.as_bytes()), Err(ParseError::Invalid), "{bad:?}");
    }
    assert_eq!(PeerMessage::parse(b"hello:Bob:S1"), Err(ParseError::UnknownType));
}

proptest! {
    #[test]
    fn never_panics_and_round_trips(data in proptest::collection::vec(any::<u8>(), 0..48)) {
        if let Ok(msg) = PeerMessage::parse(&data) {
            // Numbers are normalised ("3.0" -> "3", "01" -> "1"): compare what they mean.
            let again = msg.to_bytes();
            prop_assert_eq!(PeerMessage::parse(&again), Ok(msg));
        }
    }
}
