//! `v:` (extension, sent only by our clients): a player's address in the other family (IPv6 for a
//! player that joined over IPv4, or the reverse), in two steps (see [`rhp_proto::Request::Also`]):
//! 1. `v:S:P` from player P's session address exactly, P being ours
//!    ([`crate::visibility::ours`]) in open session S: answered there `v:<token>`, the token bound
//!    to S, P, that address and the session instance (see [`crate::proof`]). Nothing is stored.
//! 2. `v:S:P:<token>` from an address X of the other family than P's session address, in open
//!    session S: a token valid for P's current session address makes X P's other address (kept
//!    beside the session, see [`crate::also`]), answered `v:ok` to X (through the budget like any
//!    answer: 4 bytes for a request of at least 18).
//!
//! Anything else (no such session or player, a session already starting, a player not ours, step 1
//! from elsewhere, step 2 from the same family, a wrong token) is dropped without an answer and
//! counted: an error would tell a prober which names exist, and our client simply goes on with one
//! family. Only whoever reads P's session datagrams gets a token, so nobody else can make P's peers
//! greet an address of their choosing.

use super::Cx;
use crate::store::SessionStore;
use crate::visibility;
use std::net::SocketAddr;
use std::time::Instant;
use tracing::debug;

/// Whether `a` and `b` are in different address families (an IPv4-mapped address counts as IPv4).
fn other_family(a: SocketAddr, b: SocketAddr) -> bool {
    a.ip().to_canonical().is_ipv4() != b.ip().to_canonical().is_ipv4()
}

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_also(
        &mut self,
        now: Instant,
        from: SocketAddr,
        name: &str,
        player: &str,
        token: Option<&str>,
    ) {
        let answered = match token {
            None => self.also_token(now, from, name, player),
            Some(token) => self.also_proof(now, from, name, player, token),
        };
        if !answered {
            self.counters.also_dropped += 1;
        }
    }

    /// Step 1: the token to the player's session address. Returns whether it was sent.
    fn also_token(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) -> bool {
        let Some(session) = self.lobby.get(name).filter(|s| s.is_open()) else { return false };
        let Some(index) = session.position_from(player, from) else { return false };
        if !visibility::ours(&session.players[index]) {
            return false;
        }
        let Some(token) = self.proof.token(name, session.id, player, from) else { return false };
        // The token is ASCII hex.
        let token = std::str::from_utf8(&token).unwrap_or_default();
        self.out.also_token(now, from, token)
    }

    /// Step 2: the proof from the other-family address `from`. Returns whether it was taken (and
    /// answered).
    fn also_proof(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str, token: &str) -> bool {
        let Some(session) = self.lobby.get(name).filter(|s| s.is_open()) else { return false };
        let Some(index) = session.position(player) else { return false };
        let p = &session.players[index];
        if !visibility::ours(p) || !other_family(from, p.addr()) {
            return false;
        }
        if !self.proof.verify(name, session.id, player, p.addr(), token) {
            return false;
        }
        let other = SocketAddr::new(from.ip().to_canonical(), from.port());
        self.lobby.set_also(name, index, other);
        debug!("session {name}: player {player} also at {other}");
        self.out.also_ok(now, from);
        true
    }
}
