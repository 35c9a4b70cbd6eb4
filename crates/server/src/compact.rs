//! Compact forms of what every player and session holds: names inline (no heap), instants as
//! signed nanoseconds from an epoch their owner holds ([`Tick`], 8 bytes instead of 16, converted
//! back exactly) or as milliseconds after a session's creation ([`Stamp`], 4 bytes). No clock is
//! read and nothing is process-wide: the instants are the ones the engine was handed.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
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

/// The instant a [`Tick`] counts from: one its owner was handed (the first deadline a timer queue
/// was given), so that no clock is read and two engines never share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Epoch(Instant);

impl Epoch {
    /// Ticks counted from `origin`.
    pub fn new(origin: Instant) -> Epoch {
        Epoch(origin)
    }

    /// `t` as a tick, exactly (within ±292 years of the epoch).
    pub fn tick(self, t: Instant) -> Tick {
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match t.checked_duration_since(self.0) {
            Some(d) => Tick(ns(d)),
            None => Tick(-ns(self.0.duration_since(t))),
        }
    }

    /// The instant `t` stands for.
    pub fn instant(self, t: Tick) -> Instant {
        let d = Duration::from_nanos(t.0.unsigned_abs());
        let at = if t.0 >= 0 { self.0.checked_add(d) } else { self.0.checked_sub(d) };
        at.unwrap_or(self.0)
    }
}

/// An [`Instant`] as signed nanoseconds from an [`Epoch`]: 8 bytes instead of 16, converted back
/// exactly by the same epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tick(i64);

/// An instant as whole milliseconds after an origin (a session's creation), in 4 bytes: what a
/// player records (when it was last seen, last sent a list, when its idle check is due). Up to
/// 49.7 days after the origin; later instants saturate at [`Stamp::LAST`] (a session's lifetime is
/// far shorter). [`Stamp::NEVER`] is above every instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(u32);

impl Stamp {
    /// The origin itself.
    pub const ZERO: Stamp = Stamp(0);
    /// The latest instant a stamp holds.
    pub const LAST: Stamp = Stamp(u32::MAX - 1);
    /// Not an instant: "never".
    pub const NEVER: Stamp = Stamp(u32::MAX);

    fn ms(origin: Instant, t: Instant) -> (u128, bool) {
        let d = t.saturating_duration_since(origin);
        (d.as_millis(), !d.subsec_nanos().is_multiple_of(1_000_000))
    }

    /// `t`, rounded down to the millisecond (an instant before `origin` is `origin`).
    pub fn floor(origin: Instant, t: Instant) -> Stamp {
        let (ms, _) = Stamp::ms(origin, t);
        Stamp(u32::try_from(ms).unwrap_or(u32::MAX).min(Stamp::LAST.0))
    }

    /// `t`, rounded up to the millisecond (for deadlines: never before `t`, unless beyond
    /// [`Stamp::LAST`]).
    pub fn ceil(origin: Instant, t: Instant) -> Stamp {
        let (ms, part) = Stamp::ms(origin, t);
        let ms = ms + u128::from(part);
        Stamp(u32::try_from(ms).unwrap_or(u32::MAX).min(Stamp::LAST.0))
    }

    /// The instant it stands for (for [`Stamp::NEVER`]: the last one).
    pub fn at(self, origin: Instant) -> Instant {
        origin + Duration::from_millis(u64::from(self.0.min(Stamp::LAST.0)))
    }
}
