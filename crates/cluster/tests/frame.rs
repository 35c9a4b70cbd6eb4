//! The node-to-node frames: what is written is read back (IPv4 and IPv6, empty and long
//! payloads); a frame under another secret, with a bit flipped, cut short or made of garbage is
//! refused, and nothing panics. A frame as a log shows it hides the secrets of the datagram it
//! carries.

use rhp_cluster::frame::{Frame, FrameError, Kind, Shown, MAC_LEN};
use rhp_cluster::NodeId;
use std::net::SocketAddr;

const SECRET: &[u8] = b"the cluster secret";

fn encoded(player: &str, payload: &[u8]) -> Vec<u8> {
    let player: SocketAddr = player.parse().unwrap();
    let mut out = Vec::new();
    Frame { kind: Kind::ToOwner, sender: NodeId(7), player, payload }.encode(SECRET, &mut out);
    out
}

#[test]
fn frames_read_back_as_written() {
    for (player, payload) in [
        ("203.0.113.5:40000", &b"p:S1:alice"[..]),
        ("[2001:db8::1]:5", &b""[..]),
        ("192.0.2.1:1", &[0xF5u8; 1400][..]),
    ] {
        let data = encoded(player, payload);
        let f = Frame::decode(SECRET, &data).unwrap();
        assert_eq!(f.kind, Kind::ToOwner);
        assert_eq!(f.sender, NodeId(7));
        assert_eq!(f.player, player.parse::<SocketAddr>().unwrap());
        assert_eq!(f.payload, payload);
    }
    let mut out = Vec::new();
    let player = "198.51.100.1:9".parse().unwrap();
    Frame { kind: Kind::ToPlayer, sender: NodeId(1), player, payload: b"i:a" }.encode(SECRET, &mut out);
    assert_eq!(Frame::decode(SECRET, &out).unwrap().kind, Kind::ToPlayer);
    Frame { kind: Kind::Bounce, sender: NodeId(3), player, payload: b"c:S1:x" }.encode(SECRET, &mut out);
    assert_eq!(Frame::decode(SECRET, &out).unwrap().kind, Kind::Bounce);
}

#[test]
fn another_secret_a_flipped_bit_or_a_cut_frame_is_refused() {
    let data = encoded("203.0.113.5:40000", b"c:S1:bob");
    assert_eq!(Frame::decode(b"another secret", &data), Err(FrameError::BadMac));
    for i in 0..data.len() {
        let mut bad = data.clone();
        bad[i] ^= 0x01;
        assert!(Frame::decode(SECRET, &bad).is_err(), "bit flipped at {i}");
    }
    for n in 0..data.len() {
        assert!(Frame::decode(SECRET, &data[..n]).is_err(), "cut at {n}");
    }
    assert_eq!(Frame::decode(SECRET, &[0u8; MAC_LEN]), Err(FrameError::Malformed));
}

#[test]
fn garbage_never_panics() {
    // A small deterministic generator: every length up to 80, many byte patterns.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for len in 0..80 {
        for _ in 0..200 {
            let mut data = Vec::with_capacity(len);
            for _ in 0..len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                data.push(x as u8);
            }
            if len >= 6 {
                data[..6].copy_from_slice(b"RHPC\x01\x01");
            }
            assert!(Frame::decode(SECRET, &data).is_err());
        }
    }
}

#[test]
fn a_frame_in_a_log_shows_its_header_and_hides_the_players_secrets() {
    let join = encoded("203.0.113.5:40000", b"c:Room:Bob:TopSecret9");
    let shown = Shown(&join).to_string();
    assert_eq!(shown, "frame ToOwner from node 7 for player 203.0.113.5:40000: c:Room:Bob:<redacted>");
    let grant = encoded("[2001:db8::1]:5", b"r:0123456789abcdef:Alice:Bob;192.0.2.1:7000");
    let shown = Shown(&grant).to_string();
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
    assert!(shown.ends_with("r:<redacted>:Alice:Bob;192.0.2.1:7000"), "{shown}");
    let shown = Shown(b"h:Room:Alice:2:TopSecret9").to_string();
    assert_eq!(shown, "not a cluster frame (25 bytes, not shown)");
}
