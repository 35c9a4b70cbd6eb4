//! Compact forms of what every player and session holds: names inline (no heap) and instants as
//! signed nanoseconds from a process-wide epoch (8 bytes instead of 16, converted back exactly).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A name of at most `N` bytes, stored inline. Names reach the engine validated by the protocol
/// (ASCII alphanumeric, at most [`rhp_proto::name::PLAYER_MAX`] or `SESSION_MAX` bytes); a longer
/// one is cut at `N` bytes (on a character boundary).
#[derive(Clone, Copy)]
pub struct Name<const N: usize> {
    bytes: [u8; N],
    len: u8,
}

impl<const N: usize> Name<N> {
    /// `s`, cut to `N` bytes if longer.
    pub fn new(s: &str) -> Name<N> {
        let mut len = s.len().min(N).min(usize::from(u8::MAX));
        while !s.is_char_boundary(len) {
            len -= 1;
        }
        let mut bytes = [0u8; N];
        bytes[..len].copy_from_slice(&s.as_bytes()[..len]);
        Name { bytes, len: len as u8 }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl<const N: usize> std::ops::Deref for Name<N> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> From<&str> for Name<N> {
    fn from(s: &str) -> Name<N> {
        Name::new(s)
    }
}

/// A session's name, inline.
pub type SessionName = Name<{ rhp_proto::name::SESSION_MAX }>;

/// A NAT descriptor of the `e:`/`n:` extension (`[a-z0-9+-]{1,14}`), inline.
pub type NatDesc = Name<{ rhp_proto::name::NAT_DESC_MAX }>;

impl<const N: usize> PartialEq for Name<N> {
    fn eq(&self, other: &Name<N>) -> bool {
        self.as_str() == other.as_str()
    }
}
impl<const N: usize> Eq for Name<N> {}
impl<const N: usize> PartialEq<str> for Name<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
impl<const N: usize> PartialEq<&str> for Name<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}
// Hashes as the `str` it holds, so maps keyed by it are looked up by `&str`.
impl<const N: usize> Hash for Name<N> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}
impl<const N: usize> std::borrow::Borrow<str> for Name<N> {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}
impl<const N: usize> fmt::Display for Name<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl<const N: usize> fmt::Debug for Name<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A socket address in 16 bytes instead of 32: IPv4 inline, IPv6 boxed (rare, and only where an
/// address is kept for a while, such as a pending error copy). Converts back exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Addr {
    /// An IPv4 address and port.
    V4(SocketAddrV4),
    /// An IPv6 address, port, flow info and scope.
    V6(Box<SocketAddrV6>),
}

impl Addr {
    /// The address.
    pub fn get(&self) -> SocketAddr {
        match self {
            Addr::V4(a) => SocketAddr::V4(*a),
            Addr::V6(a) => SocketAddr::V6(**a),
        }
    }

    /// Whether it is `other` (without building a `SocketAddr`).
    pub fn is(&self, other: SocketAddr) -> bool {
        match (self, other) {
            (Addr::V4(a), SocketAddr::V4(b)) => *a == b,
            (Addr::V6(a), SocketAddr::V6(b)) => **a == b,
            _ => false,
        }
    }
}

impl From<SocketAddr> for Addr {
    fn from(a: SocketAddr) -> Addr {
        match a {
            SocketAddr::V4(a) => Addr::V4(a),
            SocketAddr::V6(a) => Addr::V6(Box::new(a)),
        }
    }
}

impl std::str::FromStr for Addr {
    type Err = std::net::AddrParseError;
    fn from_str(s: &str) -> Result<Addr, Self::Err> {
        s.parse::<SocketAddr>().map(Addr::from)
    }
}

/// The instant every [`Tick`] counts from: the first one converted in this process.
static EPOCH: OnceLock<Instant> = OnceLock::new();

/// An [`Instant`] as signed nanoseconds from the process's epoch: exact both ways within ±292
/// years of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick(i64);

impl Tick {
    /// Below every instant converted.
    pub const MIN: Tick = Tick(i64::MIN);

    /// `t`, exactly.
    pub fn from_instant(t: Instant) -> Tick {
        let epoch = *EPOCH.get_or_init(|| t);
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match t.checked_duration_since(epoch) {
            Some(d) => Tick(ns(d)),
            None => Tick(-ns(epoch.duration_since(t))),
        }
    }

    /// The instant it stands for.
    pub fn instant(self) -> Instant {
        let epoch = *EPOCH.get_or_init(Instant::now);
        let d = Duration::from_nanos(self.0.unsigned_abs());
        let t = if self.0 >= 0 { epoch.checked_add(d) } else { epoch.checked_sub(d) };
        t.unwrap_or(epoch)
    }
}

impl From<Instant> for Tick {
    fn from(t: Instant) -> Tick {
        Tick::from_instant(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_back_exactly() {
        let t = Instant::now();
        for d in [0, 1, 999, 1_000_000_007, 86_400_000_000_000u64] {
            let later = t + Duration::from_nanos(d);
            assert_eq!(Tick::from(later).instant(), later);
            if let Some(earlier) = t.checked_sub(Duration::from_nanos(d)) {
                assert_eq!(Tick::from(earlier).instant(), earlier);
                assert!(Tick::from(earlier) <= Tick::from(later));
            }
        }
    }

    #[test]
    fn names_are_inline_strs() {
        let n = Name::<12>::new("Alice12345ab");
        assert_eq!(n.as_str(), "Alice12345ab");
        assert!(n == "Alice12345ab");
        assert_eq!(Name::<3>::new("abcdef").as_str(), "abc");
        assert_eq!(std::mem::size_of::<Name<12>>(), 13);
        for a in ["10.1.2.3:4", "[::1]:5", "[fe80::1%2]:6", "[::ffff:10.0.0.1]:7"] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(Addr::from(a).get(), a);
        }
        assert_eq!(std::mem::size_of::<Addr>(), 16);
    }
}
