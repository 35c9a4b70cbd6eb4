//! Who a session keeps out: every player its host kicked, by name and by network (the IPv4
//! address, or the IPv6 /64, see [`NetKey`]; the kicked ip:port is inside it), for the session's
//! life. A join (`c:`) matching any ban by name or by network is refused `error:kicked_by_host`;
//! players already in the session behind the same network stay. The host lifts a ban with the
//! extension `u:S:NAME` (only our clients send it).
//!
//! Protocol state, so it lives in the [`crate::session::Session`] (and goes with it). Bounded:
//! nothing allocated until the first kick, at most [`MAX_BANS`] entries; a kick beyond that drops
//! the oldest ban.

use crate::compact::Name;
use crate::netkey::NetKey;
use rhp_proto::name::PLAYER_MAX;
use std::net::SocketAddr;

/// Most bans one session holds (a session has at most 12 players, but its host may kick many
/// joiners in its 15 minutes).
pub const MAX_BANS: usize = 32;

/// One kicked player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ban {
    /// Its name.
    pub name: Name<PLAYER_MAX>,
    /// Its network.
    pub net: NetKey,
}

/// A session's bans: nothing on the heap until the first kick. Boxed so that every session (most
/// never kick anyone) pays 8 bytes for it, not a `Vec`'s 24.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[allow(clippy::box_collection)]
pub struct Bans(Option<Box<Vec<Ban>>>);

impl Bans {
    /// Keeps `name`, and the network of `addr`, out (the oldest ban goes if [`MAX_BANS`] are held).
    pub fn add(&mut self, name: &str, addr: SocketAddr) {
        let list = self.0.get_or_insert_with(Default::default);
        list.retain(|b| b.name != name);
        if list.len() >= MAX_BANS {
            list.remove(0);
        }
        list.push(Ban { name: Name::new(name), net: NetKey::of(addr.ip()) });
    }

    /// Whether a join as `name` from `from` is refused.
    pub fn refuses(&self, name: &str, from: SocketAddr) -> bool {
        let Some(list) = &self.0 else { return false };
        let net = NetKey::of(from.ip());
        list.iter().any(|b| b.name == name || b.net == net)
    }

    /// Lifts the ban on `name` (its network too); false if there was none.
    pub fn lift(&mut self, name: &str) -> bool {
        let Some(list) = &mut self.0 else { return false };
        let before = list.len();
        list.retain(|b| b.name != name);
        let lifted = list.len() < before;
        if list.is_empty() {
            self.0 = None;
        }
        lifted
    }

    /// Bans held.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
