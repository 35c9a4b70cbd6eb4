//! A player and a session in memory ([`crate::session`]).

use crate::compact::Stamp;
use crate::session::*;
use std::net::SocketAddr;

#[test]
fn a_player_stays_56_bytes_with_its_flags() {
    assert_eq!(std::mem::size_of::<Player>(), 56);
    // 88 bytes, plus the 8-byte ban list of kicked players.
    assert_eq!(std::mem::size_of::<Session>(), 96);
    let mut p = Player::new("Alice", SocketAddr::from(([10, 0, 0, 1], 1)), Stamp::ZERO);
    assert!(!p.started() && !p.relay_wanted());
    p.set_relay_wanted();
    assert!(!p.started() && p.relay_wanted());
    p.set_started();
    assert!(p.started() && p.relay_wanted());
}
