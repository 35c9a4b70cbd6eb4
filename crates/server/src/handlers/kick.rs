//! `k:S:VICTIM`: the host removes a player (possibly itself). No ban: the victim may rejoin.

use crate::engine::Engine;
use crate::store::SessionStore;
use rhp_proto::ErrorCode;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Engine<S> {
    pub(crate) fn on_kick(&mut self, now: Instant, from: SocketAddr, name: &str, victim: &str) {
        let Some(session) = self.store.get(name).filter(|s| s.is_open()) else {
            self.outbox.error(now, from, ErrorCode::SessionNonExistent);
            return;
        };
        let Some(index) = session.position(victim) else {
            self.outbox.error(now, from, ErrorCode::NonExistentPlayer);
            return;
        };
        if !session.is_host_addr(from) {
            self.outbox.error(now, from, ErrorCode::NonHostPlayer);
            return;
        }
        self.outbox.error(now, session.players[index].addr(), ErrorCode::KickedByHost);
        self.remove_player(now, name, index, "was kicked by the host");
    }
}
