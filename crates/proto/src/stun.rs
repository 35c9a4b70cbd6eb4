//! STUN Binding messages (RFC 8489, and classic RFC 3489 requests without the magic cookie): the
//! header test that tells them from Rabid text, the server's request parser and response writer, and
//! the client's request writer and response parser.
//!
//! Only the Binding method is spoken. Nothing here allocates beyond appending to the caller's buffer,
//! and nothing panics on any input: every attribute is walked with bounds checks.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The fixed value in bytes 4..8 of every RFC 5389/8489 message.
pub const MAGIC_COOKIE: u32 = 0x2112_A442;

/// Every STUN message starts with a 20-byte header.
pub const HEADER_LEN: usize = 20;

const COOKIE: [u8; 4] = MAGIC_COOKIE.to_be_bytes();
const BINDING_REQUEST: u16 = 0x0001;
const BINDING_SUCCESS: u16 = 0x0101;
const MAPPED_ADDRESS: u16 = 0x0001;
const CHANGE_REQUEST: u16 = 0x0003;
const XOR_MAPPED_ADDRESS: u16 = 0x0020;
const FAMILY_V4: u8 = 0x01;
const FAMILY_V6: u8 = 0x02;

/// Why bytes are not the STUN message wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StunError {
    /// The header test failed: too short, top bits set, or a length that does not match.
    #[error("not a STUN message")]
    NotStun,
    /// A STUN message, but not a Binding request (or not a Binding success response).
    #[error("not the expected Binding message type")]
    WrongType,
    /// A response without the magic cookie (the client side requires RFC 8489).
    #[error("no magic cookie")]
    NoCookie,
    /// An attribute's length runs past the end of the message.
    #[error("attribute runs past the end of the message")]
    Truncated,
    /// A classic CHANGE-REQUEST asks for another IP or port; this server has one IP, so it cannot
    /// honour it and must not pretend to by answering from the same address.
    #[error("CHANGE-REQUEST cannot be honoured")]
    ChangeRequest,
    /// An address attribute with a bad length or family.
    #[error("malformed address attribute")]
    BadAddress,
    /// A success response without any mapped address.
    #[error("no mapped address in the response")]
    NoAddress,
}

/// A Binding request the server will answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindingRequest {
    /// Bytes 4..20 of the header: the magic cookie and the 12-byte transaction id (RFC 8489), or the
    /// whole 16-byte transaction id of a classic RFC 3489 request.
    pub txid: [u8; 16],
    /// True for a classic RFC 3489 request (no magic cookie).
    pub classic: bool,
}

/// The STUN header test: at least 20 bytes, the top two bits of the first byte zero, the length
/// field plus 20 equal to the datagram's length and a multiple of 4. Rabid text never passes it (it
/// starts with an ASCII letter, whose bit 6 is set).
pub fn is_stun(data: &[u8]) -> bool {
    if data.len() < HEADER_LEN || data[0] & 0xC0 != 0 {
        return false;
    }
    let len = usize::from(u16::from_be_bytes([data[2], data[3]]));
    len % 4 == 0 && len + HEADER_LEN == data.len()
}

fn message_type(data: &[u8]) -> u16 {
    u16::from_be_bytes([data[0], data[1]])
}

/// Walks the attributes after the header: yields `(type, value)` with the value unpadded, or one
/// `Err(Truncated)` when an attribute runs past the end.
fn attributes(data: &[u8]) -> impl Iterator<Item = Result<(u16, &[u8]), StunError>> {
    let mut rest = data.get(HEADER_LEN..).unwrap_or_default();
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let &[t0, t1, l0, l1, ..] = rest else {
            rest = &[];
            return Some(Err(StunError::Truncated));
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        let padded = (len + 3) & !3;
        let (Some(value), Some(next)) = (rest.get(4..4 + len), rest.get(4 + padded..)) else {
            rest = &[];
            return Some(Err(StunError::Truncated));
        };
        rest = next;
        Some(Ok((u16::from_be_bytes([t0, t1]), value)))
    })
}

/// Parses a Binding request (RFC 8489, or classic RFC 3489 when there is no magic cookie). The
/// attributes are walked with bounds checks and ignored, except a classic CHANGE-REQUEST that asks
/// for a change ([`StunError::ChangeRequest`]).
pub fn parse_binding_request(data: &[u8]) -> Result<BindingRequest, StunError> {
    if !is_stun(data) {
        return Err(StunError::NotStun);
    }
    if message_type(data) != BINDING_REQUEST {
        return Err(StunError::WrongType);
    }
    for attr in attributes(data) {
        let (kind, value) = attr?;
        if kind == CHANGE_REQUEST && value.iter().any(|&b| b != 0) {
            return Err(StunError::ChangeRequest);
        }
    }
    let mut txid = [0; 16];
    txid.copy_from_slice(&data[4..HEADER_LEN]);
    Ok(BindingRequest { txid, classic: data[4..8] != COOKIE })
}

/// Appends the Binding success response to `req` that tells the client `mapped`, the address its
/// request came from: 32 bytes for IPv4, 44 for IPv6.
///
/// RFC 8489: one XOR-MAPPED-ADDRESS. Classic RFC 3489: one MAPPED-ADDRESS and nothing else. RFC 3489
/// also asks for SOURCE-ADDRESS and CHANGED-ADDRESS, but this server has one IP, so it has no
/// honest CHANGED-ADDRESS to give (and refuses the CHANGE-REQUESTs that would use it); Debian's
/// `stun` client reports the mapped address without them.
pub fn write_binding_response(req: &BindingRequest, mapped: SocketAddr, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&BINDING_SUCCESS.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&req.txid);
    if req.classic {
        write_address(MAPPED_ADDRESS, mapped, None, out);
    } else {
        write_address(XOR_MAPPED_ADDRESS, mapped, Some(&req.txid), out);
    }
    finish(start, out);
}

/// Fills in the length field of the message that starts at `start`.
fn finish(start: usize, out: &mut [u8]) {
    let len = out.len() - start - HEADER_LEN;
    let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
    out[start + 2..start + 4].copy_from_slice(&len);
}

/// Appends an address attribute; XOR'd with `xor` (cookie + transaction id) when given. IPv4-mapped
/// IPv6 addresses are written as IPv4 (family 1), which is what a client behind IPv4 compares with.
fn write_address(kind: u16, addr: SocketAddr, xor: Option<&[u8; 16]>, out: &mut Vec<u8>) {
    let ip = addr.ip().to_canonical();
    let zero = [0u8; 16];
    let mask = xor.unwrap_or(&zero);
    let port = addr.port() ^ u16::from_be_bytes([mask[0], mask[1]]);
    let (family, len) = match ip {
        IpAddr::V4(_) => (FAMILY_V4, 8u16),
        IpAddr::V6(_) => (FAMILY_V6, 20u16),
    };
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&[0, family]);
    out.extend_from_slice(&port.to_be_bytes());
    match ip {
        IpAddr::V4(v4) => out.extend(v4.octets().iter().zip(mask).map(|(a, m)| a ^ m)),
        IpAddr::V6(v6) => out.extend(v6.octets().iter().zip(mask).map(|(a, m)| a ^ m)),
    }
}

/// Appends an RFC 8489 Binding request (magic cookie, transaction id `txid`, no attributes): 20 bytes.
pub fn write_binding_request(txid: [u8; 12], out: &mut Vec<u8>) {
    out.extend_from_slice(&BINDING_REQUEST.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&COOKIE);
    out.extend_from_slice(&txid);
}

/// Parses a Binding success response (magic cookie required) into its transaction id and the mapped
/// address: XOR-MAPPED-ADDRESS when present, else MAPPED-ADDRESS. Checking the id is the caller's.
pub fn parse_binding_response(data: &[u8]) -> Result<([u8; 12], SocketAddr), StunError> {
    if !is_stun(data) {
        return Err(StunError::NotStun);
    }
    if message_type(data) != BINDING_SUCCESS {
        return Err(StunError::WrongType);
    }
    if data[4..8] != COOKIE {
        return Err(StunError::NoCookie);
    }
    let mut mask = [0u8; 16];
    mask.copy_from_slice(&data[4..HEADER_LEN]);
    let mut xor_mapped = None;
    let mut mapped = None;
    for attr in attributes(data) {
        match attr? {
            (XOR_MAPPED_ADDRESS, value) if xor_mapped.is_none() => {
                xor_mapped = Some(read_address(value, &mask)?)
            }
            (MAPPED_ADDRESS, value) if mapped.is_none() => mapped = Some(read_address(value, &[0; 16])?),
            _ => {}
        }
    }
    let mut txid = [0; 12];
    txid.copy_from_slice(&data[8..HEADER_LEN]);
    xor_mapped.or(mapped).map(|addr| (txid, addr)).ok_or(StunError::NoAddress)
}

/// Reads a (XOR-)MAPPED-ADDRESS value, XOR'd with `mask` (all zero for the plain one).
fn read_address(value: &[u8], mask: &[u8; 16]) -> Result<SocketAddr, StunError> {
    let port = |v: &[u8]| u16::from_be_bytes([v[2] ^ mask[0], v[3] ^ mask[1]]);
    match value {
        [_, FAMILY_V4, _, _, a @ ..] if a.len() == 4 => {
            let mut ip = [0; 4];
            for (i, b) in ip.iter_mut().enumerate() {
                *b = a[i] ^ mask[i];
            }
            Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::from(ip)), port(value)))
        }
        [_, FAMILY_V6, _, _, a @ ..] if a.len() == 16 => {
            let mut ip = [0; 16];
            for (i, b) in ip.iter_mut().enumerate() {
                *b = a[i] ^ mask[i];
            }
            Ok(SocketAddr::new(IpAddr::V6(Ipv6Addr::from(ip)), port(value)))
        }
        _ => Err(StunError::BadAddress),
    }
}
