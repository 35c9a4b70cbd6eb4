//! The tokens of `v:` (a player's address in the other family, see [`rhp_proto::Request::Also`]):
//! 48 bits of HMAC-SHA256 under a key only this engine knows, over the session's name, the
//! player's name, the player's session address (canonical IP bytes and port: the token is sent
//! there, so only whoever reads that address has it) and the session's id (unique for the engine's
//! life, so a token dies with the session instance it was made for, even if a new session takes
//! the name). Nothing is stored per token: step 2 recomputes it and compares in constant time.

use hmac::{Hmac, Mac};
use rhp_proto::request::ALSO_TOKEN_LEN;
use sha2::Sha256;
use std::net::{IpAddr, SocketAddr};
use subtle::ConstantTimeEq;

/// The engine's key for `v:` tokens (32 bytes from its CSPRNG; never printed).
#[derive(Clone)]
pub(crate) struct ProofKey([u8; 32]);

impl std::fmt::Debug for ProofKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProofKey(..)")
    }
}

/// A token as its wire text: [`ALSO_TOKEN_LEN`] lowercase hex digits.
pub(crate) type Token = [u8; ALSO_TOKEN_LEN];

impl ProofKey {
    pub(crate) fn new(bytes: [u8; 32]) -> ProofKey {
        ProofKey(bytes)
    }

    /// The token of player `player` at session address `addr` in session `session` (id
    /// `session_id`).
    /// `None` only if HMAC refused the key, which it never does (any length is valid): then no
    /// token is handed out and none verifies.
    pub(crate) fn token(
        &self,
        session: &str,
        session_id: u64,
        player: &str,
        addr: SocketAddr,
    ) -> Option<Token> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).ok()?;
        mac.update(session.as_bytes());
        mac.update(&[0]);
        mac.update(player.as_bytes());
        mac.update(&[0]);
        match addr.ip().to_canonical() {
            IpAddr::V4(ip) => mac.update(&ip.octets()),
            IpAddr::V6(ip) => mac.update(&ip.octets()),
        }
        mac.update(&addr.port().to_be_bytes());
        mac.update(&session_id.to_be_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; ALSO_TOKEN_LEN];
        for (i, byte) in digest.iter().take(ALSO_TOKEN_LEN / 2).enumerate() {
            out[2 * i] = hex(byte >> 4);
            out[2 * i + 1] = hex(byte & 0xf);
        }
        Some(out)
    }

    /// Whether `given` is the token for these fields (compared in constant time).
    pub(crate) fn verify(
        &self,
        session: &str,
        session_id: u64,
        player: &str,
        addr: SocketAddr,
        given: &str,
    ) -> bool {
        let Some(want) = self.token(session, session_id, player, addr) else { return false };
        given.len() == want.len() && bool::from(given.as_bytes().ct_eq(&want))
    }
}

fn hex(nibble: u8) -> u8 {
    match nibble {
        0..=9 => b'0' + nibble,
        _ => b'a' + nibble - 10,
    }
}
