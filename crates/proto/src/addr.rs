//! An `ip:port` inside a `:`-separated message: IPv4 dotted (`10.0.0.2:5555`, all the Godot plugin
//! can split), IPv6 in brackets (`[2001:db8::1]:5555`, which only our clients are ever sent).
//! An IPv4-mapped IPv6 address is written as plain IPv4; a scope id is never written. Parsing
//! takes only that one form of each address: an IPv6 address without brackets (it cannot be
//! split from its port unambiguously), a bracketed IPv4-mapped one, or a port with a leading
//! zero is refused, so what parses writes back byte for byte.

use crate::ParseError;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest text [`write_addr`] produces: `[` + 39 + `]:` + 5.
pub const ADDR_MAX: usize = 1 + 39 + 2 + 5;

/// Appends `addr` to `out`: `10.0.0.2:5555` or `[2001:db8::1]:5555`.
pub fn write_addr(out: &mut Vec<u8>, addr: SocketAddr) {
    // Writing to a Vec cannot fail.
    let _ = match addr.ip().to_canonical() {
        IpAddr::V4(ip) => write!(out, "{ip}:{}", addr.port()),
        IpAddr::V6(ip) => write!(out, "[{ip}]:{}", addr.port()),
    };
}

/// Parses what [`write_addr`] writes (the whole of `s`).
pub fn parse_addr(s: &str) -> Result<SocketAddr, ParseError> {
    match s.strip_prefix('[') {
        Some(bracketed) => {
            let (ip, port) = bracketed.split_once("]:").ok_or(ParseError::Invalid)?;
            let ip: Ipv6Addr = ip.parse().map_err(|_| ParseError::Invalid)?;
            if ip.to_ipv4_mapped().is_some() {
                return Err(ParseError::Invalid);
            }
            Ok(SocketAddr::new(IpAddr::V6(ip), parse_port(port)?))
        }
        None => {
            let (ip, port) = s.split_once(':').ok_or(ParseError::Invalid)?;
            let ip: Ipv4Addr = ip.parse().map_err(|_| ParseError::Invalid)?;
            Ok(SocketAddr::new(IpAddr::V4(ip), parse_port(port)?))
        }
    }
}

/// A decimal port: digits only, no leading zero.
pub(crate) fn parse_port(s: &str) -> Result<u16, ParseError> {
    if s.is_empty()
        || s.len() > 5
        || !s.bytes().all(|b| b.is_ascii_digit())
        || (s.len() > 1 && s.starts_with('0'))
    {
        return Err(ParseError::Invalid);
    }
    s.parse().map_err(|_| ParseError::Invalid)
}
