//! `q:S:P` (extension, sent only by our clients): keep the player's address from the other
//! players. Checked like a ping (only its own address counts); implies the relay, and is otherwise
//! handled like `r:` (see [`super::relay`]). From then on every other player's start message lists
//! it at [`rhp_proto::relay::PRIVATE_PLACEHOLDER`], and `n:` leaves it out. Grants carry names
//! only and relay frames member indexes, so nothing the server sends a peer carries its address.
//!
//! A server without the relay cannot serve a private player: it answers `error:invalid_request`
//! (three copies) and takes the player out of the session before anyone is told its address.

use super::shared::own_player;
use super::Cx;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_private(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str) {
        let Some((index, session)) = own_player(self.lobby, self.out, now, from, name, player) else {
            return;
        };
        if !self.relay.config.is_on() {
            self.send_error_repeated(now, from, ErrorCode::InvalidRequest);
            self.remove_player(now, name, index, "refused: a private player needs the relay");
            return;
        }
        session.players[index].set_private();
        self.on_relay_request(now, from, name, player);
    }
}
