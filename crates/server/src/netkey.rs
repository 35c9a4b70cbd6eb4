//! The part of a source address that stands for one subscriber: an IPv4 address, or the /64
//! prefix of an IPv6 one (a host picks any address in its /64 at will, so a limit or a ban on a
//! single IPv6 address would be one address away from useless). IPv4-mapped IPv6 counts as IPv4.

use std::net::IpAddr;

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
}

#[cfg(test)]
mod tests {
    use super::NetKey;
    use std::net::IpAddr;

    #[test]
    fn one_key_per_ipv4_address_and_per_ipv6_64() {
        let k = |s: &str| NetKey::of(s.parse::<IpAddr>().expect("ip"));
        assert_eq!(k("192.0.2.1"), k("::ffff:192.0.2.1"));
        assert_ne!(k("192.0.2.1"), k("192.0.2.2"));
        assert_eq!(k("2001:db8:1:2::1"), k("2001:db8:1:2:ffff::9"));
        assert_ne!(k("2001:db8:1:2::1"), k("2001:db8:1:3::1"));
    }
}
