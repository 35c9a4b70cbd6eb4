//! `k:S:VICTIM`: the host removes a player (possibly itself). No ban: the victim may rejoin.

use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_kick(&mut self, from: SocketAddr, name: &str, victim: &str) {
        let Some(session) = self.store.get(name).filter(|s| s.is_open()) else {
            return self.outbox.error(from, ErrorCode::SessionNonExistent);
        };
        let Some(index) = session.position(victim) else {
            return self.outbox.error(from, ErrorCode::NonExistentPlayer);
        };
        if !session.is_host_addr(from) {
            return self.outbox.error(from, ErrorCode::NonHostPlayer);
        }
        self.outbox.error(session.players[index].addr, ErrorCode::KickedByHost);
        self.remove_player(name, index, "was kicked by the host");
    }
}
