//! The part of a source address that stands for one subscriber: an IPv4 address, or the /64
//! prefix of an IPv6 one (a host picks any address in its /64 at will, so a limit or a ban on a
//! single IPv6 address would be one address away from useless). IPv4-mapped IPv6 counts as IPv4.
//! What every per-source cap, ban and count keys by (the caps' tables hold it as [`NetKey::addr`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One subscriber's network, as a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetKey {
    /// An IPv4 address.
    V4(u32),
    /// The upper 64 bits of an IPv6 address.
    V6(u64),
}

impl NetKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> NetKey {
        match ip.to_canonical() {
            IpAddr::V4(a) => NetKey::V4(u32::from(a)),
            IpAddr::V6(a) => NetKey::V6((u128::from(a) >> 64) as u64),
        }
    }

    /// The network as an address: the IPv4 address, or the /64's first address (its interface
    /// bits zero). One address per key, so tables keyed by `IpAddr` count per network.
    pub fn addr(self) -> IpAddr {
        match self {
            NetKey::V4(a) => IpAddr::V4(Ipv4Addr::from(a)),
            NetKey::V6(p) => IpAddr::V6(Ipv6Addr::from(u128::from(p) << 64)),
        }
    }
}
